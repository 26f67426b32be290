// Pods for the container-manager tests, built in code: containers with requests and
// limits given as quantity strings.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "agent/api/pod.h"

namespace cubelet::testing {

using QuantityMap = std::map<std::string, std::string>;

inline std::map<std::string, agent::api::Quantity> quantities(const QuantityMap& m) {
  std::map<std::string, agent::api::Quantity> out;
  for (const auto& [k, v] : m) {
    auto q = agent::api::Quantity::parse(v);
    EXPECT_TRUE(q.ok()) << v;
    if (q.ok()) out[k] = *q;
  }
  return out;
}

inline agent::api::Container ctr(const std::string& name, const QuantityMap& requests,
                                 const QuantityMap& limits, bool sidecar = false) {
  agent::api::Container c;
  c.name = name;
  c.image = "img";
  c.resources.requests = quantities(requests);
  c.resources.limits = quantities(limits);
  if (sidecar) c.restartPolicy = "Always";
  return c;
}

inline agent::api::Pod podWith(const std::string& uid, std::vector<agent::api::Container> app,
                               std::vector<agent::api::Container> init = {}) {
  agent::api::Pod p;
  p.metadata.name = "p-" + uid;
  p.metadata.namespace_ = "ns";
  p.metadata.uid = uid;
  p.spec.containers = std::move(app);
  p.spec.initContainers = std::move(init);
  return p;
}

inline std::shared_ptr<const agent::api::Pod> shared(agent::api::Pod p) {
  return std::make_shared<const agent::api::Pod>(std::move(p));
}

// One container each.
inline agent::api::Pod guaranteedPod(const std::string& uid, const std::string& cpu = "1",
                                     const std::string& memory = "1Gi") {
  return podWith(
      uid, {ctr("c", {{"cpu", cpu}, {"memory", memory}}, {{"cpu", cpu}, {"memory", memory}})});
}
inline agent::api::Pod burstablePod(const std::string& uid, const std::string& cpu = "100m",
                                    const std::string& memory = "64Mi") {
  return podWith(uid, {ctr("c", {{"cpu", cpu}, {"memory", memory}}, {})});
}
inline agent::api::Pod bestEffortPod(const std::string& uid) {
  return podWith(uid, {ctr("c", {}, {})});
}

}  // namespace cubelet::testing
