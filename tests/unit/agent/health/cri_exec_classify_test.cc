// How an ExecSync answer becomes a probe result (the kubelet's exec prober).
#include <gtest/gtest.h>

#include "agent/health/cri_exec_runner.h"

namespace agent::health {
namespace {

::runtime::v1::ExecSyncResponse answer(int exitCode, std::string out, std::string err) {
  ::runtime::v1::ExecSyncResponse r;
  r.set_exit_code(exitCode);
  r.set_stdout(std::move(out));
  r.set_stderr(std::move(err));
  return r;
}

TEST(CriExecClassifyTest, ExitCodes) {
  std::vector<std::string> cmd{"cat", "/tmp/healthy"};
  auto ok = CriExecRunner::classify(answer(0, "fine\n", ""), cmd);
  EXPECT_EQ(ok.outcome, probes::Outcome::kSuccess);
  EXPECT_EQ(ok.output, "fine\n");
  auto bad = CriExecRunner::classify(
      answer(1, "", "cat: can't open '/tmp/healthy': No such file or directory\n"), cmd);
  EXPECT_EQ(bad.outcome, probes::Outcome::kFailure);
  EXPECT_EQ(bad.output, "cat: can't open '/tmp/healthy': No such file or directory\n");
}

TEST(CriExecClassifyTest, RuntimeErrors) {
  std::vector<std::string> cmd{"sleep", "10"};
  auto timeout = CriExecRunner::classify(absl::DeadlineExceededError("ExecSync: deadline"), cmd);
  EXPECT_EQ(timeout.outcome, probes::Outcome::kFailure);
  EXPECT_EQ(timeout.output, "command \"sleep 10\" timed out");
  auto gone = CriExecRunner::classify(absl::NotFoundError("container abc not found"), cmd);
  EXPECT_EQ(gone.outcome, probes::Outcome::kError);
  EXPECT_EQ(gone.output, "container abc not found");
}

}  // namespace
}  // namespace agent::health
