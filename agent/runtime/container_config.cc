#include "agent/runtime/container_config.h"

#include <map>

#include "agent/runtime/expansion.h"
#include "agent/runtime/labels.h"
#include "agent/runtime/pod_actions.h"
#include "agent/runtime/sandbox_config.h"
#include "nlohmann/json.hpp"

namespace agent::runtime {
namespace {

// Label or annotation selectors of the form `metadata.labels['key']`.
bool mapField(const std::string& path, const std::string& prefix,
              const std::map<std::string, std::string>& m, std::string* out) {
  if (path.rfind(prefix + "['", 0) != 0 || path.size() < prefix.size() + 4 ||
      path.compare(path.size() - 2, 2, "']") != 0) {
    return false;
  }
  std::string key = path.substr(prefix.size() + 2, path.size() - prefix.size() - 4);
  auto it = m.find(key);
  *out = it == m.end() ? "" : it->second;
  return true;
}

absl::StatusOr<std::string> fieldRefValue(const api::Pod& pod, const std::string& path,
                                          const ContainerContext& ctx) {
  std::string v;
  if (path == "metadata.name") return pod.metadata.name;
  if (path == "metadata.namespace") return pod.metadata.namespace_;
  if (path == "metadata.uid") return pod.metadata.uid;
  if (path == "spec.nodeName") return pod.spec.nodeName;
  if (path == "spec.serviceAccountName") return pod.spec.serviceAccountName;
  if (path == "status.hostIP" || path == "status.hostIPs") return ctx.hostIP;
  if (path == "status.podIP") return ctx.podIP;
  if (path == "status.podIPs") {
    std::string joined;
    for (const auto& ip : ctx.podIPs) joined += (joined.empty() ? "" : ",") + ip;
    return joined.empty() ? ctx.podIP : joined;
  }
  if (mapField(path, "metadata.labels", pod.metadata.labels, &v)) return v;
  if (mapField(path, "metadata.annotations", pod.metadata.annotations, &v)) return v;
  return absl::InvalidArgumentError("unsupported fieldPath \"" + path + "\"");
}

}  // namespace

absl::StatusOr<EnvList> makeEnvironment(const api::Pod& pod, const api::Container& c,
                                        const ContainerContext& ctx) {
  EnvList env;
  std::map<std::string, std::string> defined;
  auto set = [&](const std::string& k, const std::string& v) {
    if (defined.count(k)) {
      for (auto& kv : env) {
        if (kv.first == k) kv.second = v;
      }
    } else {
      env.emplace_back(k, v);
    }
    defined[k] = v;
  };
  if (!c.envFrom.empty()) {
    return absl::FailedPreconditionError(
        "envFrom[0]: ConfigMaps and Secrets are not available to static pods without an API "
        "server");
  }
  for (size_t i = 0; i < c.env.size(); ++i) {
    const api::EnvVar& e = c.env[i];
    std::string where = "env[" + std::to_string(i) + "] (" + e.name + ")";
    if (!e.valueFrom) {
      set(e.name, expandVars(e.value, lookupIn({&defined})));
      continue;
    }
    const api::EnvVarSource& src = *e.valueFrom;
    if (src.fieldRef) {
      auto v = fieldRefValue(pod, src.fieldRef->fieldPath, ctx);
      if (!v.ok())
        return absl::InvalidArgumentError(where + ": " + std::string(v.status().message()));
      set(e.name, *v);
    } else if (src.configMapKeyRef || src.secretKeyRef) {
      bool optional = src.configMapKeyRef ? src.configMapKeyRef->optional.value_or(false)
                                          : src.secretKeyRef->optional.value_or(false);
      if (optional) continue;
      return absl::FailedPreconditionError(
          where +
          ": ConfigMaps and Secrets are not available to static pods without an API server");
    } else if (src.resourceFieldRef) {
      return absl::UnimplementedError(where + ": resourceFieldRef is not supported yet");
    }
  }
  return env;
}

std::string containerLogPath(const std::string& container, int32_t restartCount) {
  return container + "/" + std::to_string(restartCount) + ".log";
}

absl::StatusOr<::runtime::v1::ContainerConfig> makeContainerConfig(const api::Pod& pod,
                                                                   const api::Container& c,
                                                                   const ContainerContext& ctx) {
  auto env = makeEnvironment(pod, c, ctx);
  if (!env.ok()) return env.status();
  std::map<std::string, std::string> envMap(env->begin(), env->end());
  VarLookup lookup = lookupIn({&envMap});

  ::runtime::v1::ContainerConfig cc;
  cc.mutable_metadata()->set_name(c.name);
  cc.mutable_metadata()->set_attempt(static_cast<uint32_t>(ctx.restartCount));
  cc.mutable_image()->set_image(c.image);
  for (const auto& s : c.command) cc.add_command(expandVars(s, lookup));
  for (const auto& s : c.args) cc.add_args(expandVars(s, lookup));
  cc.set_working_dir(c.workingDir);
  for (const auto& [k, v] : *env) {
    auto* kv = cc.add_envs();
    kv->set_key(k);
    kv->set_value(v);
  }
  if (!ctx.terminationLogHostPath.empty()) {
    auto* m = cc.add_mounts();
    m->set_container_path(c.terminationMessagePath);
    m->set_host_path(ctx.terminationLogHostPath);
  }
  cc.set_log_path(containerLogPath(c.name, ctx.restartCount));
  cc.set_stdin(c.stdin);
  cc.set_stdin_once(c.stdinOnce);
  cc.set_tty(c.tty);

  PodIdentity id{pod.metadata.name, pod.metadata.namespace_, pod.metadata.uid};
  for (const auto& [k, v] : containerLabels(id, c.name)) (*cc.mutable_labels())[k] = v;
  ContainerAnnotationInput ai;
  ai.hash = containerHash(c);
  ai.restartCount = ctx.restartCount;
  ai.terminationMessagePath = c.terminationMessagePath;
  ai.terminationMessagePolicy = c.terminationMessagePolicy;
  ai.terminationGracePeriodSeconds = pod.spec.terminationGracePeriodSeconds;
  ai.deletionGracePeriodSeconds = pod.metadata.deletionGracePeriodSeconds;
  if (!c.ports.empty()) {
    nlohmann::json ports = nlohmann::json::array();
    for (const auto& p : c.ports) {
      nlohmann::json pj = {{"containerPort", p.containerPort}, {"protocol", p.protocol}};
      if (!p.name.empty()) pj["name"] = p.name;
      if (p.hostPort) pj["hostPort"] = p.hostPort;
      ports.push_back(pj);
    }
    ai.portsJson = ports.dump();
  }
  for (const auto& [k, v] : containerAnnotations(ai)) (*cc.mutable_annotations())[k] = v;

  setNamespaceOptions(pod,
                      cc.mutable_linux()->mutable_security_context()->mutable_namespace_options());
  return cc;
}

}  // namespace agent::runtime
