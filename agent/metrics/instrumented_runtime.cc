#include "agent/metrics/instrumented_runtime.h"

#include <utility>

namespace agent::metrics {
namespace {

using Clock = std::chrono::steady_clock;

bool failed(const absl::Status& s) { return !s.ok(); }
template <class T>
bool failed(const absl::StatusOr<T>& s) {
  return !s.ok();
}

// Runs `call`, records it under `operation` and returns its result.
template <class F>
auto timed(KubeletMetrics& m, std::string_view operation, F&& call) {
  const auto start = Clock::now();
  auto result = std::forward<F>(call)();
  recordRuntimeOperation(m, operation, failed(result), Clock::now() - start);
  return result;
}

}  // namespace

void recordRuntimeOperation(KubeletMetrics& m, std::string_view operation, bool isError,
                            std::chrono::steady_clock::duration elapsed) {
  std::vector<std::string> labels = {std::string(operation)};
  m.runtimeOperations.with(labels).inc();
  if (isError) m.runtimeOperationsErrors.with(labels).inc();
  m.runtimeOperationsDuration.with(std::move(labels))
      .observe(std::chrono::duration<double>(elapsed).count());
}

absl::StatusOr<::runtime::v1::VersionResponse> InstrumentedRuntimeService::version() {
  return timed(m_, "version", [&] { return inner_.version(); });
}

absl::StatusOr<::runtime::v1::StatusResponse> InstrumentedRuntimeService::status(bool verbose) {
  return timed(m_, "status", [&] { return inner_.status(verbose); });
}

absl::StatusOr<std::string> InstrumentedRuntimeService::runPodSandbox(
    const ::runtime::v1::PodSandboxConfig& config, const std::string& runtimeHandler) {
  const auto start = Clock::now();
  auto result = inner_.runPodSandbox(config, runtimeHandler);
  const auto elapsed = Clock::now() - start;
  recordRuntimeOperation(m_, "run_podsandbox", !result.ok(), elapsed);
  m_.runPodSandboxDuration.with({runtimeHandler})
      .observe(std::chrono::duration<double>(elapsed).count());
  if (!result.ok()) m_.runPodSandboxErrors.with({runtimeHandler}).inc();
  return result;
}

absl::Status InstrumentedRuntimeService::stopPodSandbox(const std::string& id) {
  return timed(m_, "stop_podsandbox", [&] { return inner_.stopPodSandbox(id); });
}

absl::Status InstrumentedRuntimeService::removePodSandbox(const std::string& id) {
  return timed(m_, "remove_podsandbox", [&] { return inner_.removePodSandbox(id); });
}

absl::StatusOr<::runtime::v1::PodSandboxStatusResponse>
InstrumentedRuntimeService::podSandboxStatus(const std::string& id, bool verbose) {
  return timed(m_, "podsandbox_status", [&] { return inner_.podSandboxStatus(id, verbose); });
}

absl::StatusOr<std::vector<::runtime::v1::PodSandbox>> InstrumentedRuntimeService::listPodSandbox(
    const ::runtime::v1::PodSandboxFilter& filter) {
  return timed(m_, "list_podsandbox", [&] { return inner_.listPodSandbox(filter); });
}

absl::StatusOr<std::string> InstrumentedRuntimeService::createContainer(
    const std::string& sandboxId, const ::runtime::v1::ContainerConfig& config,
    const ::runtime::v1::PodSandboxConfig& sandboxConfig) {
  return timed(m_, "create_container",
               [&] { return inner_.createContainer(sandboxId, config, sandboxConfig); });
}

absl::Status InstrumentedRuntimeService::startContainer(const std::string& id) {
  return timed(m_, "start_container", [&] { return inner_.startContainer(id); });
}

absl::Status InstrumentedRuntimeService::stopContainer(const std::string& id,
                                                       int64_t timeoutSeconds) {
  return timed(m_, "stop_container", [&] { return inner_.stopContainer(id, timeoutSeconds); });
}

absl::Status InstrumentedRuntimeService::removeContainer(const std::string& id) {
  return timed(m_, "remove_container", [&] { return inner_.removeContainer(id); });
}

absl::StatusOr<std::vector<::runtime::v1::Container>> InstrumentedRuntimeService::listContainers(
    const ::runtime::v1::ContainerFilter& filter) {
  return timed(m_, "list_containers", [&] { return inner_.listContainers(filter); });
}

absl::StatusOr<::runtime::v1::ContainerStatusResponse> InstrumentedRuntimeService::containerStatus(
    const std::string& id, bool verbose) {
  return timed(m_, "container_status", [&] { return inner_.containerStatus(id, verbose); });
}

absl::Status InstrumentedRuntimeService::updateContainerResources(
    const std::string& id, const ::runtime::v1::LinuxContainerResources& r) {
  return timed(m_, "update_container", [&] { return inner_.updateContainerResources(id, r); });
}

absl::Status InstrumentedRuntimeService::reopenContainerLog(const std::string& id) {
  return timed(m_, "reopen_container_log", [&] { return inner_.reopenContainerLog(id); });
}

absl::StatusOr<::runtime::v1::ExecSyncResponse> InstrumentedRuntimeService::execSync(
    const std::string& id, const std::vector<std::string>& cmd, int64_t timeoutSeconds) {
  return timed(m_, "exec_sync", [&] { return inner_.execSync(id, cmd, timeoutSeconds); });
}

absl::StatusOr<std::string> InstrumentedRuntimeService::exec(
    const ::runtime::v1::ExecRequest& request) {
  return timed(m_, "exec", [&] { return inner_.exec(request); });
}

absl::StatusOr<std::string> InstrumentedRuntimeService::attach(
    const ::runtime::v1::AttachRequest& request) {
  return timed(m_, "attach", [&] { return inner_.attach(request); });
}

absl::StatusOr<std::string> InstrumentedRuntimeService::portForward(
    const ::runtime::v1::PortForwardRequest& request) {
  return timed(m_, "port_forward", [&] { return inner_.portForward(request); });
}

absl::StatusOr<::runtime::v1::ContainerStats> InstrumentedRuntimeService::containerStats(
    const std::string& id) {
  return timed(m_, "container_stats", [&] { return inner_.containerStats(id); });
}

absl::StatusOr<std::vector<::runtime::v1::ContainerStats>>
InstrumentedRuntimeService::listContainerStats(const ::runtime::v1::ContainerStatsFilter& filter) {
  return timed(m_, "list_container_stats", [&] { return inner_.listContainerStats(filter); });
}

absl::StatusOr<::runtime::v1::PodSandboxStats> InstrumentedRuntimeService::podSandboxStats(
    const std::string& id) {
  return timed(m_, "podsandbox_stats", [&] { return inner_.podSandboxStats(id); });
}

absl::StatusOr<std::vector<::runtime::v1::PodSandboxStats>>
InstrumentedRuntimeService::listPodSandboxStats(
    const ::runtime::v1::PodSandboxStatsFilter& filter) {
  return timed(m_, "list_podsandbox_stats", [&] { return inner_.listPodSandboxStats(filter); });
}

absl::Status InstrumentedRuntimeService::updateRuntimeConfig(const std::string& podCidr) {
  return timed(m_, "update_runtime_config", [&] { return inner_.updateRuntimeConfig(podCidr); });
}

absl::StatusOr<std::vector<::runtime::v1::Image>> InstrumentedImageService::listImages(
    const ::runtime::v1::ImageFilter& filter) {
  return timed(m_, "list_images", [&] { return inner_.listImages(filter); });
}

absl::StatusOr<std::optional<::runtime::v1::Image>> InstrumentedImageService::imageStatus(
    const ::runtime::v1::ImageSpec& image) {
  return timed(m_, "image_status", [&] { return inner_.imageStatus(image); });
}

absl::StatusOr<std::string> InstrumentedImageService::pullImage(
    const ::runtime::v1::ImageSpec& image, const ::runtime::v1::AuthConfig* auth,
    const ::runtime::v1::PodSandboxConfig* sandboxConfig) {
  return timed(m_, "pull_image", [&] { return inner_.pullImage(image, auth, sandboxConfig); });
}

absl::Status InstrumentedImageService::removeImage(const ::runtime::v1::ImageSpec& image) {
  return timed(m_, "remove_image", [&] { return inner_.removeImage(image); });
}

absl::StatusOr<::runtime::v1::ImageFsInfoResponse> InstrumentedImageService::imageFsInfo() {
  // Upstream records the error but then drops it (returns nil); we pass it on.
  return timed(m_, "image_fs_info", [&] { return inner_.imageFsInfo(); });
}

}  // namespace agent::metrics
