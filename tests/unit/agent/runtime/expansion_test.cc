#include "agent/runtime/expansion.h"

#include <gtest/gtest.h>

namespace agent::runtime {
namespace {

TEST(ExpansionTest, KubeletRules) {
  std::map<std::string, std::string> vars = {{"VAR_A", "A"}, {"VAR_B", "B"}, {"EMPTY", ""}};
  auto lookup = lookupIn({&vars});
  struct Case {
    const char* in;
    const char* want;
  } cases[] = {
      {"$(VAR_A)", "A"},
      {"___$(VAR_B)___", "___B___"},
      {"$(VAR_A)-$(VAR_B)", "A-B"},
      {"$(UNKNOWN)", "$(UNKNOWN)"},  // unresolved references stay literal
      {"$$(VAR_A)", "$(VAR_A)"},     // $$ escapes
      {"$$$(VAR_A)", "$A"},          // escaped $ then a reference
      {"$(VAR_A", "$(VAR_A"},        // unterminated reference kept
      {"$VAR_A", "$VAR_A"},          // $ without ( is literal
      {"$", "$"},                    // trailing operator
      {"$(EMPTY)x", "x"},            // defined but empty
      {"no vars", "no vars"},
      {"$()", "$()"},
  };
  for (const auto& c : cases) EXPECT_EQ(expandVars(c.in, lookup), c.want) << c.in;
}

TEST(ExpansionTest, FirstMapWins) {
  std::map<std::string, std::string> a = {{"X", "from-a"}};
  std::map<std::string, std::string> b = {{"X", "from-b"}, {"Y", "from-b"}};
  auto lookup = lookupIn({&a, &b});
  EXPECT_EQ(expandVars("$(X) $(Y)", lookup), "from-a from-b");
}

}  // namespace
}  // namespace agent::runtime
