// A scripted ApiClient for unit tests of the code above the client (status
// manager, node status, Lease, events, bootstrap). Every request is recorded; a
// test installs a handler that answers unary requests, and drives streams by hand.
// Answers are posted to the loop, as the real client delivers them.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/kubeapi/api_client.h"
#include "core/event_loop.h"

namespace cubelet::testing {

class FakeApiClient : public agent::kubeapi::ApiClient {
 public:
  using Handler = std::function<agent::kubeapi::Response(const agent::kubeapi::Request&)>;

  explicit FakeApiClient(core::EventLoop& loop) : loop_(loop) {}

  // Answers unary requests; without one every request gets 404.
  void setHandler(Handler h) { handler_ = std::move(h); }

  void send(agent::kubeapi::Request req,
            std::function<void(agent::kubeapi::Response)> done) override;
  agent::kubeapi::StreamPtr stream(agent::kubeapi::Request req,
                                   std::function<void(std::string_view line)> onLine,
                                   std::function<void(agent::kubeapi::Response)> onEnd) override;
  std::string identity() const override { return "fake"; }

  // Every request made, unary and streamed, in order.
  const std::vector<agent::kubeapi::Request>& requests() const { return requests_; }
  void clearRequests() { requests_.clear(); }
  // How many requests matched `method` and whose path starts with `pathPrefix`.
  size_t count(const std::string& method, const std::string& pathPrefix) const;

  // The open streams, oldest first (closed ones are removed).
  struct OpenStream {
    agent::kubeapi::Request request;
    std::function<void(std::string_view)> onLine;
    std::function<void(agent::kubeapi::Response)> onEnd;
  };
  size_t openStreams() const { return streams_.size(); }
  const agent::kubeapi::Request& streamRequest(size_t i) const;
  // Feeds a line to stream i / ends it (posted to the loop like real data).
  void pushLine(size_t i, std::string line);
  void endStream(size_t i, agent::kubeapi::Response end);

 private:
  class FakeStream;
  core::EventLoop& loop_;
  Handler handler_;
  std::vector<agent::kubeapi::Request> requests_;
  std::vector<std::shared_ptr<OpenStream>> streams_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

 public:
  ~FakeApiClient() override { *alive_ = false; }
};

}  // namespace cubelet::testing
