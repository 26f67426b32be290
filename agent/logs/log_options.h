// The query of GET /containerLogs/{namespace}/{pod}/{container}, decoded and
// validated as the kubelet does it (v1.PodLogOptions from the query, then
// ValidatePodLogOptions): a value that does not decode is 400, a decoded value that
// fails validation is 422. Unlike the kubelet's fixed `{"message": "Invalid
// request."}`, our messages name the parameter.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/server/http_server.h"

namespace agent::logs {

struct LogOptions {
  bool follow = false;
  // The previous instance of the container: the caller picks the file.
  bool previous = false;
  bool timestamps = false;
  std::optional<int64_t> tailLines;   // >= 0
  std::optional<int64_t> limitBytes;  // >= 1
  // Records older than this are left out (from sinceSeconds or sinceTime).
  std::optional<absl::Time> since;
};

// Parses the request's query. `now` turns sinceSeconds into a time. Errors are
// kInvalidArgument for a value that does not decode (HTTP 400) and
// kFailedPrecondition for one that fails validation (HTTP 422); see
// logOptionsErrorHttpStatus(). Booleans follow the apiserver's query rules: absent,
// "0" or "false" (any case) is false, anything else (even "?follow") true. The
// legacy "tail" parameter is honoured ("tail=all" means no tailLines).
absl::StatusOr<LogOptions> parseLogOptions(const server::HttpRequest& req, absl::Time now);

// 400 or 422 for an error from parseLogOptions().
int logOptionsErrorHttpStatus(const absl::Status& status);

}  // namespace agent::logs
