#include "network/cni_config.h"

#include <dirent.h>

#include <cerrno>
#include <memory>

#include "core/atomic_file.h"
#include "core/status.h"
#include "nlohmann/json.hpp"

namespace network {
namespace {

bool isCniConfigName(const std::string& n) {
  auto ends = [&](const std::string& suffix) {
    return n.size() > suffix.size() &&
           n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends(".conf") || ends(".conflist") || ends(".json");
}

bool isIpv6(const std::string& cidr) { return cidr.find(':') != std::string::npos; }

}  // namespace

std::string bridgeConflist(const CniConfigInput& in) {
  std::vector<std::string> cidrs = in.podCidrs;
  if (cidrs.empty()) cidrs.push_back(kDefaultPodCidr);
  nlohmann::json ranges = nlohmann::json::array();
  nlohmann::json routes = nlohmann::json::array();
  for (const auto& c : cidrs) {
    ranges.push_back(nlohmann::json::array({{{"subnet", c}}}));
    routes.push_back({{"dst", isIpv6(c) ? "::/0" : "0.0.0.0/0"}});
  }
  nlohmann::json conf = {
      {"cniVersion", "0.4.0"},
      {"name", "cubelet"},
      {"plugins",
       {{{"type", "bridge"},
         {"bridge", in.bridge},
         {"isGateway", true},
         {"ipMasq", in.ipMasq},
         {"hairpinMode", true},
         {"ipam", {{"type", "host-local"}, {"ranges", ranges}, {"routes", routes}}}},
        {{"type", "portmap"}, {"capabilities", {{"portMappings", true}}}}}}};
  return conf.dump(2) + "\n";
}

std::vector<std::string> requiredCniPlugins() {
  return {"bridge", "host-local", "portmap", "loopback"};
}

absl::Status ensureCniConfig(const std::string& confDir, const CniConfigInput& in,
                             CniConfigResult* result) {
  RETURN_IF_ERROR(core::mkdirAll(confDir));
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(confDir.c_str()), ::closedir);
  if (!dir) return core::errnoStatus(errno, "open CNI config dir " + confDir);
  while (struct dirent* e = ::readdir(dir.get())) {
    std::string name = e->d_name;
    if (name != kCniConfigFile && isCniConfigName(name)) {
      *result = CniConfigResult::kOwnedByAddon;
      return absl::OkStatus();
    }
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

}  // namespace network
