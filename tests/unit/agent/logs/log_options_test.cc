#include "agent/logs/log_options.h"

#include "gtest/gtest.h"

namespace agent::logs {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1700000000);

absl::StatusOr<LogOptions> parse(std::map<std::string, std::string> query) {
  server::HttpRequest req;
  req.method = "GET";
  req.path = "/containerLogs/ns/pod/c";
  req.query = std::move(query);
  return parseLogOptions(req, kNow);
}

TEST(LogOptionsTest, DefaultsWhenNothingIsGiven) {
  auto o = parse({});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_FALSE(o->follow);
  EXPECT_FALSE(o->previous);
  EXPECT_FALSE(o->timestamps);
  EXPECT_FALSE(o->tailLines);
  EXPECT_FALSE(o->limitBytes);
  EXPECT_FALSE(o->since);
}

TEST(LogOptionsTest, BooleansFollowTheApiserverQueryRules) {
  auto o = parse({{"follow", ""}, {"previous", "TRUE"}, {"timestamps", "yes"}});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->follow);
  EXPECT_TRUE(o->previous);
  EXPECT_TRUE(o->timestamps);
  o = parse({{"follow", "0"}, {"previous", "False"}, {"timestamps", "false"}});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_FALSE(o->follow);
  EXPECT_FALSE(o->previous);
  EXPECT_FALSE(o->timestamps);
}

TEST(LogOptionsTest, IntegersAndTimes) {
  auto o = parse({{"tailLines", "10"}, {"limitBytes", "+5"}, {"sinceSeconds", "60"}});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->tailLines, 10);
  EXPECT_EQ(o->limitBytes, 5);
  EXPECT_EQ(o->since, kNow - absl::Seconds(60));

  o = parse({{"sinceTime", "2023-11-14T22:13:20+01:00"}});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->since, absl::FromUnixSeconds(1700000000 - 3600));
  // An empty sinceTime is the zero time: no filter.
  o = parse({{"sinceTime", ""}});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_FALSE(o->since);
  // tailLines=0 is allowed.
  o = parse({{"tailLines", "0"}});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->tailLines, 0);
}

TEST(LogOptionsTest, LegacyTailParameter) {
  auto o = parse({{"tail", "3"}, {"tailLines", "7"}});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->tailLines, 3);
  o = parse({{"tail", "all"}, {"tailLines", "7"}});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_FALSE(o->tailLines);
}

TEST(LogOptionsTest, UndecodableValuesAre400NamingTheParameter) {
  for (auto [key, value] :
       std::vector<std::pair<std::string, std::string>>{{"tailLines", "ten"},
                                                        {"tailLines", ""},
                                                        {"limitBytes", "1.5"},
                                                        {"sinceSeconds", " 5"},
                                                        {"sinceTime", "yesterday"},
                                                        {"tailLines", "99999999999999999999"}}) {
    auto o = parse({{key, value}});
    ASSERT_FALSE(o.ok()) << key << "=" << value;
    EXPECT_EQ(logOptionsErrorHttpStatus(o.status()), 400);
    EXPECT_NE(o.status().message().find("query parameter \"" + key + "\""), std::string::npos)
        << o.status();
  }
  EXPECT_EQ(parse({{"tailLines", "ten"}}).status().message(),
            "query parameter \"tailLines\": \"ten\" is not an integer");
}

TEST(LogOptionsTest, InvalidValuesAre422NamingTheParameter) {
  auto o = parse({{"tailLines", "-1"}});
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(logOptionsErrorHttpStatus(o.status()), 422);
  EXPECT_EQ(o.status().message(),
            "query parameter \"tailLines\": invalid value -1: must be greater than or equal to 0");

  o = parse({{"limitBytes", "0"}});
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(logOptionsErrorHttpStatus(o.status()), 422);
  EXPECT_EQ(o.status().message(),
            "query parameter \"limitBytes\": invalid value 0: must be greater than 0");

  o = parse({{"sinceSeconds", "0"}});
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(logOptionsErrorHttpStatus(o.status()), 422);
  EXPECT_EQ(o.status().message(),
            "query parameter \"sinceSeconds\": invalid value 0: must be greater than 0");

  o = parse({{"sinceSeconds", "10"}, {"sinceTime", "2023-11-14T22:13:20Z"}});
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(logOptionsErrorHttpStatus(o.status()), 422);
  EXPECT_NE(o.status().message().find("\"sinceTime\" and \"sinceSeconds\""), std::string::npos);
  EXPECT_NE(o.status().message().find("at most one of `sinceTime` or `sinceSeconds`"),
            std::string::npos);
}

}  // namespace
}  // namespace agent::logs
