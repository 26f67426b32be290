#include "core/go_quote.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace core {
namespace {

TEST(GoQuoteTest, Table) {
  std::vector<std::pair<std::string, std::string>> cases = {
      {"", R"("")"},
      {"plain", R"("plain")"},
      {"a\"b\\c", R"("a\"b\\c")"},
      {"l1\nl2\t\r", R"("l1\nl2\t\r")"},
      {std::string("\x01\x7f", 2), R"("\x01\x7f")"},
      {"héllo", "\"héllo\""},
      {"\xff", R"("\xff")"},
  };
  for (const auto& [in, want] : cases) EXPECT_EQ(goQuote(in), want) << in;
}

}  // namespace
}  // namespace core
