// Pod spec -> CRI PodSandboxConfig, as the kubelet builds it (generatePodSandboxConfig).
#pragma once

#include <string>

#include "agent/api/pod.h"
#include "agent/runtime/runtime_options.h"
#include "cri/proto/api.pb.h"

namespace agent::runtime {

// "<podLogsDir>/<namespace>_<name>_<uid>": the kubelet's pod log directory.
std::string podLogDir(const std::string& podLogsDir, const api::Pod& pod);

::runtime::v1::PodSandboxConfig makeSandboxConfig(const api::Pod& pod, uint32_t attempt,
                                                  const RuntimeOptions& opts,
                                                  std::vector<std::string>* warnings);

// Network, PID and IPC namespace modes from hostNetwork/hostPID/hostIPC and
// shareProcessNamespace; sandbox and containers use the same.
void setNamespaceOptions(const api::Pod& pod, ::runtime::v1::NamespaceOption* ns);

::runtime::v1::Protocol toCriProtocol(const std::string& protocol);

}  // namespace agent::runtime
