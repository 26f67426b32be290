#include "core/json_decode.h"

#include <limits>

#include "absl/strings/str_cat.h"

namespace core {
namespace {

using nlohmann::json;

// Long strings are cut in error messages: the message should fit on one line.
constexpr size_t kMaxQuoted = 64;

// Debian's Abseil has its own string_view, which std::string_view does not convert to.
absl::string_view av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

template <typename Int>
absl::Status decodeInteger(const JsonField& f, Int& out, std::string_view typeName) {
  if (!f.isSet()) return absl::OkStatus();
  const json& j = *f.value();
  if (j.is_number_unsigned()) {
    auto v = j.get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<Int>::max())) {
      return f.error(absl::StrCat("value ", v, " out of range for ", av(typeName)));
    }
    out = static_cast<Int>(v);
    return absl::OkStatus();
  }
  if (j.is_number_integer()) {
    auto v = j.get<int64_t>();
    if (v < std::numeric_limits<Int>::min() || v > std::numeric_limits<Int>::max()) {
      return f.error(absl::StrCat("value ", v, " out of range for ", av(typeName)));
    }
    out = static_cast<Int>(v);
    return absl::OkStatus();
  }
  return f.typeError("integer");
}

}  // namespace

JsonField JsonField::operator[](std::string_view key) const {
  std::string path = path_.empty() ? std::string(key) : absl::StrCat(path_, ".", av(key));
  if (value_ == nullptr || !value_->is_object()) return JsonField(nullptr, std::move(path));
  auto it = value_->find(key);
  return JsonField(it == value_->end() ? nullptr : &*it, std::move(path));
}

JsonField JsonField::at(size_t index) const {
  std::string path = absl::StrCat(path_, "[", index, "]");
  if (value_ == nullptr || !value_->is_array() || index >= value_->size()) {
    return JsonField(nullptr, std::move(path));
  }
  return JsonField(&(*value_)[index], std::move(path));
}

JsonField JsonField::entry(std::string_view key, const json* value) const {
  return JsonField(value, absl::StrCat(path_, "[", av(key), "]"));
}

absl::Status JsonField::error(std::string_view message) const {
  if (path_.empty()) return absl::InvalidArgumentError(av(message));
  return absl::InvalidArgumentError(absl::StrCat(path_, ": ", av(message)));
}

absl::Status JsonField::typeError(std::string_view expected) const {
  std::string got = value_ == nullptr ? "nothing" : describeJson(*value_);
  return error(absl::StrCat("expected ", av(expected), ", got ", got));
}

absl::Status JsonField::expectObject() const {
  if (isSet() && !value_->is_object()) return typeError("object");
  return absl::OkStatus();
}

absl::Status JsonField::expectArray() const {
  if (isSet() && !value_->is_array()) return typeError("array");
  return absl::OkStatus();
}

std::string describeJson(const json& j) {
  switch (j.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return j.get<bool>() ? "boolean true" : "boolean false";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return absl::StrCat("number ", j.dump());
    case json::value_t::string: {
      const auto& s = j.get_ref<const std::string&>();
      if (s.size() <= kMaxQuoted) return absl::StrCat("string ", j.dump());
      return absl::StrCat("string ", json(s.substr(0, kMaxQuoted)).dump(), "...");
    }
    case json::value_t::array:
      return "array";
    case json::value_t::object:
      return "object";
    default:
      return "unsupported value";
  }
}

absl::Status decodeJson(const JsonField& f, std::string& out) {
  if (!f.isSet()) return absl::OkStatus();
  if (!f.value()->is_string()) return f.typeError("string");
  out = f.value()->get<std::string>();
  return absl::OkStatus();
}

absl::Status decodeJson(const JsonField& f, bool& out) {
  if (!f.isSet()) return absl::OkStatus();
  if (!f.value()->is_boolean()) return f.typeError("boolean");
  out = f.value()->get<bool>();
  return absl::OkStatus();
}

absl::Status decodeJson(const JsonField& f, int32_t& out) { return decodeInteger(f, out, "int32"); }

absl::Status decodeJson(const JsonField& f, int64_t& out) { return decodeInteger(f, out, "int64"); }

absl::Status decodeJson(const JsonField& f, double& out) {
  if (!f.isSet()) return absl::OkStatus();
  if (!f.value()->is_number()) return f.typeError("number");
  out = f.value()->get<double>();
  return absl::OkStatus();
}

absl::Status decodeJson(const JsonField& f, json& out) {
  if (f.value() != nullptr) out = *f.value();
  return absl::OkStatus();
}

}  // namespace core
