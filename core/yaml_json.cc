#include "core/yaml_json.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/status.h"

namespace core {
namespace {

using nlohmann::json;

// Alias expansion can turn a small document into an exponentially large tree
// ("billion laughs"); a manifest never needs anywhere near this many nodes.
constexpr size_t kMaxNodes = 1'000'000;

constexpr std::string_view kTagPrefix = "tag:yaml.org,2002:";

// Debian's Abseil has its own string_view, which std::string_view does not convert to.
absl::string_view av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

std::string where(std::string_view source, const YAML::Mark& mark) {
  if (mark.is_null()) return std::string(source);
  return absl::StrCat(av(source), ":", mark.line + 1, ":", mark.column + 1);
}

bool isDec(char c) { return c >= '0' && c <= '9'; }

// Go's strconv.ParseInt/ParseUint with base 0 (what Kubernetes' YAML decoder uses):
// "0x", "0o", "0b" prefixes, a bare leading 0 means octal. Returns the magnitude.
std::optional<uint64_t> parseGoMagnitude(std::string_view s) {
  int base = 10;
  if (s.size() >= 2 && s[0] == '0') {
    switch (s[1]) {
      case 'x':
      case 'X':
        base = 16;
        s.remove_prefix(2);
        break;
      case 'o':
      case 'O':
        base = 8;
        s.remove_prefix(2);
        break;
      case 'b':
      case 'B':
        base = 2;
        s.remove_prefix(2);
        break;
      default:
        base = 8;
        s.remove_prefix(1);
        break;
    }
  }
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<json> resolveInt(std::string_view s) {
  bool negative = false;
  bool sign = !s.empty() && (s[0] == '-' || s[0] == '+');
  if (sign) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  std::optional<uint64_t> m = parseGoMagnitude(s);
  if (!m) return std::nullopt;
  constexpr uint64_t kMaxInt = std::numeric_limits<int64_t>::max();
  if (!negative && *m <= kMaxInt) return json(static_cast<int64_t>(*m));
  if (negative && *m <= kMaxInt + 1) return json(static_cast<int64_t>(0 - *m));
  if (!sign) return json(*m);  // ParseUint takes no sign.
  return std::nullopt;
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?, as a finite double.
std::optional<json> resolveFloat(std::string_view s) {
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  size_t i = 0;
  size_t intDigits = 0, fracDigits = 0;
  while (i < s.size() && isDec(s[i])) ++i, ++intDigits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && isDec(s[i])) ++i, ++fracDigits;
  }
  if (intDigits == 0 && fracDigits == 0) return std::nullopt;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    size_t expDigits = 0;
    while (i < s.size() && isDec(s[i])) ++i, ++expDigits;
    if (expDigits == 0) return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  // from_chars wants a digit after the point ("5." is valid YAML).
  std::string text(s);
  if (size_t dot = text.find('.'); fracDigits == 0 && dot != std::string::npos) {
    // One char, not a string: GCC 12 at -O3 warns (-Wrestrict) on the string form.
    text.insert(text.begin() + static_cast<std::ptrdiff_t>(dot) + 1, '0');
  }
  double d = 0;
  auto res = std::from_chars(text.data(), text.data() + text.size(), d);
  if (res.ec != std::errc() || res.ptr != text.data() + text.size()) return std::nullopt;
  return json(negative ? -d : d);
}

// A plain (unquoted, untagged) scalar, resolved as Kubernetes' YAML decoder (go-yaml
// v2, YAML 1.1 style) does, so a manifest means here what it means to the kubelet:
// `yes`/`on` are booleans and `0644` is octal (420), which YAML 1.2 would read
// differently. Scalars that resolve to nothing else are strings.
json resolvePlain(const std::string& s) {
  static constexpr std::string_view kTrue[] = {"y",    "Y",    "yes", "Yes", "YES", "true",
                                               "True", "TRUE", "on",  "On",  "ON"};
  static constexpr std::string_view kFalse[] = {"n",     "N",     "no",  "No",  "NO", "false",
                                                "False", "FALSE", "off", "Off", "OFF"};
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return json(nullptr);
  for (std::string_view t : kTrue) {
    if (s == t) return json(true);
  }
  for (std::string_view f : kFalse) {
    if (s == f) return json(false);
  }
  constexpr double kInf = std::numeric_limits<double>::infinity();
  if (s == ".inf" || s == ".Inf" || s == ".INF" || s == "+.inf" || s == "+.Inf" || s == "+.INF") {
    return json(kInf);
  }
  if (s == "-.inf" || s == "-.Inf" || s == "-.INF") return json(-kInf);
  if (s == ".nan" || s == ".NaN" || s == ".NAN") {
    return json(std::numeric_limits<double>::quiet_NaN());
  }
  if (s[0] == '.') {
    if (auto f = resolveFloat(s)) return *f;
  } else if (isDec(s[0]) || s[0] == '-' || s[0] == '+') {
    std::string plain = s;
    plain.erase(std::remove(plain.begin(), plain.end(), '_'), plain.end());
    if (auto i = resolveInt(plain)) return *i;
    if (auto f = resolveFloat(plain)) return *f;
  }
  return json(s);
}

class Converter {
 public:
  explicit Converter(std::string_view source) : source_(source) {}

  absl::Status convert(const YAML::Node& node, json& out) {
    if (++nodes_ > kMaxNodes) {
      return absl::InvalidArgumentError(absl::StrCat(where(source_, node.Mark()),
                                                     ": document too large (more than ", kMaxNodes,
                                                     " nodes after alias expansion)"));
    }
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        out = node.Tag() == absl::StrCat(av(kTagPrefix), "str") ? json("") : json(nullptr);
        return absl::OkStatus();
      case YAML::NodeType::Scalar:
        return convertScalar(node, out);
      case YAML::NodeType::Sequence: {
        out = json::array();
        for (const YAML::Node& item : node) {
          json v;
          RETURN_IF_ERROR(convert(item, v));
          out.push_back(std::move(v));
        }
        return absl::OkStatus();
      }
      case YAML::NodeType::Map: {
        out = json::object();
        for (const auto& kv : node) {
          std::string key;
          if (kv.first.IsScalar()) {
            key = kv.first.Scalar();
          } else if (kv.first.IsNull()) {
            key = "null";
          } else {
            return absl::InvalidArgumentError(
                absl::StrCat(where(source_, kv.first.Mark()), ": mapping keys must be scalars"));
          }
          json v;
          RETURN_IF_ERROR(convert(kv.second, v));
          out[key] = std::move(v);
        }
        return absl::OkStatus();
      }
    }
    return absl::InternalError("unknown YAML node type");
  }

 private:
  absl::Status convertScalar(const YAML::Node& node, json& out) {
    const std::string& tag = node.Tag();
    const std::string& value = node.Scalar();
    // "!" is the non-specific tag of quoted scalars: always a string.
    if (tag == "!" || tag == absl::StrCat(av(kTagPrefix), "str")) {
      out = value;
      return absl::OkStatus();
    }
    if (tag.rfind(kTagPrefix, 0) == 0) {
      std::string_view type = std::string_view(tag).substr(kTagPrefix.size());
      json resolved = resolvePlain(value);
      bool ok = (type == "int" && resolved.is_number_integer()) ||
                (type == "float" && resolved.is_number()) ||
                (type == "bool" && resolved.is_boolean()) || (type == "null" && resolved.is_null());
      if (!ok) {
        return absl::InvalidArgumentError(absl::StrCat(
            where(source_, node.Mark()), ": cannot decode \"", value, "\" as !!", av(type)));
      }
      if (type == "float") resolved = resolved.get<double>();
      out = std::move(resolved);
      return absl::OkStatus();
    }
    // Plain scalars ("?") and unknown local tags resolve by their content.
    out = resolvePlain(value);
    return absl::OkStatus();
  }

  std::string_view source_;
  size_t nodes_ = 0;
};

absl::StatusOr<std::vector<YAML::Node>> loadAll(std::string_view text, std::string_view source) {
  try {
    return YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(where(source, e.mark), ": ", e.msg));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(av(source), ": ", e.what()));
  }
}

absl::Status convertDocument(const YAML::Node& doc, std::string_view source, json& out) {
  try {
    Converter converter(source);
    return converter.convert(doc, out);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(where(source, e.mark), ": ", e.msg));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(av(source), ": ", e.what()));
  }
}

}  // namespace

absl::StatusOr<std::vector<json>> parseYamlDocuments(std::string_view text,
                                                     std::string_view sourceName) {
  ASSIGN_OR_RETURN(std::vector<YAML::Node> docs, loadAll(text, sourceName));
  std::vector<json> out;
  for (const YAML::Node& doc : docs) {
    if (!doc.IsDefined() || doc.IsNull()) continue;
    json j;
    RETURN_IF_ERROR(convertDocument(doc, sourceName, j));
    out.push_back(std::move(j));
  }
  return out;
}

absl::StatusOr<json> parseYamlOrJson(std::string_view text, std::string_view sourceName) {
  ASSIGN_OR_RETURN(std::vector<json> docs, parseYamlDocuments(text, sourceName));
  if (docs.empty()) return json(nullptr);
  if (docs.size() > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(av(sourceName), ": multiple YAML documents; expected exactly one"));
  }
  return std::move(docs.front());
}

}  // namespace core
