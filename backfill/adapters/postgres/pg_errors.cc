#include "backfill/adapters/postgres/pg_errors.h"

#include <pqxx/except>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "backfill/engine/dsn.h"

namespace backfill::pg {
namespace {

// libpq messages span lines ("ERROR:  x\nLINE 1: ...\n   ^"). Keep the first
// line, minus the severity prefix.
std::string FirstLine(absl::string_view message) {
  absl::string_view line = message.substr(0, message.find('\n'));
  for (absl::string_view prefix :
       {"ERROR:  ", "FATAL:  ", "ERROR: ", "FATAL: "}) {
    if (absl::ConsumePrefix(&line, prefix)) break;
  }
  // Connection failures read "connection to server at ... failed: FATAL: ...".
  if (size_t fatal = line.find("FATAL:  "); fatal != absl::string_view::npos) {
    line = line.substr(fatal + 8);
  }
  return std::string(absl::StripAsciiWhitespace(line));
}

}  // namespace

absl::StatusCode CodeForSqlState(absl::string_view s) {
  // 40003 statement_completion_unknown: the commit may or may not have
  // happened (libpqxx 7 reports it as an sql_error with this SQLSTATE).
  // 25006 read_only_sql_transaction: the server no longer takes writes (a
  // primary turned standby or read-only): the primary moved, reconnect.
  if (absl::StartsWith(s, "08") || s == "57P01" || s == "57P02" ||
      s == "57P03" || s == "40003" || s == "25006") {
    return absl::StatusCode::kUnavailable;
  }
  if (s == "40001" || s == "40P01" || s == "55P03" || s == "57014") {
    return absl::StatusCode::kAborted;
  }
  // 53100 disk_full: retrying cannot help until space is freed.
  if (s == "53100") return absl::StatusCode::kResourceExhausted;
  if (absl::StartsWith(s, "28")) return absl::StatusCode::kUnauthenticated;
  if (s == "42501") return absl::StatusCode::kPermissionDenied;
  if (s == "42P01" || s == "42703" || s == "42883" || s == "3D000" ||
      s == "3F000") {
    return absl::StatusCode::kNotFound;
  }
  if (absl::StartsWith(s, "42") || absl::StartsWith(s, "22")) {
    return absl::StatusCode::kInvalidArgument;
  }
  return absl::StatusCode::kInternal;
}

absl::Status MapPgError(const std::exception& e, absl::string_view context,
                        absl::string_view secret) {
  absl::StatusCode code = absl::StatusCode::kInternal;
  std::string message = FirstLine(e.what());
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    code = CodeForSqlState(sql->sqlstate());
    if (sql->sqlstate() == "25006") {
      message = absl::StrCat(
          "the server is read-only (has the primary moved?): ", message);
    } else if (sql->sqlstate() == "53100") {
      message = absl::StrCat("the database server's disk is full: ", message);
    }
  } else if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr ||
             dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr ||
             dynamic_cast<const pqxx::statement_completion_unknown*>(&e) !=
                 nullptr) {
    // Includes a commit whose acknowledgement was lost: the checkpoint row
    // tells whether it happened.
    code = absl::StatusCode::kUnavailable;
  } else if (dynamic_cast<const pqxx::deadlock_detected*>(&e) != nullptr ||
             dynamic_cast<const pqxx::serialization_failure*>(&e) != nullptr) {
    code = absl::StatusCode::kAborted;
  }
  // Connection-time failures arrive without a SQLSTATE; read the text.
  if (code == absl::StatusCode::kUnavailable) {
    if (absl::StrContains(message, "password authentication failed") ||
        absl::StrContains(message, "no password supplied")) {
      code = absl::StatusCode::kUnauthenticated;
    } else if (absl::StrContains(message, "does not exist")) {
      code = absl::StatusCode::kNotFound;  // database or role
    }
  }
  return absl::Status(
      code, ScrubSecret(absl::StrCat(context, ": ", message), secret));
}

}  // namespace backfill::pg
