#include "agent/api/config_objects.h"

#include <array>

#include "absl/strings/str_cat.h"
#include "agent/api/object_decode.h"
#include "agent/api/pod_decode.h"
#include "core/status.h"

namespace agent::api {
namespace {

using core::decodeObject;
using core::JsonField;

// Standard base64 with padding, as Go's encoding/json decodes []byte: '\r' and '\n'
// are skipped, anything else outside the alphabet is an error at its byte offset.
absl::StatusOr<std::string> base64Decode(std::string_view in) {
  static const std::array<int8_t, 256> table = [] {
    std::array<int8_t, 256> t{};
    t.fill(-1);
    const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i)
      t[static_cast<unsigned char>(alphabet[i])] = static_cast<int8_t>(i);
    return t;
  }();
  auto illegal = [](size_t at) {
    return absl::InvalidArgumentError(absl::StrCat("illegal base64 data at input byte ", at));
  };
  std::string out;
  out.reserve(in.size() / 4 * 3);
  uint32_t acc = 0;
  int n = 0;        // sextets in the current quantum
  int padding = 0;  // '=' seen
  size_t quantumStart = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    unsigned char ch = static_cast<unsigned char>(in[i]);
    if (ch == '\r' || ch == '\n') continue;
    if (n == 0 && padding == 0) quantumStart = i;
    if (ch == '=') {
      // Padding only completes a quantum of 2 or 3 sextets.
      if (n + padding < 2) return illegal(i);
      ++padding;
      if (n + padding > 4) return illegal(i);
      continue;
    }
    if (padding > 0) return illegal(i);  // data after padding
    int8_t v = table[ch];
    if (v < 0) return illegal(i);
    acc = (acc << 6) | static_cast<uint32_t>(v);
    if (++n == 4) {
      out.push_back(static_cast<char>((acc >> 16) & 0xff));
      out.push_back(static_cast<char>((acc >> 8) & 0xff));
      out.push_back(static_cast<char>(acc & 0xff));
      acc = 0;
      n = 0;
    }
  }
  if (n == 0 && padding == 0) return out;
  if (n + padding != 4) return illegal(quantumStart);  // truncated quantum
  if (n == 2) {
    out.push_back(static_cast<char>((acc >> 4) & 0xff));
  } else if (n == 3) {
    out.push_back(static_cast<char>((acc >> 10) & 0xff));
    out.push_back(static_cast<char>((acc >> 2) & 0xff));
  }
  return out;
}

// A map of base64 strings (Secret.data, ConfigMap.binaryData) into decoded bytes;
// errors name the entry: `data[tls.crt]: illegal base64 data at input byte 4`.
absl::Status decodeBase64Map(const JsonField& f, std::map<std::string, std::string>& out) {
  if (!f.isSet()) return absl::OkStatus();
  if (!f.value()->is_object()) return f.typeError("object");
  for (const auto& [key, value] : f.value()->items()) {
    JsonField entry = f.entry(key, &value);
    std::string encoded;
    RETURN_IF_ERROR(core::decodeJson(entry, encoded));
    auto decoded = base64Decode(encoded);
    if (!decoded.ok()) return entry.error(std::string(decoded.status().message()));
    out[key] = std::move(*decoded);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status decodeJson(const JsonField& f, ConfigMap& out) {
  RETURN_IF_ERROR(checkKind(f, "ConfigMap"));
  RETURN_IF_ERROR(
      decodeObject(f, "metadata", out.metadata, "data", out.data, "immutable", out.immutable));
  out.binaryData.clear();
  return decodeBase64Map(f["binaryData"], out.binaryData);
}

absl::Status decodeJson(const JsonField& f, Secret& out) {
  RETURN_IF_ERROR(checkKind(f, "Secret"));
  RETURN_IF_ERROR(
      decodeObject(f, "metadata", out.metadata, "type", out.type, "immutable", out.immutable));
  if (out.type.empty()) out.type = kSecretTypeOpaque;
  out.data.clear();
  RETURN_IF_ERROR(decodeBase64Map(f["data"], out.data));
  // stringData is write-only on the API server (merged into data there); manifests and
  // test fixtures may still carry it, and it wins over data as it does on the server.
  std::map<std::string, std::string> stringData;
  RETURN_IF_ERROR(f["stringData"].get(stringData));
  for (auto& [k, v] : stringData) out.data[k] = std::move(v);
  return absl::OkStatus();
}

absl::Status decodeJson(const JsonField& f, ServicePort& out) {
  RETURN_IF_ERROR(decodeObject(f, "name", out.name, "protocol", out.protocol, "port", out.port));
  if (out.protocol.empty()) out.protocol = "TCP";
  return absl::OkStatus();
}

absl::Status decodeJson(const JsonField& f, Service& out) {
  RETURN_IF_ERROR(checkKind(f, "Service"));
  RETURN_IF_ERROR(decodeObject(f, "metadata", out.metadata));
  return decodeObject(f["spec"], "type", out.type, "clusterIP", out.clusterIP, "clusterIPs",
                      out.clusterIPs, "ports", out.ports);
}

absl::StatusOr<ConfigMap> decodeConfigMap(const nlohmann::json& j) {
  return decodeRoot<ConfigMap>(j, "ConfigMap");
}

absl::StatusOr<Secret> decodeSecret(const nlohmann::json& j) {
  return decodeRoot<Secret>(j, "Secret");
}

absl::StatusOr<Service> decodeService(const nlohmann::json& j) {
  return decodeRoot<Service>(j, "Service");
}

}  // namespace agent::api
