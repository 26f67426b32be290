#include "agent/logs/log_tail.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace agent::logs {
namespace {

class TailScannerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cubelet-logtail-XXXXXX";
    fd_ = ::mkstemp(tmpl);
    ASSERT_GE(fd_, 0);
    ::unlink(tmpl);
  }
  void TearDown() override { ::close(fd_); }

  void write(const std::string& s) {
    ASSERT_EQ(::pwrite(fd_, s.data(), s.size(), size_), static_cast<ssize_t>(s.size()));
    size_ += static_cast<off_t>(s.size());
  }

  // Returns the tail's start and the number of blocks read.
  std::pair<off_t, int> scan(int64_t lines, size_t block) {
    TailScanner t(fd_, size_, lines, block);
    int steps = 0;
    while (!t.done()) {
      auto r = t.step();
      EXPECT_TRUE(r.ok()) << r.status();
      if (!r.ok()) break;
      ++steps;
    }
    return {t.start(), steps};
  }

  std::string from(off_t off) {
    std::string s(static_cast<size_t>(size_ - off), '\0');
    EXPECT_EQ(::pread(fd_, s.data(), s.size(), off), static_cast<ssize_t>(s.size()));
    return s;
  }

  int fd_ = -1;
  off_t size_ = 0;
};

TEST_F(TailScannerTest, CountsLinesNotPartialRecords) {
  write("2016-10-06T00:00:01Z stdout F one\n");
  write("2016-10-06T00:00:02Z stdout P tw\n");
  write("2016-10-06T00:00:03Z stdout F o\n");
  write("2016-10-06T00:00:04Z stderr F three\n");
  for (size_t block : {size_t{7}, size_t{64 * 1024}}) {
    EXPECT_EQ(from(scan(1, block).first), "2016-10-06T00:00:04Z stderr F three\n");
    EXPECT_EQ(from(scan(2, block).first),
              "2016-10-06T00:00:02Z stdout P tw\n2016-10-06T00:00:03Z stdout F o\n"
              "2016-10-06T00:00:04Z stderr F three\n");
    EXPECT_EQ(scan(3, block).first, 0);
    EXPECT_EQ(scan(100, block).first, 0);
    EXPECT_EQ(scan(0, block).first, size_);
  }
}

TEST_F(TailScannerTest, TrailingPartialRunCountsAsALine) {
  write("2016-10-06T00:00:01Z stdout F one\n");
  write("2016-10-06T00:00:02Z stdout P still writing\n");
  EXPECT_EQ(from(scan(1, 16).first), "2016-10-06T00:00:02Z stdout P still writing\n");
  EXPECT_EQ(scan(2, 16).first, 0);
}

TEST_F(TailScannerTest, TailOfABigFileReadsOnlyTheEnd) {
  std::string block;
  for (int i = 0; i < 1000; ++i) {
    absl::StrAppend(&block, "2016-10-06T00:00:01.123456789Z stdout F line ", i,
                    " padding padding padding padding padding\n");
  }
  while (size_ < 10 * 1024 * 1024) write(block);
  auto [start, steps] = scan(10, 64 * 1024);
  EXPECT_EQ(steps, 1);  // one 64 KiB block holds the last 10 lines
  std::string tail = from(start);
  EXPECT_EQ(std::count(tail.begin(), tail.end(), '\n'), 10);
  EXPECT_EQ(tail.substr(0, 46), "2016-10-06T00:00:01.123456789Z stdout F line 9");
  EXPECT_NE(tail.find("line 990 "), std::string::npos);
}

}  // namespace
}  // namespace agent::logs
