// Helpers for the networking integration tests: IPv4 CIDR membership, HTTP through
// busybox, resolv.conf comparison, a TCP server on the node side of the pod network,
// a "client" network namespace joined to the test's own by a veth pair (to reach host
// ports from outside the node), a CNI plugin dir with one plugin left out, and the
// reset of the pod network the tests of one binary share (they all run in the same
// network namespace: one bridge, one host-local store, one containerd CNI config dir).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tests/support/run_command.h"

namespace cubelet::testing {

// True when `ip` is an IPv4 address inside the IPv4 `cidr` ("10.77.0.0/24").
bool ipv4InCidr(const std::string& ip, const std::string& cidr);

// `sh -c script` in the test's own namespaces; an error names the script and its output.
absl::StatusOr<std::string> hostSh(const std::string& script);

// `sh -c` command for a busybox container serving `marker` over HTTP on 8080.
std::string httpdCommand(const std::string& marker);
// A shell command line fetching http://<ip>:<port>/ with `nc` (busybox nc: the
// static busybox's wget crashes here).
std::string httpGet(const std::string& ip, int port, const std::string& nc = "nc");
// The body of a raw HTTP response ("" when it has none).
std::string httpBody(const std::string& response);

// resolv.conf text with the words of its options line sorted: the kubelet merges
// options through a Go map, so their order is not part of the contract.
std::string sortOptions(const std::string& resolv);

// A TCP server listening on 0.0.0.0:port() in the test's network namespace (the node
// side of the pod bridge). Each connection: it reads until a newline, EOF or 5 s,
// writes `reply` and closes; the peer address and what was read are recorded.
class NodeTcpServer {
 public:
  struct Connection {
    std::string peer;  // the client's IPv4 address
    std::string received;
  };

  explicit NodeTcpServer(std::string reply);
  ~NodeTcpServer();
  NodeTcpServer(const NodeTcpServer&) = delete;
  NodeTcpServer& operator=(const NodeTcpServer&) = delete;

  bool listening() const { return fd_ >= 0; }
  int port() const { return port_; }
  // The first connection that sent something, once there is one (nullopt after `timeout`).
  std::optional<Connection> waitForConnection(std::chrono::milliseconds timeout);

 private:
  void serve();

  std::string reply_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<Connection> seen_;
  std::thread thread_;
};

// A network namespace `name` (under /run/netns, which is private to the test binary)
// joined to the test's namespace by a veth pair: `hostIf` on the test's side with
// `hostCidr`, the peer inside with `clientCidr`; both up, and the namespace's lo.
class ClientNetns {
 public:
  static absl::StatusOr<std::unique_ptr<ClientNetns>> create(const std::string& name,
                                                             const std::string& hostIf,
                                                             const std::string& hostCidr,
                                                             const std::string& clientCidr);
  ~ClientNetns();  // deletes the veth pair and the namespace
  ClientNetns(const ClientNetns&) = delete;
  ClientNetns& operator=(const ClientNetns&) = delete;

  // Runs argv inside the namespace (`ip netns exec <name> argv...`).
  absl::StatusOr<CommandResult> run(const std::vector<std::string>& argv);

 private:
  ClientNetns(std::string name, std::string hostIf)
      : name_(std::move(name)), hostIf_(std::move(hostIf)) {}
  std::string name_;
  std::string hostIf_;
};

// Fills `dest` (created) with symlinks to every entry of `src` but `omit`: a CNI
// plugin dir missing one plugin.
absl::Status pluginDirWithout(const std::string& src, const std::string& dest,
                              const std::string& omit);

// When `confDir` holds CNI configs other than `ours`, replaces them all with a
// loopback-only conflist, so that the runtime can run CNI DEL for (and so remove) the
// sandboxes an add-on config with a missing plugin left behind.
void replaceForeignCniConfigs(const std::string& confDir, const std::string& ours);

// Removes every CNI config in `confDir`, the bridge `bridge` when it exists, and
// host-local's allocations for `network` (/var/lib/cni/networks/<network>), so that
// a test starts on a node with no pod network. Call with no sandboxes left.
void resetPodNetwork(const std::string& confDir, const std::string& bridge,
                     const std::string& network);

}  // namespace cubelet::testing
