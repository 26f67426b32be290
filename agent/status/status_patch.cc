#include "agent/status/status_patch.h"

#include <algorithm>

namespace agent::status {
namespace {

using nlohmann::json;

// The lists of PodStatus with patchStrategy "merge", and their patchMergeKey.
const char* mergeKeyOf(const std::string& field) {
  if (field == "conditions") return "type";
  if (field == "podIPs" || field == "hostIPs") return "ip";
  return nullptr;
}

bool sameKind(const json& a, const json& b) {
  return a.type() == b.type() || (a.is_number() && b.is_number());
}

const json* findByKey(const json& list, const char* key, const json& value) {
  for (const auto& item : list) {
    if (item.is_object() && item.contains(key) && item[key] == value) return &item;
  }
  return nullptr;
}

json diffMaps(const json& original, const json& modified, bool statusLevel);

// A list merged by `key`: changed or added items (changed ones as their own diff
// plus the key), then delete directives for the removed ones, in key order; and
// the full order of the new list whenever anything changed or moved.
void diffMergeList(const std::string& field, const char* key, const json& original,
                   const json& modified, json& patch) {
  if (original.empty()) {
    if (!modified.empty()) patch[field] = modified;
    return;
  }
  json changes = json::array();
  for (const auto& item : modified) {
    if (!item.is_object() || !item.contains(key)) {
      changes.push_back(item);
      continue;
    }
    const json* before = findByKey(original, key, item[key]);
    if (!before) {
      changes.push_back(item);
      continue;
    }
    json d = diffMaps(*before, item, false);
    if (!d.empty()) {
      d[key] = item[key];
      changes.push_back(std::move(d));
    }
  }
  std::vector<json> removed;
  for (const auto& item : original) {
    if (!item.is_object() || !item.contains(key)) continue;
    if (!findByKey(modified, key, item[key])) removed.push_back(item[key]);
  }
  std::sort(removed.begin(), removed.end(), [](const json& a, const json& b) {
    return (a.is_string() ? a.get<std::string>() : a.dump()) <
           (b.is_string() ? b.get<std::string>() : b.dump());
  });
  for (const auto& v : removed) changes.push_back(json{{"$patch", "delete"}, {key, v}});

  bool sameOrder = original.size() == modified.size();
  for (size_t i = 0; sameOrder && i < modified.size(); ++i) {
    const json& a = original[i];
    const json& b = modified[i];
    sameOrder =
        a.is_object() && b.is_object() && a.contains(key) && b.contains(key) && a[key] == b[key];
  }
  if ((!changes.empty() || !sameOrder) && !modified.empty()) {
    json order = json::array();
    for (const auto& item : modified) {
      order.push_back(json{{key, item.is_object() && item.contains(key) ? item[key] : json()}});
    }
    patch["$setElementOrder/" + field] = std::move(order);
  }
  if (!changes.empty()) patch[field] = std::move(changes);
}

json diffMaps(const json& original, const json& modified, bool statusLevel) {
  json patch = json::object();
  for (const auto& [k, now] : modified.items()) {
    auto it = original.find(k);
    if (it == original.end()) {
      patch[k] = now;
      continue;
    }
    const json& before = *it;
    if (!sameKind(before, now)) {
      patch[k] = now;
    } else if (now.is_object()) {
      json d = diffMaps(before, now, false);
      if (!d.empty()) patch[k] = std::move(d);
    } else if (now.is_array()) {
      const char* key = statusLevel ? mergeKeyOf(k) : nullptr;
      if (key) {
        diffMergeList(k, key, before, now, patch);
      } else if (before != now) {
        patch[k] = now;
      }
    } else if (before != now) {
      patch[k] = now;
    }
  }
  for (const auto& [k, before] : original.items()) {
    if (!modified.contains(k)) patch[k] = nullptr;
  }
  return patch;
}

}  // namespace

json diffPodStatusJson(const json& original, const json& modified) {
  return diffMaps(original, modified, true);
}

std::optional<std::string> podStatusPatch(const std::string& uid, const api::PodStatus& apiStatus,
                                          const api::PodStatus& next) {
  json d = diffPodStatusJson(api::toJson(apiStatus), api::toJson(next));
  if (d.empty()) return std::nullopt;
  json patch = {{"metadata", {{"uid", uid}}}, {"status", std::move(d)}};
  return patch.dump();
}

}  // namespace agent::status
