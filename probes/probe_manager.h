// The prober: one small state machine per (pod, container, probe kind), all on the
// event loop, each with one timer; checks run through a Checker, so no thread
// is spent per probe. It keeps the latched results the kubelet's results
// managers keep (keyed by container ID) and counts every run for the
// prober_probe_total metric.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "core/event_loop.h"
#include "probes/probe_types.h"

namespace probes {

enum class ProbeKind { kLiveness, kReadiness, kStartup };
// "Liveness", "Readiness", "Startup": the event wording and the metric's probe_type.
const char* probeKindName(ProbeKind kind);

// A latched result: what the last run that crossed its threshold decided.
enum class Result { kUnknown, kSuccess, kFailure };

// A container of a pod as the agent last saw it, with its probes.
struct ContainerProbes {
  std::string name;
  std::optional<ProbeSpec> liveness;
  std::optional<ProbeSpec> readiness;
  std::optional<ProbeSpec> startup;
  // The newest instance of the container in the runtime ("" when there is none).
  std::string containerId;
  bool running = false;
  core::WallTime startedAt{};  // of the running instance; initialDelaySeconds counts from it
};

struct PodProbes {
  std::string uid;
  std::string namespace_;
  std::string name;
  std::vector<ContainerProbes> containers;
};

class ProbeManager {
 public:
  struct Options {
    // Probes of containers that were already running when the agent started
    // wait a random part of their period first, so that an agent restart does
    // not probe every pod at once (the kubelet does the same).
    core::Duration startupJitterWindow = std::chrono::seconds(60);
    uint64_t seed = 0;  // 0: random
  };

  ProbeManager(core::EventLoop& loop, Checker& checker, Options options);
  ~ProbeManager();

  // Reconciles one pod's probes with the agent's latest view: starts workers for
  // new probes, restarts a worker whose container instance changed (results reset
  // to their initial value: liveness and startup kUnknown→not failed, readiness
  // failure), probes a running container promptly, and pauses probes of
  // containers that are not running. Cheap when nothing changed.
  void setPod(const PodProbes& pod);
  // Stops every probe of the pod and forgets its results and counters.
  void removePod(const std::string& uid);

  // The kubelet's view for status: started is true without a startup probe, else
  // once it succeeded for this instance; ready needs started, then a readiness
  // success (always, without a readiness probe). Both need a running instance.
  bool started(const std::string& uid, const std::string& container,
               const std::string& containerId) const;
  bool ready(const std::string& uid, const std::string& container,
             const std::string& containerId) const;
  // A latched liveness or startup failure of this instance: it must be killed and
  // restarted per the restart policy. Returns the probe kind that failed.
  std::optional<ProbeKind> failedProbe(const std::string& uid, const std::string& container,
                                       const std::string& containerId) const;

  // Called when a probe run changes a latched result (e.g. readiness turned true,
  // liveness failed); not for the reset to initial values that a new instance
  // brings (the caller's own setPod did that). Callbacks run from the loop, never
  // inside setPod/removePod; they may call back into the manager.
  using ResultCallback = std::function<void(const std::string& uid, const std::string& container,
                                            ProbeKind kind, Result result)>;
  void setOnResult(ResultCallback cb) { onResult_ = std::move(cb); }
  // Called for every failed or errored run ("Unhealthy") and for warnings
  // ("ProbeWarning"), all of type Warning as the kubelet records them, with its
  // messages: "Liveness probe failed: <output>", "Readiness probe errored and
  // resulted in unknown state: <output>", "Readiness probe warning: <output>".
  using EventCallback =
      std::function<void(const std::string& uid, const std::string& container, bool warning,
                         const std::string& reason, const std::string& message)>;
  void setOnEvent(EventCallback cb) { onEvent_ = std::move(cb); }

  // prober_probe_total: runs by probe_type, result ("successful", "failed",
  // "unknown"), container, pod, namespace and pod_uid.
  struct Counter {
    std::string probeType;
    std::string result;
    std::string container;
    std::string pod;
    std::string namespace_;
    std::string podUid;
    uint64_t count = 0;
  };
  void forEachCounter(const std::function<void(const Counter&)>& fn) const;

  size_t workerCount() const;

 private:
  struct Worker;
  struct ContainerEntry;
  struct PodEntry;
  ContainerEntry* findContainer(const std::string& uid, const std::string& container,
                                const std::string& containerId) const;
  // When a worker whose timer is idle should probe next.
  core::Duration nextProbeDelay(Worker& w);

  core::EventLoop& loop_;
  Checker& checker_;
  Options options_;
  core::MonoTime createdAt_;
  core::WallTime createdWall_;  // instances started before it get the restart jitter
  std::mt19937_64 rng_;
  std::map<std::string, std::unique_ptr<PodEntry>> pods_;
  ResultCallback onResult_;
  EventCallback onEvent_;
};

}  // namespace probes
