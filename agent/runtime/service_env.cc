#include "agent/runtime/service_env.h"

#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace agent::runtime {
namespace {

// The service the API server itself is reached through; its links are given to every
// pod, even with enableServiceLinks false (in-cluster clients read
// KUBERNETES_SERVICE_HOST/PORT).
constexpr std::string_view kMasterServiceNamespace = "default";
constexpr std::string_view kMasterServiceName = "kubernetes";

void appendLinkVars(const api::Service& s, const std::string& prefix, EnvList& out) {
  for (size_t i = 0; i < s.ports.size(); ++i) {
    const api::ServicePort& p = s.ports[i];
    std::string protocol = p.protocol.empty() ? "TCP" : p.protocol;
    std::string lower = absl::AsciiStrToLower(protocol);
    std::string url = absl::StrCat(lower, "://", s.clusterIP, ":", p.port);
    // Docker special-cases the first port.
    if (i == 0) out.emplace_back(prefix + "_PORT", url);
    std::string portPrefix =
        absl::StrCat(prefix, "_PORT_", p.port, "_", absl::AsciiStrToUpper(protocol));
    out.emplace_back(portPrefix, url);
    out.emplace_back(portPrefix + "_PROTO", lower);
    out.emplace_back(portPrefix + "_PORT", std::to_string(p.port));
    out.emplace_back(portPrefix + "_ADDR", s.clusterIP);
  }
}

}  // namespace

std::string serviceEnvName(std::string_view name) {
  std::string out(name);
  for (char& c : out) c = c == '-' ? '_' : absl::ascii_toupper(static_cast<unsigned char>(c));
  return out;
}

EnvList envVarsFromServices(const std::vector<const api::Service*>& services) {
  EnvList out;
  for (const api::Service* s : services) {
    if (s == nullptr || !s->hasClusterIP()) continue;
    std::string prefix = serviceEnvName(s->metadata.name);
    out.emplace_back(prefix + "_SERVICE_HOST", s->clusterIP);
    // A service with a cluster IP has at least one port (API validation); guard anyway.
    if (s->ports.empty()) continue;
    std::string portVar = prefix + "_SERVICE_PORT";
    out.emplace_back(portVar, std::to_string(s->ports[0].port));
    // Every named port (only the first may be unnamed).
    for (const api::ServicePort& p : s->ports) {
      if (!p.name.empty()) {
        out.emplace_back(portVar + "_" + serviceEnvName(p.name), std::to_string(p.port));
      }
    }
    appendLinkVars(*s, prefix, out);
  }
  return out;
}

EnvList serviceLinkEnv(std::string_view podNamespace, bool enableServiceLinks,
                       const std::vector<std::shared_ptr<const api::Service>>& services) {
  std::map<std::string, const api::Service*> byName;
  for (const auto& s : services) {
    if (!s || !s->hasClusterIP()) continue;
    const std::string& name = s->metadata.name;
    if (s->metadata.namespace_ == kMasterServiceNamespace && name == kMasterServiceName) {
      byName.try_emplace(name, s.get());
    } else if (s->metadata.namespace_ == podNamespace && enableServiceLinks) {
      byName[name] = s.get();
    }
  }
  std::vector<const api::Service*> chosen;
  chosen.reserve(byName.size());
  for (const auto& [name, s] : byName) chosen.push_back(s);
  return envVarsFromServices(chosen);
}

}  // namespace agent::runtime
