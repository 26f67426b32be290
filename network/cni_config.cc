#include "network/cni_config.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "core/atomic_file.h"
#include "core/status.h"
#include "network/cidr.h"
#include "nlohmann/json.hpp"

namespace network {
namespace {

// The extensions libcni loads from the conf dir (ConfFiles: .conf, .conflist, .json).
bool isCniConfigName(const std::string& n) {
  auto ends = [&](const std::string& suffix) {
    return n.size() > suffix.size() &&
           n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends(".conf") || ends(".conflist") || ends(".json");
}

}  // namespace

// cniVersion 0.4.0: both containerd 1.6 (libcni 1.1) and Debian's plugins 1.1.1
// speak it, and it has CHECK.
//
// bridge: forceAddress, because with bridge 1.1.1 an IPv4 address on the bridge
// other than the new gateway fails ADD with `"cubelet0" already has an IP address
// different from ...` unless forceAddress, which replaces it: a node whose pod CIDR
// changed keeps working without deleting the bridge by hand.
//
// host-local: one range set per CIDR (one per family), the network address as the
// subnet (host-local rejects host bits), and a default route per family.
//
// loopback last: when chained it passes the prevResult through unchanged (checked
// against Debian's 1.1.1 binary), so the result containerd reads still carries the
// bridge's IPs. containerd's CRI plugin also brings lo up itself (go-cni's
// WithLoNetwork, which needs the same binary); the chain entry keeps the
// configuration complete for runtimes that do not.
std::string bridgeConflist(const CniConfigInput& in) {
  std::vector<std::string> cidrs = in.podCidrs;
  if (cidrs.empty()) cidrs.push_back(kDefaultPodCidr);
  nlohmann::json ranges = nlohmann::json::array();
  nlohmann::json routes = nlohmann::json::array();
  for (const auto& c : cidrs) {
    std::optional<Cidr> parsed = parseCidr(c);
    // Callers validate first (validatePodCidrs); an unparsable value is passed on
    // as is so the plugin's own error names it.
    std::string subnet = parsed ? parsed->networkString() : c;
    bool v6 = parsed ? parsed->isIpv6() : c.find(':') != std::string::npos;
    ranges.push_back(nlohmann::json::array({{{"subnet", subnet}}}));
    routes.push_back({{"dst", v6 ? "::/0" : "0.0.0.0/0"}});
  }
  nlohmann::json ipam = {{"type", "host-local"}, {"ranges", ranges}, {"routes", routes}};
  if (!in.ipamDataDir.empty()) ipam["dataDir"] = in.ipamDataDir;
  nlohmann::json conf = {{"cniVersion", "0.4.0"},
                         {"name", kCniNetworkName},
                         {"plugins",
                          {{{"type", "bridge"},
                            {"bridge", in.bridge},
                            {"isGateway", true},
                            {"ipMasq", in.ipMasq},
                            {"hairpinMode", in.hairpinMode},
                            {"forceAddress", true},
                            {"ipam", ipam}},
                           {{"type", "portmap"}, {"capabilities", {{"portMappings", true}}}},
                           {{"type", "loopback"}}}}};
  return conf.dump(2) + "\n";
}

std::vector<std::string> requiredCniPlugins() {
  return {"bridge", "host-local", "portmap", "loopback"};
}

std::vector<std::string> missingCniPlugins(const std::string& binDir) {
  std::vector<std::string> missing;
  for (const auto& p : requiredCniPlugins()) {
    std::string path = binDir + "/" + p;
    struct stat st;
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
        ::access(path.c_str(), X_OK) != 0) {
      missing.push_back(p);
    }
  }
  return missing;
}

bool addonCniConfigPresent(const std::string& confDir) {
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(confDir.c_str()), ::closedir);
  if (!dir) return false;
  while (struct dirent* e = ::readdir(dir.get())) {
    std::string name = e->d_name;
    if (name != kCniConfigFile && isCniConfigName(name)) return true;
  }
  return false;
}

absl::Status ensureCniConfig(const std::string& confDir, const CniConfigInput& in,
                             CniConfigResult* result) {
  RETURN_IF_ERROR(core::mkdirAll(confDir));
  if (addonCniConfigPresent(confDir)) {
    *result = CniConfigResult::kOwnedByAddon;
    return absl::OkStatus();
  }
  std::string path = confDir + "/" + kCniConfigFile;
  std::string want = bridgeConflist(in);
  auto have = core::readFile(path);
  if (have.ok() && *have == want) {
    *result = CniConfigResult::kUnchanged;
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(core::writeFileAtomic(path, want, 0644));
  *result = CniConfigResult::kWritten;
  return absl::OkStatus();
}

absl::Status removeCniConfig(const std::string& confDir) {
  std::string path = confDir + "/" + kCniConfigFile;
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return core::errnoStatus(errno, "remove CNI config " + path);
  }
  return absl::OkStatus();
}

}  // namespace network
