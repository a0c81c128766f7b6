// Micro-benchmarks of chunk statement rendering, PostgreSQL
// (backfill/adapters/postgres/pg_sql.h) and MySQL
// (backfill/adapters/mysql/mysql_sql.h). The PostgreSQL adapter renders a job's
// statements once and binds parameters per chunk; the MySQL adapter renders the
// range, lock and write statements with the chunk's key literals for every
// chunk, so its figure is per chunk.

#include <string>
#include <utility>
#include <vector>

#include "backfill/adapters/mysql/mysql_sql.h"
#include "backfill/adapters/postgres/pg_sql.h"
#include "benchmark/benchmark.h"

namespace backfill {
namespace {

pg::PgChunkModel PgColumn() {
  pg::PgChunkModel m;
  m.shape = Shape::kColumn;
  m.target = pg::MakePgTable({"public", "users"});
  m.walked = m.target;
  m.key_columns = {pg::QuoteIdent("id")};
  m.key_types = {"bigint"};
  m.assignments = {{pg::QuoteIdent("login_name"), "text", "upper(username)"}};
  return m;
}

pg::PgChunkModel PgJoin() {
  pg::PgChunkModel m;
  m.shape = Shape::kJoin;
  m.target = pg::MakePgTable({"", "repo"});
  m.source = pg::MakePgTable({"", "star"});
  m.walked = m.target;
  m.on = "star.repo_name = repo.repo_name";
  m.key_columns = {pg::QuoteIdent("id")};
  m.key_types = {"bigint"};
  m.assignments = {
      {pg::QuoteIdent("star_count"), "integer", "star.star_count"}};
  return m;
}

pg::PgChunkModel PgCopy() {
  pg::PgChunkModel m;
  m.shape = Shape::kCopy;
  m.target = pg::MakePgTable({"", "orders_v2"});
  m.source = pg::MakePgTable({"", "orders"});
  m.walked = *m.source;
  m.key_columns = {pg::QuoteIdent("tenant"), pg::QuoteIdent("id")};
  m.key_types = {"text", "bigint"};
  m.conflict_columns = {pg::QuoteIdent("tenant"), pg::QuoteIdent("id")};
  m.assignments = {{pg::QuoteIdent("tenant"), "text", "\"tenant\""},
                   {pg::QuoteIdent("id"), "bigint", "\"id\""},
                   {pg::QuoteIdent("note"), "text", "\"note\""},
                   {pg::QuoteIdent("total"), "numeric", "amount::numeric"}};
  return m;
}

void BM_RenderPgStatements(benchmark::State& state, pg::PgChunkModel model) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(pg::RenderPgStatements(model));
  }
}
BENCHMARK_CAPTURE(BM_RenderPgStatements, column, PgColumn());
BENCHMARK_CAPTURE(BM_RenderPgStatements, join, PgJoin());
BENCHMARK_CAPTURE(BM_RenderPgStatements, copy_composite_key, PgCopy());

// Field by field, so a new member of MysqlAssignment needs no edit here.
mysql::MysqlAssignment MyAssign(std::string column, std::string expression,
                                std::string charset) {
  mysql::MysqlAssignment a;
  a.column = mysql::QuoteIdent(column);
  a.expression = std::move(expression);
  a.charset = std::move(charset);
  return a;
}

mysql::MysqlChunkModel MyColumn() {
  mysql::MysqlChunkModel m;
  m.shape = Shape::kColumn;
  m.target = mysql::MakeMysqlTable({"backfill", "users"});
  m.walked = m.target;
  m.key_columns = {mysql::QuoteIdent("id")};
  m.key_kinds = {mysql::KeyKind::kInteger};
  m.assignments = {MyAssign("login_name", "upper(username)", "utf8mb4")};
  return m;
}

mysql::MysqlChunkModel MyCopy() {
  mysql::MysqlChunkModel m;
  m.shape = Shape::kCopy;
  m.target = mysql::MakeMysqlTable({"", "orders_v2"});
  m.source = mysql::MakeMysqlTable({"", "orders"});
  m.walked = *m.source;
  m.key_columns = {mysql::QuoteIdent("tenant"), mysql::QuoteIdent("id")};
  m.key_kinds = {mysql::KeyKind::kString, mysql::KeyKind::kInteger};
  m.conflict_columns = {mysql::QuoteIdent("tenant"), mysql::QuoteIdent("id")};
  m.assignments = {MyAssign("tenant", "`tenant`", "utf8mb4"),
                   MyAssign("id", "`id`", ""),
                   MyAssign("note", "`note`", "utf8mb4"),
                   MyAssign("amount", "amount_cents / 100.0", "")};
  return m;
}

// What the MySQL adapter renders for one chunk: the key literals of both
// bounds, then the lock (empty for the column shape) and write statements.
void BM_RenderMysqlChunk(benchmark::State& state, mysql::MysqlChunkModel model,
                         std::vector<std::string> lower_raw,
                         std::vector<std::string> upper_raw) {
  for (auto _ : state) {
    mysql::KeyLiterals lower, upper;
    for (size_t i = 0; i < model.key_kinds.size(); ++i) {
      lower.push_back(
          *mysql::KeyLiteral(model.key_kinds[i], lower_raw[i], false));
      upper.push_back(
          *mysql::KeyLiteral(model.key_kinds[i], upper_raw[i], false));
    }
    benchmark::DoNotOptimize(mysql::LockSql(model, &lower, upper));
    benchmark::DoNotOptimize(mysql::WriteSql(model, &lower, upper));
  }
}
BENCHMARK_CAPTURE(BM_RenderMysqlChunk, column, MyColumn(),
                  std::vector<std::string>{"1000000"},
                  std::vector<std::string>{"1001000"});
BENCHMARK_CAPTURE(BM_RenderMysqlChunk, copy_composite_key, MyCopy(),
                  std::vector<std::string>{"acme", "1000000"},
                  std::vector<std::string>{"acme's", "1001000"});

// The boundary query (keyset: LIMIT 1 OFFSET n-1), rendered for every chunk.
void BM_RenderMysqlBoundary(benchmark::State& state) {
  const mysql::MysqlChunkModel model = MyColumn();
  const mysql::KeyLiterals lower = {"1000000"}, high = {"4000000"};
  for (auto _ : state) {
    benchmark::DoNotOptimize(mysql::BoundarySql(model, &lower, high, "999"));
  }
}
BENCHMARK(BM_RenderMysqlBoundary);

}  // namespace
}  // namespace backfill
