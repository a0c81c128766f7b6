#ifndef BACKFILL_TESTS_INTEGRATION_TEST_DB_H_
#define BACKFILL_TESTS_INTEGRATION_TEST_DB_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace backfill::testing {

// A plain SQL client to one of the real dev databases that scripts/dev-db
// starts, used by integration tests to set up tables and check results. Each
// test works in its own scratch database, created fresh and dropped after.
// Every method throws std::runtime_error on a database error.
class TestDb {
 public:
  virtual ~TestDb() = default;

  // "postgres" or "mariadb": the kinds whose DSN env variable is set
  // (BACKFILL_PG_DSN, BACKFILL_MYSQL_DSN). A kind listed in
  // BACKFILL_TEST_DATABASES (comma-separated; default "postgres,mariadb") whose
  // variable is missing makes Create throw, so a misconfigured CI fails
  // instead of skipping.
  static std::vector<std::string> Kinds();
  // Kinds() and, with "postgres", "pgbouncer": PostgreSQL through the dev
  // PgBouncer in transaction mode (BACKFILL_PGBOUNCER_DSN; missing makes
  // Create throw). kind() says "postgres" for it too; pooled() tells.
  static std::vector<std::string> KindsWithPooler();

  // Connects to `kind`'s server and creates an empty scratch database
  // `name` (dropped first if it exists), then connects to it.
  static std::unique_ptr<TestDb> Create(const std::string& kind, const std::string& name);

  virtual std::string kind() const = 0;
  // Whether dsn() goes through a pooler (the "pgbouncer" kind).
  virtual bool pooled() const { return false; }
  // DSN of the scratch database, password included: what the engine is
  // given (through the pooler when pooled()).
  virtual std::string dsn() const = 0;
  // The same database reached directly, never through a pooler; this
  // class's own connections use it.
  virtual std::string direct_dsn() const { return dsn(); }
  // The same DSN with another password (for wrong-password tests).
  virtual std::string dsn_with_password(const std::string& password) const = 0;
  // DSN of the scratch database on the streaming replica.
  virtual std::string replica_dsn() const = 0;

  // A second, independent connection to the same scratch database.
  virtual std::unique_ptr<TestDb> Connect() const = 0;

  virtual void Exec(const std::string& sql) = 0;
  // First column of the first row; nullopt for no row or NULL.
  virtual std::optional<std::string> Query(const std::string& sql) = 0;
  int64_t QueryInt(const std::string& sql);

  // Runs the statements in one transaction. Returns false (rolled back) on a
  // deadlock or lock timeout, which an application would retry.
  virtual bool Transaction(const std::vector<std::string>& statements) = 0;

  // Rows updated in `table` so far, as the server counts them
  // (pg_stat_user_tables.n_tup_upd; on MariaDB, which has no
  // Innodb_rows_updated, the userstat plugin's per-table ROWS_CHANGED less
  // the rows inserted). Rows an UPDATE left unchanged are not counted.
  // Waits until the count is settled.
  virtual int64_t RowsUpdated(const std::string& table) = 0;

  virtual bool TableExists(const std::string& table) = 0;

  // Creates (or re-creates) a login `user` with `password` and every
  // privilege on the scratch database; returns its DSN for the scratch
  // database. For tests that plant a password and look for it in output.
  virtual std::string CreateUser(const std::string& user, const std::string& password) = 0;

  // Creates (or resets) a login `user`, no superuser, that may read and
  // update `table` and keep backfill's own tables (backfill_checkpoints,
  // backfill_leases)
  // in the scratch database (and, on PostgreSQL, read pg_stat_replication
  // through pg_monitor, as lag watching needs), and nothing more; returns
  // its DSN.
  // RevokeUpdate takes UPDATE on `table` away again.
  virtual std::string CreateUpdater(const std::string& user, const std::string& password,
                                    const std::string& table) = 0;
  virtual void RevokeUpdate(const std::string& user, const std::string& table) = 0;

  // Sequential (full) scans of `table` so far, or -1 where the server does
  // not count them per table.
  virtual int64_t SequentialScans(const std::string& table) = 0;

  // Refreshes the planner's statistics of `table` (ANALYZE / ANALYZE TABLE).
  virtual void Analyze(const std::string& table) = 0;

  // Dialect helpers for portable test SQL.
  virtual std::string QuoteIdent(const std::string& name) const = 0;
  // INSERT INTO table (columns) SELECT <exprs> over g = 1..n; the
  // expressions refer to the series value as `g`.
  virtual std::string InsertSeries(const std::string& table, const std::string& columns,
                                   int64_t n, const std::string& exprs) const = 0;
  // An expression of `g` giving a distinct, unordered UUID-shaped string key.
  virtual std::string UuidFromG() const = 0;
  // The column type used for UUID keys.
  virtual std::string UuidType() const = 0;
};

}  // namespace backfill::testing

#endif  // BACKFILL_TESTS_INTEGRATION_TEST_DB_H_
