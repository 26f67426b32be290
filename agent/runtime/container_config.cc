#include "agent/runtime/container_config.h"

#include <map>

#include "agent/runtime/container_mounts.h"
#include "agent/runtime/expansion.h"
#include "agent/runtime/hook_annotations.h"
#include "agent/runtime/labels.h"
#include "agent/runtime/pod_actions.h"
#include "agent/runtime/sandbox_config.h"
#include "agent/runtime/security_context.h"
#include "nlohmann/json.hpp"

namespace agent::runtime {

std::string containerLogPath(const std::string& container, int32_t restartCount) {
  return container + "/" + std::to_string(restartCount) + ".log";
}

absl::StatusOr<::runtime::v1::ContainerConfig> makeContainerConfig(
    const api::Pod& pod, const api::Container& c, const ContainerContext& ctx,
    std::vector<EnvWarning>* warnings) {
  auto env = makeEnvironment(pod, c, ctx, warnings);
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
  if (ctx.volumes) {
    absl::Status s = addVolumeMounts(c, *ctx.volumes, envMap, ctx.podDir, &cc);
    if (!s.ok()) return s;
  }
  if (ctx.etcHostsMount) *cc.add_mounts() = *ctx.etcHostsMount;
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
  if (c.lifecycle && c.lifecycle->preStop)
    ai.preStopHandlerJson = handlerJson(*c.lifecycle->preStop);
  for (const auto& [k, v] : containerAnnotations(ai)) (*cc.mutable_annotations())[k] = v;

  auto* sc = cc.mutable_linux()->mutable_security_context();
  setNamespaceOptions(pod, sc->mutable_namespace_options());
  // The kubelet's determineEffectiveSecurityContext (security_context.h).
  if (absl::Status s = setContainerSecurityContext(pod, c, ctx.security, sc); !s.ok()) return s;
  return cc;
}

}  // namespace agent::runtime
