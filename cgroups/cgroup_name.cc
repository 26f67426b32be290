// The kubelet's CgroupName conversions (pkg/kubelet/cm/cgroup_manager_linux.go:
// ToCgroupfs, ParseCgroupfsToCgroupName, ToSystemd) with runc's systemd.ExpandSlice
// for the nested slice form.
#include <string>
#include <utility>
#include <vector>

#include "cgroups/cgroup_manager.h"

namespace cgroups {
namespace {

// Go's path.Clean for an absolute path: empty and "." elements vanish, ".." removes
// the element before it (and stops at the root).
std::string cleanAbsolute(const std::vector<std::string>& parts) {
  std::vector<std::string> kept;
  for (const std::string& joined : parts) {
    size_t start = 0;
    while (start <= joined.size()) {
      size_t end = joined.find('/', start);
      if (end == std::string::npos) end = joined.size();
      std::string elem = joined.substr(start, end - start);
      if (elem == "..") {
        if (!kept.empty()) kept.pop_back();
      } else if (!elem.empty() && elem != ".") {
        kept.push_back(std::move(elem));
      }
      start = end + 1;
    }
  }
  std::string out;
  for (const std::string& e : kept) out += "/" + e;
  return out.empty() ? "/" : out;
}

// The kubelet's escapeSystemdCgroupName: systemd uses "-" to nest slices, so a "-"
// inside one component (a pod UID's) must not be read as a level.
std::string escapeSystemd(const std::string& part) {
  std::string out = part;
  for (char& c : out) {
    if (c == '-') c = '_';
  }
  return out;
}

}  // namespace

std::string toCgroupfs(const CgroupName& name) { return cleanAbsolute(name.components); }

CgroupName fromCgroupfs(const std::string& path) {
  // As ParseCgroupfsToCgroupName: one leading "/" dropped, then split on "/"; only
  // "" or "/" is the root.
  std::string rest = path;
  if (!rest.empty() && rest[0] == '/') rest.erase(0, 1);
  CgroupName name;
  if (rest.empty()) return name;
  size_t start = 0;
  while (true) {
    size_t end = rest.find('/', start);
    if (end == std::string::npos) {
      name.components.push_back(rest.substr(start));
      break;
    }
    name.components.push_back(rest.substr(start, end - start));
    start = end + 1;
  }
  return name;
}

std::string toSystemd(const CgroupName& name) {
  // ExpandSlice("a-b-c.slice") = "/a.slice/a-b.slice/a-b-c.slice". The kubelet panics
  // on an empty component (it would make "a--b.slice", which systemd rejects); we
  // leave empty components out, as ToCgroupfs's path.Join does.
  std::string out;
  std::string prefix;
  for (const std::string& part : name.components) {
    if (part.empty()) continue;
    std::string escaped = escapeSystemd(part);
    out += "/" + prefix + escaped + ".slice";
    prefix += escaped + "-";
  }
  return out.empty() ? "/" : out;
}

std::string systemdSliceName(const CgroupName& name) {
  std::string full = toSystemd(name);
  if (full == "/") return "-.slice";
  return full.substr(full.rfind('/') + 1);
}

CgroupName child(const CgroupName& name, std::string component) {
  CgroupName out = name;
  out.components.push_back(std::move(component));
  return out;
}

}  // namespace cgroups
