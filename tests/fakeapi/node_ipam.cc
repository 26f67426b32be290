#include "tests/fakeapi/node_ipam.h"

#include <arpa/inet.h>

#include <chrono>
#include <set>

#include "absl/strings/numbers.h"
#include "core/log.h"
#include "tests/fakeapi/resource_store.h"

namespace cubelet::fakeapi {
namespace {

using nlohmann::json;

constexpr int kNodeMaskSize = 24;  // --node-cidr-mask-size-ipv4 default

std::string formatCidr(uint32_t addr) {
  in_addr a{htonl(addr)};
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, buf, sizeof buf);
  return std::string(buf) + "/" + std::to_string(kNodeMaskSize);
}

}  // namespace

absl::StatusOr<std::unique_ptr<NodeIpamController>> NodeIpamController::start(
    ResourceStore& store, const std::string& clusterCidr) {
  size_t slash = clusterCidr.find('/');
  int prefix = -1;
  in_addr addr{};
  if (slash == std::string::npos || !absl::SimpleAtoi(clusterCidr.substr(slash + 1), &prefix) ||
      inet_pton(AF_INET, clusterCidr.substr(0, slash).c_str(), &addr) != 1 || prefix < 0 ||
      prefix > kNodeMaskSize) {
    return absl::InvalidArgumentError("allocateNodeCidrs \"" + clusterCidr +
                                      "\": want an IPv4 CIDR of prefix /24 or shorter");
  }
  uint32_t mask = prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix);
  uint32_t base = ntohl(addr.s_addr) & mask;
  uint32_t count = uint32_t{1} << (kNodeMaskSize - prefix);
  std::unique_ptr<NodeIpamController> c(new NodeIpamController(store, base, count));
  c->thread_ = std::thread([p = c.get()] { p->run(); });
  return c;
}

NodeIpamController::NodeIpamController(ResourceStore& store, uint32_t base, uint32_t count)
    : store_(store), base_(base), count_(count) {}

NodeIpamController::~NodeIpamController() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void NodeIpamController::run() {
  while (!stop_) {
    int64_t rv = store_.currentResourceVersion();
    syncOnce();
    // Woken by any write (a new Node among them), or after a while to notice stop_.
    store_.waitForWrite(rv, std::chrono::steady_clock::now() + std::chrono::milliseconds(100));
  }
}

void NodeIpamController::syncOnce() {
  const ResourceInfo& nodes = *findResource("", "v1", "nodes");
  auto listed = store_.list(nodes, Selection{}, 0, "");
  if (!listed.ok()) return;
  std::set<std::string> used;
  std::vector<std::string> waiting;
  for (const json& n : listed->items) {
    const json spec = n.value("spec", json::object());
    auto cidrs = spec.value("podCIDRs", json::array());
    if (cidrs.empty()) {
      waiting.push_back(n["metadata"].value("name", ""));
      continue;
    }
    for (const auto& c : cidrs) {
      if (c.is_string()) used.insert(c.get<std::string>());
    }
  }
  WriteContext ctx;
  ctx.env.user = "system:serviceaccount:kube-system:node-controller";
  for (const std::string& name : waiting) {
    std::string cidr;
    for (uint32_t i = 0; i < count_ && cidr.empty(); ++i) {
      uint32_t idx = (next_ + i) % count_;
      std::string candidate = formatCidr(base_ + (idx << (32 - kNodeMaskSize)));
      if (used.count(candidate)) continue;
      cidr = candidate;
      next_ = (idx + 1) % count_;
    }
    if (cidr.empty()) {
      LOG_WARNING << "fake node IPAM: no pod CIDR left for node " << name;  // CIDRNotAvailable
      continue;
    }
    auto patched = store_.patch(
        nodes, "", name, "",
        [&](const json& cur) -> absl::StatusOr<json> {
          json next = cur;
          if (!next.value("spec", json::object()).value("podCIDRs", json::array()).empty()) {
            return next;  // someone else was faster: no write
          }
          next["spec"]["podCIDR"] = cidr;
          next["spec"]["podCIDRs"] = json::array({cidr});
          return next;
        },
        ctx);
    if (patched.ok()) used.insert(cidr);
  }
}

}  // namespace cubelet::fakeapi
