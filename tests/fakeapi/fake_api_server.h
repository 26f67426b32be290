// A Kubernetes API server test double: HTTPS with client-certificate and bearer-token
// authentication, the Node authorizer and NodeRestriction, list/watch with
// resourceVersions, bookmarks and 410 Gone, field and label selectors, status
// subresources, merge/strategic-merge/JSON patches, graceful pod deletion, Leases,
// Events, CertificateSigningRequests, PersistentVolumes(Claims), TokenRequests for
// service accounts and (opt-in) ServiceAccount admission. Tests drive it over HTTP like cubelet
// does, or directly (as cluster admin) through the store API below, which shares the same code
// paths and watch events.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "tests/fakeapi/pki.h"
#include "tests/fakeapi/request_record.h"
#include "tests/fakeapi/token_request.h"

namespace cubelet::fakeapi {

class TokenAuthenticator;
class ResourceStore;
class ApiHandler;
class TlsHttpServer;
class NodeIpamController;
class KubeletProxy;
class ReviewHandler;

struct FakeApiServerOptions {
  std::string bindAddress = "127.0.0.1";
  int port = 0;                // 0: pick a free port
  size_t historyLimit = 1000;  // watch events kept; a watch from an older RV gets 410
  std::chrono::milliseconds bookmarkInterval{1000};  // for watches with allowWatchBookmarks
  std::string pkiDir;  // where CA/server/client PEMs are written (temp dir); empty: a new temp dir
  // TokenRequest (serviceaccounts/<name>/token, token_request.h): requested
  // expirations above this are clamped to it, and the answer's spec.expirationSeconds
  // and status.expirationTimestamp report the clamped value (upstream
  // --service-account-max-token-expiration). 0: no maximum. TEST-ONLY RELAXATION: any
  // positive value is taken, even below the 600 s a request may ask for, so tests see
  // tokens refreshed within seconds.
  int64_t maxTokenExpirationSeconds = 0;
  // The ServiceAccount admission plugin on pod creates (default service account,
  // kube-api-access-* projected volume and mounts), and in every namespace the
  // "default" ServiceAccount and the "kube-root-ca.crt" ConfigMap with caPem() under
  // ca.crt, created with the namespace as kube-controller-manager would
  // (service_account_admission.h). Off by default: pods are stored as sent.
  bool serviceAccountAdmission = false;
  // kube-controller-manager's node IPAM (--allocate-node-cidrs --cluster-cidr=<this>):
  // each Node gets a /24 of this IPv4 CIDR in spec.podCIDR(s) shortly after it is
  // created, in a separate update (node_ipam.h). "": off, Nodes keep what they are sent.
  std::string allocateNodeCidrs;
};

class FakeApiServer {
 public:
  static absl::StatusOr<std::unique_ptr<FakeApiServer>> start(FakeApiServerOptions opts);
  ~FakeApiServer();  // stops
  FakeApiServer(const FakeApiServer&) = delete;
  FakeApiServer& operator=(const FakeApiServer&) = delete;

  std::string url() const;     // "https://127.0.0.1:<port>"
  std::string caFile() const;  // PEM of the CA that signed the server cert and client certs
  const std::string& caPem() const;
  int port() const;

  // Outage simulation: stop() closes the listener and every connection (watches end);
  // resume() listens again on the same port with the same state.
  void stop();
  absl::Status resume();

  // Identities. Kubeconfigs are YAML with the CA and credentials embedded (*-data).
  absl::Status writeCertKubeconfig(const std::string& path, const std::string& user,
                                   const std::vector<std::string>& groups,
                                   std::chrono::seconds validity = std::chrono::hours(24));
  // A client certificate for `user` in `groups`, signed by the server's CA.
  absl::StatusOr<CertKeyPem> issueClientCert(
      const std::string& user, const std::vector<std::string>& groups,
      std::chrono::seconds validity = std::chrono::hours(24));
  std::string addToken(const std::string& user, const std::vector<std::string>& groups);
  absl::Status writeTokenKubeconfig(const std::string& path, const std::string& token);
  // "abcdef.0123456789abcdef" style; user system:bootstrap:<id>, groups
  // system:bootstrappers and system:bootstrappers:kubeadm:default-node-token.
  std::string addBootstrapToken();
  // A token in group system:masters, made at start.
  const std::string& adminToken() const { return adminToken_; }

  // Direct store access as cluster admin (no HTTP, no authz, same semantics and watch
  // events). `path` is the API path of a collection or object, e.g.
  // "/api/v1/namespaces/default/pods". Namespaces that do not exist are created.
  absl::StatusOr<nlohmann::json> create(const std::string& collectionPath, nlohmann::json obj);
  absl::StatusOr<nlohmann::json> get(const std::string& objectPath);
  // RV-checked if the object carries metadata.resourceVersion. A path ending in
  // /status (or /approval, /resize) writes that subresource.
  absl::StatusOr<nlohmann::json> update(const std::string& objectPath, nlohmann::json obj);
  // Patches as PATCH would (contentType: merge, strategic-merge or json-patch).
  absl::StatusOr<nlohmann::json> patch(const std::string& objectPath,
                                       const std::string& contentType, const nlohmann::json& patch);
  // The pod (graceful deletion pending or last state) or a Success Status.
  absl::StatusOr<nlohmann::json> remove(const std::string& objectPath,
                                        std::optional<int64_t> grace = std::nullopt);
  std::vector<nlohmann::json> list(const std::string& collectionPath);

  // CSRs: approve (Approved condition) and issue (status.certificate signed by the CA
  // for the CSR's subject), or deny (Denied condition).
  absl::Status approveCsr(const std::string& name,
                          std::chrono::seconds validity = std::chrono::hours(24));
  absl::Status denyCsr(const std::string& name);

  // Drops the watch history: every watch resuming from an RV older than now gets 410 Gone.
  void compactHistory();
  // Closes every open watch stream (as a server-side watch timeout would).
  void closeWatches();
  int64_t currentResourceVersion() const;

  std::vector<RequestRecord> requests() const;
  void clearRequests();

  // Service account tokens. Every token issued through TokenRequest, oldest first.
  std::vector<TokenRequestRecord> tokenRequests() const;
  void clearTokenRequests();
  // As an admin's POST to /api/v1/namespaces/<ns>/serviceaccounts/<sa>/token.
  absl::StatusOr<nlohmann::json> requestToken(const std::string& ns, const std::string& sa,
                                              const nlohmann::json& tokenRequest);
  // The issuer (iss, and the default audience): kubeadm's
  // "https://kubernetes.default.svc.cluster.local".
  const std::string& serviceAccountIssuer() const;
  // The PEM public key that verifies the tokens' RS256 signatures.
  absl::StatusOr<std::string> serviceAccountPublicKeyPem();
  // The claims of a token this server issued, after checking its signature, issuer
  // and expiry; an error otherwise.
  absl::StatusOr<nlohmann::json> reviewToken(const std::string& jwt);

  // pods/{log,exec,attach,portforward} and nodes/{name}/proxy go to the node's kubelet
  // (kubelet_proxy.h): its client certificate, address overrides, proxied requests.
  KubeletProxy& kubeletProxy() { return *kubeletProxy_; }

  // TokenReview and SubjectAccessReview (reviews.h): what was asked and answered.
  // Their requests are in requests() too.
  ReviewHandler& reviews() { return *reviews_; }

  // Waits until `objectPath` exists and pred(obj) holds; DeadlineExceeded (naming the
  // last object seen) after `timeout`.
  absl::StatusOr<nlohmann::json> waitFor(const std::string& objectPath,
                                         const std::function<bool(const nlohmann::json&)>& pred,
                                         std::chrono::milliseconds timeout);

 private:
  FakeApiServer();
  absl::Status writeKubeconfig(const std::string& path, const std::string& user,
                               const std::string& userFields);

  FakeApiServerOptions opts_;
  std::string tempDir_;  // removed on destruction when we made it
  std::unique_ptr<Pki> pki_;
  std::unique_ptr<TokenAuthenticator> tokens_;
  std::unique_ptr<ResourceStore> store_;
  std::unique_ptr<TokenIssuer> tokenIssuer_;
  std::unique_ptr<ApiHandler> handler_;
  std::unique_ptr<KubeletProxy> kubeletProxy_;  // outlives server_: its threads use it
  std::unique_ptr<ReviewHandler> reviews_;      // outlives server_: its threads use it
  std::unique_ptr<TlsHttpServer> server_;
  std::string adminToken_;
  std::unique_ptr<NodeIpamController> ipam_;  // first to go: it writes to the store
};

}  // namespace cubelet::fakeapi
