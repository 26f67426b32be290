#include "agent/server/serving_cert.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/kubeapi/certificate_store.h"
#include "agent/kubeapi/openssl_util.h"
#include "core/atomic_file.h"
#include "core/log.h"
#include "core/status.h"

namespace agent::server {
namespace {

using kubeapi::CertKeyPair;
namespace ossl = kubeapi::ossl;

constexpr char kSelfSignedCertName[] = "kubelet.crt";
constexpr char kSelfSignedKeyName[] = "kubelet.key";
constexpr auto kSelfSignedBackdate = std::chrono::hours(1);
constexpr auto kSelfSignedMaxAge = std::chrono::hours(24 * 365);
const std::vector<std::string> kNodeOrgs = {"system:nodes"};
// certificate.DefaultKubeletServingGetUsages for an ECDSA key.
const std::vector<std::string> kServingUsages = {"digital signature", "server auth"};

// The canonical text of an IPv4/IPv6 literal; nullopt when it is not one.
std::optional<std::string> canonicalIp(const std::string& s) {
  unsigned char buf[sizeof(struct in6_addr)];
  char out[INET6_ADDRSTRLEN] = {};
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) {
    inet_ntop(AF_INET, buf, out, sizeof(out));
    return std::string(out);
  }
  std::string v6 = s;
  if (v6.size() > 2 && v6.front() == '[' && v6.back() == ']') v6 = v6.substr(1, v6.size() - 2);
  if (inet_pton(AF_INET6, v6.c_str(), buf) == 1) {
    inet_ntop(AF_INET6, buf, out, sizeof(out));
    return std::string(out);
  }
  return std::nullopt;
}

bool fileExists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// ---- self-signed generation -------------------------------------------------

absl::StatusOr<ossl::KeyPtr> newRsaKey() {
  ossl::KeyPtr key(EVP_RSA_gen(2048));
  if (!key) return absl::InternalError(absl::StrCat("generate RSA-2048 key: ", ossl::sslErrors()));
  return key;
}

absl::Status addExt(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) {
    return absl::InternalError(absl::StrCat("certificate extension ", OBJ_nid2sn(nid), "=", value,
                                            ": ", ossl::sslErrors()));
  }
  int rc = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (rc != 1) return absl::InternalError(absl::StrCat("add extension: ", ossl::sslErrors()));
  return absl::OkStatus();
}

struct CertTemplate {
  long serial = 1;
  std::string commonName;
  time_t notBefore = 0, notAfter = 0;
  std::vector<std::pair<int, std::string>> extensions;  // nid, X509V3 config value
};

// Builds and signs a certificate for `pub`; `issuer` null means self-signed.
absl::StatusOr<ossl::CertPtr> buildCert(const CertTemplate& t, EVP_PKEY* pub, X509* issuer,
                                        EVP_PKEY* signer) {
  ossl::CertPtr cert(X509_new());
  if (!cert) return absl::InternalError("X509_new failed");
  X509_NAME* name = X509_get_subject_name(cert.get());
  bool ok = X509_set_version(cert.get(), 2) == 1 &&
            ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), t.serial) == 1 &&
            X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                       reinterpret_cast<const unsigned char*>(t.commonName.data()),
                                       static_cast<int>(t.commonName.size()), -1, 0) == 1 &&
            X509_set_issuer_name(cert.get(),
                                 issuer != nullptr ? X509_get_subject_name(issuer) : name) == 1 &&
            ASN1_TIME_set(X509_getm_notBefore(cert.get()), t.notBefore) != nullptr &&
            ASN1_TIME_set(X509_getm_notAfter(cert.get()), t.notAfter) != nullptr &&
            X509_set_pubkey(cert.get(), pub) == 1;
  if (!ok) return absl::InternalError(absl::StrCat("build certificate: ", ossl::sslErrors()));
  X509* iss = issuer != nullptr ? issuer : cert.get();
  for (const auto& [nid, value] : t.extensions)
    RETURN_IF_ERROR(addExt(cert.get(), iss, nid, value));
  if (X509_sign(cert.get(), signer, EVP_sha256()) <= 0) {
    return absl::InternalError(absl::StrCat("sign certificate: ", ossl::sslErrors()));
  }
  return cert;
}

absl::StatusOr<std::string> certPemOf(X509* cert) {
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return absl::InternalError(absl::StrCat("encode certificate: ", ossl::sslErrors()));
  }
  return ossl::bioString(bio.get());
}

// ---- static files -----------------------------------------------------------

// Reads and checks a certificate file and its key file; `certWhat`/`keyWhat` name
// them in errors ("tlsCertFile /x.crt").
absl::StatusOr<CertKeyPair> loadPairFiles(const std::string& certWhat, const std::string& certPath,
                                          const std::string& keyWhat, const std::string& keyPath) {
  auto certData = core::readFile(certPath);
  if (!certData.ok()) return core::annotate(certData.status(), certWhat);
  if (auto certs = kubeapi::parseCertificatesPem(*certData); !certs.ok()) {
    return core::annotate(certs.status(), certWhat);
  }
  auto keyData = core::readFile(keyPath);
  if (!keyData.ok()) return core::annotate(keyData.status(), keyWhat);
  if (absl::Status s = kubeapi::validatePrivateKeyPem(*keyData); !s.ok()) {
    return core::annotate(s, keyWhat);
  }
  if (absl::Status s = kubeapi::checkKeyMatchesCertificate(*certData, *keyData); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(keyWhat, ": private key does not match the certificate in ", certWhat));
  }
  std::string combined = *certData;
  if (!combined.empty() && combined.back() != '\n') combined += '\n';
  combined += *keyData;
  auto pair = kubeapi::parseCertKeyPem(combined);
  if (!pair.ok()) return core::annotate(pair.status(), absl::StrCat(certWhat, " and ", keyWhat));
  return pair;
}

void warnIfExpired(const CertKeyPair& pair, const std::string& what, core::WallTime now) {
  if (now > pair.leaf.notAfter) {
    LOG_WARNING << "serving certificate " << what << " has expired; serving it anyway";
  }
}

// Mode 3's starting pair: kubelet-server-current.pem, else the configured files
// (certificate.FileStore.Current). nullopt when there is none.
absl::StatusOr<std::optional<CertKeyPair>> loadBootstrapStart(const ServingCertOptions& opts) {
  std::string current = kubeapi::currentCertPath(opts.certDir, kubeapi::kServingCertPrefix);
  if (fileExists(current)) {
    LOG_INFO << "Loading serving cert/key pair from " << current;
    ASSIGN_OR_RETURN(CertKeyPair pair,
                     kubeapi::loadCurrentCertificate(opts.certDir, kubeapi::kServingCertPrefix));
    return std::optional<CertKeyPair>(std::move(pair));
  }
  if (!opts.tlsCertFile.empty() && !opts.tlsPrivateKeyFile.empty() &&
      fileExists(opts.tlsCertFile) && fileExists(opts.tlsPrivateKeyFile)) {
    LOG_INFO << "Loading serving cert/key pair from (" << opts.tlsCertFile << ", "
             << opts.tlsPrivateKeyFile << ")";
    ASSIGN_OR_RETURN(CertKeyPair pair,
                     loadPairFiles(absl::StrCat("tlsCertFile ", opts.tlsCertFile), opts.tlsCertFile,
                                   absl::StrCat("tlsPrivateKeyFile ", opts.tlsPrivateKeyFile),
                                   opts.tlsPrivateKeyFile));
    return std::optional<CertKeyPair>(std::move(pair));
  }
  return std::optional<CertKeyPair>();
}

struct CsrPrep {
  std::string keyPem, csrPem;
};

absl::StatusOr<CsrPrep> prepareCsr(const std::string& node, const ServingNames& names) {
  CsrPrep p;
  ASSIGN_OR_RETURN(p.keyPem, kubeapi::generateEcPrivateKeyPem());
  ASSIGN_OR_RETURN(p.csrPem, kubeapi::makeCsrPem(p.keyPem, "system:node:" + node, kNodeOrgs,
                                                 names.dnsNames, names.ipAddresses));
  return p;
}

}  // namespace

ServingNames servingNamesFromAddresses(const std::vector<node::NodeAddress>& addresses) {
  std::set<std::string> dns, ips;
  for (const auto& a : addresses) {
    if (a.address.empty()) continue;
    if (a.type == "Hostname") {
      if (auto ip = canonicalIp(a.address)) {
        ips.insert(*ip);
      } else {
        dns.insert(a.address);
      }
    } else if (a.type == "InternalIP" || a.type == "ExternalIP") {
      if (auto ip = canonicalIp(a.address)) ips.insert(*ip);
    } else if (a.type == "InternalDNS" || a.type == "ExternalDNS") {
      dns.insert(a.address);
    }
  }
  return ServingNames{{dns.begin(), dns.end()}, {ips.begin(), ips.end()}};
}

absl::StatusOr<SelfSignedPair> generateSelfSignedCertKey(const std::string& host,
                                                         const std::vector<std::string>& ips,
                                                         const std::vector<std::string>& dns,
                                                         core::WallTime now) {
  if (host.empty()) return absl::InvalidArgumentError("self-signed certificate: empty host name");
  std::vector<std::string> sans;
  auto addSan = [&](const std::string& prefix, const std::string& v) -> absl::Status {
    if (v.empty() || v.find_first_of(", \t\r\n") != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("self-signed certificate: invalid subject alt name \"", v, "\""));
    }
    sans.push_back(prefix + v);
    return absl::OkStatus();
  };
  // As the Go template: the host first (as an IP when it is one), then the other IPs
  // and DNS names.
  if (auto ip = canonicalIp(host)) {
    RETURN_IF_ERROR(addSan("IP:", *ip));
  } else {
    RETURN_IF_ERROR(addSan("DNS:", host));
  }
  for (const auto& ip : ips) {
    auto c = canonicalIp(ip);
    if (!c) {
      return absl::InvalidArgumentError(
          absl::StrCat("self-signed certificate: \"", ip, "\" is not an IP address"));
    }
    RETURN_IF_ERROR(addSan("IP:", *c));
  }
  for (const auto& d : dns) RETURN_IF_ERROR(addSan("DNS:", d));

  const time_t unixNow = std::chrono::system_clock::to_time_t(now);
  const time_t validFrom = std::chrono::system_clock::to_time_t(now - kSelfSignedBackdate);
  const time_t validTo = validFrom + std::chrono::seconds(kSelfSignedMaxAge).count();

  ASSIGN_OR_RETURN(ossl::KeyPtr caKey, newRsaKey());
  CertTemplate ca;
  ca.serial = 1;
  ca.commonName = absl::StrCat(host, "-ca@", unixNow);
  ca.notBefore = validFrom;
  ca.notAfter = validTo;
  ca.extensions = {{NID_key_usage, "critical,digitalSignature,keyEncipherment,keyCertSign"},
                   {NID_basic_constraints, "critical,CA:TRUE"},
                   {NID_subject_key_identifier, "hash"}};
  ASSIGN_OR_RETURN(ossl::CertPtr caCert, buildCert(ca, caKey.get(), nullptr, caKey.get()));

  ASSIGN_OR_RETURN(ossl::KeyPtr key, newRsaKey());
  CertTemplate leaf;
  leaf.serial = 2;
  leaf.commonName = absl::StrCat(host, "@", unixNow);
  leaf.notBefore = validFrom;
  leaf.notAfter = validTo;
  leaf.extensions = {{NID_key_usage, "critical,digitalSignature,keyEncipherment"},
                     {NID_ext_key_usage, "serverAuth"},
                     {NID_basic_constraints, "critical,CA:FALSE"},
                     {NID_authority_key_identifier, "keyid:always"},
                     {NID_subject_alt_name, absl::StrJoin(sans, ",")}};
  ASSIGN_OR_RETURN(ossl::CertPtr cert, buildCert(leaf, key.get(), caCert.get(), caKey.get()));

  SelfSignedPair out;
  ASSIGN_OR_RETURN(std::string leafPem, certPemOf(cert.get()));
  ASSIGN_OR_RETURN(std::string caPem, certPemOf(caCert.get()));
  out.certPem = leafPem + caPem;
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  // The traditional writer gives PKCS#1 "RSA PRIVATE KEY", as x509.MarshalPKCS1PrivateKey.
  if (!bio || PEM_write_bio_PrivateKey_traditional(bio.get(), key.get(), nullptr, nullptr, 0,
                                                   nullptr, nullptr) != 1) {
    return absl::InternalError(absl::StrCat("encode RSA private key: ", ossl::sslErrors()));
  }
  out.keyPem = ossl::bioString(bio.get());
  return out;
}

absl::StatusOr<CertKeyPair> loadOrGenerateStaticServingCert(const ServingCertOptions& opts,
                                                            core::WallTime now) {
  const bool haveCert = !opts.tlsCertFile.empty(), haveKey = !opts.tlsPrivateKeyFile.empty();
  if (haveCert != haveKey) {
    return absl::InvalidArgumentError(haveCert ? "tlsPrivateKeyFile: must be set with tlsCertFile"
                                               : "tlsCertFile: must be set with tlsPrivateKeyFile");
  }
  if (haveCert) {
    ASSIGN_OR_RETURN(CertKeyPair pair,
                     loadPairFiles(absl::StrCat("tlsCertFile ", opts.tlsCertFile), opts.tlsCertFile,
                                   absl::StrCat("tlsPrivateKeyFile ", opts.tlsPrivateKeyFile),
                                   opts.tlsPrivateKeyFile));
    warnIfExpired(pair, opts.tlsCertFile, now);
    return pair;
  }
  if (opts.certDir.empty()) {
    return absl::InvalidArgumentError("certDir: must be set when tlsCertFile is not");
  }
  const std::string certPath = absl::StrCat(opts.certDir, "/", kSelfSignedCertName);
  const std::string keyPath = absl::StrCat(opts.certDir, "/", kSelfSignedKeyName);
  const bool certThere = fileExists(certPath), keyThere = fileExists(keyPath);
  if (certThere != keyThere) {
    // certutil.CanReadCertAndKey.
    return absl::FailedPreconditionError(
        absl::StrCat("error reading ", certThere ? keyPath : certPath,
                     ", certificate and key must be supplied as a pair"));
  }
  const std::string certWhat = absl::StrCat("serving certificate ", certPath);
  const std::string keyWhat = absl::StrCat("serving key ", keyPath);
  if (!certThere) {
    if (opts.hostname.empty()) {
      return absl::InvalidArgumentError("hostname: needed for a self-signed serving certificate");
    }
    auto gen = generateSelfSignedCertKey(opts.hostname, {}, {}, now);
    if (!gen.ok()) return core::annotate(gen.status(), "unable to generate self signed cert");
    RETURN_IF_ERROR(core::mkdirAll(opts.certDir, 0755));
    // The key first: a crash in between leaves a key without a certificate, which
    // the next start reports rather than serving a certificate with a lost key.
    RETURN_IF_ERROR(core::writeFileAtomic(keyPath, gen->keyPem, 0600));
    RETURN_IF_ERROR(core::writeFileAtomic(certPath, gen->certPem, 0644));
    LOG_INFO << "Using self-signed cert (" << certPath << ", " << keyPath << ")";
  }
  ASSIGN_OR_RETURN(CertKeyPair pair, loadPairFiles(certWhat, certPath, keyWhat, keyPath));
  warnIfExpired(pair, certPath, now);
  return pair;
}

// ---- ServingCertificate -------------------------------------------------------

ServingCertificate::ServingCertificate(core::EventLoop& loop, core::WorkerPool& pool,
                                       ServingCertOptions opts, kubeapi::ApiClient* client)
    : loop_(loop),
      pool_(pool),
      opts_(std::move(opts)),
      client_(client),
      backoff_(opts_.retryInitial, opts_.retryMax, 0.1,
               opts_.random ? opts_.random : std::function<double()>()) {
  if (!opts_.random) {
    auto gen = std::make_shared<std::mt19937_64>(std::random_device{}());
    opts_.random = [gen] { return std::uniform_real_distribution<double>(0.0, 1.0)(*gen); };
  }
  timer_ = loop_.createTimer([this] { rotate(); });
}

ServingCertificate::~ServingCertificate() { *alive_ = false; }

absl::StatusOr<std::unique_ptr<ServingCertificate>> ServingCertificate::create(
    core::EventLoop& loop, core::WorkerPool& pool, ServingCertOptions opts,
    kubeapi::ApiClient* client, const std::vector<node::NodeAddress>& initialAddresses) {
  std::unique_ptr<ServingCertificate> sc(
      new ServingCertificate(loop, pool, std::move(opts), client));
  if (!sc->opts_.serverTlsBootstrap) {
    ASSIGN_OR_RETURN(CertKeyPair pair, loadOrGenerateStaticServingCert(sc->opts_, loop.wallNow()));
    sc->current_ = std::move(pair);
    return sc;
  }
  if (client == nullptr) {
    return absl::FailedPreconditionError(
        "serverTLSBootstrap: needs an API client (a kubeconfig) to request serving certificates");
  }
  if (sc->opts_.nodeName.empty()) {
    return absl::InvalidArgumentError("nodeName: needed for serving certificate CSRs");
  }
  ASSIGN_OR_RETURN(std::optional<CertKeyPair> start, loadBootstrapStart(sc->opts_));
  if (start && loop.wallNow() > start->leaf.notAfter) {
    LOG_WARNING << "current serving certificate has expired; requesting a new one";
    start.reset();
  }
  sc->current_ = std::move(start);
  sc->setNodeAddresses(initialAddresses);
  return sc;
}

std::optional<CertKeyPair> ServingCertificate::current() const {
  if (current_ && opts_.serverTlsBootstrap && loop_.wallNow() > current_->leaf.notAfter) {
    return std::nullopt;
  }
  return current_;
}

std::string ServingCertificate::currentPath() const {
  if (opts_.serverTlsBootstrap) {
    return kubeapi::currentCertPath(opts_.certDir, kubeapi::kServingCertPrefix);
  }
  if (!opts_.tlsCertFile.empty()) return opts_.tlsCertFile;
  return absl::StrCat(opts_.certDir, "/", kSelfSignedCertName);
}

double ServingCertificate::random() { return opts_.random(); }

bool ServingCertificate::satisfiesTemplate(const CertKeyPair& pair) const {
  // certificate.Manager's certSatisfiesTemplate: same CN, and the same sets of
  // orgs, DNS names and IPs.
  auto asSet = [](const std::vector<std::string>& v) {
    return std::set<std::string>(v.begin(), v.end());
  };
  std::set<std::string> ips;
  for (const auto& ip : pair.leaf.ipAddresses) ips.insert(canonicalIp(ip).value_or(ip));
  return pair.leaf.commonName == "system:node:" + opts_.nodeName &&
         asSet(pair.leaf.organizations) == asSet(kNodeOrgs) &&
         asSet(pair.leaf.dnsNames) == asSet(names_.dnsNames) && ips == asSet(names_.ipAddresses);
}

void ServingCertificate::setNodeAddresses(const std::vector<node::NodeAddress>& addresses) {
  if (!opts_.serverTlsBootstrap) return;
  ServingNames names = servingNamesFromAddresses(addresses);
  if (names == names_ && (timer_->enabled() || inFlight_ || names.empty())) return;
  names_ = std::move(names);
  if (inFlight_ && names_ != lastRequested_ && !names_.empty()) {
    LOG_INFO << "Serving certificate names changed (DNS " << absl::StrJoin(names_.dnsNames, ",")
             << "; IP " << absl::StrJoin(names_.ipAddresses, ",")
             << "), abandoning the pending request";
    request_.reset();
    ++generation_;
    inFlight_ = false;
  }
  reschedule();
}

void ServingCertificate::reschedule() {
  if (inFlight_) return;  // its end reschedules
  timer_->disableTimer();
  deadline_.reset();
  if (names_.empty()) return;  // the kubelet sends no CSR without a template
  const core::WallTime now = loop_.wallNow();
  const bool usable = current_ && now <= current_->leaf.notAfter;
  if (!usable || (!satisfiesTemplate(*current_) && names_ != lastRequested_)) {
    deadline_ = now;
    timer_->enableTimer(core::Duration(0));
    return;
  }
  // client-go: notBefore + total * (0.7 + 0.2 * rand), i.e. 80 % +/- 10 %.
  auto total = std::chrono::duration_cast<std::chrono::milliseconds>(current_->leaf.notAfter -
                                                                     current_->leaf.notBefore);
  deadline_ =
      current_->leaf.notBefore + std::chrono::milliseconds(static_cast<int64_t>(
                                     static_cast<double>(total.count()) * (0.7 + 0.2 * random())));
  auto wait = std::chrono::duration_cast<core::Duration>(*deadline_ - now);
  if (wait.count() < 0) wait = core::Duration(0);
  VLOG(2) << "Serving certificate rotation deadline is in " << wait.count() / 1000 << "s";
  timer_->enableTimer(wait);
}

void ServingCertificate::rotate() {
  if (client_ == nullptr || inFlight_ || names_.empty()) return;
  deadline_.reset();
  inFlight_ = true;
  const uint64_t gen = ++generation_;
  lastRequested_ = names_;
  LOG_INFO << "Requesting a serving certificate for DNS names ["
           << absl::StrJoin(names_.dnsNames, ",") << "], IPs ["
           << absl::StrJoin(names_.ipAddresses, ",") << "]";
  core::runOnPool(
      pool_, loop_, [node = opts_.nodeName, names = names_] { return prepareCsr(node, names); },
      [this, alive = alive_, gen](absl::StatusOr<CsrPrep> prep) {
        if (!*alive || gen != generation_) return;
        if (!prep.ok()) return rotationFailed(prep.status());
        kubeapi::CsrSpec spec;
        spec.csrPem = prep->csrPem;
        spec.keyPem = prep->keyPem;
        spec.signerName = kKubeletServingSignerName;
        spec.usages = kServingUsages;
        spec.waitTimeout = opts_.csrWaitTimeout;
        request_ = kubeapi::CertificateRequest::start(
            loop_, *client_, std::move(spec),
            [this, gen, key = prep->keyPem](absl::StatusOr<std::string> cert) {
              request_.reset();
              if (gen != generation_) return;
              if (!cert.ok()) return rotationFailed(cert.status());
              core::runOnPool(
                  pool_, loop_,
                  [dir = opts_.certDir, key, pem = *cert,
                   now = loop_.wallNow()]() -> absl::StatusOr<CertKeyPair> {
                    RETURN_IF_ERROR(
                        kubeapi::storeCertificate(dir, pem, key, now, kubeapi::kServingCertPrefix)
                            .status());
                    return kubeapi::loadCurrentCertificate(dir, kubeapi::kServingCertPrefix);
                  },
                  [this, alive = alive_, gen](absl::StatusOr<CertKeyPair> pair) {
                    if (!*alive || gen != generation_) return;
                    if (!pair.ok()) return rotationFailed(pair.status());
                    inFlight_ = false;
                    lastError_ = absl::OkStatus();
                    backoff_.reset();
                    current_ = std::move(*pair);
                    LOG_INFO << "Serving certificate issued; " << currentPath()
                             << " now expires in "
                             << std::chrono::duration_cast<std::chrono::seconds>(
                                    current_->leaf.notAfter - loop_.wallNow())
                                    .count()
                             << "s";
                    if (!satisfiesTemplate(*current_)) {
                      LOG_WARNING << "the issued serving certificate does not carry the requested "
                                     "subject and names (the signer changed them)";
                    }
                    reschedule();
                    if (onRotated_) {
                      auto copy = *current_;  // the callback may call back into us
                      onRotated_(copy);
                    }
                  });
            });
      });
}

void ServingCertificate::rotationFailed(absl::Status s) {
  inFlight_ = false;
  lastError_ = core::annotate(s, "serving certificate");
  core::Duration delay = backoff_.nextDelay();
  LOG_ERROR << lastError_ << "; retrying in " << delay.count() << "ms";
  deadline_ = loop_.wallNow() + delay;
  timer_->enableTimer(delay);
}

}  // namespace agent::server
