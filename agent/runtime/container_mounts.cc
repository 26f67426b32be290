#include "agent/runtime/container_mounts.h"

#include <set>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "agent/runtime/expansion.h"
#include "core/log.h"
#include "volumes/subpath.h"

namespace agent::runtime {

absl::StatusOr<::runtime::v1::MountPropagation> mountPropagation(
    const std::optional<std::string>& mode) {
  if (!mode || mode->empty() || *mode == "None") return ::runtime::v1::PROPAGATION_PRIVATE;
  if (*mode == "HostToContainer") return ::runtime::v1::PROPAGATION_HOST_TO_CONTAINER;
  if (*mode == "Bidirectional") return ::runtime::v1::PROPAGATION_BIDIRECTIONAL;
  return absl::InvalidArgumentError("invalid MountPropagation mode: \"" + *mode + "\"");
}

absl::StatusOr<std::string> expandSubPathExpr(const std::string& expr,
                                              const std::map<std::string, std::string>& env) {
  std::set<std::string> missing;
  std::string out = expandVars(expr, [&](std::string_view name) -> std::optional<std::string> {
    auto it = env.find(std::string(name));
    if (it == env.end() || it->second.empty()) {
      missing.insert(std::string(name));
      return std::string();
    }
    return it->second;
  });
  if (!missing.empty()) {
    return absl::InvalidArgumentError("missing value for " + absl::StrJoin(missing, ", "));
  }
  return out;
}

namespace {

bool hasBacksteps(const std::string& path) {
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part == "..") return true;
  }
  return false;
}

}  // namespace

absl::Status addVolumeMounts(const api::Container& c, const ::volumes::PodMounts& volumes,
                             const std::map<std::string, std::string>& env,
                             const std::string& podDir, ::runtime::v1::ContainerConfig* cc) {
  int index = 0;
  for (const api::VolumeMount& m : c.volumeMounts) {
    int mountIndex = index++;
    auto vol = volumes.find(m.name);
    if (vol == volumes.end()) {
      return absl::NotFoundError("cannot find volume \"" + m.name +
                                 "\" to mount into container \"" + c.name + "\"");
    }
    auto propagation = mountPropagation(m.mountPropagation);
    if (!propagation.ok()) return propagation.status();
    std::string hostPath = vol->second.hostPath;
    bool readOnly = m.readOnly || vol->second.readOnly;
    std::string subPath = m.subPath;
    if (!m.subPathExpr.empty()) {
      auto expanded = expandSubPathExpr(m.subPathExpr, env);
      if (!expanded.ok()) return expanded.status();
      subPath = *expanded;
    }
    if (!subPath.empty()) {
      if (subPath[0] == '/') {
        return absl::InvalidArgumentError("error SubPath `" + subPath +
                                          "` must not be an absolute path");
      }
      if (hasBacksteps(subPath)) {
        return absl::InvalidArgumentError("unable to provision SubPath `" + subPath +
                                          "`: must not contain '..'");
      }
      ::volumes::SubpathRequest req;
      req.volumePath = hostPath;
      req.subPath = subPath;
      req.podDir = podDir;
      req.volumeName = m.name;
      req.containerName = c.name;
      req.mountIndex = mountIndex;
      req.readOnly = readOnly;
      auto prepared = ::volumes::prepareSubpath(req);
      if (!prepared.ok()) {
        LOG_WARNING << "container " << c.name << ", volumeMount " << m.name << ": subPath "
                    << subPath << ": " << prepared.status().message();
        return absl::FailedPreconditionError("failed to prepare subPath for volumeMount \"" +
                                             m.name + "\" of container \"" + c.name + "\"");
      }
      hostPath = *prepared;
    }
    auto* cm = cc->add_mounts();
    cm->set_container_path(m.mountPath);
    cm->set_host_path(hostPath);
    cm->set_readonly(readOnly);
    cm->set_selinux_relabel(false);
    cm->set_propagation(*propagation);
  }
  return absl::OkStatus();
}

}  // namespace agent::runtime
