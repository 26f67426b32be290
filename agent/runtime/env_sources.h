// What a container's environment and image pulls need from the API, as one
// immutable snapshot: the pod worker builds it on the event loop for each sync from
// the agent's caches (ConfigMap/Secret/Service watches, the Node) and hands it, by
// shared_ptr, to the worker-pool thread that creates the containers. Objects are
// shared with the caches (shared_ptr<const T>), never copied.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "agent/api/config_objects.h"
#include "agent/api/pod.h"
#include "agent/api/quantity.h"
#include "agent/api/runtime_class.h"

namespace agent::runtime {

// Environment variables in the order they are given to the container.
using EnvList = std::vector<std::pair<std::string, std::string>>;

struct EnvSources {
  // False for an agent without an API server (standalone, static pods only): a
  // reference to a ConfigMap or Secret is then an error, and there are no service
  // links (the kubelet without a kubeClient behaves the same).
  bool apiAvailable = false;

  // The ConfigMaps and Secrets of the pod's namespace that the pod references, by
  // name. A name absent from the map is not yet known (its watch has not synced:
  // a retryable error); present with nullptr, it is known not to exist.
  std::map<std::string, std::shared_ptr<const api::ConfigMap>> configMaps{};
  std::map<std::string, std::shared_ptr<const api::Secret>> secrets{};

  // Services for the service-link variables: those of the pod's namespace plus
  // default/kubernetes (others are ignored, so handing over all of them is fine).
  // Until the Service watch has listed once, non-static pods are not started (the
  // kubelet's "services have not yet been read at least once").
  bool servicesSynced = false;
  std::vector<std::shared_ptr<const api::Service>> services{};

  // status.allocatable of the Node: the limit resourceFieldRef reports for a
  // container without a cpu / memory / ephemeral-storage limit.
  std::map<std::string, api::Quantity> nodeAllocatable{};

  // The RuntimeClass the pod's runtimeClassName names; null when there is none of
  // that name (or the pod names none).
  std::shared_ptr<const api::RuntimeClass> runtimeClass{};

  // The node's IPs (status.hostIP is the first), as the Node's status reports them.
  std::vector<std::string> hostIPs{};

  // The RelaxedEnvironmentVariableValidation rule for envFrom keys (any printable
  // ASCII but '='); false: the classic C-identifier-like rule [-._a-zA-Z][-._a-zA-Z0-9]*.
  bool relaxedEnvVarNames = false;
};

using EnvSourcesPtr = std::shared_ptr<const EnvSources>;

// The ConfigMap and Secret names a pod's containers (init and app) reference from
// env (configMapKeyRef/secretKeyRef) and envFrom, i.e. what must be in EnvSources.
// Pull secrets: see pullSecretNames in pull_secrets.h.
struct EnvReferences {
  std::set<std::string> configMaps{};
  std::set<std::string> secrets{};
};
EnvReferences envReferences(const api::Pod& pod);

}  // namespace agent::runtime
