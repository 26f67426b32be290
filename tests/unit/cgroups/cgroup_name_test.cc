// CgroupName conversions, table-driven against the kubelet's ToCgroupfs /
// ParseCgroupfsToCgroupName / ToSystemd (with runc's ExpandSlice).
#include <string>
#include <vector>

#include "cgroups/cgroup_manager.h"
#include "gtest/gtest.h"

namespace cubelet::testing {
namespace {

using cgroups::CgroupName;

struct NameCase {
  std::vector<std::string> components;
  std::string cgroupfs;
  std::string systemd;
  std::string slice;
};

TEST(CgroupNameTest, ConvertsToTheKubeletsForms) {
  const std::vector<NameCase> cases = {
      {{}, "/", "/", "-.slice"},
      {{""}, "/", "/", "-.slice"},
      {{"kubepods"}, "/kubepods", "/kubepods.slice", "kubepods.slice"},
      {{"kubepods", "burstable"},
       "/kubepods/burstable",
       "/kubepods.slice/kubepods-burstable.slice",
       "kubepods-burstable.slice"},
      {{"kubepods", "besteffort"},
       "/kubepods/besteffort",
       "/kubepods.slice/kubepods-besteffort.slice",
       "kubepods-besteffort.slice"},
      // The kubelet's own example (cgroup_manager_linux.go): a "-" inside one
      // component becomes "_" so that systemd does not read it as a level.
      {{"kubepods", "burstable", "pod1234-abcd-5678-efgh"},
       "/kubepods/burstable/pod1234-abcd-5678-efgh",
       "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234_abcd_5678_efgh.slice",
       "kubepods-burstable-pod1234_abcd_5678_efgh.slice"},
      {{"kubepods", "burstable", "pod1234-5678"},
       "/kubepods/burstable/pod1234-5678",
       "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234_5678.slice",
       "kubepods-burstable-pod1234_5678.slice"},
      // A guaranteed pod sits directly under kubepods.
      {{"kubepods", "pod0d2f6e4c-3b1a-4c55-9f39-0e5b9a7e2c11"},
       "/kubepods/pod0d2f6e4c-3b1a-4c55-9f39-0e5b9a7e2c11",
       "/kubepods.slice/kubepods-pod0d2f6e4c_3b1a_4c55_9f39_0e5b9a7e2c11.slice",
       "kubepods-pod0d2f6e4c_3b1a_4c55_9f39_0e5b9a7e2c11.slice"},
      // A --cgroup-root in front, its own "-" escaped the same way.
      {{"my-root", "kubepods"},
       "/my-root/kubepods",
       "/my_root.slice/my_root-kubepods.slice",
       "my_root-kubepods.slice"},
      // path.Join drops empty components; ExpandSlice would reject them, so they
      // are left out of the systemd form too.
      {{"kubepods", "", "besteffort"},
       "/kubepods/besteffort",
       "/kubepods.slice/kubepods-besteffort.slice",
       "kubepods-besteffort.slice"},
  };
  for (const NameCase& c : cases) {
    CgroupName n{c.components};
    EXPECT_EQ(cgroups::toCgroupfs(n), c.cgroupfs) << c.cgroupfs;
    EXPECT_EQ(cgroups::toSystemd(n), c.systemd) << c.cgroupfs;
    EXPECT_EQ(cgroups::systemdSliceName(n), c.slice) << c.cgroupfs;
  }
}

TEST(CgroupNameTest, ToCgroupfsCleansAsPathJoin) {
  EXPECT_EQ(cgroups::toCgroupfs(CgroupName{{"a", ".", "b"}}), "/a/b");
  EXPECT_EQ(cgroups::toCgroupfs(CgroupName{{"a", "..", "b"}}), "/b");
  EXPECT_EQ(cgroups::toCgroupfs(CgroupName{{"..", "a"}}), "/a");
  EXPECT_EQ(cgroups::toCgroupfs(CgroupName{{"a/b", "c"}}), "/a/b/c");
}

TEST(CgroupNameTest, FromCgroupfsParsesAsTheKubelet) {
  struct Case {
    std::string path;
    std::vector<std::string> want;
  };
  const std::vector<Case> cases = {
      {"/", {}},
      {"", {}},
      {"/kubepods", {"kubepods"}},
      {"/kubepods/burstable/pod1234-5678", {"kubepods", "burstable", "pod1234-5678"}},
      {"kubepods/besteffort", {"kubepods", "besteffort"}},
      // ParseCgroupfsToCgroupName splits as is: a trailing "/" leaves an empty
      // component (which toCgroupfs then drops again).
      {"/kubepods/", {"kubepods", ""}},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(cgroups::fromCgroupfs(c.path).components, c.want) << c.path;
  }
  for (const char* p : {"/", "/kubepods", "/kubepods/burstable/pod1234-5678"}) {
    EXPECT_EQ(cgroups::toCgroupfs(cgroups::fromCgroupfs(p)), p);
  }
}

TEST(CgroupNameTest, ChildAppendsOneComponentAndLeavesTheBase) {
  CgroupName kubepods{{"kubepods"}};
  CgroupName burstable = cgroups::child(kubepods, "burstable");
  CgroupName pod = cgroups::child(burstable, "podabc");
  EXPECT_EQ(kubepods.components, (std::vector<std::string>{"kubepods"}));
  EXPECT_EQ(pod, (CgroupName{{"kubepods", "burstable", "podabc"}}));
  EXPECT_EQ(cgroups::child(CgroupName{}, "kubepods"), kubepods);
}

}  // namespace
}  // namespace cubelet::testing
