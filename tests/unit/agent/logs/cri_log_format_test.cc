#include "agent/logs/cri_log_format.h"

#include <string>

#include "gtest/gtest.h"

namespace agent::logs {
namespace {

TEST(CriLogFormatTest, ParsesFullAndPartialRecords) {
  auto r = parseCriLogLine("2016-10-06T00:17:09.669794202Z stdout F log content 1");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stream, LogStream::kStdout);
  EXPECT_FALSE(r->partial);
  EXPECT_EQ(r->content, "log content 1");
  EXPECT_EQ(r->utcOffsetSeconds, 0);
  EXPECT_EQ(absl::ToUnixNanos(r->time), 1475713029669794202LL);

  r = parseCriLogLine("2016-10-06T00:17:09.669794203Z stderr P part");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stream, LogStream::kStderr);
  EXPECT_TRUE(r->partial);
  EXPECT_EQ(r->content, "part");

  // Tags are ':'-separated for forward compatibility; content keeps its spaces.
  r = parseCriLogLine("2016-10-06T00:17:09Z stdout P:x  two  spaces ");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->partial);
  EXPECT_EQ(r->content, " two  spaces ");
  // An empty line.
  r = parseCriLogLine("2016-10-06T00:17:09Z stdout F ");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->content, "");
}

TEST(CriLogFormatTest, ParsesOffsetsAndShortFractions) {
  auto r = parseCriLogLine("2016-10-06T02:17:09.5+02:00 stdout F x");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->utcOffsetSeconds, 7200);
  EXPECT_EQ(absl::ToUnixNanos(r->time), 1475713029500000000LL);
  EXPECT_EQ(formatRfc3339NanoFixed(r->time, r->utcOffsetSeconds),
            "2016-10-06T02:17:09.500000000+02:00");
  EXPECT_EQ(formatRfc3339NanoFixed(r->time), "2016-10-06T00:17:09.500000000Z");
}

TEST(CriLogFormatTest, RejectsMalformedLinesNamingWhatIsWrong) {
  EXPECT_EQ(parseCriLogLine("garbage").status().message(), "timestamp is not found");
  EXPECT_EQ(parseCriLogLine("notatime stdout F x").status().message(),
            "unexpected timestamp format \"notatime\"");
  EXPECT_EQ(parseCriLogLine("2016-10-06T00:17:09Z").status().message(), "timestamp is not found");
  EXPECT_EQ(parseCriLogLine("2016-10-06T00:17:09Z stdout").status().message(),
            "stream type is not found");
  EXPECT_EQ(parseCriLogLine("2016-10-06T00:17:09Z stdin F x").status().message(),
            "unexpected stream type \"stdin\"");
  EXPECT_EQ(parseCriLogLine("2016-10-06T00:17:09Z stdout F").status().message(),
            "log tag is not found");
  EXPECT_FALSE(parseCriLogLine("2016-13-06T00:17:09Z stdout F x").ok());
  EXPECT_FALSE(parseCriLogLine("2016-02-30T00:17:09Z stdout F x").ok());
  EXPECT_FALSE(parseCriLogLine("2016-10-06 00:17:09Z stdout F x").ok());
  EXPECT_FALSE(parseCriLogLine("2016-10-06T00:17:09 stdout F x").ok());
}

std::string render(LogRenderer& r, std::initializer_list<const char*> lines) {
  std::string out;
  for (const char* l : lines) r.add(l, out);
  return out;
}

TEST(LogRendererTest, JoinsPartialRecordsIntoOneLineWithBothStreams) {
  LogRenderer r(std::nullopt, false, std::nullopt);
  EXPECT_EQ(render(r, {"2016-10-06T00:00:01Z stdout P hel", "2016-10-06T00:00:02Z stdout P lo ",
                       "2016-10-06T00:00:03Z stdout F world", "2016-10-06T00:00:04Z stderr F oops",
                       "this line is broken", "2016-10-06T00:00:05Z stdout F "}),
            "hello world\noops\n\n");
  EXPECT_EQ(r.malformed(), 1);
}

TEST(LogRendererTest, TimestampsPrefixEachLineOnceWithTheFirstPiecesTime) {
  LogRenderer r(std::nullopt, true, std::nullopt);
  EXPECT_EQ(render(r, {"2016-10-06T00:00:01.5Z stdout P a", "2016-10-06T00:00:02Z stdout F b",
                       "2016-10-06T00:00:03Z stderr F c"}),
            "2016-10-06T00:00:01.500000000Z ab\n2016-10-06T00:00:03.000000000Z c\n");
}

TEST(LogRendererTest, SinceDropsOlderLinesByTheirFirstRecord) {
  auto since = parseRfc3339Nano("2016-10-06T00:00:02Z");
  ASSERT_TRUE(since);
  LogRenderer r(since->first, false, std::nullopt);
  EXPECT_EQ(render(r, {"2016-10-06T00:00:01Z stdout F old", "2016-10-06T00:00:01Z stdout P x",
                       "2016-10-06T00:00:03Z stdout F y", "2016-10-06T00:00:02Z stdout F equal",
                       "2016-10-06T00:00:04Z stderr F new"}),
            "equal\nnew\n");
}

TEST(LogRendererTest, LimitBytesCutsExactly) {
  LogRenderer r(std::nullopt, false, 7);
  std::string out;
  EXPECT_TRUE(r.add("2016-10-06T00:00:01Z stdout F abcd", out));  // 5 bytes
  EXPECT_FALSE(r.add("2016-10-06T00:00:02Z stdout F efgh", out));
  EXPECT_TRUE(r.limitReached());
  EXPECT_FALSE(r.add("2016-10-06T00:00:03Z stdout F more", out));
  EXPECT_EQ(out, "abcd\nef");

  LogRenderer withTs(std::nullopt, true, 10);
  out.clear();
  withTs.add("2016-10-06T00:00:01Z stdout F abcd", out);
  EXPECT_EQ(out, "2016-10-06");
}

}  // namespace
}  // namespace agent::logs
