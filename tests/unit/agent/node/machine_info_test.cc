#include "agent/node/machine_info.h"
#include "core/platform.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "absl/strings/str_cat.h"
#include "core/atomic_file.h"

namespace agent::node {
namespace {

// A directory laid out like / with the files machine info reads.
class FakeRoot : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/machine-info-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { ASSERT_TRUE(core::removeAll(root_).ok()); }

  void write(const std::string& path, const std::string& content) {
    std::string full = root_ + path;
    ASSERT_TRUE(core::mkdirAll(full.substr(0, full.rfind('/'))).ok());
    ASSERT_TRUE(core::writeFileAtomic(full, content).ok());
  }

  void writeTypicalMachine() {
    write("/etc/machine-id", "0123456789abcdef0123456789abcdef\n");
    write("/sys/class/dmi/id/product_uuid", "EC2A6F4E-1111-2222-3333-444455556666\n");
    write("/proc/sys/kernel/random/boot_id", "9b8c1a0e-aaaa-bbbb-cccc-ddddeeeeffff\n");
    write("/proc/sys/kernel/osrelease", "6.1.0-18-amd64\n");
    write("/proc/sys/kernel/hostname", "node-a\n");
    write("/etc/os-release",
          "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n");
    write("/proc/meminfo",
          "MemTotal:        8152384 kB\nMemFree:         1234 kB\nMemAvailable:    5555 kB\n");
    write("/sys/devices/system/cpu/online", "0-3\n");
    write("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", "0\n");
    write("/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages", "2\n");
  }

  MachineInfoOptions opts() {
    MachineInfoOptions o;
    o.root = root_;
    o.rootDir = "/var/lib/kubelet";
    o.filesystemCapacity = [this](const std::string& path) -> absl::StatusOr<int64_t> {
      statfsPath_ = path;
      return int64_t{103880232960};
    };
    return o;
  }

  std::string root_;
  std::string statfsPath_;
};

TEST_F(FakeRoot, ReadsEveryFact) {
  writeTypicalMachine();
  auto m = readMachineInfo(opts());
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->machineID, "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(m->systemUUID, "EC2A6F4E-1111-2222-3333-444455556666");
  EXPECT_EQ(m->bootID, "9b8c1a0e-aaaa-bbbb-cccc-ddddeeeeffff");
  EXPECT_EQ(m->kernelVersion, "6.1.0-18-amd64");
  EXPECT_EQ(m->hostname, "node-a");
  EXPECT_EQ(m->osImage, "Debian GNU/Linux 12 (bookworm)");
  EXPECT_EQ(m->memoryCapacityBytes, int64_t{8152384} * 1024);
  EXPECT_EQ(m->numCores, 4);
  ASSERT_EQ(m->hugePages.size(), 2u);
  EXPECT_EQ(m->hugePages[0], (HugePageInfo{2 * 1024 * 1024, 0}));
  EXPECT_EQ(m->hugePages[1], (HugePageInfo{int64_t{1} << 30, 2}));
  ASSERT_TRUE(m->ephemeralStorageBytes.has_value());
  EXPECT_EQ(*m->ephemeralStorageBytes, 103880232960);
  EXPECT_EQ(statfsPath_, "/var/lib/kubelet");
  EXPECT_EQ(m->architecture, core::goArch());
#if defined(__x86_64__)
  EXPECT_EQ(m->architecture, "amd64");
#elif defined(__aarch64__)
  EXPECT_EQ(m->architecture, "arm64");
#endif
}

TEST_F(FakeRoot, FallsBackAsCadvisorDoes) {
  writeTypicalMachine();
  ASSERT_TRUE(core::removeAll(root_ + "/etc/machine-id").ok());
  ASSERT_TRUE(core::removeAll(root_ + "/sys/class/dmi").ok());
  ASSERT_TRUE(core::removeAll(root_ + "/etc/os-release").ok());
  ASSERT_TRUE(core::removeAll(root_ + "/sys/devices").ok());
  write("/var/lib/dbus/machine-id", "dbusid\n");
  write("/proc/device-tree/system-id", std::string("IBM,02ABCDE\0", 12));
  write("/usr/lib/os-release", "NAME=Clear\nPRETTY_NAME='Clear Linux OS'\n");
  write("/proc/cpuinfo", "processor\t: 0\nmodel name\t: x\n\nprocessor\t: 1\nmodel name\t: x\n");
  auto o = opts();
  o.filesystemCapacity = [](const std::string&) -> absl::StatusOr<int64_t> {
    return absl::NotFoundError("statfs: no such file");
  };
  auto m = readMachineInfo(o);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->machineID, "dbusid");
  EXPECT_EQ(m->systemUUID, "IBM,02ABCDE");
  EXPECT_EQ(m->osImage, "Clear Linux OS");
  EXPECT_EQ(m->numCores, 2);
  EXPECT_FALSE(m->ephemeralStorageBytes.has_value());
}

TEST_F(FakeRoot, MissingIdsAreEmptyAndOsImageDefaultsToLinux) {
  write("/proc/meminfo", "MemTotal: 1024000 kB\n");
  write("/sys/devices/system/cpu/online", "0\n");
  write("/etc/os-release", "NAME=Something\n");
  auto m = readMachineInfo(opts());
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->machineID, "");
  EXPECT_EQ(m->systemUUID, "");
  EXPECT_EQ(m->bootID, "");
  EXPECT_EQ(m->osImage, "Linux");
  EXPECT_EQ(m->numCores, 1);
  EXPECT_TRUE(m->hugePages.empty());
}

TEST_F(FakeRoot, MemoryAndCpusAreRequired) {
  write("/sys/devices/system/cpu/online", "0-1\n");
  auto m = readMachineInfo(opts());
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find(root_ + "/proc/meminfo"), std::string::npos) << m.status();

  write("/proc/meminfo", "MemTotal: lots kB\n");
  m = readMachineInfo(opts());
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("MemTotal: bad value \"lots\""), std::string::npos)
      << m.status();

  write("/proc/meminfo", "MemTotal: 1000 kB\n");
  write("/sys/devices/system/cpu/online", "3-1\n");
  m = readMachineInfo(opts());
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("bad CPU list \"3-1\""), std::string::npos) << m.status();
}

TEST(CountCpuList, Forms) {
  EXPECT_EQ(countCpuList("0"), 1);
  EXPECT_EQ(countCpuList("0-3"), 4);
  EXPECT_EQ(countCpuList("0-3,8,10-11"), 7);
  EXPECT_EQ(countCpuList(""), std::nullopt);
  EXPECT_EQ(countCpuList("a-b"), std::nullopt);
  EXPECT_EQ(countCpuList("0-"), std::nullopt);
}

TEST(MachineInfoReal, ReadsThisMachine) {
  MachineInfoOptions o;
  o.rootDir = "/";
  auto m = readMachineInfo(o);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_GT(m->memoryCapacityBytes, 0);
  EXPECT_GT(m->numCores, 0);
  EXPECT_FALSE(m->kernelVersion.empty());
  ASSERT_TRUE(m->ephemeralStorageBytes.has_value());
  EXPECT_GT(*m->ephemeralStorageBytes, 0);
}

}  // namespace
}  // namespace agent::node
