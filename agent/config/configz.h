// /configz: the effective configuration as the kubelet serves it,
// {"kubeletconfig": <KubeletConfiguration v1beta1 fields>}, so that tools reading a
// node's configuration through the API server's node proxy find the kubelet's names.
#pragma once

#include "agent/config/agent_config.h"
#include "nlohmann/json.hpp"

namespace agent::config {

nlohmann::json configzJson(const AgentConfig& cfg);

}  // namespace agent::config
