// The real CRI client: RuntimeService and ImageService over one gRPC channel to
// the runtime's unix socket (containerd's CRI plugin), each call with a deadline.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "cri/proto/api.grpc.pb.h"
#include "cri/runtime_service.h"

namespace cri {

// The gRPC target for a --container-runtime-endpoint value: "unix:///path" or,
// as the kubelet also accepts, a bare absolute "/path". Anything else is
// InvalidArgument naming the endpoint.
absl::StatusOr<std::string> grpcTargetForEndpoint(std::string_view endpoint);

// Maps a gRPC status to an absl::Status with the same code and a one-line message
// "CRI <call> (<object>): rpc error: <Code>: <runtime's message>"; `object` may be
// empty, and then the parentheses are left out.
absl::Status fromGrpcStatus(const grpc::Status& status, std::string_view call,
                            std::string_view object);

class GrpcRuntimeClient final : public RuntimeService, public ImageService {
 public:
  // Does not connect: the channel connects on first use, so the runtime may come
  // up later. `defaultTimeout` is the kubelet's runtimeRequestTimeout (2m by
  // default); `pullTimeout` bounds PullImage alone.
  static absl::StatusOr<std::unique_ptr<GrpcRuntimeClient>> create(
      const std::string& endpoint, std::chrono::milliseconds defaultTimeout,
      std::chrono::milliseconds pullTimeout);

  // RuntimeService
  absl::StatusOr<runtime::v1::VersionResponse> version() override;
  absl::StatusOr<runtime::v1::StatusResponse> status(bool verbose) override;
  absl::StatusOr<std::string> runPodSandbox(const runtime::v1::PodSandboxConfig& config,
                                            const std::string& runtimeHandler) override;
  absl::Status stopPodSandbox(const std::string& id) override;
  absl::Status removePodSandbox(const std::string& id) override;
  absl::StatusOr<runtime::v1::PodSandboxStatusResponse> podSandboxStatus(const std::string& id,
                                                                         bool verbose) override;
  absl::StatusOr<std::vector<runtime::v1::PodSandbox>> listPodSandbox(
      const runtime::v1::PodSandboxFilter& filter) override;
  absl::StatusOr<std::string> createContainer(
      const std::string& sandboxId, const runtime::v1::ContainerConfig& config,
      const runtime::v1::PodSandboxConfig& sandboxConfig) override;
  absl::Status startContainer(const std::string& id) override;
  absl::Status stopContainer(const std::string& id, int64_t timeoutSeconds) override;
  absl::Status removeContainer(const std::string& id) override;
  absl::StatusOr<std::vector<runtime::v1::Container>> listContainers(
      const runtime::v1::ContainerFilter& filter) override;
  absl::StatusOr<runtime::v1::ContainerStatusResponse> containerStatus(const std::string& id,
                                                                       bool verbose) override;
  absl::Status updateContainerResources(const std::string& id,
                                        const runtime::v1::LinuxContainerResources& r) override;
  absl::Status reopenContainerLog(const std::string& id) override;
  absl::StatusOr<runtime::v1::ExecSyncResponse> execSync(const std::string& id,
                                                         const std::vector<std::string>& cmd,
                                                         int64_t timeoutSeconds) override;
  absl::StatusOr<std::string> exec(const runtime::v1::ExecRequest& request) override;
  absl::StatusOr<std::string> attach(const runtime::v1::AttachRequest& request) override;
  absl::StatusOr<std::string> portForward(const runtime::v1::PortForwardRequest& request) override;
  absl::StatusOr<runtime::v1::ContainerStats> containerStats(const std::string& id) override;
  absl::StatusOr<std::vector<runtime::v1::ContainerStats>> listContainerStats(
      const runtime::v1::ContainerStatsFilter& filter) override;
  absl::StatusOr<runtime::v1::PodSandboxStats> podSandboxStats(const std::string& id) override;
  absl::StatusOr<std::vector<runtime::v1::PodSandboxStats>> listPodSandboxStats(
      const runtime::v1::PodSandboxStatsFilter& filter) override;
  absl::Status updateRuntimeConfig(const std::string& podCidr) override;

  // ImageService
  absl::StatusOr<std::vector<runtime::v1::Image>> listImages(
      const runtime::v1::ImageFilter& filter) override;
  absl::StatusOr<std::optional<runtime::v1::Image>> imageStatus(
      const runtime::v1::ImageSpec& image) override;
  absl::StatusOr<std::string> pullImage(
      const runtime::v1::ImageSpec& image, const runtime::v1::AuthConfig* auth,
      const runtime::v1::PodSandboxConfig* sandboxConfig) override;
  absl::Status removeImage(const runtime::v1::ImageSpec& image) override;
  absl::StatusOr<runtime::v1::ImageFsInfoResponse> imageFsInfo() override;

 private:
  GrpcRuntimeClient(std::shared_ptr<grpc::Channel> channel,
                    std::chrono::milliseconds defaultTimeout,
                    std::chrono::milliseconds pullTimeout);

  // One unary call with a deadline `timeout` from now; `object` describes what
  // the call was about and is only built when it fails.
  template <typename Stub, typename Request, typename Response>
  absl::StatusOr<Response> call(
      Stub* stub, grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
      std::string_view name, const Request& request, std::chrono::milliseconds timeout,
      absl::FunctionRef<std::string()> object);

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<runtime::v1::RuntimeService::Stub> runtime_;
  std::unique_ptr<runtime::v1::ImageService::Stub> images_;
  std::chrono::milliseconds defaultTimeout_;
  std::chrono::milliseconds pullTimeout_;
};

}  // namespace cri
