// The kubelet's client-certificate files, laid out as client-go's
// certificate.FileStore("kubelet-client", certDir) and the bootstrap code write
// them, so tools and a later kubelet find them where they expect:
//   <certDir>/kubelet-client-<YYYY-MM-DD-HH-MM-SS>.pem   certificate(s) then key, 0600
//   <certDir>/kubelet-client-current.pem -> the newest of those (absolute symlink)
//   <certDir>/kubelet-client.key.tmp                     the key of a pending bootstrap CSR
// and the kubeconfig written after bootstrap, whose user points at current.pem.
// The same layout under another prefix holds the serving certificate
// (certificate.FileStore("kubelet-server", certDir): kubelet-server-current.pem, ...).
// All functions do blocking file I/O: call them from the worker pool (small reads
// at startup excepted).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "agent/kubeapi/certificate.h"
#include "agent/kubeapi/kubeconfig.h"
#include "core/event_loop.h"

namespace agent::kubeapi {

inline constexpr char kDefaultCertDir[] = "/var/lib/kubelet/pki";
inline constexpr char kClientCertPrefix[] = "kubelet-client";
inline constexpr char kServingCertPrefix[] = "kubelet-server";

// <certDir>/<prefix>-current.pem
std::string currentCertPath(const std::string& certDir,
                            const std::string& prefix = kClientCertPrefix);
std::string pendingKeyPath(const std::string& certDir);  // kubelet-client.key.tmp

// The current pair, checked (key matches certificate).
absl::StatusOr<CertKeyPair> loadCurrentCertificate(const std::string& certDir,
                                                   const std::string& prefix = kClientCertPrefix);

// Writes a new dated pair file and swings the current symlink to it (via a
// temporary "<prefix>-updated.pem" symlink renamed over it, so readers see
// the old pair or the new one). A regular file at current.pem is an error, as
// upstream. Returns the new file's path.
absl::StatusOr<std::string> storeCertificate(const std::string& certDir, const std::string& certPem,
                                             const std::string& keyPem, core::WallTime now,
                                             const std::string& prefix = kClientCertPrefix);

// The kubeconfig the kubelet writes after bootstrapping: cluster "default-cluster"
// (the bootstrap kubeconfig's server, its CA file or else its inline CA data,
// insecure-skip-tls-verify if set), user "default-auth" with client-certificate and
// client-key = `pemPath`, context "default-context" (namespace "default").
std::string bootstrappedKubeconfigYaml(const Kubeconfig& bootstrap, const std::string& pemPath);
// Writes it to `path` atomically, mode 0600 (as clientcmd.WriteToFile).
absl::Status writeBootstrappedKubeconfig(const std::string& path, const Kubeconfig& bootstrap,
                                         const std::string& pemPath);

// The kubelet's isClientConfigStillValid: the kubeconfig at `path` exists, loads,
// has a client certificate, and none of its certificates has expired at `now`.
// Why not is logged.
bool kubeconfigStillValid(const std::string& path, core::WallTime now);

}  // namespace agent::kubeapi
