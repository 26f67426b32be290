#include "tests/fakes/fake_api_client.h"

#include <algorithm>
#include <stdexcept>

namespace cubelet::testing {

using agent::kubeapi::Request;
using agent::kubeapi::Response;

class FakeApiClient::FakeStream : public agent::kubeapi::Stream {
 public:
  FakeStream(FakeApiClient& owner, std::shared_ptr<OpenStream> s, std::shared_ptr<bool> alive)
      : owner_(owner), s_(std::move(s)), alive_(std::move(alive)) {}
  ~FakeStream() override {
    if (!*alive_) return;
    auto& v = owner_.streams_;
    v.erase(std::remove(v.begin(), v.end(), s_), v.end());
    s_->onLine = nullptr;
    s_->onEnd = nullptr;
  }

 private:
  FakeApiClient& owner_;
  std::shared_ptr<OpenStream> s_;
  std::shared_ptr<bool> alive_;
};

void FakeApiClient::send(Request req, std::function<void(Response)> done) {
  requests_.push_back(req);
  Response r;
  if (handler_) {
    r = handler_(req);
  } else {
    r.code = 404;
    r.body =
        R"({"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404})";
  }
  auto alive = alive_;
  loop_.post([alive, done = std::move(done), r = std::move(r)] {
    if (*alive) done(r);
  });
}

agent::kubeapi::StreamPtr FakeApiClient::stream(Request req,
                                                std::function<void(std::string_view)> onLine,
                                                std::function<void(Response)> onEnd) {
  requests_.push_back(req);
  auto s = std::make_shared<OpenStream>(OpenStream{req, std::move(onLine), std::move(onEnd)});
  streams_.push_back(s);
  return std::make_unique<FakeStream>(*this, s, alive_);
}

size_t FakeApiClient::count(const std::string& method, const std::string& pathPrefix) const {
  return static_cast<size_t>(std::count_if(
      requests_.begin(), requests_.end(),
      [&](const Request& r) { return r.method == method && r.path.rfind(pathPrefix, 0) == 0; }));
}

const Request& FakeApiClient::streamRequest(size_t i) const {
  if (i >= streams_.size()) throw std::out_of_range("no such stream");
  return streams_[i]->request;
}

void FakeApiClient::pushLine(size_t i, std::string line) {
  if (i >= streams_.size()) throw std::out_of_range("no such stream");
  std::weak_ptr<OpenStream> w = streams_[i];
  loop_.post([w, line = std::move(line)] {
    if (auto s = w.lock(); s && s->onLine) s->onLine(line);
  });
}

void FakeApiClient::endStream(size_t i, Response end) {
  if (i >= streams_.size()) throw std::out_of_range("no such stream");
  std::shared_ptr<OpenStream> s = streams_[i];
  streams_.erase(streams_.begin() + static_cast<long>(i));
  loop_.post([s, end = std::move(end)] {
    if (s->onEnd) s->onEnd(end);
  });
}

}  // namespace cubelet::testing
