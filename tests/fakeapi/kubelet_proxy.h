// The fake API server's proxy to the kubelet API of a node, as kube-apiserver does it
// (pkg/registry/core/pod/rest/{log,subresources}.go, pkg/registry/core/node/rest/
// proxy.go, k8s.io/apimachinery pkg/util/proxy/upgradeaware.go):
//  - GET  .../namespaces/{ns}/pods/{name}/log      -> /containerLogs/{ns}/{name}/{container}
//    (options re-encoded as upstream, the body streamed back as it arrives);
//  - POST|GET .../pods/{name}/exec|attach          -> /exec|/attach/{ns}/{name}/{container}
//    (stdin/stdout/stderr/tty become input/output/error/tty = 1, commands in order);
//  - POST|GET .../pods/{name}/portforward          -> /portForward/{ns}/{name}
//    (these three are upgrades: the request goes to the kubelet with its headers,
//    Authorization removed; the kubelet's answer (101 or not) goes back as it came,
//    then bytes are copied both ways until either side closes);
//  - any method /api/v1/nodes/{name}/proxy/{path} -> /{path}?{query}.
// The node's address is its status.addresses (InternalIP, then ExternalIP, then
// Hostname: kubeadm's --kubelet-preferred-address-types) and port
// status.daemonEndpoints.kubeletEndpoint.Port (10250 when 0), unless overridden.
// TLS to the kubelet presents a client certificate CN=kube-apiserver-kubelet-client,
// O=system:masters signed by the fake's CA (kubeadm's apiserver-kubelet-client; kubeadm
// >= 1.29 uses O=kubeadm:cluster-admins, which the fake's authorizer does not know) and
// does not verify the kubelet's serving certificate unless a CA is set (upstream
// without/with --kubelet-certificate-authority).
//
// WebSocket upgrades are proxied like SPDY ones: no StreamTranslator. kubectl 1.32
// asks for v5.channel.k8s.io (exec/attach) or SPDY-over-WebSocket (port-forward) first
// and falls back to SPDY on any non-101 answer; tests should force SPDY with
// KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false and KUBECTL_PORT_FORWARD_WEBSOCKETS=false.
//
// Each proxied request runs on the TlsHttpServer connection thread that received it
// (one thread per proxied connection; an upgraded one is copied by that thread with
// non-blocking I/O on both TLS sessions).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "tests/fakeapi/authn.h"
#include "tests/fakeapi/pki.h"
#include "tests/fakeapi/tls_http_server.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace cubelet::fakeapi {

class ResourceStore;

struct KubeletProxyOptions {
  // kubeadm's --kubelet-preferred-address-types.
  std::vector<std::string> preferredAddressTypes = {"InternalIP", "ExternalIP", "Hostname"};
  int defaultKubeletPort = 10250;  // when the Node reports no kubeletEndpoint port
};

// One request the proxy handled, for tests to assert on.
struct ProxiedRequest {
  std::string method, path, query, user;
  std::string backend;  // "host:port" of the kubelet, "" when none was resolved
  std::string target;   // path?query sent to the kubelet
  int code = 0;         // the answer the client got (101 for an upgrade)
};

class KubeletProxy {
 public:
  // Issues the kubelet client certificate from `pki`.
  static absl::StatusOr<std::unique_ptr<KubeletProxy>> create(Pki& pki, ResourceStore& store,
                                                              const TokenAuthenticator& tokens,
                                                              KubeletProxyOptions opts = {});
  ~KubeletProxy();
  KubeletProxy(const KubeletProxy&) = delete;
  KubeletProxy& operator=(const KubeletProxy&) = delete;

  // True for the paths served here: pods/{name}/{log,exec,attach,portforward} and
  // nodes/{name}/proxy[/...] (GET also for nodes/{name}/proxy without a path).
  static bool handles(const std::string& path);
  // Authenticates (client certificate, then bearer token), authorizes (e.g. create
  // pods/exec for POST, get pods/log, <verb> nodes/proxy) and proxies.
  void handle(const HttpRequest& req, HttpResponder& resp);

  // The certificate presented to kubelets (PEM). Configure the agent's clientCAFile
  // with the fake's CA (FakeApiServer::caFile()) to accept it.
  const CertKeyPem& clientCert() const { return clientCert_; }
  // Reach `node`'s kubelet at host:port instead of the Node's addresses.
  void setNodeAddressOverride(const std::string& node, const std::string& host, int port);
  void clearNodeAddressOverride(const std::string& node);
  // Verify kubelet serving certificates against this CA (PEM) and the dialed address,
  // as --kubelet-certificate-authority does; "" turns verification off (the default).
  absl::Status setKubeletCertificateAuthority(const std::string& caPem);

  std::vector<ProxiedRequest> requests() const;
  void clearRequests();

 private:
  KubeletProxy(ResourceStore& store, const TokenAuthenticator& tokens, KubeletProxyOptions opts);
  struct NodeAddress {
    std::string host;
    int port = 0;
  };
  absl::StatusOr<NodeAddress> nodeBackend(const std::string& node) const;
  SSL_CTX* context() const;  // a reference the caller frees
  void record(ProxiedRequest r);

  ResourceStore& store_;
  const TokenAuthenticator& tokens_;
  const KubeletProxyOptions opts_;
  CertKeyPem clientCert_;
  mutable std::mutex mu_;  // guards everything below
  SSL_CTX* ctx_ = nullptr;
  std::map<std::string, NodeAddress> overrides_;
  std::vector<ProxiedRequest> records_;
};

}  // namespace cubelet::fakeapi
