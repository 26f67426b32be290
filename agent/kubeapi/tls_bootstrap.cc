#include "agent/kubeapi/tls_bootstrap.h"

#include <unistd.h>

#include <cerrno>
#include <random>

#include "absl/strings/str_cat.h"
#include "agent/kubeapi/certificate.h"
#include "agent/kubeapi/certificate_store.h"
#include "agent/kubeapi/kubeconfig.h"
#include "core/atomic_file.h"
#include "core/log.h"
#include "core/status.h"

namespace agent::kubeapi {
namespace {

const std::vector<std::string> kNodeOrgs = {"system:nodes"};
const std::vector<std::string> kUsages = {"digital signature", "client auth"};

std::string nodeCommonName(const std::string& node) { return "system:node:" + node; }

struct BootstrapPrep {
  absl::Status configError;  // the bootstrap kubeconfig cannot be used: not retried
  Kubeconfig bootstrap;
  std::string keyPem, csrPem, csrName;
};

// The key for the bootstrap CSR: the current pair's, else the pending one, else a
// new one saved as pending first so a restart asks with the same key.
absl::StatusOr<std::string> bootstrapKey(const std::string& certDir) {
  if (auto current = loadCurrentCertificate(certDir); current.ok()) return current->keyPem;
  std::string pending = pendingKeyPath(certDir);
  if (auto data = core::readFile(pending); data.ok()) {
    if (validatePrivateKeyPem(*data).ok()) return *data;
    LOG_WARNING << "ignoring unusable pending private key " << pending;
  }
  ASSIGN_OR_RETURN(std::string key, generateEcPrivateKeyPem());
  RETURN_IF_ERROR(core::mkdirAll(certDir, 0755));
  RETURN_IF_ERROR(core::writeFileAtomic(pending, key, 0600));
  return key;
}

absl::StatusOr<BootstrapPrep> prepareBootstrap(const CertificateManagerOptions& opts) {
  BootstrapPrep p;
  auto kc = loadKubeconfig(opts.bootstrapKubeconfigPath);
  if (!kc.ok()) {
    p.configError = core::annotate(kc.status(), "unable to load bootstrap kubeconfig");
    return p;
  }
  p.bootstrap = std::move(*kc);
  ASSIGN_OR_RETURN(p.keyPem, bootstrapKey(opts.certDir));
  std::string cn = nodeCommonName(opts.nodeName);
  ASSIGN_OR_RETURN(p.csrPem, makeCsrPem(p.keyPem, cn, kNodeOrgs));
  ASSIGN_OR_RETURN(p.csrName, nodeCsrName(p.keyPem, cn, kNodeOrgs, kUsages));
  return p;
}

absl::Status finishBootstrap(const CertificateManagerOptions& opts, const BootstrapPrep& p,
                             const std::string& certPem, core::WallTime now) {
  RETURN_IF_ERROR(storeCertificate(opts.certDir, certPem, p.keyPem, now).status());
  std::string pending = pendingKeyPath(opts.certDir);
  if (::unlink(pending.c_str()) != 0 && errno != ENOENT) {
    VLOG(2) << "failed cleaning up private key file " << pending;
  }
  return writeBootstrappedKubeconfig(opts.kubeconfigPath, p.bootstrap,
                                     currentCertPath(opts.certDir));
}

struct RotationPrep {
  std::string keyPem, csrPem;
};

absl::StatusOr<RotationPrep> prepareRotation(const std::string& node) {
  RotationPrep p;
  ASSIGN_OR_RETURN(p.keyPem, generateEcPrivateKeyPem());
  ASSIGN_OR_RETURN(p.csrPem, makeCsrPem(p.keyPem, nodeCommonName(node), kNodeOrgs));
  return p;
}

}  // namespace

CertificateManager::CertificateManager(core::EventLoop& loop, core::WorkerPool& pool,
                                       CertificateManagerOptions opts)
    : loop_(loop),
      pool_(pool),
      opts_(std::move(opts)),
      backoff_(opts_.retryInitial, opts_.retryMax, 0.1,
               opts_.random ? opts_.random : std::function<double()>()) {
  if (!opts_.random) {
    auto gen = std::make_shared<std::mt19937_64>(std::random_device{}());
    opts_.random = [gen] { return std::uniform_real_distribution<double>(0.0, 1.0)(*gen); };
  }
  bootstrapRetry_ = loop_.createTimer([this] { bootstrapAttempt(); });
  rotationTimer_ = loop_.createTimer([this] { rotate(); });
}

CertificateManager::~CertificateManager() { *alive_ = false; }

std::string CertificateManager::currentPath() const { return currentCertPath(opts_.certDir); }

double CertificateManager::random() { return opts_.random(); }

bool CertificateManager::kubeconfigStillValid() const {
  return agent::kubeapi::kubeconfigStillValid(opts_.kubeconfigPath, loop_.wallNow());
}

void CertificateManager::bootstrap(ApiClient& bootstrapClient,
                                   std::function<void(absl::Status)> done) {
  if (kubeconfigStillValid()) {
    VLOG(2) << "Kubeconfig " << opts_.kubeconfigPath << " exists and is valid, skipping bootstrap";
    loop_.post([alive = alive_, done = std::move(done)] {
      if (*alive) done(absl::OkStatus());
    });
    return;
  }
  LOG_INFO << "Using bootstrap kubeconfig " << opts_.bootstrapKubeconfigPath
           << " to generate TLS client cert, key and kubeconfig file";
  bootstrapClient_ = &bootstrapClient;
  bootstrapDone_ = std::move(done);
  bootstrapAttempt();
}

void CertificateManager::bootstrapAttempt() {
  core::runOnPool(
      pool_, loop_, [opts = opts_] { return prepareBootstrap(opts); },
      [this, alive = alive_](absl::StatusOr<BootstrapPrep> prep) {
        if (!*alive || !bootstrapDone_) return;
        if (!prep.ok()) return bootstrapFailed(prep.status());
        if (!prep->configError.ok()) {
          lastError_ = prep->configError;
          auto done = std::move(bootstrapDone_);
          bootstrapDone_ = nullptr;
          return done(prep->configError);
        }
        CsrSpec spec;
        spec.name = prep->csrName;
        spec.csrPem = prep->csrPem;
        spec.keyPem = prep->keyPem;
        spec.usages = kUsages;
        spec.waitTimeout = opts_.bootstrapWaitTimeout;
        auto p = std::make_shared<BootstrapPrep>(std::move(*prep));
        request_ = CertificateRequest::start(
            loop_, *bootstrapClient_, std::move(spec), [this, p](absl::StatusOr<std::string> cert) {
              request_.reset();
              if (!cert.ok()) return bootstrapFailed(cert.status());
              core::runOnPool(
                  pool_, loop_,
                  [opts = opts_, p, pem = *cert, now = loop_.wallNow()] {
                    return finishBootstrap(opts, *p, pem, now);
                  },
                  [this, alive = alive_](absl::Status s) {
                    if (!*alive || !bootstrapDone_) return;
                    if (!s.ok()) return bootstrapFailed(s);
                    LOG_INFO << "Client certificate bootstrapped; wrote " << opts_.kubeconfigPath
                             << " pointing at " << currentPath();
                    lastError_ = absl::OkStatus();
                    backoff_.reset();
                    auto done = std::move(bootstrapDone_);
                    bootstrapDone_ = nullptr;
                    done(absl::OkStatus());
                  });
            });
      });
}

void CertificateManager::bootstrapFailed(absl::Status s) {
  lastError_ = core::annotate(s, "TLS bootstrap");
  core::Duration delay = backoff_.nextDelay();
  LOG_ERROR << lastError_ << "; retrying in " << delay.count() << "ms";
  bootstrapRetry_->enableTimer(delay);
}

absl::Status CertificateManager::startRotation(ApiClient& client, std::function<void()> onRotated) {
  auto current = loadCurrentCertificate(opts_.certDir);
  if (!current.ok()) return core::annotate(current.status(), "client certificate rotation");
  client_ = &client;
  onRotated_ = std::move(onRotated);
  scheduleRotation(current->leaf.notBefore, current->leaf.notAfter);
  return absl::OkStatus();
}

void CertificateManager::stop() {
  rotationTimer_->disableTimer();
  bootstrapRetry_->disableTimer();
  request_.reset();
  deadline_.reset();
  client_ = nullptr;
  bootstrapDone_ = nullptr;
}

void CertificateManager::scheduleRotation(core::WallTime notBefore, core::WallTime notAfter) {
  // client-go: notBefore + total * (0.7 + 0.2 * rand), i.e. 80 % +/- 10 %.
  auto total = std::chrono::duration_cast<std::chrono::milliseconds>(notAfter - notBefore);
  auto offset = std::chrono::milliseconds(
      static_cast<int64_t>(static_cast<double>(total.count()) * (0.7 + 0.2 * random())));
  deadline_ = notBefore + offset;
  auto wait = std::chrono::duration_cast<core::Duration>(*deadline_ - loop_.wallNow());
  if (wait.count() < 0) wait = core::Duration(0);
  LOG_INFO << "Certificate rotation deadline is in " << wait.count() / 1000 << "s";
  rotationTimer_->enableTimer(wait);
}

void CertificateManager::rotate() {
  if (client_ == nullptr) return;
  LOG_INFO << "Rotating the client certificate";
  core::runOnPool(
      pool_, loop_, [node = opts_.nodeName] { return prepareRotation(node); },
      [this, alive = alive_](absl::StatusOr<RotationPrep> prep) {
        if (!*alive || client_ == nullptr) return;
        if (!prep.ok()) return rotationFailed(prep.status());
        CsrSpec spec;
        spec.csrPem = prep->csrPem;
        spec.keyPem = prep->keyPem;
        spec.usages = kUsages;
        spec.waitTimeout = opts_.rotationWaitTimeout;
        request_ = CertificateRequest::start(
            loop_, *client_, std::move(spec),
            [this, key = prep->keyPem](absl::StatusOr<std::string> cert) {
              request_.reset();
              if (!cert.ok()) return rotationFailed(cert.status());
              core::runOnPool(
                  pool_, loop_,
                  [dir = opts_.certDir, key, pem = *cert,
                   now = loop_.wallNow()]() -> absl::StatusOr<CertKeyPair> {
                    RETURN_IF_ERROR(storeCertificate(dir, pem, key, now).status());
                    return loadCurrentCertificate(dir);
                  },
                  [this, alive = alive_](absl::StatusOr<CertKeyPair> pair) {
                    if (!*alive || client_ == nullptr) return;
                    if (!pair.ok()) return rotationFailed(pair.status());
                    LOG_INFO << "Rotated the client certificate; " << currentPath()
                             << " now expires in "
                             << std::chrono::duration_cast<std::chrono::seconds>(
                                    pair->leaf.notAfter - loop_.wallNow())
                                    .count()
                             << "s";
                    lastError_ = absl::OkStatus();
                    backoff_.reset();
                    scheduleRotation(pair->leaf.notBefore, pair->leaf.notAfter);
                    if (onRotated_) onRotated_();
                  });
            });
      });
}

void CertificateManager::rotationFailed(absl::Status s) {
  lastError_ = core::annotate(s, "client certificate rotation");
  core::Duration delay = backoff_.nextDelay();
  LOG_ERROR << lastError_ << "; retrying in " << delay.count() << "ms";
  deadline_ = loop_.wallNow() + delay;
  rotationTimer_->enableTimer(delay);
}

}  // namespace agent::kubeapi
