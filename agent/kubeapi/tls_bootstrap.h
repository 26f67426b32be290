// The kubelet's client-certificate lifecycle: TLS bootstrap with the bootstrap
// kubeconfig (pkg/kubelet/certificate/bootstrap) and rotation of the client
// certificate before it expires (client-go util/certificate's manager).
//
// Bootstrap: when --kubeconfig already holds an unexpired client certificate there
// is nothing to do. Otherwise, with a client made from --bootstrap-kubeconfig:
// take the key of an existing kubelet-client-current.pem, or the pending key
// <certDir>/kubelet-client.key.tmp, or a new EC P-256 key written there first;
// request a certificate with a CSR named "node-csr-<digest of key and subject>"
// (so a restart finds the same CSR) for signer
// kubernetes.io/kube-apiserver-client-kubelet; once issued, store it (see
// certificate_store.h), remove the pending key and write --kubeconfig pointing at
// kubelet-client-current.pem. Failures (denied, failed, timeout after 1 h, API
// errors) are logged and retried with backoff, with the same key.
//
// Rotation: at a random 70–90 % of the current certificate's lifetime a new key
// and CSR (generateName "csr-") are made with the node's own credentials; the new
// pair replaces the current one and `onRotated` runs so the owner reloads its
// client; then the next rotation is scheduled from the new certificate.
//
// Everything runs on the loop; key generation and file writes on the pool.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "agent/kubeapi/api_client.h"
#include "agent/kubeapi/certificate_request.h"
#include "core/backoff.h"
#include "core/event_loop.h"
#include "core/worker_pool.h"

namespace agent::kubeapi {

struct CertificateManagerOptions {
  std::string nodeName;
  std::string kubeconfigPath;           // --kubeconfig
  std::string bootstrapKubeconfigPath;  // --bootstrap-kubeconfig
  std::string certDir = "/var/lib/kubelet/pki";
  core::Duration bootstrapWaitTimeout = std::chrono::hours(1);
  core::Duration rotationWaitTimeout = std::chrono::minutes(15);
  // Retry delays after a failed bootstrap or rotation (jittered, doubling).
  core::Duration retryInitial = std::chrono::seconds(2);
  core::Duration retryMax = std::chrono::minutes(5);
  // Values in [0, 1) for the rotation deadline and retry jitter; random by default.
  std::function<double()> random;
};

class CertificateManager {
 public:
  CertificateManager(core::EventLoop& loop, core::WorkerPool& pool, CertificateManagerOptions opts);
  ~CertificateManager();
  CertificateManager(const CertificateManager&) = delete;
  CertificateManager& operator=(const CertificateManager&) = delete;

  // Whether --kubeconfig holds an unexpired client certificate, so no bootstrap is
  // needed (reads a few small files; fine at startup).
  bool kubeconfigStillValid() const;

  // Gets a client certificate with `bootstrapClient` (which must outlive the
  // bootstrap) unless kubeconfigStillValid(). `done` runs once on the loop: OK when
  // --kubeconfig is ready to use, an error only for a bootstrap kubeconfig that
  // cannot be read (API and CSR failures are retried).
  void bootstrap(ApiClient& bootstrapClient, std::function<void(absl::Status)> done);

  // Starts rotating <certDir>/kubelet-client-current.pem with `client` (the node's
  // own; must outlive this manager or stop()). An error when there is no current
  // pair to rotate.
  absl::Status startRotation(ApiClient& client, std::function<void()> onRotated);
  void stop();

  // When the next rotation starts (wall time), while rotation is scheduled.
  std::optional<core::WallTime> rotationDeadline() const { return deadline_; }
  // The latest bootstrap or rotation failure (OK when none since the last success).
  const absl::Status& lastError() const { return lastError_; }
  std::string currentPath() const;

 private:
  void bootstrapAttempt();
  void bootstrapFailed(absl::Status s);
  void scheduleRotation(core::WallTime notBefore, core::WallTime notAfter);
  void rotate();
  void rotationFailed(absl::Status s);
  double random();

  core::EventLoop& loop_;
  core::WorkerPool& pool_;
  CertificateManagerOptions opts_;
  core::ExponentialBackoff backoff_;
  absl::Status lastError_;

  // Bootstrap.
  ApiClient* bootstrapClient_ = nullptr;
  std::function<void(absl::Status)> bootstrapDone_;
  core::TimerPtr bootstrapRetry_;

  // Rotation.
  ApiClient* client_ = nullptr;
  std::function<void()> onRotated_;
  core::TimerPtr rotationTimer_;
  std::optional<core::WallTime> deadline_;

  std::unique_ptr<CertificateRequest> request_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace agent::kubeapi
