#include "agent/kubeapi/object_watches.h"

#include "absl/strings/str_cat.h"

namespace agent::kubeapi {

ReflectorConfig singleObjectConfig(const ReflectorConfig& base, const std::string& resource,
                                   const std::string& ns, const std::string& name) {
  ReflectorConfig c = base;
  c.collectionPath = absl::StrCat("/api/v1/namespaces/", ns, "/", resource);
  c.fieldSelector = absl::StrCat("metadata.name=", name);
  c.labelSelector.clear();
  return c;
}

std::unique_ptr<ConfigMapWatches> makeConfigMapWatches(core::EventLoop& loop, ApiClient& client,
                                                       ConfigMapWatches::OnChange onChange,
                                                       ReflectorConfig base) {
  return std::make_unique<ConfigMapWatches>(loop, client, "configmaps", &api::decodeConfigMap,
                                            std::move(onChange), std::move(base));
}

std::unique_ptr<SecretWatches> makeSecretWatches(core::EventLoop& loop, ApiClient& client,
                                                 SecretWatches::OnChange onChange,
                                                 ReflectorConfig base) {
  return std::make_unique<SecretWatches>(loop, client, "secrets", &api::decodeSecret,
                                         std::move(onChange), std::move(base));
}

}  // namespace agent::kubeapi
