// The upgrade proxy behind the kubelet API's streaming endpoints (/exec, /attach,
// /portForward): the runtime's streaming server (containerd's, from the CRI
// Exec/Attach/PortForward URL) speaks SPDY or WebSocket to the client, and the
// agent only passes bytes, as the kubelet's proxyStream (UpgradeAwareHandler with
// upgradeRequired) does.
//
// proxyUpgrade() connects to the backend without blocking on the exchange's loop,
// sends the client's request line and headers there, and reads the backend's
// response head:
// - 101: the client gets 101 with the backend's headers (Upgrade, Connection,
//   X-Stream-Protocol-Version, Sec-WebSocket-Accept/Protocol, ...) and from then
//   on bytes are spliced both ways, the backend's bytes after its 101 head first;
//   buffers are bounded (a side whose peer can't take more is not read), an EOF on
//   one side is passed on as shutdown(SHUT_WR) on the other, and both sockets are
//   closed when both directions are done or either fails.
// - anything else: the client gets the backend's status, content type and body.
// - the backend can't be reached: 500 "error dialing backend: <why>" (the
//   kubelet's responder answers every proxy error with 500).
// A client that goes away before the upgrade completes tears everything down.
//
// Threading: call on the loop thread; everything then happens on that loop.
#pragma once

#include <cstddef>
#include <string>

#include "agent/server/http_exchange.h"
#include "core/event_loop.h"

namespace agent::server {

struct StreamProxyOptions {
  // Per direction: bytes read from one side and not yet written to the other.
  size_t bufferBytes = 64 * 1024;
  // From the start of the connect until the backend's response head is read.
  core::Duration handshakeTimeout = std::chrono::seconds(30);
  // Once one direction has ended (EOF passed on as a half-close), how long the
  // other may stay open before both are closed.
  core::Duration halfCloseTimeout = std::chrono::seconds(60);
};

// Proxies the exchange (whose request should be an upgrade request; see
// isUpgradeRequest) to `url`, "http://host:port/path[?query]" with a numeric
// host. The exchange is always answered (or the client is gone).
void proxyUpgrade(core::EventLoop& loop, ExchangePtr exchange, const std::string& url,
                  const StreamProxyOptions& options = {});

// As Go's httpstream.IsUpgradeRequest: a Connection header with the "upgrade"
// token (case-insensitive, in a comma-separated list).
bool isUpgradeRequest(const HttpRequest& request);

// How many proxies are alive (connecting, waiting for the upgrade or splicing).
// For tests and metrics; loop thread only.
size_t liveStreamProxies();

// Tears down every live proxy (agent shutdown, tests): clients still waiting get
// no answer, spliced connections are closed. The proxies are freed by the loop
// (a post), or with it.
void closeStreamProxies();

}  // namespace agent::server
