// The agent's HTTP servers: healthz (127.0.0.1:10248), the read-only port, and the
// kubelet API on :10250 (HTTPS, authenticated and authorized) with the pods, logs,
// exec/attach/port-forward, stats and metrics endpoints.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "agent/agent.h"
#include "agent/api/quantity.h"
#include "agent/config/configz.h"
#include "agent/logs/container_logs_handler.h"
#include "agent/logs/log_options.h"
#include "agent/metrics/prober_metrics.h"
#include "agent/metrics/registry.h"
#include "agent/metrics/resource_metrics.h"
#include "agent/runtime/container_config.h"
#include "agent/server/auth_filter.h"
#include "agent/server/healthz.h"
#include "agent/server/serving_cert.h"
#include "agent/server/streaming_handlers.h"
#include "core/atomic_file.h"
#include "core/log.h"
#include "core/status.h"
#include "core/worker_pool.h"

namespace agent {
namespace {

server::HttpResponse jsonResponse(const nlohmann::json& j) {
  return server::HttpResponse{200, "application/json", j.dump(), {}};
}

server::HttpResponse ok() {
  return server::HttpResponse{200, "text/plain; charset=utf-8", "ok", {}};
}

std::string stripRuntimePrefix(const std::string& containerID) {
  size_t p = containerID.find("://");
  return p == std::string::npos ? containerID : containerID.substr(p + 3);
}

const api::ContainerStatus* findStatus(const api::PodStatus& s, const std::string& name) {
  for (const auto* list :
       {&s.containerStatuses, &s.initContainerStatuses, &s.ephemeralContainerStatuses}) {
    for (const auto& c : *list) {
      if (c.name == name) return &c;
    }
  }
  return nullptr;
}

server::HttpResponse textResponse(int status, std::string body) {
  return server::HttpResponse{status, "text/plain; charset=utf-8", std::move(body), {}};
}

// The node's API client is made by the cluster connection, possibly only after TLS
// bootstrap: the auth webhooks reach it through this forwarder.
class ClusterApiClient : public kubeapi::ApiClient {
 public:
  explicit ClusterApiClient(cluster::ClusterConnection* cluster) : cluster_(cluster) {}
  void send(kubeapi::Request req, std::function<void(kubeapi::Response)> done) override {
    kubeapi::ApiClient* c = cluster_->apiClient();
    if (c == nullptr) {
      kubeapi::Response r;
      r.transport = absl::UnavailableError("no API client yet (TLS bootstrap pending)");
      done(std::move(r));
      return;
    }
    c->send(std::move(req), std::move(done));
  }
  kubeapi::StreamPtr stream(kubeapi::Request req, std::function<void(std::string_view)> onLine,
                            std::function<void(kubeapi::Response)> onEnd) override {
    kubeapi::ApiClient* c = cluster_->apiClient();
    if (c == nullptr) {
      kubeapi::Response r;
      r.transport = absl::UnavailableError("no API client yet (TLS bootstrap pending)");
      onEnd(std::move(r));
      return nullptr;
    }
    return c->stream(std::move(req), std::move(onLine), std::move(onEnd));
  }
  std::string identity() const override {
    kubeapi::ApiClient* c = cluster_->apiClient();
    return c == nullptr ? "none" : c->identity();
  }

 private:
  cluster::ClusterConnection* cluster_;
};

}  // namespace

std::shared_ptr<const api::Pod> Agent::podByName(const std::string& ns,
                                                 const std::string& name) const {
  std::shared_ptr<const api::Pod> found;
  workers_->forEachPod([&](const pods::PodView& v) {
    if (v.pod && v.pod->metadata.namespace_ == ns && v.pod->metadata.name == name) found = v.pod;
  });
  return found;
}

bool Agent::hasContainerSpec(const api::Pod& pod, const std::string& name) {
  auto named = [&](const auto& list) {
    return std::any_of(list.begin(), list.end(), [&](const auto& c) { return c.name == name; });
  };
  return named(pod.spec.containers) || named(pod.spec.initContainers) ||
         named(pod.spec.ephemeralContainers);
}

absl::StatusOr<std::string> Agent::logContainerId(const api::Pod& pod, const std::string& name,
                                                  bool previous) const {
  // The kubelet's validateContainerLogStatus, with its messages (400 Bad Request).
  const std::string& podName = pod.metadata.name;
  auto st = statuses_.find(pod.metadata.uid);
  const api::ContainerStatus* c = st == statuses_.end() ? nullptr : findStatus(st->second, name);
  if (c == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("container \"", name, "\" in pod \"", podName, "\" is not available"));
  }
  const auto& last = c->lastState.terminated;
  const auto& state = c->state;
  if (previous) {
    if (!last || last->containerID.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("previous terminated container \"", name,
                                                     "\" in pod \"", podName, "\" not found"));
    }
    return stripRuntimePrefix(last->containerID);
  }
  if (state.running) return stripRuntimePrefix(c->containerID);
  if (state.terminated) {
    if (!state.terminated->containerID.empty()) {
      return stripRuntimePrefix(state.terminated->containerID);
    }
    if (last && !last->containerID.empty()) return stripRuntimePrefix(last->containerID);
    return absl::InvalidArgumentError(
        absl::StrCat("container \"", name, "\" in pod \"", podName, "\" is terminated"));
  }
  if (last) {
    if (last->containerID.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("container \"", name, "\" in pod \"", podName, "\" is terminated"));
    }
    return stripRuntimePrefix(last->containerID);
  }
  std::string why = state.waiting ? state.waiting->reason : "";
  if (why == "ErrImagePull") why = "image can't be pulled";
  if (why == "ImagePullBackOff") why = "trying and failing to pull image";
  return absl::InvalidArgumentError(
      absl::StrCat("container \"", name, "\" in pod \"", podName, "\" is waiting to start: ", why));
}

nlohmann::json Agent::runningPodList() const {
  // The kubelet's /runningpods/: the pods the runtime has, as the runtime knows
  // them (name, namespace, uid, container names and images), not the desired set.
  nlohmann::json items = nlohmann::json::array();
  workers_->forEachPod([&](const pods::PodView& v) {
    if (v.runtime == nullptr || !v.runtime->hasRunningContainer()) return;
    nlohmann::json containers = nlohmann::json::array();
    for (const auto& c : v.runtime->containers) {
      if (c.state != runtime::ContainerState::kRunning) continue;
      containers.push_back(
          {{"name", c.name}, {"image", c.image}, {"resources", nlohmann::json::object()}});
    }
    items.push_back({{"metadata",
                      {{"name", v.runtime->name},
                       {"namespace", v.runtime->namespace_},
                       {"uid", v.runtime->uid},
                       {"creationTimestamp", nullptr}}},
                     {"spec", {{"containers", containers}}},
                     {"status", nlohmann::json::object()}});
  });
  return {{"kind", "PodList"},
          {"apiVersion", "v1"},
          {"metadata", nlohmann::json::object()},
          {"items", items}};
}

core::Duration Agent::syncLoopThreshold() const {
  if (cfg_.syncLoopHealthThreshold.count() > 0) return cfg_.syncLoopHealthThreshold;
  // The kubelet's syncLoopHealthCheck: twice the resync interval, at least 5 minutes.
  core::Duration d = cfg_.syncFrequency * 2;
  return std::max<core::Duration>(d, std::chrono::minutes(5));
}

void Agent::installCommonHandlers(server::HttpServer& s) {
  s.handle("/pods", [this](const server::HttpRequest&) { return jsonResponse(podList()); });
  s.handle("/stats/summary", [this](const server::HttpRequest&) { return statsSummary(); });
}

void Agent::installApiHandlers(server::HttpServer& s) {
  auto health = std::make_shared<server::Healthz>();
  health->add("ping", [] { return absl::OkStatus(); });
  // Logging is synchronous here: a blocked log would block the loop, so a
  // healthz answer at all means it works.
  health->add("log", [] { return absl::OkStatus(); });
  health->add("syncloop", [this] {
    return server::syncLoopHealthy(workers_->lastRelist(), loop_.monotonicNow(),
                                   syncLoopThreshold());
  });
  s.handle("/healthz", [health](const server::HttpRequest& r) { return health->serve(r); });
  for (const char* name : {"ping", "log", "syncloop"}) {
    s.handle(std::string("/healthz/") + name,
             [health, n = std::string(name)](const server::HttpRequest&) {
               return health->serveOne(n);
             });
  }
  installCommonHandlers(s);
  s.handle("/runningpods/",
           [this](const server::HttpRequest&) { return jsonResponse(runningPodList()); });
  s.handle("/configz",
           [this](const server::HttpRequest&) { return jsonResponse(config::configzJson(cfg_)); });
  s.handle("/metrics", [this](const server::HttpRequest&) {
    updateGaugeMetrics();
    return server::HttpResponse{
        200, std::string(metrics::kTextContentType), metrics_->render(), {}};
  });
  s.handle("/metrics/resource", [this](const server::HttpRequest&) {
    return server::HttpResponse{200,
                                std::string(metrics::kTextContentType),
                                metrics::renderResourceMetrics(summary_.get()),
                                {}};
  });
  s.handle("/metrics/probes", [this](const server::HttpRequest&) {
    // The prober keeps its own counters; they are rendered in the kubelet's registry shape.
    metrics::ProberMetrics pm;
    probes_->forEachCounter([&](const probes::ProbeManager::Counter& c) {
      pm.probeTotal.with({c.probeType, c.result, c.container, c.pod, c.namespace_, c.podUid})
          .inc(static_cast<double>(c.count));
    });
    return server::HttpResponse{200, std::string(metrics::kTextContentType), pm.render(), {}};
  });
  if (!cfg_.enableDebuggingHandlers) return;

  s.handleAsync("/containerLogs/", [this](server::ExchangePtr ex) { serveContainerLogs(ex); });
  server::StreamingContext sc;
  sc.loop = &loop_;
  sc.pool = pool_.get();
  sc.runtime = runtimeSvc_.get();
  sc.resolveContainer =
      [this](const std::string& ns, const std::string& name, const std::string& uid,
             const std::string& container) -> absl::StatusOr<server::ResolvedContainer> {
    std::shared_ptr<const api::Pod> pod = podByName(ns, name);
    if (!pod) return absl::NotFoundError("pod does not exist");
    if (!uid.empty() && pod->metadata.uid != uid) return absl::NotFoundError("pod not found");
    std::optional<server::ResolvedContainer> found;
    workers_->forEachPod([&](const pods::PodView& v) {
      if (found || v.runtime == nullptr || v.runtime->uid != pod->metadata.uid) return;
      for (const auto& c : v.runtime->containers) {
        if (c.name == container && c.state == runtime::ContainerState::kRunning) {
          found = server::ResolvedContainer{c.id, c.sandboxId};
          return;
        }
      }
    });
    if (!found)
      return absl::NotFoundError(absl::StrCat("container not found (\"", container, "\")"));
    return *found;
  };
  sc.resolveSandbox = [this](const std::string& ns, const std::string& name,
                             const std::string& uid) -> absl::StatusOr<std::string> {
    std::shared_ptr<const api::Pod> pod = podByName(ns, name);
    if (!pod) return absl::NotFoundError("pod does not exist");
    if (!uid.empty() && pod->metadata.uid != uid) return absl::NotFoundError("pod not found");
    std::string id;
    workers_->forEachPod([&](const pods::PodView& v) {
      if (!id.empty() || v.runtime == nullptr || v.runtime->uid != pod->metadata.uid) return;
      for (const auto& sb : v.runtime->sandboxes) {
        if (sb.state == runtime::SandboxState::kReady) id = sb.id;
      }
    });
    if (id.empty()) return absl::NotFoundError("pod sandbox not found (is the pod running?)");
    return id;
  };
  s.handleAsync("/exec/", server::makeExecHandler(sc));
  s.handleAsync("/attach/", server::makeAttachHandler(sc));
  s.handleAsync("/portForward/", server::makePortForwardHandler(sc));
  s.handleAsync("/run/", server::makeRunHandler(sc));
}

void Agent::serveContainerLogs(server::ExchangePtr ex) {
  // /containerLogs/{namespace}/{pod}/{container}
  const server::HttpRequest& req = ex->request();
  std::vector<std::string> parts =
      absl::StrSplit(absl::string_view(req.path).substr(sizeof("/containerLogs/") - 1), '/');
  if (parts.size() != 3 || parts[0].empty() || parts[1].empty() || parts[2].empty()) {
    ex->respond(textResponse(404, "404 page not found\n"));
    return;
  }
  const std::string &ns = parts[0], &podName = parts[1], &container = parts[2];
  auto opts = logs::parseLogOptions(req, absl::Now());
  if (!opts.ok()) {
    ex->respond(textResponse(logs::logOptionsErrorHttpStatus(opts.status()),
                             std::string(opts.status().message())));
    return;
  }
  std::shared_ptr<const api::Pod> pod = podByName(ns, podName);
  if (!pod) {
    ex->respond(textResponse(404, absl::StrCat("pod \"", podName, "\" does not exist")));
    return;
  }
  if (!hasContainerSpec(*pod, container)) {
    ex->respond(textResponse(
        404, absl::StrCat("container \"", container, "\" not found in pod \"", podName, "\"")));
    return;
  }
  auto id = logContainerId(*pod, container, opts->previous);
  if (!id.ok()) {
    ex->respond(textResponse(400, std::string(id.status().message())));
    return;
  }
  // The log file is the runtime's (CRI ContainerStatus.log_path), as the kubelet reads it.
  cri::RuntimeService* rt = runtimeSvc_.get();
  core::EventLoop* loop = &loop_;
  core::runOnPool(
      *pool_, loop_,
      [rt, cid = *id]() -> absl::StatusOr<std::string> {
        ASSIGN_OR_RETURN(auto st, rt->containerStatus(cid, false));
        return st.status().log_path();
      },
      [this, ex, loop, rt, cid = *id, o = *opts](absl::StatusOr<std::string> path) {
        if (ex->closed()) return;
        if (!path.ok()) {
          ex->respond(textResponse(400, absl::StrCat("failed to get container status \"", cid,
                                                     "\": ", path.status().message())));
          return;
        }
        logs::IsRunningFn isRunning = [this, rt, cid](std::function<void(bool)> done) {
          core::runOnPool(
              *pool_, loop_,
              [rt, cid] {
                auto st = rt->containerStatus(cid, false);
                return st.ok() &&
                       st->status().state() == ::runtime::v1::ContainerState::CONTAINER_RUNNING;
              },
              std::move(done));
        };
        logs::serveContainerLogs(*loop, ex, o, *path, std::move(isRunning));
      });
}

void Agent::updateGaugeMetrics() {
  // Counted when scraped, from the PLEG's view (the kubelet's collectors do the same).
  int64_t pods = 0;
  std::map<std::string, int64_t> byState;
  workers_->forEachPod([&](const pods::PodView& v) {
    if (v.runtime == nullptr) return;
    bool running =
        std::any_of(v.runtime->sandboxes.begin(), v.runtime->sandboxes.end(),
                    [](const auto& sb) { return sb.state == runtime::SandboxState::kReady; });
    if (running) ++pods;
    for (const auto& c : v.runtime->containers) {
      switch (c.state) {
        case runtime::ContainerState::kCreated:
          ++byState["created"];
          break;
        case runtime::ContainerState::kRunning:
          ++byState["running"];
          break;
        case runtime::ContainerState::kExited:
          ++byState["exited"];
          break;
        default:
          ++byState["unknown"];
          break;
      }
    }
  });
  metrics_->runningPods.set(static_cast<double>(pods));
  for (const char* state : {"created", "running", "exited", "unknown"}) {
    metrics_->runningContainers.with({state}).set(static_cast<double>(byState[state]));
  }
}

absl::StatusOr<server::TlsOptions> Agent::apiTlsOptions(const kubeapi::CertKeyPair& pair) const {
  server::TlsOptions tls;
  tls.certPem = pair.certPem;
  tls.keyPem = pair.keyPem;
  tls.minVersion = cfg_.tlsMinVersion;
  tls.cipherSuites = cfg_.tlsCipherSuites;
  if (!cfg_.authentication.clientCAFile.empty()) {
    auto ca = core::readFile(cfg_.authentication.clientCAFile);
    if (!ca.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("authentication.x509.clientCAFile (--client-ca-file) ",
                       cfg_.authentication.clientCAFile, ": ", ca.status().message()));
    }
    tls.clientCaPem = std::move(*ca);
  }
  return tls;
}

absl::Status Agent::serveApi(const kubeapi::CertKeyPair& pair) {
  ASSIGN_OR_RETURN(server::TlsOptions tls, apiTlsOptions(pair));
  // A rotated certificate: the old server (and its connections) goes first, to
  // free the port.
  api_.reset();
  auto s = server::HttpServer::createTls(loop_, cfg_.address, cfg_.port, tls);
  if (!s.ok()) return core::annotate(s.status(), "kubelet API server");
  api_ = std::move(*s);
  // kubelet_http_requests_total and _inflight go up as a request arrives (before its
  // authentication, as upstream counts it), and down when it is finished.
  api_->setFilter(
      [this, auth = authFilter_->filter()](server::ExchangePtr ex, std::function<void()> next) {
        const server::HttpRequest& req = ex->request();
        metrics_->httpRequestStarted(
            metrics::KubeletMetrics::httpLabels(req.method, req.path, "readwrite"));
        auth(std::move(ex), std::move(next));
      });
  api_->setObserver([this](const server::HttpRequest& req, int, core::Duration elapsed) {
    metrics_->httpRequestFinished(
        metrics::KubeletMetrics::httpLabels(req.method, req.path, "readwrite"),
        std::chrono::duration<double>(elapsed).count());
  });
  installApiHandlers(*api_);
  LOG_INFO << "Serving the kubelet API on " << cfg_.address << ":" << cfg_.port << " (HTTPS)";
  return absl::OkStatus();
}

absl::Status Agent::startApiServer() {
  RETURN_IF_ERROR(server::validateTlsSettings(cfg_.tlsMinVersion, cfg_.tlsCipherSuites));
  kubeapi::ApiClient* client = nullptr;
  if (cluster_) {
    clusterClient_ = std::make_unique<ClusterApiClient>(cluster_.get());
    client = clusterClient_.get();
  }
  auto filter = server::AuthFilter::create(cfg_.authentication, cfg_.authorization, cfg_.nodeName,
                                           client, loop_);
  if (!filter.ok()) return core::annotate(filter.status(), "kubelet API server");
  authFilter_ = std::move(*filter);

  server::ServingCertOptions so;
  so.certDir = cfg_.certDir;
  so.tlsCertFile = cfg_.tlsCertFile;
  so.tlsPrivateKeyFile = cfg_.tlsPrivateKeyFile;
  so.serverTlsBootstrap = cfg_.serverTLSBootstrap;
  so.hostname = cfg_.nodeName;
  so.nodeName = cfg_.nodeName;
  std::vector<node::NodeAddress> addresses = {{"InternalIP", nodeIP_}, {"Hostname", cfg_.nodeName}};
  auto cert = server::ServingCertificate::create(
      loop_, *pool_, so, cfg_.serverTLSBootstrap ? client : nullptr, addresses);
  if (!cert.ok()) return core::annotate(cert.status(), "kubelet API serving certificate");
  servingCert_ = std::move(*cert);
  servingCert_->onRotated([this](const kubeapi::CertKeyPair& pair) {
    if (absl::Status s = serveApi(pair); !s.ok()) {
      LOG_ERROR << "kubelet API with the new serving certificate: " << s.message();
    }
  });
  if (auto pair = servingCert_->current()) return serveApi(*pair);
  LOG_INFO << "The kubelet API waits for its serving certificate (serverTLSBootstrap)";
  return absl::OkStatus();
}

void Agent::startContainerLogRotation() {
  logs::ContainerLogPolicy policy;
  if (auto q = api::Quantity::parse(cfg_.containerLogMaxSize); q.ok())
    policy.maxSizeBytes = q->value();
  policy.maxFiles = cfg_.containerLogMaxFiles;
  logRotation_ =
      std::make_unique<logs::ContainerLogManager>(loop_, *pool_, *runtimeSvc_, policy, [this] {
        std::vector<logs::RunningContainerLog> out;
        workers_->forEachPod([&](const pods::PodView& v) {
          if (v.runtime == nullptr) return;
          std::string dir = absl::StrCat(cfg_.podLogsDir, "/", v.runtime->namespace_, "_",
                                         v.runtime->name, "_", v.runtime->uid, "/");
          for (const auto& c : v.runtime->containers) {
            if (c.state != runtime::ContainerState::kRunning) continue;
            out.push_back({c.id, dir + runtime::containerLogPath(c.name, c.restartCount)});
          }
        });
        return out;
      });
  logRotation_->start();
}

absl::Status Agent::startServers() {
  if (cfg_.healthzPort > 0) {
    // As the kubelet's: the ping check only (the API port's /healthz has the rest).
    auto s = server::HttpServer::create(loop_, cfg_.healthzBindAddress, cfg_.healthzPort);
    if (!s.ok()) return core::annotate(s.status(), "healthz server");
    healthz_ = std::move(*s);
    healthz_->handle("/healthz", [](const server::HttpRequest&) { return ok(); });
  }
  if (cfg_.readOnlyPort > 0) {
    auto s = server::HttpServer::create(loop_, cfg_.address, cfg_.readOnlyPort);
    if (!s.ok()) return core::annotate(s.status(), "read-only server");
    readOnly_ = std::move(*s);
    readOnly_->handle("/healthz", [](const server::HttpRequest&) { return ok(); });
    installCommonHandlers(*readOnly_);
  }
  if (cfg_.enableServer) RETURN_IF_ERROR(startApiServer());
  return absl::OkStatus();
}

}  // namespace agent
