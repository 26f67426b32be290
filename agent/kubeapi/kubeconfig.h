// Loading a kubeconfig file (kubelet.conf, bootstrap-kubelet.conf) into what the
// API client needs: the server, how to trust it, and how to authenticate to it.
// Follows client-go's clientcmd: the current context picks a cluster and a user;
// relative file paths resolve against the kubeconfig's own directory; `*-data`
// fields carry base64 PEM inline. Plugins (exec, auth-provider) are not supported.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace agent::kubeapi {

struct Kubeconfig {
  std::string path;  // the file it came from, for messages; "" when parsed from text
  std::string contextName;
  std::string clusterName;
  std::string userName;
  std::string namespace_;  // the context's namespace; "" when unset

  // The cluster.
  std::string server;         // "https://10.0.0.1:6443"
  std::string tlsServerName;  // the name to verify the server certificate against
  bool insecureSkipTlsVerify = false;
  std::string caPem;   // the CA bundle (from certificate-authority-data or the file)
  std::string caFile;  // resolved certificate-authority path; "" when given inline

  // The user: a client certificate, a bearer token, or neither.
  std::string clientCertPem;
  std::string clientKeyPem;
  std::string clientCertFile;  // resolved paths, "" when given inline; the files
  std::string clientKeyFile;   // are re-read after a certificate rotation
  std::string token;
  std::string tokenFile;  // resolved; re-read periodically by the client

  bool hasClientCert() const { return !clientCertPem.empty(); }
};

// Reads and parses the kubeconfig at `path` (and the files it names). Errors name
// the file and the field: "/etc/kubernetes/kubelet.conf: users[0].user.client-key:
// read /x: No such file or directory".
absl::StatusOr<Kubeconfig> loadKubeconfig(const std::string& path);

// Parses kubeconfig text. `path` names it in errors and anchors relative paths
// (its directory); empty means relative to the working directory.
absl::StatusOr<Kubeconfig> parseKubeconfig(std::string_view text, const std::string& path);

// Re-reads the client certificate and key files (after a rotation wrote new ones).
// Inline data is left as it is.
absl::Status reloadClientCertificate(Kubeconfig& kc);

}  // namespace agent::kubeapi
