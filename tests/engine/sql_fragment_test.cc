#include "backfill/engine/sql_fragment.h"

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace backfill {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(CheckSqlFragmentTest, AcceptsOrdinaryExpressions) {
  const char* good[] = {
      "username",
      "lower(trim(username))",
      "coalesce(a, b, 0) + 1",
      "CAST(price AS numeric(10, 2))",
      "'it''s; -- not /* a */ comment # really'",
      "concat(first, ' ', last)",
      "\"Weird \"\"Column\"\"\" || 'x'",
      "`mysql col` + 1",
      "a - -b",
      "a / b * c",
      "created_at > now() - interval '1 day'",
      "status IN ('a', 'b')",
      "'back\\'slash'",  // MySQL escape; conservative reading keeps it whole
  };
  for (const char* f : good) {
    EXPECT_TRUE(CheckSqlFragment(f, "--set").ok()) << f;
  }
}

TEST(CheckSqlFragmentTest, RejectsFragmentsThatEscapeTheirSlot) {
  const char* bad[] = {
      "x) OR (true",
      "1; drop table x",
      "a -- c",
      "a /* c */",
      "a # c",
      "(a",
      "a)",
      "((a)",
      "'unterminated",
      "\"unterminated",
      "`unterminated",
      "'a\\'",
      "",
      "   ",
      "a;",
      "f(x)) OR ((true",
      "x) = (y",
  };
  for (const char* f : bad) {
    absl::Status s = CheckSqlFragment(f, "--where");
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << f;
    EXPECT_THAT(s.message(), HasSubstr("--where")) << f;
  }
}

TEST(CheckSqlFragmentTest, RejectsNulByte) {
  EXPECT_EQ(CheckSqlFragment(std::string("a\0b", 3), "--on").code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(CheckSqlFragmentTest, MessagesNameTheProblem) {
  EXPECT_THAT(CheckSqlFragment("x) OR (true", "--where").message(),
              HasSubstr("')'"));
  EXPECT_THAT(CheckSqlFragment("1; drop table x", "--where").message(),
              HasSubstr("';'"));
  EXPECT_THAT(CheckSqlFragment("a -- c", "--where").message(), HasSubstr("--"));
  EXPECT_THAT(CheckSqlFragment("'x", "--where").message(),
              HasSubstr("unterminated"));
  EXPECT_THAT(CheckSqlFragment("(x", "--where").message(),
              HasSubstr("unbalanced"));
}

TEST(SplitTopLevelTest, SplitsOutsideParensAndLiterals) {
  EXPECT_THAT(SplitTopLevel("a, b ,c", ','), ElementsAre("a", "b", "c"));
  EXPECT_THAT(SplitTopLevel("a, b, c = coalesce(x, y)", ','),
              ElementsAre("a", "b", "c = coalesce(x, y)"));
  EXPECT_THAT(SplitTopLevel("f(g(1, 2), 3), 'x, y', \"q,r\", `s,t`", ','),
              ElementsAre("f(g(1, 2), 3)", "'x, y'", "\"q,r\"", "`s,t`"));
  EXPECT_THAT(SplitTopLevel("'it''s, here', b", ','),
              ElementsAre("'it''s, here'", "b"));
  EXPECT_THAT(SplitTopLevel("s.t", '.'), ElementsAre("s", "t"));
  EXPECT_THAT(SplitTopLevel("\"a.b\".c", '.'), ElementsAre("\"a.b\"", "c"));
  EXPECT_THAT(SplitTopLevel("single", ','), ElementsAre("single"));
}

TEST(SplitTopLevelTest, EmptyTextAndEmptyPieces) {
  EXPECT_THAT(SplitTopLevel("", ','), IsEmpty());
  EXPECT_THAT(SplitTopLevel("   ", ','), IsEmpty());
  EXPECT_THAT(SplitTopLevel("a,,b", ','), ElementsAre("a", "", "b"));
  EXPECT_THAT(SplitTopLevel("a,", ','), ElementsAre("a", ""));
}

TEST(UnquoteIdentifierTest, RemovesOneLevelOfQuoting) {
  EXPECT_EQ(*UnquoteIdentifier("  plain ", "--key"), "plain");
  EXPECT_EQ(*UnquoteIdentifier("\"Mixed Case\"", "--key"), "Mixed Case");
  EXPECT_EQ(*UnquoteIdentifier("\"a\"\"b\"", "--key"), "a\"b");
  EXPECT_EQ(*UnquoteIdentifier("\"\"\"\"", "--key"), "\"");
  EXPECT_EQ(*UnquoteIdentifier("`a``b`", "--key"), "a`b");
  EXPECT_EQ(*UnquoteIdentifier("\"a.b\"", "--key"), "a.b");
  // Mismatched quotes are not quoting; the adapter quotes the name as is.
  EXPECT_EQ(*UnquoteIdentifier("\"a`", "--key"), "\"a`");
}

TEST(UnquoteIdentifierTest, EmptyNameIsInvalid) {
  for (const char* text : {"", "   ", "\"\"", "``"}) {
    absl::StatusOr<std::string> id = UnquoteIdentifier(text, "--key column");
    EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(id.status().message(), HasSubstr("--key column"));
  }
}

}  // namespace
}  // namespace backfill
