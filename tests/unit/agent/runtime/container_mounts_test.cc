// volumeMounts -> CRI mounts (the kubelet's makeMounts), and the groups a
// container gets from the pod's fsGroup.
#include "agent/runtime/container_mounts.h"

#include <gtest/gtest.h>

#include "agent/api/pod_decode.h"
#include "agent/runtime/container_config.h"

namespace agent::runtime {
namespace {

using nlohmann::json;

api::Pod makePod(json container, json specExtra = json::object()) {
  json j = {{"metadata", {{"name", "web"}, {"namespace", "ns"}, {"uid", "uid-1"}}},
            {"spec", {{"containers", json::array({container})}}}};
  j["spec"]["containers"][0]["name"] = "c";
  j["spec"]["containers"][0]["image"] = "busybox";
  for (auto& [k, v] : specExtra.items()) j["spec"][k] = v;
  auto pod = api::decodePod(j);
  EXPECT_TRUE(pod.ok()) << pod.status();
  api::applyPodDefaults(*pod);
  return *pod;
}

::volumes::PodMounts someVolumes() {
  return {{"data", {"/var/lib/kubelet/pods/uid-1/volumes/kubernetes.io~empty-dir/data", false}},
          {"cfg", {"/var/lib/kubelet/pods/uid-1/volumes/kubernetes.io~configmap/cfg", true}}};
}

TEST(ContainerMountsTest, MountsCarryPathsReadOnlyAndPropagation) {
  api::Pod pod = makePod({{"volumeMounts",
                           {{{"name", "data"}, {"mountPath", "/data"}},
                            {{"name", "data"},
                             {"mountPath", "/ro"},
                             {"readOnly", true},
                             {"mountPropagation", "HostToContainer"}},
                            {{"name", "cfg"}, {"mountPath", "/etc/cfg"}}}}});
  ::runtime::v1::ContainerConfig cc;
  ASSERT_TRUE(addVolumeMounts(pod.spec.containers[0], someVolumes(), {}, "/pods/uid-1", &cc).ok());
  ASSERT_EQ(cc.mounts_size(), 3);
  EXPECT_EQ(cc.mounts(0).container_path(), "/data");
  EXPECT_EQ(cc.mounts(0).host_path(), someVolumes().at("data").hostPath);
  EXPECT_FALSE(cc.mounts(0).readonly());
  EXPECT_EQ(cc.mounts(0).propagation(), ::runtime::v1::PROPAGATION_PRIVATE);
  EXPECT_FALSE(cc.mounts(0).selinux_relabel());
  EXPECT_TRUE(cc.mounts(1).readonly());
  EXPECT_EQ(cc.mounts(1).propagation(), ::runtime::v1::PROPAGATION_HOST_TO_CONTAINER);
  EXPECT_TRUE(cc.mounts(2).readonly()) << "a configMap volume is always read-only";
}

TEST(ContainerMountsTest, BadMountsAreConfigErrors) {
  struct Case {
    json mount;
    std::string want;
  } cases[] = {
      {{{"name", "nope"}, {"mountPath", "/x"}},
       "cannot find volume \"nope\" to mount into container \"c\""},
      {{{"name", "data"}, {"mountPath", "/x"}, {"subPath", "/abs"}},
       "error SubPath `/abs` must not be an absolute path"},
      {{{"name", "data"}, {"mountPath", "/x"}, {"subPath", "a/../../b"}},
       "unable to provision SubPath `a/../../b`: must not contain '..'"},
      {{{"name", "data"}, {"mountPath", "/x"}, {"subPathExpr", "$(NOPE)/$(EMPTY)"}},
       "missing value for EMPTY, NOPE"},
      {{{"name", "data"}, {"mountPath", "/x"}, {"mountPropagation", "Sideways"}},
       "invalid MountPropagation mode: \"Sideways\""},
  };
  for (const auto& tc : cases) {
    api::Pod pod = makePod({{"volumeMounts", {tc.mount}}});
    ::runtime::v1::ContainerConfig cc;
    absl::Status s =
        addVolumeMounts(pod.spec.containers[0], someVolumes(), {{"EMPTY", ""}}, "/pods/uid-1", &cc);
    EXPECT_EQ(s.message(), tc.want) << tc.mount.dump();
    EXPECT_EQ(cc.mounts_size(), 0);
  }
}

TEST(ContainerMountsTest, SubPathExprExpandsFromTheEnvironment) {
  auto s = expandSubPathExpr("logs/$(POD_NAME)/$$(X)", {{"POD_NAME", "web-1"}});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(*s, "logs/web-1/$(X)");
}

TEST(ContainerMountsTest, FsGroupAndSupplementalGroupsReachTheContainer) {
  api::Pod pod = makePod({{"volumeMounts", {{{"name", "data"}, {"mountPath", "/data"}}}}},
                         {{"securityContext", {{"fsGroup", 2000}, {"supplementalGroups", {5, 6}}}},
                          {"volumes", {{{"name", "data"}, {"emptyDir", json::object()}}}}});
  ContainerContext ctx;
  ctx.volumes = std::make_shared<::volumes::PodMounts>(someVolumes());
  ctx.podDir = "/pods/uid-1";
  auto cc = makeContainerConfig(pod, pod.spec.containers[0], ctx);
  ASSERT_TRUE(cc.ok()) << cc.status();
  const auto& groups = cc->linux().security_context().supplemental_groups();
  EXPECT_EQ(std::vector<int64_t>(groups.begin(), groups.end()), (std::vector<int64_t>{2000, 5, 6}));
  ASSERT_EQ(cc->mounts_size(), 1);
  EXPECT_EQ(cc->mounts(0).container_path(), "/data");
}

}  // namespace
}  // namespace agent::runtime
