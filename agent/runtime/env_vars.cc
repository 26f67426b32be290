#include "agent/runtime/env_vars.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/runtime/container_config.h"
#include "agent/runtime/env_fields.h"
#include "agent/runtime/expansion.h"
#include "agent/runtime/service_env.h"

namespace agent::runtime {
namespace {

constexpr char kNoApiServer[] =
    "ConfigMaps and Secrets are not available to static pods without an API server";

// Pods from a manifest (config.source "file"); API pods carry no such annotation or
// "api". The kubelet does not hold static pods back waiting for Services.
bool isStaticPod(const api::Pod& pod) {
  auto it = pod.metadata.annotations.find("kubernetes.io/config.source");
  return it != pod.metadata.annotations.end() && it->second != "api";
}

// The environment under construction: definition order, a redefinition replaces the
// value where the name first appeared.
class EnvBuilder {
 public:
  void set(const std::string& name, std::string value) {
    auto [it, inserted] = values_.try_emplace(name, value);
    if (inserted) {
      order_.emplace_back(name, std::move(value));
      return;
    }
    it->second = value;
    for (auto& kv : order_) {
      if (kv.first == name) {
        kv.second = std::move(value);
        break;
      }
    }
  }
  const std::map<std::string, std::string>& values() const { return values_; }
  bool has(const std::string& name) const { return values_.count(name) > 0; }
  EnvList take() { return std::move(order_); }

 private:
  EnvList order_;
  std::map<std::string, std::string> values_;
};

// Finds a referenced object in the snapshot. nullptr (with OK) means "does not exist,
// and that is fine because the reference is optional".
template <typename T>
absl::StatusOr<const T*> findObject(const std::map<std::string, std::shared_ptr<const T>>& objects,
                                    const std::string& kind, const std::string& ns,
                                    const std::string& name, bool optional) {
  auto it = objects.find(name);
  if (it == objects.end()) {
    return absl::UnavailableError(absl::StrCat("failed to sync ", kind, " cache: ", kind, " \"", ns,
                                               "/", name,
                                               "\" not yet received from the API server"));
  }
  if (it->second == nullptr) {
    if (optional) return nullptr;
    return absl::FailedPreconditionError(absl::StrCat(kind, " \"", name, "\" not found"));
  }
  return it->second.get();
}

// envFrom: every key of the object (prefixed) that is a valid variable name.
template <typename Map>
void addEnvFrom(const Map& data, const std::string& prefix, const std::string& kind,
                const std::string& ns, const std::string& name, bool relaxed, EnvBuilder& env,
                std::vector<EnvWarning>* warnings) {
  std::vector<std::string> invalid;
  for (const auto& [key, value] : data) {
    std::string k = prefix + key;
    if (!isValidEnvVarName(k, relaxed)) {
      invalid.push_back(std::move(k));
      continue;
    }
    env.set(k, value);
  }
  if (!invalid.empty() && warnings != nullptr) {
    warnings->push_back(
        {kInvalidEnvironmentVariableNames,
         absl::StrCat("Keys [", absl::StrJoin(invalid, ", "), "] from the EnvFrom ", kind, " ", ns,
                      "/", name,
                      " were skipped since they are considered invalid environment variable "
                      "names.")});
  }
}

}  // namespace

bool isValidEnvVarName(std::string_view name, bool relaxed) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    unsigned char ch = static_cast<unsigned char>(name[i]);
    if (relaxed) {
      if (ch < 0x20 || ch > 0x7e || ch == '=') return false;
      continue;
    }
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '-' || ch == '.' ||
              ch == '_' || (i > 0 && ch >= '0' && ch <= '9');
    if (!ok) return false;
  }
  return true;
}

bool isRetryableEnvError(const absl::Status& s) { return absl::IsUnavailable(s); }

absl::StatusOr<EnvList> makeEnvironment(const api::Pod& pod, const api::Container& c,
                                        const ContainerContext& ctx,
                                        std::vector<EnvWarning>* warnings) {
  const EnvSources* src = ctx.sources.get();
  const bool haveApi = src != nullptr && src->apiAvailable;
  const std::string& ns = pod.metadata.namespace_;

  // Service links, lowest precedence: used by $(VAR) expansion and appended last.
  EnvList serviceEnv;
  std::map<std::string, std::string> serviceVars;
  if (haveApi) {
    if (!src->servicesSynced && !isStaticPod(pod)) {
      return absl::UnavailableError(
          "services have not yet been read at least once, cannot construct envvars");
    }
    for (auto& [k, v] :
         serviceLinkEnv(ns, pod.spec.enableServiceLinks.value_or(true), src->services)) {
      auto [it, inserted] = serviceVars.try_emplace(k, v);
      if (inserted) {
        serviceEnv.emplace_back(k, v);
      } else {
        it->second = v;  // a later service's variable of the same name wins
        for (auto& kv : serviceEnv) {
          if (kv.first == k) kv.second = v;
        }
      }
    }
  } else if (!c.envFrom.empty()) {
    return absl::FailedPreconditionError(std::string("envFrom[0]: ") + kNoApiServer);
  }

  EnvBuilder env;
  for (const api::EnvFromSource& from : c.envFrom) {
    if (from.configMapRef) {
      const auto& ref = *from.configMapRef;
      auto cm =
          findObject(src->configMaps, "configmap", ns, ref.name, ref.optional.value_or(false));
      if (!cm.ok()) return cm.status();
      if (*cm == nullptr) continue;
      addEnvFrom((*cm)->data, from.prefix, "configMap", ns, ref.name, src->relaxedEnvVarNames, env,
                 warnings);
    } else if (from.secretRef) {
      const auto& ref = *from.secretRef;
      auto s = findObject(src->secrets, "secret", ns, ref.name, ref.optional.value_or(false));
      if (!s.ok()) return s.status();
      if (*s == nullptr) continue;
      addEnvFrom((*s)->data, from.prefix, "secret", ns, ref.name, src->relaxedEnvVarNames, env,
                 warnings);
    }
  }

  PodAddresses addrs{ctx.podIP, ctx.podIPs, ctx.hostIP, ctx.hostIPs};
  static const std::map<std::string, api::Quantity> kNoAllocatable;
  for (size_t i = 0; i < c.env.size(); ++i) {
    const api::EnvVar& e = c.env[i];
    std::string where = absl::StrCat("env[", i, "] (", e.name, ")");
    // A literal value wins over valueFrom (API validation forbids having both).
    if (!e.value.empty() || !e.valueFrom) {
      env.set(e.name, expandVars(e.value, lookupIn({&env.values(), &serviceVars})));
      continue;
    }
    const api::EnvVarSource& from = *e.valueFrom;
    if (from.fieldRef) {
      auto v = fieldRefValue(*from.fieldRef, pod, addrs);
      if (!v.ok())
        return absl::InvalidArgumentError(where + ": " + std::string(v.status().message()));
      env.set(e.name, std::move(*v));
    } else if (from.resourceFieldRef) {
      auto v = resourceFieldValue(*from.resourceFieldRef, pod, c,
                                  src ? src->nodeAllocatable : kNoAllocatable);
      if (!v.ok())
        return absl::InvalidArgumentError(where + ": " + std::string(v.status().message()));
      env.set(e.name, std::move(*v));
    } else if (from.configMapKeyRef || from.secretKeyRef) {
      const api::KeySelector& ref =
          from.configMapKeyRef ? *from.configMapKeyRef : *from.secretKeyRef;
      bool optional = ref.optional.value_or(false);
      if (!haveApi) {
        if (optional) continue;
        return absl::FailedPreconditionError(where + ": " + kNoApiServer);
      }
      const std::map<std::string, std::string>* data = nullptr;
      const char* kind = nullptr;
      if (from.configMapKeyRef) {
        auto cm = findObject(src->configMaps, "configmap", ns, ref.name, optional);
        if (!cm.ok()) return cm.status();
        if (*cm == nullptr) continue;
        data = &(*cm)->data;
        kind = "ConfigMap";
      } else {
        auto s = findObject(src->secrets, "secret", ns, ref.name, optional);
        if (!s.ok()) return s.status();
        if (*s == nullptr) continue;
        data = &(*s)->data;
        kind = "Secret";
      }
      auto it = data->find(ref.key);
      if (it == data->end()) {
        if (optional) continue;
        return absl::FailedPreconditionError(
            absl::StrCat("couldn't find key ", ref.key, " in ", kind, " ", ns, "/", ref.name));
      }
      env.set(e.name, it->second);
    } else {
      env.set(e.name, "");
    }
  }

  // Service links not overridden by the container's own variables come last.
  for (auto& [k, v] : serviceEnv) {
    if (!env.has(k)) env.set(k, v);
  }
  return env.take();
}

}  // namespace agent::runtime
