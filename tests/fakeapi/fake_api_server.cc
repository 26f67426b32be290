#include "tests/fakeapi/fake_api_server.h"

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstdlib>
#include <random>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/atomic_file.h"
#include "core/status.h"
#include "tests/fakeapi/api_errors.h"
#include "tests/fakeapi/api_handler.h"
#include "tests/fakeapi/authn.h"
#include "tests/fakeapi/kubelet_proxy.h"
#include "tests/fakeapi/node_ipam.h"
#include "tests/fakeapi/patch.h"
#include "tests/fakeapi/pki.h"
#include "tests/fakeapi/resource_store.h"
#include "tests/fakeapi/reviews.h"
#include "tests/fakeapi/tls_http_server.h"

namespace cubelet::fakeapi {

using nlohmann::json;

namespace {

constexpr char kAdminUser[] = "kubernetes-admin";
constexpr char kMastersGroup[] = "system:masters";

std::string randomString(size_t n, std::string_view alphabet) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string s;
  for (size_t i = 0; i < n; ++i) s += alphabet[rng() % alphabet.size()];
  return s;
}

}  // namespace

FakeApiServer::FakeApiServer() = default;

FakeApiServer::~FakeApiServer() {
  ipam_.reset();
  if (server_) server_->stop();
  if (store_) store_->closeWatches();
  server_.reset();
  if (!tempDir_.empty()) (void)core::removeAll(tempDir_);
}

absl::StatusOr<std::unique_ptr<FakeApiServer>> FakeApiServer::start(FakeApiServerOptions opts) {
  std::unique_ptr<FakeApiServer> s(new FakeApiServer());
  if (opts.pkiDir.empty()) {
    char tmpl[] = "/tmp/fakeapi-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return core::errnoStatus(errno, "mkdtemp /tmp/fakeapi-XXXXXX");
    opts.pkiDir = s->tempDir_ = tmpl;
  }
  s->opts_ = opts;
  ASSIGN_OR_RETURN(s->pki_, Pki::create(opts.pkiDir));
  std::vector<std::string> ips = {"127.0.0.1"};
  if (opts.bindAddress != "127.0.0.1" && opts.bindAddress != "0.0.0.0")
    ips.push_back(opts.bindAddress);
  ASSIGN_OR_RETURN(CertKeyPem serving,
                   s->pki_->issueServerCert(ips, {"localhost", "kubernetes", "kubernetes.default",
                                                  "kubernetes.default.svc"}));
  s->tokens_ = std::make_unique<TokenAuthenticator>();
  s->store_ = std::make_unique<ResourceStore>(opts.historyLimit);
  if (opts.serviceAccountAdmission) s->store_->enableServiceAccounts(s->pki_->caCertPem());
  TokenIssuerOptions tokenOpts;
  tokenOpts.maxExpirationSeconds = opts.maxTokenExpirationSeconds;
  s->tokenIssuer_ = std::make_unique<TokenIssuer>(tokenOpts);
  s->handler_ = std::make_unique<ApiHandler>(*s->store_, *s->tokens_, opts.bookmarkInterval);
  s->handler_->setTokenIssuer(s->tokenIssuer_.get());
  s->adminToken_ = s->addToken(kAdminUser, {kMastersGroup});
  for (const char* ns : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
    RETURN_IF_ERROR(s->create("/api/v1/namespaces", json{{"metadata", {{"name", ns}}}}).status());
  }
  if (!opts.allocateNodeCidrs.empty()) {
    ASSIGN_OR_RETURN(s->ipam_, NodeIpamController::start(*s->store_, opts.allocateNodeCidrs));
  }
  ASSIGN_OR_RETURN(s->kubeletProxy_, KubeletProxy::create(*s->pki_, *s->store_, *s->tokens_));
  ASSIGN_OR_RETURN(SSL_CTX * ctx, makeServerContext(serving, s->pki_->caCertPem()));
  s->reviews_ = std::make_unique<ReviewHandler>(*s->tokens_, *s->store_, s->tokenIssuer_.get());
  ApiHandler* handler = s->handler_.get();
  ReviewHandler* reviews = s->reviews_.get();
  KubeletProxy* kubelet = s->kubeletProxy_.get();
  auto server = TlsHttpServer::start(
      opts.bindAddress, opts.port, ctx,
      [handler, kubelet, reviews](const HttpRequest& req, HttpResponder& resp) {
        if (reviews->maybeHandle(req, resp)) return;
        if (KubeletProxy::handles(req.path)) return kubelet->handle(req, resp);
        handler->handle(req, resp);
      });
  SSL_CTX_free(ctx);
  if (!server.ok()) return server.status();
  s->server_ = *std::move(server);
  s->handler_->setAdvertisedAddress(opts.bindAddress + ":" + std::to_string(s->server_->port()));
  return s;
}

std::string FakeApiServer::url() const {
  return "https://" + opts_.bindAddress + ":" + std::to_string(server_->port());
}
std::string FakeApiServer::caFile() const { return pki_->caFile(); }
const std::string& FakeApiServer::caPem() const { return pki_->caCertPem(); }
int FakeApiServer::port() const { return server_->port(); }

void FakeApiServer::stop() {
  server_->stop();
  store_->closeWatches();
}

absl::Status FakeApiServer::resume() { return server_->resume(); }

std::string FakeApiServer::addToken(const std::string& user,
                                    const std::vector<std::string>& groups) {
  std::string token = randomString(32, "abcdefghijklmnopqrstuvwxyz0123456789");
  tokens_->add(token, UserInfo{user, groups});
  return token;
}

std::string FakeApiServer::addBootstrapToken() {
  constexpr std::string_view kAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string id = randomString(6, kAlphabet);
  std::string token = id + "." + randomString(16, kAlphabet);
  tokens_->add(
      token, UserInfo{"system:bootstrap:" + id,
                      {"system:bootstrappers", "system:bootstrappers:kubeadm:default-node-token"}});
  return token;
}

absl::Status FakeApiServer::writeKubeconfig(const std::string& path, const std::string& user,
                                            const std::string& userFields) {
  std::string yaml = absl::StrCat(
      "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: ",
      absl::Base64Escape(pki_->caCertPem()), "\n    server: ", url(),
      "\n  name: fakeapi\ncontexts:\n- context:\n    cluster: fakeapi\n    user: ", user,
      "\n  name: ", user, "@fakeapi\ncurrent-context: ", user,
      "@fakeapi\npreferences: {}\nusers:\n- name: ", user, "\n  user:\n", userFields);
  return core::writeFileAtomic(path, yaml, 0600);
}

absl::Status FakeApiServer::writeCertKubeconfig(const std::string& path, const std::string& user,
                                                const std::vector<std::string>& groups,
                                                std::chrono::seconds validity) {
  ASSIGN_OR_RETURN(CertKeyPem cert, pki_->issueClientCert(user, groups, validity));
  return writeKubeconfig(
      path, user,
      absl::StrCat("    client-certificate-data: ", absl::Base64Escape(cert.certPem),
                   "\n    client-key-data: ", absl::Base64Escape(cert.keyPem), "\n"));
}

absl::StatusOr<CertKeyPem> FakeApiServer::issueClientCert(const std::string& user,
                                                          const std::vector<std::string>& groups,
                                                          std::chrono::seconds validity) {
  return pki_->issueClientCert(user, groups, validity);
}

absl::Status FakeApiServer::writeTokenKubeconfig(const std::string& path,
                                                 const std::string& token) {
  auto user = tokens_->authenticate(token);
  std::string name = user ? user->name : "token-user";
  return writeKubeconfig(path, name, absl::StrCat("    token: ", token, "\n"));
}

namespace {

WriteContext adminContext() {
  WriteContext ctx;
  ctx.env.user = kAdminUser;
  ctx.env.groups = {kMastersGroup, kAuthenticatedGroup};
  ctx.autoCreateNamespace = true;
  return ctx;
}

absl::StatusOr<ApiPath> objectPath(const std::string& path) {
  ASSIGN_OR_RETURN(ApiPath p, parseApiPath(path));
  if (p.isCollection()) return badRequest(path + ": not an object path");
  return p;
}

}  // namespace

absl::StatusOr<json> FakeApiServer::create(const std::string& collectionPath, json obj) {
  ASSIGN_OR_RETURN(ApiPath p, parseApiPath(collectionPath));
  if (!p.isCollection() || (p.info->namespaced && p.ns.empty())) {
    return badRequest(collectionPath + ": not a collection path to create in");
  }
  return store_->create(*p.info, p.ns, std::move(obj), adminContext());
}

absl::StatusOr<json> FakeApiServer::get(const std::string& path) {
  ASSIGN_OR_RETURN(ApiPath p, objectPath(path));
  return store_->get(*p.info, p.ns, p.name);
}

absl::StatusOr<json> FakeApiServer::update(const std::string& path, json obj) {
  ASSIGN_OR_RETURN(ApiPath p, objectPath(path));
  return store_->update(*p.info, p.ns, p.name, p.subresource, std::move(obj), adminContext());
}

absl::StatusOr<json> FakeApiServer::patch(const std::string& path, const std::string& contentType,
                                          const json& patchDoc) {
  ASSIGN_OR_RETURN(ApiPath p, objectPath(path));
  const std::string body = patchDoc.dump();
  return store_->patch(
      *p.info, p.ns, p.name, p.subresource,
      [&](const json& cur) { return applyPatch(cur, contentType, body); }, adminContext());
}

absl::StatusOr<json> FakeApiServer::remove(const std::string& path, std::optional<int64_t> grace) {
  ASSIGN_OR_RETURN(ApiPath p, objectPath(path));
  DeleteOptions opts;
  opts.gracePeriodSeconds = grace;
  ASSIGN_OR_RETURN(DeleteResult r, store_->remove(*p.info, p.ns, p.name, opts, adminContext()));
  return r.body;
}

std::vector<json> FakeApiServer::list(const std::string& collectionPath) {
  auto p = parseApiPath(collectionPath);
  if (!p.ok() || !p->isCollection()) return {};
  Selection sel;
  sel.ns = p->ns;
  auto l = store_->list(*p->info, sel, 0, "");
  return l.ok() ? l->items : std::vector<json>{};
}

absl::Status FakeApiServer::approveCsr(const std::string& name, std::chrono::seconds validity) {
  const std::string path = "/apis/certificates.k8s.io/v1/certificatesigningrequests/" + name;
  ASSIGN_OR_RETURN(json csr, get(path));
  const std::string now = rfc3339(std::chrono::system_clock::now());
  json cond = {{"type", "Approved"},
               {"status", "True"},
               {"reason", "AutoApproved"},
               {"message", "Auto approving kubelet client certificate after SubjectAccessReview."},
               {"lastUpdateTime", now},
               {"lastTransitionTime", now}};
  json conditions = csr.value("status", json::object()).value("conditions", json::array());
  conditions.push_back(cond);
  csr["status"]["conditions"] = conditions;
  ASSIGN_OR_RETURN(csr, update(path + "/approval", csr));
  // The signer (kube-controller-manager's csrsigning) issues the certificate.
  std::string pem;
  if (!absl::Base64Unescape(csr["spec"].value("request", ""), &pem)) {
    return absl::InvalidArgumentError("CSR " + name + ": spec.request: not base64");
  }
  const int64_t expiration = csr["spec"].value("expirationSeconds", int64_t{0});
  if (expiration > 0 && expiration < validity.count()) validity = std::chrono::seconds(expiration);
  ASSIGN_OR_RETURN(std::string cert, pki_->signCsr(pem, validity));
  csr["status"]["certificate"] = absl::Base64Escape(cert);
  return update(path + "/status", csr).status();
}

absl::Status FakeApiServer::denyCsr(const std::string& name) {
  const std::string path = "/apis/certificates.k8s.io/v1/certificatesigningrequests/" + name;
  ASSIGN_OR_RETURN(json csr, get(path));
  const std::string now = rfc3339(std::chrono::system_clock::now());
  json conditions = csr.value("status", json::object()).value("conditions", json::array());
  conditions.push_back({{"type", "Denied"},
                        {"status", "True"},
                        {"reason", "FakeApiServerDenied"},
                        {"message", "Denied by the test."},
                        {"lastUpdateTime", now},
                        {"lastTransitionTime", now}});
  csr["status"]["conditions"] = conditions;
  return update(path + "/approval", csr).status();
}

void FakeApiServer::compactHistory() { store_->compactHistory(); }
void FakeApiServer::closeWatches() { store_->closeWatches(); }
int64_t FakeApiServer::currentResourceVersion() const { return store_->currentResourceVersion(); }
std::vector<RequestRecord> FakeApiServer::requests() const {
  std::vector<RequestRecord> all = handler_->requests();
  std::vector<RequestRecord> reviews = reviews_->requests();
  all.insert(all.end(), reviews.begin(), reviews.end());
  std::stable_sort(all.begin(), all.end(),
                   [](const auto& a, const auto& b) { return a.at < b.at; });
  return all;
}
void FakeApiServer::clearRequests() {
  handler_->clearRequests();
  reviews_->clear();
}

std::vector<TokenRequestRecord> FakeApiServer::tokenRequests() const {
  return tokenIssuer_->records();
}
void FakeApiServer::clearTokenRequests() { tokenIssuer_->clearRecords(); }

absl::StatusOr<json> FakeApiServer::requestToken(const std::string& ns, const std::string& sa,
                                                 const json& tokenRequest) {
  return tokenIssuer_->create(*store_, ns, sa, tokenRequest, {}, kAdminUser);
}

const std::string& FakeApiServer::serviceAccountIssuer() const {
  return tokenIssuer_->options().issuer;
}

absl::StatusOr<std::string> FakeApiServer::serviceAccountPublicKeyPem() {
  return tokenIssuer_->publicKeyPem();
}

absl::StatusOr<json> FakeApiServer::reviewToken(const std::string& jwt) {
  return tokenIssuer_->review(jwt);
}

absl::StatusOr<json> FakeApiServer::waitFor(const std::string& objectPath,
                                            const std::function<bool(const json&)>& pred,
                                            std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  absl::StatusOr<json> last = absl::NotFoundError(objectPath + ": not found");
  while (true) {
    const int64_t rv = store_->currentResourceVersion();
    last = get(objectPath);
    if (last.ok() && pred(*last)) return last;
    if (std::chrono::steady_clock::now() >= deadline) break;
    store_->waitForWrite(rv, deadline);
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "waitFor ", objectPath, ": condition not met within ", timeout.count(),
      "ms; last seen: ", last.ok() ? last->dump() : std::string(last.status().message())));
}

}  // namespace cubelet::fakeapi
