// Test helpers for the status manager: applying a PodStatus strategic merge patch
// as the API server does (for the shapes the kubelet sends), and a tiny pods API
// behind FakeApiClient (GET, PATCH pods/status with the UID precondition, DELETE
// with preconditions), with scripted failures.
#pragma once

#include <algorithm>
#include <deque>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "agent/kubeapi/api_client.h"

namespace cubelet::testing {

using nlohmann::json;

inline const char* mergeKeyFor(const std::string& field) {
  if (field == "conditions") return "type";
  if (field == "podIPs" || field == "hostIPs") return "ip";
  return nullptr;
}

// Applies a strategic merge patch to a PodStatus JSON object.
inline json applyStatusPatch(json original, const json& patch, bool statusLevel = true) {
  if (!original.is_object()) original = json::object();
  for (const auto& [k, v] : patch.items()) {
    if (k.rfind("$setElementOrder/", 0) == 0) continue;
    if (v.is_null()) {
      original.erase(k);
      continue;
    }
    const char* key = statusLevel ? mergeKeyFor(k) : nullptr;
    if (key && v.is_array()) {
      json list = original.contains(k) ? original[k] : json::array();
      for (const auto& item : v) {
        auto same = [&](const json& x) { return x[key] == item[key]; };
        auto it = std::find_if(list.begin(), list.end(), same);
        if (item.contains("$patch") && item["$patch"] == "delete") {
          if (it != list.end()) list.erase(it);
        } else if (it != list.end()) {
          *it = applyStatusPatch(*it, item, false);
        } else {
          list.push_back(item);
        }
      }
      // Order: $setElementOrder first, then the items it does not name, as they were.
      std::string orderKey = "$setElementOrder/" + k;
      if (patch.contains(orderKey)) {
        json ordered = json::array();
        for (const auto& o : patch[orderKey]) {
          for (const auto& item : list) {
            if (item[key] == o[key]) ordered.push_back(item);
          }
        }
        for (const auto& item : list) {
          bool named = false;
          for (const auto& o : patch[orderKey]) named = named || item[key] == o[key];
          if (!named) ordered.push_back(item);
        }
        list = ordered;
      }
      original[k] = list;
    } else if (v.is_object() && original.contains(k) && original[k].is_object()) {
      original[k] = applyStatusPatch(original[k], v, false);
    } else {
      original[k] = v;
    }
  }
  return original;
}

// Pods by "/api/v1/namespaces/<ns>/pods/<name>".
class FakePodsApi {
 public:
  void add(const std::string& ns, const std::string& name, const std::string& uid,
           json status = json::object(), bool deleting = false) {
    json pod = {
        {"kind", "Pod"},
        {"apiVersion", "v1"},
        {"metadata", {{"name", name}, {"namespace", ns}, {"uid", uid}, {"resourceVersion", "1"}}},
        {"spec", json::object()},
        {"status", std::move(status)}};
    if (deleting) pod["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z";
    pods_["/api/v1/namespaces/" + ns + "/pods/" + name] = pod;
  }
  json* pod(const std::string& ns, const std::string& name) {
    auto it = pods_.find("/api/v1/namespaces/" + ns + "/pods/" + name);
    return it == pods_.end() ? nullptr : &it->second;
  }
  // The next requests are answered with these codes instead.
  void failNext(long code, int times = 1) {
    for (int i = 0; i < times; ++i) failures_.push_back(code);
  }

  agent::kubeapi::Response handle(const agent::kubeapi::Request& req) {
    agent::kubeapi::Response r;
    if (!failures_.empty()) {
      r.code = failures_.front();
      failures_.pop_front();
      r.body = R"({"kind":"Status","apiVersion":"v1","status":"Failure","code":)" +
               std::to_string(r.code) + "}";
      return r;
    }
    std::string path = req.path;
    bool status = false;
    if (path.size() > 7 && path.substr(path.size() - 7) == "/status") {
      status = true;
      path.resize(path.size() - 7);
    }
    auto it = pods_.find(path);
    if (it == pods_.end()) {
      r.code = 404;
      r.body = R"({"kind":"Status","reason":"NotFound","code":404})";
      return r;
    }
    json& pod = it->second;
    if (req.method == "GET") {
      r.code = 200;
      r.body = pod.dump();
    } else if (req.method == "PATCH" && status) {
      json patch = json::parse(req.body);
      if (patch["metadata"]["uid"] != pod["metadata"]["uid"]) {
        r.code = 409;
        r.body = R"({"kind":"Status","reason":"Conflict","code":409})";
        return r;
      }
      pod["status"] = applyStatusPatch(pod["status"], patch["status"]);
      bumpRv(pod);
      r.code = 200;
      r.body = pod.dump();
    } else if (req.method == "DELETE") {
      json opts = json::parse(req.body);
      if (opts["preconditions"]["uid"] != pod["metadata"]["uid"]) {
        r.code = 409;
        r.body = R"({"kind":"Status","reason":"Conflict","code":409})";
        return r;
      }
      r.code = 200;
      r.body = pod.dump();
      pods_.erase(it);
    } else {
      r.code = 405;
    }
    return r;
  }

 private:
  static void bumpRv(json& pod) {
    int rv = std::stoi(pod["metadata"]["resourceVersion"].get<std::string>());
    pod["metadata"]["resourceVersion"] = std::to_string(rv + 1);
  }
  std::map<std::string, json> pods_;
  std::deque<long> failures_;
};

}  // namespace cubelet::testing
