#include "backfill/adapters/mysql/mysql_errors.h"

#include <initializer_list>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "backfill/engine/dsn.h"

namespace backfill::mysql {
namespace {

bool In(unsigned int error, std::initializer_list<unsigned int> set) {
  for (unsigned int e : set) {
    if (e == error) return true;
  }
  return false;
}

// Messages are one line; a syntax error quotes the statement "near '...'",
// which can span lines and run long.
std::string OneLine(absl::string_view message) {
  std::string out;
  for (char c : absl::StripAsciiWhitespace(message)) {
    out.push_back(c == '\n' || c == '\r' || c == '\t' ? ' ' : c);
  }
  constexpr size_t kMax = 400;
  if (out.size() > kMax) out = absl::StrCat(out.substr(0, kMax), "...");
  return out;
}

}  // namespace

bool IsReadOnly(unsigned int e) {
  // 1290 the server runs with --read-only (or MySQL's --super-read-only);
  // 1792 a read-only transaction; 1836 a read-only (slave) mode.
  return In(e, {1290, 1792, 1836});
}

bool IsDiskFull(unsigned int e) {
  // 1021 disk full; 1114 the table is full (InnoDB: its tablespace could not
  // grow); 3 and 1030 carry errno 28 in their message, not here.
  return In(e, {1021, 1114});
}

absl::StatusCode CodeForMysqlError(unsigned int e, absl::string_view sqlstate) {
  // The transaction (or the statement, for 1205) rolled back: retry the chunk.
  if (In(e, {1213, 1205, 1317, 3024, 1969})) return absl::StatusCode::kAborted;
  // The connection is gone or the server cannot take writes now: reconnect.
  // 2002 socket, 2003 TCP connect, 2005 unknown host, 2006 gone away,
  // 2013 lost during query, 2026 TLS, 2055 lost at handshake/reading.
  if (In(e, {2002, 2003, 2005, 2006, 2013, 2026, 2055, 1040, 1053, 1152, 1158,
             1159, 1160, 1161, 1927, 4031}) ||
      IsReadOnly(e)) {
    return absl::StatusCode::kUnavailable;
  }
  if (IsDiskFull(e)) return absl::StatusCode::kResourceExhausted;
  if (In(e, {1045, 1698})) return absl::StatusCode::kUnauthenticated;
  if (In(e, {1044, 1142, 1143, 1227}))
    return absl::StatusCode::kPermissionDenied;
  if (In(e, {1146, 1054, 1049, 1051, 1109, 1305, 1630})) {
    return absl::StatusCode::kNotFound;
  }
  // Syntax and schema/type errors whose SQLSTATE is not class 42/22/21:
  // 1052 ambiguous column (23000), 1093 target table in FROM, 1221 incorrect
  // usage, 1235 not supported, 1267/1270/1271 illegal mix of collations, 1292
  // truncated incorrect value, 1366 incorrect value, 1411 incorrect value for
  // function, 1906/3105 value for a generated column.
  if (In(e, {1064, 1052, 1093, 1221, 1235, 1267, 1270, 1271, 1292, 1366, 1411,
             1906, 3105})) {
    return absl::StatusCode::kInvalidArgument;
  }
  if (absl::StartsWith(sqlstate, "42") || absl::StartsWith(sqlstate, "22") ||
      absl::StartsWith(sqlstate, "21")) {
    return absl::StatusCode::kInvalidArgument;
  }
  if (absl::StartsWith(sqlstate, "08")) return absl::StatusCode::kUnavailable;
  if (absl::StartsWith(sqlstate, "40")) return absl::StatusCode::kAborted;
  if (absl::StartsWith(sqlstate, "28"))
    return absl::StatusCode::kUnauthenticated;
  return absl::StatusCode::kInternal;
}

absl::Status MapMysqlError(unsigned int error, absl::string_view sqlstate,
                           absl::string_view message, absl::string_view context,
                           absl::string_view secret) {
  // Scrub before shortening, so that no cut leaves half a password behind.
  // 1290 also stands for other --options that prevent a statement; only a
  // read-only server is a primary that moved.
  const bool read_only = IsReadOnly(error) &&
                         (error != 1290 || absl::StrContains(message, "read"));
  absl::StatusCode code = CodeForMysqlError(error, sqlstate);
  if (error == 1290 && !read_only) code = absl::StatusCode::kFailedPrecondition;
  return absl::Status(
      code, absl::StrCat(OneLine(ScrubSecret(context, secret)), ": ",
                         read_only ? "the server is read-only (has the primary "
                                     "moved?): "
                         : IsDiskFull(error)
                             ? "the database server's disk is full (or the "
                               "table's storage): "
                             : "",
                         OneLine(ScrubSecret(message, secret)),
                         " (MySQL error ", error, ")"));
}

}  // namespace backfill::mysql
