#include "backfill/adapters/postgres/pg_sql.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace backfill::pg {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

PgChunkModel ColumnModel() {
  PgChunkModel m;
  m.shape = Shape::kColumn;
  m.target = MakePgTable({"public", "users"});
  m.walked = m.target;
  m.key_columns = {QuoteIdent("id")};
  m.key_types = {"bigint"};
  m.assignments = {{QuoteIdent("login_name"), "text", "lower(username)"}};
  return m;
}

PgChunkModel JoinModel() {
  PgChunkModel m;
  m.shape = Shape::kJoin;
  m.target = MakePgTable({"", "repo"});
  m.source = MakePgTable({"", "star"});
  m.walked = m.target;
  m.on = "star.repo_name = repo.repo_name";
  m.key_columns = {QuoteIdent("org"), QuoteIdent("name")};
  m.key_types = {"text", "integer"};
  m.assignments = {{QuoteIdent("star_count"), "integer", "star.star_count"}};
  return m;
}

PgChunkModel CopyModel() {
  PgChunkModel m;
  m.shape = Shape::kCopy;
  m.target = MakePgTable({"", "orders_v2"});
  m.source = MakePgTable({"", "orders"});
  m.walked = *m.source;
  m.key_columns = {QuoteIdent("id")};
  m.key_types = {"bigint"};
  m.conflict_columns = {QuoteIdent("id")};
  m.assignments = {{QuoteIdent("id"), "bigint", "\"id\""},
                   {QuoteIdent("total"), "numeric", "amount::numeric"}};
  return m;
}

TEST(QuoteIdentTest, DoublesEmbeddedQuotes) {
  EXPECT_EQ(QuoteIdent("id"), "\"id\"");
  EXPECT_EQ(QuoteIdent("My Col"), "\"My Col\"");
  EXPECT_EQ(QuoteIdent("a\"b"), "\"a\"\"b\"");
  EXPECT_EQ(QuoteIdent("x\"; drop table t; --"), "\"x\"\"; drop table t; --\"");
}

TEST(MakePgTableTest, QualifiedAndRef) {
  PgTable t = MakePgTable({"public", "re\"po"});
  EXPECT_EQ(t.qualified, "\"public\".\"re\"\"po\"");
  EXPECT_EQ(t.ref, "\"re\"\"po\"");
  PgTable bare = MakePgTable({"", "a.b"});
  EXPECT_EQ(bare.qualified, "\"a.b\"");
  EXPECT_EQ(bare.ref, "\"a.b\"");
}

TEST(RenderPgStatementsTest, ColumnShapeSingleKey) {
  PgChunkModel m = ColumnModel();
  m.where = "active";
  PgStatements s = RenderPgStatements(m);
  EXPECT_EQ(
      s.high_water,
      "SELECT \"id\" FROM \"public\".\"users\" ORDER BY \"id\" DESC LIMIT 1");
  EXPECT_EQ(
      s.boundary_first,
      "SELECT \"id\" FROM \"public\".\"users\" WHERE \"id\" <= $1::bigint "
      "ORDER BY \"id\" LIMIT 1 OFFSET $2");
  EXPECT_EQ(
      s.boundary_next,
      "SELECT \"id\" FROM \"public\".\"users\" WHERE \"id\" > $1::bigint AND "
      "\"id\" <= $2::bigint ORDER BY \"id\" LIMIT 1 OFFSET $3");
  EXPECT_EQ(
      s.count_first,
      "SELECT count(*) FROM \"public\".\"users\" WHERE \"id\" <= $1::bigint");
  EXPECT_EQ(
      s.count_next,
      "SELECT count(*) FROM \"public\".\"users\" WHERE \"id\" > $1::bigint AND "
      "\"id\" <= $2::bigint");
  // The UPDATE itself locks the rows it reads: no separate lock statement.
  EXPECT_THAT(s.lock_first, IsEmpty());
  EXPECT_THAT(s.lock_next, IsEmpty());
  EXPECT_EQ(
      s.write_first,
      "UPDATE \"public\".\"users\" SET \"login_name\" = (lower(username)) "
      "WHERE \"users\".\"id\" <= $1::bigint AND (active) AND "
      "(\"users\".\"login_name\" IS DISTINCT FROM CAST((lower(username)) AS "
      "text))");
  EXPECT_EQ(
      s.write_next,
      "UPDATE \"public\".\"users\" SET \"login_name\" = (lower(username)) "
      "WHERE \"users\".\"id\" > $1::bigint AND \"users\".\"id\" <= $2::bigint "
      "AND (active) AND "
      "(\"users\".\"login_name\" IS DISTINCT FROM CAST((lower(username)) AS "
      "text))");
}

TEST(RenderPgStatementsTest, ColumnShapeGuardsEveryAssignment) {
  PgChunkModel m = ColumnModel();
  m.assignments.push_back({QuoteIdent("n"), "integer", "a + b"});
  PgStatements s = RenderPgStatements(m);
  EXPECT_THAT(
      s.write_first,
      HasSubstr(
          "SET \"login_name\" = (lower(username)), \"n\" = (a + b) WHERE"));
  EXPECT_THAT(
      s.write_first,
      EndsWith("(\"users\".\"login_name\" IS DISTINCT FROM "
               "CAST((lower(username)) AS text) OR \"users\".\"n\" IS DISTINCT "
               "FROM CAST((a + b) AS integer))"));
  // Without --where there is no empty predicate.
  EXPECT_THAT(s.write_first, Not(HasSubstr("AND ()")));
}

TEST(RenderPgStatementsTest, CompositeKeyUsesRowComparison) {
  PgChunkModel m = ColumnModel();
  m.key_columns = {QuoteIdent("org"), QuoteIdent("na\"me")};
  m.key_types = {"text", "uuid"};
  PgStatements s = RenderPgStatements(m);
  EXPECT_EQ(s.high_water,
            "SELECT \"org\", \"na\"\"me\" FROM \"public\".\"users\" ORDER BY "
            "\"org\" DESC, \"na\"\"me\" DESC LIMIT 1");
  EXPECT_EQ(s.boundary_next,
            "SELECT \"org\", \"na\"\"me\" FROM \"public\".\"users\" WHERE "
            "(\"org\", \"na\"\"me\") > ($1::text, $2::uuid) AND "
            "(\"org\", \"na\"\"me\") <= ($3::text, $4::uuid) "
            "ORDER BY \"org\", \"na\"\"me\" LIMIT 1 OFFSET $5");
  EXPECT_THAT(s.boundary_first,
              HasSubstr("WHERE (\"org\", \"na\"\"me\") <= ($1::text, $2::uuid) "
                        "ORDER BY \"org\", \"na\"\"me\" LIMIT 1 OFFSET $3"));
  EXPECT_THAT(
      s.write_next,
      HasSubstr("WHERE (\"users\".\"org\", \"users\".\"na\"\"me\") > "
                "($1::text, $2::uuid) AND (\"users\".\"org\", "
                "\"users\".\"na\"\"me\") <= ($3::text, $4::uuid) AND ("));
  EXPECT_THAT(s.write_next, Not(HasSubstr("$5")));
}

TEST(RenderPgStatementsTest, JoinShapeLocksSourceRows) {
  PgStatements s = RenderPgStatements(JoinModel());
  EXPECT_EQ(
      s.lock_first,
      "SELECT count(*) FROM (SELECT 1 FROM \"repo\" JOIN \"star\" ON "
      "(star.repo_name = repo.repo_name) WHERE (\"repo\".\"org\", "
      "\"repo\".\"name\") <= ($1::text, $2::integer) FOR SHARE OF \"star\") "
      "AS locked");
  EXPECT_THAT(
      s.lock_next,
      HasSubstr("WHERE (\"repo\".\"org\", \"repo\".\"name\") > ($1::text, "
                "$2::integer) AND (\"repo\".\"org\", \"repo\".\"name\") <= "
                "($3::text, $4::integer) FOR SHARE OF \"star\")"));
  EXPECT_EQ(
      s.write_first,
      "UPDATE \"repo\" SET \"star_count\" = (star.star_count) FROM \"star\" "
      "WHERE (star.repo_name = repo.repo_name) AND (\"repo\".\"org\", "
      "\"repo\".\"name\") <= ($1::text, $2::integer) AND "
      "(\"repo\".\"star_count\" IS DISTINCT FROM CAST((star.star_count) AS "
      "integer))");
  // The walked table is the target.
  EXPECT_THAT(s.count_first, StartsWith("SELECT count(*) FROM \"repo\" WHERE"));
}

TEST(RenderPgStatementsTest, JoinWhereAppliesToLockAndWrite) {
  PgChunkModel m = JoinModel();
  m.where = "repo.archived = false";
  PgStatements s = RenderPgStatements(m);
  EXPECT_THAT(s.lock_next,
              HasSubstr(" AND (repo.archived = false) FOR SHARE OF"));
  EXPECT_THAT(s.write_next, HasSubstr(" AND (repo.archived = false) AND ("));
  // Chunk bounds are taken over all rows of the range, not the filtered ones.
  EXPECT_THAT(s.boundary_next, Not(HasSubstr("archived")));
  EXPECT_THAT(s.count_next, Not(HasSubstr("archived")));
}

TEST(RenderPgStatementsTest, CopyShapeUpsertsWithGuard) {
  PgStatements s = RenderPgStatements(CopyModel());
  EXPECT_EQ(s.high_water,
            "SELECT \"id\" FROM \"orders\" ORDER BY \"id\" DESC LIMIT 1");
  EXPECT_EQ(s.lock_first,
            "SELECT count(*) FROM (SELECT 1 FROM \"orders\" WHERE "
            "\"orders\".\"id\" <= $1::bigint FOR SHARE) AS locked");
  EXPECT_EQ(
      s.write_first,
      "INSERT INTO \"orders_v2\" (\"id\", \"total\") SELECT (\"id\"), "
      "(amount::numeric) FROM \"orders\" WHERE \"orders\".\"id\" <= $1::bigint "
      "ON CONFLICT (\"id\") DO UPDATE SET \"total\" = EXCLUDED.\"total\" WHERE "
      "\"orders_v2\".\"total\" IS DISTINCT FROM EXCLUDED.\"total\"");
  EXPECT_THAT(
      s.write_next,
      HasSubstr("WHERE \"orders\".\"id\" > $1::bigint AND \"orders\".\"id\" "
                "<= $2::bigint ON CONFLICT"));
}

TEST(RenderPgStatementsTest, CopyWithOnlyKeyColumnsDoesNothingOnConflict) {
  PgChunkModel m = CopyModel();
  m.key_columns = {QuoteIdent("a"), QuoteIdent("b")};
  m.key_types = {"integer", "text"};
  m.conflict_columns = {QuoteIdent("a"), QuoteIdent("b")};
  m.assignments = {{QuoteIdent("a"), "integer", "\"a\""},
                   {QuoteIdent("b"), "text", "\"b\""}};
  PgStatements s = RenderPgStatements(m);
  EXPECT_THAT(s.write_first, EndsWith("ON CONFLICT (\"a\", \"b\") DO NOTHING"));
  EXPECT_THAT(s.write_first, Not(HasSubstr("DO UPDATE")));
  EXPECT_THAT(
      s.write_next,
      HasSubstr("WHERE (\"orders\".\"a\", \"orders\".\"b\") > ($1::integer, "
                "$2::text) AND (\"orders\".\"a\", \"orders\".\"b\") <= "
                "($3::integer, $4::text) ON CONFLICT"));
}

TEST(RenderPgStatementsTest, SchemaQualifiedCopyTarget) {
  PgChunkModel m = CopyModel();
  m.target = MakePgTable({"app", "orders_v2"});
  m.source = MakePgTable({"legacy", "orders"});
  m.walked = *m.source;
  PgStatements s = RenderPgStatements(m);
  EXPECT_THAT(s.write_first, StartsWith("INSERT INTO \"app\".\"orders_v2\" ("));
  EXPECT_THAT(s.write_first, HasSubstr(" FROM \"legacy\".\"orders\" WHERE "
                                       "\"orders\".\"id\" <= $1::bigint"));
  EXPECT_THAT(
      s.write_first,
      HasSubstr("\"orders_v2\".\"total\" IS DISTINCT FROM EXCLUDED.\"total\""));
  EXPECT_THAT(s.lock_first, HasSubstr("FROM \"legacy\".\"orders\" WHERE"));
}

}  // namespace
}  // namespace backfill::pg
