#include "agent/logs/container_log_rotation.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <mutex>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "core/sd_event_loop.h"
#include "core/worker_pool.h"
#include "gtest/gtest.h"

namespace agent::logs {
namespace {

using std::chrono_literals::operator""ms;
using std::chrono_literals::operator""s;

// Only ReopenContainerLog is used: it records the call and, as containerd does,
// creates the log file anew. Everything else is unimplemented.
class ReopenOnlyRuntime : public cri::RuntimeService {
 public:
  explicit ReopenOnlyRuntime(std::map<std::string, std::string> logPaths)
      : logPaths_(std::move(logPaths)) {}

  absl::Status reopenContainerLog(const std::string& id) override {
    std::lock_guard lock(mu_);
    reopens.push_back(id);
    if (fail) return absl::FailedPreconditionError("container is not running");
    int fd = ::open(logPaths_.at(id).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) return absl::InternalError("reopen");
    ::close(fd);
    return absl::OkStatus();
  }

  std::vector<std::string> reopenCalls() {
    std::lock_guard lock(mu_);
    return reopens;
  }

  std::mutex mu_;
  std::vector<std::string> reopens;
  bool fail = false;

#define UNIMPLEMENTED \
  { return absl::UnimplementedError("fake"); }
  absl::StatusOr<runtime::v1::VersionResponse> version() override UNIMPLEMENTED;
  absl::StatusOr<runtime::v1::StatusResponse> status(bool) override UNIMPLEMENTED;
  absl::StatusOr<std::string> runPodSandbox(const runtime::v1::PodSandboxConfig&,
                                            const std::string&) override UNIMPLEMENTED;
  absl::Status stopPodSandbox(const std::string&) override UNIMPLEMENTED;
  absl::Status removePodSandbox(const std::string&) override UNIMPLEMENTED;
  absl::StatusOr<runtime::v1::PodSandboxStatusResponse> podSandboxStatus(
      const std::string&, bool) override UNIMPLEMENTED;
  absl::StatusOr<std::vector<runtime::v1::PodSandbox>> listPodSandbox(
      const runtime::v1::PodSandboxFilter&) override UNIMPLEMENTED;
  absl::StatusOr<std::string> createContainer(
      const std::string&, const runtime::v1::ContainerConfig&,
      const runtime::v1::PodSandboxConfig&) override UNIMPLEMENTED;
  absl::Status startContainer(const std::string&) override UNIMPLEMENTED;
  absl::Status stopContainer(const std::string&, int64_t) override UNIMPLEMENTED;
  absl::Status removeContainer(const std::string&) override UNIMPLEMENTED;
  absl::StatusOr<std::vector<runtime::v1::Container>> listContainers(
      const runtime::v1::ContainerFilter&) override UNIMPLEMENTED;
  absl::StatusOr<runtime::v1::ContainerStatusResponse> containerStatus(const std::string&,
                                                                       bool) override UNIMPLEMENTED;
  absl::Status updateContainerResources(
      const std::string&, const runtime::v1::LinuxContainerResources&) override UNIMPLEMENTED;
  absl::StatusOr<runtime::v1::ExecSyncResponse> execSync(const std::string&,
                                                         const std::vector<std::string>&,
                                                         int64_t) override UNIMPLEMENTED;
  absl::StatusOr<std::string> exec(const runtime::v1::ExecRequest&) override UNIMPLEMENTED;
  absl::StatusOr<std::string> attach(const runtime::v1::AttachRequest&) override UNIMPLEMENTED;
  absl::StatusOr<std::string> portForward(const runtime::v1::PortForwardRequest&) override
      UNIMPLEMENTED;
  absl::StatusOr<runtime::v1::ContainerStats> containerStats(const std::string&) override
      UNIMPLEMENTED;
  absl::StatusOr<std::vector<runtime::v1::ContainerStats>> listContainerStats(
      const runtime::v1::ContainerStatsFilter&) override UNIMPLEMENTED;
  absl::StatusOr<runtime::v1::PodSandboxStats> podSandboxStats(const std::string&) override
      UNIMPLEMENTED;
  absl::StatusOr<std::vector<runtime::v1::PodSandboxStats>> listPodSandboxStats(
      const runtime::v1::PodSandboxStatsFilter&) override UNIMPLEMENTED;
  absl::Status updateRuntimeConfig(const std::string&) override UNIMPLEMENTED;
#undef UNIMPLEMENTED

 private:
  std::map<std::string, std::string> logPaths_;
};

std::vector<std::string> listDir(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') out.push_back(e->d_name);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

std::string readFile(const std::string& path) {
  std::string s;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "<missing>";
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) s.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return s;
}

std::string gunzip(const std::string& path) {
  gzFile gz = ::gzopen(path.c_str(), "rb");
  if (gz == nullptr) return "<not gzip>";
  std::string s;
  char buf[4096];
  int n;
  while ((n = ::gzread(gz, buf, sizeof buf)) > 0) s.append(buf, static_cast<size_t>(n));
  ::gzclose(gz);
  return s;
}

class ContainerLogRotationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cubelet-logrotate-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    log_ = dir_ + "/0.log";
    auto loop = core::SdEventLoop::create();
    ASSERT_TRUE(loop.ok()) << loop.status();
    loop_ = std::move(*loop);
    runtime_ =
        std::make_unique<ReopenOnlyRuntime>(std::map<std::string, std::string>{{"c1", log_}});
    pool_ = std::make_unique<core::ThreadWorkerPool>(1);
  }
  void TearDown() override {
    pool_.reset();
    loop_.reset();
    EXPECT_TRUE(core::removeAll(dir_).ok());
  }

  void write(const std::string& path, const std::string& data) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
    ::close(fd);
  }

  // One pass of a manager, run to completion on the loop.
  void pass(ContainerLogManager& m) {
    bool done = false;
    m.rotateNow([&] {
      done = true;
      loop_->exit();
    });
    core::TimerPtr guard = loop_->createTimer([&] { loop_->exit(); });
    guard->enableTimer(10s);
    ASSERT_TRUE(loop_->run().ok());
    ASSERT_TRUE(done) << "rotation pass did not finish";
  }

  std::unique_ptr<ContainerLogManager> manager(ContainerLogPolicy policy) {
    return std::make_unique<ContainerLogManager>(*loop_, *pool_, *runtime_, policy, [this] {
      return std::vector<RunningContainerLog>{{"c1", log_}};
    });
  }

  std::string dir_;
  std::string log_;
  std::unique_ptr<core::SdEventLoop> loop_;
  std::unique_ptr<ReopenOnlyRuntime> runtime_;
  std::unique_ptr<core::ThreadWorkerPool> pool_;
};

TEST_F(ContainerLogRotationTest, SmallFileIsLeftAlone) {
  write(log_, "small\n");
  auto m = manager({.maxSizeBytes = 100, .maxFiles = 5});
  pass(*m);
  EXPECT_EQ(listDir(dir_), std::vector<std::string>{"0.log"});
  EXPECT_TRUE(runtime_->reopenCalls().empty());
}

TEST_F(ContainerLogRotationTest, RenamesReopensAndKeepsTheNewestRotatedPlain) {
  write(log_, std::string(100, 'a'));
  auto m = manager({.maxSizeBytes = 100, .maxFiles = 5});
  pass(*m);
  EXPECT_EQ(runtime_->reopenCalls(), std::vector<std::string>{"c1"});
  auto files = listDir(dir_);
  ASSERT_EQ(files.size(), 2u) << ::testing::PrintToString(files);
  EXPECT_EQ(files[0], "0.log");
  ASSERT_TRUE(files[1].rfind("0.log.", 0) == 0);
  // <log>.YYYYMMDD-HHMMSS
  std::string ts = files[1].substr(6);
  ASSERT_EQ(ts.size(), 15u) << ts;
  EXPECT_EQ(ts[8], '-');
  EXPECT_EQ(readFile(dir_ + "/" + files[1]), std::string(100, 'a'));
  EXPECT_EQ(readFile(log_), "");  // the runtime's new file
}

TEST_F(ContainerLogRotationTest, CompressesOlderFilesAndKeepsAtMostMaxFiles) {
  // Rotated files from earlier rounds, plus debris of an interrupted one.
  write(log_ + ".20200101-000001.gz", "x");
  write(log_ + ".20200101-000002.gz", "x");
  write(log_ + ".20200101-000003", "third\n");
  write(log_ + ".20200101-000003.gz", "x");  // compressed but original not removed
  write(log_ + ".20200101-000004", "fourth\n");
  write(log_ + ".20200101-000004.tmp", "half-written gzip");
  write(log_, std::string(200, 'b'));
  auto m = manager({.maxSizeBytes = 100, .maxFiles = 4});
  pass(*m);
  auto files = listDir(dir_);
  // maxFiles 4: the live file, the one just rotated (plain), and two older ones,
  // compressed.
  ASSERT_EQ(files.size(), 4u) << ::testing::PrintToString(files);
  EXPECT_EQ(files[0], "0.log");
  EXPECT_EQ(files[1], "0.log.20200101-000003.gz");
  EXPECT_EQ(files[2], "0.log.20200101-000004.gz");
  EXPECT_EQ(gunzip(dir_ + "/0.log.20200101-000004.gz"), "fourth\n");
  EXPECT_EQ(readFile(dir_ + "/" + files[3]), std::string(200, 'b'));
  EXPECT_EQ(files[3].find(".gz"), std::string::npos);
  EXPECT_EQ(runtime_->reopenCalls().size(), 1u);
}

TEST_F(ContainerLogRotationTest, FailedReopenPutsTheFileBack) {
  write(log_, std::string(150, 'c'));
  runtime_->fail = true;
  auto m = manager({.maxSizeBytes = 100, .maxFiles = 5});
  pass(*m);
  EXPECT_EQ(runtime_->reopenCalls().size(), 1u);
  EXPECT_EQ(listDir(dir_), std::vector<std::string>{"0.log"});
  EXPECT_EQ(readFile(log_), std::string(150, 'c'));
  // Next round it works.
  runtime_->fail = false;
  pass(*m);
  EXPECT_EQ(listDir(dir_).size(), 2u);
}

TEST_F(ContainerLogRotationTest, MissingLogOfARunningContainerIsReopened) {
  auto m = manager({.maxSizeBytes = 100, .maxFiles = 5});
  pass(*m);
  EXPECT_EQ(runtime_->reopenCalls(), std::vector<std::string>{"c1"});
  EXPECT_EQ(listDir(dir_), std::vector<std::string>{"0.log"});
}

TEST_F(ContainerLogRotationTest, PeriodicPassesRotate) {
  write(log_, std::string(150, 'd'));
  ContainerLogManager m(
      *loop_, *pool_, *runtime_, {.maxSizeBytes = 100, .maxFiles = 5},
      [this] {
        return std::vector<RunningContainerLog>{{"c1", log_}};
      },
      50ms);
  m.start();
  core::TimerPtr check;
  check = loop_->createTimer([&] {
    if (!runtime_->reopenCalls().empty() && listDir(dir_).size() == 2) {
      loop_->exit();
    } else {
      check->enableTimer(10ms);
    }
  });
  check->enableTimer(10ms);
  core::TimerPtr guard = loop_->createTimer([&] { loop_->exit(); });
  guard->enableTimer(5s);
  ASSERT_TRUE(loop_->run().ok());
  EXPECT_EQ(listDir(dir_).size(), 2u);
}

}  // namespace
}  // namespace agent::logs
