// The stats/v1alpha1 JSON shape: field names and order, omitempty, metav1.Time.
#include "agent/stats/summary_json.h"

#include <gtest/gtest.h>

namespace cubelet::testing {
namespace {

using namespace agent::stats;

core::WallTime at(int64_t secs) { return core::WallTime(std::chrono::seconds(secs)); }

TEST(SummaryJsonTest, ExactShapeOfASmallSummary) {
  Summary s;
  s.node.nodeName = "n1";
  s.node.startTime = at(1700000000);
  s.node.cpu = CpuStats{at(1700000100) + std::chrono::milliseconds(750), 250000000, 42};
  s.node.rlimit = RlimitStats{at(1700000100), 32768, 120};
  PodStats p;
  p.podRef = {"web", "default", "u1"};
  p.startTime = at(1700000050);
  ContainerStats c;
  c.name = "app";
  c.startTime = at(1700000060);
  c.memory =
      MemoryStats{at(1700000100), std::nullopt, 10, 8, std::nullopt, std::nullopt, std::nullopt};
  p.containers.push_back(c);
  VolumeStats v;
  v.name = "cache";
  v.fs.time = at(1700000100);
  v.fs.usedBytes = 4096;
  p.volume.push_back(v);
  FsStats eph;
  eph.time = at(1700000100);
  eph.usedBytes = 4096;
  p.ephemeralStorage = eph;
  p.processStats = ProcessStats{3};
  s.pods.push_back(p);

  EXPECT_EQ(summaryJson(s),
            R"({"node":{"nodeName":"n1","startTime":"2023-11-14T22:13:20Z",)"
            R"("cpu":{"time":"2023-11-14T22:15:00Z","usageNanoCores":250000000,)"
            R"("usageCoreNanoSeconds":42},)"
            R"("rlimit":{"time":"2023-11-14T22:15:00Z","maxpid":32768,"curproc":120}},)"
            R"("pods":[{"podRef":{"name":"web","namespace":"default","uid":"u1"},)"
            R"("startTime":"2023-11-14T22:14:10Z",)"
            R"("containers":[{"name":"app","startTime":"2023-11-14T22:14:20Z",)"
            R"("memory":{"time":"2023-11-14T22:15:00Z","usageBytes":10,"workingSetBytes":8}}],)"
            R"("volume":[{"time":"2023-11-14T22:15:00Z","usedBytes":4096,"name":"cache"}],)"
            R"("ephemeral-storage":{"time":"2023-11-14T22:15:00Z","usedBytes":4096},)"
            R"("process_stats":{"process_count":3}}]})");
}

TEST(SummaryJsonTest, EmptySummaryKeepsRequiredFields) {
  Summary s;
  EXPECT_EQ(summaryJson(s), R"({"node":{"nodeName":"","startTime":null},"pods":[]})");
  PodStats p;
  EXPECT_EQ(toJson(p).dump(),
            R"({"podRef":{"name":"","namespace":"","uid":""},"startTime":null,"containers":[]})");
}

TEST(SummaryJsonTest, ImageFsAndSystemContainers) {
  NodeStats n;
  n.nodeName = "n1";
  ContainerStats kubelet;
  kubelet.name = "kubelet";
  n.systemContainers.push_back(kubelet);
  FsStats fs;
  fs.capacityBytes = 100;
  fs.availableBytes = 40;
  fs.inodes = 10;
  fs.inodesFree = 4;
  fs.inodesUsed = 6;
  n.runtime = RuntimeStats{fs};
  auto j = toJson(n);
  EXPECT_EQ(j.at("systemContainers")[0].at("name"), "kubelet");
  EXPECT_EQ(j.at("runtime").at("imageFs").dump(),
            R"({"time":null,"availableBytes":40,"capacityBytes":100,"inodesFree":4,)"
            R"("inodes":10,"inodesUsed":6})");
}

}  // namespace
}  // namespace cubelet::testing
