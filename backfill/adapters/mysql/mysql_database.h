#ifndef BACKFILL_ADAPTERS_MYSQL_MYSQL_DATABASE_H_
#define BACKFILL_ADAPTERS_MYSQL_MYSQL_DATABASE_H_

#include <memory>

#include "absl/status/statusor.h"
#include "backfill/engine/database.h"
#include "backfill/engine/dsn.h"

namespace backfill {

// Connects to MySQL or MariaDB through the libmysqlclient C API (MariaDB
// Connector/C on Debian). `dsn` must be a mysql kind.
//
// A password comes from, in order: `options.password`, the DSN, MYSQL_PWD.
// DSN query parameters: ssl-mode (DISABLED, PREFERRED, REQUIRED, VERIFY_CA,
// VERIFY_IDENTITY), ssl-ca, ssl-capath, ssl-cert, ssl-key, ssl-cipher,
// connect-timeout (seconds, default 10), socket (a Unix socket path); `_`
// may stand for `-`. Any other parameter is kInvalidArgument.
//
// The session runs with autocommit on outside chunk transactions, utf8mb4,
// innodb_lock_wait_timeout = 10 s, then each chunk's
// ChunkRequest::lock_timeout (default 2 s, whole seconds; a chunk waiting
// longer is retried, smaller), and the server's own sql_mode and isolation
// level: user
// expressions are MySQL SQL as the application runs it.
//
// Fails with kUnavailable (unreachable), kUnauthenticated (bad password),
// kNotFound (no such database) or kInvalidArgument (bad parameter); messages
// never hold the password.
absl::StatusOr<std::unique_ptr<Database>> OpenMysql(
    const Dsn& dsn, const ConnectOptions& options);

}  // namespace backfill

#endif  // BACKFILL_ADAPTERS_MYSQL_MYSQL_DATABASE_H_
