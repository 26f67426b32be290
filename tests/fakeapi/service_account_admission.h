// The ServiceAccount admission plugin of kube-apiserver 1.32
// (plugin/pkg/admission/serviceaccount/admission.go) for the fake API server, and the
// objects two kube-controller-manager controllers keep in every namespace for it (the
// serviceaccounts controller's "default" ServiceAccount and the root-ca-cert-publisher's
// "kube-root-ca.crt" ConfigMap). Opt-in through FakeApiServerOptions::
// serviceAccountAdmission; pure functions over JSON, the store supplies the lookups.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"

namespace cubelet::fakeapi {

inline constexpr char kDefaultServiceAccountName[] = "default";
inline constexpr char kRootCaConfigMapName[] = "kube-root-ca.crt";
inline constexpr char kServiceAccountVolumePrefix[] = "kube-api-access-";
inline constexpr char kDefaultApiTokenMountPath[] = "/var/run/secrets/kubernetes.io/serviceaccount";

struct ServiceAccountAdmissionEnv {
  // The ServiceAccount `name` in the pod's namespace, or null.
  std::function<const nlohmann::json*(const std::string& name)> getServiceAccount;
  // names.SimpleNameGenerator's 5 random characters.
  std::function<std::string()> randomSuffix;
};

// Admits a pod create in `ns`, mutating `pod` as upstream's Admit then Validate do:
// mirror pods (annotation kubernetes.io/config.mirror) are not mutated and may not
// reference a service account, secrets or a serviceAccountToken projection; other pods
// get spec.serviceAccountName "default" when unset (spec.serviceAccount mirrors it, as
// the v1 conversion does), must name an existing ServiceAccount, get its
// imagePullSecrets when they have none, and unless automountServiceAccountToken is false
// (the pod's setting wins over the ServiceAccount's) get the projected volume
// kube-api-access-<5 chars> mounted read-only at
// /var/run/secrets/kubernetes.io/serviceaccount in every init and app container that
// does not already mount something there. A refusal is the API's 403 Forbidden Status
// for the pod.
absl::Status admitServiceAccount(const std::string& ns, nlohmann::json& pod,
                                 const ServiceAccountAdmissionEnv& env);

// The projected volume source upstream's TokenVolumeSource() makes, as stored in v1
// (defaultMode 420 from defaulting).
nlohmann::json serviceAccountTokenVolumeSource();

// What the controllers create in a new namespace: the ServiceAccount "default" and the
// ConfigMap "kube-root-ca.crt" with `caPem` under ca.crt. Objects carry kind,
// apiVersion, metadata.name and metadata.namespace.
std::vector<nlohmann::json> namespaceDefaultObjects(const std::string& ns,
                                                    const std::string& caPem);

}  // namespace cubelet::fakeapi
