#include "tests/integration/test_db.h"

#include <cstdlib>
#include <stdexcept>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace backfill::testing {

std::unique_ptr<TestDb> CreatePostgresTestDb(const std::string& dsn,
                                             const std::string& replica_dsn,
                                             const std::string& name,
                                             const std::string& pooler_dsn);
#ifdef BACKFILL_TEST_WITH_MYSQL
std::unique_ptr<TestDb> CreateMysqlTestDb(const std::string& dsn,
                                          const std::string& replica_dsn,
                                          const std::string& name);
#endif

namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

}  // namespace

std::vector<std::string> TestDb::Kinds() {
  std::string list = Env("BACKFILL_TEST_DATABASES");
  if (list.empty()) list = "postgres,mariadb";
  return absl::StrSplit(list, ',', absl::SkipEmpty());
}

std::unique_ptr<TestDb> TestDb::Create(const std::string& kind, const std::string& name) {
  if (kind == "postgres" || kind == "pgbouncer") {
    std::string dsn = Env("BACKFILL_PG_DSN");
    if (dsn.empty()) throw std::runtime_error("BACKFILL_PG_DSN is not set: run eval \"$(scripts/dev-db)\"");
    std::string pooler;
    if (kind == "pgbouncer") {
      pooler = Env("BACKFILL_PGBOUNCER_DSN");
      if (pooler.empty()) {
        throw std::runtime_error(
            "BACKFILL_PGBOUNCER_DSN is not set: run eval \"$(scripts/dev-db)\"");
      }
    }
    return CreatePostgresTestDb(dsn, Env("BACKFILL_PG_REPLICA_DSN"), name, pooler);
  }
#ifdef BACKFILL_TEST_WITH_MYSQL
  if (kind == "mariadb") {
    std::string dsn = Env("BACKFILL_MYSQL_DSN");
    if (dsn.empty()) throw std::runtime_error("BACKFILL_MYSQL_DSN is not set: run eval \"$(scripts/dev-db)\"");
    return CreateMysqlTestDb(dsn, Env("BACKFILL_MYSQL_REPLICA_DSN"), name);
  }
#endif
  throw std::runtime_error("unknown test database kind: " + kind);
}

std::vector<std::string> TestDb::KindsWithPooler() {
  std::vector<std::string> kinds = Kinds();
  for (const std::string& k : Kinds()) {
    if (k == "postgres") kinds.push_back("pgbouncer");
  }
  return kinds;
}

int64_t TestDb::QueryInt(const std::string& sql) {
  std::optional<std::string> v = Query(sql);
  int64_t n = 0;
  if (!v.has_value() || !absl::SimpleAtoi(*v, &n)) {
    throw std::runtime_error("not an integer result: " + sql);
  }
  return n;
}

}  // namespace backfill::testing
