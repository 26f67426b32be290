// Helpers for the volume integration tests: what is mounted under a directory (from
// /proc/self/mountinfo, the way the kubelet's tests check for leaked mounts), the
// unmounting a test does before removing its temp dir, and running a command in a
// container through CRI ExecSync.
#pragma once

#include <chrono>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "cri/grpc_runtime_client.h"

namespace cubelet::testing {

// The mount points at or below `dir` in /proc/self/mountinfo (octal escapes such as
// \040 decoded), in mount order.
std::vector<std::string> mountsUnder(const std::string& dir);

// The names in `dir` but "." and ".." (empty when it cannot be read).
std::set<std::string> listDir(const std::string& dir);

// Lazily unmounts (MNT_DETACH) every mount at or below `dir`, the most recent
// first; returns how many. For test cleanup, so that removing a temp dir never
// deletes through a mount.
int unmountAllUnder(const std::string& dir);

struct ExecResult {
  bool ok = false;  // the exec ran (whatever its exit code)
  int exitCode = -1;
  std::string out;               // stdout
  std::string err;               // stderr, or the CRI error when !ok
  std::string text;              // stdout without a trailing newline
  std::string describe() const;  // for failure messages
};

// Runs `cmd` in the container (CRI ExecSync, 10 s timeout).
ExecResult execIn(cri::GrpcRuntimeClient& cri, const std::string& containerId,
                  const std::vector<std::string>& cmd);
// `sh -c script` in the container.
ExecResult shIn(cri::GrpcRuntimeClient& cri, const std::string& containerId,
                const std::string& script);

// Calls `done` every 100 ms until it returns true or `timeout` passes; returns its
// last answer.
bool pollUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout);

// The line of /proc/mounts (as the container sees it, from `cat /proc/mounts`) whose
// mount point is `mountPoint`, or "".
std::string mountLine(const std::string& procMounts, const std::string& mountPoint);

}  // namespace cubelet::testing
