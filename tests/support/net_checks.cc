#include "tests/support/net_checks.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "tests/support/volume_checks.h"

namespace cubelet::testing {
namespace {

namespace fs = std::filesystem;

std::optional<uint32_t> parseIpv4(const std::string& ip) {
  in_addr a{};
  if (::inet_pton(AF_INET, ip.c_str(), &a) != 1) return std::nullopt;
  return ntohl(a.s_addr);
}

}  // namespace

bool ipv4InCidr(const std::string& ip, const std::string& cidr) {
  size_t slash = cidr.find('/');
  if (slash == std::string::npos) return false;
  int bits = 0;
  if (!absl::SimpleAtoi(cidr.substr(slash + 1), &bits) || bits < 0 || bits > 32) return false;
  auto addr = parseIpv4(ip);
  auto net = parseIpv4(cidr.substr(0, slash));
  if (!addr || !net) return false;
  uint32_t mask = bits == 0 ? 0 : ~uint32_t{0} << (32 - bits);
  return (*addr & mask) == (*net & mask);
}

absl::StatusOr<std::string> hostSh(const std::string& script) {
  return runCommandOk({"sh", "-c", script});
}

std::string httpdCommand(const std::string& marker) {
  return "mkdir -p /www && echo " + marker + " > /www/index.html && exec httpd -f -p 8080 -h /www";
}

std::string httpGet(const std::string& ip, int port, const std::string& nc) {
  return "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | " + nc + " -w 3 " + ip + " " + std::to_string(port);
}

std::string httpBody(const std::string& response) {
  size_t at = response.find("\r\n\r\n");
  return at == std::string::npos ? "" : response.substr(at + 4);
}

std::string sortOptions(const std::string& resolv) {
  std::vector<std::string> lines = absl::StrSplit(resolv, '\n');
  for (auto& line : lines) {
    if (!absl::StartsWith(line, "options ")) continue;
    std::vector<std::string> words = absl::StrSplit(line.substr(8), ' ');
    std::sort(words.begin(), words.end());
    line = "options " + absl::StrJoin(words, " ");
  }
  return absl::StrJoin(lines, "\n");
}

NodeTcpServer::NodeTcpServer(std::string reply) : reply_(std::move(reply)) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 8) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return;
  }
  fd_ = fd;
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { serve(); });
}

NodeTcpServer::~NodeTcpServer() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) ::close(fd_);
}

void NodeTcpServer::serve() {
  while (!stop_) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    int c = ::accept4(fd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
    if (c < 0) continue;
    char ip[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
    Connection conn{ip, ""};
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!stop_ && conn.received.find('\n') == std::string::npos &&
           std::chrono::steady_clock::now() < deadline) {
      pollfd cp{c, POLLIN, 0};
      if (::poll(&cp, 1, 100) <= 0) continue;
      char buf[512];
      ssize_t n = ::read(c, buf, sizeof buf);
      if (n <= 0) break;
      conn.received.append(buf, static_cast<size_t>(n));
    }
    (void)!::write(c, reply_.data(), reply_.size());
    ::shutdown(c, SHUT_WR);
    ::close(c);
    std::lock_guard<std::mutex> lock(mu_);
    seen_.push_back(std::move(conn));
  }
}

std::optional<NodeTcpServer::Connection> NodeTcpServer::waitForConnection(
    std::chrono::milliseconds timeout) {
  std::optional<Connection> found;
  pollUntil(
      [&] {
        std::lock_guard<std::mutex> lock(mu_);
        for (const auto& c : seen_) {
          if (!c.received.empty()) {
            found = c;
            return true;
          }
        }
        return false;
      },
      timeout);
  return found;
}

absl::StatusOr<std::unique_ptr<ClientNetns>> ClientNetns::create(const std::string& name,
                                                                 const std::string& hostIf,
                                                                 const std::string& hostCidr,
                                                                 const std::string& clientCidr) {
  std::unique_ptr<ClientNetns> ns(new ClientNetns(name, hostIf));
  const std::string peer = hostIf + "p";
  for (const std::vector<std::string>& argv : std::vector<std::vector<std::string>>{
           {"ip", "netns", "add", name},
           {"ip", "link", "add", hostIf, "type", "veth", "peer", "name", peer, "netns", name},
           {"ip", "addr", "add", hostCidr, "dev", hostIf},
           {"ip", "link", "set", hostIf, "up"},
           {"ip", "netns", "exec", name, "ip", "addr", "add", clientCidr, "dev", peer},
           {"ip", "netns", "exec", name, "ip", "link", "set", peer, "up"},
           {"ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"},
       }) {
    auto r = runCommandOk(argv);
    if (!r.ok()) return r.status();  // the destructor undoes what was made
  }
  return ns;
}

ClientNetns::~ClientNetns() {
  (void)runCommand({"ip", "link", "del", hostIf_});
  (void)runCommand({"ip", "netns", "del", name_});
}

absl::StatusOr<CommandResult> ClientNetns::run(const std::vector<std::string>& argv) {
  std::vector<std::string> full = {"ip", "netns", "exec", name_};
  full.insert(full.end(), argv.begin(), argv.end());
  return runCommand(full);
}

absl::Status pluginDirWithout(const std::string& src, const std::string& dest,
                              const std::string& omit) {
  std::error_code ec;
  fs::create_directories(dest, ec);
  if (ec) return absl::InternalError("create " + dest + ": " + ec.message());
  for (const auto& name : listDir(src)) {
    if (name == omit) continue;
    fs::create_symlink(src + "/" + name, dest + "/" + name, ec);
    if (ec) return absl::InternalError("symlink " + dest + "/" + name + ": " + ec.message());
  }
  return absl::OkStatus();
}

void replaceForeignCniConfigs(const std::string& confDir, const std::string& ours) {
  std::set<std::string> names = listDir(confDir);
  if (names.empty() || (names.size() == 1 && names.count(ours))) return;
  std::error_code ec;
  for (const auto& name : names) fs::remove_all(confDir + "/" + name, ec);
  std::ofstream(confDir + "/99-teardown.conflist")
      << R"({"cniVersion": "0.4.0", "name": "teardown", "plugins": [{"type": "loopback"}]})";
}

void resetPodNetwork(const std::string& confDir, const std::string& bridge,
                     const std::string& network) {
  std::error_code ec;
  for (const auto& name : listDir(confDir)) fs::remove_all(confDir + "/" + name, ec);
  if (fs::exists("/sys/class/net/" + bridge)) (void)runCommand({"ip", "link", "del", bridge});
  fs::remove_all("/var/lib/cni/networks/" + network, ec);
}

}  // namespace cubelet::testing
