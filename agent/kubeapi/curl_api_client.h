// The real ApiClient: HTTPS to the API server through libcurl's multi interface,
// driven by the event loop (curl's sockets become loop file events, its timeout a
// loop timer), so a watch costs a socket and a few KiB, never a thread. One multi
// handle keeps connections alive and reuses them; every request passes the
// client-side rate limiter (kubeAPIQPS/kubeAPIBurst) before it starts.
//
// Name resolution uses curl's threaded resolver, so a server given by DNS name does
// not block the loop either.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "agent/kubeapi/api_client.h"
#include "agent/kubeapi/kubeconfig.h"
#include "agent/kubeapi/rate_limiter.h"
#include "core/event_loop.h"

namespace agent::kubeapi {

struct CurlApiClientOptions {
  double qps = kDefaultKubeApiQps;  // <= 0: no client-side limit
  int burst = kDefaultKubeApiBurst;
  std::string userAgent;  // empty: defaultUserAgent()
  // For every request; a unary request's whole deadline is Request::timeout.
  core::Duration connectTimeout = std::chrono::seconds(10);
  // TCP keepalive probes on idle connections (client-go's dialer uses 30 s), so a
  // watch on a silently dead connection ends instead of hanging.
  core::Duration keepAlive = std::chrono::seconds(30);
  // Idle connections kept for reuse (curl's connection cache). Watches hold one
  // connection each (HTTP/1.1) on top of this.
  long maxIdleConnections = 8;
  // How often a kubeconfig tokenFile is re-read (client-go: once a minute).
  core::Duration tokenFileReload = std::chrono::minutes(1);
};

// "cubelet/v0.1.0 (linux/amd64) kubernetes/v1.30.0", shaped as client-go's
// DefaultKubernetesUserAgent() for the kubelet.
std::string defaultUserAgent();

class CurlApiClient : public ApiClient {
 public:
  static absl::StatusOr<std::unique_ptr<CurlApiClient>> create(core::EventLoop& loop,
                                                               Kubeconfig kubeconfig,
                                                               CurlApiClientOptions opts = {});
  // Drops every request in flight without calling its callbacks. Streams still
  // held by callers become inert.
  ~CurlApiClient() override;
  CurlApiClient(const CurlApiClient&) = delete;
  CurlApiClient& operator=(const CurlApiClient&) = delete;

  void send(Request req, std::function<void(Response)> done) override;
  StreamPtr stream(Request req, std::function<void(std::string_view line)> onLine,
                   std::function<void(Response)> onEnd) override;
  // The client certificate's subject CN ("system:node:n1"), "token", or "anonymous".
  std::string identity() const override;

  // New credentials after a certificate rotation (or a new kubeconfig): requests
  // started from now on use them. curl reuses a connection (and a TLS session) only
  // for the same client certificate, so they open new connections; the old ones
  // serve the streams still on them and are closed once idle.
  absl::Status reloadCredentials(const Kubeconfig& kubeconfig);

  // For tests and metrics.
  size_t inFlight() const { return transfers_.size(); }
  // TCP connections opened so far (new connects, not reused ones).
  long connectionsOpened() const { return connectionsOpened_; }
  const std::string& server() const { return kc_.server; }

 private:
  struct Transfer;
  class StreamHandle;
  using TransferPtr = std::shared_ptr<Transfer>;

  CurlApiClient(core::EventLoop& loop, Kubeconfig kc, CurlApiClientOptions opts);
  absl::Status init();
  TransferPtr enqueue(Request req, bool isStream, std::function<void(std::string_view)> onLine,
                      std::function<void(Response)> done);
  void start(const TransferPtr& t);
  absl::Status configure(Transfer& t);
  void refreshToken();
  // Removes `t` from curl and from transfers_; with `notify`, calls its callback.
  void finish(const TransferPtr& t, Response r, bool notify = true);
  void updateMaxConnects();
  void cancel(Transfer* t);
  void onSocketAction(int fd, int flags);
  void deliverLines();
  void readCompletions();

  static int socketCallback(void* easy, int fd, int what, void* userp, void* socketp);
  static int timerCallback(void* multi, long timeoutMs, void* userp);
  static size_t writeCallback(char* data, size_t size, size_t n, void* userp);
  static size_t headerCallback(char* data, size_t size, size_t n, void* userp);

  core::EventLoop& loop_;
  Kubeconfig kc_;
  CurlApiClientOptions opts_;
  std::string userAgent_;
  std::string identity_;
  RateLimiter limiter_;
  void* multi_ = nullptr;  // CURLM*
  core::TimerPtr curlTimer_;
  std::map<int, core::FileEventPtr> sockets_;
  std::map<Transfer*, TransferPtr> transfers_;
  size_t openStreams_ = 0;
  std::vector<std::weak_ptr<Transfer>> pendingLines_;
  core::MonoTime tokenReadAt_{};
  long connectionsOpened_ = 0;
};

}  // namespace agent::kubeapi
