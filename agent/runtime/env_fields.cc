#include "agent/runtime/env_fields.h"

#include <cstdio>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/go_quote.h"

namespace agent::runtime {
namespace {

// `prefix['key']` -> key.
std::optional<std::string> subscript(const std::string& path, std::string_view prefix) {
  if (!path.starts_with(prefix)) return std::nullopt;
  std::string_view rest = std::string_view(path).substr(prefix.size());
  if (rest.size() < 4 || !rest.starts_with("['") || !rest.ends_with("']")) {
    return std::nullopt;
  }
  return std::string(rest.substr(2, rest.size() - 4));
}

std::string formatMap(const std::map<std::string, std::string>& m) {
  std::vector<std::string> lines;
  for (const auto& [k, v] : m) lines.push_back(k + "=" + core::goQuote(v));
  return absl::StrJoin(lines, "\n");
}

const api::Container* findContainer(const api::Pod& pod, const std::string& name) {
  for (const auto& c : pod.spec.containers) {
    if (c.name == name) return &c;
  }
  for (const auto& c : pod.spec.initContainers) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

// Integer ceiling of a / b for b > 0.
int64_t ceilDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if (a % b != 0 && a > 0) ++q;
  return q;
}

}  // namespace

absl::StatusOr<std::string> fieldRefValue(const api::ObjectFieldSelector& sel, const api::Pod& pod,
                                          const PodAddresses& addrs) {
  const std::string& path = sel.fieldPath;
  if (!sel.apiVersion.empty() && sel.apiVersion != "v1") {
    return absl::InvalidArgumentError(absl::StrCat("unsupported pod version: ", sel.apiVersion));
  }
  if (path == "metadata.name") return pod.metadata.name;
  if (path == "metadata.namespace") return pod.metadata.namespace_;
  if (path == "metadata.uid") return pod.metadata.uid;
  if (path == "metadata.labels") return formatMap(pod.metadata.labels);
  if (path == "metadata.annotations") return formatMap(pod.metadata.annotations);
  if (path == "spec.nodeName") return pod.spec.nodeName;
  if (path == "spec.serviceAccountName") return pod.spec.serviceAccountName;
  if (path == "status.hostIP") return addrs.hostIPs.empty() ? addrs.hostIP : addrs.hostIPs[0];
  if (path == "status.hostIPs") {
    return addrs.hostIPs.empty() ? addrs.hostIP : absl::StrJoin(addrs.hostIPs, ",");
  }
  if (path == "status.podIP") return addrs.podIPs.empty() ? addrs.podIP : addrs.podIPs[0];
  if (path == "status.podIPs") {
    return addrs.podIPs.empty() ? addrs.podIP : absl::StrJoin(addrs.podIPs, ",");
  }
  for (auto [prefix, map] : {std::pair{"metadata.labels", &pod.metadata.labels},
                             std::pair{"metadata.annotations", &pod.metadata.annotations}}) {
    if (auto key = subscript(path, prefix)) {
      auto it = map->find(*key);
      return it == map->end() ? std::string() : it->second;
    }
  }
  return absl::InvalidArgumentError("field label not supported: " + path);
}

absl::StatusOr<std::string> resourceFieldValue(
    const api::ResourceFieldSelector& sel, const api::Pod& pod, const api::Container& self,
    const std::map<std::string, api::Quantity>& allocatable) {
  const api::Container* c = &self;
  if (!sel.containerName.empty()) {
    c = findContainer(pod, sel.containerName);
    if (c == nullptr) {
      return absl::InvalidArgumentError("container " + sel.containerName + " not found");
    }
  }
  api::Quantity divisor = *api::Quantity::parse("1");
  if (sel.divisor && !sel.divisor->isZero()) divisor = *sel.divisor;

  std::string_view resource = sel.resource;
  const std::map<std::string, api::Quantity>* list = nullptr;
  std::string name;
  bool limits = false;
  if (resource.starts_with("limits.")) {
    list = &c->resources.limits;
    name = std::string(resource.substr(7));
    limits = true;
  } else if (resource.starts_with("requests.")) {
    list = &c->resources.requests;
    name = std::string(resource.substr(9));
  }
  bool standard = name == "cpu" || name == "memory" || name == "ephemeral-storage";
  if (list == nullptr || (!standard && !name.starts_with("hugepages-"))) {
    return absl::InvalidArgumentError("Unsupported container resource : " + sel.resource);
  }
  api::Quantity amount;
  if (auto it = list->find(name); it != list->end()) amount = it->second;
  // Hugepages are never overcommitted, so they always have a limit of their own.
  if (limits && standard && amount.isZero()) {
    if (auto it = allocatable.find(name); it != allocatable.end()) amount = it->second;
  }
  int64_t v = name == "cpu" ? ceilDiv(amount.milliValue(), divisor.milliValue())
                            : ceilDiv(amount.value(), divisor.value());
  return std::to_string(v);
}

}  // namespace agent::runtime
