// A minimal libcurl HTTPS client for the fake API server's own tests (deliberately not
// cubelet's kubeapi client): unary requests on one keep-alive handle, and watch streams
// read on a background thread, one JSON event per line.
#pragma once

#include <curl/curl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace cubelet::fakeapi::testing {

struct Credentials {
  std::string token;            // bearer token, or
  std::string certPem, keyPem;  // a client certificate
};

struct HttpResult {
  long code = 0;
  std::string body;
  std::string error;  // curl's, when the transfer failed
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
};

inline void setupHandle(CURL* h, const std::string& caFile, const Credentials& creds,
                        curl_slist** headers) {
  static const bool inited = [] { return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK; }();
  (void)inited;
  curl_easy_setopt(h, CURLOPT_CAINFO, caFile.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  if (!creds.certPem.empty()) {
    curl_blob cert{const_cast<char*>(creds.certPem.data()), creds.certPem.size(), CURL_BLOB_COPY};
    curl_blob key{const_cast<char*>(creds.keyPem.data()), creds.keyPem.size(), CURL_BLOB_COPY};
    curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cert);
    curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &key);
    curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
  }
  if (!creds.token.empty()) {
    *headers = curl_slist_append(*headers, ("Authorization: Bearer " + creds.token).c_str());
  }
}

inline size_t appendToString(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

class HttpsClient {
 public:
  HttpsClient(std::string baseUrl, std::string caFile, Credentials creds)
      : baseUrl_(std::move(baseUrl)),
        caFile_(std::move(caFile)),
        creds_(std::move(creds)),
        handle_(curl_easy_init()) {}
  ~HttpsClient() { curl_easy_cleanup(handle_); }
  HttpsClient(const HttpsClient&) = delete;
  HttpsClient& operator=(const HttpsClient&) = delete;

  HttpResult request(const std::string& method, const std::string& path,
                     const std::string& body = "",
                     const std::string& contentType = "application/json",
                     const std::vector<std::string>& extraHeaders = {}) {
    curl_easy_reset(handle_);
    curl_slist* headers = nullptr;
    setupHandle(handle_, caFile_, creds_, &headers);
    if (!body.empty())
      headers = curl_slist_append(headers, ("Content-Type: " + contentType).c_str());
    for (const auto& h : extraHeaders) headers = curl_slist_append(headers, h.c_str());
    headers = curl_slist_append(headers, "Accept: application/json");
    HttpResult r;
    const std::string url = baseUrl_ + path;
    curl_easy_setopt(handle_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(handle_, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(handle_, CURLOPT_CUSTOMREQUEST, method.c_str());
    if (!body.empty()) {
      curl_easy_setopt(handle_, CURLOPT_POSTFIELDS, body.c_str());
      curl_easy_setopt(handle_, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    }
    curl_easy_setopt(handle_, CURLOPT_WRITEFUNCTION, appendToString);
    curl_easy_setopt(handle_, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(handle_, CURLOPT_TIMEOUT_MS, 10000L);
    CURLcode rc = curl_easy_perform(handle_);
    if (rc != CURLE_OK) r.error = curl_easy_strerror(rc);
    curl_easy_getinfo(handle_, CURLINFO_RESPONSE_CODE, &r.code);
    long connects = 0;
    curl_easy_getinfo(handle_, CURLINFO_NUM_CONNECTS, &connects);
    lastNewConnections_ = connects;
    curl_slist_free_all(headers);
    return r;
  }
  HttpResult get(const std::string& p) { return request("GET", p); }
  HttpResult post(const std::string& p, const nlohmann::json& b) {
    return request("POST", p, b.dump());
  }
  HttpResult put(const std::string& p, const nlohmann::json& b) {
    return request("PUT", p, b.dump());
  }
  HttpResult patch(const std::string& p, const std::string& type, const nlohmann::json& b) {
    return request("PATCH", p, b.dump(), type);
  }
  HttpResult del(const std::string& p, const nlohmann::json& opts = nullptr) {
    return request("DELETE", p, opts.is_null() ? "" : opts.dump());
  }
  // Connections the last request had to open (0 when it reused a kept-alive one).
  long lastNewConnections() const { return lastNewConnections_; }

  const std::string& baseUrl() const { return baseUrl_; }
  const std::string& caFile() const { return caFile_; }
  const Credentials& creds() const { return creds_; }

 private:
  std::string baseUrl_, caFile_;
  Credentials creds_;
  CURL* handle_;
  long lastNewConnections_ = 0;
};

// GET <path> streamed on a thread; each line is one watch event.
class WatchStream {
 public:
  WatchStream(const HttpsClient& c, const std::string& pathAndQuery) {
    thread_ =
        std::thread([this, url = c.baseUrl() + pathAndQuery, ca = c.caFile(), cr = c.creds()] {
          CURL* h = curl_easy_init();
          curl_slist* headers = nullptr;
          setupHandle(h, ca, cr, &headers);
          curl_easy_setopt(h, CURLOPT_URL, url.c_str());
          curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
          curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &WatchStream::onData);
          curl_easy_setopt(h, CURLOPT_WRITEDATA, this);
          curl_easy_setopt(h, CURLOPT_SOCKOPTFUNCTION, &WatchStream::onSocket);
          curl_easy_setopt(h, CURLOPT_SOCKOPTDATA, this);
          curl_easy_setopt(h, CURLOPT_CLOSESOCKETFUNCTION, &WatchStream::onClose);
          curl_easy_setopt(h, CURLOPT_CLOSESOCKETDATA, this);
          curl_easy_perform(h);
          long code = 0;
          curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
          curl_slist_free_all(headers);
          curl_easy_cleanup(h);
          std::lock_guard lock(mu_);
          code_ = code;
          ended_ = true;
          cv_.notify_all();
        });
  }
  ~WatchStream() {
    {
      std::lock_guard lock(mu_);
      if (fd_ >= 0 && !ended_) ::shutdown(fd_, SHUT_RDWR);
      aborted_ = true;
    }
    thread_.join();
  }

  // The next event, or nothing when none arrives within `timeout` / the stream ended.
  std::optional<nlohmann::json> next(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return !lines_.empty() || ended_; });
    if (lines_.empty()) return std::nullopt;
    std::string l = std::move(lines_.front());
    lines_.pop_front();
    return nlohmann::json::parse(l, nullptr, false);
  }
  // Waits for the server to end the stream; true if it did within `timeout`.
  bool waitEnded(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return ended_; });
  }
  long code() {
    std::lock_guard lock(mu_);
    return code_;
  }
  // The HTTP status once headers arrived (0 before), from the first data.
  bool started(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return gotData_ || ended_; });
  }

 private:
  static size_t onData(char* data, size_t size, size_t n, void* self) {
    auto* w = static_cast<WatchStream*>(self);
    std::lock_guard lock(w->mu_);
    w->gotData_ = true;
    w->buf_.append(data, size * n);
    size_t pos;
    while ((pos = w->buf_.find('\n')) != std::string::npos) {
      w->lines_.push_back(w->buf_.substr(0, pos));
      w->buf_.erase(0, pos + 1);
    }
    w->cv_.notify_all();
    return size * n;
  }
  static int onSocket(void* self, curl_socket_t fd, curlsocktype) {
    auto* w = static_cast<WatchStream*>(self);
    std::lock_guard lock(w->mu_);
    w->fd_ = fd;
    return CURL_SOCKOPT_OK;
  }

  static int onClose(void* self, curl_socket_t fd) {
    auto* w = static_cast<WatchStream*>(self);
    std::lock_guard lock(w->mu_);
    if (w->fd_ == fd) w->fd_ = -1;
    return ::close(fd);
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> lines_;
  std::string buf_;
  int fd_ = -1;
  bool ended_ = false, aborted_ = false, gotData_ = false;
  long code_ = 0;
  std::thread thread_;
};

}  // namespace cubelet::fakeapi::testing
