#include "agent/api/pod_status.h"

namespace agent::api {
namespace {

void putIf(nlohmann::json& j, const char* key, const std::string& v) {
  if (!v.empty()) j[key] = v;
}

nlohmann::json stateJson(const ContainerState& s) {
  nlohmann::json j = nlohmann::json::object();
  if (s.waiting) {
    nlohmann::json w = nlohmann::json::object();
    putIf(w, "reason", s.waiting->reason);
    putIf(w, "message", s.waiting->message);
    j["waiting"] = w;
  }
  if (s.running) {
    nlohmann::json r = nlohmann::json::object();
    putIf(r, "startedAt", s.running->startedAt);
    j["running"] = r;
  }
  if (s.terminated) {
    const auto& t = *s.terminated;
    nlohmann::json tj = {{"exitCode", t.exitCode}};
    if (t.signal) tj["signal"] = t.signal;
    putIf(tj, "reason", t.reason);
    putIf(tj, "message", t.message);
    tj["startedAt"] = t.startedAt.empty() ? nlohmann::json(nullptr) : nlohmann::json(t.startedAt);
    tj["finishedAt"] =
        t.finishedAt.empty() ? nlohmann::json(nullptr) : nlohmann::json(t.finishedAt);
    putIf(tj, "containerID", t.containerID);
    j["terminated"] = tj;
  }
  return j;
}

}  // namespace

nlohmann::json toJson(const ContainerStatus& s) {
  nlohmann::json j = {{"name", s.name},
                      {"state", stateJson(s.state)},
                      {"lastState", stateJson(s.lastState)},
                      {"ready", s.ready},
                      {"restartCount", s.restartCount},
                      {"image", s.image},
                      {"imageID", s.imageID}};
  putIf(j, "containerID", s.containerID);
  if (s.started) j["started"] = *s.started;
  if (!s.allocatedResources.empty()) j["allocatedResources"] = s.allocatedResources;
  if (s.resources) {
    nlohmann::json r = nlohmann::json::object();
    if (!s.resources->limits.empty()) r["limits"] = s.resources->limits;
    if (!s.resources->requests.empty()) r["requests"] = s.resources->requests;
    j["resources"] = std::move(r);
  }
  return j;
}

nlohmann::json toJson(const PodStatus& s) {
  nlohmann::json j = nlohmann::json::object();
  putIf(j, "phase", s.phase);
  if (!s.conditions.empty()) {
    nlohmann::json cs = nlohmann::json::array();
    for (const auto& c : s.conditions) {
      nlohmann::json cj = {{"type", c.type}, {"status", c.status}};
      putIf(cj, "reason", c.reason);
      putIf(cj, "message", c.message);
      cj["lastProbeTime"] =
          c.lastProbeTime.empty() ? nlohmann::json(nullptr) : nlohmann::json(c.lastProbeTime);
      putIf(cj, "lastTransitionTime", c.lastTransitionTime);
      cs.push_back(cj);
    }
    j["conditions"] = cs;
  }
  putIf(j, "message", s.message);
  putIf(j, "reason", s.reason);
  putIf(j, "hostIP", s.hostIP);
  if (!s.hostIPs.empty()) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& ip : s.hostIPs) a.push_back({{"ip", ip}});
    j["hostIPs"] = a;
  }
  putIf(j, "podIP", s.podIP);
  if (!s.podIPs.empty()) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& ip : s.podIPs) a.push_back({{"ip", ip}});
    j["podIPs"] = a;
  }
  putIf(j, "startTime", s.startTime);
  putIf(j, "qosClass", s.qosClass);
  if (!s.initContainerStatuses.empty()) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& c : s.initContainerStatuses) a.push_back(toJson(c));
    j["initContainerStatuses"] = a;
  }
  nlohmann::json a = nlohmann::json::array();
  for (const auto& c : s.containerStatuses) a.push_back(toJson(c));
  j["containerStatuses"] = a;
  if (!s.ephemeralContainerStatuses.empty()) {
    nlohmann::json e = nlohmann::json::array();
    for (const auto& c : s.ephemeralContainerStatuses) e.push_back(toJson(c));
    j["ephemeralContainerStatuses"] = e;
  }
  return j;
}

}  // namespace agent::api
