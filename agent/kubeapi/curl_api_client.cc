#include "agent/kubeapi/curl_api_client.h"

#include "core/platform.h"

#include <curl/curl.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/atomic_file.h"
#include "core/log.h"
#include "core/status.h"

namespace agent::kubeapi {
namespace {

struct EasyDeleter {
  void operator()(CURL* e) const { curl_easy_cleanup(e); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using EasyPtr = std::unique_ptr<CURL, EasyDeleter>;
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

// Bodies of non-2xx stream answers are kept for the error message only.
constexpr size_t kMaxErrorBody = 64 * 1024;

absl::StatusOr<std::string> certCommonName(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return absl::ResourceExhaustedError("BIO_new_mem_buf");
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (cert == nullptr) return absl::InvalidArgumentError("not a PEM certificate");
  char cn[256] = {};
  int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
  X509_free(cert);
  return n > 0 ? std::string(cn, static_cast<size_t>(n)) : std::string();
}

// "https://h:6443" -> {"h", "6443"} (port defaulted by scheme).
std::pair<std::string, std::string> hostPort(const std::string& server) {
  size_t start = server.find("://");
  start = start == std::string::npos ? 0 : start + 3;
  std::string authority = server.substr(start, server.find('/', start) - start);
  std::string defPort = server.rfind("https", 0) == 0 ? "443" : "80";
  if (!authority.empty() && authority[0] == '[') {  // [v6]:port
    size_t close = authority.find(']');
    std::string host = authority.substr(0, close + 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':')
      return {host, authority.substr(close + 2)};
    return {host, defPort};
  }
  size_t colon = authority.rfind(':');
  if (colon == std::string::npos) return {authority, defPort};
  return {authority.substr(0, colon), authority.substr(colon + 1)};
}

absl::Status curlError(CURLcode rc, const char* errbuf) {
  std::string msg = errbuf != nullptr && errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
      return absl::DeadlineExceededError(msg);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
      return absl::FailedPreconditionError(msg);
    default:
      return absl::UnavailableError(msg);
  }
}

}  // namespace

std::string defaultUserAgent() {
  return absl::StrCat("cubelet/v0.1.0 (linux/", core::goArch(), ") kubernetes/v1.30.0");
}

struct CurlApiClient::Transfer : std::enable_shared_from_this<Transfer> {
  CurlApiClient* client = nullptr;
  Request req;
  bool isStream = false;
  std::function<void(std::string_view)> onLine;
  std::function<void(Response)> done;

  EasyPtr easy;
  SlistPtr headers;
  SlistPtr connectTo;
  std::string url;
  std::string buf;  // unary: the body; 2xx stream: the unfinished line; else the error body
  long code = 0;
  bool lineMode = false;  // a 2xx stream: the body is lines for onLine
  bool inMulti = false;
  bool pendingLines = false;
  bool finished = false;
  RateLimiter::TicketPtr ticket;
  core::TimerPtr headerTimer;
  char errbuf[CURL_ERROR_SIZE] = {};
};

class CurlApiClient::StreamHandle : public Stream {
 public:
  explicit StreamHandle(std::weak_ptr<Transfer> t) : t_(std::move(t)) {}
  ~StreamHandle() override {
    if (auto t = t_.lock()) t->client->cancel(t.get());
  }

 private:
  std::weak_ptr<Transfer> t_;
};

absl::StatusOr<std::unique_ptr<CurlApiClient>> CurlApiClient::create(core::EventLoop& loop,
                                                                     Kubeconfig kubeconfig,
                                                                     CurlApiClientOptions opts) {
  static std::once_flag globalInit;
  static CURLcode globalRc = CURLE_OK;
  std::call_once(globalInit, [] { globalRc = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (globalRc != CURLE_OK) {
    return absl::InternalError(absl::StrCat("curl_global_init: ", curl_easy_strerror(globalRc)));
  }
  std::unique_ptr<CurlApiClient> c(new CurlApiClient(loop, std::move(kubeconfig), std::move(opts)));
  RETURN_IF_ERROR(c->init());
  return c;
}

CurlApiClient::CurlApiClient(core::EventLoop& loop, Kubeconfig kc, CurlApiClientOptions opts)
    : loop_(loop),
      kc_(std::move(kc)),
      opts_(std::move(opts)),
      userAgent_(opts_.userAgent.empty() ? defaultUserAgent() : opts_.userAgent),
      limiter_(loop, opts_.qps, opts_.burst) {}

absl::Status CurlApiClient::init() {
  RETURN_IF_ERROR(reloadCredentials(kc_));
  CURLM* multi = curl_multi_init();
  if (multi == nullptr) return absl::InternalError("curl_multi_init failed");
  multi_ = multi;
  curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &CurlApiClient::socketCallback);
  curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &CurlApiClient::timerCallback);
  curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
  updateMaxConnects();
  curlTimer_ = loop_.createTimer([this] { onSocketAction(CURL_SOCKET_TIMEOUT, 0); });
  return absl::OkStatus();
}

CurlApiClient::~CurlApiClient() {
  auto* multi = static_cast<CURLM*>(multi_);
  for (auto& [raw, t] : transfers_) {
    t->finished = true;
    t->ticket.reset();
    t->headerTimer.reset();
    if (t->inMulti) curl_multi_remove_handle(multi, t->easy.get());
    t->inMulti = false;
    t->easy.reset();
  }
  transfers_.clear();
  pendingLines_.clear();
  if (multi != nullptr) curl_multi_cleanup(multi);
  sockets_.clear();
  curlTimer_.reset();
}

absl::Status CurlApiClient::reloadCredentials(const Kubeconfig& kubeconfig) {
  if (kubeconfig.hasClientCert()) {
    auto cn = certCommonName(kubeconfig.clientCertPem);
    if (!cn.ok()) {
      return core::annotate(cn.status(), absl::StrCat(kubeconfig.path, ": client certificate ",
                                                      kubeconfig.clientCertFile));
    }
    identity_ = *cn;
  } else if (!kubeconfig.token.empty() || !kubeconfig.tokenFile.empty()) {
    identity_ = "token";
  } else {
    identity_ = "anonymous";
  }
  if (&kubeconfig != &kc_) kc_ = kubeconfig;
  tokenReadAt_ = loop_.monotonicNow();
  return absl::OkStatus();
}

std::string CurlApiClient::identity() const { return identity_; }

void CurlApiClient::send(Request req, std::function<void(Response)> done) {
  enqueue(std::move(req), false, nullptr, std::move(done));
}

StreamPtr CurlApiClient::stream(Request req, std::function<void(std::string_view)> onLine,
                                std::function<void(Response)> onEnd) {
  TransferPtr t = enqueue(std::move(req), true, std::move(onLine), std::move(onEnd));
  return std::make_unique<StreamHandle>(t);
}

CurlApiClient::TransferPtr CurlApiClient::enqueue(Request req, bool isStream,
                                                  std::function<void(std::string_view)> onLine,
                                                  std::function<void(Response)> done) {
  auto t = std::make_shared<Transfer>();
  t->client = this;
  t->req = std::move(req);
  t->isStream = isStream;
  t->onLine = std::move(onLine);
  t->done = std::move(done);
  transfers_[t.get()] = t;
  if (isStream) {
    ++openStreams_;
    updateMaxConnects();
  }
  std::weak_ptr<Transfer> w = t;
  auto ticket = limiter_.acquire([this, w] {
    if (auto t = w.lock()) start(t);
  });
  if (!t->finished) t->ticket = std::move(ticket);
  return t;
}

void CurlApiClient::start(const TransferPtr& t) {
  if (t->finished) return;
  absl::Status s = configure(*t);
  if (s.ok()) {
    CURLMcode mrc = curl_multi_add_handle(static_cast<CURLM*>(multi_), t->easy.get());
    if (mrc != CURLM_OK) s = absl::InternalError(curl_multi_strerror(mrc));
  }
  if (!s.ok()) {
    // Never inside send()/stream(): the rate limiter may have started us there.
    std::weak_ptr<Transfer> w = t;
    loop_.post([w, s] {
      if (auto t = w.lock()) t->client->finish(t, Response{s, 0, ""});
    });
    return;
  }
  t->inMulti = true;
  if (t->isStream) {
    std::weak_ptr<Transfer> w = t;
    t->headerTimer = loop_.createTimer([w] {
      auto t = w.lock();
      if (!t) return;
      t->client->finish(
          t, Response{absl::DeadlineExceededError(absl::StrCat("no response headers within ",
                                                               t->req.timeout.count(), "ms")),
                      0, ""});
    });
    t->headerTimer->enableTimer(t->req.timeout);
  }
}

void CurlApiClient::refreshToken() {
  if (kc_.tokenFile.empty()) return;
  core::MonoTime now = loop_.monotonicNow();
  if (now - tokenReadAt_ < opts_.tokenFileReload) return;
  tokenReadAt_ = now;
  // A token file is a few hundred bytes: read on the loop like a clock tick.
  auto content = core::readFile(kc_.tokenFile);
  if (!content.ok()) {
    LOG_WARNING << "kubeconfig " << kc_.path << ": tokenFile: " << content.status().message()
                << "; keeping the previous token";
    return;
  }
  std::string token(absl::StripAsciiWhitespace(*content));
  if (!token.empty()) kc_.token = std::move(token);
}

absl::Status CurlApiClient::configure(Transfer& t) {
  refreshToken();
  CURL* e = curl_easy_init();
  if (e == nullptr) return absl::InternalError("curl_easy_init failed");
  t.easy.reset(e);
  const Request& req = t.req;

  std::string base = kc_.server;
  if (!kc_.tlsServerName.empty()) {
    // Verify (and send SNI for) tls-server-name while connecting to the server's
    // address: the URL names tls-server-name and CONNECT_TO maps it to the server.
    auto [host, port] = hostPort(kc_.server);
    base = absl::StrCat(kc_.server.substr(0, kc_.server.find("://") + 3), kc_.tlsServerName, ":",
                        port);
    t.connectTo.reset(curl_slist_append(
        nullptr, absl::StrCat(kc_.tlsServerName, ":", port, ":", host, ":", port).c_str()));
    curl_easy_setopt(e, CURLOPT_CONNECT_TO, t.connectTo.get());
  }
  t.url = base + req.path;
  curl_easy_setopt(e, CURLOPT_URL, t.url.c_str());
  curl_easy_setopt(e, CURLOPT_PRIVATE, &t);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t.errbuf);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https,http");
#endif
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  curl_easy_setopt(e, CURLOPT_USERAGENT, userAgent_.c_str());
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");  // gzip for big lists, as client-go
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &CurlApiClient::writeCallback);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &CurlApiClient::headerCallback);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, &t);
  long connectMs = static_cast<long>(std::min(opts_.connectTimeout, req.timeout).count());
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, std::max(connectMs, 1L));
  if (!t.isStream) curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, std::max<long>(req.timeout.count(), 1));
  long keepAlive =
      std::max<long>(std::chrono::duration_cast<std::chrono::seconds>(opts_.keepAlive).count(), 1);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, keepAlive);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, keepAlive);

  curl_slist* h = nullptr;
  h = curl_slist_append(h, "Accept: application/json");
  h = curl_slist_append(h, "Expect:");
  if (req.method == "GET") {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  } else {
    if (req.method != "POST") curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    if (req.method != "DELETE" || !req.body.empty()) {
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, req.body.data());
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
      h = curl_slist_append(h, absl::StrCat("Content-Type: ", req.contentType).c_str());
    }
  }
  if (!kc_.token.empty()) {
    h = curl_slist_append(h, absl::StrCat("Authorization: Bearer ", kc_.token).c_str());
  }
  t.headers.reset(h);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);

  if (kc_.insecureSkipTlsVerify) {
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
  } else if (!kc_.caPem.empty()) {
    curl_blob ca{kc_.caPem.data(), kc_.caPem.size(), CURL_BLOB_COPY};
    curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &ca);
  }
  if (kc_.hasClientCert()) {
    curl_blob cert{kc_.clientCertPem.data(), kc_.clientCertPem.size(), CURL_BLOB_COPY};
    curl_blob key{kc_.clientKeyPem.data(), kc_.clientKeyPem.size(), CURL_BLOB_COPY};
    curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &cert);
    curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &key);
    curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
  }
  VLOG(4) << req.method << " " << t.url;
  return absl::OkStatus();
}

void CurlApiClient::updateMaxConnects() {
  // curl counts connections in use against the cache size and closes idle ones
  // beyond it, so the limit follows the streams that each hold one.
  curl_multi_setopt(static_cast<CURLM*>(multi_), CURLMOPT_MAXCONNECTS,
                    static_cast<long>(openStreams_) + opts_.maxIdleConnections);
}

void CurlApiClient::finish(const TransferPtr& t, Response r, bool notify) {
  if (t->finished) return;
  t->finished = true;
  t->ticket.reset();
  t->headerTimer.reset();
  if (t->inMulti) curl_multi_remove_handle(static_cast<CURLM*>(multi_), t->easy.get());
  t->inMulti = false;
  t->easy.reset();
  t->headers.reset();
  t->connectTo.reset();
  if (t->isStream && openStreams_ > 0) {
    --openStreams_;
    updateMaxConnects();
  }
  transfers_.erase(t.get());
  // onLine stays alive (it may be the caller of this, via a cancel) until `t` goes.
  auto done = std::move(t->done);
  t->done = nullptr;
  if (notify && done) done(std::move(r));
}

void CurlApiClient::cancel(Transfer* raw) {
  auto it = transfers_.find(raw);
  if (it == transfers_.end()) return;
  TransferPtr t = it->second;
  finish(t, Response{}, /*notify=*/false);
}

int CurlApiClient::socketCallback(void*, int fd, int what, void* userp, void*) {
  auto* self = static_cast<CurlApiClient*>(userp);
  if (what == CURL_POLL_REMOVE) {
    self->sockets_.erase(fd);
    return 0;
  }
  uint32_t events = 0;
  if (what & CURL_POLL_IN) events |= core::kReadable;
  if (what & CURL_POLL_OUT) events |= core::kWritable;
  auto it = self->sockets_.find(fd);
  if (it != self->sockets_.end()) {
    it->second->setEnabled(events);
    return 0;
  }
  self->sockets_[fd] = self->loop_.createFileEvent(fd, events, [self, fd](uint32_t ready) {
    int flags = 0;
    if (ready & core::kReadable) flags |= CURL_CSELECT_IN;
    if (ready & core::kWritable) flags |= CURL_CSELECT_OUT;
    if (ready & core::kClosed) flags |= CURL_CSELECT_ERR;
    self->onSocketAction(fd, flags);
  });
  return 0;
}

int CurlApiClient::timerCallback(void*, long timeoutMs, void* userp) {
  auto* self = static_cast<CurlApiClient*>(userp);
  if (timeoutMs < 0) {
    self->curlTimer_->disableTimer();
  } else {
    self->curlTimer_->enableTimer(core::Duration(timeoutMs));
  }
  return 0;
}

size_t CurlApiClient::headerCallback(char* data, size_t size, size_t n, void* userp) {
  auto* t = static_cast<Transfer*>(userp);
  size_t len = size * n;
  // The blank line ends a header block; 1xx blocks are followed by the real one.
  if (len <= 2 && (len == 0 || data[0] == '\r' || data[0] == '\n')) {
    long code = 0;
    curl_easy_getinfo(t->easy.get(), CURLINFO_RESPONSE_CODE, &code);
    if (code >= 200) {
      t->code = code;
      t->lineMode = t->isStream && code < 300;
      if (t->headerTimer) t->headerTimer->disableTimer();
    }
  }
  return len;
}

size_t CurlApiClient::writeCallback(char* data, size_t size, size_t n, void* userp) {
  auto* t = static_cast<Transfer*>(userp);
  size_t len = size * n;
  if (t->lineMode) {
    t->buf.append(data, len);
    // Lines go to the caller after curl returns: a callback may cancel streams,
    // which curl forbids from inside its own callbacks.
    if (!t->pendingLines && std::memchr(data, '\n', len) != nullptr) {
      t->pendingLines = true;
      t->client->pendingLines_.push_back(t->weak_from_this());
    }
  } else if (!t->isStream || t->buf.size() < kMaxErrorBody) {
    t->buf.append(data, len);
  }
  return len;
}

void CurlApiClient::onSocketAction(int fd, int flags) {
  int running = 0;
  curl_multi_socket_action(static_cast<CURLM*>(multi_), fd, flags, &running);
  deliverLines();
  readCompletions();
}

void CurlApiClient::deliverLines() {
  while (!pendingLines_.empty()) {
    std::vector<std::weak_ptr<Transfer>> pending;
    pending.swap(pendingLines_);
    for (auto& w : pending) {
      TransferPtr t = w.lock();
      if (!t) continue;
      t->pendingLines = false;
      size_t pos = 0;
      while (!t->finished) {
        size_t nl = t->buf.find('\n', pos);
        if (nl == std::string::npos) break;
        std::string_view line(t->buf.data() + pos, nl - pos);
        pos = nl + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (!line.empty()) t->onLine(line);
      }
      if (!t->finished) t->buf.erase(0, pos);
    }
  }
}

void CurlApiClient::readCompletions() {
  struct Done {
    Transfer* t;
    CURLcode rc;
  };
  std::vector<Done> done;
  CURLMsg* m;
  int left = 0;
  while ((m = curl_multi_info_read(static_cast<CURLM*>(multi_), &left)) != nullptr) {
    if (m->msg != CURLMSG_DONE) continue;
    Transfer* raw = nullptr;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&raw));
    done.push_back({raw, m->data.result});
  }
  for (const Done& d : done) {
    auto it = transfers_.find(d.t);
    if (it == transfers_.end()) continue;  // cancelled by an earlier callback
    TransferPtr t = it->second;
    long conns = 0;
    curl_easy_getinfo(t->easy.get(), CURLINFO_NUM_CONNECTS, &conns);
    connectionsOpened_ += conns;
    Response r;
    if (d.rc != CURLE_OK) {
      r.transport = curlError(d.rc, t->errbuf);
      VLOG(3) << t->req.method << " " << t->url << ": " << r.transport.message();
    } else {
      curl_easy_getinfo(t->easy.get(), CURLINFO_RESPONSE_CODE, &r.code);
      if (t->lineMode) {
        if (!t->buf.empty()) {
          VLOG(2) << t->url << ": stream ended inside a line; dropped it";
        }
      } else {
        r.body = std::move(t->buf);
      }
      VLOG(4) << t->req.method << " " << t->url << ": " << r.code;
    }
    t->buf.clear();
    t->buf.shrink_to_fit();
    finish(t, std::move(r));
  }
}

}  // namespace agent::kubeapi
