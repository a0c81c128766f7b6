// TestDb for MariaDB (and MySQL 8), through the libmysqlclient C API. Test
// support only: the product's MySQL code is backfill/adapters/mysql/.

#include <mysql.h>

#include <map>
#include <stdexcept>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "backfill/engine/dsn.h"
#include "tests/integration/test_db.h"

namespace backfill::testing {
namespace {

Dsn ParseOrThrow(const std::string& text) {
  absl::StatusOr<Dsn> dsn = ParseDsn(text);
  if (!dsn.ok()) throw std::runtime_error(std::string(dsn.status().message()));
  return *std::move(dsn);
}

std::string WithDatabase(const std::string& dsn_text, const std::string& db,
                         std::optional<std::string> password = std::nullopt) {
  Dsn dsn = ParseOrThrow(dsn_text);
  dsn.database = db;
  if (password.has_value()) dsn.password = password;
  return dsn.ToUri();
}

// A plain connection: autocommit, utf8mb4, deep recursive CTEs for
// InsertSeries.
class Connection {
 public:
  explicit Connection(const std::string& dsn_text)
      : mysql_(mysql_init(nullptr)) {
    const Dsn dsn = ParseOrThrow(dsn_text);
    mysql_options(mysql_, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (mysql_real_connect(
            mysql_, dsn.host.c_str(), dsn.user.c_str(),
            dsn.password.has_value() ? dsn.password->c_str() : nullptr,
            dsn.database.empty() ? nullptr : dsn.database.c_str(),
            static_cast<unsigned int>(dsn.port), nullptr, 0) == nullptr) {
      const std::string error = mysql_error(mysql_);
      mysql_close(mysql_);
      throw std::runtime_error("cannot connect to MariaDB: " + error);
    }
    // MariaDB and MySQL 8 name the recursion limit differently (default 1000
    // on both); each server rejects the other's, which is ignored.
    for (const char* limit :
         {"max_recursive_iterations", "cte_max_recursion_depth"}) {
      (void)mysql_query(
          mysql_, absl::StrCat("SET SESSION ", limit, " = 100000000").c_str());
    }
  }
  ~Connection() { mysql_close(mysql_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs `sql`; returns the first column of the first row, if any. Throws,
  // or returns mysql_errno through `error` when given.
  std::optional<std::string> Run(const std::string& sql,
                                 unsigned int* error = nullptr) {
    if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) {
      if (error != nullptr) {
        *error = mysql_errno(mysql_);
        return std::nullopt;
      }
      throw std::runtime_error(absl::StrCat(mysql_error(mysql_), " in: ", sql));
    }
    MYSQL_RES* res = mysql_store_result(mysql_);
    if (res == nullptr) {
      if (mysql_field_count(mysql_) != 0) {
        throw std::runtime_error(
            absl::StrCat(mysql_error(mysql_), " in: ", sql));
      }
      return std::nullopt;
    }
    std::optional<std::string> out;
    if (MYSQL_ROW row = mysql_fetch_row(res);
        row != nullptr && row[0] != nullptr) {
      out = std::string(row[0], mysql_fetch_lengths(res)[0]);
    }
    mysql_free_result(res);
    return out;
  }

 private:
  MYSQL* mysql_;
};

class MysqlTestDb final : public TestDb {
 public:
  MysqlTestDb(std::string admin_dsn, std::string replica_dsn, std::string name)
      : admin_dsn_(std::move(admin_dsn)),
        replica_dsn_(std::move(replica_dsn)),
        name_(std::move(name)),
        conn_(std::make_unique<Connection>(dsn())) {}

  std::string kind() const override { return "mariadb"; }
  std::string dsn() const override { return WithDatabase(admin_dsn_, name_); }
  std::string dsn_with_password(const std::string& pw) const override {
    return WithDatabase(admin_dsn_, name_, pw);
  }
  std::string replica_dsn() const override {
    return WithDatabase(replica_dsn_, name_);
  }

  std::unique_ptr<TestDb> Connect() const override {
    return std::make_unique<MysqlTestDb>(admin_dsn_, replica_dsn_, name_);
  }

  void Exec(const std::string& sql) override { conn_->Run(sql); }

  std::optional<std::string> Query(const std::string& sql) override {
    return conn_->Run(sql);
  }

  bool Transaction(const std::vector<std::string>& statements) override {
    conn_->Run("START TRANSACTION");
    for (const std::string& s : statements) {
      unsigned int error = 0;
      conn_->Run(s, &error);
      if (error == 0) continue;
      conn_->Run("ROLLBACK");
      if (error == 1213 || error == 1205)
        return false;  // deadlock, lock wait timeout
      throw std::runtime_error(
          absl::StrCat("MariaDB error ", error, " in: ", s));
    }
    conn_->Run("COMMIT");
    return true;
  }

  // MariaDB 10.11 has no Innodb_rows_updated, and Handler_update is
  // server-wide. The user-statistics plugin (userstat, switched on by
  // CreateMysqlTestDb) counts, per table, the rows each statement actually
  // inserted, changed or deleted, as soon as the statement ends; rows an
  // UPDATE or ON DUPLICATE KEY UPDATE left as they were are not counted.
  // Tests never delete, so the rows inserted are the table's row count and
  // the rest were updates. The entry goes with the table when the scratch
  // database is dropped.
  int64_t RowsUpdated(const std::string& table) override {
    const int64_t changed = QueryInt(
        absl::StrCat("SELECT coalesce(sum(ROWS_CHANGED), 0) FROM "
                     "information_schema.TABLE_STATISTICS "
                     "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '",
                     table, "'"));
    return changed -
           QueryInt(absl::StrCat("SELECT count(*) FROM ", QuoteIdent(table)));
  }

  bool TableExists(const std::string& table) override {
    return QueryInt(absl::StrCat(
               "SELECT count(*) FROM information_schema.TABLES "
               "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '",
               table, "'")) > 0;
  }

  std::string CreateUser(const std::string& user,
                         const std::string& password) override {
    std::string dsn = Login(user, password);
    Exec(absl::StrCat("GRANT ALL PRIVILEGES ON ", QuoteIdent(name_), ".* TO ",
                      Account(user)));
    return dsn;
  }

  std::string CreateUpdater(const std::string& user,
                            const std::string& password,
                            const std::string& table) override {
    // Table-level grants only: a REVOKE on the table then takes effect
    // (a database-level UPDATE would still cover it).
    std::string dsn = Login(user, password);
    Exec(absl::StrCat("GRANT SELECT, UPDATE ON ", QuoteIdent(name_), ".",
                      QuoteIdent(table), " TO ", Account(user)));
    for (const char* own : {"`backfill_checkpoints`", "`backfill_leases`"}) {
      Exec(absl::StrCat("GRANT ALL PRIVILEGES ON ", QuoteIdent(name_), ".", own,
                        " TO ", Account(user)));
    }
    return dsn;
  }

  void RevokeUpdate(const std::string& user,
                    const std::string& table) override {
    Exec(absl::StrCat("REVOKE UPDATE ON ", QuoteIdent(name_), ".",
                      QuoteIdent(table), " FROM ", Account(user)));
  }

  void Analyze(const std::string& table) override {
    Query("ANALYZE TABLE " + QuoteIdent(table));  // returns a status row
  }

  // Rows read without an index (full scans) need performance_schema, which
  // MariaDB starts only when configured to (off on the dev servers).
  int64_t SequentialScans(const std::string& table) override {
    if (Query("SELECT @@performance_schema") != "1") return -1;
    return QueryInt(
        absl::StrCat("SELECT coalesce(sum(COUNT_FETCH), 0) FROM "
                     "performance_schema.table_io_waits_summary_by_index_usage "
                     "WHERE OBJECT_SCHEMA = DATABASE() AND OBJECT_NAME = '",
                     table, "' AND INDEX_NAME IS NULL"));
  }

  std::string QuoteIdent(const std::string& name) const override {
    std::string out = "`";
    for (char c : name) {
      if (c == '`') out.push_back('`');
      out.push_back(c);
    }
    return out + "`";
  }

  std::string InsertSeries(const std::string& table, const std::string& columns,
                           int64_t n, const std::string& exprs) const override {
    // INSERT ... WITH ... SELECT: MariaDB 10.2+ and MySQL 8.0.
    return absl::StrCat(
        "INSERT INTO ", table, " (", columns,
        ") WITH RECURSIVE seq(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM seq "
        "WHERE g < ",
        n, ") SELECT ", exprs, " FROM seq");
  }

  std::string UuidFromG() const override {
    return "concat_ws('-', substr(md5(g), 1, 8), substr(md5(g), 9, 4), "
           "substr(md5(g), 13, 4), "
           "substr(md5(g), 17, 4), substr(md5(g), 21, 12))";
  }
  std::string UuidType() const override { return "CHAR(36)"; }

 private:
  static std::string Account(const std::string& user) {
    return absl::StrCat("'", user, "'@'127.0.0.1'");
  }

  // Accounts are server-wide: creates `user` once, then resets its password;
  // returns its DSN for the scratch database. Grants are the caller's.
  std::string Login(const std::string& user, const std::string& password) {
    Exec(absl::StrCat("CREATE USER IF NOT EXISTS ", Account(user)));
    Exec(absl::StrCat("ALTER USER ", Account(user), " IDENTIFIED BY '",
                      password, "'"));
    Dsn dsn = ParseOrThrow(this->dsn());
    dsn.user = user;
    dsn.password = password;
    return dsn.ToUri();
  }

  const std::string admin_dsn_;
  const std::string replica_dsn_;
  const std::string name_;
  std::unique_ptr<Connection> conn_;
};

}  // namespace

std::unique_ptr<TestDb> CreateMysqlTestDb(const std::string& dsn,
                                          const std::string& replica_dsn,
                                          const std::string& name) {
  {
    Connection admin(dsn);
    // Per-table row counters for RowsUpdated (a dynamic, server-wide switch).
    admin.Run("SET GLOBAL userstat = 1");
    admin.Run(absl::StrCat("DROP DATABASE IF EXISTS `", name, "`"));
    admin.Run(
        absl::StrCat("CREATE DATABASE `", name, "` CHARACTER SET utf8mb4"));
  }
  return std::make_unique<MysqlTestDb>(dsn, replica_dsn, name);
}

}  // namespace backfill::testing
