// The reasons the kubelet gives its core/v1 Events, spelled exactly as upstream
// (pkg/kubelet/events/event.go, plus the literals used in nodestatus/setters.go,
// kubelet_pods.go, network/dns and the admission path). Tools, alerts and the
// conformance tests match on these strings, so never invent a variant: several
// names share one string ("Failed", "BackOff") because the kubelet does.
#pragma once

#include <string_view>

namespace agent::events {

// core/v1 Event types.
inline constexpr std::string_view kNormal = "Normal";
inline constexpr std::string_view kWarning = "Warning";

// The component the kubelet reports as (source.component, reportingComponent).
inline constexpr std::string_view kKubeletComponent = "kubelet";

namespace reasons {

// Container lifecycle.
inline constexpr std::string_view kCreatedContainer = "Created";
inline constexpr std::string_view kStartedContainer = "Started";
inline constexpr std::string_view kFailedToCreateContainer = "Failed";
inline constexpr std::string_view kFailedToStartContainer = "Failed";
inline constexpr std::string_view kKillingContainer = "Killing";
inline constexpr std::string_view kPreemptContainer = "Preempting";
inline constexpr std::string_view kBackOffStartContainer = "BackOff";
inline constexpr std::string_view kExceededGracePeriod = "ExceededGracePeriod";

// Pods.
inline constexpr std::string_view kFailedToKillPod = "FailedKillPod";
inline constexpr std::string_view kFailedToCreatePodContainer = "FailedCreatePodContainer";
inline constexpr std::string_view kFailedToMakePodDataDirectories = "Failed";
inline constexpr std::string_view kNetworkNotReady = "NetworkNotReady";

// Images.
inline constexpr std::string_view kPullingImage = "Pulling";
inline constexpr std::string_view kPulledImage = "Pulled";
inline constexpr std::string_view kFailedToPullImage = "Failed";
inline constexpr std::string_view kFailedToInspectImage = "InspectFailed";
inline constexpr std::string_view kErrImageNeverPullPolicy = "ErrImageNeverPull";
inline constexpr std::string_view kBackOffPullImage = "BackOff";

// The kubelet and its node.
inline constexpr std::string_view kNodeReady = "NodeReady";
inline constexpr std::string_view kNodeNotReady = "NodeNotReady";
inline constexpr std::string_view kNodeSchedulable = "NodeSchedulable";
inline constexpr std::string_view kNodeNotSchedulable = "NodeNotSchedulable";
inline constexpr std::string_view kStartingKubelet = "Starting";
inline constexpr std::string_view kKubeletSetupFailed = "KubeletSetupFailed";
inline constexpr std::string_view kNodeRebooted = "Rebooted";
inline constexpr std::string_view kNodeShutdown = "Shutdown";
inline constexpr std::string_view kContainerGCFailed = "ContainerGCFailed";
inline constexpr std::string_view kImageGCFailed = "ImageGCFailed";
inline constexpr std::string_view kFailedNodeAllocatableEnforcement =
    "FailedNodeAllocatableEnforcement";
inline constexpr std::string_view kSuccessfulNodeAllocatableEnforcement = "NodeAllocatableEnforced";
inline constexpr std::string_view kSandboxChanged = "SandboxChanged";
inline constexpr std::string_view kFailedCreatePodSandBox = "FailedCreatePodSandBox";
inline constexpr std::string_view kFailedStatusPodSandBox = "FailedPodSandBoxStatus";
inline constexpr std::string_view kInvalidDiskCapacity = "InvalidDiskCapacity";
inline constexpr std::string_view kFreeDiskSpaceFailed = "FreeDiskSpaceFailed";

// Node condition transitions (nodestatus/setters.go), message
// "Node <name> status is now: <reason>".
inline constexpr std::string_view kNodeHasSufficientMemory = "NodeHasSufficientMemory";
inline constexpr std::string_view kNodeHasInsufficientMemory = "NodeHasInsufficientMemory";
inline constexpr std::string_view kNodeHasNoDiskPressure = "NodeHasNoDiskPressure";
inline constexpr std::string_view kNodeHasDiskPressure = "NodeHasDiskPressure";
inline constexpr std::string_view kNodeHasSufficientPID = "NodeHasSufficientPID";
inline constexpr std::string_view kNodeHasInsufficientPID = "NodeHasInsufficientPID";

// Volumes.
inline constexpr std::string_view kFailedAttachVolume = "FailedAttachVolume";
inline constexpr std::string_view kFailedMountVolume = "FailedMount";
inline constexpr std::string_view kFailedMapVolume = "FailedMapVolume";
inline constexpr std::string_view kWarnAlreadyMountedVolume = "AlreadyMountedVolume";
inline constexpr std::string_view kSuccessfulAttachVolume = "SuccessfulAttachVolume";
inline constexpr std::string_view kSuccessfulMountVolume = "SuccessfulMountVolume";

// Probes.
inline constexpr std::string_view kContainerUnhealthy = "Unhealthy";
inline constexpr std::string_view kContainerProbeWarning = "ProbeWarning";

// Pod workers and config.
inline constexpr std::string_view kFailedSync = "FailedSync";
inline constexpr std::string_view kFailedValidation = "FailedValidation";

// Lifecycle hooks.
inline constexpr std::string_view kFailedPostStartHook = "FailedPostStartHook";
inline constexpr std::string_view kFailedPreStopHook = "FailedPreStopHook";

// Environment and DNS (kubelet_pods.go, network/dns/dns.go).
inline constexpr std::string_view kInvalidEnvironmentVariableNames =
    "InvalidEnvironmentVariableNames";
inline constexpr std::string_view kDNSConfigForming = "DNSConfigForming";
inline constexpr std::string_view kMissingClusterDNS = "MissingClusterDNS";

// Eviction (eviction manager).
inline constexpr std::string_view kEvicted = "Evicted";
inline constexpr std::string_view kEvictionThresholdMet = "EvictionThresholdMet";

// Admission rejections are recorded (Warning, on the pod) with the same reason the
// pod status gets: "OutOf" + the resource name ("OutOfcpu", "OutOfmemory",
// "OutOfpods"), "NodeAffinity", "NodeName", "HostPort", "UnexpectedAdmissionError"...
inline constexpr std::string_view kOutOfPrefix = "OutOf";
inline constexpr std::string_view kUnexpectedAdmissionError = "UnexpectedAdmissionError";

}  // namespace reasons
}  // namespace agent::events
