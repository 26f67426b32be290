// One certificates.k8s.io/v1 CertificateSigningRequest, from creation to issued
// certificate, as client-go's csr.RequestCertificate + csr.WaitForCertificate:
// POST the CSR (a named one that already exists is reused when it is for the same
// key, subject and signer), then list+watch it by name until it is Approved and
// carries status.certificate. Denied, Failed, deleted, a changed UID or the wait
// timing out end it with an error. Runs on the loop; no blocking work.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/kubeapi/api_client.h"
#include "core/event_loop.h"

namespace agent::kubeapi {

inline constexpr char kKubeletClientSignerName[] = "kubernetes.io/kube-apiserver-client-kubelet";
inline constexpr char kCsrCollectionPath[] =
    "/apis/certificates.k8s.io/v1/certificatesigningrequests";

struct CsrSpec {
  std::string name;    // "" -> metadata.generateName "csr-"
  std::string csrPem;  // the PEM CERTIFICATE REQUEST
  std::string keyPem;  // its private key, to check a reused CSR is ours
  std::string signerName = kKubeletClientSignerName;
  std::vector<std::string> usages = {"digital signature", "client auth"};
  core::Duration waitTimeout = std::chrono::hours(1);
};

class CertificateRequest {
 public:
  using Done = std::function<void(absl::StatusOr<std::string> certificatePem)>;

  // Starts at once. `done` runs exactly once, on the loop, unless the request is
  // destroyed first (which cancels it).
  static std::unique_ptr<CertificateRequest> start(core::EventLoop& loop, ApiClient& client,
                                                   CsrSpec spec, Done done);
  virtual ~CertificateRequest() = default;

  // The CSR's name once created ("" before).
  virtual const std::string& name() const = 0;
};

}  // namespace agent::kubeapi
