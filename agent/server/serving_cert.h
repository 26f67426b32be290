// The serving certificate of the kubelet's HTTPS API (:10250), chosen as the
// kubelet's InitializeTLS and its serving-certificate manager do:
//
// 1. tlsCertFile + tlsPrivateKeyFile set (serverTLSBootstrap off): those files,
//    checked (a certificate, a private key, the key matching the leaf). Errors
//    name the field and the file.
// 2. Neither set, serverTLSBootstrap off: <certDir>/kubelet.crt and kubelet.key,
//    used as they are when both exist (as certutil.CanReadCertAndKey: one without
//    the other, or a corrupt pair, is an error, not regenerated); otherwise a new
//    self-signed pair as client-go's GenerateSelfSignedCertKey(hostname, nil, nil):
//    an RSA-2048 CA "<host>-ca@<unix>" (serial 1, CA:TRUE, keyCertSign) signing an
//    RSA-2048 serving certificate "<host>@<unix>" (serial 2, serverAuth, digital
//    signature + key encipherment, SAN = the host as a DNS name, or as an IP when
//    it is one), both valid from now - 1 h for one year. kubelet.crt holds the
//    certificate then the CA (0644), kubelet.key the PKCS#1 "RSA PRIVATE KEY"
//    (0600); each written atomically.
// 3. serverTLSBootstrap: certificates.k8s.io CSRs for signer
//    kubernetes.io/kubelet-serving, subject CN=system:node:<node>, O=system:nodes,
//    SANs from the node's addresses (Hostname/InternalDNS/ExternalDNS -> DNS,
//    InternalIP/ExternalIP -> IP, deduplicated and sorted), usages "digital
//    signature", "server auth" (ECDSA P-256 key), generateName "csr-". Issued pairs
//    are stored as certificate.FileStore("kubelet-server", certDir) does:
//    kubelet-server-<timestamp>.pem + symlink kubelet-server-current.pem. At start
//    the current pair (else tlsCertFile/tlsPrivateKeyFile when set) is used if it
//    has not expired. No CSR is sent until addresses are known. A new certificate
//    is requested at a random 70-90 % of the current one's lifetime, at once when
//    there is none (or it expired), and at once when the addresses change so the
//    current one no longer covers them. Failures retry with jittered backoff.
//    Until a certificate is issued, current() is empty.
//
// Runs on the loop; key generation, CSR making and file writes on the pool. Modes 1
// and 2 do their (blocking, startup-only) work inside create().
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/kubeapi/api_client.h"
#include "agent/kubeapi/certificate.h"
#include "agent/kubeapi/certificate_request.h"
#include "agent/node/node_status.h"
#include "core/backoff.h"
#include "core/event_loop.h"
#include "core/worker_pool.h"

namespace agent::server {

inline constexpr char kKubeletServingSignerName[] = "kubernetes.io/kubelet-serving";

struct ServingCertOptions {
  std::string certDir = "/var/lib/kubelet/pki";  // --cert-dir
  std::string tlsCertFile;                       // tlsCertFile
  std::string tlsPrivateKeyFile;                 // tlsPrivateKeyFile
  bool serverTlsBootstrap = false;               // serverTLSBootstrap
  // The host the self-signed certificate is for: nodeutil.GetHostname(
  // hostnameOverride), i.e. the resolved (lowercased) node name.
  std::string hostname;
  std::string nodeName;  // CSR subject system:node:<nodeName>
  // How long one CSR is waited for before it is abandoned and retried.
  core::Duration csrWaitTimeout = std::chrono::minutes(15);
  core::Duration retryInitial = std::chrono::seconds(2);
  core::Duration retryMax = std::chrono::minutes(5);
  // Values in [0, 1) for the rotation deadline and retry jitter; random by default.
  std::function<double()> random;
};

// The DNS names and IPs a serving-certificate CSR asks for, from the node's
// addresses as the kubelet's addressesToHostnamesAndIPs: empty addresses skipped,
// Hostname -> IP if it parses as one else DNS, InternalIP/ExternalIP -> IP (when
// they parse), InternalDNS/ExternalDNS -> DNS; deduplicated, each list sorted.
struct ServingNames {
  std::vector<std::string> dnsNames;
  std::vector<std::string> ipAddresses;
  bool empty() const { return dnsNames.empty() && ipAddresses.empty(); }
  bool operator==(const ServingNames&) const = default;
};
ServingNames servingNamesFromAddresses(const std::vector<node::NodeAddress>& addresses);

// client-go's GenerateSelfSignedCertKey(host, ips, dns) at `now` (see above):
// certPem = serving certificate then CA, keyPem = "RSA PRIVATE KEY".
struct SelfSignedPair {
  std::string certPem;
  std::string keyPem;
};
absl::StatusOr<SelfSignedPair> generateSelfSignedCertKey(const std::string& host,
                                                         const std::vector<std::string>& ips,
                                                         const std::vector<std::string>& dns,
                                                         core::WallTime now);

// Modes 1 and 2 (blocking file I/O and, for a new self-signed pair, RSA key
// generation): the pair to serve. Errors name the field or file.
absl::StatusOr<kubeapi::CertKeyPair> loadOrGenerateStaticServingCert(const ServingCertOptions& opts,
                                                                     core::WallTime now);

class ServingCertificate {
 public:
  using RotatedCallback = std::function<void(const kubeapi::CertKeyPair&)>;

  // Modes 1/2: loads or generates the pair now (blocking; call at startup), and
  // never rotates. Mode 3: needs `client` (the node's API client, which must
  // outlive this object), loads the current pair if any, and requests certificates
  // once setNodeAddresses() gave it something to ask for (`initialAddresses` may
  // already). Errors: bad options or files (modes 1/2), no client (mode 3).
  static absl::StatusOr<std::unique_ptr<ServingCertificate>> create(
      core::EventLoop& loop, core::WorkerPool& pool, ServingCertOptions opts,
      kubeapi::ApiClient* client, const std::vector<node::NodeAddress>& initialAddresses = {});
  ~ServingCertificate();
  ServingCertificate(const ServingCertificate&) = delete;
  ServingCertificate& operator=(const ServingCertificate&) = delete;

  // The pair to serve now: empty in mode 3 before the first certificate is issued,
  // or when the current one has expired (as certificate.Manager.Current()).
  std::optional<kubeapi::CertKeyPair> current() const;

  // Runs on the loop each time a new pair has been issued and stored (mode 3).
  void onRotated(RotatedCallback cb) { onRotated_ = std::move(cb); }

  // The node's addresses as last reported in its status (mode 3; ignored otherwise).
  // A change the current certificate does not cover starts a new request at once
  // (cancelling an in-flight one for other names).
  void setNodeAddresses(const std::vector<node::NodeAddress>& addresses);

  // Mode 3 bookkeeping, for tests and the lead's logs.
  bool bootstrapMode() const { return opts_.serverTlsBootstrap; }
  std::optional<core::WallTime> rotationDeadline() const { return deadline_; }
  bool requestInFlight() const { return inFlight_; }
  const absl::Status& lastError() const { return lastError_; }
  // What the latest CSR asked for (empty before the first).
  const ServingNames& lastRequested() const { return lastRequested_; }
  std::string currentPath() const;

 private:
  ServingCertificate(core::EventLoop& loop, core::WorkerPool& pool, ServingCertOptions opts,
                     kubeapi::ApiClient* client);
  bool satisfiesTemplate(const kubeapi::CertKeyPair& pair) const;
  void reschedule();
  void rotate();
  void rotationFailed(absl::Status s);
  double random();

  core::EventLoop& loop_;
  core::WorkerPool& pool_;
  ServingCertOptions opts_;
  kubeapi::ApiClient* client_;
  core::ExponentialBackoff backoff_;
  absl::Status lastError_;
  RotatedCallback onRotated_;

  std::optional<kubeapi::CertKeyPair> current_;
  ServingNames names_;          // what the node's addresses ask for now
  ServingNames lastRequested_;  // what the latest CSR asked for
  bool inFlight_ = false;
  uint64_t generation_ = 0;  // bumped to abandon an in-flight rotation
  core::TimerPtr timer_;
  std::optional<core::WallTime> deadline_;
  std::unique_ptr<kubeapi::CertificateRequest> request_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace agent::server
