// FakeCriServer: the two CRI services over one in-memory State, answering as
// containerd 1.6 does where callers can tell (NotFound for unknown ids on
// status/start/stop, idempotent removes, no sandbox IP on the host network).
#include "tests/fakes/fake_cri_server.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cri/image_ref.h"

namespace cubelet::testing {
namespace {

namespace v1 = runtime::v1;
using State = FakeCriServer::State;
using Labels = google::protobuf::Map<std::string, std::string>;

int64_t nowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Records the call, then applies the method's delay and injected failure.
// Returns the status to answer with when the call must not be handled.
std::optional<grpc::Status> intercept(State& st, grpc::ServerContext* ctx, const char* method) {
  std::chrono::milliseconds delay{0};
  {
    std::lock_guard lock(st.mu);
    st.calls.emplace_back(method);
    if (auto it = st.faults.find(method); it != st.faults.end()) delay = it->second.delay;
  }
  auto until = std::chrono::steady_clock::now() + delay;
  while (std::chrono::steady_clock::now() < until) {
    if (ctx->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "caller gave up");
    {
      std::lock_guard lock(st.mu);
      if (st.stopping) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "fake CRI stopping");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::lock_guard lock(st.mu);
  auto it = st.faults.find(method);
  if (it == st.faults.end() || !it->second.status || it->second.times == 0) return std::nullopt;
  if (it->second.times > 0) --it->second.times;
  return it->second.status;
}

#define FAKE_CRI_INTERCEPT(name) \
  if (auto injected = intercept(*st_, ctx, name)) return *injected

grpc::Status notFound(std::string_view what, std::string_view id) {
  return grpc::Status(grpc::StatusCode::NOT_FOUND,
                      absl::StrCat("an error occurred when try to find ", std::string(what), " \"",
                                   std::string(id), "\": not found"));
}

bool selected(const Labels& labels, const Labels& selector) {
  for (const auto& [k, v] : selector) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  return true;
}

std::string normalizedOr(const std::string& ref) {
  auto parsed = cri::parseImageRef(ref);
  return parsed.ok() ? parsed->normalized() : ref;
}

v1::Image* findImage(State& st, const std::string& ref) {
  std::string norm = normalizedOr(ref);
  for (auto& [id, image] : st.images) {
    if (id == ref) return &image;
    for (const auto& tag : image.repo_tags()) {
      if (tag == ref || tag == norm) return &image;
    }
  }
  return nullptr;
}

v1::Image& addImageLocked(State& st, const std::string& ref, uint64_t size) {
  if (v1::Image* existing = findImage(st, ref)) return *existing;
  std::string id = absl::StrFormat("sha256:1a%062x", st.nextId++);
  v1::Image& image = st.images[id];
  image.set_id(id);
  image.add_repo_tags(normalizedOr(ref));
  image.set_size(size);
  image.mutable_spec()->set_image(id);
  return image;
}

bool hostNetwork(const v1::PodSandboxConfig& config) {
  return config.linux().security_context().namespace_options().network() == v1::NODE;
}

class RuntimeImpl final : public v1::RuntimeService::Service {
 public:
  explicit RuntimeImpl(std::shared_ptr<State> st) : st_(std::move(st)) {}

  grpc::Status Version(grpc::ServerContext* ctx, const v1::VersionRequest*,
                       v1::VersionResponse* resp) override {
    FAKE_CRI_INTERCEPT("Version");
    resp->set_version("0.1.0");
    resp->set_runtime_name("fake-cri");
    resp->set_runtime_version("1.0.0");
    resp->set_runtime_api_version("v1");
    return grpc::Status::OK;
  }

  grpc::Status Status(grpc::ServerContext* ctx, const v1::StatusRequest*,
                      v1::StatusResponse* resp) override {
    FAKE_CRI_INTERCEPT("Status");
    std::lock_guard lock(st_->mu);
    auto add = [&](const char* type, bool ok) {
      auto* c = resp->mutable_status()->add_conditions();
      c->set_type(type);
      c->set_status(ok);
      if (!ok) c->set_reason("FakeNotReady");
    };
    add("RuntimeReady", st_->runtimeReady);
    add("NetworkReady", st_->networkReady);
    return grpc::Status::OK;
  }

  grpc::Status RunPodSandbox(grpc::ServerContext* ctx, const v1::RunPodSandboxRequest* req,
                             v1::RunPodSandboxResponse* resp) override {
    FAKE_CRI_INTERCEPT("RunPodSandbox");
    if (!req->config().has_metadata() || req->config().metadata().name().empty()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "sandbox config must include metadata");
    }
    std::lock_guard lock(st_->mu);
    uint64_t n = st_->nextId++;
    std::string id = absl::StrFormat("5b%062x", n);
    FakeCriServer::Sandbox& sb = st_->sandboxes[id];
    sb.config = req->config();
    sb.createdAt = nowNanos();
    sb.runtimeHandler = req->runtime_handler();
    if (!hostNetwork(sb.config)) sb.ip = absl::StrCat("10.88.", (n >> 8) & 255, ".", n & 255);
    resp->set_pod_sandbox_id(id);
    return grpc::Status::OK;
  }

  grpc::Status StopPodSandbox(grpc::ServerContext* ctx, const v1::StopPodSandboxRequest* req,
                              v1::StopPodSandboxResponse*) override {
    FAKE_CRI_INTERCEPT("StopPodSandbox");
    std::lock_guard lock(st_->mu);
    auto it = st_->sandboxes.find(req->pod_sandbox_id());
    if (it == st_->sandboxes.end()) return notFound("sandbox", req->pod_sandbox_id());
    it->second.state = v1::SANDBOX_NOTREADY;
    for (auto& [id, c] : st_->containers) {
      if (c.sandboxId == it->first && c.state == v1::CONTAINER_RUNNING) stop(c);
    }
    return grpc::Status::OK;
  }

  grpc::Status RemovePodSandbox(grpc::ServerContext* ctx, const v1::RemovePodSandboxRequest* req,
                                v1::RemovePodSandboxResponse*) override {
    FAKE_CRI_INTERCEPT("RemovePodSandbox");
    std::lock_guard lock(st_->mu);
    std::erase_if(st_->containers,
                  [&](const auto& kv) { return kv.second.sandboxId == req->pod_sandbox_id(); });
    st_->sandboxes.erase(req->pod_sandbox_id());
    return grpc::Status::OK;
  }

  grpc::Status PodSandboxStatus(grpc::ServerContext* ctx, const v1::PodSandboxStatusRequest* req,
                                v1::PodSandboxStatusResponse* resp) override {
    FAKE_CRI_INTERCEPT("PodSandboxStatus");
    std::lock_guard lock(st_->mu);
    auto it = st_->sandboxes.find(req->pod_sandbox_id());
    if (it == st_->sandboxes.end()) return notFound("sandbox", req->pod_sandbox_id());
    const FakeCriServer::Sandbox& sb = it->second;
    v1::PodSandboxStatus* s = resp->mutable_status();
    s->set_id(it->first);
    *s->mutable_metadata() = sb.config.metadata();
    s->set_state(sb.state);
    s->set_created_at(sb.createdAt);
    s->mutable_network()->set_ip(sb.ip);
    *s->mutable_linux()->mutable_namespaces()->mutable_options() =
        sb.config.linux().security_context().namespace_options();
    *s->mutable_labels() = sb.config.labels();
    *s->mutable_annotations() = sb.config.annotations();
    s->set_runtime_handler(sb.runtimeHandler);
    return grpc::Status::OK;
  }

  grpc::Status ListPodSandbox(grpc::ServerContext* ctx, const v1::ListPodSandboxRequest* req,
                              v1::ListPodSandboxResponse* resp) override {
    FAKE_CRI_INTERCEPT("ListPodSandbox");
    const v1::PodSandboxFilter& f = req->filter();
    std::lock_guard lock(st_->mu);
    for (const auto& [id, sb] : st_->sandboxes) {
      if (!f.id().empty() && f.id() != id) continue;
      if (f.has_state() && f.state().state() != sb.state) continue;
      if (!selected(sb.config.labels(), f.label_selector())) continue;
      v1::PodSandbox* item = resp->add_items();
      item->set_id(id);
      *item->mutable_metadata() = sb.config.metadata();
      item->set_state(sb.state);
      item->set_created_at(sb.createdAt);
      *item->mutable_labels() = sb.config.labels();
      *item->mutable_annotations() = sb.config.annotations();
      item->set_runtime_handler(sb.runtimeHandler);
    }
    return grpc::Status::OK;
  }

  grpc::Status CreateContainer(grpc::ServerContext* ctx, const v1::CreateContainerRequest* req,
                               v1::CreateContainerResponse* resp) override {
    FAKE_CRI_INTERCEPT("CreateContainer");
    std::lock_guard lock(st_->mu);
    if (!st_->sandboxes.contains(req->pod_sandbox_id())) {
      return notFound("sandbox", req->pod_sandbox_id());
    }
    const v1::Image* image = findImage(*st_, req->config().image().image());
    if (image == nullptr) {
      return notFound("image", req->config().image().image());
    }
    std::string id = absl::StrFormat("c0%062x", st_->nextId++);
    FakeCriServer::Container& c = st_->containers[id];
    c.sandboxId = req->pod_sandbox_id();
    c.config = req->config();
    c.createdAt = nowNanos();
    c.imageRef = image->id();
    c.resources = req->config().linux().resources();
    resp->set_container_id(id);
    return grpc::Status::OK;
  }

  grpc::Status StartContainer(grpc::ServerContext* ctx, const v1::StartContainerRequest* req,
                              v1::StartContainerResponse*) override {
    FAKE_CRI_INTERCEPT("StartContainer");
    std::lock_guard lock(st_->mu);
    auto it = st_->containers.find(req->container_id());
    if (it == st_->containers.end()) return notFound("container", req->container_id());
    if (it->second.state != v1::CONTAINER_CREATED) {
      return grpc::Status(grpc::StatusCode::UNKNOWN, "container is not in created state");
    }
    it->second.state = v1::CONTAINER_RUNNING;
    it->second.startedAt = nowNanos();
    return grpc::Status::OK;
  }

  grpc::Status StopContainer(grpc::ServerContext* ctx, const v1::StopContainerRequest* req,
                             v1::StopContainerResponse*) override {
    FAKE_CRI_INTERCEPT("StopContainer");
    std::lock_guard lock(st_->mu);
    st_->stops.emplace_back(req->container_id(), req->timeout());
    auto it = st_->containers.find(req->container_id());
    if (it == st_->containers.end()) return notFound("container", req->container_id());
    if (it->second.state == v1::CONTAINER_RUNNING) stop(it->second);
    return grpc::Status::OK;
  }

  grpc::Status RemoveContainer(grpc::ServerContext* ctx, const v1::RemoveContainerRequest* req,
                               v1::RemoveContainerResponse*) override {
    FAKE_CRI_INTERCEPT("RemoveContainer");
    std::lock_guard lock(st_->mu);
    st_->containers.erase(req->container_id());
    return grpc::Status::OK;
  }

  grpc::Status ListContainers(grpc::ServerContext* ctx, const v1::ListContainersRequest* req,
                              v1::ListContainersResponse* resp) override {
    FAKE_CRI_INTERCEPT("ListContainers");
    const v1::ContainerFilter& f = req->filter();
    std::lock_guard lock(st_->mu);
    for (const auto& [id, c] : st_->containers) {
      if (!f.id().empty() && f.id() != id) continue;
      if (f.has_state() && f.state().state() != c.state) continue;
      if (!f.pod_sandbox_id().empty() && f.pod_sandbox_id() != c.sandboxId) continue;
      if (!selected(c.config.labels(), f.label_selector())) continue;
      v1::Container* item = resp->add_containers();
      item->set_id(id);
      item->set_pod_sandbox_id(c.sandboxId);
      *item->mutable_metadata() = c.config.metadata();
      *item->mutable_image() = c.config.image();
      item->set_image_ref(c.imageRef);
      item->set_image_id(c.imageRef);
      item->set_state(c.state);
      item->set_created_at(c.createdAt);
      *item->mutable_labels() = c.config.labels();
      *item->mutable_annotations() = c.config.annotations();
    }
    return grpc::Status::OK;
  }

  grpc::Status ContainerStatus(grpc::ServerContext* ctx, const v1::ContainerStatusRequest* req,
                               v1::ContainerStatusResponse* resp) override {
    FAKE_CRI_INTERCEPT("ContainerStatus");
    std::lock_guard lock(st_->mu);
    auto it = st_->containers.find(req->container_id());
    if (it == st_->containers.end()) return notFound("container", req->container_id());
    const FakeCriServer::Container& c = it->second;
    v1::ContainerStatus* s = resp->mutable_status();
    s->set_id(it->first);
    *s->mutable_metadata() = c.config.metadata();
    s->set_state(c.state);
    s->set_created_at(c.createdAt);
    s->set_started_at(c.startedAt);
    s->set_finished_at(c.finishedAt);
    s->set_exit_code(c.exitCode);
    *s->mutable_image() = c.config.image();
    s->set_image_ref(c.imageRef);
    s->set_image_id(c.imageRef);
    s->set_reason(c.reason);
    *s->mutable_labels() = c.config.labels();
    *s->mutable_annotations() = c.config.annotations();
    *s->mutable_mounts() = c.config.mounts();
    auto sb = st_->sandboxes.find(c.sandboxId);
    if (sb != st_->sandboxes.end() && !c.config.log_path().empty()) {
      s->set_log_path(absl::StrCat(sb->second.config.log_directory(), "/", c.config.log_path()));
    }
    if (st_->reportsResources) *s->mutable_resources()->mutable_linux() = c.resources;
    if (req->verbose() && sb != st_->sandboxes.end()) {
      // containerd's verbose info: the OCI spec it handed runc, among other things.
      const std::string& parent = sb->second.config.linux().cgroup_parent();
      (*resp->mutable_info())["info"] = absl::StrCat(R"({"sandboxID":")", c.sandboxId,
                                                     R"(","runtimeSpec":{"linux":{"cgroupsPath":")",
                                                     parent, "/", it->first, R"("}}})");
    }
    return grpc::Status::OK;
  }

  grpc::Status UpdateContainerResources(grpc::ServerContext* ctx,
                                        const v1::UpdateContainerResourcesRequest* req,
                                        v1::UpdateContainerResourcesResponse*) override {
    FAKE_CRI_INTERCEPT("UpdateContainerResources");
    std::lock_guard lock(st_->mu);
    st_->resourceUpdates.emplace_back(req->container_id(), req->linux());
    auto it = st_->containers.find(req->container_id());
    if (it == st_->containers.end()) return notFound("container", req->container_id());
    it->second.resources = req->linux();
    return grpc::Status::OK;
  }

  grpc::Status ReopenContainerLog(grpc::ServerContext* ctx,
                                  const v1::ReopenContainerLogRequest* req,
                                  v1::ReopenContainerLogResponse*) override {
    FAKE_CRI_INTERCEPT("ReopenContainerLog");
    std::lock_guard lock(st_->mu);
    auto it = st_->containers.find(req->container_id());
    if (it == st_->containers.end()) return notFound("container", req->container_id());
    if (it->second.state != v1::CONTAINER_RUNNING) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "container is not running");
    }
    return grpc::Status::OK;
  }

  grpc::Status ExecSync(grpc::ServerContext* ctx, const v1::ExecSyncRequest* req,
                        v1::ExecSyncResponse* resp) override {
    FAKE_CRI_INTERCEPT("ExecSync");
    FakeCriServer::ExecSyncHandler handler;
    {
      std::lock_guard lock(st_->mu);
      auto it = st_->containers.find(req->container_id());
      if (it == st_->containers.end()) return notFound("container", req->container_id());
      if (it->second.state != v1::CONTAINER_RUNNING) {
        return grpc::Status(grpc::StatusCode::UNKNOWN, "container is not running");
      }
      handler = st_->execSync;
    }
    if (handler) *resp = handler(*req);
    return grpc::Status::OK;
  }

  grpc::Status ContainerStats(grpc::ServerContext* ctx, const v1::ContainerStatsRequest* req,
                              v1::ContainerStatsResponse* resp) override {
    FAKE_CRI_INTERCEPT("ContainerStats");
    std::lock_guard lock(st_->mu);
    auto it = st_->containers.find(req->container_id());
    if (it == st_->containers.end()) return notFound("container", req->container_id());
    fillStats(*st_, it->first, it->second, resp->mutable_stats());
    return grpc::Status::OK;
  }

  grpc::Status ListContainerStats(grpc::ServerContext* ctx,
                                  const v1::ListContainerStatsRequest* req,
                                  v1::ListContainerStatsResponse* resp) override {
    FAKE_CRI_INTERCEPT("ListContainerStats");
    const v1::ContainerStatsFilter& f = req->filter();
    std::lock_guard lock(st_->mu);
    for (const auto& [id, c] : st_->containers) {
      if (c.state != v1::CONTAINER_RUNNING) continue;
      if (!f.id().empty() && f.id() != id) continue;
      if (!f.pod_sandbox_id().empty() && f.pod_sandbox_id() != c.sandboxId) continue;
      if (!selected(c.config.labels(), f.label_selector())) continue;
      fillStats(*st_, id, c, resp->add_stats());
    }
    return grpc::Status::OK;
  }

  grpc::Status UpdateRuntimeConfig(grpc::ServerContext* ctx,
                                   const v1::UpdateRuntimeConfigRequest* req,
                                   v1::UpdateRuntimeConfigResponse*) override {
    FAKE_CRI_INTERCEPT("UpdateRuntimeConfig");
    std::lock_guard lock(st_->mu);
    st_->podCidr = req->runtime_config().network_config().pod_cidr();
    return grpc::Status::OK;
  }

 private:
  static void stop(FakeCriServer::Container& c) {
    c.state = v1::CONTAINER_EXITED;
    c.finishedAt = nowNanos();
    c.exitCode = 137;
    c.reason = "Error";
  }

  static void fillStats(const State& st, const std::string& id, const FakeCriServer::Container& c,
                        v1::ContainerStats* out) {
    FakeCriServer::StatsValues values;
    if (auto it = st.stats.find(id); it != st.stats.end()) values = it->second;
    out->mutable_attributes()->set_id(id);
    *out->mutable_attributes()->mutable_metadata() = c.config.metadata();
    *out->mutable_attributes()->mutable_labels() = c.config.labels();
    *out->mutable_attributes()->mutable_annotations() = c.config.annotations();
    int64_t now = nowNanos();
    if (values.reportCpu) {
      out->mutable_cpu()->set_timestamp(now);
      out->mutable_cpu()->mutable_usage_core_nano_seconds()->set_value(
          values.cpuUsageCoreNanoSeconds);
    }
    if (values.reportMemory) {
      out->mutable_memory()->set_timestamp(now);
      out->mutable_memory()->mutable_working_set_bytes()->set_value(values.memoryWorkingSetBytes);
    }
    if (values.reportMemory && values.memoryUsageBytes) {
      out->mutable_memory()->mutable_usage_bytes()->set_value(values.memoryUsageBytes);
    }
    if (values.writableLayerBytes || values.writableLayerInodes) {
      v1::FilesystemUsage* fs = out->mutable_writable_layer();
      fs->set_timestamp(now);
      fs->mutable_fs_id()->set_mountpoint(st.imageFsMountpoint);
      fs->mutable_used_bytes()->set_value(values.writableLayerBytes);
      fs->mutable_inodes_used()->set_value(values.writableLayerInodes);
    }
  }

  std::shared_ptr<State> st_;
};

class ImageImpl final : public v1::ImageService::Service {
 public:
  explicit ImageImpl(std::shared_ptr<State> st) : st_(std::move(st)) {}

  grpc::Status ListImages(grpc::ServerContext* ctx, const v1::ListImagesRequest* req,
                          v1::ListImagesResponse* resp) override {
    FAKE_CRI_INTERCEPT("ListImages");
    std::lock_guard lock(st_->mu);
    const std::string& want = req->filter().image().image();
    for (const auto& [id, image] : st_->images) {
      if (!want.empty() && findImage(*st_, want) != &image) continue;
      *resp->add_images() = image;
    }
    return grpc::Status::OK;
  }

  grpc::Status ImageStatus(grpc::ServerContext* ctx, const v1::ImageStatusRequest* req,
                           v1::ImageStatusResponse* resp) override {
    FAKE_CRI_INTERCEPT("ImageStatus");
    std::lock_guard lock(st_->mu);
    if (const v1::Image* image = findImage(*st_, req->image().image())) {
      *resp->mutable_image() = *image;
    }
    return grpc::Status::OK;
  }

  grpc::Status PullImage(grpc::ServerContext* ctx, const v1::PullImageRequest* req,
                         v1::PullImageResponse* resp) override {
    FAKE_CRI_INTERCEPT("PullImage");
    if (!cri::parseImageRef(req->image().image()).ok()) {
      return grpc::Status(grpc::StatusCode::UNKNOWN,
                          absl::StrCat("failed to pull and unpack image \"", req->image().image(),
                                       "\": invalid reference format"));
    }
    std::lock_guard lock(st_->mu);
    resp->set_image_ref(addImageLocked(*st_, req->image().image(), 1 << 20).id());
    return grpc::Status::OK;
  }

  grpc::Status RemoveImage(grpc::ServerContext* ctx, const v1::RemoveImageRequest* req,
                           v1::RemoveImageResponse*) override {
    FAKE_CRI_INTERCEPT("RemoveImage");
    std::lock_guard lock(st_->mu);
    if (const v1::Image* image = findImage(*st_, req->image().image())) {
      st_->images.erase(image->id());
    }
    return grpc::Status::OK;
  }

  grpc::Status ImageFsInfo(grpc::ServerContext* ctx, const v1::ImageFsInfoRequest*,
                           v1::ImageFsInfoResponse* resp) override {
    FAKE_CRI_INTERCEPT("ImageFsInfo");
    std::lock_guard lock(st_->mu);
    uint64_t used = 0;
    for (const auto& [id, image] : st_->images) used += image.size();
    v1::FilesystemUsage* fs = resp->add_image_filesystems();
    fs->set_timestamp(nowNanos());
    fs->mutable_fs_id()->set_mountpoint(st_->imageFsMountpoint);
    fs->mutable_used_bytes()->set_value(used);
    fs->mutable_inodes_used()->set_value(st_->images.size());
    return grpc::Status::OK;
  }

 private:
  std::shared_ptr<State> st_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<FakeCriServer>> FakeCriServer::start(const std::string& socketPath) {
  std::unique_ptr<FakeCriServer> server(new FakeCriServer());
  server->socketPath_ = socketPath;
  server->state_ = std::make_shared<State>();
  server->runtimeService_ = std::make_unique<RuntimeImpl>(server->state_);
  server->imageService_ = std::make_unique<ImageImpl>(server->state_);
  ::unlink(socketPath.c_str());
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix://" + socketPath, grpc::InsecureServerCredentials());
  builder.RegisterService(server->runtimeService_.get());
  builder.RegisterService(server->imageService_.get());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr) {
    return absl::InternalError(absl::StrCat("fake CRI server: cannot listen on ", socketPath));
  }
  return server;
}

FakeCriServer::~FakeCriServer() {
  {
    std::lock_guard lock(state_->mu);
    state_->stopping = true;
  }
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  server_->Wait();
  ::unlink(socketPath_.c_str());
}

void FakeCriServer::failWith(const std::string& method, grpc::Status status, int times) {
  std::lock_guard lock(state_->mu);
  Fault& f = state_->faults[method];
  f.status = std::move(status);
  f.times = times;
}

void FakeCriServer::delay(const std::string& method, std::chrono::milliseconds d) {
  std::lock_guard lock(state_->mu);
  state_->faults[method].delay = d;
}

void FakeCriServer::clearFaults() {
  std::lock_guard lock(state_->mu);
  state_->faults.clear();
}

int FakeCriServer::callCount(const std::string& method) const {
  std::lock_guard lock(state_->mu);
  return static_cast<int>(std::count(state_->calls.begin(), state_->calls.end(), method));
}

std::vector<std::string> FakeCriServer::callLog() const {
  std::lock_guard lock(state_->mu);
  return state_->calls;
}

std::vector<std::pair<std::string, int64_t>> FakeCriServer::stopCalls() const {
  std::lock_guard lock(state_->mu);
  return state_->stops;
}

void FakeCriServer::addImage(const std::string& ref, uint64_t sizeBytes) {
  std::lock_guard lock(state_->mu);
  addImageLocked(*state_, ref, sizeBytes);
}

void FakeCriServer::setExecSyncHandler(ExecSyncHandler handler) {
  std::lock_guard lock(state_->mu);
  state_->execSync = std::move(handler);
}

std::vector<FakeCriServer::ResourceUpdate> FakeCriServer::resourceUpdates() const {
  std::lock_guard lock(state_->mu);
  return state_->resourceUpdates;
}

void FakeCriServer::setReportsResources(bool reports) {
  std::lock_guard lock(state_->mu);
  state_->reportsResources = reports;
}

void FakeCriServer::setConditions(bool runtimeReady, bool networkReady) {
  std::lock_guard lock(state_->mu);
  state_->runtimeReady = runtimeReady;
  state_->networkReady = networkReady;
}

void FakeCriServer::exitContainer(const std::string& id, int exitCode, const std::string& reason) {
  std::lock_guard lock(state_->mu);
  auto it = state_->containers.find(id);
  if (it == state_->containers.end()) return;
  it->second.state = v1::CONTAINER_EXITED;
  it->second.finishedAt = nowNanos();
  it->second.exitCode = exitCode;
  it->second.reason = reason;
}

void FakeCriServer::setContainerStats(const std::string& id, StatsValues values) {
  std::lock_guard lock(state_->mu);
  state_->stats[id] = values;
}

void FakeCriServer::setImageFsMountpoint(const std::string& path) {
  std::lock_guard lock(state_->mu);
  state_->imageFsMountpoint = path;
}

std::optional<v1::PodSandboxConfig> FakeCriServer::sandboxConfig(const std::string& id) const {
  std::lock_guard lock(state_->mu);
  auto it = state_->sandboxes.find(id);
  if (it == state_->sandboxes.end()) return std::nullopt;
  return it->second.config;
}

std::optional<v1::ContainerConfig> FakeCriServer::containerConfig(const std::string& id) const {
  std::lock_guard lock(state_->mu);
  auto it = state_->containers.find(id);
  if (it == state_->containers.end()) return std::nullopt;
  return it->second.config;
}

std::optional<v1::LinuxContainerResources> FakeCriServer::containerResources(
    const std::string& id) const {
  std::lock_guard lock(state_->mu);
  auto it = state_->containers.find(id);
  if (it == state_->containers.end()) return std::nullopt;
  return it->second.resources;
}

std::vector<std::string> FakeCriServer::sandboxIds() const {
  std::lock_guard lock(state_->mu);
  std::vector<std::string> ids;
  for (const auto& [id, sb] : state_->sandboxes) ids.push_back(id);
  return ids;
}

std::vector<std::string> FakeCriServer::containerIds() const {
  std::lock_guard lock(state_->mu);
  std::vector<std::string> ids;
  for (const auto& [id, c] : state_->containers) ids.push_back(id);
  return ids;
}

std::string FakeCriServer::podCidr() const {
  std::lock_guard lock(state_->mu);
  return state_->podCidr;
}

}  // namespace cubelet::testing
