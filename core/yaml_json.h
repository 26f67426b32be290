// The YAML/JSON parse edge: manifests, kubeconfigs and config files arrive as YAML
// (JSON is a subset of it) and leave here as nlohmann::json. Quoted scalars are strings;
// plain ones resolve as Kubernetes' own YAML decoder (go-yaml v2) resolves them, so a
// file means the same here as to the kubelet (`yes` is true, `0644` is octal).
// yaml-cpp exceptions never get past this file.
#pragma once

#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"

namespace core {

// Parses one YAML or JSON document. Empty input (or only comments / empty documents)
// gives a null json. More than one non-empty document is an error, as is any syntax
// error; errors read "<sourceName>:<line>:<column>: <what>".
absl::StatusOr<nlohmann::json> parseYamlOrJson(std::string_view text, std::string_view sourceName);

// Parses every document of a YAML stream, skipping empty ones.
absl::StatusOr<std::vector<nlohmann::json>> parseYamlDocuments(std::string_view text,
                                                               std::string_view sourceName);

}  // namespace core
