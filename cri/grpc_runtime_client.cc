// GrpcRuntimeClient: each RuntimeService/ImageService method is one unary gRPC
// call with a deadline, plus the response checks the kubelet's remote runtime
// client makes (a runtime that answers OK with an empty id is an error, not a
// sandbox named "").
#include "cri/grpc_runtime_client.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <algorithm>
#include <array>
#include <iterator>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace cri {
namespace {

namespace v1 = runtime::v1;

// Debian's Abseil keeps its own string_view, which StrCat wants.
absl::string_view av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// What the kubelet sends in VersionRequest.
constexpr char kKubeRuntimeApiVersion[] = "0.1.0";
// The kubelet raises gRPC's 4 MiB default to 16 MiB both ways: ListContainers on
// a busy node and ExecSync output get big.
constexpr int kMaxMessageBytes = 16 * 1024 * 1024;

// gRPC's own names for its codes, as Go's runtime clients print them.
std::string_view codeName(grpc::StatusCode code) {
  static constexpr std::array<std::string_view, 17> kNames = {
      "OK",       "Canceled",       "Unknown",          "InvalidArgument",   "DeadlineExceeded",
      "NotFound", "AlreadyExists",  "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
      "Aborted",  "OutOfRange",     "Unimplemented",    "Internal",          "Unavailable",
      "DataLoss", "Unauthenticated"};
  int i = static_cast<int>(code);
  return i >= 0 && i < static_cast<int>(kNames.size()) ? kNames[i] : "Unknown";
}

// grpc::StatusCode and absl::StatusCode share the canonical numbering; anything
// outside it is Unknown.
absl::StatusCode toAbslCode(grpc::StatusCode code) {
  int i = static_cast<int>(code);
  if (i < 0 || i > static_cast<int>(absl::StatusCode::kUnauthenticated)) {
    return absl::StatusCode::kUnknown;
  }
  return static_cast<absl::StatusCode>(i);
}

std::string oneLine(std::string_view s) {
  return absl::StrReplaceAll(av(s), {{"\r\n", " "}, {"\n", " "}, {"\r", " "}});
}

std::string prefix(std::string_view call, std::string_view object) {
  if (object.empty()) return absl::StrCat("CRI ", av(call));
  return absl::StrCat("CRI ", av(call), " (", av(object), ")");
}

// A runtime answer that is OK on the wire but unusable.
absl::Status badResponse(std::string_view call, std::string_view object, std::string_view what) {
  return absl::UnknownError(absl::StrCat(prefix(call, object), ": runtime returned ", av(what)));
}

std::string quoted(std::string_view s) { return absl::StrCat("\"", av(s), "\""); }

std::string sandboxObject(const std::string& id) { return absl::StrCat("sandbox ", id); }
std::string containerObject(const std::string& id) { return absl::StrCat("container ", id); }
std::string imageObject(const v1::ImageSpec& spec) {
  return absl::StrCat("image ", quoted(spec.image()));
}

}  // namespace

absl::StatusOr<std::string> grpcTargetForEndpoint(std::string_view endpoint) {
  constexpr std::string_view kUnix = "unix://";
  std::string_view path = endpoint;
  if (endpoint.starts_with(kUnix)) {
    path = endpoint.substr(kUnix.size());
  } else if (endpoint.find("://") != std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("container runtime endpoint ", quoted(endpoint),
                                                   ": only unix sockets are supported "
                                                   "(unix:///path/to/socket)"));
  }
  if (path.empty() || path.front() != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("container runtime endpoint ", quoted(endpoint),
                     ": want unix:///absolute/path/to/socket or /absolute/path/to/socket"));
  }
  return absl::StrCat(av(kUnix), av(path));
}

absl::Status fromGrpcStatus(const grpc::Status& status, std::string_view call,
                            std::string_view object) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(
      toAbslCode(status.error_code()),
      absl::StrCat(prefix(call, object), ": rpc error: ", av(codeName(status.error_code())), ": ",
                   oneLine(status.error_message())));
}

absl::StatusOr<std::unique_ptr<GrpcRuntimeClient>> GrpcRuntimeClient::create(
    const std::string& endpoint, std::chrono::milliseconds defaultTimeout,
    std::chrono::milliseconds pullTimeout) {
  auto target = grpcTargetForEndpoint(endpoint);
  if (!target.ok()) return target.status();
  if (defaultTimeout.count() <= 0 || pullTimeout.count() <= 0) {
    return absl::InvalidArgumentError("CRI client: timeouts must be positive");
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  auto channel = grpc::CreateCustomChannel(*target, grpc::InsecureChannelCredentials(), args);
  return std::unique_ptr<GrpcRuntimeClient>(
      new GrpcRuntimeClient(std::move(channel), defaultTimeout, pullTimeout));
}

GrpcRuntimeClient::GrpcRuntimeClient(std::shared_ptr<grpc::Channel> channel,
                                     std::chrono::milliseconds defaultTimeout,
                                     std::chrono::milliseconds pullTimeout)
    : channel_(std::move(channel)),
      runtime_(v1::RuntimeService::NewStub(channel_)),
      images_(v1::ImageService::NewStub(channel_)),
      defaultTimeout_(defaultTimeout),
      pullTimeout_(pullTimeout) {}

template <typename Stub, typename Request, typename Response>
absl::StatusOr<Response> GrpcRuntimeClient::call(
    Stub* stub, grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
    std::string_view name, const Request& request, std::chrono::milliseconds timeout,
    absl::FunctionRef<std::string()> object) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  Response response;
  grpc::Status status = (stub->*method)(&ctx, request, &response);
  if (!status.ok()) return fromGrpcStatus(status, name, object());
  return response;
}

absl::StatusOr<v1::VersionResponse> GrpcRuntimeClient::version() {
  v1::VersionRequest req;
  req.set_version(kKubeRuntimeApiVersion);
  auto resp = call(runtime_.get(), &v1::RuntimeService::Stub::Version, "Version", req,
                   defaultTimeout_, [] { return std::string(); });
  if (!resp.ok()) return resp.status();
  if (resp->version().empty() || resp->runtime_name().empty() || resp->runtime_version().empty() ||
      resp->runtime_api_version().empty()) {
    return badResponse("Version", "", "a version with empty fields");
  }
  return resp;
}

absl::StatusOr<v1::StatusResponse> GrpcRuntimeClient::status(bool verbose) {
  v1::StatusRequest req;
  req.set_verbose(verbose);
  auto resp = call(runtime_.get(), &v1::RuntimeService::Stub::Status, "Status", req,
                   defaultTimeout_, [] { return std::string(); });
  if (!resp.ok()) return resp.status();
  if (!resp->has_status()) return badResponse("Status", "", "no runtime status");
  return resp;
}

absl::StatusOr<std::string> GrpcRuntimeClient::runPodSandbox(const v1::PodSandboxConfig& config,
                                                             const std::string& runtimeHandler) {
  v1::RunPodSandboxRequest req;
  *req.mutable_config() = config;
  req.set_runtime_handler(runtimeHandler);
  auto object = [&] {
    return absl::StrCat(
        "pod ", quoted(absl::StrCat(config.metadata().namespace_(), "/", config.metadata().name())),
        ", uid ", config.metadata().uid());
  };
  auto resp = call(runtime_.get(), &v1::RuntimeService::Stub::RunPodSandbox, "RunPodSandbox", req,
                   defaultTimeout_, object);
  if (!resp.ok()) return resp.status();
  if (resp->pod_sandbox_id().empty()) {
    return badResponse("RunPodSandbox", object(), "an empty sandbox id");
  }
  return std::move(*resp->mutable_pod_sandbox_id());
}

absl::Status GrpcRuntimeClient::stopPodSandbox(const std::string& id) {
  v1::StopPodSandboxRequest req;
  req.set_pod_sandbox_id(id);
  return call(runtime_.get(), &v1::RuntimeService::Stub::StopPodSandbox, "StopPodSandbox", req,
              defaultTimeout_, [&] { return sandboxObject(id); })
      .status();
}

absl::Status GrpcRuntimeClient::removePodSandbox(const std::string& id) {
  v1::RemovePodSandboxRequest req;
  req.set_pod_sandbox_id(id);
  return call(runtime_.get(), &v1::RuntimeService::Stub::RemovePodSandbox, "RemovePodSandbox", req,
              defaultTimeout_, [&] { return sandboxObject(id); })
      .status();
}

absl::StatusOr<v1::PodSandboxStatusResponse> GrpcRuntimeClient::podSandboxStatus(
    const std::string& id, bool verbose) {
  v1::PodSandboxStatusRequest req;
  req.set_pod_sandbox_id(id);
  req.set_verbose(verbose);
  auto resp = call(runtime_.get(), &v1::RuntimeService::Stub::PodSandboxStatus, "PodSandboxStatus",
                   req, defaultTimeout_, [&] { return sandboxObject(id); });
  if (!resp.ok()) return resp.status();
  if (!resp->has_status() || resp->status().id().empty()) {
    return badResponse("PodSandboxStatus", sandboxObject(id), "no sandbox status");
  }
  return resp;
}

absl::StatusOr<std::vector<v1::PodSandbox>> GrpcRuntimeClient::listPodSandbox(
    const v1::PodSandboxFilter& filter) {
  v1::ListPodSandboxRequest req;
  *req.mutable_filter() = filter;
  auto resp = call(runtime_.get(), &v1::RuntimeService::Stub::ListPodSandbox, "ListPodSandbox", req,
                   defaultTimeout_, [] { return std::string(); });
  if (!resp.ok()) return resp.status();
  auto* items = resp->mutable_items();
  return std::vector<v1::PodSandbox>(std::make_move_iterator(items->begin()),
                                     std::make_move_iterator(items->end()));
}

absl::StatusOr<std::string> GrpcRuntimeClient::createContainer(
    const std::string& sandboxId, const v1::ContainerConfig& config,
    const v1::PodSandboxConfig& sandboxConfig) {
  v1::CreateContainerRequest req;
  req.set_pod_sandbox_id(sandboxId);
  *req.mutable_config() = config;
  *req.mutable_sandbox_config() = sandboxConfig;
  auto object = [&] {
    return absl::StrCat(sandboxObject(sandboxId), ", container ", quoted(config.metadata().name()));
  };
  auto resp = call(runtime_.get(), &v1::RuntimeService::Stub::CreateContainer, "CreateContainer",
                   req, defaultTimeout_, object);
  if (!resp.ok()) return resp.status();
  if (resp->container_id().empty()) {
    return badResponse("CreateContainer", object(), "an empty container id");
  }
  return std::move(*resp->mutable_container_id());
}

absl::Status GrpcRuntimeClient::startContainer(const std::string& id) {
  v1::StartContainerRequest req;
  req.set_container_id(id);
  return call(runtime_.get(), &v1::RuntimeService::Stub::StartContainer, "StartContainer", req,
              defaultTimeout_, [&] { return containerObject(id); })
      .status();
}

absl::Status GrpcRuntimeClient::stopContainer(const std::string& id, int64_t timeoutSeconds) {
  v1::StopContainerRequest req;
  req.set_container_id(id);
  req.set_timeout(timeoutSeconds);
  auto deadline = defaultTimeout_ + std::chrono::seconds(std::max<int64_t>(timeoutSeconds, 0));
  return call(runtime_.get(), &v1::RuntimeService::Stub::StopContainer, "StopContainer", req,
              deadline, [&] { return containerObject(id); })
      .status();
}

absl::Status GrpcRuntimeClient::removeContainer(const std::string& id) {
  v1::RemoveContainerRequest req;
  req.set_container_id(id);
  return call(runtime_.get(), &v1::RuntimeService::Stub::RemoveContainer, "RemoveContainer", req,
              defaultTimeout_, [&] { return containerObject(id); })
      .status();
}

absl::StatusOr<std::vector<v1::Container>> GrpcRuntimeClient::listContainers(
    const v1::ContainerFilter& filter) {
  v1::ListContainersRequest req;
  *req.mutable_filter() = filter;
  auto resp = call(runtime_.get(), &v1::RuntimeService::Stub::ListContainers, "ListContainers", req,
                   defaultTimeout_, [] { return std::string(); });
  if (!resp.ok()) return resp.status();
  auto* items = resp->mutable_containers();
  return std::vector<v1::Container>(std::make_move_iterator(items->begin()),
                                    std::make_move_iterator(items->end()));
}

absl::StatusOr<v1::ContainerStatusResponse> GrpcRuntimeClient::containerStatus(
    const std::string& id, bool verbose) {
  v1::ContainerStatusRequest req;
  req.set_container_id(id);
  req.set_verbose(verbose);
  auto resp = call(runtime_.get(), &v1::RuntimeService::Stub::ContainerStatus, "ContainerStatus",
                   req, defaultTimeout_, [&] { return containerObject(id); });
  if (!resp.ok()) return resp.status();
  if (!resp->has_status() || resp->status().id().empty()) {
    return badResponse("ContainerStatus", containerObject(id), "no container status");
  }
  return resp;
}

absl::Status GrpcRuntimeClient::updateContainerResources(const std::string& id,
                                                         const v1::LinuxContainerResources& r) {
  v1::UpdateContainerResourcesRequest req;
  req.set_container_id(id);
  *req.mutable_linux() = r;
  return call(runtime_.get(), &v1::RuntimeService::Stub::UpdateContainerResources,
              "UpdateContainerResources", req, defaultTimeout_, [&] { return containerObject(id); })
      .status();
}

absl::Status GrpcRuntimeClient::reopenContainerLog(const std::string& id) {
  v1::ReopenContainerLogRequest req;
  req.set_container_id(id);
  return call(runtime_.get(), &v1::RuntimeService::Stub::ReopenContainerLog, "ReopenContainerLog",
              req, defaultTimeout_, [&] { return containerObject(id); })
      .status();
}

absl::StatusOr<v1::ExecSyncResponse> GrpcRuntimeClient::execSync(
    const std::string& id, const std::vector<std::string>& cmd, int64_t timeoutSeconds) {
  v1::ExecSyncRequest req;
  req.set_container_id(id);
  for (const auto& arg : cmd) req.add_cmd(arg);
  req.set_timeout(timeoutSeconds);
  // The command's own timeout plus room for the runtime to kill and reap it.
  auto deadline = defaultTimeout_ + std::chrono::seconds(std::max<int64_t>(timeoutSeconds, 0));
  return call(runtime_.get(), &v1::RuntimeService::Stub::ExecSync, "ExecSync", req, deadline,
              [&] { return containerObject(id); });
}

absl::StatusOr<std::string> GrpcRuntimeClient::exec(const v1::ExecRequest& request) {
  auto object = [&] { return containerObject(request.container_id()); };
  auto resp = call(runtime_.get(), &v1::RuntimeService::Stub::Exec, "Exec", request,
                   defaultTimeout_, object);
  if (!resp.ok()) return resp.status();
  if (resp->url().empty()) return badResponse("Exec", object(), "an empty streaming URL");
  return std::move(*resp->mutable_url());
}

absl::StatusOr<std::string> GrpcRuntimeClient::attach(const v1::AttachRequest& request) {
  auto object = [&] { return containerObject(request.container_id()); };
  auto resp = call(runtime_.get(), &v1::RuntimeService::Stub::Attach, "Attach", request,
                   defaultTimeout_, object);
  if (!resp.ok()) return resp.status();
  if (resp->url().empty()) return badResponse("Attach", object(), "an empty streaming URL");
  return std::move(*resp->mutable_url());
}

absl::StatusOr<std::string> GrpcRuntimeClient::portForward(const v1::PortForwardRequest& request) {
  auto object = [&] { return sandboxObject(request.pod_sandbox_id()); };
  auto resp = call(runtime_.get(), &v1::RuntimeService::Stub::PortForward, "PortForward", request,
                   defaultTimeout_, object);
  if (!resp.ok()) return resp.status();
  if (resp->url().empty()) return badResponse("PortForward", object(), "an empty streaming URL");
  return std::move(*resp->mutable_url());
}

absl::StatusOr<v1::ContainerStats> GrpcRuntimeClient::containerStats(const std::string& id) {
  v1::ContainerStatsRequest req;
  req.set_container_id(id);
  auto resp = call(runtime_.get(), &v1::RuntimeService::Stub::ContainerStats, "ContainerStats", req,
                   defaultTimeout_, [&] { return containerObject(id); });
  if (!resp.ok()) return resp.status();
  return std::move(*resp->mutable_stats());
}

absl::StatusOr<std::vector<v1::ContainerStats>> GrpcRuntimeClient::listContainerStats(
    const v1::ContainerStatsFilter& filter) {
  v1::ListContainerStatsRequest req;
  *req.mutable_filter() = filter;
  auto resp = call(runtime_.get(), &v1::RuntimeService::Stub::ListContainerStats,
                   "ListContainerStats", req, defaultTimeout_, [] { return std::string(); });
  if (!resp.ok()) return resp.status();
  auto* items = resp->mutable_stats();
  return std::vector<v1::ContainerStats>(std::make_move_iterator(items->begin()),
                                         std::make_move_iterator(items->end()));
}

absl::StatusOr<v1::PodSandboxStats> GrpcRuntimeClient::podSandboxStats(const std::string& id) {
  v1::PodSandboxStatsRequest req;
  req.set_pod_sandbox_id(id);
  auto resp = call(runtime_.get(), &v1::RuntimeService::Stub::PodSandboxStats, "PodSandboxStats",
                   req, defaultTimeout_, [&] { return sandboxObject(id); });
  if (!resp.ok()) return resp.status();
  return std::move(*resp->mutable_stats());
}

absl::StatusOr<std::vector<v1::PodSandboxStats>> GrpcRuntimeClient::listPodSandboxStats(
    const v1::PodSandboxStatsFilter& filter) {
  v1::ListPodSandboxStatsRequest req;
  *req.mutable_filter() = filter;
  auto resp = call(runtime_.get(), &v1::RuntimeService::Stub::ListPodSandboxStats,
                   "ListPodSandboxStats", req, defaultTimeout_, [] { return std::string(); });
  if (!resp.ok()) return resp.status();
  auto* items = resp->mutable_stats();
  return std::vector<v1::PodSandboxStats>(std::make_move_iterator(items->begin()),
                                          std::make_move_iterator(items->end()));
}

absl::Status GrpcRuntimeClient::updateRuntimeConfig(const std::string& podCidr) {
  v1::UpdateRuntimeConfigRequest req;
  req.mutable_runtime_config()->mutable_network_config()->set_pod_cidr(podCidr);
  return call(runtime_.get(), &v1::RuntimeService::Stub::UpdateRuntimeConfig, "UpdateRuntimeConfig",
              req, defaultTimeout_, [&] { return absl::StrCat("pod CIDR ", quoted(podCidr)); })
      .status();
}

absl::StatusOr<std::vector<v1::Image>> GrpcRuntimeClient::listImages(
    const v1::ImageFilter& filter) {
  v1::ListImagesRequest req;
  *req.mutable_filter() = filter;
  auto resp = call(images_.get(), &v1::ImageService::Stub::ListImages, "ListImages", req,
                   defaultTimeout_, [] { return std::string(); });
  if (!resp.ok()) return resp.status();
  auto* items = resp->mutable_images();
  return std::vector<v1::Image>(std::make_move_iterator(items->begin()),
                                std::make_move_iterator(items->end()));
}

absl::StatusOr<std::optional<v1::Image>> GrpcRuntimeClient::imageStatus(
    const v1::ImageSpec& image) {
  v1::ImageStatusRequest req;
  *req.mutable_image() = image;
  auto resp = call(images_.get(), &v1::ImageService::Stub::ImageStatus, "ImageStatus", req,
                   defaultTimeout_, [&] { return imageObject(image); });
  if (!resp.ok()) return resp.status();
  if (!resp->has_image()) return std::optional<v1::Image>();
  if (resp->image().id().empty()) {
    return badResponse("ImageStatus", imageObject(image), "an image without id");
  }
  return std::optional<v1::Image>(std::move(*resp->mutable_image()));
}

absl::StatusOr<std::string> GrpcRuntimeClient::pullImage(
    const v1::ImageSpec& image, const v1::AuthConfig* auth,
    const v1::PodSandboxConfig* sandboxConfig) {
  v1::PullImageRequest req;
  *req.mutable_image() = image;
  if (auth != nullptr) *req.mutable_auth() = *auth;
  if (sandboxConfig != nullptr) *req.mutable_sandbox_config() = *sandboxConfig;
  auto resp = call(images_.get(), &v1::ImageService::Stub::PullImage, "PullImage", req,
                   pullTimeout_, [&] { return imageObject(image); });
  if (!resp.ok()) return resp.status();
  if (resp->image_ref().empty()) {
    return badResponse("PullImage", imageObject(image), "an empty image reference");
  }
  return std::move(*resp->mutable_image_ref());
}

absl::Status GrpcRuntimeClient::removeImage(const v1::ImageSpec& image) {
  v1::RemoveImageRequest req;
  *req.mutable_image() = image;
  return call(images_.get(), &v1::ImageService::Stub::RemoveImage, "RemoveImage", req,
              defaultTimeout_, [&] { return imageObject(image); })
      .status();
}

absl::StatusOr<v1::ImageFsInfoResponse> GrpcRuntimeClient::imageFsInfo() {
  v1::ImageFsInfoRequest req;
  return call(images_.get(), &v1::ImageService::Stub::ImageFsInfo, "ImageFsInfo", req,
              defaultTimeout_, [] { return std::string(); });
}

}  // namespace cri
