#include "agent/volumes/volume_plans.h"
#include "agent/volumes/pod_volume_facts.h"

#include <gtest/gtest.h>

#include "agent/api/pod_decode.h"

namespace agent::volumes {
namespace {

using nlohmann::json;
using ::volumes::FileProjection;
using ::volumes::FsGroupPolicy;
using ::volumes::Payload;
using ::volumes::VolumeKind;
using ::volumes::VolumePlan;

// A defaulted pod "web" in namespace "ns" with the given volumes; `specExtra` and
// `container` are merged into the spec and its one container "app".
api::Pod makePod(json volumes, json specExtra = json::object(), json container = json::object()) {
  json c = {{"name", "app"}, {"image", "busybox"}};
  for (auto& [k, v] : container.items()) c[k] = v;
  json j = {
      {"metadata",
       {{"name", "web"}, {"namespace", "ns"}, {"uid", "uid-1"}, {"labels", {{"app", "web"}}}}},
      {"spec", {{"serviceAccountName", "builder"}, {"containers", {c}}, {"volumes", volumes}}}};
  for (auto& [k, v] : specExtra.items()) j["spec"][k] = v;
  auto pod = api::decodePod(j);
  EXPECT_TRUE(pod.ok()) << pod.status();
  api::applyPodDefaults(*pod);
  return *pod;
}

std::shared_ptr<runtime::EnvSources> apiSources() {
  auto s = std::make_shared<runtime::EnvSources>();
  s->apiAvailable = true;
  return s;
}

std::shared_ptr<const api::ConfigMap> configMap(const std::string& name,
                                                std::map<std::string, std::string> data) {
  auto cm = std::make_shared<api::ConfigMap>();
  cm->metadata.name = name;
  cm->data = std::move(data);
  return cm;
}

std::shared_ptr<const api::Secret> secret(const std::string& name,
                                          std::map<std::string, std::string> data) {
  auto s = std::make_shared<api::Secret>();
  s->metadata.name = name;
  s->data = std::move(data);
  return s;
}

// The one plan of a one-volume pod.
VolumePlan planOf(const api::Pod& pod, const VolumeInputs& in) {
  auto plans = volumePlans(pod, in);
  EXPECT_EQ(plans.size(), 1u);
  return plans.empty() ? VolumePlan{} : plans[0];
}

TEST(VolumePlansEmptyDir, DiskAndDefaults) {
  api::Pod pod =
      makePod({{{"name", "scratch"}, {"emptyDir", json::object()}}, {{"name", "nosource"}}},
              {{"securityContext", {{"fsGroup", 2000}}}});
  auto plans = volumePlans(pod, {});
  ASSERT_EQ(plans.size(), 2u);
  for (const VolumePlan& p : plans) {
    EXPECT_EQ(p.kind, VolumeKind::kEmptyDir) << p.name;
    EXPECT_EQ(p.plugin, ::volumes::kEmptyDirPlugin);
    EXPECT_EQ(p.dirName, p.name);
    EXPECT_FALSE(p.memory);
    EXPECT_FALSE(p.sizeBytes);
    EXPECT_EQ(p.fsGroup, 2000);
    EXPECT_EQ(p.fsGroupPolicy, FsGroupPolicy::kAlways);
    EXPECT_FALSE(p.readOnly);
    EXPECT_TRUE(p.error.empty()) << p.error;
    EXPECT_FALSE(p.waiting);
  }
  EXPECT_EQ(plans[0].name, "scratch");
  EXPECT_EQ(plans[1].name, "nosource");
}

TEST(VolumePlansEmptyDir, MemorySize) {
  constexpr int64_t kMi = 1024 * 1024;
  struct Case {
    std::string name;
    json emptyDir;
    json limits;              // of the one container; null = none
    std::string allocatable;  // node memory; "" = unknown
    std::optional<uint64_t> size;
  } cases[] = {
      {"no bound at all", {{"medium", "Memory"}}, nullptr, "", std::nullopt},
      {"node allocatable", {{"medium", "Memory"}}, nullptr, "8Gi", 8192 * kMi},
      {"pod limit", {{"medium", "Memory"}}, {{"memory", "256Mi"}}, "8Gi", 256 * kMi},
      {"pod limit, node unknown", {{"medium", "Memory"}}, {{"memory", "256Mi"}}, "", 256 * kMi},
      {"sizeLimit below limit",
       {{"medium", "Memory"}, {"sizeLimit", "64Mi"}},
       {{"memory", "256Mi"}},
       "8Gi",
       64 * kMi},
      {"sizeLimit above limit",
       {{"medium", "Memory"}, {"sizeLimit", "1Gi"}},
       {{"memory", "256Mi"}},
       "8Gi",
       256 * kMi},
      {"sizeLimit above node",
       {{"medium", "Memory"}, {"sizeLimit", "16Gi"}},
       nullptr,
       "8Gi",
       8192 * kMi},
      {"sizeLimit only", {{"medium", "Memory"}, {"sizeLimit", "10Mi"}}, nullptr, "", 10 * kMi},
      {"cpu limit only", {{"medium", "Memory"}}, {{"cpu", "1"}}, "1Gi", 1024 * kMi},
  };
  for (const Case& c : cases) {
    json container = json::object();
    if (!c.limits.is_null()) container["resources"] = {{"limits", c.limits}};
    api::Pod pod =
        makePod({{{"name", "shm"}, {"emptyDir", c.emptyDir}}}, json::object(), container);
    auto src = apiSources();
    if (!c.allocatable.empty())
      src->nodeAllocatable["memory"] = *api::Quantity::parse(c.allocatable);
    VolumePlan p = planOf(pod, {src, {}, {}});
    EXPECT_TRUE(p.memory) << c.name;
    EXPECT_EQ(p.sizeBytes, c.size) << c.name;
    EXPECT_TRUE(p.error.empty()) << c.name << ": " << p.error;
  }
}

TEST(VolumePlansEmptyDir, PodMemoryLimitNeedsEveryContainer) {
  api::Pod pod =
      makePod(json::array(), json::object(), {{"resources", {{"limits", {{"memory", "100Mi"}}}}}});
  constexpr int64_t kMi = 1024 * 1024;
  EXPECT_EQ(podMemoryLimit(pod), 100 * kMi);
  api::Container init = pod.spec.containers[0];
  init.name = "init";
  init.resources.limits["memory"] = *api::Quantity::parse("300Mi");
  pod.spec.initContainers.push_back(init);
  EXPECT_EQ(podMemoryLimit(pod), 300 * kMi);  // the init container's peak
  api::Container sidecar = init;
  sidecar.name = "sidecar";
  sidecar.restartPolicy = "Always";
  sidecar.resources.limits["memory"] = *api::Quantity::parse("50Mi");
  pod.spec.initContainers.insert(pod.spec.initContainers.begin(), sidecar);
  EXPECT_EQ(podMemoryLimit(pod), 350 * kMi);  // init beside the sidecar started before it
  pod.spec.initContainers[1].resources.limits.clear();
  EXPECT_EQ(podMemoryLimit(pod), std::nullopt);
}

TEST(VolumePlansEmptyDir, UnsupportedMedia) {
  VolumePlan p =
      planOf(makePod({{{"name", "huge"}, {"emptyDir", {{"medium", "HugePages-2Mi"}}}}}), {});
  EXPECT_EQ(p.error,
            "emptyDir medium \"HugePages-2Mi\" is not supported: cubelet does not manage huge "
            "pages");
  p = planOf(makePod({{{"name", "odd"}, {"emptyDir", {{"medium", "Floppy"}}}}}), {});
  EXPECT_EQ(p.error, "unknown storage medium \"Floppy\"");
}

TEST(VolumePlansHostPath, PathAndType) {
  api::Pod pod =
      makePod({{{"name", "logs"}, {"hostPath", {{"path", "/var/log"}, {"type", "Directory"}}}},
               {{"name", "any"}, {"hostPath", {{"path", "/tmp/x"}}}}},
              {{"securityContext", {{"fsGroup", 2000}}}});
  auto plans = volumePlans(pod, {});
  ASSERT_EQ(plans.size(), 2u);
  EXPECT_EQ(plans[0].kind, VolumeKind::kHostPath);
  EXPECT_EQ(plans[0].source, "/var/log");
  EXPECT_EQ(plans[0].hostPathType, "Directory");
  EXPECT_FALSE(plans[0].fsGroup);  // never chowned
  EXPECT_EQ(plans[1].source, "/tmp/x");
  EXPECT_EQ(plans[1].hostPathType, "");
  EXPECT_TRUE(plans[1].error.empty());
}

TEST(VolumePlansConfigMap, Projected) {
  api::Pod pod = makePod({{{"name", "config"}, {"configMap", {{"name", "app-config"}}}}},
                         {{"securityContext", {{"fsGroup", 3000}}}});
  auto src = apiSources();
  src->configMaps["app-config"] = configMap("app-config", {{"a.conf", "x=1"}});
  VolumePlan p = planOf(pod, {src, {}, {}});
  EXPECT_EQ(p.kind, VolumeKind::kPayload);
  EXPECT_EQ(p.plugin, ::volumes::kConfigMapPlugin);
  EXPECT_EQ(p.dirName, "config");
  EXPECT_FALSE(p.memory);  // configMaps live on disk
  EXPECT_TRUE(p.readOnly);
  EXPECT_EQ(p.fsGroup, 3000);
  EXPECT_TRUE(p.error.empty()) << p.error;
  EXPECT_FALSE(p.waiting);
  EXPECT_EQ(p.payload, (Payload{{"a.conf", {"x=1", 0644, std::nullopt}}}));
}

// The states of a referenced ConfigMap or Secret, for both volume types.
TEST(VolumePlansObjects, MissingOptionalWaitingAndNoApi) {
  struct Case {
    std::string name;
    json volume;
    bool known;    // in the snapshot at all
    bool present;  // known and exists
    bool api = true;
    bool nullSources = false;
    std::string error{};
    bool waiting = false;
    size_t files = 0;
  } cases[] = {
      {"configMap present",
       {{"configMap", {{"name", "obj"}}}},
       true,
       true,
       true,
       false,
       "",
       false,
       1},
      {"configMap missing",
       {{"configMap", {{"name", "obj"}}}},
       true,
       false,
       true,
       false,
       "configmap \"obj\" not found"},
      {"configMap missing optional",
       {{"configMap", {{"name", "obj"}, {"optional", true}}}},
       true,
       false},
      {"configMap not synced",
       {{"configMap", {{"name", "obj"}}}},
       false,
       false,
       true,
       false,
       "",
       true},
      {"configMap without API",
       {{"configMap", {{"name", "obj"}, {"optional", true}}}},
       true,
       true,
       false,
       false,
       "not supported due to running kubelet in standalone mode"},
      {"configMap static pod",
       {{"configMap", {{"name", "obj"}}}},
       false,
       false,
       false,
       true,
       "not supported due to running kubelet in standalone mode"},
      {"secret present",
       {{"secret", {{"secretName", "obj"}}}},
       true,
       true,
       true,
       false,
       "",
       false,
       1},
      {"secret missing",
       {{"secret", {{"secretName", "obj"}}}},
       true,
       false,
       true,
       false,
       "secret \"obj\" not found"},
      {"secret missing optional",
       {{"secret", {{"secretName", "obj"}, {"optional", true}}}},
       true,
       false},
      {"secret not synced",
       {{"secret", {{"secretName", "obj"}}}},
       false,
       false,
       true,
       false,
       "",
       true},
      {"secret missing key",
       {{"secret", {{"secretName", "obj"}, {"items", {{{"key", "nope"}, {"path", "p"}}}}}}},
       true,
       true,
       true,
       false,
       "references non-existent secret key: nope"},
      {"configMap missing key optional",
       {{"configMap",
         {{"name", "obj"}, {"optional", true}, {"items", {{{"key", "nope"}, {"path", "p"}}}}}}},
       true,
       true},
      {"configMap bad defaultMode",
       {{"configMap", {{"name", "obj"}, {"defaultMode", 01000}}}},
       true,
       true,
       true,
       false,
       "configMap.defaultMode: Invalid value: 512: must be a number between 0 and 0777 (octal), "
       "both inclusive"},
      {"secret bad item mode while not synced",
       {{"secret",
         {{"secretName", "obj"}, {"items", {{{"key", "k"}, {"path", "p"}, {"mode", -1}}}}}}},
       false,
       false,
       true,
       false,
       "secret.items[0].mode: Invalid value: -1: must be a number between 0 and 0777 (octal), both "
       "inclusive"},
  };
  for (const Case& c : cases) {
    json volume = c.volume;
    volume["name"] = "vol";
    api::Pod pod = makePod({volume});
    auto src = apiSources();
    src->apiAvailable = c.api;
    if (c.known) {
      src->configMaps["obj"] = c.present ? configMap("obj", {{"key", "value"}}) : nullptr;
      src->secrets["obj"] = c.present ? secret("obj", {{"key", "value"}}) : nullptr;
    }
    VolumeInputs in;
    if (!c.nullSources) in.sources = src;
    VolumePlan p = planOf(pod, in);
    EXPECT_EQ(p.error, c.error) << c.name;
    EXPECT_EQ(p.waiting, c.waiting) << c.name;
    EXPECT_EQ(p.payload.size(), c.files) << c.name;
  }
}

TEST(VolumePlansSecret, OnTmpfsWithModes) {
  api::Pod pod = makePod({{{"name", "creds"},
                           {"secret",
                            {{"secretName", "db"},
                             {"defaultMode", 0440},
                             {"items",
                              {{{"key", "password"}, {"path", "db/password"}},
                               {{"key", "user"}, {"path", "db/user"}, {"mode", 0444}}}}}}}});
  auto src = apiSources();
  src->secrets["db"] = secret("db", {{"password", "hunter2"}, {"user", "admin"}, {"other", "x"}});
  VolumePlan p = planOf(pod, {src, {}, {}});
  EXPECT_EQ(p.plugin, ::volumes::kSecretPlugin);
  EXPECT_TRUE(p.memory);
  EXPECT_TRUE(p.readOnly);
  EXPECT_EQ(p.payload, (Payload{{"db/password", {"hunter2", 0440, std::nullopt}},
                                {"db/user", {"admin", 0444, std::nullopt}}}));
}

TEST(VolumePlansDownwardAPI, LabelsFollowThePod) {
  json volume = {
      {"name", "podinfo"},
      {"downwardAPI",
       {{"items",
         {{{"path", "labels"}, {"fieldRef", {{"fieldPath", "metadata.labels"}}}},
          {{"path", "name"}, {"fieldRef", {{"fieldPath", "metadata.name"}}}, {"mode", 0400}}}}}}};
  api::Pod pod = makePod({volume}, {{"securityContext", {{"fsGroup", 5}}}});
  VolumePlan p = planOf(pod, {});  // no API needed
  EXPECT_EQ(p.plugin, ::volumes::kDownwardAPIPlugin);
  EXPECT_TRUE(p.memory);
  EXPECT_TRUE(p.readOnly);
  EXPECT_EQ(p.fsGroup, 5);
  EXPECT_TRUE(p.error.empty()) << p.error;
  EXPECT_EQ(p.payload, (Payload{{"labels", {"app=\"web\"", 0644, std::nullopt}},
                                {"name", {"web", 0400, std::nullopt}}}));
  pod.metadata.labels["tier"] = "front";
  EXPECT_EQ(planOf(pod, {}).payload.at("labels").data, "app=\"web\"\ntier=\"front\"");
}

// The volume the API server's ServiceAccount admission adds to every pod.
json kubeApiAccess(json tokenExtra = json::object()) {
  json token = {{"expirationSeconds", 3607}, {"path", "token"}};
  for (auto& [k, v] : tokenExtra.items()) token[k] = v;
  return {
      {"name", "kube-api-access-abcde"},
      {"projected",
       {{"defaultMode", 420},
        {"sources",
         {{{"serviceAccountToken", token}},
          {{"configMap",
            {{"name", "kube-root-ca.crt"}, {"items", {{{"key", "ca.crt"}, {"path", "ca.crt"}}}}}}},
          {{"downwardAPI",
            {{"items",
              {{{"path", "namespace"},
                {"fieldRef",
                 {{"apiVersion", "v1"}, {"fieldPath", "metadata.namespace"}}}}}}}}}}}}}};
}

VolumeInputs kubeApiInputs(TokenLookup token) {
  auto src = apiSources();
  src->configMaps["kube-root-ca.crt"] = configMap("kube-root-ca.crt", {{"ca.crt", "CA"}});
  VolumeInputs in;
  in.sources = src;
  in.tokens[TokenRequestSpec{"builder", "", 3607}] = std::move(token);
  return in;
}

TEST(VolumePlansProjected, ServiceAccountVolume) {
  struct Case {
    std::string name;
    json specExtra;
    json container;
    int32_t tokenMode;
    std::optional<int64_t> fsUser;
  } cases[] = {
      {"no identity", json::object(), json::object(), 0644, std::nullopt},
      {"fsGroup", {{"securityContext", {{"fsGroup", 2000}}}}, json::object(), 0600, std::nullopt},
      {"pod runAsUser", {{"securityContext", {{"runAsUser", 1000}}}}, json::object(), 0600, 1000},
      {"container runAsUser wins",
       {{"securityContext", {{"runAsUser", 1000}}}},
       {{"securityContext", {{"runAsUser", 1001}}}},
       0600,
       1001},
  };
  for (const Case& c : cases) {
    api::Pod pod = makePod({kubeApiAccess()}, c.specExtra, c.container);
    VolumePlan p = planOf(pod, kubeApiInputs({true, "TOKEN", ""}));
    EXPECT_EQ(p.kind, VolumeKind::kPayload) << c.name;
    EXPECT_EQ(p.plugin, ::volumes::kProjectedPlugin);
    EXPECT_TRUE(p.memory);
    EXPECT_TRUE(p.readOnly);
    EXPECT_TRUE(p.error.empty()) << c.name << ": " << p.error;
    EXPECT_FALSE(p.waiting);
    EXPECT_EQ(p.payload, (Payload{{"token", {"TOKEN", c.tokenMode, c.fsUser}},
                                  {"ca.crt", {"CA", 0644, std::nullopt}},
                                  {"namespace", {"ns", 0644, std::nullopt}}}))
        << c.name;
  }
}

TEST(VolumePlansProjected, TokenStates) {
  api::Pod pod = makePod({kubeApiAccess()});
  VolumePlan p = planOf(pod, kubeApiInputs({false, "", ""}));
  EXPECT_TRUE(p.waiting);
  EXPECT_TRUE(p.error.empty());
  EXPECT_TRUE(p.payload.empty());

  VolumeInputs noToken = kubeApiInputs({});
  noToken.tokens.clear();
  EXPECT_TRUE(planOf(pod, noToken).waiting);

  p = planOf(pod, kubeApiInputs({false, "", "serviceaccounts \"builder\" not found"}));
  EXPECT_FALSE(p.waiting);
  EXPECT_EQ(p.error, "failed to fetch token: serviceaccounts \"builder\" not found");

  // An error from a source wins over a token still being issued.
  VolumeInputs in = kubeApiInputs({false, "", ""});
  std::const_pointer_cast<runtime::EnvSources>(in.sources)->configMaps["kube-root-ca.crt"] =
      nullptr;
  p = planOf(pod, in);
  EXPECT_EQ(p.error, "configmap \"kube-root-ca.crt\" not found");
  EXPECT_FALSE(p.waiting);
}

TEST(VolumePlansProjected, AudienceAndExpirationKeyTheToken) {
  api::Pod pod = makePod({kubeApiAccess({{"audience", "vault"}, {"expirationSeconds", 600}})});
  VolumeInputs in = kubeApiInputs({true, "DEFAULT-AUD", ""});
  in.tokens[TokenRequestSpec{"builder", "vault", 600}] = {true, "VAULT", ""};
  EXPECT_EQ(planOf(pod, in).payload.at("token").data, "VAULT");
}

TEST(VolumePlansProjected, MergeOrderErrorsAndNoApi) {
  json volume = {
      {"name", "all"},
      {"projected",
       {{"defaultMode", 0600},
        {"sources",
         {{{"configMap", {{"name", "a"}}}},
          {{"secret", {{"name", "b"}, {"items", {{{"key", "k"}, {"path", "k"}, {"mode", 0400}}}}}}},
          {{"secret", {{"name", "gone"}}}},
          {{"configMap", {{"name", "a"}, {"items", {{{"key", "zz"}, {"path", "zz"}}}}}}}}}}}};
  api::Pod pod = makePod({volume});
  auto src = apiSources();
  src->configMaps["a"] = configMap("a", {{"k", "from-configmap"}, {"only", "1"}});
  src->secrets["b"] = secret("b", {{"k", "from-secret"}});
  src->secrets["gone"] = nullptr;
  VolumePlan p = planOf(pod, {src, {}, {}});
  // Every source's error, aggregated like the kubelet's utilerrors.NewAggregate.
  EXPECT_EQ(p.error,
            "[secret \"gone\" not found, configmap references non-existent config key: zz]");

  src->secrets["gone"] = secret("gone", {});
  src->configMaps["a"] = configMap("a", {{"k", "from-configmap"}, {"only", "1"}, {"zz", "z"}});
  p = planOf(pod, {src, {}, {}});
  EXPECT_TRUE(p.error.empty()) << p.error;
  // A later source's file replaces an earlier one of the same path.
  EXPECT_EQ(p.payload, (Payload{{"k", {"from-secret", 0400, std::nullopt}},
                                {"only", {"1", 0600, std::nullopt}},
                                {"zz", {"z", 0600, std::nullopt}}}));

  src->apiAvailable = false;
  EXPECT_EQ(planOf(pod, {src, {}, {}}).error,
            "cannot setup projected volume all because kube client is not configured");
}

TEST(VolumePlansClaims, States) {
  json volumes = {{{"name", "data"}, {"persistentVolumeClaim", {{"claimName", "claim"}}}}};
  api::Pod pod = makePod(volumes, {{"securityContext", {{"fsGroup", 7}}}});
  VolumeInputs in{apiSources(), {}, {}};
  VolumePlan p = planOf(pod, in);
  EXPECT_TRUE(p.waiting);

  in.claims["claim"] = ClaimLookup{};
  EXPECT_TRUE(planOf(pod, in).waiting);

  in.claims["claim"].state = ClaimLookup::State::kFailed;
  in.claims["claim"].error = "persistentvolumeclaim \"claim\" not found";
  p = planOf(pod, in);
  EXPECT_FALSE(p.waiting);
  EXPECT_EQ(p.error, "persistentvolumeclaim \"claim\" not found");

  in.claims["claim"] = {ClaimLookup::State::kReady, "pv-1", "/mnt/disks/ssd1", true, "", false, ""};
  p = planOf(pod, in);
  EXPECT_TRUE(p.error.empty()) << p.error;
  EXPECT_EQ(p.kind, VolumeKind::kBind);
  EXPECT_EQ(p.plugin, ::volumes::kLocalVolumePlugin);
  EXPECT_EQ(p.dirName, "pv-1");
  EXPECT_EQ(p.name, "data");
  EXPECT_EQ(p.source, "/mnt/disks/ssd1");
  EXPECT_EQ(p.fsGroup, 7);
  EXPECT_FALSE(p.readOnly);

  in.claims["claim"].pvReadOnly = true;
  p = planOf(pod, in);
  EXPECT_TRUE(p.readOnly);
  EXPECT_FALSE(p.fsGroup);  // a read-only local volume is not chowned

  in.claims["claim"] = {ClaimLookup::State::kReady, "pv-2", "/srv/data", false,
                        "DirectoryOrCreate",        false,  ""};
  p = planOf(pod, in);
  EXPECT_EQ(p.kind, VolumeKind::kHostPath);
  EXPECT_EQ(p.source, "/srv/data");
  EXPECT_EQ(p.hostPathType, "DirectoryOrCreate");
  EXPECT_FALSE(p.fsGroup);
  EXPECT_FALSE(p.readOnly);

  pod.spec.volumes[0].persistentVolumeClaim->readOnly = true;
  EXPECT_TRUE(planOf(pod, in).readOnly);

  EXPECT_EQ(planOf(pod, {}).error,
            "failed to fetch PVC from API server: not supported due to running kubelet in "
            "standalone mode");
}

TEST(VolumePlansUnsupported, NamesTheSource) {
  api::Pod pod = makePod({{{"name", "share"}, {"nfs", {{"server", "x"}, {"path", "/"}}}}});
  VolumePlan p = planOf(pod, {apiSources(), {}, {}});
  EXPECT_EQ(p.name, "share");
  EXPECT_EQ(p.error, "no volume plugin matched: nfs volumes are not supported by cubelet");
}

TEST(VolumePlansReferences, EverythingTheVolumesName) {
  json extra = {
      {"name", "more"},
      {"projected",
       {{"sources",
         {{{"secret", {{"name", "s2"}}}},
          {{"configMap", {{"name", "c1"}}}},
          {{"serviceAccountToken", {{"audience", "vault"}, {"path", "vault-token"}}}}}}}}};
  api::Pod pod = makePod({{{"name", "a"}, {"configMap", {{"name", "c1"}}}},
                          {{"name", "b"}, {"secret", {{"secretName", "s1"}}}},
                          {{"name", "c"}, {"persistentVolumeClaim", {{"claimName", "pvc"}}}},
                          {{"name", "d"}, {"emptyDir", json::object()}},
                          kubeApiAccess(),
                          extra});
  VolumeReferences refs = volumeReferences(pod);
  EXPECT_EQ(refs.configMaps, (std::set<std::string>{"c1", "kube-root-ca.crt"}));
  EXPECT_EQ(refs.secrets, (std::set<std::string>{"s1", "s2"}));
  EXPECT_EQ(refs.claims, (std::set<std::string>{"pvc"}));
  // expirationSeconds defaults to 3600.
  EXPECT_EQ(refs.tokens.size(), 2u);
  EXPECT_EQ(refs.tokens.count({"builder", "", 3607}), 1u);
  EXPECT_EQ(refs.tokens.count({"builder", "vault", 3600}), 1u);

  pod.spec.serviceAccountName.clear();
  EXPECT_EQ(volumeReferences(pod).tokens.count({"default", "", 3607}), 1u);
}

TEST(VolumePlansFsUser, EveryContainerMustAgree) {
  api::Pod pod = makePod(json::array(), {{"securityContext", {{"runAsUser", 1000}}}});
  EXPECT_EQ(fsUserFrom(pod), 1000);
  api::Container init = pod.spec.containers[0];
  init.name = "init";
  init.securityContext = api::SecurityContext{};
  init.securityContext->runAsUser = 0;
  pod.spec.initContainers.push_back(init);
  EXPECT_EQ(fsUserFrom(pod), std::nullopt);  // two different users
  pod.spec.initContainers[0].securityContext->runAsUser = 1000;
  EXPECT_EQ(fsUserFrom(pod), 1000);
  pod.spec.securityContext->runAsUser.reset();
  EXPECT_EQ(fsUserFrom(pod), std::nullopt);  // the app container has no user
}

}  // namespace
}  // namespace agent::volumes
