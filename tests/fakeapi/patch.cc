#include "tests/fakeapi/patch.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "core/status.h"
#include "tests/fakeapi/api_errors.h"

namespace cubelet::fakeapi {
namespace {

using nlohmann::json;

constexpr char kPatchDirective[] = "$patch";
constexpr char kRetainKeys[] = "$retainKeys";
constexpr char kSetElementOrder[] = "$setElementOrder/";
constexpr char kDeleteFromPrimitiveList[] = "$deleteFromPrimitiveList/";

// How a list field merges, from the patchStrategy/patchMergeKey struct tags of the
// k8s.io/api types. Lists not named here are atomic (replaced whole), e.g.
// containerStatuses, taints, images, tolerations.
struct ListStrategy {
  enum Kind { kAtomic, kMergeByKey, kPrimitiveSet } kind = kAtomic;
  std::string key;
};

ListStrategy listStrategy(const std::vector<std::string>& path) {
  const std::string& field = path.back();
  const std::string parent = path.size() >= 2 ? path[path.size() - 2] : "";
  auto byKey = [](std::string k) { return ListStrategy{ListStrategy::kMergeByKey, std::move(k)}; };
  if (path.size() == 2 && path[0] == "metadata") {
    if (field == "ownerReferences") return byKey("uid");
    if (field == "finalizers") return {ListStrategy::kPrimitiveSet, ""};
  }
  if (field == "conditions") return byKey("type");
  if (parent == "status") {
    if (field == "podIPs" || field == "hostIPs") return byKey("ip");
    if (field == "addresses") return byKey("type");
  }
  if (parent == "spec") {
    if (field == "containers" || field == "initContainers" || field == "ephemeralContainers" ||
        field == "volumes" || field == "imagePullSecrets" || field == "resourceClaims") {
      return byKey("name");
    }
    if (field == "hostAliases") return byKey("ip");
    if (field == "podCIDRs") return {ListStrategy::kPrimitiveSet, ""};
    if (field == "ports") return byKey("port");  // Service
  }
  const bool inContainer = std::any_of(path.begin(), path.end(), [](const std::string& p) {
    return p == "containers" || p == "initContainers" || p == "ephemeralContainers";
  });
  if (inContainer) {
    if (field == "env") return byKey("name");
    if (field == "ports") return byKey("containerPort");
    if (field == "volumeMounts") return byKey("mountPath");
    if (field == "volumeDevices") return byKey("devicePath");
    if (field == "resizePolicy") return byKey("resourceName");
  }
  return {};
}

absl::Status smpError(const std::string& msg) { return badRequest(msg); }

absl::StatusOr<json> mergeMap(const json& original, const json& patch,
                              std::vector<std::string>& path, bool* deleted);

// Returns `v` with directive keys removed (for values that have nothing to merge into).
absl::StatusOr<json> stripped(const json& v, std::vector<std::string>& path) {
  if (!v.is_object()) return v;
  bool deleted = false;
  return mergeMap(json::object(), v, path, &deleted);
}

absl::StatusOr<json> mergeList(const json& original, const json& patch,
                               std::vector<std::string>& path) {
  ListStrategy st = listStrategy(path);
  // A `{"$patch": "replace"}` element replaces the list with the other elements.
  bool replace = false;
  json items = json::array();
  for (const auto& e : patch) {
    if (e.is_object() && e.size() == 1 && e.value(kPatchDirective, "") == "replace") {
      replace = true;
    } else {
      items.push_back(e);
    }
  }
  if (st.kind == ListStrategy::kAtomic || replace || !original.is_array()) {
    json out = json::array();
    for (const auto& e : items) {
      if (e.is_object() && e.value(kPatchDirective, "") == "delete") continue;
      ASSIGN_OR_RETURN(json s, stripped(e, path));
      out.push_back(std::move(s));
    }
    return out;
  }
  json out = original;
  if (st.kind == ListStrategy::kPrimitiveSet) {
    for (const auto& e : items) {
      if (std::find(out.begin(), out.end(), e) == out.end()) out.push_back(e);
    }
    return out;
  }
  for (const auto& e : items) {
    if (!e.is_object())
      return smpError("unable to find api field in struct for the merge key \"" + st.key + "\"");
    if (!e.contains(st.key)) {
      return smpError("map: " + e.dump() + " does not contain declared merge key: " + st.key);
    }
    auto it = std::find_if(out.begin(), out.end(), [&](const json& o) {
      return o.is_object() && o.contains(st.key) && o[st.key] == e[st.key];
    });
    const std::string directive = e.value(kPatchDirective, "");
    if (directive == "delete") {
      out.erase(std::remove_if(out.begin(), out.end(),
                               [&](const json& o) {
                                 return o.is_object() && o.contains(st.key) &&
                                        o[st.key] == e[st.key];
                               }),
                out.end());
      continue;
    }
    bool deleted = false;
    if (it != out.end()) {
      ASSIGN_OR_RETURN(*it, mergeMap(*it, e, path, &deleted));
      if (deleted) out.erase(it);
    } else {
      ASSIGN_OR_RETURN(json added, mergeMap(json::object(), e, path, &deleted));
      if (!deleted) out.push_back(std::move(added));
    }
  }
  return out;
}

// Orders `list` as `order` says (elements, or {mergeKey: value} maps); elements the
// order does not name keep their relative order after the named ones.
json applyElementOrder(const json& list, const json& order, const ListStrategy& st) {
  if (!list.is_array() || !order.is_array()) return list;
  auto keyOf = [&](const json& e) -> json {
    if (st.kind == ListStrategy::kMergeByKey && e.is_object()) return e.value(st.key, json());
    return e;
  };
  json named = json::array(), rest = json::array();
  std::vector<bool> used(list.size(), false);
  for (const auto& o : order) {
    json k = keyOf(o);
    for (size_t i = 0; i < list.size(); ++i) {
      if (!used[i] && keyOf(list[i]) == k) {
        named.push_back(list[i]);
        used[i] = true;
        break;
      }
    }
  }
  for (size_t i = 0; i < list.size(); ++i) {
    if (!used[i]) rest.push_back(list[i]);
  }
  for (auto& e : rest) named.push_back(std::move(e));
  return named;
}

absl::StatusOr<json> mergeMap(const json& original, const json& patch,
                              std::vector<std::string>& path, bool* deleted) {
  *deleted = false;
  if (!patch.is_object()) return patch;
  json out = original.is_object() ? original : json::object();
  const std::string directive = patch.value(kPatchDirective, "");
  if (directive == "delete") {
    *deleted = true;
    return json();
  }
  if (directive == "replace") out = json::object();
  if (!directive.empty() && directive != "replace" && directive != "merge") {
    return smpError("unknown patch type: " + directive + " in map: " + patch.dump());
  }
  if (auto rk = patch.find(kRetainKeys); rk != patch.end() && rk->is_array()) {
    for (auto it = out.begin(); it != out.end();) {
      if (std::find(rk->begin(), rk->end(), it.key()) == rk->end()) {
        it = out.erase(it);
      } else {
        ++it;
      }
    }
  }
  std::vector<std::pair<std::string, json>> orders;
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    const std::string& k = it.key();
    const json& v = it.value();
    if (k == kPatchDirective || k == kRetainKeys) continue;
    if (absl::StartsWith(k, kSetElementOrder)) {
      orders.emplace_back(k.substr(sizeof(kSetElementOrder) - 1), v);
      continue;
    }
    if (absl::StartsWith(k, kDeleteFromPrimitiveList)) {
      std::string field = k.substr(sizeof(kDeleteFromPrimitiveList) - 1);
      if (out.contains(field) && out[field].is_array() && v.is_array()) {
        json& l = out[field];
        l.erase(std::remove_if(
                    l.begin(), l.end(),
                    [&](const json& e) { return std::find(v.begin(), v.end(), e) != v.end(); }),
                l.end());
      }
      continue;
    }
    path.push_back(k);
    if (v.is_null()) {
      out.erase(k);
    } else if (v.is_object()) {
      bool childDeleted = false;
      ASSIGN_OR_RETURN(json merged,
                       mergeMap(out.contains(k) ? out[k] : json::object(), v, path, &childDeleted));
      if (childDeleted) {
        out.erase(k);
      } else {
        out[k] = std::move(merged);
      }
    } else if (v.is_array()) {
      ASSIGN_OR_RETURN(out[k], mergeList(out.contains(k) ? out[k] : json(), v, path));
    } else {
      out[k] = v;
    }
    path.pop_back();
  }
  for (const auto& [field, order] : orders) {
    if (!out.contains(field)) continue;
    path.push_back(field);
    out[field] = applyElementOrder(out[field], order, listStrategy(path));
    path.pop_back();
  }
  return out;
}

}  // namespace

absl::StatusOr<json> strategicMerge(const json& original, const json& patch,
                                    const std::string& kind) {
  (void)kind;  // the merge keys above are shared by every kind the fake serves
  if (!patch.is_object()) return badRequest("strategic merge patch must be a JSON object");
  std::vector<std::string> path;
  bool deleted = false;
  ASSIGN_OR_RETURN(json out, mergeMap(original, patch, path, &deleted));
  if (deleted) return badRequest("a strategic merge patch may not delete the whole object");
  return out;
}

absl::StatusOr<json> applyPatch(const json& target, const std::string& contentType,
                                const std::string& patchBody) {
  std::string type = absl::AsciiStrToLower(contentType.substr(0, contentType.find(';')));
  absl::StripAsciiWhitespace(&type);
  if (type != kMergePatch && type != kStrategicMergePatch && type != kJsonPatch) {
    return unsupportedMediaType(contentType);
  }
  json patch = json::parse(patchBody, nullptr, /*allow_exceptions=*/false);
  if (patch.is_discarded()) return badRequest("error decoding patch: invalid JSON: " + patchBody);
  if (type == kJsonPatch) {
    if (!patch.is_array())
      return badRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch");
    try {
      return target.patch(patch);
    } catch (const json::exception& e) {
      return apiError(
          422, "Invalid",
          std::string("the server rejected our request due to an error in our request: ") +
              e.what());
    }
  }
  if (!patch.is_object())
    return badRequest("error decoding patch: a merge patch must be a JSON object");
  if (type == kMergePatch) {
    json out = target;
    out.merge_patch(patch);
    return out;
  }
  return strategicMerge(target, patch, target.value("kind", ""));
}

}  // namespace cubelet::fakeapi
