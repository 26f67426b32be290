// The typed ConfigMap, Secret and Service (k8s.io/api/core/v1) as the node agent sees
// them: container environment (configMapKeyRef, secretKeyRef, envFrom, service links),
// imagePullSecrets, and the configMap/secret volumes. Only the fields the agent uses;
// Secret data and ConfigMap binaryData hold the decoded bytes, not base64.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/api/pod.h"
#include "core/json_decode.h"

namespace agent::api {

struct ConfigMap {
  ObjectMeta metadata{};
  std::map<std::string, std::string> data{};
  std::map<std::string, std::string> binaryData{};  // Decoded bytes.
  std::optional<bool> immutable{};
};

// Secret types the agent reads (pull secrets); any other string is kept as given.
inline constexpr char kSecretTypeOpaque[] = "Opaque";
inline constexpr char kSecretTypeDockerConfigJson[] = "kubernetes.io/dockerconfigjson";
inline constexpr char kSecretTypeDockercfg[] = "kubernetes.io/dockercfg";

struct Secret {
  ObjectMeta metadata{};
  std::string type{};  // Defaulted to "Opaque" by the API server.
  // Decoded bytes of `data`, merged with `stringData` (which wins, as on the API
  // server; the API never returns stringData but manifests and fixtures may carry it).
  std::map<std::string, std::string> data{};
  std::optional<bool> immutable{};
};

struct ServicePort {
  std::string name{};
  std::string protocol{};  // Defaulted to "TCP" by the decoder when empty.
  int32_t port = 0;
};

// "None" in spec.clusterIP marks a headless service; empty means no cluster IP
// (ExternalName). Neither gets service-link variables.
inline constexpr char kClusterIPNone[] = "None";

struct Service {
  ObjectMeta metadata{};
  std::string type{};  // ClusterIP, NodePort, LoadBalancer, ExternalName.
  std::string clusterIP{};
  std::vector<std::string> clusterIPs{};
  std::vector<ServicePort> ports{};

  // True when the service has a real cluster IP (not empty, not "None").
  bool hasClusterIP() const { return !clusterIP.empty() && clusterIP != kClusterIPNone; }
};

// Decode a v1 object; `kind`/`apiVersion` may be absent (list and watch items of a
// typed list carry none) but must match when present. Errors name the field:
// `data[tls.crt]: illegal base64 data at input byte 4`.
absl::StatusOr<ConfigMap> decodeConfigMap(const nlohmann::json& j);
absl::StatusOr<Secret> decodeSecret(const nlohmann::json& j);
absl::StatusOr<Service> decodeService(const nlohmann::json& j);

// For objects embedding them (the reflectors decode list items through these).
absl::Status decodeJson(const core::JsonField& f, ConfigMap& out);
absl::Status decodeJson(const core::JsonField& f, Secret& out);
absl::Status decodeJson(const core::JsonField& f, ServicePort& out);
absl::Status decodeJson(const core::JsonField& f, Service& out);

}  // namespace agent::api
