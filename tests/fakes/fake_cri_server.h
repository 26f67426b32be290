// An in-process CRI v1 server on a unix socket: a small in-memory runtime
// (sandboxes, containers, images) behind real gRPC, so tests exercise the real
// client, channel and wire. Faults are injected per RPC: fail with a status,
// or stall past the caller's deadline.
#pragma once

#include <grpcpp/server.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "cri/proto/api.grpc.pb.h"

namespace cubelet::testing {

class FakeCriServer {
 public:
  using ExecSyncHandler =
      std::function<runtime::v1::ExecSyncResponse(const runtime::v1::ExecSyncRequest&)>;

  // Serves RuntimeService and ImageService on `socketPath` (its directory must
  // exist; a stale socket file is replaced).
  static absl::StatusOr<std::unique_ptr<FakeCriServer>> start(const std::string& socketPath);
  ~FakeCriServer();  // stops serving; stalled calls are cut short
  FakeCriServer(const FakeCriServer&) = delete;
  FakeCriServer& operator=(const FakeCriServer&) = delete;

  std::string endpoint() const { return "unix://" + socketPath_; }

  // --- Faults, by RPC name as in the proto ("RunPodSandbox", "PullImage").
  // The next `times` calls (all calls when negative) answer `status`.
  void failWith(const std::string& method, grpc::Status status, int times = -1);
  // Every call waits `d` before it is handled (or until the caller gives up).
  void delay(const std::string& method, std::chrono::milliseconds d);
  void clearFaults();

  // --- What was called.
  int callCount(const std::string& method) const;
  std::vector<std::string> callLog() const;  // method names, in arrival order
  // StopContainer calls: container id and the grace (timeout) asked for, in order.
  std::vector<std::pair<std::string, int64_t>> stopCalls() const;
  // UpdateContainerResources calls that reached the runtime: container id and the
  // resources asked for, in order (failed ones included).
  using ResourceUpdate = std::pair<std::string, runtime::v1::LinuxContainerResources>;
  std::vector<ResourceUpdate> resourceUpdates() const;

  // --- Runtime state.
  // Makes an image present, as if pulled; `ref` is normalized like the kubelet does.
  void addImage(const std::string& ref, uint64_t sizeBytes = 1 << 20);
  void setExecSyncHandler(ExecSyncHandler handler);  // default: exit 0, no output
  void setConditions(bool runtimeReady, bool networkReady);
  // Whether ContainerStatus reports the container's resources (default true; false is
  // a runtime from before KEP-1287's CRI changes).
  void setReportsResources(bool reports);
  // The container's process ended (it is EXITED with this code and reason).
  void exitContainer(const std::string& id, int exitCode, const std::string& reason);

  // What ContainerStats/ListContainerStats report for a container (defaults: 1 ms
  // of CPU, 1 MiB working set, no writable layer figures).
  struct StatsValues {
    uint64_t cpuUsageCoreNanoSeconds = 1000000;
    uint64_t memoryWorkingSetBytes = 1 << 20;
    uint64_t memoryUsageBytes = 0;    // 0: not reported
    uint64_t writableLayerBytes = 0;  // 0 with inodes 0: no writable_layer
    uint64_t writableLayerInodes = 0;
    // false: the cpu / memory field is left unset, as a runtime without those figures.
    bool reportCpu = true;
    bool reportMemory = true;
  };
  void setContainerStats(const std::string& id, StatsValues values);
  // ContainerStatus(verbose) answers info["info"] as containerd does, with
  // runtimeSpec.linux.cgroupsPath "<sandbox cgroup_parent>/<id>" (cgroupfs driver).

  // ImageFsInfo's fs_id.mountpoint (default "/var/lib/fake-cri").
  void setImageFsMountpoint(const std::string& path);

  std::optional<runtime::v1::PodSandboxConfig> sandboxConfig(const std::string& id) const;
  std::optional<runtime::v1::ContainerConfig> containerConfig(const std::string& id) const;
  std::optional<runtime::v1::LinuxContainerResources> containerResources(
      const std::string& id) const;
  std::vector<std::string> sandboxIds() const;
  std::vector<std::string> containerIds() const;
  std::string podCidr() const;  // from UpdateRuntimeConfig

  // --- Internals shared with the service implementations in the .cc file.
  struct Sandbox {
    runtime::v1::PodSandboxConfig config;
    runtime::v1::PodSandboxState state = runtime::v1::SANDBOX_READY;
    int64_t createdAt = 0;
    std::string runtimeHandler;
    std::string ip;
  };
  struct Container {
    std::string sandboxId;
    runtime::v1::ContainerConfig config;
    runtime::v1::ContainerState state = runtime::v1::CONTAINER_CREATED;
    int64_t createdAt = 0, startedAt = 0, finishedAt = 0;
    int exitCode = 0;
    std::string reason;
    std::string imageRef;
    runtime::v1::LinuxContainerResources resources;
  };
  struct Fault {
    std::optional<grpc::Status> status;
    int times = 0;  // negative: forever
    std::chrono::milliseconds delay{0};
  };
  struct State {
    mutable std::mutex mu;
    std::map<std::string, Sandbox> sandboxes;
    std::map<std::string, Container> containers;
    std::map<std::string, runtime::v1::Image> images;  // by id
    std::map<std::string, Fault> faults;
    std::vector<std::string> calls;
    std::vector<std::pair<std::string, int64_t>> stops;
    std::vector<ResourceUpdate> resourceUpdates;
    bool reportsResources = true;
    ExecSyncHandler execSync;
    bool runtimeReady = true, networkReady = true;
    std::string podCidr;
    std::map<std::string, StatsValues> stats;  // by container id
    std::string imageFsMountpoint = "/var/lib/fake-cri";
    uint64_t nextId = 1;
    bool stopping = false;
  };

 private:
  FakeCriServer() = default;

  std::string socketPath_;
  std::shared_ptr<State> state_;
  std::unique_ptr<grpc::Service> runtimeService_;
  std::unique_ptr<grpc::Service> imageService_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace cubelet::testing
