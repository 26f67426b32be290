#include "agent/volumes/volume_plans.h"

#include <tuple>

#include "absl/strings/str_cat.h"
#include "agent/volumes/payloads.h"
#include "agent/volumes/pod_volume_facts.h"

namespace agent::volumes {

namespace vp = ::volumes;

bool TokenRequestSpec::operator<(const TokenRequestSpec& o) const {
  return std::tie(serviceAccount, audience, expirationSeconds) <
         std::tie(o.serviceAccount, o.audience, o.expirationSeconds);
}

namespace {

// What the kubelet's ConfigMap/Secret getters say when it runs without an API server
// (kubeletVolumeHost.GetConfigMapFunc / GetSecretFunc in standalone mode).
constexpr char kStandalone[] = "not supported due to running kubelet in standalone mode";

bool haveApi(const VolumeInputs& in) { return in.sources != nullptr && in.sources->apiAvailable; }

const std::map<std::string, api::Quantity>& allocatableOf(const VolumeInputs& in) {
  static const std::map<std::string, api::Quantity> kNone;
  return in.sources ? in.sources->nodeAllocatable : kNone;
}

TokenRequestSpec tokenSpec(const api::Pod& pod, const api::ServiceAccountTokenProjection& tp) {
  return TokenRequestSpec{
      pod.spec.serviceAccountName.empty() ? "default" : pod.spec.serviceAccountName, tp.audience,
      tp.expirationSeconds.value_or(3600)};
}

std::optional<int64_t> fsGroupOf(const api::Pod& pod) {
  return pod.spec.securityContext ? pod.spec.securityContext->fsGroup : std::nullopt;
}

// A payload being collected from one or more sources: files, errors (all reported, as
// the projected plugin aggregates them) and whether some input is not known yet.
struct Collected {
  vp::Payload payload;
  std::vector<std::string> errors;
  bool waiting = false;

  void add(absl::StatusOr<vp::Payload> p) {
    if (!p.ok()) {
      errors.emplace_back(p.status().message());
      return;
    }
    for (auto& [path, file] : *p) payload[path] = std::move(file);  // later sources win
  }
  // An error wins over waiting: it is what the user has to fix, and waiting for the
  // rest would hide it.
  void finish(vp::VolumePlan& plan) {
    if (!errors.empty()) {
      plan.error = aggregateErrors(errors);
    } else if (waiting) {
      plan.waiting = true;
    } else {
      plan.payload = std::move(payload);
    }
  }
};

// A ConfigMap or Secret of the snapshot. Absent: not known yet (waiting). Known missing:
// fine when optional (an empty payload), else the API's NotFound as the kubelet's
// object managers word it.
template <typename T>
struct Found {
  const T* object = nullptr;
  bool waiting = false;
  std::string error;
};

template <typename T>
Found<T> findObject(const std::map<std::string, std::shared_ptr<const T>>& objects,
                    const char* kind, const std::string& name, bool optional) {
  Found<T> f;
  auto it = objects.find(name);
  if (it == objects.end()) {
    f.waiting = true;
  } else if (it->second) {
    f.object = it->second.get();
  } else if (!optional) {
    f.error = absl::StrCat(kind, " \"", name, "\" not found");
  }
  return f;
}

void collectConfigMap(const api::ObjectVolumeSource& src, int32_t defaultMode,
                      const std::string& field, const VolumeInputs& in, Collected& out) {
  bool optional = src.optional.value_or(false);
  if (!haveApi(in)) {
    out.errors.emplace_back(kStandalone);
    return;
  }
  auto f = findObject(in.sources->configMaps, "configmap", src.name, optional);
  if (!f.error.empty()) {
    out.errors.push_back(f.error);
    return;
  }
  if (f.waiting) out.waiting = true;
  // While waiting this only checks the items' modes.
  out.add(configMapPayload(src.items, f.object, defaultMode, optional, field));
}

void collectSecret(const api::ObjectVolumeSource& src, int32_t defaultMode,
                   const std::string& field, const VolumeInputs& in, Collected& out) {
  bool optional = src.optional.value_or(false);
  if (!haveApi(in)) {
    out.errors.emplace_back(kStandalone);
    return;
  }
  auto f = findObject(in.sources->secrets, "secret", src.name, optional);
  if (!f.error.empty()) {
    out.errors.push_back(f.error);
    return;
  }
  if (f.waiting) out.waiting = true;
  out.add(secretPayload(src.items, f.object, defaultMode, optional, field));
}

// The ConfigMap, Secret, downwardAPI and projected plugins share these: files written
// by the atomic writer into a volume mounted read-only, owned by the fsGroup.
vp::VolumePlan payloadPlan(const api::Pod& pod, const api::Volume& v, const char* plugin,
                           bool memory) {
  vp::VolumePlan plan;
  plan.name = v.name;
  plan.dirName = v.name;
  plan.kind = vp::VolumeKind::kPayload;
  plan.plugin = plugin;
  plan.memory = memory;
  plan.readOnly = true;
  plan.fsGroup = fsGroupOf(pod);
  return plan;
}

// Checks a volume's defaultMode; false (with plan.error set) when it is out of range.
bool checkDefaultMode(vp::VolumePlan& plan, const std::string& field, int32_t mode) {
  absl::Status s = checkMode(field, mode);
  if (!s.ok()) plan.error = std::string(s.message());
  return s.ok();
}

vp::VolumePlan emptyDirPlan(const api::Pod& pod, const api::Volume& v,
                            const api::EmptyDirVolumeSource& src, const VolumeInputs& in) {
  vp::VolumePlan plan;
  plan.name = v.name;
  plan.dirName = v.name;
  plan.kind = vp::VolumeKind::kEmptyDir;
  plan.plugin = vp::kEmptyDirPlugin;
  plan.fsGroup = fsGroupOf(pod);
  if (src.medium == "Memory") {
    plan.memory = true;
    plan.sizeBytes = memoryEmptyDirSize(pod, src, in.sources.get());
  } else if (src.medium.starts_with("HugePages")) {
    plan.error = absl::StrCat("emptyDir medium \"", src.medium,
                              "\" is not supported: cubelet does not manage huge pages");
  } else if (!src.medium.empty()) {
    plan.error = absl::StrCat("unknown storage medium \"", src.medium, "\"");
  }
  return plan;
}

vp::VolumePlan hostPathPlan(const api::Volume& v, const api::HostPathVolumeSource& src) {
  vp::VolumePlan plan;
  plan.name = v.name;
  plan.dirName = v.name;
  plan.kind = vp::VolumeKind::kHostPath;
  plan.source = src.path;
  plan.hostPathType = src.type.value_or("");
  return plan;
}

vp::VolumePlan configMapPlan(const api::Pod& pod, const api::Volume& v,
                             const api::ObjectVolumeSource& src, const VolumeInputs& in) {
  // On disk: the kubelet's configmap plugin wraps a plain emptyDir.
  vp::VolumePlan plan = payloadPlan(pod, v, vp::kConfigMapPlugin, false);
  int32_t mode = src.defaultMode.value_or(kDefaultVolumeMode);
  if (!checkDefaultMode(plan, "configMap.defaultMode", mode)) return plan;
  Collected c;
  collectConfigMap(src, mode, "configMap", in, c);
  c.finish(plan);
  return plan;
}

vp::VolumePlan secretPlan(const api::Pod& pod, const api::Volume& v,
                          const api::ObjectVolumeSource& src, const VolumeInputs& in) {
  // Secrets never touch the disk.
  vp::VolumePlan plan = payloadPlan(pod, v, vp::kSecretPlugin, true);
  int32_t mode = src.defaultMode.value_or(kDefaultVolumeMode);
  if (!checkDefaultMode(plan, "secret.defaultMode", mode)) return plan;
  Collected c;
  collectSecret(src, mode, "secret", in, c);
  c.finish(plan);
  return plan;
}

vp::VolumePlan downwardAPIPlan(const api::Pod& pod, const api::Volume& v,
                               const api::DownwardAPIVolumeSource& src, const VolumeInputs& in) {
  // The downwardAPI plugin wraps a Memory emptyDir.
  vp::VolumePlan plan = payloadPlan(pod, v, vp::kDownwardAPIPlugin, true);
  int32_t mode = src.defaultMode.value_or(kDefaultVolumeMode);
  if (!checkDefaultMode(plan, "downwardAPI.defaultMode", mode)) return plan;
  Collected c;
  c.add(downwardAPIPayload(src.items, pod, allocatableOf(in), mode, "downwardAPI"));
  c.finish(plan);
  return plan;
}

vp::VolumePlan projectedPlan(const api::Pod& pod, const api::Volume& v,
                             const api::ProjectedVolumeSource& src, const VolumeInputs& in) {
  vp::VolumePlan plan = payloadPlan(pod, v, vp::kProjectedPlugin, true);
  int32_t mode = src.defaultMode.value_or(kDefaultVolumeMode);
  if (!checkDefaultMode(plan, "projected.defaultMode", mode)) return plan;
  if (!haveApi(in)) {
    plan.error = absl::StrCat("cannot setup projected volume ", v.name,
                              " because kube client is not configured");
    return plan;
  }
  // Tokens are private to the containers' user: with an fsUser or fsGroup the file is
  // 0600 and the ownership change (fsGroup) adds group read (projected.go collectData).
  const std::optional<int64_t> fsUser = fsUserFrom(pod);
  const int32_t tokenMode = (fsUser || plan.fsGroup) ? 0600 : mode;
  Collected c;
  for (size_t i = 0; i < src.sources.size(); ++i) {
    const api::VolumeProjection& s = src.sources[i];
    const std::string field = absl::StrCat("projected.sources[", i, "]");
    if (s.secret) {
      collectSecret(*s.secret, mode, field + ".secret", in, c);
    } else if (s.configMap) {
      collectConfigMap(*s.configMap, mode, field + ".configMap", in, c);
    } else if (s.downwardAPI) {
      c.add(downwardAPIPayload(s.downwardAPI->items, pod, allocatableOf(in), mode,
                               field + ".downwardAPI"));
    } else if (s.serviceAccountToken) {
      const api::ServiceAccountTokenProjection& tp = *s.serviceAccountToken;
      if (absl::Status ps = checkPayloadPath(tp.path); !ps.ok()) {
        c.errors.emplace_back(ps.message());
        continue;
      }
      auto it = in.tokens.find(tokenSpec(pod, tp));
      if (it == in.tokens.end() || (!it->second.ready && it->second.error.empty())) {
        c.waiting = true;
      } else if (!it->second.error.empty()) {
        const std::string& e = it->second.error;
        c.errors.push_back(e.starts_with("failed to fetch token") ? e
                                                                  : "failed to fetch token: " + e);
      } else {
        c.payload[cleanPayloadPath(tp.path)] =
            vp::FileProjection{it->second.token, tokenMode, fsUser};
      }
    }
  }
  c.finish(plan);
  return plan;
}

vp::VolumePlan claimPlan(const api::Pod& pod, const api::Volume& v,
                         const api::PersistentVolumeClaimVolumeSource& src,
                         const VolumeInputs& in) {
  vp::VolumePlan plan;
  plan.name = v.name;
  plan.dirName = v.name;
  if (!haveApi(in)) {
    plan.error = absl::StrCat("failed to fetch PVC from API server: ", kStandalone);
    return plan;
  }
  auto it = in.claims.find(src.claimName);
  if (it == in.claims.end() || it->second.state == ClaimLookup::State::kPending) {
    plan.waiting = true;
    return plan;
  }
  const ClaimLookup& claim = it->second;
  if (claim.state == ClaimLookup::State::kFailed) {
    plan.error = claim.error;
    return plan;
  }
  plan.readOnly = src.readOnly || claim.pvReadOnly;
  plan.source = claim.path;
  if (claim.local) {
    plan.kind = vp::VolumeKind::kBind;
    plan.plugin = vp::kLocalVolumePlugin;
    plan.dirName = claim.pvName;
    // The local plugin sets ownership only on a writable mount, and it is the one
    // plugin here that honours fsGroupChangePolicy (the others always change it).
    if (!plan.readOnly) plan.fsGroup = fsGroupOf(pod);
    const auto& sc = pod.spec.securityContext;
    if (sc && sc->fsGroupChangePolicy == std::optional<std::string>("OnRootMismatch")) {
      plan.fsGroupPolicy = vp::FsGroupPolicy::kOnRootMismatch;
    }
  } else {
    plan.kind = vp::VolumeKind::kHostPath;
    plan.hostPathType = claim.hostPathType;
  }
  return plan;
}

vp::VolumePlan unsupportedPlan(const api::Volume& v) {
  vp::VolumePlan plan;
  plan.name = v.name;
  plan.dirName = v.name;
  plan.error = absl::StrCat("no volume plugin matched: ", v.otherSources.front(),
                            " volumes are not supported by cubelet");
  return plan;
}

}  // namespace

VolumeReferences volumeReferences(const api::Pod& pod) {
  VolumeReferences refs;
  for (const api::Volume& v : pod.spec.volumes) {
    if (v.configMap) refs.configMaps.insert(v.configMap->name);
    if (v.secret) refs.secrets.insert(v.secret->name);
    if (v.persistentVolumeClaim) refs.claims.insert(v.persistentVolumeClaim->claimName);
    if (!v.projected) continue;
    for (const api::VolumeProjection& s : v.projected->sources) {
      if (s.configMap) refs.configMaps.insert(s.configMap->name);
      if (s.secret) refs.secrets.insert(s.secret->name);
      if (s.serviceAccountToken) refs.tokens.insert(tokenSpec(pod, *s.serviceAccountToken));
    }
  }
  return refs;
}

std::vector<vp::VolumePlan> volumePlans(const api::Pod& pod, const VolumeInputs& in) {
  std::vector<vp::VolumePlan> plans;
  plans.reserve(pod.spec.volumes.size());
  for (const api::Volume& v : pod.spec.volumes) {
    if (v.hostPath) {
      plans.push_back(hostPathPlan(v, *v.hostPath));
    } else if (v.emptyDir) {
      plans.push_back(emptyDirPlan(pod, v, *v.emptyDir, in));
    } else if (v.configMap) {
      plans.push_back(configMapPlan(pod, v, *v.configMap, in));
    } else if (v.secret) {
      plans.push_back(secretPlan(pod, v, *v.secret, in));
    } else if (v.downwardAPI) {
      plans.push_back(downwardAPIPlan(pod, v, *v.downwardAPI, in));
    } else if (v.projected) {
      plans.push_back(projectedPlan(pod, v, *v.projected, in));
    } else if (v.persistentVolumeClaim) {
      plans.push_back(claimPlan(pod, v, *v.persistentVolumeClaim, in));
    } else if (!v.otherSources.empty()) {
      plans.push_back(unsupportedPlan(v));
    } else {
      // No source at all is an emptyDir (the API server's SetDefaults_Volume).
      plans.push_back(emptyDirPlan(pod, v, api::EmptyDirVolumeSource{}, in));
    }
  }
  return plans;
}

}  // namespace agent::volumes
