// The CRI v1 services as cubelet sees them: blocking calls with deadlines, meant to
// run on worker threads, that return absl::Status instead of gRPC status. The
// agent depends on these interfaces; GrpcRuntimeClient is the real one, tests
// plug in fakes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cri/proto/api.pb.h"

namespace cri {

// Pods and containers. Every method is thread-safe and blocks until the runtime
// answers or the call's deadline passes (then the status is DeadlineExceeded).
// Errors keep the runtime's gRPC code and name the call and the object.
class RuntimeService {
 public:
  virtual ~RuntimeService() = default;

  virtual absl::StatusOr<runtime::v1::VersionResponse> version() = 0;
  virtual absl::StatusOr<runtime::v1::StatusResponse> status(bool verbose) = 0;

  // Returns the new sandbox's id.
  virtual absl::StatusOr<std::string> runPodSandbox(const runtime::v1::PodSandboxConfig& config,
                                                    const std::string& runtimeHandler) = 0;
  virtual absl::Status stopPodSandbox(const std::string& id) = 0;
  virtual absl::Status removePodSandbox(const std::string& id) = 0;
  virtual absl::StatusOr<runtime::v1::PodSandboxStatusResponse> podSandboxStatus(
      const std::string& id, bool verbose) = 0;
  virtual absl::StatusOr<std::vector<runtime::v1::PodSandbox>> listPodSandbox(
      const runtime::v1::PodSandboxFilter& filter) = 0;

  // Returns the new container's id.
  virtual absl::StatusOr<std::string> createContainer(
      const std::string& sandboxId, const runtime::v1::ContainerConfig& config,
      const runtime::v1::PodSandboxConfig& sandboxConfig) = 0;
  virtual absl::Status startContainer(const std::string& id) = 0;
  // The runtime kills the container after `timeoutSeconds` of grace; the call's
  // deadline is that grace plus the default timeout.
  virtual absl::Status stopContainer(const std::string& id, int64_t timeoutSeconds) = 0;
  virtual absl::Status removeContainer(const std::string& id) = 0;
  virtual absl::StatusOr<std::vector<runtime::v1::Container>> listContainers(
      const runtime::v1::ContainerFilter& filter) = 0;
  virtual absl::StatusOr<runtime::v1::ContainerStatusResponse> containerStatus(
      const std::string& id, bool verbose) = 0;
  virtual absl::Status updateContainerResources(const std::string& id,
                                                const runtime::v1::LinuxContainerResources& r) = 0;
  virtual absl::Status reopenContainerLog(const std::string& id) = 0;

  // A non-zero exit code is not an error: it is in the response.
  virtual absl::StatusOr<runtime::v1::ExecSyncResponse> execSync(
      const std::string& id, const std::vector<std::string>& cmd, int64_t timeoutSeconds) = 0;
  // These return the URL of the runtime's streaming server for the session.
  virtual absl::StatusOr<std::string> exec(const runtime::v1::ExecRequest& request) = 0;
  virtual absl::StatusOr<std::string> attach(const runtime::v1::AttachRequest& request) = 0;
  virtual absl::StatusOr<std::string> portForward(
      const runtime::v1::PortForwardRequest& request) = 0;

  virtual absl::StatusOr<runtime::v1::ContainerStats> containerStats(const std::string& id) = 0;
  virtual absl::StatusOr<std::vector<runtime::v1::ContainerStats>> listContainerStats(
      const runtime::v1::ContainerStatsFilter& filter) = 0;
  virtual absl::StatusOr<runtime::v1::PodSandboxStats> podSandboxStats(const std::string& id) = 0;
  virtual absl::StatusOr<std::vector<runtime::v1::PodSandboxStats>> listPodSandboxStats(
      const runtime::v1::PodSandboxStatsFilter& filter) = 0;

  virtual absl::Status updateRuntimeConfig(const std::string& podCidr) = 0;
};

// Images on the node. Same threading and error rules as RuntimeService.
class ImageService {
 public:
  virtual ~ImageService() = default;

  virtual absl::StatusOr<std::vector<runtime::v1::Image>> listImages(
      const runtime::v1::ImageFilter& filter) = 0;
  // nullopt when the image is not present (the runtime does not treat that as an
  // error).
  virtual absl::StatusOr<std::optional<runtime::v1::Image>> imageStatus(
      const runtime::v1::ImageSpec& image) = 0;
  // Returns the pulled image's reference (its id on containerd). `auth` and
  // `sandboxConfig` may be null.
  virtual absl::StatusOr<std::string> pullImage(
      const runtime::v1::ImageSpec& image, const runtime::v1::AuthConfig* auth,
      const runtime::v1::PodSandboxConfig* sandboxConfig) = 0;
  virtual absl::Status removeImage(const runtime::v1::ImageSpec& image) = 0;
  virtual absl::StatusOr<runtime::v1::ImageFsInfoResponse> imageFsInfo() = 0;
};

// True for the runtime's "no such sandbox/container/image" answers, which callers
// on teardown paths treat as already done.
bool isNotFound(const absl::Status& status);

}  // namespace cri
