// The cgroup v2 stats readers: every file against fixtures in the kernel's exact
// format (a temp dir laid out as a cgroup), and the real controller-less cgroup2
// mount of the test machine (/sys/fs/cgroup/unified: cpu.stat and *.pressure).
#include "cgroups/cgroup_stats.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <string>

#include "core/atomic_file.h"

namespace cubelet::testing {
namespace {

// A cgroup v2 directory with the interface files of one that has the cpu, memory,
// io and pids controllers enabled (shapes copied from a 6.x kernel).
constexpr char kCpuStat[] =
    "usage_usec 93725648\nuser_usec 73286164\nsystem_usec 20439484\nnice_usec 584760\n"
    "core_sched.force_idle_usec 0\nnr_periods 1200\nnr_throttled 37\nthrottled_usec 455000\n"
    "nr_bursts 0\nburst_usec 0\n";
constexpr char kMemoryStat[] =
    "anon 44355584\nfile 193536000\nkernel 12582912\nkernel_stack 1638400\npagetables 2555904\n"
    "sec_pagetables 0\npercpu 1024\nsock 4096\nvmalloc 0\nshmem 9097216\nzswap 0\nzswapped 0\n"
    "file_mapped 31535104\nfile_dirty 5103616\nfile_writeback 0\nswapcached 0\n"
    "anon_thp 0\nfile_thp 0\nshmem_thp 0\ninactive_anon 35581952\nactive_anon 1609728\n"
    "inactive_file 116502528\nactive_file 80400384\nunevictable 17391616\n"
    "slab_reclaimable 194121728\nslab_unreclaimable 50118656\nslab 244240384\n"
    "workingset_refault_anon 0\nworkingset_refault_file 0\npgscan 0\npgsteal 0\n"
    "pgfault 987654\npgmajfault 321\npgrefill 0\nthp_fault_alloc 0\n";
constexpr char kMemoryEvents[] = "low 0\nhigh 5\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n";
constexpr char kIoStat[] =
    "8:0 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0\n"
    "253:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=512 dios=2\n";
constexpr char kCpuPressure[] =
    "some avg10=3.41 avg60=8.76 avg300=3.39 total=19546415575\n"
    "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";
constexpr char kMemoryPressure[] =
    "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
    "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";
constexpr char kIoPressure[] =
    "some avg10=0.02 avg60=0.04 avg300=0.05 total=329921380\n"
    "full avg10=0.02 avg60=0.04 avg300=0.05 total=87834953\n";

class CgroupStatsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cgroup-stats-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { ASSERT_TRUE(core::removeAll(dir_).ok()); }
  void write(const std::string& name, const std::string& text) {
    ASSERT_TRUE(core::writeFileAtomic(dir_ + "/" + name, text).ok()) << name;
  }
  void writeAll() {
    write("cpu.stat", kCpuStat);
    write("memory.current", "236781568\n");
    write("memory.stat", kMemoryStat);
    write("memory.events", kMemoryEvents);
    write("io.stat", kIoStat);
    write("pids.current", "17\n");
    write("pids.max", "max\n");
    write("cpu.pressure", kCpuPressure);
    write("memory.pressure", kMemoryPressure);
    write("io.pressure", kIoPressure);
  }
  std::string dir_;
};

TEST_F(CgroupStatsTest, ReadsEveryFileInKernelFormat) {
  writeAll();
  auto s = cgroups::readCgroupStats(dir_);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_TRUE(s->cpu.has_value());
  EXPECT_EQ(s->cpu->usageUsec, 93725648u);
  EXPECT_EQ(s->cpu->userUsec, 73286164u);
  EXPECT_EQ(s->cpu->systemUsec, 20439484u);
  EXPECT_EQ(s->cpu->nrPeriods, 1200u);
  EXPECT_EQ(s->cpu->nrThrottled, 37u);
  EXPECT_EQ(s->cpu->throttledUsec, 455000u);

  EXPECT_EQ(s->memoryCurrent, 236781568u);
  ASSERT_TRUE(s->memoryStat.has_value());
  EXPECT_EQ(s->memoryStat->anon, 44355584u);
  EXPECT_EQ(s->memoryStat->file, 193536000u);
  EXPECT_EQ(s->memoryStat->inactiveFile, 116502528u);
  EXPECT_EQ(s->memoryStat->activeFile, 80400384u);
  EXPECT_EQ(s->memoryStat->shmem, 9097216u);
  EXPECT_EQ(s->memoryStat->pgfault, 987654u);
  EXPECT_EQ(s->memoryStat->pgmajfault, 321u);
  EXPECT_EQ(s->memoryStat->all.at("slab_unreclaimable"), 50118656u);
  // working set = memory.current - inactive_file
  EXPECT_EQ(s->workingSetBytes, 236781568u - 116502528u);

  ASSERT_TRUE(s->memoryEvents.has_value());
  EXPECT_EQ(s->memoryEvents->high, 5u);
  EXPECT_EQ(s->memoryEvents->max, 12u);
  EXPECT_EQ(s->memoryEvents->oom, 2u);
  EXPECT_EQ(s->memoryEvents->oomKill, 1u);

  ASSERT_TRUE(s->hasIoStat);
  ASSERT_EQ(s->io.size(), 2u);
  EXPECT_EQ(s->io[0].major, 8u);
  EXPECT_EQ(s->io[0].minor, 0u);
  EXPECT_EQ(s->io[0].rbytes, 1459200u);
  EXPECT_EQ(s->io[0].wbytes, 314773504u);
  EXPECT_EQ(s->io[0].rios, 192u);
  EXPECT_EQ(s->io[0].wios, 353u);
  EXPECT_EQ(s->io[1].major, 253u);
  EXPECT_EQ(s->io[1].dbytes, 512u);
  EXPECT_EQ(s->io[1].dios, 2u);

  EXPECT_EQ(s->pidsCurrent, 17u);
  EXPECT_EQ(s->pidsMax, -1);

  ASSERT_TRUE(s->cpuPressure.has_value());
  EXPECT_DOUBLE_EQ(s->cpuPressure->some.avg10, 3.41);
  EXPECT_DOUBLE_EQ(s->cpuPressure->some.avg60, 8.76);
  EXPECT_DOUBLE_EQ(s->cpuPressure->some.avg300, 3.39);
  EXPECT_EQ(s->cpuPressure->some.total, 19546415575u);
  ASSERT_TRUE(s->cpuPressure->full.has_value());
  EXPECT_EQ(s->cpuPressure->full->total, 0u);
  ASSERT_TRUE(s->ioPressure.has_value());
  EXPECT_EQ(s->ioPressure->full->total, 87834953u);
  ASSERT_TRUE(s->memoryPressure.has_value());
}

TEST_F(CgroupStatsTest, WorkingSetIsFlooredAtZero) {
  cgroups::MemoryStat st;
  st.inactiveFile = 5000;
  EXPECT_EQ(cgroups::workingSetBytes(4096, st), 0u);
  EXPECT_EQ(cgroups::workingSetBytes(5000, st), 0u);
  EXPECT_EQ(cgroups::workingSetBytes(5001, st), 1u);
}

TEST_F(CgroupStatsTest, AbsentControllerFilesAreNotFoundAndLeftEmpty) {
  // A controller-less cgroup: only cpu.stat's usage lines and the PSI files.
  write("cpu.stat", "usage_usec 10\nuser_usec 6\nsystem_usec 4\n");
  write("cpu.pressure", "some avg10=0.00 avg60=0.00 avg300=0.00 total=7\n");  // pre-5.13
  auto mem = cgroups::readMemoryCurrent(dir_);
  ASSERT_FALSE(mem.ok());
  EXPECT_TRUE(absl::IsNotFound(mem.status())) << mem.status();
  EXPECT_NE(mem.status().message().find(dir_ + "/memory.current"), std::string::npos)
      << mem.status();

  auto s = cgroups::readCgroupStats(dir_);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_TRUE(s->cpu.has_value());
  EXPECT_EQ(s->cpu->usageUsec, 10u);
  EXPECT_FALSE(s->cpu->nrPeriods.has_value());
  EXPECT_FALSE(s->cpu->throttledUsec.has_value());
  EXPECT_FALSE(s->memoryCurrent.has_value());
  EXPECT_FALSE(s->memoryStat.has_value());
  EXPECT_FALSE(s->workingSetBytes.has_value());
  EXPECT_FALSE(s->memoryEvents.has_value());
  EXPECT_FALSE(s->hasIoStat);
  EXPECT_FALSE(s->pidsCurrent.has_value());
  EXPECT_FALSE(s->pidsMax.has_value());
  ASSERT_TRUE(s->cpuPressure.has_value());
  EXPECT_EQ(s->cpuPressure->some.total, 7u);
  EXPECT_FALSE(s->cpuPressure->full.has_value());
  EXPECT_FALSE(s->memoryPressure.has_value());
}

TEST_F(CgroupStatsTest, MissingCgroupIsNotFoundNamingIt) {
  auto s = cgroups::readCgroupStats(dir_ + "/gone");
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(absl::IsNotFound(s.status())) << s.status();
  EXPECT_NE(s.status().message().find(dir_ + "/gone"), std::string::npos) << s.status();
}

TEST_F(CgroupStatsTest, MalformedFilesFailNamingTheFile) {
  struct Case {
    const char* file;
    const char* text;
  } cases[] = {
      {"cpu.stat", "usage_usec ten\n"},
      {"cpu.stat", "user_usec 1\n"},  // no usage_usec
      {"memory.stat", "anon\n"},
      {"memory.current", "lots\n"},
      {"pids.max", "-5\n"},
      {"io.stat", "8-0 rbytes=1\n"},
      {"io.stat", "8:0 rbytes=x\n"},
      {"cpu.pressure", "some avg10=0.00 avg60=0.00 total=0\n"},              // no avg300
      {"cpu.pressure", "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"},  // no some
      {"memory.pressure", "partial avg10=0.00\n"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.file) + ": " + c.text);
    ASSERT_TRUE(core::removeAll(dir_).ok());
    ASSERT_TRUE(core::mkdirAll(dir_).ok());
    write(c.file, c.text);
    auto s = cgroups::readCgroupStats(dir_);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << s.status();
    EXPECT_NE(s.status().message().find(dir_ + "/" + c.file), std::string::npos) << s.status();
  }
}

TEST_F(CgroupStatsTest, LimitValues) {
  EXPECT_EQ(*cgroups::parseLimitValue("max\n", "f"), -1);
  EXPECT_EQ(*cgroups::parseLimitValue("4096\n", "f"), 4096);
  EXPECT_FALSE(cgroups::parseLimitValue("", "f").ok());
}

// The test machine's cgroup2 mount has no controllers: cpu.stat and the PSI files
// are there, memory.current is not. Reading it must work, and the root's CPU usage
// must grow across a busy loop.
constexpr char kRealCgroup2[] = "/sys/fs/cgroup/unified";

TEST(CgroupStatsRealTest, ReadsTheMachinesCgroup2Root) {
  auto before = cgroups::readCgroupStats(kRealCgroup2);
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_TRUE(before->cpu.has_value()) << "no cpu.stat in " << kRealCgroup2;
  ASSERT_TRUE(before->cpuPressure.has_value()) << "no cpu.pressure in " << kRealCgroup2;
  ASSERT_TRUE(before->memoryPressure.has_value());
  ASSERT_TRUE(before->ioPressure.has_value());
  EXPECT_GT(before->cpu->usageUsec, 0u);
  EXPECT_GE(before->cpu->usageUsec, before->cpu->userUsec);

  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
  volatile uint64_t spin = 0;
  while (std::chrono::steady_clock::now() < until) spin = spin + 1;

  auto after = cgroups::readCpuStat(kRealCgroup2);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_GT(after->usageUsec, before->cpu->usageUsec);
  auto psi = cgroups::readPressure(kRealCgroup2, "cpu");
  ASSERT_TRUE(psi.ok()) << psi.status();
  EXPECT_GE(psi->some.total, before->cpuPressure->some.total);
}

}  // namespace
}  // namespace cubelet::testing
