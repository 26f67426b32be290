#include "agent/agent.h"

#include <fstream>
#include <sstream>

#include "agent/node/node_ip.h"
#include "agent/status/pod_status_compute.h"
#include "core/atomic_file.h"
#include "core/log.h"
#include "core/status.h"
#include "network/cni_config.h"
#include "network/dns.h"

namespace agent {
namespace {

network::ResolvConf readHostResolvConf(const std::string& path) {
  if (path.empty()) return {};
  std::ifstream in(path);
  if (!in) {
    LOG_WARNING << "cannot read resolvConf " << path << "; pods get no host DNS settings";
    return {};
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return network::parseResolvConf(ss.str());
}

bool isLoopback(const std::string& ip) { return ip.rfind("127.", 0) == 0 || ip == "::1"; }

}  // namespace

Agent::Agent(const config::AgentConfig& cfg, core::EventLoop& loop) : cfg_(cfg), loop_(loop) {}

Agent::~Agent() = default;

absl::StatusOr<std::unique_ptr<Agent>> Agent::create(const config::AgentConfig& cfg,
                                                     core::EventLoop& loop) {
  std::unique_ptr<Agent> a(new Agent(cfg, loop));
  if (!cfg.nodeIP.empty()) {
    a->nodeIP_ = cfg.nodeIP.substr(0, cfg.nodeIP.find(','));
  } else {
    auto ip = node::detectNodeIP();
    if (!ip.ok()) return ip.status();
    a->nodeIP_ = *ip;
  }
  if (isLoopback(a->nodeIP_)) {
    LOG_WARNING << "node IP " << a->nodeIP_
                << " is a loopback address: fine for a single-machine cluster, but other nodes "
                   "cannot reach this one";
  }
  if (cfg.imageServiceEndpoint != cfg.containerRuntimeEndpoint) {
    LOG_WARNING << "imageServiceEndpoint " << cfg.imageServiceEndpoint
                << " differs from the runtime endpoint; cubelet uses "
                << cfg.containerRuntimeEndpoint << " for both";
  }
  auto client = cri::GrpcRuntimeClient::create(
      cfg.containerRuntimeEndpoint,
      std::chrono::duration_cast<std::chrono::milliseconds>(cfg.runtimeRequestTimeout),
      std::chrono::minutes(10));
  if (!client.ok()) return client.status();
  a->cri_ = std::move(*client);
  a->pool_ = std::make_unique<core::ThreadWorkerPool>(static_cast<size_t>(cfg.workerThreads));

  runtime::RuntimeOptions opts;
  opts.nodeName = cfg.nodeName;
  opts.rootDir = cfg.rootDir;
  opts.podLogsDir = cfg.podLogsDir;
  opts.containerLogsLinkDir = cfg.containerLogsLinkDir;
  opts.clusterDNS = cfg.clusterDNS;
  opts.clusterDomain = cfg.clusterDomain;
  opts.hostResolvConf = readHostResolvConf(cfg.resolvConf);
  a->runtime_ = std::make_unique<runtime::RuntimeManager>(*a->cri_, *a->cri_, opts);

  pods::WorkerSettings ws;
  ws.crashLoopBackOffBase = cfg.crashLoopBackOffBase;
  ws.crashLoopBackOffMax = cfg.crashLoopBackOffMax;
  ws.resync = std::chrono::duration_cast<core::Duration>(cfg.syncFrequency);
  a->workers_ = std::make_unique<pods::PodWorkers>(loop, *a->pool_, *a->runtime_, ws);
  a->workers_->setOnPodChanged([raw = a.get()](const std::string& uid) { raw->onPodChanged(uid); });
  return a;
}

absl::Status Agent::start() {
  for (const std::string& dir : {cfg_.rootDir, cfg_.rootDir + "/pods", cfg_.podLogsDir}) {
    RETURN_IF_ERROR(core::mkdirAll(dir, 0750));
  }
  // Pods without host networking need a CNI network; a network add-on's config wins.
  network::CniConfigInput cni;
  if (!cfg_.podCIDR.empty()) cni.podCidrs = {cfg_.podCIDR};
  network::CniConfigResult cniResult;
  if (absl::Status s = network::ensureCniConfig(cfg_.cniConfDir, cni, &cniResult); !s.ok()) {
    LOG_WARNING << "CNI config in " << cfg_.cniConfDir << ": " << s.message()
                << "; pods without hostNetwork will not start until networking is configured";
  } else if (cniResult == network::CniConfigResult::kOwnedByAddon) {
    LOG_INFO << "CNI config dir " << cfg_.cniConfDir
             << " holds a network add-on's config; leaving networking to it";
  } else if (cniResult == network::CniConfigResult::kWritten) {
    LOG_INFO << "Wrote CNI config " << cfg_.cniConfDir << "/" << network::kCniConfigFile;
  }

  if (!cfg_.staticPodPath.empty()) {
    fileSource_ = std::make_unique<sources::FileSource>(
        loop_, *pool_, cfg_.staticPodPath, cfg_.nodeName,
        std::chrono::duration_cast<core::Duration>(cfg_.fileCheckFrequency),
        [this](const sources::PodSet& pods) { workers_->setDesiredPods(pods); });
    fileSource_->start();
  } else {
    LOG_INFO << "No staticPodPath: no static pods";
  }
  workers_->start(core::Duration(1000));
  return startServers();
}

void Agent::shutdown(core::Duration maxWait) {
  if (!pool_->shutdown(maxWait)) {
    LOG_WARNING << "exiting with CRI calls still in flight after " << maxWait.count() << " ms";
  }
}

absl::Status Agent::startServers() {
  if (cfg_.healthzPort > 0) {
    auto s = server::HttpServer::create(loop_, cfg_.healthzBindAddress, cfg_.healthzPort);
    if (!s.ok()) return core::annotate(s.status(), "healthz server");
    healthz_ = std::move(*s);
    healthz_->handle("/healthz", [](const server::HttpRequest&) {
      return server::HttpResponse{200, "text/plain; charset=utf-8", "ok", {}};
    });
  }
  if (cfg_.readOnlyPort > 0) {
    auto s = server::HttpServer::create(loop_, cfg_.address, cfg_.readOnlyPort);
    if (!s.ok()) return core::annotate(s.status(), "read-only server");
    readOnly_ = std::move(*s);
    readOnly_->handle("/healthz", [](const server::HttpRequest&) {
      return server::HttpResponse{200, "text/plain; charset=utf-8", "ok", {}};
    });
    readOnly_->handle("/pods", [this](const server::HttpRequest&) {
      return server::HttpResponse{200, "application/json", podList().dump(), {}};
    });
  }
  return absl::OkStatus();
}

void Agent::onPodChanged(const std::string& uid) {
  bool found = false;
  workers_->forEachPod([&](const pods::PodView& v) {
    if (!v.pod || v.pod->metadata.uid != uid) return;
    found = true;
    status::StatusInput in;
    in.pod = v.pod.get();
    in.runtime = v.runtime;
    in.waiting = v.waiting;
    in.sandboxError = v.sandboxError;
    in.hostIP = nodeIP_;
    in.startTime = v.firstSeen;
    in.now = loop_.wallNow();
    auto prev = statuses_.find(uid);
    in.previous = prev == statuses_.end() ? nullptr : &prev->second;
    api::PodStatus next = status::computePodStatus(in);
    if (!in.previous || in.previous->phase != next.phase) {
      LOG_INFO << "Pod " << v.pod->metadata.namespace_ << "/" << v.pod->metadata.name << " phase "
               << next.phase;
    }
    statuses_[uid] = std::move(next);
  });
  if (!found) statuses_.erase(uid);
}

nlohmann::json Agent::podList() const {
  nlohmann::json items = nlohmann::json::array();
  workers_->forEachPod([&](const pods::PodView& v) {
    if (!v.pod) return;
    const api::Pod& p = *v.pod;
    nlohmann::json containers = nlohmann::json::array();
    for (const auto& c : p.spec.containers)
      containers.push_back({{"name", c.name}, {"image", c.image}});
    nlohmann::json inits = nlohmann::json::array();
    for (const auto& c : p.spec.initContainers)
      inits.push_back({{"name", c.name}, {"image", c.image}});
    nlohmann::json item = {{"metadata",
                            {{"name", p.metadata.name},
                             {"namespace", p.metadata.namespace_},
                             {"uid", p.metadata.uid},
                             {"labels", p.metadata.labels},
                             {"annotations", p.metadata.annotations}}},
                           {"spec",
                            {{"nodeName", p.spec.nodeName},
                             {"restartPolicy", p.spec.restartPolicy},
                             {"hostNetwork", p.spec.hostNetwork},
                             {"initContainers", inits},
                             {"containers", containers}}}};
    auto st = statuses_.find(p.metadata.uid);
    if (st != statuses_.end()) item["status"] = api::toJson(st->second);
    items.push_back(std::move(item));
  });
  return {{"kind", "PodList"},
          {"apiVersion", "v1"},
          {"metadata", nlohmann::json::object()},
          {"items", items}};
}

}  // namespace agent
