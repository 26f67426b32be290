// Decoding nlohmann::json into typed structs with errors that name the field path
// (`spec.containers[1].ports[0].containerPort: expected integer, got string "80a"`).
// Types are checked strictly, as the API server does; unknown fields are ignored; a
// null or absent field leaves the destination untouched (Go's zero value / default).
//
// A struct type becomes decodable by declaring, in its own namespace,
//   absl::Status decodeJson(const core::JsonField& f, MyType& out);
// which JsonField::get, std::vector, std::map and std::optional then find by ADL.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"

namespace core {

// A JSON value under decoding and the path that led to it. Does not own the value.
class JsonField {
 public:
  explicit JsonField(const nlohmann::json& root) : value_(&root) {}
  JsonField(const nlohmann::json* value, std::string path)
      : value_(value), path_(std::move(path)) {}

  const std::string& path() const { return path_; }
  // nullptr when the field is absent.
  const nlohmann::json* value() const { return value_; }
  // Present and not null.
  bool isSet() const { return value_ != nullptr && !value_->is_null(); }

  // An object member ("a.b"); absent when missing or when this is not an object.
  JsonField operator[](std::string_view key) const;
  // An array element ("a[3]").
  JsonField at(size_t index) const;
  // A map entry, named the way the API server names it ("metadata.labels[app]").
  JsonField entry(std::string_view key, const nlohmann::json* value) const;

  // "path: message" (just "message" at the root), code InvalidArgument.
  absl::Status error(std::string_view message) const;
  // `path: expected <what>, got string "80a"`.
  absl::Status typeError(std::string_view expected) const;
  // OK when unset or an object.
  absl::Status expectObject() const;
  // OK when unset or an array.
  absl::Status expectArray() const;

  template <typename T>
  absl::Status get(T& out) const;

 private:
  const nlohmann::json* value_;
  std::string path_;
};

// Describes a JSON value for an error message: `string "80a"`, `number 1.5`, `array`.
std::string describeJson(const nlohmann::json& j);

absl::Status decodeJson(const JsonField& f, std::string& out);
absl::Status decodeJson(const JsonField& f, bool& out);
absl::Status decodeJson(const JsonField& f, int32_t& out);
absl::Status decodeJson(const JsonField& f, int64_t& out);
absl::Status decodeJson(const JsonField& f, double& out);
// Keeps any JSON value as it is (for fields decoded later or passed through).
absl::Status decodeJson(const JsonField& f, nlohmann::json& out);

template <typename T>
absl::Status decodeJson(const JsonField& f, std::optional<T>& out);
template <typename T>
absl::Status decodeJson(const JsonField& f, std::vector<T>& out);
template <typename T>
absl::Status decodeJson(const JsonField& f, std::map<std::string, T, std::less<>>& out);
template <typename T>
absl::Status decodeJson(const JsonField& f, std::map<std::string, T>& out);

template <typename T>
absl::Status decodeJson(const JsonField& f, std::optional<T>& out) {
  if (!f.isSet()) return absl::OkStatus();
  T value{};
  absl::Status s = decodeJson(f, value);
  if (s.ok()) out = std::move(value);
  return s;
}

template <typename T>
absl::Status decodeJson(const JsonField& f, std::vector<T>& out) {
  if (!f.isSet()) return absl::OkStatus();
  if (!f.value()->is_array()) return f.typeError("array");
  out.clear();
  out.resize(f.value()->size());
  for (size_t i = 0; i < out.size(); ++i) {
    absl::Status s = decodeJson(f.at(i), out[i]);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

namespace internal {
template <typename Map>
absl::Status decodeJsonMap(const JsonField& f, Map& out) {
  if (!f.isSet()) return absl::OkStatus();
  if (!f.value()->is_object()) return f.typeError("object");
  out.clear();
  for (const auto& [key, value] : f.value()->items()) {
    absl::Status s = decodeJson(f.entry(key, &value), out[key]);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}
}  // namespace internal

template <typename T>
absl::Status decodeJson(const JsonField& f, std::map<std::string, T, std::less<>>& out) {
  return internal::decodeJsonMap(f, out);
}

template <typename T>
absl::Status decodeJson(const JsonField& f, std::map<std::string, T>& out) {
  return internal::decodeJsonMap(f, out);
}

template <typename T>
absl::Status JsonField::get(T& out) const {
  return decodeJson(*this, out);
}

inline absl::Status decodeMembers(const JsonField&) { return absl::OkStatus(); }

template <typename T, typename... Rest>
absl::Status decodeMembers(const JsonField& f, std::string_view key, T& out, Rest&... rest) {
  absl::Status s = f[key].get(out);
  if (!s.ok()) return s;
  return decodeMembers(f, rest...);
}

// Decodes an object's members given as ("jsonName", destination) pairs, in order,
// stopping at the first error:
//   return decodeObject(f, "name", out.name, "containerPort", out.containerPort);
template <typename... Members>
absl::Status decodeObject(const JsonField& f, Members&... members) {
  absl::Status s = f.expectObject();
  if (!s.ok()) return s;
  return decodeMembers(f, members...);
}

}  // namespace core
