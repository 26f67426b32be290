// Pod and container securityContext -> CRI LinuxContainerSecurityContext and
// LinuxSandboxSecurityContext as the kubelet builds them (determineEffectiveSecurityContext,
// generatePodSandboxLinuxConfig), the runAsNonRoot check with the kubelet's messages,
// seccomp profile resolution (container over pod, --seccomp-default, Localhost under
// <root-dir>/seccomp, the file checked) and the seccompDefault configuration.
#include "agent/runtime/security_context.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "agent/config/agent_config.h"
#include "agent/runtime/container_config.h"
#include "agent/runtime/sandbox_config.h"

// apparmor_profile (deprecated in the CRI) is checked too: the kubelet still sends it.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace agent::runtime {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
namespace v1 = ::runtime::v1;

api::Pod makePod() {
  api::Pod p;
  p.metadata.name = "web";
  p.metadata.namespace_ = "ns";
  p.metadata.uid = "u1";
  p.spec.containers.push_back(api::Container{.name = "c", .image = "busybox"});
  return p;
}

api::SecurityContext& csc(api::Pod& p, size_t i = 0) {
  auto& sc = p.spec.containers[i].securityContext;
  if (!sc) sc.emplace();
  return *sc;
}

api::PodSecurityContext& psc(api::Pod& p) {
  if (!p.spec.securityContext) p.spec.securityContext.emplace();
  return *p.spec.securityContext;
}

absl::StatusOr<v1::LinuxContainerSecurityContext> build(const api::Pod& p,
                                                        ContainerSecurityInput in = {}) {
  v1::LinuxContainerSecurityContext sc;
  if (in.seccompProfileRoot.empty()) in.seccompProfileRoot = "/var/lib/kubelet/seccomp";
  absl::Status s = setContainerSecurityContext(p, p.spec.containers[0], in, &sc);
  if (!s.ok()) return s;
  return sc;
}

TEST(SecurityContextTest, NothingSetGivesTheKubeletDefaults) {
  api::Pod p = makePod();
  ContainerSecurityInput in;
  in.imageUid = 0;  // an image without USER: root, as getImageUser says
  auto sc = build(p, in);
  ASSERT_TRUE(sc.ok()) << sc.status();
  EXPECT_FALSE(sc->has_capabilities());
  EXPECT_FALSE(sc->privileged());
  EXPECT_FALSE(sc->readonly_rootfs());
  EXPECT_FALSE(sc->no_new_privs());
  ASSERT_TRUE(sc->has_run_as_user());
  EXPECT_EQ(sc->run_as_user().value(), 0);
  EXPECT_FALSE(sc->has_run_as_group());
  EXPECT_FALSE(sc->has_selinux_options());
  EXPECT_FALSE(sc->has_apparmor());
  EXPECT_EQ(sc->seccomp().profile_type(), v1::SecurityProfile::Unconfined);
  EXPECT_THAT(
      sc->masked_paths(),
      ElementsAre("/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                  "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
                  "/sys/firmware", "/sys/devices/virtual/powercap"));
  EXPECT_THAT(sc->readonly_paths(), ElementsAre("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                                "/proc/sysrq-trigger"));
  EXPECT_THAT(sc->supplemental_groups(), IsEmpty());
}

TEST(SecurityContextTest, ContainerFieldsWinOverThePods) {
  api::Pod p = makePod();
  psc(p).runAsUser = 1000;
  psc(p).runAsGroup = 2000;
  psc(p).seLinuxOptions = api::SELinuxOptions{"pu", "pr", "pt", "pl"};
  auto sc = build(p);
  ASSERT_TRUE(sc.ok());
  EXPECT_EQ(sc->run_as_user().value(), 1000);
  EXPECT_EQ(sc->run_as_group().value(), 2000);
  EXPECT_EQ(sc->selinux_options().type(), "pt");

  csc(p).runAsUser = 65534;
  csc(p).runAsGroup = 65533;
  csc(p).seLinuxOptions = api::SELinuxOptions{"u", "r", "t", "s0:c1,c2"};
  sc = build(p);
  ASSERT_TRUE(sc.ok());
  EXPECT_EQ(sc->run_as_user().value(), 65534);
  EXPECT_EQ(sc->run_as_group().value(), 65533);
  EXPECT_EQ(sc->selinux_options().user(), "u");
  EXPECT_EQ(sc->selinux_options().role(), "r");
  EXPECT_EQ(sc->selinux_options().type(), "t");
  EXPECT_EQ(sc->selinux_options().level(), "s0:c1,c2");
  EXPECT_TRUE(sc->run_as_username().empty());
}

TEST(SecurityContextTest, ImageUserFillsAMissingRunAsUser) {
  api::Pod p = makePod();
  ContainerSecurityInput in;
  in.imageUid = 1234;
  auto sc = build(p, in);
  ASSERT_TRUE(sc.ok());
  EXPECT_EQ(sc->run_as_user().value(), 1234);

  in.imageUid.reset();
  in.imageUsername = "nobody";
  sc = build(p, in);
  ASSERT_TRUE(sc.ok());
  EXPECT_FALSE(sc->has_run_as_user());
  EXPECT_EQ(sc->run_as_username(), "nobody");

  csc(p).runAsUser = 7;  // the spec's user wins over the image's
  sc = build(p, in);
  ASSERT_TRUE(sc.ok());
  EXPECT_EQ(sc->run_as_user().value(), 7);
  EXPECT_TRUE(sc->run_as_username().empty());
}

TEST(SecurityContextTest, CapabilitiesPrivilegedReadOnlyRootAndNoNewPrivs) {
  api::Pod p = makePod();
  csc(p).capabilities = api::Capabilities{{"NET_ADMIN", "SYS_TIME"}, {"ALL"}};
  csc(p).privileged = true;
  csc(p).readOnlyRootFilesystem = true;
  csc(p).allowPrivilegeEscalation = false;
  auto sc = build(p);
  ASSERT_TRUE(sc.ok());
  EXPECT_THAT(sc->capabilities().add_capabilities(), ElementsAre("NET_ADMIN", "SYS_TIME"));
  EXPECT_THAT(sc->capabilities().drop_capabilities(), ElementsAre("ALL"));
  EXPECT_TRUE(sc->privileged());
  EXPECT_TRUE(sc->readonly_rootfs());
  EXPECT_TRUE(sc->no_new_privs());

  // AddNoNewPrivileges: only an explicit false sets it.
  csc(p).allowPrivilegeEscalation = true;
  EXPECT_FALSE(build(p)->no_new_privs());
  csc(p).allowPrivilegeEscalation.reset();
  EXPECT_FALSE(build(p)->no_new_privs());
  // An empty capabilities object is still handed over (empty lists).
  csc(p).capabilities = api::Capabilities{};
  EXPECT_TRUE(build(p)->has_capabilities());
}

TEST(SecurityContextTest, UnmaskedProcMountHasNoMaskedPaths) {
  api::Pod p = makePod();
  csc(p).procMount = "Unmasked";
  auto sc = build(p);
  ASSERT_TRUE(sc.ok());
  EXPECT_THAT(sc->masked_paths(), IsEmpty());
  EXPECT_THAT(sc->readonly_paths(), IsEmpty());
  csc(p).procMount = "Default";
  EXPECT_EQ(build(p)->masked_paths_size(), 11);
}

TEST(SecurityContextTest, SupplementalGroupsAndPolicy) {
  api::Pod p = makePod();
  psc(p).fsGroup = 2000;
  psc(p).supplementalGroups = {3000, 4000};
  psc(p).supplementalGroupsPolicy = "Strict";
  auto sc = build(p);
  ASSERT_TRUE(sc.ok());
  EXPECT_THAT(sc->supplemental_groups(), ElementsAre(2000, 3000, 4000));
  EXPECT_EQ(sc->supplemental_groups_policy(), v1::Strict);
  psc(p).supplementalGroupsPolicy = "Merge";
  EXPECT_EQ(build(p)->supplemental_groups_policy(), v1::Merge);
  psc(p).supplementalGroupsPolicy = "Loose";
  EXPECT_EQ(build(p).status().message(), "unsupported supplementalGroupsPolicy: Loose");
}

TEST(SecurityContextTest, AppArmorFromContainerAnnotationOrPod) {
  api::Pod p = makePod();
  psc(p).appArmorProfile = api::AppArmorProfile{"RuntimeDefault", std::nullopt};
  auto sc = build(p);
  ASSERT_TRUE(sc.ok());
  EXPECT_EQ(sc->apparmor().profile_type(), v1::SecurityProfile::RuntimeDefault);
  EXPECT_EQ(sc->apparmor_profile(), "runtime/default");

  p.metadata.annotations["container.apparmor.security.beta.kubernetes.io/c"] = "localhost/k8s-x";
  sc = build(p);
  EXPECT_EQ(sc->apparmor().profile_type(), v1::SecurityProfile::Localhost);
  EXPECT_EQ(sc->apparmor().localhost_ref(), "k8s-x");
  EXPECT_EQ(sc->apparmor_profile(), "localhost/k8s-x");

  csc(p).appArmorProfile = api::AppArmorProfile{"Unconfined", std::nullopt};
  sc = build(p);
  EXPECT_EQ(sc->apparmor().profile_type(), v1::SecurityProfile::Unconfined);
  EXPECT_EQ(sc->apparmor_profile(), "unconfined");

  csc(p).appArmorProfile = api::AppArmorProfile{"Localhost", std::nullopt};
  EXPECT_EQ(build(p).status().message(), "missing localhost apparmor profile name");
  csc(p).appArmorProfile = api::AppArmorProfile{"Other", std::nullopt};
  EXPECT_EQ(build(p).status().message(), "unknown apparmor profile type: \"Other\"");
}

TEST(SecurityContextTest, SeccompResolution) {
  api::Pod p = makePod();
  const std::string root = "/var/lib/kubelet/seccomp";
  auto prof = seccompProfileFor(p, p.spec.containers[0], root, false);
  EXPECT_EQ(prof->profile_type(), v1::SecurityProfile::Unconfined);
  prof = seccompProfileFor(p, p.spec.containers[0], root, true);
  EXPECT_EQ(prof->profile_type(), v1::SecurityProfile::RuntimeDefault);

  psc(p).seccompProfile = api::SeccompProfile{"Localhost", "profiles/audit.json"};
  prof = seccompProfileFor(p, p.spec.containers[0], root, true);
  EXPECT_EQ(prof->profile_type(), v1::SecurityProfile::Localhost);
  EXPECT_EQ(prof->localhost_ref(), "/var/lib/kubelet/seccomp/profiles/audit.json");

  csc(p).seccompProfile = api::SeccompProfile{"Unconfined", std::nullopt};
  prof = seccompProfileFor(p, p.spec.containers[0], root, true);
  EXPECT_EQ(prof->profile_type(), v1::SecurityProfile::Unconfined);
  csc(p).seccompProfile = api::SeccompProfile{"RuntimeDefault", std::nullopt};
  prof = seccompProfileFor(p, p.spec.containers[0], root, false);
  EXPECT_EQ(prof->profile_type(), v1::SecurityProfile::RuntimeDefault);

  csc(p).seccompProfile = api::SeccompProfile{"Localhost", std::nullopt};
  EXPECT_EQ(seccompProfileFor(p, p.spec.containers[0], root, false).status().message(),
            "localhostProfile must be set if seccompProfile type is Localhost.");
  csc(p).seccompProfile = api::SeccompProfile{"Localhost", "../etc/x.json"};
  EXPECT_THAT(
      std::string(seccompProfileFor(p, p.spec.containers[0], root, false).status().message()),
      HasSubstr("securityContext.seccompProfile.localhostProfile \"../etc/x.json\": "
                "must not contain '..'"));
}

class LocalhostSeccompTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/security_context_test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf " + root_).c_str()); }
  std::string root_;
};

TEST_F(LocalhostSeccompTest, ProfileFileIsCheckedBeforeCreation) {
  api::Pod p = makePod();
  csc(p).seccompProfile = api::SeccompProfile{"Localhost", "deny-mkdir.json"};
  ContainerSecurityInput in;
  in.seccompProfileRoot = root_;
  auto sc = build(p, in);
  ASSERT_FALSE(sc.ok());
  EXPECT_EQ(sc.status().message(),
            "container \"c\": Localhost seccomp profile " + root_ + "/deny-mkdir.json: not found");

  std::ofstream(root_ + "/deny-mkdir.json")
      << R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"],
            "action": "SCMP_ACT_ERRNO"}]})";
  sc = build(p, in);
  ASSERT_TRUE(sc.ok()) << sc.status();
  EXPECT_EQ(sc->seccomp().profile_type(), v1::SecurityProfile::Localhost);
  EXPECT_EQ(sc->seccomp().localhost_ref(), root_ + "/deny-mkdir.json");

  std::ofstream(root_ + "/deny-mkdir.json")
      << R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"],
            "action": "SCMP_ACT_EPERM"}]})";
  sc = build(p, in);
  ASSERT_FALSE(sc.ok());
  EXPECT_EQ(sc.status().message(),
            "container \"c\": Localhost seccomp profile " + root_ +
                "/deny-mkdir.json: syscalls[0].action: unknown action \"SCMP_ACT_EPERM\"");
}

TEST(RunAsNonRootTest, KubeletMessages) {
  api::Pod p = makePod();
  const auto& c = p.spec.containers[0];
  EXPECT_TRUE(verifyRunAsNonRoot(p, c, 0, "").ok());  // not asked for
  psc(p).runAsNonRoot = true;
  EXPECT_EQ(verifyRunAsNonRoot(p, c, 0, "").message(),
            "container has runAsNonRoot and image will run as root (pod: \"web_ns(u1)\", "
            "container: c)");
  EXPECT_EQ(verifyRunAsNonRoot(p, c, std::nullopt, "app").message(),
            "container has runAsNonRoot and image has non-numeric user (app), cannot verify user "
            "is non-root (pod: \"web_ns(u1)\", container: c)");
  EXPECT_TRUE(verifyRunAsNonRoot(p, c, 1000, "").ok());
  EXPECT_THAT(std::string(verifyRunAsNonRoot(p, c, 4294967296, "").message()),
              HasSubstr("image has an invalid user id (4294967296)"));

  psc(p).runAsUser = 0;
  EXPECT_EQ(verifyRunAsNonRoot(p, c, 1000, "").message(),
            "container's runAsUser breaks non-root policy (pod: \"web_ns(u1)\", container: c)");
  csc(p).runAsUser = 1000;  // the container's user wins
  EXPECT_TRUE(verifyRunAsNonRoot(p, p.spec.containers[0], 0, "").ok());
  csc(p).runAsNonRoot = false;  // and its runAsNonRoot
  csc(p).runAsUser.reset();
  EXPECT_TRUE(verifyRunAsNonRoot(p, p.spec.containers[0], 0, "").ok());

  // Through the config: the error fails the container's config.
  api::Pod q = makePod();
  csc(q).runAsNonRoot = true;
  ContainerSecurityInput in;
  in.imageUid = 0;
  EXPECT_THAT(std::string(build(q, in).status().message()), HasSubstr("image will run as root"));
}

TEST(SandboxSecurityContextTest, AsGeneratePodSandboxLinuxConfig) {
  api::Pod p = makePod();
  v1::LinuxSandboxSecurityContext sc;
  ASSERT_TRUE(setSandboxSecurityContext(p, &sc).ok());
  EXPECT_FALSE(sc.privileged());
  EXPECT_EQ(sc.seccomp().profile_type(), v1::SecurityProfile::RuntimeDefault);
  EXPECT_FALSE(sc.has_run_as_user());

  psc(p).runAsUser = 1000;
  psc(p).runAsGroup = 3000;
  psc(p).fsGroup = 2000;
  psc(p).supplementalGroups = {5, 6};
  psc(p).supplementalGroupsPolicy = "Strict";
  psc(p).seLinuxOptions = api::SELinuxOptions{"", "", "spc_t", ""};
  psc(p).seccompProfile = api::SeccompProfile{"Unconfined", std::nullopt};
  p.spec.ephemeralContainers.push_back(api::Container{.name = "dbg", .image = "busybox"});
  p.spec.ephemeralContainers[0].securityContext.emplace();
  p.spec.ephemeralContainers[0].securityContext->privileged = true;
  sc.Clear();
  ASSERT_TRUE(setSandboxSecurityContext(p, &sc).ok());
  EXPECT_TRUE(sc.privileged());
  EXPECT_EQ(sc.seccomp().profile_type(), v1::SecurityProfile::RuntimeDefault);
  EXPECT_EQ(sc.run_as_user().value(), 1000);
  EXPECT_EQ(sc.run_as_group().value(), 3000);
  EXPECT_THAT(sc.supplemental_groups(), ElementsAre(2000, 5, 6));
  EXPECT_EQ(sc.supplemental_groups_policy(), v1::Strict);
  EXPECT_EQ(sc.selinux_options().type(), "spc_t");
  EXPECT_FALSE(sc.readonly_rootfs());
}

TEST(SandboxSecurityContextTest, InTheSandboxConfig) {
  api::Pod p = makePod();
  p.spec.dnsPolicy = "Default";
  p.spec.initContainers.push_back(api::Container{.name = "init", .image = "busybox"});
  p.spec.initContainers[0].securityContext.emplace();
  p.spec.initContainers[0].securityContext->privileged = true;
  auto c = makeSandboxConfig(p, 0, RuntimeOptions{}, nullptr);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->linux().security_context().privileged());
  EXPECT_EQ(c->linux().security_context().namespace_options().network(), v1::POD);
}

TEST(ContainerConfigSecurityTest, InTheContainerConfig) {
  api::Pod p = makePod();
  csc(p).runAsUser = 65534;
  csc(p).readOnlyRootFilesystem = true;
  psc(p).fsGroup = 10;
  ContainerContext ctx;
  ctx.security.seccompDefault = true;
  auto cc = makeContainerConfig(p, p.spec.containers[0], ctx);
  ASSERT_TRUE(cc.ok()) << cc.status();
  const auto& sc = cc->linux().security_context();
  EXPECT_EQ(sc.run_as_user().value(), 65534);
  EXPECT_TRUE(sc.readonly_rootfs());
  EXPECT_THAT(sc.supplemental_groups(), ElementsAre(10));
  EXPECT_EQ(sc.seccomp().profile_type(), v1::SecurityProfile::RuntimeDefault);
  EXPECT_EQ(sc.namespace_options().pid(), v1::CONTAINER);
}

absl::StatusOr<config::LoadResult> loadWith(std::vector<std::string> args) {
  std::vector<const char*> argv = {"cubelet"};
  for (const std::string& a : args) argv.push_back(a.c_str());
  return config::loadConfig(static_cast<int>(argv.size()), argv.data());
}

TEST_F(LocalhostSeccompTest, SeccompDefaultFromFlagAndConfigFile) {
  auto l = loadWith({});
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_FALSE(l->config.seccompDefault);
  l = loadWith({"--seccomp-default"});
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_TRUE(l->config.seccompDefault);

  std::string file = root_ + "/config.yaml";
  std::ofstream(file) << "apiVersion: kubelet.config.k8s.io/v1beta1\n"
                         "kind: KubeletConfiguration\nseccompDefault: true\n";
  l = loadWith({"--config=" + file});
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_TRUE(l->config.seccompDefault);
  EXPECT_THAT(l->warnings, ::testing::Not(::testing::Contains(HasSubstr("seccompDefault"))));
  l = loadWith({"--config=" + file, "--seccomp-default=false"});
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_FALSE(l->config.seccompDefault);
}

}  // namespace
}  // namespace agent::runtime
