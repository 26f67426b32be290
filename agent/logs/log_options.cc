#include "agent/logs/log_options.h"

#include <limits>
#include <map>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/logs/cri_log_format.h"

namespace agent::logs {
namespace {

// Go's strconv.ParseInt(s, 10, 64): optional sign, decimal digits, nothing else.
std::optional<int64_t> parseInt64(const std::string& s) {
  size_t i = 0;
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  if (i == s.size()) return std::nullopt;
  uint64_t limit = negative ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
  uint64_t v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    uint64_t d = static_cast<uint64_t>(s[i] - '0');
    if (v > (limit - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  if (negative)
    return v == (uint64_t{1} << 63) ? std::numeric_limits<int64_t>::min()
                                    : -static_cast<int64_t>(v);
  return static_cast<int64_t>(v);
}

bool parseBool(const std::string& v) { return !(v == "0" || absl::EqualsIgnoreCase(v, "false")); }

absl::Status decodeError(const std::string& param, const std::string& value,
                         const std::string& what) {
  return absl::InvalidArgumentError(
      absl::StrCat("query parameter \"", param, "\": \"", value, "\" is not ", what));
}

}  // namespace

absl::StatusOr<LogOptions> parseLogOptions(const server::HttpRequest& req, absl::Time now) {
  std::map<std::string, std::string> query = req.query;
  // Backwards compatibility for "tail", as the kubelet: it replaces tailLines, and
  // "all" removes it.
  if (auto it = query.find("tail"); it != query.end() && !it->second.empty()) {
    if (it->second == "all") {
      query.erase("tailLines");
    } else {
      query["tailLines"] = it->second;
    }
  }
  auto get = [&](const char* key) -> const std::string* {
    auto it = query.find(key);
    return it == query.end() ? nullptr : &it->second;
  };

  LogOptions o;
  if (auto* v = get("follow")) o.follow = parseBool(*v);
  if (auto* v = get("previous")) o.previous = parseBool(*v);
  if (auto* v = get("timestamps")) o.timestamps = parseBool(*v);

  std::optional<int64_t> sinceSeconds;
  const char* intParams[] = {"tailLines", "limitBytes", "sinceSeconds"};
  std::optional<int64_t>* intTargets[] = {&o.tailLines, &o.limitBytes, &sinceSeconds};
  for (size_t i = 0; i < 3; ++i) {
    if (auto* v = get(intParams[i])) {
      auto n = parseInt64(*v);
      if (!n) return decodeError(intParams[i], *v, "an integer");
      *intTargets[i] = *n;
    }
  }
  // sinceTime: RFC3339; empty (or "null") is the zero time, i.e. no filter, but
  // still counts as given for the exclusivity check below (as a non-nil pointer).
  bool sinceTimeGiven = false;
  std::optional<absl::Time> sinceTime;
  if (auto* v = get("sinceTime")) {
    sinceTimeGiven = true;
    if (!v->empty() && *v != "null") {
      auto t = parseRfc3339Nano(*v);
      if (!t) return decodeError("sinceTime", *v, "an RFC3339 time");
      sinceTime = t->first;
    }
  }

  // ValidatePodLogOptions, with the parameter named in each message.
  std::vector<std::string> errs;
  if (o.tailLines && *o.tailLines < 0) {
    errs.push_back(absl::StrCat("query parameter \"tailLines\": invalid value ", *o.tailLines,
                                ": must be greater than or equal to 0"));
  }
  if (o.limitBytes && *o.limitBytes < 1) {
    errs.push_back(absl::StrCat("query parameter \"limitBytes\": invalid value ", *o.limitBytes,
                                ": must be greater than 0"));
  }
  if (sinceSeconds && sinceTimeGiven) {
    errs.push_back(
        "query parameters \"sinceTime\" and \"sinceSeconds\": at most one of `sinceTime` or "
        "`sinceSeconds` may be specified");
  } else if (sinceSeconds && *sinceSeconds < 1) {
    errs.push_back(absl::StrCat("query parameter \"sinceSeconds\": invalid value ", *sinceSeconds,
                                ": must be greater than 0"));
  }
  if (!errs.empty()) return absl::FailedPreconditionError(absl::StrJoin(errs, "; "));

  if (sinceSeconds) {
    // Saturate: a huge sinceSeconds means "everything".
    o.since = *sinceSeconds > 1'000'000'000'000LL ? absl::InfinitePast()
                                                  : now - absl::Seconds(*sinceSeconds);
  }
  if (sinceTime) o.since = sinceTime;
  return o;
}

int logOptionsErrorHttpStatus(const absl::Status& status) {
  return status.code() == absl::StatusCode::kFailedPrecondition ? 422 : 400;
}

}  // namespace agent::logs
