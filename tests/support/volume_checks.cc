#include "tests/support/volume_checks.h"

#include <dirent.h>

#include <sys/mount.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <thread>

namespace cubelet::testing {
namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescapeOctal(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1]))) {
      out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 3), nullptr, 8)));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

bool atOrBelow(const std::string& path, const std::string& dir) {
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
                         path[dir.size()] == '/');
}

}  // namespace

std::vector<std::string> mountsUnder(const std::string& dir) {
  std::vector<std::string> out;
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);) {
    // id parent major:minor root mountpoint ...
    std::istringstream fields(line);
    std::string id, parent, dev, root, mountPoint;
    fields >> id >> parent >> dev >> root >> mountPoint;
    mountPoint = unescapeOctal(mountPoint);
    if (atOrBelow(mountPoint, dir)) out.push_back(mountPoint);
  }
  return out;
}

int unmountAllUnder(const std::string& dir) {
  int count = 0;
  // Stacked mounts show up once per layer: repeat until nothing is left.
  for (int round = 0; round < 10; ++round) {
    std::vector<std::string> mounts = mountsUnder(dir);
    if (mounts.empty()) break;
    std::reverse(mounts.begin(), mounts.end());
    for (const auto& m : mounts) {
      if (::umount2(m.c_str(), MNT_DETACH) == 0) ++count;
    }
  }
  return count;
}

std::string ExecResult::describe() const {
  if (!ok) return "exec failed: " + err;
  return "exit " + std::to_string(exitCode) + ", stdout: [" + out + "], stderr: [" + err + "]";
}

ExecResult execIn(cri::GrpcRuntimeClient& cri, const std::string& containerId,
                  const std::vector<std::string>& cmd) {
  ExecResult r;
  auto resp = cri.execSync(containerId, cmd, 10);
  if (!resp.ok()) {
    r.err = std::string(resp.status().message());
    return r;
  }
  r.ok = true;
  r.exitCode = resp->exit_code();
  r.out = resp->stdout();
  r.err = resp->stderr();
  r.text = r.out;
  while (!r.text.empty() && r.text.back() == '\n') r.text.pop_back();
  return r;
}

ExecResult shIn(cri::GrpcRuntimeClient& cri, const std::string& containerId,
                const std::string& script) {
  return execIn(cri, containerId, {"sh", "-c", script});
}

bool pollUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

std::string mountLine(const std::string& procMounts, const std::string& mountPoint) {
  std::istringstream in(procMounts);
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string source, target;
    fields >> source >> target;
    if (unescapeOctal(target) == mountPoint) return line;
  }
  return "";
}

std::set<std::string> listDir(const std::string& dir) {
  std::set<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return names;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.insert(n);
  }
  ::closedir(d);
  return names;
}

}  // namespace cubelet::testing
