#ifndef BACKFILL_ENGINE_DSN_H_
#define BACKFILL_ENGINE_DSN_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace backfill {

enum class DatabaseKind { kPostgres, kMysql };

// Which database a --dsn names: "mysql://…" is MySQL/MariaDB; anything else
// is a PostgreSQL connection string as libpq takes it (a postgresql:// or
// postgres:// URI with one or several hosts, "host=… dbname=…" key/value
// pairs, "service=NAME", or even the empty string: the PG* variables).
DatabaseKind DsnKind(absl::string_view text);

// A connection string, as far as the engine reads it.
//
// MySQL: a parsed URI, components percent-decoded:
//   mysql://[user[:password]@][host[:port]]/db[?param=value&...]
// (host, user and password may also come from option files, see
// ConnectOptions::defaults_file).
//
// PostgreSQL: only `kind` and `text` are set. The string is libpq's to parse
// (backfill/adapters/postgres/pg_conninfo.h): the engine never takes it apart,
// so every libpq form and parameter works.
struct Dsn {
  DatabaseKind kind = DatabaseKind::kPostgres;
  std::string text;  // the string as given
  std::string user;
  std::optional<std::string> password;
  std::string host;
  int port = 0;  // 0 = the driver's default
  std::string database;
  std::vector<std::pair<std::string, std::string>> params;

  // MySQL: re-encodes the DSN as a URI, password included (for the driver
  // only). PostgreSQL: `text`.
  std::string ToUri() const;
  // The URI with any password replaced by "***": safe to print.
  std::string ToRedactedUri() const;
};

// Parses `text` (see Dsn). kInvalidArgument for a malformed mysql:// URI,
// with a message that never echoes the password. PostgreSQL strings always
// parse here; libpq finds their mistakes when the adapter opens them.
absl::StatusOr<Dsn> ParseDsn(absl::string_view text);

// `s` percent-encoded for a URI component: every byte but the unreserved
// characters (RFC 3986: letters, digits, - _ . ~) as %XX.
std::string PercentEncode(absl::string_view s);

// Replaces every password-looking part of a DSN or conninfo string
// ("user:secret@", "password=secret") with "***". For text that may not
// parse; safe to call on anything. Errs on the side of hiding: in a URI
// whose password holds an unencoded '@', '/' or '?', everything from the
// first ':' after the scheme to the last '@' is hidden.
std::string RedactDsn(absl::string_view text);

// The parts of `text` that RedactDsn hides, as they appear in it (quotes
// included). For scrubbing what a driver may echo of a string it could not
// parse.
std::vector<std::string> FindPasswords(absl::string_view text);

// Replaces each occurrence of `secret` in `text` with "***" (no-op when the
// secret is empty). Used on driver error messages as a last line of defence.
std::string ScrubSecret(absl::string_view text, absl::string_view secret);

// How to reach a database.
struct ConnectOptions {
  std::string dsn;
  // Overrides any password the DSN or the driver's own sources give
  // (--password-file).
  std::optional<std::string> password;
  // Used only when the DSN itself names no password (a --replica without
  // one gets --password-file's); the driver's own sources (PGPASSWORD,
  // ~/.pgpass, a service file; MySQL option files, MYSQL_PWD) come after it.
  std::optional<std::string> default_password;
  // MySQL: read client options (host, user, password, port, ssl-…) from this
  // option file instead of the default ones (/etc/my.cnf, ~/.my.cnf, …),
  // groups [client] and [backfill]. Empty: the default files. PostgreSQL
  // refuses it (libpq reads service files and ~/.pgpass itself).
  std::string defaults_file;
  // The bound on the copier's own connection (ConnectDatabase; the pacing
  // signals bound theirs themselves), so that no wait on the primary is
  // unbounded. On the server: a chunk's statement that runs longer is
  // cancelled (PostgreSQL statement_timeout, MariaDB max_statement_time,
  // MySQL max_execution_time for SELECTs only) and the chunk is retried
  // smaller (kAborted); a transaction of ours left idle that long, because
  // its client vanished, is ended by the server with its locks
  // (PostgreSQL idle_in_transaction_session_timeout, MariaDB
  // idle_transaction_timeout). On the client: a call that hears nothing for
  // kSilenceGrace past it (a black-holed network, a hung proxy: the
  // server's own error cannot arrive) drops the connection as lost
  // (kUnavailable; the run reconnects and trusts the checkpoint), through
  // a watchdog on PostgreSQL and the read and write timeouts on MySQL.
  // Zero: none of these. (Every connection also sends TCP keepalives, 10s
  // idle then every 5s, 3 probes, unless the DSN sets its own, so that a
  // dead peer is noticed even between statements.)
  absl::Duration statement_timeout = absl::Seconds(30);
  static constexpr absl::Duration kSilenceGrace = absl::Seconds(5);
};

}  // namespace backfill

#endif  // BACKFILL_ENGINE_DSN_H_
