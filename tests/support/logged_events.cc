#include "tests/support/logged_events.h"

#include <sstream>

#include "nlohmann/json.hpp"

namespace cubelet::testing {
namespace {

// The value of `key="..."` in an event line (values with no quote in them).
std::string field(const std::string& line, const std::string& key) {
  std::string needle = " " + key + "=\"";
  size_t at = line.find(needle);
  if (at == std::string::npos) return "";
  at += needle.size();
  size_t end = line.find('"', at);
  return end == std::string::npos ? "" : line.substr(at, end - at);
}

}  // namespace

std::vector<LoggedEvent> loggedEvents(const std::string& log) {
  std::vector<LoggedEvent> out;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.find("\"Event occurred\"") == std::string::npos) continue;
    LoggedEvent e;
    e.object = field(line, "object");
    e.fieldPath = field(line, "fieldPath");
    e.kind = field(line, "kind");
    e.type = field(line, "type");
    e.reason = field(line, "reason");
    // The message is last on the line, as a JSON string.
    size_t at = line.find(" message=");
    if (at != std::string::npos) {
      auto m = nlohmann::json::parse(line.substr(at + 9), nullptr, false);
      if (m.is_string()) e.message = m.get<std::string>();
    }
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<LoggedEvent> loggedEvents(const std::string& log, const std::string& object,
                                      const std::string& reason) {
  std::vector<LoggedEvent> out;
  for (auto& e : loggedEvents(log)) {
    if (e.object == object && e.reason == reason) out.push_back(std::move(e));
  }
  return out;
}

std::string describeEvents(const std::vector<LoggedEvent>& events) {
  std::string out;
  for (const auto& e : events) out += e.object + " " + e.reason + ": " + e.message + "\n";
  return out;
}

}  // namespace cubelet::testing
