#ifndef BACKFILL_ENGINE_DSN_H_
#define BACKFILL_ENGINE_DSN_H_

#include <optional>
#include <string>
#include "absl/strings/string_view.h"
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace backfill {

enum class DatabaseKind { kPostgres, kMysql };

// A parsed connection URI:
//   postgresql://user[:password]@host[:port]/db[?param=value&...]
//   (also postgres://)
//   mysql://user[:password]@host[:port]/db[?param=value&...]
// Components are percent-decoded.
struct Dsn {
  DatabaseKind kind = DatabaseKind::kPostgres;
  std::string user;
  std::optional<std::string> password;
  std::string host;
  int port = 0;  // 0 = the driver's default
  std::string database;
  std::vector<std::pair<std::string, std::string>> params;

  // Re-encodes the DSN as a URI, password included (for the driver only).
  std::string ToUri() const;
  // The URI with any password replaced by "***": safe to print.
  std::string ToRedactedUri() const;
};

// Parses `uri`. kInvalidArgument, with a message that never echoes the
// password, when it is not one of the forms above.
absl::StatusOr<Dsn> ParseDsn(absl::string_view uri);

// Replaces every password-looking part of a DSN or conninfo string
// ("user:secret@", "password=secret") with "***". For text that may not
// parse; safe to call on anything.
std::string RedactDsn(absl::string_view text);

// Replaces each occurrence of `secret` in `text` with "***" (no-op when the
// secret is empty). Used on driver error messages as a last line of defence.
std::string ScrubSecret(absl::string_view text, absl::string_view secret);

// How to reach a database: the DSN plus an optional password that overrides
// the DSN's (from --password-file). Environment variables (PGPASSWORD,
// MYSQL_PWD) are read by the adapters when neither gives one.
struct ConnectOptions {
  std::string dsn;
  std::optional<std::string> password;
};

}  // namespace backfill

#endif  // BACKFILL_ENGINE_DSN_H_
