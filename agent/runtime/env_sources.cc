#include "agent/runtime/env_sources.h"

namespace agent::runtime {

EnvReferences envReferences(const api::Pod& pod) {
  EnvReferences refs;
  for (const auto* list :
       {&pod.spec.initContainers, &pod.spec.containers, &pod.spec.ephemeralContainers}) {
    for (const api::Container& c : *list) {
      for (const api::EnvFromSource& from : c.envFrom) {
        if (from.configMapRef) refs.configMaps.insert(from.configMapRef->name);
        if (from.secretRef) refs.secrets.insert(from.secretRef->name);
      }
      for (const api::EnvVar& e : c.env) {
        if (!e.valueFrom) continue;
        if (e.valueFrom->configMapKeyRef)
          refs.configMaps.insert(e.valueFrom->configMapKeyRef->name);
        if (e.valueFrom->secretKeyRef) refs.secrets.insert(e.valueFrom->secretKeyRef->name);
      }
    }
  }
  return refs;
}

}  // namespace agent::runtime
