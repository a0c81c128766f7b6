#ifndef BACKFILL_ADAPTERS_MYSQL_MYSQL_CONNECTION_H_
#define BACKFILL_ADAPTERS_MYSQL_MYSQL_CONNECTION_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "backfill/adapters/mysql/mysql_catalog.h"
#include "backfill/engine/dsn.h"

namespace backfill::mysql {

// How to open a session, from the DSN (see OpenMysql for the parameters).
struct ConnectionSettings {
  std::string host;  // empty: the client library's default
  int port = 0;      // 0: 3306
  std::string user;
  std::optional<std::string> password;
  std::string database;
  std::string socket;
  unsigned int connect_timeout_seconds = 10;
  // Client-side bound on each network read and write (MYSQL_OPT_READ_TIMEOUT,
  // MYSQL_OPT_WRITE_TIMEOUT): a peer that goes silent, behind a black-holed
  // network or a hung proxy, fails the statement as a lost connection
  // instead of blocking forever. 0 (default): no bound, for sessions whose
  // statements may legitimately run long.
  unsigned int read_timeout_seconds = 0;
  std::string ssl_mode;  // upper-case; empty: the client library's default
  std::string ssl_ca, ssl_capath, ssl_cert, ssl_key, ssl_cipher;
  // Option files, read by libmysqlclient itself (MYSQL_READ_DEFAULT_GROUP
  // "backfill": the [client] and [backfill] groups, and Connector/C's
  // [client-server] and [client-mariadb]) of `defaults_file`, or when it is
  // empty of the default files (/etc/my.cnf, /etc/mysql/my.cnf, ~/.my.cnf).
  // They fill in what the DSN leaves out (host, port, user, password,
  // socket, ssl-…); what the DSN gives wins.
  std::string defaults_file;
};

// Reads `dsn` and the password sources, in order: options.password, the
// DSN's, options.default_password; without any, libmysqlclient takes the
// option files' password, else MYSQL_PWD. kInvalidArgument for an unknown
// parameter or a bad value.
absl::StatusOr<ConnectionSettings> SettingsFromDsn(
    const Dsn& dsn, const ConnectOptions& options);

// What a statement without a result set reports.
struct ExecResult {
  uint64_t affected_rows = 0;  // changed rows (CLIENT_FOUND_ROWS is off)
  std::string info;  // mysql_info(), e.g. "Records: 3  Duplicates: 1  ..."
};

// One libmysqlclient session over the text protocol, set up for backfill:
// utf8mb4, autocommit on, a modest innodb_lock_wait_timeout, never
// CLIENT_MULTI_STATEMENTS (one statement per call, so a fragment can never
// start a second one) and never automatic reconnection (which would silently
// drop the transaction and the job lock). Errors are mapped by
// MapMysqlError, with the password scrubbed. Not thread-safe.
class MysqlConnection final : public SqlSession {
 public:
  static absl::StatusOr<std::unique_ptr<MysqlConnection>> Open(
      const ConnectionSettings& settings);
  ~MysqlConnection() override;

  absl::StatusOr<std::vector<SqlRow>> Query(const std::string& sql,
                                            absl::string_view context) override;
  // Like Query, also returning the column names.
  absl::StatusOr<std::vector<SqlRow>> QueryWithNames(
      const std::string& sql, absl::string_view context,
      std::vector<std::string>* names);
  // Runs a statement that returns no rows.
  absl::StatusOr<ExecResult> Exec(const std::string& sql,
                                  absl::string_view context);

  std::string Literal(absl::string_view value) const override;
  bool no_backslash_escapes() const { return no_backslash_escapes_; }
  // The session's default database (DATABASE()).
  const std::string& database() const { return database_; }

 private:
  struct Handle;
  MysqlConnection(std::unique_ptr<Handle> handle, std::string secret);
  absl::Status Error(absl::string_view context) const;
  absl::Status Run(const std::string& sql, absl::string_view context);
  // After connecting: autocommit, the lock wait timeout, and the sql_mode
  // and database Literal and the catalog need.
  absl::Status SetUpSession();

  std::unique_ptr<Handle> handle_;
  const std::string secret_;
  bool no_backslash_escapes_ = false;
  std::string database_;
};

}  // namespace backfill::mysql

#endif  // BACKFILL_ADAPTERS_MYSQL_MYSQL_CONNECTION_H_
