#include "agent/api/quantity.h"

#include <limits>

#include "absl/strings/str_cat.h"

namespace agent::api {
namespace {

// The apimachinery error text, so users see what they would see from kubectl.
constexpr absl::string_view kFormatError =
    "quantities must match the regular expression "
    "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

// Exponents beyond this saturate anyway; the cap keeps the arithmetic in range.
constexpr int64_t kMaxExponent = 1'000'000;

bool isDigit(char c) { return c >= '0' && c <= '9'; }

// An exact decimal: sign * digits * 10^exp10 * 2^exp2.
struct Exact {
  bool negative = false;
  std::string digits;  // No leading zeros; empty means zero.
  int64_t exp10 = 0;
  int exp2 = 0;
};

bool parseSuffix(std::string_view s, Exact& e) {
  struct Unit {
    std::string_view name;
    int exp10;
    int exp2;
  };
  static constexpr Unit kUnits[] = {
      {"", 0, 0},    {"m", -3, 0},  {"k", 3, 0},   {"M", 6, 0},   {"G", 9, 0},
      {"T", 12, 0},  {"P", 15, 0},  {"E", 18, 0},  {"Ki", 0, 10}, {"Mi", 0, 20},
      {"Gi", 0, 30}, {"Ti", 0, 40}, {"Pi", 0, 50}, {"Ei", 0, 60},
  };
  for (const Unit& u : kUnits) {
    if (s == u.name) {
      e.exp10 += u.exp10;
      e.exp2 = u.exp2;
      return true;
    }
  }
  if (s.size() < 2 || (s[0] != 'e' && s[0] != 'E')) return false;
  s.remove_prefix(1);
  bool negative = false;
  if (s[0] == '+' || s[0] == '-') {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return false;
  int64_t exp = 0;
  for (char c : s) {
    if (!isDigit(c)) return false;
    exp = std::min(exp * 10 + (c - '0'), kMaxExponent);
  }
  e.exp10 += negative ? -exp : exp;
  return true;
}

absl::StatusOr<Exact> parseExact(std::string_view text) {
  Exact e;
  std::string_view s = text;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    e.negative = s[0] == '-';
    s.remove_prefix(1);
  }
  size_t i = 0;
  size_t numDigits = 0;
  while (i < s.size() && isDigit(s[i])) {
    e.digits.push_back(s[i++]);
    ++numDigits;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && isDigit(s[i])) {
      e.digits.push_back(s[i++]);
      --e.exp10;
      ++numDigits;
    }
  }
  if (numDigits == 0 || !parseSuffix(s.substr(i), e)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid quantity \"", absl::string_view(text.data(), text.size()), "\": ", kFormatError));
  }
  size_t firstNonZero = e.digits.find_first_not_of('0');
  e.digits.erase(0, firstNonZero == std::string::npos ? e.digits.size() : firstNonZero);
  return e;
}

// Doubles a decimal digit string in place.
void doubleDigits(std::string& digits) {
  int carry = 0;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    int d = (*it - '0') * 2 + carry;
    *it = static_cast<char>('0' + d % 10);
    carry = d / 10;
  }
  if (carry != 0) digits.insert(digits.begin(), static_cast<char>('0' + carry));
}

// The value in units of 10^scale, rounded away from zero, saturated to int64.
int64_t scaled(const Exact& e, int scale) {
  if (e.digits.empty()) return 0;
  constexpr uint64_t kMax = std::numeric_limits<int64_t>::max();
  std::string digits = e.digits;
  for (int i = 0; i < e.exp2; ++i) doubleDigits(digits);
  int64_t shift = e.exp10 - scale;
  uint64_t magnitude = 0;
  bool saturated = false;
  if (shift >= 0) {
    if (static_cast<int64_t>(digits.size()) + shift > 19) {
      saturated = true;
    } else {
      digits.append(static_cast<size_t>(shift), '0');
    }
  } else {
    size_t drop = static_cast<size_t>(-shift);
    bool roundUp = false;
    if (drop >= digits.size()) {
      roundUp = true;  // Non-zero digits all fall below the unit.
      digits.clear();
    } else {
      roundUp = digits.find_first_not_of('0', digits.size() - drop) != std::string::npos;
      digits.resize(digits.size() - drop);
    }
    if (digits.size() > 19) saturated = true;
    magnitude = roundUp ? 1 : 0;
  }
  if (!saturated) {
    uint64_t v = 0;
    for (char c : digits) {
      v = v * 10 + static_cast<uint64_t>(c - '0');  // At most 19 digits: no overflow.
    }
    saturated = v > kMax - magnitude;
    magnitude += v;
  }
  if (saturated) magnitude = kMax;
  return e.negative ? -static_cast<int64_t>(magnitude) : static_cast<int64_t>(magnitude);
}

}  // namespace

absl::StatusOr<Quantity> Quantity::parse(std::string_view text) {
  absl::StatusOr<Exact> exact = parseExact(text);
  if (!exact.ok()) return exact.status();
  Quantity q;
  q.text_ = std::string(text);
  q.milli_ = scaled(*exact, -3);
  q.value_ = scaled(*exact, 0);
  return q;
}

absl::Status decodeJson(const core::JsonField& f, Quantity& out) {
  if (!f.isSet()) return absl::OkStatus();
  const nlohmann::json& j = *f.value();
  std::string text;
  if (j.is_string()) {
    text = j.get<std::string>();
  } else if (j.is_number()) {
    text = j.dump();
  } else {
    return f.typeError("quantity (string or number)");
  }
  absl::StatusOr<Quantity> q = Quantity::parse(text);
  if (!q.ok()) return f.error(std::string(q.status().message()));
  out = std::move(*q);
  return absl::OkStatus();
}

}  // namespace agent::api
