// The library's messages in the command line's terms (cli/flag_terms.h).

#include "cli/flag_terms.h"

#include <gtest/gtest.h>

#include "absl/status/status.h"

namespace backfill {
namespace {

TEST(InFlagTermsTest, ALeadingMemberBecomesItsFlag) {
  EXPECT_EQ(InFlagTerms("replicas db2:5432: refused"),
            "--replica db2:5432: refused");
  EXPECT_EQ(InFlagTerms("load: no such variable"),
            "--max-load: no such variable");
  EXPECT_EQ(InFlagTerms("lag.max_lag_bytes: is PostgreSQL only"),
            "--max-lag-bytes: is PostgreSQL only");
  // Only a whole member, only where it leads, only before its colon.
  EXPECT_EQ(InFlagTerms("loader: x"), "loader: x");
  EXPECT_EQ(InFlagTerms("the replicas: x"), "the replicas: x");
  EXPECT_EQ(InFlagTerms("key column \"k\" is nullable"),
            "key column \"k\" is nullable");
}

TEST(InFlagTermsTest, EveryBackquotedMemberBecomesItsFlag) {
  EXPECT_EQ(InFlagTerms("lag.critical_lag: must be above `lag.max_lag` (1s)"),
            "--critical-lag: must be above --max-lag (1s)");
  EXPECT_EQ(InFlagTerms("the copy shape takes `columns`, not `sets`"),
            "the copy shape takes --columns, not --set");
  EXPECT_EQ(InFlagTerms("`sets` \"a\": expected \"column = expression\""),
            "--set \"a\": expected \"column = expression\"");
  EXPECT_EQ(InFlagTerms("bad `dsn`: no host"), "bad --dsn: no host");
  // Unquoted members inside a sentence are words, not options.
  EXPECT_EQ(InFlagTerms("the table on the key"), "the table on the key");
}

TEST(InFlagTermsTest, OtherBackquotedTextIsKept) {
  // A MySQL identifier a user typed, before a member.
  EXPECT_EQ(InFlagTerms("table \"acc`ounts`\": bad, see `from`"),
            "table \"acc`ounts`\": bad, see --from");
  EXPECT_EQ(InFlagTerms("run `backfill resume --job x`"),
            "run `backfill resume --job x`");
  EXPECT_EQ(InFlagTerms("an odd ` backquote"), "an odd ` backquote");
}

TEST(InFlagTermsTest, IsIdempotentAndKeepsTheCode) {
  const std::string once = InFlagTerms("load.critical: x above `load.max`");
  EXPECT_EQ(once, "--critical-load: x above --max-load");
  EXPECT_EQ(InFlagTerms(once), once);
  const absl::Status s =
      InFlagTerms(absl::PermissionDeniedError("throttle_query: denied"));
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(s.message(), "--throttle-query: denied");
  EXPECT_TRUE(InFlagTerms(absl::OkStatus()).ok());
}

}  // namespace
}  // namespace backfill
