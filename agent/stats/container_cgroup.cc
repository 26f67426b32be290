#include "agent/stats/container_cgroup.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "cgroups/cgroup_stats.h"
#include "nlohmann/json.hpp"

namespace agent::stats {
namespace {

// runc's ExpandSlice: "a-b-c.slice" -> "/a.slice/a-b.slice/a-b-c.slice"; "-.slice" -> "/".
absl::StatusOr<std::string> expandSlice(const std::string& slice) {
  static constexpr absl::string_view kSuffix = ".slice";
  if (!absl::EndsWith(slice, kSuffix) || absl::StrContains(slice, '/')) {
    return absl::InvalidArgumentError(absl::StrCat("invalid slice name \"", slice, "\""));
  }
  std::string name = slice.substr(0, slice.size() - kSuffix.size());
  if (name == "-") return std::string("/");
  std::string path, prefix;
  for (absl::string_view part : absl::StrSplit(name, '-')) {
    if (part.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("invalid slice name \"", slice, "\""));
    }
    absl::StrAppend(&path, "/", prefix, part, kSuffix);
    absl::StrAppend(&prefix, part, "-");
  }
  return path;
}

// `err` when it is the first failure worth naming.
void keepFirst(absl::Status* first, const absl::Status& err) {
  if (first->ok() && !err.ok()) *first = err;
}

}  // namespace

absl::StatusOr<std::string> cgroupOfCgroupsPath(const std::string& cgroupsPath) {
  if (cgroupsPath.empty()) return absl::InvalidArgumentError("empty cgroupsPath");
  if (cgroupsPath[0] == '/') return cgroupsPath;
  std::vector<std::string> parts = absl::StrSplit(cgroupsPath, ':');
  if (parts.size() != 3) {
    // runc places a relative cgroupfs path below its own cgroup; ours is the root.
    return "/" + cgroupsPath;
  }
  const std::string& parent = parts[0].empty() ? std::string("system.slice") : parts[0];
  absl::StatusOr<std::string> slice = expandSlice(parent);
  if (!slice.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cgroupsPath \"", cgroupsPath, "\": ", slice.status().message()));
  }
  std::string unit = absl::EndsWith(parts[2], ".slice")
                         ? parts[2]
                         : absl::StrCat(parts[1], parts[1].empty() ? "" : "-", parts[2], ".scope");
  return (*slice == "/" ? "" : *slice) + "/" + unit;
}

absl::StatusOr<std::string> cgroupsPathOfVerboseInfo(const std::string& infoJson) {
  nlohmann::json info = nlohmann::json::parse(infoJson, nullptr, false);
  if (info.is_discarded() || !info.is_object()) {
    return absl::InvalidArgumentError("verbose info: not a JSON object");
  }
  auto spec = info.find("runtimeSpec");
  if (spec == info.end() || !spec->is_object()) {
    return absl::NotFoundError("verbose info: no runtimeSpec");
  }
  auto lnx = spec->find("linux");
  if (lnx == spec->end() || !lnx->is_object()) {
    return absl::NotFoundError("verbose info: no runtimeSpec.linux");
  }
  auto path = lnx->find("cgroupsPath");
  if (path == lnx->end() || !path->is_string() || path->get<std::string>().empty()) {
    return absl::NotFoundError("verbose info: no runtimeSpec.linux.cgroupsPath");
  }
  return path->get<std::string>();
}

absl::StatusOr<CgroupFigures> readContainerCgroup(const std::vector<cgroups::CgroupMount>& mounts,
                                                  const std::string& cgroup) {
  std::string v2;
  for (const cgroups::CgroupMount& m : mounts) {
    if (m.v2 && v2.empty()) v2 = m.mountPoint + cgroup;
  }
  CgroupFigures out;
  absl::Status first;
  if (std::string cpuacct = cgroups::v1MountOf(mounts, "cpuacct"); !cpuacct.empty()) {
    auto usage = cgroups::readCpuacctUsage(cpuacct + cgroup);
    if (usage.ok()) out.cpuUsageNanos = *usage;
    keepFirst(&first, usage.status());
  } else if (!v2.empty()) {
    auto stat = cgroups::readCpuStat(v2);
    if (stat.ok()) out.cpuUsageNanos = stat->usageUsec * 1000;
    keepFirst(&first, stat.status());
  }
  if (std::string memory = cgroups::v1MountOf(mounts, "memory"); !memory.empty()) {
    auto usage = cgroups::readMemoryUsageInBytes(memory + cgroup);
    auto stat = cgroups::readMemoryStat(memory + cgroup);
    keepFirst(&first, usage.status());
    keepFirst(&first, stat.status());
    if (usage.ok()) out.memoryUsageBytes = *usage;
    if (usage.ok() && stat.ok()) out.workingSetBytes = cgroups::v1WorkingSetBytes(*usage, *stat);
    if (stat.ok()) {
      auto get = [&](const char* k) -> std::optional<uint64_t> {
        auto it = stat->all.find(k);
        return it == stat->all.end() ? std::nullopt : std::optional<uint64_t>(it->second);
      };
      out.rssBytes = get("total_rss");
      out.pageFaults = get("total_pgfault");
      out.majorPageFaults = get("total_pgmajfault");
    }
  } else if (!v2.empty()) {
    auto current = cgroups::readMemoryCurrent(v2);
    auto stat = cgroups::readMemoryStat(v2);
    keepFirst(&first, current.status());
    keepFirst(&first, stat.status());
    if (current.ok()) out.memoryUsageBytes = *current;
    if (current.ok() && stat.ok()) out.workingSetBytes = cgroups::workingSetBytes(*current, *stat);
    if (stat.ok()) {
      out.rssBytes = stat->anon;
      out.pageFaults = stat->pgfault;
      out.majorPageFaults = stat->pgmajfault;
    }
  }
  if (!out.cpuUsageNanos && !out.memoryUsageBytes) {
    if (!first.ok()) return first;
    return absl::NotFoundError(absl::StrCat("no cgroup mounts to read ", cgroup, " from"));
  }
  return out;
}

}  // namespace agent::stats
