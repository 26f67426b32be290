// Proves the integration-test fixture: the private containerd that
// integration_main starts answers on its socket, has our pause and busybox
// images under their names, runs containers from them, and keeps its state
// across restart().
#include <sys/stat.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/private_containerd.h"
#include "tests/support/run_command.h"

namespace cubelet::testing {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

// ctr against the private containerd, in the namespace the CRI plugin uses.
std::vector<std::string> ctr(std::vector<std::string> args) {
  std::vector<std::string> argv = {"ctr", "--address", containerd().socketPath(), "-n", "k8s.io"};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

// `ctr run` options shared by the tests: runc's state under the run directory,
// where stop looks, and no cgroup parent that would outlive the container.
std::vector<std::string> ctrRun(const std::string& image, const std::string& id,
                                std::vector<std::string> extra,
                                const std::vector<std::string>& command = {}) {
  std::vector<std::string> args = {"run", "--cgroup", "", "--runc-root",
                                   containerd().runDir() + "/runc"};
  args.insert(args.end(), extra.begin(), extra.end());
  args.push_back(image);
  args.push_back(id);
  args.insert(args.end(), command.begin(), command.end());
  return ctr(args);
}

std::vector<std::string> lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipWhitespace());
}

// The status column of `ctr tasks ls` for one task, or "" when it is not listed.
std::string taskStatus(const std::string& id) {
  absl::StatusOr<std::string> out = runCommandOk(ctr({"tasks", "ls"}));
  if (!out.ok()) return "";
  for (const std::string& line : lines(*out)) {
    std::vector<std::string> fields = absl::StrSplit(line, ' ', absl::SkipWhitespace());
    if (fields.size() >= 3 && fields[0] == id) return fields[2];
  }
  return "";
}

// Removes a container started by a test, whatever state it is in.
void removeContainer(const std::string& id) {
  (void)runCommand(ctr({"tasks", "kill", "--signal", "SIGKILL", id}));
  (void)runCommand(ctr({"tasks", "delete", "--force", id}));
  (void)runCommand(ctr({"containers", "delete", id}));
}

TEST(ContainerdFixture, AnswersOnItsSocket) {
  struct stat st;
  ASSERT_EQ(stat(containerd().socketPath().c_str(), &st), 0) << containerd().socketPath();
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(containerd().endpoint(), "unix://" + containerd().socketPath());

  absl::StatusOr<std::string> version =
      runCommandOk({"ctr", "--address", containerd().socketPath(), "version"});
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_THAT(*version, HasSubstr("Server:"));
}

TEST(ContainerdFixture, CriPluginIsLoaded) {
  absl::StatusOr<std::string> plugins =
      runCommandOk({"ctr", "--address", containerd().socketPath(), "plugins", "ls"});
  ASSERT_TRUE(plugins.ok()) << plugins.status();
  bool criOk = false;
  for (const std::string& line : lines(*plugins)) {
    std::vector<std::string> fields = absl::StrSplit(line, ' ', absl::SkipWhitespace());
    if (fields.size() >= 4 && fields[0] == "io.containerd.grpc.v1" && fields[1] == "cri") {
      criOk = fields.back() == "ok";
    }
  }
  EXPECT_TRUE(criOk) << *plugins;
}

TEST(ContainerdFixture, ImagesAreImportedUnderTheirNames) {
  absl::StatusOr<std::string> images = runCommandOk(ctr({"images", "ls", "-q"}));
  ASSERT_TRUE(images.ok()) << images.status();
  EXPECT_THAT(lines(*images), Contains(kPauseImage));
  EXPECT_THAT(lines(*images), Contains(kBusyboxImage));
}

TEST(ContainerdFixture, RunsBusybox) {
  absl::StatusOr<std::string> out = runCommandOk(ctrRun(
      kBusyboxImage, "fixture-echo", {"--rm"}, {"sh", "-c", "echo hello from $(basename $0)"}));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, "hello from sh\n");
}

TEST(ContainerdFixture, BusyboxHasTheAppletsTestsUse) {
  absl::StatusOr<std::string> out = runCommandOk(
      ctrRun(kBusyboxImage, "fixture-applets", {"--rm"},
             {"sh", "-c",
              "for a in sh sleep httpd wget nc echo cat; do [ -L /bin/$a ] || exit 1; done; "
              "which httpd; grep -c . /etc/passwd; echo $PATH"}));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(*out, HasSubstr("/bin/httpd\n"));
  EXPECT_THAT(*out,
              HasSubstr("\n2\n/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"));
}

// pause is PID 1 of its container and must end with status 0 on SIGTERM, which
// PID 1 only gets when it asks for it.
TEST(ContainerdFixture, PauseExitsZeroOnSigterm) {
  const std::string id = "fixture-pause";
  ASSERT_TRUE(runCommandOk(ctrRun(kPauseImage, id, {"--detach"})).ok());
  EXPECT_EQ(taskStatus(id), "RUNNING");

  ASSERT_TRUE(runCommandOk(ctr({"tasks", "kill", "--signal", "SIGTERM", id})).ok());
  std::string status;
  for (int i = 0; i < 100 && (status = taskStatus(id)) == "RUNNING"; ++i) usleep(50'000);
  EXPECT_EQ(status, "STOPPED");
  // `ctr tasks delete` exits with the task's exit status.
  absl::StatusOr<CommandResult> deleted = runCommand(ctr({"tasks", "delete", id}));
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(deleted->exitCode, 0) << deleted->output;
  removeContainer(id);
}

TEST(ContainerdFixture, RestartKeepsImagesAndRunningContainers) {
  const std::string id = "fixture-survivor";
  ASSERT_TRUE(runCommandOk(ctrRun(kBusyboxImage, id, {"--detach"}, {"sleep", "600"})).ok());
  ASSERT_EQ(taskStatus(id), "RUNNING");

  ASSERT_TRUE(containerd().restart().ok());

  absl::StatusOr<std::string> images = runCommandOk(ctr({"images", "ls", "-q"}));
  ASSERT_TRUE(images.ok()) << images.status();
  EXPECT_THAT(lines(*images), Contains(kPauseImage));
  EXPECT_THAT(lines(*images), Contains(kBusyboxImage));
  // The shim outlived containerd, and the new containerd found it again.
  EXPECT_EQ(taskStatus(id), "RUNNING");
  removeContainer(id);
  EXPECT_EQ(taskStatus(id), "");
}

}  // namespace
}  // namespace cubelet::testing
