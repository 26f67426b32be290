// Service account tokens for projected volumes, from the TokenRequest API (the
// kubelet's pkg/kubelet/token.Manager, driven by the loop): one token per pod and
// request, bound to the pod, refreshed by a timer at the moment the kubelet's
// requiresRefresh would first say yes (80 % of the TTL or 24 h, minus a jitter of up to
// 10 s). The old token is served until its successor arrives; failed requests are
// retried with backoff, and a failure is reported only while no valid token is left.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "agent/kubeapi/api_client.h"
#include "agent/volumes/volume_plans.h"
#include "core/backoff.h"
#include "core/event_loop.h"

namespace agent::volumes {

// The kubelet's token manager constants.
inline constexpr core::Duration kTokenMaxTTL = std::chrono::hours(24);
inline constexpr int64_t kTokenMaxJitterSeconds = 10;

// The text of the error client-go would return for a failed API call: the Status
// object's message (`serviceaccounts "default" not found`), else a description of the
// transport failure or of the bare HTTP answer.
std::string apiErrorMessage(const kubeapi::Response& resp);

class TokenManager {
 public:
  // `onChange(podUid)`: a token for that pod was issued, refreshed or failed (the agent
  // then rewrites the pod's projected volumes). Runs on the loop. `random` returns
  // values in [0, 1) for the refresh and retry jitter (tests pin it); by default a
  // generator seeded per instance.
  TokenManager(core::EventLoop& loop, kubeapi::ApiClient& client,
               std::function<void(const std::string& podUid)> onChange,
               std::function<double()> random = nullptr);
  ~TokenManager();
  TokenManager(const TokenManager&) = delete;
  TokenManager& operator=(const TokenManager&) = delete;

  // The current token of the pod's request; starts a TokenRequest when none is cached
  // or in flight. Not ready and no error: pending.
  TokenLookup get(const std::string& ns, const std::string& podName, const std::string& podUid,
                  const TokenRequestSpec& spec);
  // The pod is gone: its tokens are dropped and their timers stopped.
  void forgetPod(const std::string& podUid);
  // Tokens (issued or pending) held, over all pods.
  size_t size() const;

 private:
  struct Entry;
  using PodEntries = std::map<std::string, std::unique_ptr<Entry>>;  // by cache key

  void request(Entry& e);
  void onResponse(const std::string& podUid, const std::string& key, uint64_t seq,
                  const kubeapi::Response& resp);
  // Arms the refresh timer of a freshly issued token.
  void scheduleRefresh(Entry& e);
  // Arms the retry timer after a failed request.
  void scheduleRetry(Entry& e);
  Entry* find(const std::string& podUid, const std::string& key);

  core::EventLoop& loop_;
  kubeapi::ApiClient& client_;
  std::function<void(const std::string&)> onChange_;
  std::function<double()> random_;
  std::map<std::string, PodEntries> pods_;  // by pod uid
  uint64_t nextSeq_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// The kubelet's cache key for a token request (keyFunc in pkg/kubelet/token), which its
// messages name: "sa"/"ns"/[]string{"aud"}/3600/v1.BoundObjectReference{...}.
std::string tokenCacheKey(const std::string& ns, const std::string& podName,
                          const std::string& podUid, const TokenRequestSpec& spec);

// The TokenRequest body the kubelet sends for `spec`, bound to the pod.
std::string tokenRequestBody(const std::string& podName, const std::string& podUid,
                             const TokenRequestSpec& spec);

}  // namespace agent::volumes
