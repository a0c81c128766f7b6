#ifndef BACKFILL_ADAPTERS_POSTGRES_PG_CONNINFO_H_
#define BACKFILL_ADAPTERS_POSTGRES_PG_CONNINFO_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "backfill/engine/dsn.h"

namespace backfill::pg {

// A PostgreSQL connection string as libpq parses it (PQconninfoParse):
// postgresql:// and postgres:// URIs with one or several hosts, key/value
// strings ("host=… port=… dbname=…", quoted values), every libpq parameter.
// Holds only the parameters the string names; libpq adds the rest (service
// file, PG* variables, ~/.pgpass) when it connects. A value type.
class Conninfo {
 public:
  // kInvalidArgument "bad --dsn: <libpq's reason>" when libpq refuses the
  // string, or for a URI whose '@' libpq would read differently from what
  // was meant (an unencoded '@', '/' or '?' in the user name or password).
  // The message never shows any part of a password.
  static absl::StatusOr<Conninfo> Parse(absl::string_view text);

  // The value of `keyword` as given, or nullptr.
  const std::string* Find(absl::string_view keyword) const;
  void Set(absl::string_view keyword, std::string value);

  // A key/value string of the parameters, password included: for libpq
  // only, never for output.
  std::string ToString() const;

  // "host:port[,host:port…]" for names and messages (replica=…): the hosts
  // and ports the string names, libpq's defaults (PGHOST, PGPORT, localhost,
  // 5432) where it names none, or "service=NAME" when a service file holds
  // them. Never a password.
  std::string Label() const;

 private:
  std::vector<std::pair<std::string, std::string>> options_;
};

// What a backfill session hands libpq, and the password to scrub from
// whatever it reports.
struct ConnectTarget {
  std::string conninfo;
  std::string secret;  // empty when only libpq knows it (~/.pgpass, service)
  std::string label;   // Conninfo::Label
};

// Parses options.dsn and applies backfill's choices to it:
//   options.password (--password-file) replaces any password;
//   options.default_password is used when the string names none;
//   connect_timeout = `connect_timeout_seconds` unless the string or
//     PGCONNECT_TIMEOUT sets one (a service file's is overridden);
//   keepalives_idle = 10, keepalives_interval = 5, keepalives_count = 3
//     unless the string sets keepalives or keepalives_idle;
//   fallback_application_name = `application_name`, so an application_name
//     of the string, a service file or PGAPPNAME wins.
// Fails like Conninfo::Parse; kInvalidArgument when options.defaults_file is
// set (MySQL only).
absl::StatusOr<ConnectTarget> BuildConnectTarget(
    const ConnectOptions& options, absl::string_view application_name,
    int connect_timeout_seconds);

// Opens a connection of its own to `conninfo`, starts a transaction on it
// and ends it: the error message when that fails (PgBouncer in statement
// pooling mode closes the connection with "transaction blocks not allowed
// in statement pooling mode"), or "" when a transaction works. libpqxx
// loses that message on the connection it closes, hence libpq itself.
std::string TransactionRefusal(const std::string& conninfo);

}  // namespace backfill::pg

#endif  // BACKFILL_ADAPTERS_POSTGRES_PG_CONNINFO_H_
