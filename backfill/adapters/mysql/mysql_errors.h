#ifndef BACKFILL_ADAPTERS_MYSQL_MYSQL_ERRORS_H_
#define BACKFILL_ADAPTERS_MYSQL_MYSQL_ERRORS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace backfill::mysql {

// The status code for a server or client error number (mysql_errno) and its
// SQLSTATE (mysql_sqlstate; "HY000" when there is no specific one). The code
// carries the retry policy (see backfill/engine/database.h):
//   kAborted: 1213 deadlock, 1205 lock wait timeout, 1317 interrupted,
//     3024/1969 statement timeout; SQLSTATE class 40.
//   kUnavailable: client errors 2002/2003/2005 (cannot connect), 2006 gone
//     away, 2013/2055 lost connection, 2026 TLS; server 1040 too many
//     connections, 1053 shutdown, 1152/1158-1161 network, 1927 connection
//     killed, 1290/1792/1836 read-only (the primary moved: a failover, or
//     read_only / super_read_only set), 4031 idle disconnect;
//     SQLSTATE class 08.
//   kUnauthenticated: 1045/1698 access denied; SQLSTATE class 28.
//   kPermissionDenied: 1044 database, 1142/1143 table/column, 1227.
//   kNotFound: 1146 table, 1054 column, 1049 database, 1051, 1109,
//     1305/1630 function.
//   kInvalidArgument: 1064 syntax and the other schema/type errors: SQLSTATE
//     classes 42, 22 and 21, and 1052, 1093, 1221, 1235, 1267, 1270, 1271,
//     1292, 1366, 1411, 1906, 3105 (ambiguous column, collation mixes, bad
//     values, generated columns, ...).
//   kResourceExhausted: 1021 disk full, 1114 table full (IsDiskFull).
//   kInternal: anything else (constraint violations, ...).
absl::StatusCode CodeForMysqlError(unsigned int error,
                                   absl::string_view sqlstate = "HY000");

// Whether `error` says the server takes no writes (1290, 1792, 1836).
bool IsReadOnly(unsigned int error);

// Whether `error` says the server is out of space (1021, 1114): kept as
// kResourceExhausted, which no retry can fix until space is freed.
bool IsDiskFull(unsigned int error);

// The one place a MySQL/MariaDB error becomes an absl::Status: the code from
// CodeForMysqlError, and the message `context: <server message> (MySQL error
// N)` on one line, with `secret` (the connection password) scrubbed out. A
// read-only server's message says the primary may have moved; a 1290 for
// another --option than read-only is kFailedPrecondition.
absl::Status MapMysqlError(unsigned int error, absl::string_view sqlstate,
                           absl::string_view message, absl::string_view context,
                           absl::string_view secret);

}  // namespace backfill::mysql

#endif  // BACKFILL_ADAPTERS_MYSQL_MYSQL_ERRORS_H_
