// A terminated container's message, read as the kubelet reads it: the file the
// container wrote at its terminationMessagePath (at most 4 KiB, the tail) and,
// with terminationMessagePolicy FallbackToLogsOnError, the tail of its CRI log
// when the file is empty and the container failed. Blocking file reads: worker
// pool threads only.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "cri/proto/api.pb.h"

namespace agent::runtime {

// The kubelet's kubecontainer.MaxContainerTerminationMessage* limits.
inline constexpr size_t kMaxTerminationMessageLength = 4 * 1024;
inline constexpr size_t kMaxTerminationMessageLogLength = 2 * 1024;
inline constexpr int kMaxTerminationMessageLogLines = 80;

inline constexpr char kTerminationMessageFallbackToLogsOnError[] = "FallbackToLogsOnError";

// What a reader of CRI log text (`<RFC3339Nano> <stdout|stderr> <P|F>[:tags] <text>`
// lines) would print for its last `maxLines` complete lines, both streams mixed:
// a partial (P) line's text is joined to the next one; full lines keep their
// newline; malformed lines are skipped. An unterminated last line counts beyond
// `maxLines`, as the kubelet's tail does. At most the last `maxBytes` bytes.
std::string tailCriLog(std::string_view text, int maxLines, size_t maxBytes);

// tailCriLog over the end of the log file at `path`, with the kubelet's limits;
// a read error becomes the kubelet's "Error on reading termination message from
// logs: ..." text.
std::string readLastStringFromContainerLogs(const std::string& path);

// The kubelet's getTerminationMessage plus its log fallback, for an exited
// container: the runtime's message with the termination message appended
// (": " between them when both are set).
std::string terminatedContainerMessage(const ::runtime::v1::ContainerStatus& status,
                                       const std::string& terminationMessagePath,
                                       const std::string& terminationMessagePolicy);

}  // namespace agent::runtime
