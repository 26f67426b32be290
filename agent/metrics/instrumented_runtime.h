// CRI decorators that record every call in kubelet_runtime_operations_total,
// kubelet_runtime_operations_errors_total and
// kubelet_runtime_operations_duration_seconds under the kubelet's operation_type
// names (pkg/kubelet/kuberuntime/instrumented_services.go), and RunPodSandbox also
// in kubelet_run_podsandbox_{duration_seconds,errors_total}{runtime_handler}.
// They forward everything else unchanged and are as thread-safe as what they wrap.
//
//   auto runtime = std::make_unique<InstrumentedRuntimeService>(*grpcClient, metrics);
//   auto images = std::make_unique<InstrumentedImageService>(*grpcClient, metrics);
#pragma once

#include <chrono>
#include <string_view>

#include "agent/metrics/kubelet_metrics.h"
#include "cri/runtime_service.h"

namespace agent::metrics {

// Records one finished operation (what the decorators do per call).
void recordRuntimeOperation(KubeletMetrics& m, std::string_view operation, bool failed,
                            std::chrono::steady_clock::duration elapsed);

class InstrumentedRuntimeService : public cri::RuntimeService {
 public:
  // `inner` and `metrics` must outlive this object.
  InstrumentedRuntimeService(cri::RuntimeService& inner, KubeletMetrics& metrics)
      : inner_(inner), m_(metrics) {}

  absl::StatusOr<::runtime::v1::VersionResponse> version() override;
  absl::StatusOr<::runtime::v1::StatusResponse> status(bool verbose) override;
  absl::StatusOr<std::string> runPodSandbox(const ::runtime::v1::PodSandboxConfig& config,
                                            const std::string& runtimeHandler) override;
  absl::Status stopPodSandbox(const std::string& id) override;
  absl::Status removePodSandbox(const std::string& id) override;
  absl::StatusOr<::runtime::v1::PodSandboxStatusResponse> podSandboxStatus(const std::string& id,
                                                                           bool verbose) override;
  absl::StatusOr<std::vector<::runtime::v1::PodSandbox>> listPodSandbox(
      const ::runtime::v1::PodSandboxFilter& filter) override;
  absl::StatusOr<std::string> createContainer(
      const std::string& sandboxId, const ::runtime::v1::ContainerConfig& config,
      const ::runtime::v1::PodSandboxConfig& sandboxConfig) override;
  absl::Status startContainer(const std::string& id) override;
  absl::Status stopContainer(const std::string& id, int64_t timeoutSeconds) override;
  absl::Status removeContainer(const std::string& id) override;
  absl::StatusOr<std::vector<::runtime::v1::Container>> listContainers(
      const ::runtime::v1::ContainerFilter& filter) override;
  absl::StatusOr<::runtime::v1::ContainerStatusResponse> containerStatus(const std::string& id,
                                                                         bool verbose) override;
  absl::Status updateContainerResources(const std::string& id,
                                        const ::runtime::v1::LinuxContainerResources& r) override;
  absl::Status reopenContainerLog(const std::string& id) override;
  absl::StatusOr<::runtime::v1::ExecSyncResponse> execSync(const std::string& id,
                                                           const std::vector<std::string>& cmd,
                                                           int64_t timeoutSeconds) override;
  absl::StatusOr<std::string> exec(const ::runtime::v1::ExecRequest& request) override;
  absl::StatusOr<std::string> attach(const ::runtime::v1::AttachRequest& request) override;
  absl::StatusOr<std::string> portForward(
      const ::runtime::v1::PortForwardRequest& request) override;
  absl::StatusOr<::runtime::v1::ContainerStats> containerStats(const std::string& id) override;
  absl::StatusOr<std::vector<::runtime::v1::ContainerStats>> listContainerStats(
      const ::runtime::v1::ContainerStatsFilter& filter) override;
  absl::StatusOr<::runtime::v1::PodSandboxStats> podSandboxStats(const std::string& id) override;
  absl::StatusOr<std::vector<::runtime::v1::PodSandboxStats>> listPodSandboxStats(
      const ::runtime::v1::PodSandboxStatsFilter& filter) override;
  absl::Status updateRuntimeConfig(const std::string& podCidr) override;

 private:
  cri::RuntimeService& inner_;
  KubeletMetrics& m_;
};

class InstrumentedImageService : public cri::ImageService {
 public:
  InstrumentedImageService(cri::ImageService& inner, KubeletMetrics& metrics)
      : inner_(inner), m_(metrics) {}

  absl::StatusOr<std::vector<::runtime::v1::Image>> listImages(
      const ::runtime::v1::ImageFilter& filter) override;
  absl::StatusOr<std::optional<::runtime::v1::Image>> imageStatus(
      const ::runtime::v1::ImageSpec& image) override;
  absl::StatusOr<std::string> pullImage(
      const ::runtime::v1::ImageSpec& image, const ::runtime::v1::AuthConfig* auth,
      const ::runtime::v1::PodSandboxConfig* sandboxConfig) override;
  absl::Status removeImage(const ::runtime::v1::ImageSpec& image) override;
  absl::StatusOr<::runtime::v1::ImageFsInfoResponse> imageFsInfo() override;

 private:
  cri::ImageService& inner_;
  KubeletMetrics& m_;
};

}  // namespace agent::metrics
