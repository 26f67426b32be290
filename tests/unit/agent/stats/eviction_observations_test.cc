// Summary -> eviction observations: each signal's available and capacity as the
// kubelet's makeSignalObservations derives them, and the per-pod usage.
#include "agent/stats/eviction_observations.h"

#include <gtest/gtest.h>

namespace cubelet::testing {
namespace {

using namespace agent::stats;
using agent::eviction::Signal;

TEST(EvictionObservationsTest, SignalsAndPods) {
  core::WallTime t(std::chrono::seconds(1700000000));
  Summary s;
  s.node.memory = MemoryStats{t, 600, 900, 400, std::nullopt, std::nullopt, std::nullopt};
  FsStats nodeFs;
  nodeFs.time = t;
  nodeFs.availableBytes = 30;
  nodeFs.capacityBytes = 100;
  nodeFs.inodesFree = 5;
  nodeFs.inodes = 50;
  s.node.fs = nodeFs;
  FsStats imageFs;
  imageFs.availableBytes = 70;
  imageFs.capacityBytes = 200;  // no inode figures: no imagefs.inodesFree signal
  s.node.runtime = RuntimeStats{imageFs};
  s.node.rlimit = RlimitStats{t, 1000, 250};
  PodStats p;
  p.podRef = {"web", "default", "u1"};
  p.memory =
      MemoryStats{t, std::nullopt, std::nullopt, 123, std::nullopt, std::nullopt, std::nullopt};
  FsStats eph;
  eph.usedBytes = 777;
  p.ephemeralStorage = eph;
  VolumeStats v;
  v.name = "cache";
  v.fs.usedBytes = 11;
  v.fs.inodesUsed = 2;
  p.volume.push_back(v);
  ContainerStats c;
  c.name = "app";
  c.memory = p.memory;
  FsStats rootfs;
  rootfs.usedBytes = 44;
  rootfs.inodesUsed = 4;
  c.rootfs = rootfs;
  p.containers.push_back(c);
  s.pods.push_back(p);

  auto o = toObservations(s, /*dedicatedImageFs=*/true);
  EXPECT_TRUE(o.dedicatedImageFs);
  EXPECT_EQ(o.signals.at(Signal::kMemoryAvailable).available, 600);
  EXPECT_EQ(o.signals.at(Signal::kMemoryAvailable).capacity, 1000);  // available + ws
  EXPECT_EQ(o.signals.at(Signal::kMemoryAvailable).time, t);
  EXPECT_EQ(o.signals.at(Signal::kNodeFsAvailable).available, 30);
  EXPECT_EQ(o.signals.at(Signal::kNodeFsAvailable).capacity, 100);
  EXPECT_EQ(o.signals.at(Signal::kNodeFsInodesFree).available, 5);
  EXPECT_EQ(o.signals.at(Signal::kNodeFsInodesFree).capacity, 50);
  EXPECT_EQ(o.signals.at(Signal::kImageFsAvailable).available, 70);
  EXPECT_FALSE(o.signals.contains(Signal::kImageFsInodesFree));
  EXPECT_EQ(o.signals.at(Signal::kPidAvailable).available, 750);
  EXPECT_EQ(o.signals.at(Signal::kPidAvailable).capacity, 1000);
  EXPECT_FALSE(o.signals.contains(Signal::kAllocatableMemoryAvailable));

  const auto& u = o.pods.at("u1");
  EXPECT_EQ(u.name, "web");
  EXPECT_EQ(u.memoryWorkingSet, 123);
  EXPECT_EQ(u.ephemeralStorageUsed, 777);
  EXPECT_EQ(u.volumes.at("cache").usedBytes, 11);
  ASSERT_EQ(u.containers.size(), 1u);
  EXPECT_EQ(u.containers[0].rootfs->usedBytes, 44);
  EXPECT_FALSE(u.containers[0].logs.has_value());
}

}  // namespace
}  // namespace cubelet::testing
