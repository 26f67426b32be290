#include "tests/fakeapi/discovery.h"

#include <set>

#include "tests/fakeapi/resources.h"

namespace cubelet::fakeapi {
namespace {

using nlohmann::json;

json resourceList(const std::string& group, const std::string& version) {
  json resources = json::array();
  for (const auto& r : allResources()) {
    if (r.group != group || r.version != version) continue;
    json verbs = {"create", "delete", "get", "list", "patch", "update", "watch"};
    resources.push_back({{"name", r.resource},
                         {"singularName", ""},
                         {"namespaced", r.namespaced},
                         {"kind", r.kind},
                         {"verbs", verbs}});
    for (const auto& sub : r.subresources) {
      if (sub == "token") {  // serviceaccounts/token: TokenRequest, create only
        resources.push_back({{"name", r.resource + "/" + sub},
                             {"singularName", ""},
                             {"namespaced", r.namespaced},
                             {"group", "authentication.k8s.io"},
                             {"version", "v1"},
                             {"kind", "TokenRequest"},
                             {"verbs", {"create"}}});
        continue;
      }
      resources.push_back({{"name", r.resource + "/" + sub},
                           {"singularName", ""},
                           {"namespaced", r.namespaced},
                           {"kind", r.kind},
                           {"verbs", {"get", "patch", "update"}}});
    }
  }
  return {{"kind", "APIResourceList"},
          {"apiVersion", "v1"},
          {"groupVersion", group.empty() ? version : group + "/" + version},
          {"resources", resources}};
}

}  // namespace

std::optional<DiscoveryAnswer> discoveryAnswer(const std::string& path,
                                               const std::string& address) {
  const std::string kJson = "application/json";
  if (path == "/healthz" || path == "/readyz" || path == "/livez")
    return DiscoveryAnswer{"text/plain; charset=utf-8", "ok"};
  if (path == "/version") {
    json v = {{"major", "1"},
              {"minor", "32"},
              {"gitVersion", "v1.32.0-fakeapi"},
              {"gitCommit", "0000000000000000000000000000000000000000"},
              {"gitTreeState", "clean"},
              {"buildDate", "2024-12-11T00:00:00Z"},
              {"goVersion", "go1.23.3"},
              {"compiler", "gc"},
              {"platform", "linux/amd64"}};
    return DiscoveryAnswer{kJson, v.dump()};
  }
  if (path == "/api") {
    json v = {{"kind", "APIVersions"},
              {"versions", {"v1"}},
              {"serverAddressByClientCIDRs",
               {{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", address}}}}};
    return DiscoveryAnswer{kJson, v.dump()};
  }
  if (path == "/apis") {
    std::set<std::string> groups;
    json list = json::array();
    for (const auto& r : allResources()) {
      if (r.group.empty() || !groups.insert(r.group).second) continue;
      json gv = {{"groupVersion", r.apiVersion()}, {"version", r.version}};
      list.push_back({{"name", r.group}, {"versions", {gv}}, {"preferredVersion", gv}});
    }
    return DiscoveryAnswer{
        kJson, json{{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", list}}.dump()};
  }
  if (path == "/api/v1") return DiscoveryAnswer{kJson, resourceList("", "v1").dump()};
  for (const auto& r : allResources()) {
    if (!r.group.empty() && path == "/apis/" + r.apiVersion()) {
      return DiscoveryAnswer{kJson, resourceList(r.group, r.version).dump()};
    }
  }
  return std::nullopt;
}

}  // namespace cubelet::fakeapi
