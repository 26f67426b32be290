// The KubeletConfiguration file (kubelet.config.k8s.io/v1beta1, YAML or JSON), decoded
// over an AgentConfig that holds the defaults. Fields cubelet implements are type-checked
// and applied with the kubelet's defaulting (a zero duration or an empty string means
// "the default"); other KubeletConfiguration fields produce a warning; unknown fields,
// wrong types and a wrong apiVersion/kind are errors naming the file and field.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "agent/config/agent_config.h"

namespace agent::config {

// Reads `path` and applies it. Relative paths inside the file are resolved against the
// file's directory, as the kubelet does.
absl::Status applyConfigFile(const std::string& path, AgentConfig& cfg,
                             std::vector<std::string>& warnings);

// Applies config text; `source` names it in messages, `baseDir` resolves relative paths.
absl::Status applyConfigText(std::string_view text, std::string_view source,
                             std::string_view baseDir, AgentConfig& cfg,
                             std::vector<std::string>& warnings);

}  // namespace agent::config
