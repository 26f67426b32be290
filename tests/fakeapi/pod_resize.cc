#include "tests/fakeapi/pod_resize.h"

#include "agent/api/quantity.h"
#include "tests/fakeapi/api_errors.h"
#include "tests/fakeapi/strategies.h"

namespace cubelet::fakeapi {
namespace {

using nlohmann::json;

json containersOf(const json& pod, const char* list) {
  json c = pod.value("spec", json::object()).value(list, json::array());
  return c.is_array() ? c : json::array();
}

json resourceList(const json& container, const char* which) {
  json l = container.value("resources", json::object()).value(which, json::object());
  return l.is_object() ? l : json::object();
}

bool isCpuOrMemory(const std::string& name) { return name == "cpu" || name == "memory"; }

std::optional<agent::api::Quantity> quantity(const json& v) {
  if (!v.is_string()) return std::nullopt;
  auto q = agent::api::Quantity::parse(v.get<std::string>());
  if (!q.ok()) return std::nullopt;
  return *q;
}

bool sameQuantity(const json& a, const json& b) {
  auto qa = quantity(a), qb = quantity(b);
  return qa && qb ? *qa == *qb : a == b;
}

// The entries other than cpu and memory are equal in both lists.
bool othersEqual(const json& a, const json& b) {
  for (const auto* pair : {&a, &b}) {
    const json& other = pair == &a ? b : a;
    for (const auto& [k, v] : pair->items()) {
      if (isCpuOrMemory(k)) continue;
      if (!other.contains(k) || !sameQuantity(v, other[k])) return false;
    }
  }
  return true;
}

bool sameResources(const json& a, const json& b) {
  for (const char* which : {"requests", "limits"}) {
    json la = resourceList(a, which), lb = resourceList(b, which);
    if (la.size() != lb.size()) return false;
    for (const auto& [k, v] : la.items()) {
      if (!lb.contains(k) || !sameQuantity(v, lb[k])) return false;
    }
  }
  return true;
}

void appendCause(std::string& causes, const std::string& cause) {
  causes += (causes.empty() ? "" : ", ") + cause;
}

}  // namespace

void prepareResize(json& obj, const json& old) {
  json next = old;
  for (const char* list : {"containers", "initContainers"}) {
    json sent = containersOf(obj, list), stored = containersOf(old, list);
    if (sent.size() != stored.size()) return;
    for (size_t i = 0; i < sent.size(); ++i) {
      if (sent[i].value("name", "") != stored[i].value("name", "")) return;
    }
    for (size_t i = 0; i < sent.size(); ++i) {
      json& c = next["spec"][list][i];
      for (const char* field : {"resources", "resizePolicy"}) {
        if (sent[i].contains(field)) {
          c[field] = sent[i][field];
        } else {
          c.erase(field);
        }
      }
    }
  }
  obj = std::move(next);
}

absl::Status validateResize(const ResourceInfo& r, const std::string& name, const json& obj,
                            const json& old) {
  std::string causes;
  for (const char* list : {"containers", "initContainers"}) {
    json sent = containersOf(obj, list), stored = containersOf(old, list);
    const std::string path = std::string("spec.") + list;
    if (sent.size() != stored.size()) {
      appendCause(causes, path + ": Forbidden: pod updates may not add or remove containers");
      continue;
    }
    for (size_t i = 0; i < sent.size(); ++i) {
      const std::string at = path + "[" + std::to_string(i) + "]";
      if (sent[i].value("name", "") != stored[i].value("name", "")) {
        appendCause(causes,
                    at + ".name: Forbidden: containers may not be renamed or reordered on resize");
        continue;
      }
      // Everything but the resources and resizePolicy is the stored pod's.
      json a = sent[i], b = stored[i];
      for (json* c : {&a, &b}) {
        c->erase("resources");
        c->erase("resizePolicy");
      }
      bool otherResources = true;
      for (const char* which : {"requests", "limits"}) {
        otherResources = otherResources &&
                         othersEqual(resourceList(sent[i], which), resourceList(stored[i], which));
      }
      if (a != b || !otherResources) {
        appendCause(causes, "spec: Forbidden: only cpu and memory resources are mutable");
        continue;
      }
      const bool sidecar = std::string(list) == "initContainers"
                               ? sent[i].value("restartPolicy", "") == "Always"
                               : true;
      if (!sidecar) {
        if (!sameResources(sent[i], stored[i])) {
          appendCause(causes, at + ".resources: Forbidden: resources for non-sidecar init "
                                   "containers are immutable");
        }
        continue;
      }
      for (const char* which : {"requests", "limits"}) {
        json now = resourceList(sent[i], which), before = resourceList(stored[i], which);
        for (const auto& [k, v] : before.items()) {
          if (isCpuOrMemory(k) && !now.contains(k)) {
            appendCause(causes, at + ".resources." + which + ": Forbidden: resource " + which +
                                    " cannot be removed");
            break;
          }
        }
      }
      json requests = resourceList(sent[i], "requests"), limits = resourceList(sent[i], "limits");
      for (const auto& [k, v] : requests.items()) {
        if (!isCpuOrMemory(k) || !limits.contains(k)) continue;
        auto req = quantity(v), lim = quantity(limits[k]);
        if (req && lim && req->milliValue() > lim->milliValue()) {
          appendCause(causes, at + ".resources.requests: Invalid value: \"" + req->str() +
                                  "\": must be less than or equal to " + k + " limit of " +
                                  lim->str());
        }
      }
    }
  }
  if (causes.empty()) {
    const std::string before = podQosClass(old), after = podQosClass(obj);
    if (before != after) {
      appendCause(causes, "spec: Invalid value: \"" + after +
                              "\": Pod QOS Class may not change as a result of resizing");
    }
  }
  if (causes.empty()) return absl::OkStatus();
  return invalid(r, name, causes);
}

}  // namespace cubelet::fakeapi
