// The agent's side of the volume manager: it turns each running pod's spec and the
// API objects it names (ConfigMaps, Secrets, service account tokens, claims) into
// VolumePlans, hands them to volumes::VolumeManager, and recomputes them when an
// input changes (a pod update, a watched object, a token refresh, a claim lookup).
// Pods that stopped for good lose their volumes; pods that are gone lose their
// directory.
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>

#include "agent/api/pod.h"
#include "agent/kubeapi/api_client.h"
#include "agent/runtime/env_sources.h"
#include "agent/volumes/claim_resolver.h"
#include "agent/volumes/token_manager.h"
#include "core/event_loop.h"
#include "core/worker_pool.h"
#include "volumes/volume_manager.h"

namespace agent::volumes {

class PodVolumes {
 public:
  // `clusterMode`: an API server is (or will be) connected; without one, volumes
  // that need it fail instead of waiting.
  PodVolumes(core::EventLoop& loop, core::WorkerPool& pool, std::string rootDir, bool clusterMode);
  ~PodVolumes();

  // Where the API client comes from once connected (null until then).
  void setApiClient(std::function<kubeapi::ApiClient*()> f) { client_ = std::move(f); }
  // The ConfigMaps and Secrets a pod references (null: none, standalone).
  void setEnvSources(std::function<runtime::EnvSourcesPtr(const api::Pod&)> f) {
    sources_ = std::move(f);
  }
  void setOnReady(std::function<void(const std::string& uid)> cb);
  void setOnEvent(::volumes::VolumeManager::OnEvent cb);

  // A pod that should run, new or changed.
  void update(const std::shared_ptr<const api::Pod>& pod);
  // An input of the pod's volumes changed.
  void refresh(const std::string& uid);
  // A ConfigMap or Secret in `ns` changed ("" = any namespace).
  void refreshNamespace(const std::string& ns);
  // The pod's containers stopped for good: its volumes are torn down.
  void terminated(const std::string& uid);
  // The pod is gone: its volumes and its directory are removed.
  void gone(const std::string& uid);
  // After the first relist: pod directories of no known pod are removed.
  void cleanupOrphans(const std::set<std::string>& keep) { manager_.cleanupOrphans(keep); }

  // The pod's volumes, or null until every one of them is set up.
  ::volumes::PodMountsPtr mountsIfReady(const std::string& uid) const;
  const ::volumes::VolumeManager& manager() const { return manager_; }

 private:
  struct Entry {
    std::shared_ptr<const api::Pod> pod;
    bool terminated = false;
  };
  void recompute(const std::string& uid, const Entry& e);
  void ensureClients();

  core::EventLoop& loop_;
  bool clusterMode_;
  ::volumes::VolumeManager manager_;
  std::function<kubeapi::ApiClient*()> client_;
  std::function<runtime::EnvSourcesPtr(const api::Pod&)> sources_;
  std::unique_ptr<TokenManager> tokens_;
  std::unique_ptr<ClaimResolver> claims_;
  std::unordered_map<std::string, Entry> pods_;
};

}  // namespace agent::volumes
