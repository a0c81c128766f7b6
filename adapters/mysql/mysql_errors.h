#ifndef BACKFILL_ADAPTERS_MYSQL_MYSQL_ERRORS_H_
#define BACKFILL_ADAPTERS_MYSQL_MYSQL_ERRORS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace backfill::mysql {

// The status code for a server or client error number (mysql_errno) and its
// SQLSTATE (mysql_sqlstate; "HY000" when the server has no specific one).
// The code carries the retry policy (see engine/database.h):
//   1213 deadlock, 1205 lock wait timeout, 1317 query interrupted,
//   3024/1969 statement timeout                                -> kAborted
//   2002/2003/2005/2006/2013/2055/2026 client connection errors,
//   1040 too many connections, 1053 shutdown, 1152/1158-1161
//   network, 1927 connection killed, 1290/1836 read-only
//   (failover), 4031 idle disconnect                           -> kUnavailable
//   1045/1698 access denied                                    ->
//   kUnauthenticated 1044 db access, 1142/1143 table/column access, 1227 ->
//   kPermissionDenied 1146 no such table, 1054 unknown column, 1049 unknown db,
//   1051, 1109, 1305/1630 no such function                     -> kNotFound
//   1064 syntax and other schema/type errors (SQLSTATE class
//   42, 22, 21, and known HY000 ones such as illegal mix of
//   collations)                                                ->
//   kInvalidArgument anything else (constraint violations, disk full, ...) ->
//   kInternal
absl::StatusCode CodeForMysqlError(unsigned int error,
                                   absl::string_view sqlstate = "HY000");

// The one place a MySQL/MariaDB error becomes an absl::Status: the code from
// CodeForMysqlError, and the message `context: <server message> (MySQL error
// N)` on one line, with `secret` (the connection password) scrubbed out.
absl::Status MapMysqlError(unsigned int error, absl::string_view sqlstate,
                           absl::string_view message, absl::string_view context,
                           absl::string_view secret);

}  // namespace backfill::mysql

#endif  // BACKFILL_ADAPTERS_MYSQL_MYSQL_ERRORS_H_
