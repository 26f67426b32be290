// The one door to the API server. Everything in the agent that talks to the API
// (reflectors, the status manager, node status, the Lease, events, TLS bootstrap)
// goes through this interface; CurlApiClient (curl_api_client.h) is the real
// thing, tests/fakes/fake_api_client.h a scripted stand-in. All callbacks run on
// the event loop thread, never inside the call that started the request.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "core/event_loop.h"

namespace agent::kubeapi {

// Content types the agent sends.
inline constexpr char kJson[] = "application/json";
inline constexpr char kMergePatch[] = "application/merge-patch+json";
inline constexpr char kStrategicMergePatch[] = "application/strategic-merge-patch+json";

struct Request {
  std::string method = "GET";  // GET, POST, PUT, PATCH, DELETE
  // Path and query, already escaped: "/api/v1/namespaces/default/pods/web/status",
  // "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-1&watch=1".
  std::string path;
  std::string body;
  std::string contentType = kJson;  // for a body
  // Whole-request deadline for unary requests; for a stream, the deadline to
  // receive the response headers (the stream itself runs until it ends).
  core::Duration timeout = std::chrono::seconds(30);
};

struct Response {
  // Non-OK when there is no HTTP answer at all (connect, TLS, timeout, cancel);
  // `code` is 0 then.
  absl::Status transport;
  long code = 0;
  std::string body;

  bool ok() const { return transport.ok() && code >= 200 && code < 300; }
  // "GET /api/v1/...: 404 NotFound: pods \"x\" not found" and the like, for logs.
  std::string describe(const Request& req) const;
};

// An open watch (or any streamed response). Destroying it cancels the stream;
// no callback runs after that.
class Stream {
 public:
  virtual ~Stream() = default;
};
using StreamPtr = std::unique_ptr<Stream>;

class ApiClient {
 public:
  virtual ~ApiClient() = default;

  // A unary request. `done` runs exactly once, on the loop.
  virtual void send(Request req, std::function<void(Response)> done) = 0;

  // A streamed request (watch). For a 2xx answer, `onLine` runs for every
  // newline-terminated line of the body as it arrives (one watch event each, as
  // the API server frames them). `onEnd` runs exactly once when the stream ends
  // for any reason but the caller destroying it: the server closed it (code 200,
  // transport OK), a non-2xx answer (code and body), or a transport error.
  virtual StreamPtr stream(Request req, std::function<void(std::string_view line)> onLine,
                           std::function<void(Response)> onEnd) = 0;

  // The identity requests are made as, for logs ("system:node:n1", "token").
  virtual std::string identity() const = 0;
};

// Percent-escapes a query value ("spec.nodeName=n1" -> "spec.nodeName%3Dn1").
std::string escapeQuery(std::string_view value);

}  // namespace agent::kubeapi
