// The MySQL adapter's pure parts: statement rendering (backfill/adapters/mysql/
// mysql_sql.h) and the error mapping (mysql_errors.h). No server needed.

#include "backfill/adapters/mysql/mysql_sql.h"

#include <string>

#include "backfill/adapters/mysql/mysql_errors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace backfill::mysql {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Optional;

MysqlChunkModel ColumnModel() {
  MysqlChunkModel m;
  m.shape = Shape::kColumn;
  m.target = MakeMysqlTable({"app", "users"});
  m.walked = m.target;
  m.key_columns = {QuoteIdent("id")};
  m.key_kinds = {KeyKind::kInteger};
  m.assignments = {{QuoteIdent("login_name"), "lower(username)", "utf8mb4"},
                   {QuoteIdent("score"), "points * 2", ""}};
  return m;
}

MysqlChunkModel JoinModel() {
  MysqlChunkModel m;
  m.shape = Shape::kJoin;
  m.target = MakeMysqlTable({"", "repo"});
  m.source = MakeMysqlTable({"", "star"});
  m.walked = m.target;
  m.on = "star.repo_name = repo.repo_name";
  m.key_columns = {QuoteIdent("org"), QuoteIdent("name")};
  m.key_kinds = {KeyKind::kString, KeyKind::kInteger};
  m.assignments = {{QuoteIdent("star_count"), "star.star_count", ""}};
  return m;
}

MysqlChunkModel CopyModel() {
  MysqlChunkModel m;
  m.shape = Shape::kCopy;
  m.target = MakeMysqlTable({"", "orders_v2"});
  m.source = MakeMysqlTable({"", "orders"});
  m.walked = *m.source;
  m.key_columns = {QuoteIdent("id")};
  m.key_kinds = {KeyKind::kInteger};
  m.conflict_columns = {QuoteIdent("id")};
  m.assignments = {{QuoteIdent("id"), "`id`", ""},
                   {QuoteIdent("note"), "`note`", "utf8mb4"},
                   {QuoteIdent("amount"), "amount_cents / 100.0", ""}};
  return m;
}

TEST(QuoteIdentTest, UsesBackticksAndDoublesThem) {
  EXPECT_EQ(QuoteIdent("id"), "`id`");
  EXPECT_EQ(QuoteIdent("My Col"), "`My Col`");
  EXPECT_EQ(QuoteIdent("a`b"), "`a``b`");
  EXPECT_EQ(QuoteIdent("acc`ounts`; drop table x; --"),
            "`acc``ounts``; drop table x; --`");
  // Double quotes are ordinary characters inside backticks (no ANSI_QUOTES
  // needed or assumed).
  EXPECT_EQ(QuoteIdent("a\"b"), "`a\"b`");
}

TEST(MakeMysqlTableTest, QualifiesWithTheDatabase) {
  MysqlTable t = MakeMysqlTable({"app", "us`ers"});
  EXPECT_EQ(t.qualified, "`app`.`us``ers`");
  EXPECT_EQ(t.ref, "`us``ers`");
  EXPECT_EQ(MakeMysqlTable({"", "users"}).qualified, "`users`");
}

TEST(QuoteStringTest, EscapesForTheSessionMode) {
  EXPECT_EQ(QuoteString("plain", false), "'plain'");
  EXPECT_EQ(QuoteString("it's", false), "'it''s'");
  EXPECT_EQ(QuoteString("it's", true), "'it''s'");
  EXPECT_EQ(QuoteString("a\\b", false), "'a\\\\b'");
  // With NO_BACKSLASH_ESCAPES a backslash is an ordinary character.
  EXPECT_EQ(QuoteString("a\\b", true), "'a\\b'");
  EXPECT_EQ(QuoteString("x\\' OR 1=1 -- ", false), "'x\\\\'' OR 1=1 -- '");
  EXPECT_EQ(QuoteString(std::string("a\0b", 3), false), "'a\\0b'");
}

TEST(KeyKindTest, ExactTypesOnly) {
  EXPECT_EQ(KeyKindForDataType("bigint"), KeyKind::kInteger);
  EXPECT_EQ(KeyKindForDataType("INT"), KeyKind::kInteger);
  EXPECT_EQ(KeyKindForDataType("year"), KeyKind::kInteger);
  EXPECT_EQ(KeyKindForDataType("decimal"), KeyKind::kDecimal);
  EXPECT_EQ(KeyKindForDataType("varchar"), KeyKind::kString);
  EXPECT_EQ(KeyKindForDataType("char"), KeyKind::kString);
  EXPECT_EQ(KeyKindForDataType("datetime"), KeyKind::kTemporal);
  EXPECT_EQ(KeyKindForDataType("varbinary"), KeyKind::kBinary);
  for (const char* t :
       {"float", "double", "enum", "set", "bit", "json", "geometry"}) {
    EXPECT_EQ(KeyKindForDataType(t), std::nullopt) << t;
  }
}

TEST(KeyLiteralTest, RoundTripsEachKind) {
  EXPECT_EQ(*KeyLiteral(KeyKind::kInteger, "42", false), "42");
  EXPECT_EQ(*KeyLiteral(KeyKind::kInteger, "-9223372036854775808", false),
            "-9223372036854775808");
  EXPECT_EQ(*KeyLiteral(KeyKind::kInteger, "18446744073709551615", false),
            "18446744073709551615");
  EXPECT_EQ(*KeyLiteral(KeyKind::kDecimal, "-12.50", false), "-12.50");
  EXPECT_EQ(*KeyLiteral(KeyKind::kDecimal, "7", false), "7");
  EXPECT_EQ(*KeyLiteral(KeyKind::kString, "O'Brien\\", false),
            "'O''Brien\\\\'");
  EXPECT_EQ(
      *KeyLiteral(KeyKind::kTemporal, "2024-02-29 23:59:59.123456", false),
      "'2024-02-29 23:59:59.123456'");
  EXPECT_EQ(*KeyLiteral(KeyKind::kBinary, "00FF10", false), "X'00FF10'");
  EXPECT_EQ(*KeyLiteral(KeyKind::kBinary, "", false), "X''");
}

TEST(KeyLiteralTest, RejectsValuesThatDoNotFitTheKind) {
  for (const char* bad : {"", "1 OR 1=1", "1e3", "0x10", "--1", "1.5"}) {
    EXPECT_EQ(KeyLiteral(KeyKind::kInteger, bad, false).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
  for (const char* bad : {"1.", ".5", "1.2.3", "1;"}) {
    EXPECT_FALSE(KeyLiteral(KeyKind::kDecimal, bad, false).ok()) << bad;
  }
  for (const char* bad : {"ABC", "0G", "'"}) {
    EXPECT_FALSE(KeyLiteral(KeyKind::kBinary, bad, false).ok()) << bad;
  }
}

TEST(KeyRangeTest, SingleColumn) {
  MysqlChunkModel m = ColumnModel();
  const KeyLiterals lo = {"10"}, hi = {"20"};
  EXPECT_EQ(KeyRange(m, "", &lo, hi), "`id` > 10 AND `id` <= 20");
  EXPECT_EQ(KeyRange(m, "", nullptr, hi), "`id` <= 20");
  EXPECT_EQ(KeyRange(m, "`users`", &lo, hi),
            "`users`.`id` > 10 AND `users`.`id` <= 20");
}

TEST(KeyRangeTest, CompositeComparisonsAreExpanded) {
  MysqlChunkModel m = JoinModel();
  const KeyLiterals lo = {"'a'", "1"}, hi = {"'z'", "9"};
  EXPECT_EQ(
      KeyRange(m, "", &lo, hi),
      "`org` >= 'a' AND (`org` > 'a' OR (`org` = 'a' AND `name` > 1)) AND "
      "`org` <= 'z' AND (`org` < 'z' OR (`org` = 'z' AND `name` <= 9))");
  EXPECT_EQ(KeyRange(m, "", nullptr, hi),
            "`org` <= 'z' AND (`org` < 'z' OR (`org` = 'z' AND `name` <= 9))");
}

TEST(KeyRangeTest, ThreeColumnsNest) {
  MysqlChunkModel m = ColumnModel();
  m.key_columns = {"`a`", "`b`", "`c`"};
  m.key_kinds = {KeyKind::kInteger, KeyKind::kInteger, KeyKind::kInteger};
  const KeyLiterals lo = {"1", "2", "3"};
  EXPECT_EQ(KeyRange(m, "", &lo, lo),
            "`a` >= 1 AND (`a` > 1 OR (`a` = 1 AND (`b` > 2 OR (`b` = 2 AND "
            "`c` > 3)))) AND "
            "`a` <= 1 AND (`a` < 1 OR (`a` = 1 AND (`b` < 2 OR (`b` = 2 AND "
            "`c` <= 3))))");
}

TEST(StatementsTest, NoRowConstructorComparisons) {
  MysqlChunkModel m = JoinModel();
  const KeyLiterals lo = {"'a'", "1"}, hi = {"'z'", "9"};
  for (const std::string& sql :
       {BoundarySql(m, &lo, hi, "99"), CountSql(m, &lo, hi),
        LockSql(m, &lo, hi), WriteSql(m, &lo, hi)}) {
    EXPECT_THAT(sql, Not(HasSubstr("(`org`, `name`)"))) << sql;
  }
}

TEST(StatementsTest, HighWaterAndBoundaryWalkTheKeyInOrder) {
  MysqlChunkModel m = JoinModel();
  EXPECT_EQ(HighWaterSql(m),
            "SELECT `org`, `name` FROM `repo` ORDER BY `org` DESC, `name` DESC "
            "LIMIT 1");
  const KeyLiterals hi = {"'z'", "9"};
  EXPECT_EQ(
      BoundarySql(m, nullptr, hi, "999"),
      "SELECT `org`, `name` FROM `repo` WHERE `org` <= 'z' AND (`org` < 'z' OR "
      "(`org` = 'z' AND `name` <= 9)) ORDER BY `org`, `name` LIMIT 1 OFFSET "
      "999");
  EXPECT_EQ(
      CountSql(m, nullptr, hi),
      "SELECT count(*) FROM `repo` WHERE `org` <= 'z' AND (`org` < 'z' OR "
      "(`org` = 'z' AND `name` <= 9))");
}

TEST(StatementsTest, BinaryKeysAreReadAsHex) {
  MysqlChunkModel m = ColumnModel();
  m.key_columns = {"`uuid`"};
  m.key_kinds = {KeyKind::kBinary};
  EXPECT_EQ(
      HighWaterSql(m),
      "SELECT HEX(`uuid`) FROM `app`.`users` ORDER BY `uuid` DESC LIMIT 1");
  EXPECT_THAT(BoundarySql(m, nullptr, {"X'AB'"}, "0"),
              HasSubstr("SELECT HEX(`uuid`) FROM `app`.`users` WHERE `uuid` <= "
                        "X'AB' ORDER BY "
                        "`uuid` LIMIT"));
}

TEST(StatementsTest, ColumnShapeIsAGuardedUpdate) {
  MysqlChunkModel m = ColumnModel();
  const KeyLiterals lo = {"10"}, hi = {"20"};
  EXPECT_EQ(
      WriteSql(m, &lo, hi),
      "UPDATE `app`.`users` SET `users`.`login_name` = (lower(username)), "
      "`users`.`score` = (points * 2) WHERE `users`.`id` > 10 AND `users`.`id` "
      "<= 20 "
      "AND NOT (CAST(`users`.`login_name` AS BINARY) <=> "
      "CAST(CONVERT((lower(username)) USING utf8mb4) AS BINARY) AND "
      "`users`.`score` <=> (points * 2))");
  EXPECT_THAT(LockSql(m, &lo, hi), IsEmpty());
  m.where = "active = 1";
  EXPECT_THAT(WriteSql(m, nullptr, hi),
              HasSubstr("WHERE `users`.`id` <= 20 AND (active = 1) AND NOT ("));
}

TEST(StatementsTest, JoinShapeIsAnUpdateJoinAfterAShareLock) {
  MysqlChunkModel m = JoinModel();
  m.key_columns = {"`id`"};
  m.key_kinds = {KeyKind::kInteger};
  const KeyLiterals lo = {"0"}, hi = {"40"};
  EXPECT_EQ(LockSql(m, &lo, hi),
            "SELECT count(*) FROM `repo` JOIN `star` ON (star.repo_name = "
            "repo.repo_name) "
            "WHERE `repo`.`id` > 0 AND `repo`.`id` <= 40 LOCK IN SHARE MODE");
  EXPECT_EQ(
      WriteSql(m, &lo, hi),
      "UPDATE `repo` JOIN `star` ON (star.repo_name = repo.repo_name) SET "
      "`repo`.`star_count` = (star.star_count) WHERE `repo`.`id` > 0 AND "
      "`repo`.`id` <= 40 AND NOT (`repo`.`star_count` <=> (star.star_count))");
  EXPECT_THAT(WriteSql(m, &lo, hi), Not(HasSubstr(" FROM ")));
}

TEST(StatementsTest, CopyShapeIsInsertSelectOnDuplicateKeyUpdate) {
  MysqlChunkModel m = CopyModel();
  const KeyLiterals lo = {"100"}, hi = {"200"};
  EXPECT_THAT(LockSql(m, &lo, hi), IsEmpty());
  EXPECT_EQ(
      WriteSql(m, &lo, hi),
      "INSERT INTO `orders_v2` (`id`, `note`, `amount`) SELECT (`id`), "
      "(`note`), "
      "(amount_cents / 100.0) FROM `orders` WHERE `orders`.`id` > 100 AND "
      "`orders`.`id` <= 200 LOCK IN SHARE MODE ON DUPLICATE KEY UPDATE "
      "`note` = VALUES(`note`), "
      "`amount` = VALUES(`amount`)");
  m.where = "status <> 'void'";
  EXPECT_THAT(WriteSql(m, nullptr, hi),
              HasSubstr("<= 200 AND (status <> 'void') LOCK IN SHARE MODE ON "
                        "DUPLICATE"));
}

TEST(StatementsTest, CopyOfKeyColumnsOnlyStillHasAValidUpdateClause) {
  MysqlChunkModel m = CopyModel();
  m.assignments = {{QuoteIdent("id"), "`id`", ""}};
  EXPECT_THAT(
      WriteSql(m, nullptr, {"5"}),
      HasSubstr("ON DUPLICATE KEY UPDATE `orders_v2`.`id` = `orders_v2`.`id`"));
}

TEST(VerifySqlTest, ColumnShapeConvertsLikeTheAssignment) {
  MysqlChunkModel m = ColumnModel();
  m.assignments[1].cast = "DECIMAL(10,2)";
  const KeyLiterals lo = {"10"}, hi = {"20"};
  EXPECT_EQ(VerifySql(m, &lo, hi, 5),
            "SELECT `users`.`id`, count(*) OVER (), 0 FROM `app`.`users` WHERE "
            "`users`.`id` > 10 AND `users`.`id` <= 20 AND NOT "
            "(CAST(`users`.`login_name` AS BINARY) <=> "
            "CAST(CONVERT((lower(username)) USING utf8mb4) AS BINARY) AND "
            "`users`.`score` <=> CAST((points * 2) AS DECIMAL(10,2))) "
            "ORDER BY `users`.`id` LIMIT 5");
  // The write guard does not cast (see Guard in mysql_sql.cc).
  EXPECT_THAT(WriteSql(m, &lo, hi),
              HasSubstr("`users`.`score` <=> (points * 2))"));
}

TEST(VerifySqlTest, JoinShapeQualifiesTheKey) {
  MysqlChunkModel m = JoinModel();
  m.key_columns = {"`id`"};
  m.key_kinds = {KeyKind::kInteger};
  EXPECT_EQ(
      VerifySql(m, nullptr, {"40"}, 0),
      "SELECT `repo`.`id`, count(*) OVER (), 0 FROM `repo` JOIN `star` ON "
      "(star.repo_name = repo.repo_name) WHERE `repo`.`id` <= 40 AND NOT "
      "(`repo`.`star_count` <=> (star.star_count)) ORDER BY `repo`.`id` LIMIT "
      "1");
}

TEST(VerifySqlTest, CopyShapeCountsMissingTargetRows) {
  MysqlChunkModel m = CopyModel();
  m.assignments[2].cast = "DECIMAL(12,2)";
  EXPECT_EQ(
      VerifySql(m, nullptr, {"200"}, 10),
      "WITH bf_src AS (SELECT `orders`.`id` AS bf_k0, (`id`) AS bf_c0, "
      "(`note`) AS "
      "bf_c1, (amount_cents / 100.0) AS bf_c2 FROM `orders` WHERE "
      "`orders`.`id` <= "
      "200) SELECT bf_src.bf_k0, count(*) OVER (), sum(CASE WHEN bf_t.`id` IS "
      "NULL "
      "THEN 1 ELSE 0 END) OVER () FROM bf_src LEFT JOIN `orders_v2` AS bf_t ON "
      "bf_t.`id` = bf_src.bf_c0 WHERE bf_t.`id` IS NULL OR NOT "
      "(CAST(bf_t.`note` AS BINARY) <=> CAST(CONVERT((bf_src.bf_c1) USING "
      "utf8mb4) AS "
      "BINARY) AND bf_t.`amount` <=> CAST((bf_src.bf_c2) AS DECIMAL(12,2))) "
      "ORDER BY "
      "bf_src.bf_k0 LIMIT 10");
}

TEST(CopyRowsWrittenTest, InsertedPlusChanged) {
  // 10 inserted, 5 updated, 15 unchanged: affected = 10 + 2 * 5.
  EXPECT_THAT(CopyRowsWritten(20, "Records: 30  Duplicates: 5  Warnings: 0"),
              Optional(15));
  EXPECT_THAT(CopyRowsWritten(0, "Records: 30  Duplicates: 0  Warnings: 0"),
              Optional(0));
  EXPECT_THAT(
      CopyRowsWritten(1000, "Records: 1000  Duplicates: 0  Warnings: 0"),
      Optional(1000));
  EXPECT_EQ(CopyRowsWritten(3, ""), std::nullopt);
  EXPECT_EQ(CopyRowsWritten(3, "Records: 3  Duplicates: 7  Warnings: 0"),
            std::nullopt);
}

TEST(CodeForMysqlErrorTest, RetryPolicy) {
  using absl::StatusCode;
  EXPECT_EQ(CodeForMysqlError(1213, "40001"),
            StatusCode::kAborted);  // deadlock
  EXPECT_EQ(CodeForMysqlError(1205),
            StatusCode::kAborted);  // lock wait timeout
  for (unsigned int e : {2006u, 2013u, 2002u, 2003u, 2055u, 1927u, 1053u}) {
    EXPECT_EQ(CodeForMysqlError(e), StatusCode::kUnavailable) << e;
  }
  // A read-only server: the primary moved (failover, read_only,
  // super_read_only, a read-only transaction).
  for (unsigned int e : {1290u, 1792u, 1836u}) {
    EXPECT_EQ(CodeForMysqlError(e), StatusCode::kUnavailable) << e;
  }
  EXPECT_EQ(CodeForMysqlError(1045, "28000"), StatusCode::kUnauthenticated);
  EXPECT_EQ(CodeForMysqlError(1045), StatusCode::kUnauthenticated);
  for (unsigned int e : {1142u, 1143u, 1044u}) {
    EXPECT_EQ(CodeForMysqlError(e, "42000"), StatusCode::kPermissionDenied)
        << e;
  }
  EXPECT_EQ(CodeForMysqlError(1146, "42S02"),
            StatusCode::kNotFound);  // no such table
  EXPECT_EQ(CodeForMysqlError(1054, "42S22"),
            StatusCode::kNotFound);  // unknown column
  EXPECT_EQ(CodeForMysqlError(1049, "42000"),
            StatusCode::kNotFound);  // unknown database
  EXPECT_EQ(CodeForMysqlError(1305, "42000"),
            StatusCode::kNotFound);  // no such function
  EXPECT_EQ(CodeForMysqlError(1064, "42000"),
            StatusCode::kInvalidArgument);  // syntax
  // Schema and type errors, with or without a specific SQLSTATE.
  EXPECT_EQ(CodeForMysqlError(1267),
            StatusCode::kInvalidArgument);  // mix of collations
  EXPECT_EQ(CodeForMysqlError(1292, "22007"), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeForMysqlError(1366), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeForMysqlError(1406, "22001"), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeForMysqlError(1052, "23000"),
            StatusCode::kInvalidArgument);  // ambiguous
  EXPECT_EQ(CodeForMysqlError(1114, "HY000"),
            StatusCode::kResourceExhausted);  // the table is full
  EXPECT_EQ(CodeForMysqlError(1021), StatusCode::kResourceExhausted);
  EXPECT_EQ(CodeForMysqlError(1048, "23000"),
            StatusCode::kInternal);  // NOT NULL violated
  EXPECT_EQ(CodeForMysqlError(1062, "23000"),
            StatusCode::kInternal);                           // duplicate key
  EXPECT_EQ(CodeForMysqlError(2014), StatusCode::kInternal);  // out of sync
}

TEST(MapMysqlErrorTest, ReadOnlyServerSaysThePrimaryMayHaveMoved) {
  absl::Status s = MapMysqlError(
      1290, "HY000",
      "The MariaDB server is running with the --read-only option so it "
      "cannot execute this statement",
      "chunk failed", "");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(s.message(),
            "chunk failed: the server is read-only (has the primary moved?): "
            "The MariaDB server is running with the --read-only option so it "
            "cannot execute this statement (MySQL error 1290)");
  // The same number for another option is no failover.
  absl::Status other = MapMysqlError(
      1290, "HY000",
      "The MySQL server is running with the --secure-file-priv option so it "
      "cannot execute this statement",
      "chunk failed", "");
  EXPECT_EQ(other.code(), absl::StatusCode::kFailedPrecondition);
}

TEST(MapMysqlErrorTest, OneLineWithoutThePassword) {
  absl::Status s = MapMysqlError(
      1064, "42000",
      "You have an error in your SQL syntax near 'hunter2 +\n* 2' at line 1",
      "chunk failed", "hunter2");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "chunk failed: You have an error in your SQL syntax near '*** + * "
            "2' at line 1 "
            "(MySQL error 1064)");
  absl::Status denied = MapMysqlError(
      1045, "28000",
      "Access denied for user 'bf'@'127.0.0.1' (using password: YES)",
      "cannot connect to MySQL", "s3cret");
  EXPECT_EQ(denied.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(denied.message()), HasSubstr("Access denied"));
  EXPECT_THAT(std::string(denied.message()), Not(HasSubstr("s3cret")));
  const std::string long_message(5000, 'x');
  EXPECT_LT(
      MapMysqlError(1064, "42000", long_message, "c", "").message().size(),
      600u);
}

}  // namespace
}  // namespace backfill::mysql
