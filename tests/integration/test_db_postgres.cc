// TestDb for PostgreSQL, through libpqxx.

#include <chrono>
#include <map>
#include <pqxx/pqxx>
#include <stdexcept>
#include <thread>

#include "absl/strings/str_cat.h"
#include "tests/integration/pg_test_dsn.h"
#include "tests/integration/pool_check.h"
#include "tests/integration/test_db.h"

namespace backfill::testing {
namespace {

std::string WithDatabase(const std::string& dsn_text, const std::string& db,
                         std::optional<std::string> password = std::nullopt) {
  std::map<std::string, std::string> overrides = {{"dbname", db}};
  if (password.has_value()) overrides["password"] = *password;
  return PgUri(dsn_text, overrides);
}

// `pooler_dsn` non-empty: dsn() goes through PgBouncer (the engine's
// connections), while this class's own connections stay direct, so that
// only what the engine does reaches the pool.
class PostgresTestDb final : public TestDb {
 public:
  PostgresTestDb(std::string admin_dsn, std::string replica_dsn,
                 std::string name, std::string pooler_dsn = "")
      : admin_dsn_(std::move(admin_dsn)),
        replica_dsn_(std::move(replica_dsn)),
        name_(std::move(name)),
        pooler_dsn_(std::move(pooler_dsn)),
        conn_(std::make_unique<pqxx::connection>(direct_dsn())) {
    pqxx::nontransaction(*conn_).exec("SET client_min_messages = warning");
  }

  std::string kind() const override { return "postgres"; }
  bool pooled() const override { return !pooler_dsn_.empty(); }
  std::string dsn() const override { return WithDatabase(EngineBase(), name_); }
  std::string direct_dsn() const override {
    return WithDatabase(admin_dsn_, name_);
  }
  std::string dsn_with_password(const std::string& pw) const override {
    return WithDatabase(EngineBase(), name_, pw);
  }
  std::string replica_dsn() const override {
    return WithDatabase(replica_dsn_, name_);
  }

  std::unique_ptr<TestDb> Connect() const override {
    return std::make_unique<PostgresTestDb>(admin_dsn_, replica_dsn_, name_,
                                            pooler_dsn_);
  }

  void Exec(const std::string& sql) override {
    pqxx::nontransaction(*conn_).exec(sql);
  }

  std::optional<std::string> Query(const std::string& sql) override {
    pqxx::result r = pqxx::nontransaction(*conn_).exec(sql);
    if (r.empty() || r[0][0].is_null()) return std::nullopt;
    return std::string(r[0][0].c_str());
  }

  bool Transaction(const std::vector<std::string>& statements) override {
    try {
      pqxx::work tx(*conn_);
      for (const std::string& s : statements) tx.exec(s);
      tx.commit();
      return true;
    } catch (const pqxx::deadlock_detected&) {
      return false;
    } catch (const pqxx::sql_error& e) {
      if (e.sqlstate() == "40P01" || e.sqlstate() == "55P03") return false;
      throw;
    }
  }

  int64_t RowsUpdated(const std::string& table) override {
    return SettledStat("n_tup_upd", table);
  }

  std::string CreateUser(const std::string& user,
                         const std::string& password) override {
    return LoginRole(user, password, "SUPERUSER");
  }

  std::string CreateUpdater(const std::string& user,
                            const std::string& password,
                            const std::string& table) override {
    std::string dsn = LoginRole(user, password, "NOSUPERUSER");
    Exec(absl::StrCat("GRANT USAGE, CREATE ON SCHEMA public TO ", user));
    Exec(absl::StrCat("GRANT SELECT, UPDATE ON ", table, " TO ", user));
    // Lag watching without --replica reads pg_stat_replication.
    Exec(absl::StrCat("GRANT pg_monitor TO ", user));
    return dsn;
  }

  void RevokeUpdate(const std::string& user,
                    const std::string& table) override {
    Exec(absl::StrCat("REVOKE UPDATE ON ", table, " FROM ", user));
  }

  void Analyze(const std::string& table) override { Exec("ANALYZE " + table); }

  int64_t SequentialScans(const std::string& table) override {
    return SettledStat("seq_scan", table);
  }

  bool TableExists(const std::string& table) override {
    return Query(absl::StrCat("SELECT to_regclass('", table, "')::text"))
        .has_value();
  }

  std::string QuoteIdent(const std::string& name) const override {
    std::string out = "\"";
    for (char c : name) {
      if (c == '"') out.push_back('"');
      out.push_back(c);
    }
    return out + "\"";
  }

  std::string InsertSeries(const std::string& table, const std::string& columns,
                           int64_t n, const std::string& exprs) const override {
    return absl::StrCat("INSERT INTO ", table, " (", columns, ") SELECT ",
                        exprs, " FROM generate_series(1, ", n, ") AS s(g)");
  }

  std::string UuidFromG() const override { return "md5(g::text)::uuid"; }
  std::string UuidType() const override { return "uuid"; }

 private:
  // Creates or resets login role `user` (`attributes`: SUPERUSER or
  // NOSUPERUSER); returns its DSN for the scratch database. Roles are
  // cluster-wide and may own objects in older scratch databases: reuse one
  // rather than dropping it.
  std::string LoginRole(const std::string& user, const std::string& password,
                        const std::string& attributes) {
    const bool exists =
        Query(
            absl::StrCat("SELECT 1 FROM pg_roles WHERE rolname = '", user, "'"))
            .has_value();
    Exec(absl::StrCat(exists ? "ALTER ROLE " : "CREATE ROLE ", user, " LOGIN ",
                      attributes, " PASSWORD '", password, "'"));
    return PgUri(dsn(), {{"user", user}, {"password", password}});
  }

  const std::string& EngineBase() const {
    return pooled() ? pooler_dsn_ : admin_dsn_;
  }

  // A pg_stat_user_tables counter of `table` once every backend has
  // reported it: this connection's own pending counts are flushed at its next
  // transaction end once forced, and so are a pool's server connections'
  // (which outlive the engine); other backends report when idle or at exit,
  // so poll until two reads a moment apart agree.
  int64_t SettledStat(const std::string& column, const std::string& table) {
    if (pooled()) FlushPoolStats(dsn());
    Exec("SELECT pg_stat_force_next_flush()");
    int64_t last = -1;
    for (int i = 0; i < 50; ++i) {
      Exec("SELECT pg_stat_clear_snapshot()");
      int64_t now = QueryInt(absl::StrCat(
          "SELECT coalesce(sum(", column,
          "), 0) FROM pg_stat_user_tables WHERE relname = '", table, "'"));
      if (now == last) return now;
      last = now;
      std::this_thread::sleep_for(std::chrono::milliseconds(600));
    }
    return last;
  }

  const std::string admin_dsn_;
  const std::string replica_dsn_;
  const std::string name_;
  const std::string pooler_dsn_;
  std::unique_ptr<pqxx::connection> conn_;
};

}  // namespace

std::unique_ptr<TestDb> CreatePostgresTestDb(const std::string& dsn,
                                             const std::string& replica_dsn,
                                             const std::string& name,
                                             const std::string& pooler_dsn) {
  {
    pqxx::connection admin(dsn);
    pqxx::nontransaction tx(admin);
    tx.exec("SET client_min_messages = warning");
    tx.exec(absl::StrCat("DROP DATABASE IF EXISTS ", name, " WITH (FORCE)"));
    tx.exec(absl::StrCat("CREATE DATABASE ", name));
  }
  return std::make_unique<PostgresTestDb>(dsn, replica_dsn, name, pooler_dsn);
}

}  // namespace backfill::testing
