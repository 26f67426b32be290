// Termination messages as the kubelet reads them: the CRI log tail (partial
// lines joined, 80 lines, 2 KiB), the termination-log file (4 KiB tail), and
// when FallbackToLogsOnError reaches for the log.
#include "agent/runtime/termination_message.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/cubelet_process.h"

namespace agent::runtime {
namespace {

constexpr char kTs[] = "2024-05-06T07:08:09.123456789Z";

std::string line(const std::string& stream, const std::string& tag, const std::string& text) {
  return std::string(kTs) + " " + stream + " " + tag + " " + text + "\n";
}

void writeFile(const std::string& path, const std::string& content) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << content;
}

TEST(TailCriLogTest, Table) {
  struct Case {
    const char* name;
    std::string text;
    std::string want;
  };
  std::vector<Case> cases = {
      {"empty", "", ""},
      {"full lines of both streams", line("stdout", "F", "hello") + line("stderr", "F", "world"),
       "hello\nworld\n"},
      {"partial lines are joined",
       line("stdout", "P", "abc") + line("stdout", "P", "def") + line("stdout", "F", "ghi"),
       "abcdefghi\n"},
      {"malformed lines are skipped",
       "garbage\n" + line("stdout", "F", "ok") + std::string(kTs) + " stdin F no\n" +
           "2024-05-06T07:08:09Z stdout\n",
       "ok\n"},
      {"tags after a colon are ignored", line("stderr", "F:x", "tagged"), "tagged\n"},
      {"text keeps its spaces", line("stdout", "F", " two  spaces "), " two  spaces \n"},
      {"unterminated last line is read",
       line("stdout", "F", "a") + std::string(kTs) + " stdout F b", "a\nb"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(tailCriLog(c.text, kMaxTerminationMessageLogLines, kMaxTerminationMessageLogLength),
              c.want)
        << c.name;
  }
}

TEST(TailCriLogTest, KeepsTheLast80Lines) {
  std::string text, want;
  for (int i = 0; i < 100; ++i) {
    text += line("stdout", "F", std::to_string(i));
    if (i >= 20) want += std::to_string(i) + "\n";
  }
  EXPECT_EQ(tailCriLog(text, 80, 2048), want);
  // An unterminated last line is read on top of the 80 complete ones.
  EXPECT_EQ(tailCriLog(text + std::string(kTs) + " stdout F tail", 80, 2048), want + "tail");
  // Partial lines count as lines of the file.
  EXPECT_EQ(tailCriLog(line("stdout", "P", "a") + line("stdout", "F", "b"), 1, 2048), "b\n");
}

TEST(TailCriLogTest, KeepsTheLast2048Bytes) {
  std::string text, all;
  for (int i = 0; i < 10; ++i) {
    std::string body = std::to_string(i) + std::string(299, 'x');
    text += line("stderr", "F", body);
    all += body + "\n";
  }
  std::string got = tailCriLog(text, 80, 2048);
  EXPECT_EQ(got.size(), 2048u);
  EXPECT_EQ(got, all.substr(all.size() - 2048));
}

TEST(ReadLastStringFromContainerLogsTest, ReadsTheEndOfALargeFile) {
  std::string dir = cubelet::testing::makeTempDir("tmsg");
  std::string text;
  for (int i = 0; i < 3000; ++i) text += line("stdout", "F", "line " + std::to_string(i));
  writeFile(dir + "/0.log", text);
  std::string got = readLastStringFromContainerLogs(dir + "/0.log");
  EXPECT_EQ(got, tailCriLog(text, 80, 2048));
  EXPECT_NE(got.find("line 2999\n"), std::string::npos);
  EXPECT_EQ(got.find("line 2919\n"), std::string::npos);
}

TEST(ReadLastStringFromContainerLogsTest, MissingFile) {
  EXPECT_EQ(readLastStringFromContainerLogs("/nonexistent/0.log"),
            "Error on reading termination message from logs: failed to open log file "
            "\"/nonexistent/0.log\": open /nonexistent/0.log: no such file or directory");
}

class TerminatedContainerMessageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = cubelet::testing::makeTempDir("tmsg");
    auto* m = status_.add_mounts();
    m->set_container_path("/dev/termination-log");
    m->set_host_path(dir_ + "/termination");
    status_.set_log_path(dir_ + "/0.log");
    status_.set_exit_code(1);
    status_.set_reason("Error");
    writeFile(dir_ + "/0.log", line("stdout", "F", "from the log"));
  }
  std::string message(const std::string& policy = "FallbackToLogsOnError") {
    return terminatedContainerMessage(status_, "/dev/termination-log", policy);
  }

  std::string dir_;
  ::runtime::v1::ContainerStatus status_;
};

TEST_F(TerminatedContainerMessageTest, FileWins) {
  writeFile(dir_ + "/termination", "written by the app");
  EXPECT_EQ(message(), "written by the app");
  EXPECT_EQ(message("File"), "written by the app");
  status_.set_message("runtime says");
  EXPECT_EQ(message(), "runtime says: written by the app");
}

TEST_F(TerminatedContainerMessageTest, FileIsReadFromItsEnd) {
  writeFile(dir_ + "/termination", std::string(100, 'a') + std::string(4096, 'b'));
  EXPECT_EQ(message(), std::string(4096, 'b'));
}

TEST_F(TerminatedContainerMessageTest, FallbackToLogsOnlyWhenItApplies) {
  writeFile(dir_ + "/termination", "");
  EXPECT_EQ(message(), "from the log\n");
  EXPECT_EQ(message("File"), "");
  status_.set_exit_code(0);
  EXPECT_EQ(message(), "");
  status_.set_exit_code(128);
  status_.set_reason("ContainerCannotRun");
  status_.set_message("exec: not found");
  EXPECT_EQ(message(), "exec: not found");
}

TEST_F(TerminatedContainerMessageTest, MissingFileFallsBackToLogs) {
  EXPECT_EQ(message(), "from the log\n");
  EXPECT_EQ(message("File"), "");
}

TEST_F(TerminatedContainerMessageTest, NoMountNoMessage) {
  writeFile(dir_ + "/termination", "unused");
  EXPECT_EQ(terminatedContainerMessage(status_, "/other/path", "File"), "");
  EXPECT_EQ(terminatedContainerMessage(status_, "", "File"), "");
  EXPECT_EQ(terminatedContainerMessage(status_, "", "FallbackToLogsOnError"), "from the log\n");
}

}  // namespace
}  // namespace agent::runtime
