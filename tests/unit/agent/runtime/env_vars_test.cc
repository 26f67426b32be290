#include "agent/runtime/env_vars.h"

#include <gtest/gtest.h>

#include "agent/api/pod_decode.h"
#include "agent/runtime/container_config.h"

namespace agent::runtime {
namespace {

using nlohmann::json;
using Env = EnvList;

// A defaulted API pod in namespace "ns" with one container made from `container`.
api::Pod makePod(json container, json specExtra = json::object()) {
  json j = {{"metadata",
             {{"name", "web"},
              {"namespace", "ns"},
              {"uid", "uid-1"},
              {"labels", {{"app", "web"}}},
              {"annotations", {{"note", "hi"}}}}},
            {"spec",
             {{"nodeName", "node-a"},
              {"serviceAccountName", "sa"},
              {"containers", json::array({container})}}}};
  j["spec"]["containers"][0]["name"] = "c";
  j["spec"]["containers"][0]["image"] = "busybox";
  for (auto& [k, v] : specExtra.items()) j["spec"][k] = v;
  auto pod = api::decodePod(j);
  EXPECT_TRUE(pod.ok()) << pod.status();
  api::applyPodDefaults(*pod);
  return *pod;
}

std::shared_ptr<const api::ConfigMap> configMap(const std::string& name,
                                                std::map<std::string, std::string> data) {
  auto cm = std::make_shared<api::ConfigMap>();
  cm->metadata.name = name;
  cm->metadata.namespace_ = "ns";
  cm->data = std::move(data);
  return cm;
}

std::shared_ptr<const api::Secret> secret(const std::string& name,
                                          std::map<std::string, std::string> data) {
  auto s = std::make_shared<api::Secret>();
  s->metadata.name = name;
  s->metadata.namespace_ = "ns";
  s->type = "Opaque";
  s->data = std::move(data);
  return s;
}

std::shared_ptr<const api::Service> service(const std::string& ns, const std::string& name,
                                            const std::string& ip, int32_t port) {
  auto s = std::make_shared<api::Service>();
  s->metadata.namespace_ = ns;
  s->metadata.name = name;
  s->clusterIP = ip;
  s->ports = {{"", "TCP", port}};
  return s;
}

// An API-connected snapshot with Services listed (none) and the objects given.
std::shared_ptr<EnvSources> apiSources() {
  auto s = std::make_shared<EnvSources>();
  s->apiAvailable = true;
  s->servicesSynced = true;
  return s;
}

ContainerContext ctxWith(EnvSourcesPtr sources) {
  ContainerContext ctx;
  ctx.podIP = "10.88.0.5";
  ctx.podIPs = {"10.88.0.5", "fd00::5"};
  ctx.hostIP = "192.168.1.10";
  ctx.hostIPs = {"192.168.1.10", "fd00::10"};
  ctx.sources = std::move(sources);
  return ctx;
}

absl::StatusOr<Env> envOf(const api::Pod& pod, EnvSourcesPtr sources,
                          std::vector<EnvWarning>* warnings = nullptr) {
  return makeEnvironment(pod, pod.spec.containers[0], ctxWith(std::move(sources)), warnings);
}

TEST(EnvVarsTest, PrecedenceAndOrder) {
  auto src = apiSources();
  src->configMaps["first"] =
      configMap("first", {{"A", "cm1-a"}, {"B", "cm1-b"}, {"X_SERVICE_HOST", "cm"}});
  src->secrets["second"] = secret("second", {{"B", "sec-b"}, {"C", "sec-c"}});
  src->services = {service("ns", "x", "10.0.0.1", 80), service("ns", "y", "10.0.0.2", 81)};
  api::Pod pod =
      makePod({{"envFrom",
                {{{"configMapRef", {{"name", "first"}}}}, {{"secretRef", {{"name", "second"}}}}}},
               {"env",
                {{{"name", "C"}, {"value", "env-c"}},
                 {{"name", "D"}, {"value", "d"}},
                 {{"name", "A"}, {"value", "env-a"}},
                 {{"name", "Y_SERVICE_HOST"}, {"value", "mine"}}}}});
  auto env = envOf(pod, src);
  ASSERT_TRUE(env.ok()) << env.status();
  // envFrom in order (keys sorted within a source), later sources override in place,
  // env overrides envFrom, the container's variables override service links, and the
  // remaining service links come last.
  Env want = {
      {"A", "env-a"},
      {"B", "sec-b"},
      {"X_SERVICE_HOST", "cm"},
      {"C", "env-c"},
      {"D", "d"},
      {"Y_SERVICE_HOST", "mine"},
      {"X_SERVICE_PORT", "80"},
      {"X_PORT", "tcp://10.0.0.1:80"},
      {"X_PORT_80_TCP", "tcp://10.0.0.1:80"},
      {"X_PORT_80_TCP_PROTO", "tcp"},
      {"X_PORT_80_TCP_PORT", "80"},
      {"X_PORT_80_TCP_ADDR", "10.0.0.1"},
      {"Y_SERVICE_PORT", "81"},
      {"Y_PORT", "tcp://10.0.0.2:81"},
      {"Y_PORT_81_TCP", "tcp://10.0.0.2:81"},
      {"Y_PORT_81_TCP_PROTO", "tcp"},
      {"Y_PORT_81_TCP_PORT", "81"},
      {"Y_PORT_81_TCP_ADDR", "10.0.0.2"},
  };
  EXPECT_EQ(*env, want);
}

TEST(EnvVarsTest, ExpansionOfValues) {
  auto src = apiSources();
  src->configMaps["cm"] = configMap("cm", {{"FROM_CM", "cmv"}});
  src->services = {service("ns", "db", "10.0.0.9", 5432)};
  api::Pod pod =
      makePod({{"envFrom", {{{"configMapRef", {{"name", "cm"}}}}}},
               {"env",
                {{{"name", "A"}, {"value", "a"}},
                 {{"name", "B"}, {"value", "$(A)-$(LATER)-$(FROM_CM)-$$(A)-$(DB_SERVICE_HOST)"}},
                 {{"name", "LATER"}, {"value", "l"}},
                 {{"name", "A"}, {"value", "$(A)$(A)"}},  // redefinition sees the old value
                 {{"name", "POD"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.name"}}}}}},
                 {{"name", "C"}, {"value", "$(POD)"}}}}});
  auto env = envOf(pod, src);
  ASSERT_TRUE(env.ok()) << env.status();
  std::map<std::string, std::string> m(env->begin(), env->end());
  EXPECT_EQ(m["B"], "a-$(LATER)-cmv-$(A)-10.0.0.9");
  EXPECT_EQ(m["A"], "aa");
  EXPECT_EQ(m["C"], "web");
}

TEST(EnvVarsTest, CommandAndArgsExpandAgainstFinalEnvironment) {
  auto src = apiSources();
  src->services = {service("default", "kubernetes", "10.96.0.1", 443)};
  api::Pod pod = makePod({{"command", {"sh", "-c", "echo $(GREETING) $(KUBERNETES_SERVICE_HOST)"}},
                          {"args", {"$(MISSING)", "$$(GREETING)"}},
                          {"env", {{{"name", "GREETING"}, {"value", "hello"}}}}});
  auto cc = makeContainerConfig(pod, pod.spec.containers[0], ctxWith(src));
  ASSERT_TRUE(cc.ok()) << cc.status();
  ASSERT_EQ(cc->command_size(), 3);
  EXPECT_EQ(cc->command(2), "echo hello 10.96.0.1");
  EXPECT_EQ(cc->args(0), "$(MISSING)");
  EXPECT_EQ(cc->args(1), "$(GREETING)");
  bool sawHost = false;
  for (const auto& kv : cc->envs()) sawHost |= kv.key() == "KUBERNETES_SERVICE_HOST";
  EXPECT_TRUE(sawHost);
}

TEST(EnvVarsTest, FieldRefs) {
  struct Case {
    std::string path;
    std::string want;
  } cases[] = {
      {"metadata.name", "web"},          {"metadata.namespace", "ns"},
      {"metadata.uid", "uid-1"},         {"metadata.labels['app']", "web"},
      {"metadata.labels['absent']", ""}, {"metadata.annotations['note']", "hi"},
      {"spec.nodeName", "node-a"},       {"spec.serviceAccountName", "sa"},
      {"status.hostIP", "192.168.1.10"}, {"status.hostIPs", "192.168.1.10,fd00::10"},
      {"status.podIP", "10.88.0.5"},     {"status.podIPs", "10.88.0.5,fd00::5"},
  };
  for (const auto& c : cases) {
    api::Pod pod = makePod(
        {{"env", {{{"name", "V"}, {"valueFrom", {{"fieldRef", {{"fieldPath", c.path}}}}}}}}});
    auto env = envOf(pod, apiSources());
    ASSERT_TRUE(env.ok()) << c.path << ": " << env.status();
    ASSERT_EQ(env->size(), 1u);
    EXPECT_EQ((*env)[0].second, c.want) << c.path;
  }
  api::Pod bad = makePod(
      {{"env", {{{"name", "V"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "spec.bogus"}}}}}}}}});
  auto env = envOf(bad, apiSources());
  ASSERT_FALSE(env.ok());
  EXPECT_EQ(env.status().message(), "env[0] (V): field label not supported: spec.bogus");
}

TEST(EnvVarsTest, FieldRefFallsBackToSingleIPs) {
  api::Pod pod = makePod(
      {{"env",
        {{{"name", "P"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "status.podIPs"}}}}}},
         {{"name", "H"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "status.hostIPs"}}}}}}}}});
  ContainerContext ctx;
  ctx.podIP = "10.1.1.1";
  ctx.hostIP = "192.168.0.1";
  auto env = makeEnvironment(pod, pod.spec.containers[0], ctx);
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(*env, (Env{{"P", "10.1.1.1"}, {"H", "192.168.0.1"}}));
}

TEST(EnvVarsTest, ResourceFieldRefs) {
  json resources = {
      {"limits", {{"cpu", "1250m"}, {"memory", "129Mi"}, {"hugepages-2Mi", "4Mi"}}},
      {"requests", {{"cpu", "250m"}, {"memory", "64Mi"}, {"ephemeral-storage", "1Gi"}}}};
  struct Case {
    std::string resource;
    std::string divisor;  // "" = unset
    std::string want;
  } cases[] = {
      {"limits.cpu", "", "2"},  // 1.25 cores rounded up
      {"limits.cpu", "1m", "1250"},
      {"limits.cpu", "100m", "13"},  // 12.5 -> 13
      {"requests.cpu", "", "1"},     // 0.25 -> 1
      {"requests.cpu", "1m", "250"},
      {"limits.memory", "", "135266304"},
      {"limits.memory", "1Mi", "129"},
      {"limits.memory", "1Gi", "1"},  // ceil
      {"requests.memory", "1Mi", "64"},
      {"requests.memory", "1k", "67109"},  // 67108.864 -> 67109
      {"requests.ephemeral-storage", "1Mi", "1024"},
      {"limits.hugepages-2Mi", "1Mi", "4"},
      {"requests.hugepages-2Mi", "", "4194304"},  // requests defaulted from limits
      // Unset limits default to the node's allocatable.
      {"limits.ephemeral-storage", "1Gi", "20"},
  };
  for (const auto& c : cases) {
    json ref = {{"resource", c.resource}};
    if (!c.divisor.empty()) ref["divisor"] = c.divisor;
    api::Pod pod =
        makePod({{"resources", resources},
                 {"env", {{{"name", "V"}, {"valueFrom", {{"resourceFieldRef", ref}}}}}}});
    auto src = apiSources();
    src->nodeAllocatable["ephemeral-storage"] = *api::Quantity::parse("20Gi");
    auto env = envOf(pod, src);
    ASSERT_TRUE(env.ok()) << c.resource << ": " << env.status();
    EXPECT_EQ((*env)[0].second, c.want) << c.resource << " / " << c.divisor;
  }
}

TEST(EnvVarsTest, ResourceLimitsDefaultToAllocatable) {
  api::Pod pod = makePod(
      {{"env",
        {{{"name", "CPU"}, {"valueFrom", {{"resourceFieldRef", {{"resource", "limits.cpu"}}}}}},
         {{"name", "MEM"},
          {"valueFrom",
           {{"resourceFieldRef", {{"resource", "limits.memory"}, {"divisor", "1Mi"}}}}}},
         {{"name", "REQ"},
          {"valueFrom", {{"resourceFieldRef", {{"resource", "requests.cpu"}}}}}}}}});
  auto src = apiSources();
  src->nodeAllocatable = {{"cpu", *api::Quantity::parse("3500m")},
                          {"memory", *api::Quantity::parse("2Gi")}};
  auto env = envOf(pod, src);
  ASSERT_TRUE(env.ok()) << env.status();
  // Requests are not defaulted: unset is 0.
  EXPECT_EQ(*env, (Env{{"CPU", "4"}, {"MEM", "2048"}, {"REQ", "0"}}));
  // Without a known allocatable, an unset limit is 0.
  auto none = envOf(pod, apiSources());
  ASSERT_TRUE(none.ok());
  EXPECT_EQ((*none)[0].second, "0");
}

TEST(EnvVarsTest, ResourceFieldRefOfAnotherContainer) {
  json j = {
      {"metadata", {{"name", "p"}, {"namespace", "ns"}}},
      {"spec",
       {{"initContainers",
         {{{"name", "init"},
           {"image", "busybox"},
           {"resources", {{"limits", {{"memory", "10Mi"}}}}}}}},
        {"containers",
         {{{"name", "main"},
           {"image", "busybox"},
           {"env",
            {{{"name", "INIT_MEM"},
              {"valueFrom",
               {{"resourceFieldRef",
                 {{"containerName", "init"}, {"resource", "limits.memory"}, {"divisor", "1Mi"}}}}}},
             {{"name", "NOPE"},
              {"valueFrom",
               {{"resourceFieldRef",
                 {{"containerName", "ghost"}, {"resource", "limits.cpu"}}}}}}}}}}}}}};
  auto pod = api::decodePod(j);
  ASSERT_TRUE(pod.ok()) << pod.status();
  auto env = makeEnvironment(*pod, pod->spec.containers[0], ctxWith(apiSources()));
  ASSERT_FALSE(env.ok());
  EXPECT_EQ(env.status().message(), "env[1] (NOPE): container ghost not found");
  pod->spec.containers[0].env.pop_back();
  env = makeEnvironment(*pod, pod->spec.containers[0], ctxWith(apiSources()));
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(*env, (Env{{"INIT_MEM", "10"}}));

  pod->spec.containers[0].env[0].valueFrom->resourceFieldRef->resource = "limits.gpu";
  env = makeEnvironment(*pod, pod->spec.containers[0], ctxWith(apiSources()));
  ASSERT_FALSE(env.ok());
  EXPECT_EQ(env.status().message(),
            "env[0] (INIT_MEM): Unsupported container resource : limits.gpu");
}

json keyRef(const char* kind, const char* name, const char* key, std::optional<bool> optional) {
  json ref = {{"name", name}, {"key", key}};
  if (optional) ref["optional"] = *optional;
  return {{{"name", "V"}, {"valueFrom", {{kind, ref}}}}};
}

TEST(EnvVarsTest, KeyRefs) {
  auto src = apiSources();
  src->configMaps["cm"] = configMap("cm", {{"k", "cm-value"}});
  src->configMaps["gone"] = nullptr;  // known not to exist
  src->secrets["s"] = secret("s", {{"k", "secret-value"}});
  src->secrets["gone"] = nullptr;
  struct Case {
    const char* kind;
    const char* name;
    const char* key;
    std::optional<bool> optional;
    std::optional<std::string> want;  // value, or nullopt: skipped
    std::string error;                // exact kubelet message when set
    absl::StatusCode code = absl::StatusCode::kOk;
  } cases[] = {
      {"configMapKeyRef", "cm", "k", std::nullopt, "cm-value", ""},
      {"secretKeyRef", "s", "k", false, "secret-value", ""},
      {"configMapKeyRef", "gone", "k", std::nullopt, std::nullopt, "configmap \"gone\" not found",
       absl::StatusCode::kFailedPrecondition},
      {"secretKeyRef", "gone", "k", false, std::nullopt, "secret \"gone\" not found",
       absl::StatusCode::kFailedPrecondition},
      {"configMapKeyRef", "cm", "nokey", std::nullopt, std::nullopt,
       "couldn't find key nokey in ConfigMap ns/cm", absl::StatusCode::kFailedPrecondition},
      {"secretKeyRef", "s", "nokey", false, std::nullopt, "couldn't find key nokey in Secret ns/s",
       absl::StatusCode::kFailedPrecondition},
      // optional: a missing object or key skips the variable.
      {"configMapKeyRef", "gone", "k", true, std::nullopt, ""},
      {"configMapKeyRef", "cm", "nokey", true, std::nullopt, ""},
      {"secretKeyRef", "gone", "k", true, std::nullopt, ""},
      {"secretKeyRef", "s", "nokey", true, std::nullopt, ""},
      // Not yet known: retry later, even when optional.
      {"configMapKeyRef", "unknown", "k", true, std::nullopt, "", absl::StatusCode::kUnavailable},
      {"secretKeyRef", "unknown", "k", std::nullopt, std::nullopt, "",
       absl::StatusCode::kUnavailable},
  };
  for (const auto& c : cases) {
    std::string label = std::string(c.kind) + " " + c.name + "/" + c.key;
    api::Pod pod = makePod({{"env", keyRef(c.kind, c.name, c.key, c.optional)}});
    auto env = envOf(pod, src);
    if (c.code != absl::StatusCode::kOk) {
      ASSERT_FALSE(env.ok()) << label;
      EXPECT_EQ(env.status().code(), c.code) << label;
      if (!c.error.empty()) {
        EXPECT_EQ(env.status().message(), c.error) << label;
      }
      EXPECT_EQ(isRetryableEnvError(env.status()), c.code == absl::StatusCode::kUnavailable);
      continue;
    }
    ASSERT_TRUE(env.ok()) << label << ": " << env.status();
    if (c.want) {
      EXPECT_EQ(*env, (Env{{"V", *c.want}})) << label;
    } else {
      EXPECT_TRUE(env->empty()) << label;
    }
  }
}

TEST(EnvVarsTest, EnvFrom) {
  auto src = apiSources();
  src->configMaps["cm"] = configMap("cm", {{"a", "1"}, {"b", "2"}});
  src->configMaps["gone"] = nullptr;
  src->secrets["s"] = secret("s", {{"tok", "x"}});
  src->secrets["gone"] = nullptr;
  auto run = [&](json envFrom) { return envOf(makePod({{"envFrom", envFrom}}), src); };

  auto prefixed = run({{{"prefix", "CM_"}, {"configMapRef", {{"name", "cm"}}}},
                       {{"prefix", "S_"}, {"secretRef", {{"name", "s"}}}}});
  ASSERT_TRUE(prefixed.ok()) << prefixed.status();
  EXPECT_EQ(*prefixed, (Env{{"CM_a", "1"}, {"CM_b", "2"}, {"S_tok", "x"}}));

  auto optional = run({{{"configMapRef", {{"name", "gone"}, {"optional", true}}}},
                       {{"secretRef", {{"name", "gone"}, {"optional", true}}}},
                       {{"configMapRef", {{"name", "cm"}}}}});
  ASSERT_TRUE(optional.ok()) << optional.status();
  EXPECT_EQ(*optional, (Env{{"a", "1"}, {"b", "2"}}));

  auto missingCm = run({{{"configMapRef", {{"name", "gone"}}}}});
  EXPECT_EQ(missingCm.status().message(), "configmap \"gone\" not found");
  auto missingSecret = run({{{"secretRef", {{"name", "gone"}, {"optional", false}}}}});
  EXPECT_EQ(missingSecret.status().message(), "secret \"gone\" not found");
  auto unknown = run({{{"secretRef", {{"name", "later"}, {"optional", true}}}}});
  EXPECT_TRUE(isRetryableEnvError(unknown.status())) << unknown.status();
}

TEST(EnvVarsTest, EnvFromSkipsInvalidNamesWithWarning) {
  auto src = apiSources();
  src->configMaps["cm"] =
      configMap("cm", {{"1badkey", "x"}, {"2alsobad", "y"}, {"good.key-1", "z"}});
  src->secrets["s"] = secret("s", {{"ok", "1"}, {"9lives", "2"}});
  api::Pod pod = makePod({{"envFrom",
                           {{{"configMapRef", {{"name", "cm"}}}},
                            {{"secretRef", {{"name", "s"}}}},
                            {{"prefix", "P_"}, {"secretRef", {{"name", "s"}}}}}}});
  std::vector<EnvWarning> warnings;
  auto env = envOf(pod, src, &warnings);
  ASSERT_TRUE(env.ok()) << env.status();
  // A prefix can make a key valid.
  EXPECT_EQ(*env, (Env{{"good.key-1", "z"}, {"ok", "1"}, {"P_9lives", "2"}, {"P_ok", "1"}}));
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_EQ(warnings[0].reason, "InvalidEnvironmentVariableNames");
  EXPECT_EQ(warnings[0].message,
            "Keys [1badkey, 2alsobad] from the EnvFrom configMap ns/cm were skipped since they "
            "are considered invalid environment variable names.");
  EXPECT_EQ(warnings[1].message,
            "Keys [9lives] from the EnvFrom secret ns/s were skipped since they are considered "
            "invalid environment variable names.");

  // Relaxed validation accepts any printable ASCII but '='.
  src->relaxedEnvVarNames = true;
  warnings.clear();
  env = envOf(pod, src, &warnings);
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->size(), 7u);
  EXPECT_TRUE(warnings.empty());
}

TEST(EnvVarsTest, ValidEnvVarNames) {
  struct Case {
    const char* name;
    bool classic, relaxed;
  } cases[] = {
      {"PATH", true, true},  {"a.b-c_d", true, true}, {"_x1", true, true},
      {"1abc", false, true}, {"a b", false, true},    {"a=b", false, false},
      {"", false, false},    {"tab\t", false, false}, {"caf\xc3\xa9", false, false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(isValidEnvVarName(c.name, false), c.classic) << c.name;
    EXPECT_EQ(isValidEnvVarName(c.name, true), c.relaxed) << c.name;
  }
}

TEST(EnvVarsTest, WithoutApiServer) {
  // No snapshot: static pods only. References are errors unless optional; no services.
  api::Pod envFrom =
      makePod({{"envFrom", {{{"configMapRef", {{"name", "cm"}, {"optional", true}}}}}}});
  auto e1 = envOf(envFrom, nullptr);
  ASSERT_FALSE(e1.ok());
  EXPECT_EQ(e1.status().message(),
            "envFrom[0]: ConfigMaps and Secrets are not available to static pods without an API "
            "server");
  api::Pod keyRefPod = makePod({{"env", keyRef("configMapKeyRef", "cm", "k", std::nullopt)}});
  auto e2 = envOf(keyRefPod, nullptr);
  ASSERT_FALSE(e2.ok());
  EXPECT_EQ(e2.status().message(),
            "env[0] (V): ConfigMaps and Secrets are not available to static pods without an API "
            "server");
  api::Pod optionalRef = makePod({{"env", keyRef("secretKeyRef", "s", "k", true)}});
  auto e3 = envOf(optionalRef, std::make_shared<EnvSources>());  // apiAvailable false
  ASSERT_TRUE(e3.ok()) << e3.status();
  EXPECT_TRUE(e3->empty());
}

TEST(EnvVarsTest, ServicesMustHaveSyncedForApiPods) {
  auto src = apiSources();
  src->servicesSynced = false;
  src->services = {service("default", "kubernetes", "10.96.0.1", 443)};
  api::Pod pod = makePod({{"env", {{{"name", "A"}, {"value", "1"}}}}});
  auto env = envOf(pod, src);
  ASSERT_FALSE(env.ok());
  EXPECT_TRUE(isRetryableEnvError(env.status()));
  EXPECT_EQ(env.status().message(),
            "services have not yet been read at least once, cannot construct envvars");
  // Static pods do not wait.
  pod.metadata.annotations["kubernetes.io/config.source"] = "file";
  env = envOf(pod, src);
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ((*env)[0], (std::pair<std::string, std::string>{"A", "1"}));
  EXPECT_EQ((*env)[1].first, "KUBERNETES_SERVICE_HOST");
}

TEST(EnvVarsTest, EnableServiceLinksFalseKeepsMasterService) {
  auto src = apiSources();
  src->services = {service("default", "kubernetes", "10.96.0.1", 443),
                   service("ns", "db", "10.0.0.9", 5432)};
  api::Pod pod = makePod(json::object(), {{"enableServiceLinks", false}});
  auto env = envOf(pod, src);
  ASSERT_TRUE(env.ok()) << env.status();
  std::map<std::string, std::string> m(env->begin(), env->end());
  EXPECT_EQ(m.count("DB_SERVICE_HOST"), 0u);
  EXPECT_EQ(m["KUBERNETES_SERVICE_HOST"], "10.96.0.1");
  EXPECT_EQ(m["KUBERNETES_SERVICE_PORT"], "443");
  EXPECT_EQ(m["KUBERNETES_PORT_443_TCP_ADDR"], "10.96.0.1");
}

TEST(EnvVarsTest, ReferencesOfAPod) {
  json j = {{"metadata", {{"name", "p"}, {"namespace", "ns"}}},
            {"spec",
             {{"initContainers",
               {{{"name", "i"}, {"image", "b"}, {"envFrom", {{{"secretRef", {{"name", "s1"}}}}}}}}},
              {"containers",
               {{{"name", "c"},
                 {"image", "b"},
                 {"envFrom", {{{"configMapRef", {{"name", "cm1"}}}}}},
                 {"env", json::array({keyRef("configMapKeyRef", "cm2", "k", std::nullopt)[0],
                                      keyRef("secretKeyRef", "s2", "k", true)[0]})}}}}}}};
  auto pod = api::decodePod(j);
  ASSERT_TRUE(pod.ok()) << pod.status();
  EnvReferences refs = envReferences(*pod);
  EXPECT_EQ(refs.configMaps, (std::set<std::string>{"cm1", "cm2"}));
  EXPECT_EQ(refs.secrets, (std::set<std::string>{"s1", "s2"}));
}

}  // namespace
}  // namespace agent::runtime
