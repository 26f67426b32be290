// The sysctl admit handler: the safe set by kernel version, allowedUnsafeSysctls names
// and patterns, the namespace checks for host-network/IPC pods, the slash form, and
// the kubelet's reason and messages.
#include "agent/pods/sysctls.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace agent::pods {
namespace {

api::Pod podWith(std::vector<std::pair<std::string, std::string>> sysctls, bool hostNet = false,
                 bool hostIPC = false) {
  api::Pod p;
  p.metadata.name = "p";
  p.spec.hostNetwork = hostNet;
  p.spec.hostIPC = hostIPC;
  api::PodSecurityContext sc;
  for (auto& [n, v] : sysctls) sc.sysctls.push_back({n, v});
  p.spec.securityContext = sc;
  return p;
}

SysctlAllowlist allowlist(const std::vector<std::string>& unsafe) {
  std::vector<std::string> all = safeSysctls("6.8.0-49-generic");
  all.insert(all.end(), unsafe.begin(), unsafe.end());
  auto w = SysctlAllowlist::create(all);
  EXPECT_TRUE(w.ok()) << w.status();
  return *w;
}

bool has(const std::vector<std::string>& v, const char* s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(Sysctls, SafeSetFollowsTheKernel) {
  auto modern = safeSysctls("6.8.0-49-generic");
  EXPECT_EQ(modern.size(), 12u);
  for (const char* s :
       {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes", "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_rmem",
        "net.ipv4.tcp_wmem"}) {
    EXPECT_TRUE(has(modern, s)) << s;
  }
  // 4.4: reserved ports (3.16) yes, tcp_rmem/tcp_wmem (4.15) not.
  auto old = safeSysctls("4.4.0");
  EXPECT_EQ(old.size(), 10u);
  EXPECT_TRUE(has(old, "net.ipv4.ip_local_reserved_ports"));
  EXPECT_FALSE(has(old, "net.ipv4.tcp_rmem"));
  EXPECT_TRUE(has(safeSysctls("4.15"), "net.ipv4.tcp_wmem"));
  // Unknown kernel: the legacy list only.
  EXPECT_EQ(safeSysctls("").size(), 9u);
  EXPECT_EQ(safeSysctls("garbage").size(), 9u);
}

TEST(Sysctls, SafeSysctlsAreAdmitted) {
  auto w = allowlist({});
  EXPECT_FALSE(w.admit(podWith({{"kernel.shm_rmid_forced", "1"},
                                {"net.ipv4.ip_local_port_range", "1024 65000"}}))
                   .has_value());
  api::Pod none;
  EXPECT_FALSE(w.admit(none).has_value());
}

TEST(Sysctls, UnsafeSysctlIsForbiddenWithTheKubeletMessage) {
  auto w = allowlist({});
  auto r = w.admit(podWith({{"kernel.shm_rmid_forced", "1"}, {"net.core.somaxconn", "1024"}}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->reason, "SysctlForbidden");
  EXPECT_EQ(r->message, "forbidden sysctl: \"net.core.somaxconn\" not allowlisted");
}

TEST(Sysctls, AllowedUnsafeByNameAndPattern) {
  auto w = allowlist({"net.core.somaxconn", "kernel.msg*"});
  EXPECT_FALSE(w.admit(podWith({{"net.core.somaxconn", "1024"}})).has_value());
  EXPECT_FALSE(w.admit(podWith({{"kernel.msgmax", "65536"}})).has_value());
  EXPECT_TRUE(w.admit(podWith({{"net.core.rmem_max", "1"}})).has_value());
  // A pattern covers everything below its prefix.
  auto net = allowlist({"net.*"});
  EXPECT_FALSE(net.admit(podWith({{"net.core.rmem_max", "1"}})).has_value());
}

TEST(Sysctls, HostNamespacesForbidTheirSysctls) {
  auto w = allowlist({"kernel.msg*"});
  auto r = w.admit(podWith({{"net.ipv4.ip_local_port_range", "1024 65000"}}, true, false));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->message,
            "forbidden sysctl: \"net.ipv4.ip_local_port_range\" not allowed with host net enabled");
  r = w.admit(podWith({{"kernel.shm_rmid_forced", "1"}}, false, true));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->message,
            "forbidden sysctl: \"kernel.shm_rmid_forced\" not allowed with host ipc enabled");
  r = w.admit(podWith({{"kernel.msgmax", "1"}}, false, true));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->message, "forbidden sysctl: \"kernel.msgmax\" not allowed with host ipc enabled");
  // The other namespace is fine.
  EXPECT_FALSE(w.admit(podWith({{"kernel.shm_rmid_forced", "1"}}, true, false)).has_value());
  EXPECT_FALSE(w.admit(podWith({{"net.ipv4.tcp_syncookies", "1"}}, false, true)).has_value());
}

TEST(Sysctls, SlashFormIsNormalised) {
  EXPECT_EQ(sysctlToDots("net/ipv4/ip_local_port_range"), "net.ipv4.ip_local_port_range");
  EXPECT_EQ(sysctlToDots("net/ipv4/conf/eno2.100/rp_filter"), "net.ipv4.conf.eno2/100.rp_filter");
  EXPECT_EQ(sysctlToDots("net.ipv4.conf.eno2/100.rp_filter"), "net.ipv4.conf.eno2/100.rp_filter");
  EXPECT_EQ(sysctlToDots("kernel"), "kernel");
  auto w = allowlist({"net/core/somaxconn"});
  EXPECT_FALSE(w.admit(podWith({{"net/ipv4/ip_local_port_range", "1024 65000"}})).has_value());
  EXPECT_FALSE(w.admit(podWith({{"net.core.somaxconn", "1"}})).has_value());
  auto r = w.admit(podWith({{"net/core/rmem_max", "1"}}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->message, "forbidden sysctl: \"net.core.rmem_max\" not allowlisted");
}

TEST(Sysctls, BadAllowlistEntriesAreErrors) {
  auto bad = SysctlAllowlist::create({"Net.Core"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("sysctl \"Net.Core\" must have at most 253 characters"),
            std::string::npos)
      << bad.status();
  auto notNs = SysctlAllowlist::create({"vm.swappiness"});
  ASSERT_FALSE(notNs.ok());
  EXPECT_EQ(notNs.status().message(),
            "the sysctl \"vm.swappiness\" are not known to be namespaced");
  auto notNsPattern = SysctlAllowlist::create({"kernel.*"});
  ASSERT_FALSE(notNsPattern.ok());
  EXPECT_EQ(notNsPattern.status().message(),
            "the sysctls \"kernel.*\" are not known to be namespaced");
  EXPECT_TRUE(isValidSysctlPattern("net.ipv4.*"));
  EXPECT_TRUE(isValidSysctlPattern("net/ipv4/tcp_rmem"));
  EXPECT_FALSE(isValidSysctlPattern("net..ipv4"));
  EXPECT_FALSE(isValidSysctlPattern(std::string(254, 'a')));
}

TEST(Sysctls, NamespacedBy) {
  EXPECT_EQ(sysctlNamespacedBy("kernel.sem"), SysctlNamespace::kIpc);
  EXPECT_EQ(sysctlNamespacedBy("kernel.shmmax"), SysctlNamespace::kIpc);
  EXPECT_EQ(sysctlNamespacedBy("fs.mqueue.msg_max"), SysctlNamespace::kIpc);
  EXPECT_EQ(sysctlNamespacedBy("net.core.somaxconn"), SysctlNamespace::kNet);
  EXPECT_EQ(sysctlNamespacedBy("kernel.semx"), SysctlNamespace::kUnknown);
  EXPECT_EQ(sysctlNamespacedBy("vm.swappiness"), SysctlNamespace::kUnknown);
}

}  // namespace
}  // namespace agent::pods
