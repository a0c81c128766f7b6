#include "backfill/adapters/postgres/pg_errors.h"

#include <pqxx/except>
#include <stdexcept>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace backfill::pg {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(CodeForSqlStateTest, RetryPolicy) {
  EXPECT_EQ(CodeForSqlState("40P01"), absl::StatusCode::kAborted);  // deadlock
  EXPECT_EQ(CodeForSqlState("40001"),
            absl::StatusCode::kAborted);  // serialization
  EXPECT_EQ(CodeForSqlState("55P03"),
            absl::StatusCode::kAborted);  // lock_timeout
  EXPECT_EQ(CodeForSqlState("57014"), absl::StatusCode::kAborted);  // canceled
  EXPECT_EQ(CodeForSqlState("08006"), absl::StatusCode::kUnavailable);
  EXPECT_EQ(CodeForSqlState("08001"), absl::StatusCode::kUnavailable);
  EXPECT_EQ(CodeForSqlState("57P01"),
            absl::StatusCode::kUnavailable);  // admin shutdown
  EXPECT_EQ(CodeForSqlState("57P03"), absl::StatusCode::kUnavailable);
  // statement_completion_unknown: the commit may have happened; reconnect and
  // trust the checkpoint.
  EXPECT_EQ(CodeForSqlState("40003"), absl::StatusCode::kUnavailable);
  // read_only_sql_transaction: the primary moved (failover, demotion).
  EXPECT_EQ(CodeForSqlState("25006"), absl::StatusCode::kUnavailable);
}

TEST(MapPgErrorTest, ReadOnlyServerSaysThePrimaryMayHaveMoved) {
  pqxx::sql_error e(
      "ERROR:  cannot execute UPDATE in a read-only transaction\n", "UPDATE t",
      "25006");
  absl::Status s = MapPgError(e, "chunk failed", "");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(s.message(),
            "chunk failed: the server is read-only (has the primary moved?): "
            "cannot execute UPDATE in a read-only transaction");
}

TEST(CodeForSqlStateTest, BadInputStops) {
  EXPECT_EQ(CodeForSqlState("28P01"), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(CodeForSqlState("28000"), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(CodeForSqlState("42501"), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CodeForSqlState("42P01"), absl::StatusCode::kNotFound);  // table
  EXPECT_EQ(CodeForSqlState("42703"), absl::StatusCode::kNotFound);  // column
  EXPECT_EQ(CodeForSqlState("42883"), absl::StatusCode::kNotFound);  // function
  EXPECT_EQ(CodeForSqlState("3D000"), absl::StatusCode::kNotFound);  // database
  EXPECT_EQ(CodeForSqlState("42601"),
            absl::StatusCode::kInvalidArgument);  // syntax
  EXPECT_EQ(CodeForSqlState("42804"),
            absl::StatusCode::kInvalidArgument);  // datatype
  EXPECT_EQ(CodeForSqlState("22P02"),
            absl::StatusCode::kInvalidArgument);  // text rep
  EXPECT_EQ(CodeForSqlState("22012"),
            absl::StatusCode::kInvalidArgument);  // div by 0
}

TEST(CodeForSqlStateTest, OthersAreInternal) {
  EXPECT_EQ(CodeForSqlState("23505"), absl::StatusCode::kInternal);
  EXPECT_EQ(CodeForSqlState("53100"), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(CodeForSqlState(""), absl::StatusCode::kInternal);
}

TEST(MapPgErrorTest, SqlErrorUsesSqlStateAndFirstLine) {
  pqxx::sql_error e(
      "ERROR:  relation \"nope\" does not exist\nLINE 1: SELECT * FROM nope\n"
      "                      ^\n",
      "SELECT * FROM nope", "42P01");
  absl::Status s = MapPgError(e, "prepare", "");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "prepare: relation \"nope\" does not exist");
}

TEST(MapPgErrorTest, DeadlockAndSerializationAreAborted) {
  EXPECT_EQ(MapPgError(pqxx::deadlock_detected("ERROR:  deadlock detected\n"),
                       "chunk", "")
                .code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(
      MapPgError(pqxx::serialization_failure("ERROR:  could not serialize\n"),
                 "chunk", "")
          .code(),
      absl::StatusCode::kAborted);
  EXPECT_EQ(MapPgError(pqxx::sql_error(
                           "ERROR:  canceling statement due to lock timeout",
                           "", "55P03"),
                       "chunk", "")
                .code(),
            absl::StatusCode::kAborted);
}

TEST(MapPgErrorTest, LostConnectionIsUnavailable) {
  EXPECT_EQ(MapPgError(pqxx::broken_connection("server closed the connection "
                                               "unexpectedly\n"),
                       "chunk", "")
                .code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(MapPgError(pqxx::in_doubt_error("lost connection during commit"),
                       "commit", "")
                .code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(
      MapPgError(pqxx::statement_completion_unknown("unknown"), "commit", "")
          .code(),
      absl::StatusCode::kUnavailable);
}

TEST(MapPgErrorTest, ConnectFailuresReadTheText) {
  absl::Status auth = MapPgError(
      pqxx::broken_connection(
          "connection to server at \"127.0.0.1\", port 5432 failed: "
          "FATAL:  password authentication failed for user \"app\"\n"),
      "connect", "");
  EXPECT_EQ(auth.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(auth.message(),
            "connect: password authentication failed for user \"app\"");

  absl::Status db =
      MapPgError(pqxx::broken_connection(
                     "connection to server at \"h\" failed: FATAL:  database "
                     "\"nodb\" does not exist\n"),
                 "connect", "");
  EXPECT_EQ(db.code(), absl::StatusCode::kNotFound);
}

TEST(MapPgErrorTest, ScrubsThePassword) {
  absl::Status s =
      MapPgError(pqxx::sql_error("ERROR:  invalid input: s3cr3t is not valid",
                                 "", "22P02"),
                 "chunk", "s3cr3t");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), Not(HasSubstr("s3cr3t")));
  EXPECT_THAT(s.message(), HasSubstr("***"));
}

TEST(MapPgErrorTest, UnknownExceptionsAreInternal) {
  absl::Status s = MapPgError(std::runtime_error("boom"), "chunk", "");
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(s.message(), "chunk: boom");
}

}  // namespace
}  // namespace backfill::pg
