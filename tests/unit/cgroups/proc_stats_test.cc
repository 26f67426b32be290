// Node statistics from /proc: fixtures in the kernel's format under a temp proc
// root, the node memory arithmetic behind memory.available, and the real /proc.
#include "cgroups/proc_stats.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "core/atomic_file.h"

namespace cubelet::testing {
namespace {

constexpr char kMemInfo[] =
    "MemTotal:       24683620 kB\n"
    "MemFree:        23941064 kB\n"
    "MemAvailable:   23926440 kB\n"
    "Buffers:           12200 kB\n"
    "Cached:           188972 kB\n"
    "SwapCached:            0 kB\n"
    "Active:            80088 kB\n"
    "Inactive:         148520 kB\n"
    "Active(anon):       1572 kB\n"
    "Inactive(anon):    34748 kB\n"
    "Active(file):      78516 kB\n"
    "Inactive(file):   113772 kB\n"
    "Unevictable:       16984 kB\n"
    "HugePages_Total:       0\n"
    "HugePages_Free:        0\n"
    "Hugepagesize:       2048 kB\n";

constexpr char kProcStat[] =
    "cpu  7270143 58476 2035195 2321453 14459 0 8756 0 0 0\n"
    "cpu0 3626894 28642 1002055 1189568 4876 0 2700 0 0 0\n"
    "cpu1 3643249 29834 1033140 1131885 9583 0 6056 0 0 0\n"
    "intr 123 0 0\n"
    "ctxt 456\n"
    "btime 1795372361\n"
    "processes 23584\n"
    "procs_running 2\n"
    "procs_blocked 0\n";

class ProcStatsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/proc-stats-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    ASSERT_TRUE(core::mkdirAll(root_ + "/sys/kernel").ok());
  }
  void TearDown() override { ASSERT_TRUE(core::removeAll(root_).ok()); }
  void write(const std::string& name, const std::string& text) {
    ASSERT_TRUE(core::writeFileAtomic(root_ + "/" + name, text).ok()) << name;
  }
  std::string root_;
};

TEST_F(ProcStatsTest, MemInfoInBytes) {
  write("meminfo", kMemInfo);
  auto m = cgroups::readMemInfo(root_);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->memTotal, 24683620ull * 1024);
  EXPECT_EQ(m->memFree, 23941064ull * 1024);
  EXPECT_EQ(m->memAvailable, 23926440ull * 1024);
  EXPECT_EQ(m->buffers, 12200ull * 1024);
  EXPECT_EQ(m->cached, 188972ull * 1024);
  EXPECT_EQ(m->inactiveFile, 113772ull * 1024);
  EXPECT_EQ(m->activeFile, 78516ull * 1024);
}

TEST_F(ProcStatsTest, NodeMemoryAsCadvisorAndTheEvictionSignal) {
  struct Case {
    uint64_t total, free, inactiveFile;
    uint64_t usage, workingSet, available;
  } cases[] = {
      // usage = total - free; workingSet = usage - inactive(file); available = total - ws
      {1000, 400, 100, 600, 500, 500},
      {1000, 0, 0, 1000, 1000, 0},
      {1000, 900, 300, 100, 0, 1000},  // inactive(file) above usage: floored
      {1000, 1000, 0, 0, 0, 1000},
  };
  for (const Case& c : cases) {
    cgroups::MemInfo m;
    m.memTotal = c.total;
    m.memFree = c.free;
    m.inactiveFile = c.inactiveFile;
    cgroups::NodeMemory n = cgroups::nodeMemory(m);
    SCOPED_TRACE(::testing::Message() << c.total << "/" << c.free << "/" << c.inactiveFile);
    EXPECT_EQ(n.capacityBytes, c.total);
    EXPECT_EQ(n.usageBytes, c.usage);
    EXPECT_EQ(n.workingSetBytes, c.workingSet);
    EXPECT_EQ(n.availableBytes, c.available);
  }
}

TEST_F(ProcStatsTest, CpuLineInNanoseconds) {
  write("stat", kProcStat);
  // user + nice + system + irq + softirq + steal; idle and iowait left out.
  uint64_t ticks = 7270143ull + 58476 + 2035195 + 0 + 8756 + 0;
  auto ns = cgroups::parseProcStatCpuNanos(kProcStat, "stat", 100);
  ASSERT_TRUE(ns.ok()) << ns.status();
  EXPECT_EQ(*ns, ticks * 10000000ull);
  auto ns250 = cgroups::parseProcStatCpuNanos("cpu 1 0 0 0 0 0 0 0\n", "stat", 250);
  ASSERT_TRUE(ns250.ok());
  EXPECT_EQ(*ns250, 4000000u);
  auto read = cgroups::readCpuUsageNanos(root_);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, ticks * (1000000000ull / static_cast<uint64_t>(::sysconf(_SC_CLK_TCK))));
  auto boot = cgroups::readBootTime(root_);
  ASSERT_TRUE(boot.ok()) << boot.status();
  EXPECT_EQ(*boot, 1795372361);
}

TEST_F(ProcStatsTest, ProcessLimitsTakeTheSmallerTaskLimit) {
  write("loadavg", "1.14 0.40 0.14 2/100 23584\n");
  write("sys/kernel/pid_max", "32768\n");
  write("sys/kernel/threads-max", "190000\n");
  auto l = cgroups::readProcessLimits(root_);
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->maxPid, 32768);
  EXPECT_EQ(l->numProcesses, 100);

  write("sys/kernel/threads-max", "4000\n");
  l = cgroups::readProcessLimits(root_);
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->maxPid, 4000);
}

TEST_F(ProcStatsTest, ErrorsNameTheFile) {
  write("meminfo", "MemFree: 1 kB\n");
  auto m = cgroups::readMemInfo(root_);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find(root_ + "/meminfo"), std::string::npos) << m.status();

  write("stat", "intr 1\n");
  auto c = cgroups::readCpuUsageNanos(root_);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find(root_ + "/stat"), std::string::npos) << c.status();

  write("stat", "cpu 1 2 x 4 5 6 7 8\n");
  c = cgroups::readCpuUsageNanos(root_);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("bad counter"), std::string::npos) << c.status();

  write("loadavg", "1.0 2.0 3.0\n");
  write("sys/kernel/pid_max", "32768\n");
  auto l = cgroups::readProcessLimits(root_);
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.status().message().find(root_ + "/loadavg"), std::string::npos) << l.status();

  auto missing = cgroups::readMemInfo(root_ + "/nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(absl::IsNotFound(missing.status()));
}

TEST(ProcStatsRealTest, ReadsTheMachinesProc) {
  auto m = cgroups::readMemInfo();
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_GT(m->memTotal, 0u);
  EXPECT_LE(m->memFree, m->memTotal);
  cgroups::NodeMemory n = cgroups::nodeMemory(*m);
  EXPECT_GT(n.availableBytes, 0u);
  EXPECT_LE(n.workingSetBytes, n.usageBytes);

  auto limits = cgroups::readProcessLimits();
  ASSERT_TRUE(limits.ok()) << limits.status();
  EXPECT_GT(limits->maxPid, 0);
  EXPECT_GT(limits->numProcesses, 0);

  auto before = cgroups::readCpuUsageNanos();
  ASSERT_TRUE(before.ok()) << before.status();
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
  volatile uint64_t spin = 0;
  while (std::chrono::steady_clock::now() < until) spin = spin + 1;
  auto after = cgroups::readCpuUsageNanos();
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_GT(*after, *before);
}

}  // namespace
}  // namespace cubelet::testing
