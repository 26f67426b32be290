// Localhost seccomp profiles checked with libseccomp before the container is
// created: good profiles (runtime-default-like, with args, architectures) pass;
// broken ones fail with a message naming the file and the field at fault.
#include "agent/runtime/seccomp_profile.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

namespace agent::runtime {
namespace {

using ::testing::HasSubstr;

absl::Status check(const std::string& json) { return checkSeccompProfileJson(json); }

TEST(SeccompProfileTest, GoodProfilesPass) {
  EXPECT_TRUE(check(R"({"defaultAction": "SCMP_ACT_ALLOW"})").ok());
  absl::Status s = check(R"({
    "defaultAction": "SCMP_ACT_ERRNO",
    "defaultErrnoRet": 1,
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "archMap": [{"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
    "flags": ["SECCOMP_FILTER_FLAG_LOG"],
    "syscalls": [
      {"names": ["read", "write", "exit_group", "futex"], "action": "SCMP_ACT_ALLOW"},
      {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
      {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
       "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
      {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
       "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"},
                {"index": 0, "value": 4294967295, "op": "SCMP_CMP_EQ"}]},
      {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
       "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
      {"name": "kill", "action": "SCMP_ACT_LOG"},
      {"names": ["ptrace"], "action": "SCMP_ACT_KILL_PROCESS"},
      {"names": ["reboot"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}
    ]})");
  EXPECT_TRUE(s.ok()) << s;
}

TEST(SeccompProfileTest, UnknownButWellFormedSyscallIsIgnoredAsTheRuntimeDoes) {
  // runc skips calls its libseccomp does not know (a profile for a newer kernel).
  absl::Status s = check(R"({"defaultAction": "SCMP_ACT_ERRNO",
    "syscalls": [{"names": ["read", "some_future_syscall_xyz"], "action": "SCMP_ACT_ALLOW"}]})");
  EXPECT_TRUE(s.ok()) << s;
}

TEST(SeccompProfileTest, BrokenProfilesNameTheField) {
  struct Case {
    const char* json;
    const char* want;
  } cases[] = {
      {"not json", "not valid JSON"},
      {"[1, 2]", "not a JSON object"},
      {R"({"syscalls": []})", "defaultAction: missing"},
      {R"({"defaultAction": 3})", "defaultAction: expected a string"},
      {R"({"defaultAction": "SCMP_ACT_FOO"})", "defaultAction: unknown action \"SCMP_ACT_FOO\""},
      {R"({"defaultAction": "SCMP_ACT_NOTIFY"})", "defaultAction: SCMP_ACT_NOTIFY cannot"},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_Z80"]})",
       "architectures[0]: unknown architecture \"SCMP_ARCH_Z80\""},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_NOPE"]})",
       "flags[0]: unknown flag"},
      {R"({"defaultAction": "SCMP_ACT_ALLOW",
           "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO"},
                        {"names": ["write"], "action": "SCMP_ACT_DENY"}]})",
       "syscalls[1].action: unknown action \"SCMP_ACT_DENY\""},
      {R"({"defaultAction": "SCMP_ACT_ALLOW",
           "syscalls": [{"names": ["read", "MKDIR"], "action": "SCMP_ACT_ERRNO"}]})",
       "syscalls[0].names[1]: invalid system call name \"MKDIR\""},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [""], "action": "SCMP_ACT_ERRNO"}]})",
       "syscalls[0].names[0]: invalid system call name \"\""},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"]}]})",
       "syscalls[0].action: missing"},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"action": "SCMP_ACT_ERRNO"}]})",
       "syscalls[0].names: no system call named"},
      {R"({"defaultAction": "SCMP_ACT_ALLOW",
           "syscalls": [{"name": "read", "names": ["write"], "action": "SCMP_ACT_ERRNO"}]})",
       "syscalls[0]: both \"name\" and \"names\""},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"],
           "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]})",
       "syscalls[0].args[0].index: 6 is out of range"},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"],
           "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ABOUT"}]}]})",
       "syscalls[0].args[0].op: unknown operator \"SCMP_CMP_ABOUT\""},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"],
           "action": "SCMP_ACT_ERRNO", "errnoRet": -1}]})",
       "syscalls[0].errnoRet: expected a non-negative integer"},
  };
  for (const auto& c : cases) {
    absl::Status s = check(c.json);
    EXPECT_FALSE(s.ok()) << c.json;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.want)) << c.json;
  }
}

class SeccompProfileFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/seccomp_profile_test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  std::string write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  std::string dir_;
};

TEST_F(SeccompProfileFileTest, MessagesNameTheFile) {
  std::string good = write("good.json", R"({"defaultAction": "SCMP_ACT_ALLOW"})");
  EXPECT_TRUE(checkSeccompProfileFile(good).ok());

  std::string bad = write("bad.json", R"({"defaultAction": "SCMP_ACT_ALLOW",
      "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_BOGUS"}]})");
  absl::Status s = checkSeccompProfileFile(bad);
  EXPECT_EQ(s.message(), bad + ": syscalls[0].action: unknown action \"SCMP_ACT_BOGUS\"");

  s = checkSeccompProfileFile(dir_ + "/missing.json");
  EXPECT_EQ(s.message(), dir_ + "/missing.json: not found");

  s = checkSeccompProfileFile(dir_);
  EXPECT_EQ(s.message(), dir_ + ": not a regular file");

  std::string notJson = write("notjson.json", "{\"defaultAction\": ");
  s = checkSeccompProfileFile(notJson);
  EXPECT_THAT(std::string(s.message()), HasSubstr(notJson + ": not valid JSON"));
}

}  // namespace
}  // namespace agent::runtime
