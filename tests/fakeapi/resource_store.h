// The fake API server's storage: every object by resource, namespace and name; one
// global resourceVersion counter (like etcd's revision); the recent history of watch
// events; and the open watches. Create, update, patch and delete follow the generic
// registry's rules (k8s.io/apiserver/pkg/registry/generic/registry/store.go) with the
// kind-specific strategies of strategies.h. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "tests/fakeapi/authz.h"
#include "tests/fakeapi/resources.h"
#include "tests/fakeapi/strategies.h"
#include "tests/fakeapi/watcher.h"

namespace cubelet::fakeapi {

// Per-write context: the writer, and admission run on the final old/new objects just
// before the write commits (NodeRestriction). `admit` may be empty.
struct WriteContext {
  WriteEnv env;
  std::function<absl::Status(const nlohmann::json* oldObj, const nlohmann::json* newObj)> admit;
  bool autoCreateNamespace = false;  // the direct test API creates missing namespaces
};

struct DeleteOptions {
  std::optional<int64_t> gracePeriodSeconds;
  std::optional<std::string> uid, resourceVersion;  // preconditions
};

struct ListResult {
  std::vector<nlohmann::json> items;
  int64_t resourceVersion = 0;
  std::string continueToken;
  int64_t remaining = 0;
};

// A delete answers with the object (pods) or with a Success Status.
struct DeleteResult {
  nlohmann::json body;
  bool removed = false;  // false: graceful deletion pending
};

class ResourceStore : public AuthzGraph {
 public:
  explicit ResourceStore(size_t historyLimit);
  ~ResourceStore() override;

  absl::StatusOr<nlohmann::json> create(const ResourceInfo& r, const std::string& ns,
                                        nlohmann::json obj, const WriteContext& ctx);
  absl::StatusOr<nlohmann::json> get(const ResourceInfo& r, const std::string& ns,
                                     const std::string& name) const;
  absl::StatusOr<ListResult> list(const ResourceInfo& r, const Selection& sel, int64_t limit,
                                  const std::string& continueToken) const;
  // Replaces the object (PUT) on the main resource or a subresource.
  absl::StatusOr<nlohmann::json> update(const ResourceInfo& r, const std::string& ns,
                                        const std::string& name, const std::string& subresource,
                                        nlohmann::json obj, const WriteContext& ctx);
  // Read-modify-write (PATCH): `mutate` computes the new object from the current one
  // under the store's lock; the result is then written as an update.
  using Mutation = std::function<absl::StatusOr<nlohmann::json>(const nlohmann::json& current)>;
  absl::StatusOr<nlohmann::json> patch(const ResourceInfo& r, const std::string& ns,
                                       const std::string& name, const std::string& subresource,
                                       const Mutation& mutate, const WriteContext& ctx);
  absl::StatusOr<DeleteResult> remove(const ResourceInfo& r, const std::string& ns,
                                      const std::string& name, const DeleteOptions& opts,
                                      const WriteContext& ctx);

  // Opens a watch. `since` empty or "0": ADDED events for the current objects first;
  // otherwise every retained event after it (410 Expired Status as an ERROR event when
  // it is older than the history). The caller removes it with unwatch().
  absl::StatusOr<WatcherPtr> watch(const ResourceInfo& r, Selection sel, const std::string& since);
  void unwatch(const WatcherPtr& w);
  // Queues a BOOKMARK carrying the current resourceVersion.
  void bookmark(const WatcherPtr& w);

  // Turns on the ServiceAccount admission plugin for pod creates and, for every
  // namespace created from now on, the "default" ServiceAccount and the
  // "kube-root-ca.crt" ConfigMap holding `caPem` (service_account_admission.h).
  void enableServiceAccounts(std::string caPem);

  void compactHistory();
  void closeWatches();
  int64_t currentResourceVersion() const;
  // Blocks until any write commits or `deadline` passes.
  void waitForWrite(int64_t afterRv, std::chrono::steady_clock::time_point deadline) const;

  // AuthzGraph.
  bool nodeReferences(const std::string& node, const std::string& resource, const std::string& ns,
                      const std::string& name) const override;
  std::optional<std::string> podNodeName(const std::string& ns,
                                         const std::string& name) const override;

 private:
  struct Event {
    int64_t rv;
    std::string type;  // ADDED MODIFIED DELETED
    const ResourceInfo* info;
    nlohmann::json object;
    nlohmann::json prev;  // null for ADDED
  };
  static std::string key(const ResourceInfo& r, const std::string& ns, const std::string& name);
  static std::string prefix(const ResourceInfo& r);

  absl::StatusOr<nlohmann::json> updateLocked(const ResourceInfo& r, const std::string& k,
                                              const std::string& subresource, nlohmann::json obj,
                                              const WriteContext& ctx);
  // Stores `obj` under `k` with a new resourceVersion and emits `type`.
  nlohmann::json commitLocked(const ResourceInfo& r, const std::string& k, nlohmann::json obj,
                              const std::string& type, const nlohmann::json* prev);
  void removeLocked(const ResourceInfo& r, const std::string& k);
  // Creates what the controllers keep in namespace `ns` (when enabled).
  void publishNamespaceDefaultsLocked(const std::string& ns);
  void emitLocked(Event ev);
  void deliverLocked(const Watcher& w, const Event& ev, std::vector<std::string>& out) const;
  std::string newUid();
  std::string randomSuffix();

  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  std::map<std::string, nlohmann::json> objects_;
  int64_t rv_ = 1;
  size_t historyLimit_;
  std::deque<Event> history_;
  int64_t compactedRv_ = 1;  // events with rv <= this are no longer retained
  std::vector<WatcherPtr> watchers_;
  std::mt19937_64 rng_;
  uint32_t nextServiceIp_ = 10;
  bool serviceAccounts_ = false;
  std::string rootCaPem_;
};

// RFC 3339 UTC with seconds, as metav1.Time marshals.
std::string rfc3339(std::chrono::system_clock::time_point t);

}  // namespace cubelet::fakeapi
