// The events cubelet logs at -v=3 as the kubelet's broadcaster does
// ("Event occurred" object=... reason=... message=...), read back from its log
// by integration tests that run without an API server to receive them.
#pragma once

#include <string>
#include <vector>

namespace cubelet::testing {

struct LoggedEvent {
  std::string object;  // "<namespace>/<name>"
  std::string fieldPath;
  std::string kind;
  std::string type;  // Normal / Warning
  std::string reason;
  std::string message;
};

// Every event line in `log`, in order.
std::vector<LoggedEvent> loggedEvents(const std::string& log);
// The events about `object` ("<namespace>/<name>") with this reason.
std::vector<LoggedEvent> loggedEvents(const std::string& log, const std::string& object,
                                      const std::string& reason);
// "reason: message" lines, for failure messages.
std::string describeEvents(const std::vector<LoggedEvent>& events);

}  // namespace cubelet::testing
