#include "agent/logs/cri_log_format.h"

#include <algorithm>
#include <cstdio>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace agent::logs {
namespace {

bool digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

bool leapYear(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int daysIn(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && leapYear(year) ? 29 : kDays[month - 1];
}

}  // namespace

std::optional<std::pair<absl::Time, int>> parseRfc3339Nano(std::string_view s) {
  int year, month, day, hour, minute, second;
  if (!digits(s, 0, 4, &year) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, &month) ||
      s[7] != '-' || !digits(s, 8, 2, &day) || s[10] != 'T' || !digits(s, 11, 2, &hour) ||
      s[13] != ':' || !digits(s, 14, 2, &minute) || s[16] != ':' || !digits(s, 17, 2, &second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 ||
      second > 59) {
    return std::nullopt;
  }
  size_t pos = 19;
  int64_t nanos = 0;
  if (pos < s.size() && (s[pos] == '.' || s[pos] == ',') && pos + 1 < s.size() &&
      s[pos + 1] >= '0' && s[pos + 1] <= '9') {
    ++pos;
    int n = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (n < 9) {
        nanos = nanos * 10 + (s[pos] - '0');
        ++n;
      }
      ++pos;
    }
    for (; n < 9; ++n) nanos *= 10;
  }
  int offset = 0;
  if (pos < s.size() && s[pos] == 'Z') {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!digits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !digits(s, pos + 4, 2, &om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset = (oh * 3600 + om * 60) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  absl::Time t = absl::FromCivil(absl::CivilSecond(year, month, day, hour, minute, second),
                                 absl::UTCTimeZone());
  t += absl::Nanoseconds(nanos) - absl::Seconds(offset);
  return std::make_pair(t, offset);
}

std::string formatRfc3339NanoFixed(absl::Time t, int utcOffsetSeconds) {
  absl::TimeZone tz =
      utcOffsetSeconds == 0 ? absl::UTCTimeZone() : absl::FixedTimeZone(utcOffsetSeconds);
  std::string out = absl::FormatTime("%Y-%m-%dT%H:%M:%E9S", t, tz);
  if (utcOffsetSeconds == 0) {
    out += 'Z';
  } else {
    int a = std::abs(utcOffsetSeconds);
    absl::StrAppend(&out, absl::StrFormat("%c%02d:%02d", utcOffsetSeconds < 0 ? '-' : '+', a / 3600,
                                          (a % 3600) / 60));
  }
  return out;
}

absl::StatusOr<CriLogRecord> parseCriLogLine(std::string_view line) {
  CriLogRecord rec;
  size_t sp = line.find(' ');
  if (sp == std::string_view::npos) return absl::InvalidArgumentError("timestamp is not found");
  auto ts = parseRfc3339Nano(line.substr(0, sp));
  if (!ts) {
    return absl::InvalidArgumentError(
        absl::StrCat("unexpected timestamp format \"", std::string(line.substr(0, sp)), "\""));
  }
  rec.time = ts->first;
  rec.utcOffsetSeconds = ts->second;
  line.remove_prefix(sp + 1);

  sp = line.find(' ');
  if (sp == std::string_view::npos) return absl::InvalidArgumentError("stream type is not found");
  std::string_view stream = line.substr(0, sp);
  if (stream == "stdout") {
    rec.stream = LogStream::kStdout;
  } else if (stream == "stderr") {
    rec.stream = LogStream::kStderr;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unexpected stream type \"", std::string(stream), "\""));
  }
  line.remove_prefix(sp + 1);

  sp = line.find(' ');
  if (sp == std::string_view::npos) return absl::InvalidArgumentError("log tag is not found");
  // Tags are ':'-separated for forward compatibility; the first one says P or F.
  std::string_view tag = line.substr(0, sp);
  rec.partial = tag.substr(0, tag.find(':')) == "P";
  rec.content = line.substr(sp + 1);
  return rec;
}

bool recordEndsLine(std::string_view line) {
  size_t a = line.find(' ');
  if (a == std::string_view::npos) return true;
  size_t b = line.find(' ', a + 1);
  if (b == std::string_view::npos) return true;
  std::string_view rest = line.substr(b + 1);
  size_t c = rest.find(' ');
  if (c == std::string_view::npos) return true;
  std::string_view tag = rest.substr(0, c);
  return tag.substr(0, tag.find(':')) != "P";
}

LogRenderer::LogRenderer(std::optional<absl::Time> since, bool timestamps,
                         std::optional<int64_t> limitBytes)
    : since_(since),
      timestamps_(timestamps),
      remaining_(limitBytes ? *limitBytes : std::numeric_limits<int64_t>::max()) {}

void LogRenderer::emit(std::string_view data, std::string& out) {
  size_t n = static_cast<size_t>(std::min<int64_t>(remaining_, static_cast<int64_t>(data.size())));
  out.insert(out.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
  remaining_ -= static_cast<int64_t>(n);
}

bool LogRenderer::add(std::string_view line, std::string& out) {
  if (remaining_ == 0) return false;
  auto rec = parseCriLogLine(line);
  if (!rec.ok()) {
    ++malformed_;
    return true;
  }
  StreamState& st = streams_[rec->stream == LogStream::kStdout ? 0 : 1];
  if (!st.inLine) {
    st.included = !since_ || rec->time >= *since_;
    if (st.included && timestamps_) {
      emit(formatRfc3339NanoFixed(rec->time, rec->utcOffsetSeconds), out);
      emit(" ", out);
    }
  }
  if (st.included) {
    emit(rec->content, out);
    if (!rec->partial) emit("\n", out);
  }
  st.inLine = rec->partial;
  return remaining_ > 0;
}

}  // namespace agent::logs
