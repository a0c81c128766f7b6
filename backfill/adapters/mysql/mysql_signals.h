#ifndef BACKFILL_ADAPTERS_MYSQL_MYSQL_SIGNALS_H_
#define BACKFILL_ADAPTERS_MYSQL_MYSQL_SIGNALS_H_

#include "backfill/adapters/session_signals.h"

namespace backfill::mysql {

// The MySQL/MariaDB side of the pacing signals
// (backfill/adapters/session_signals.h): sessions on the adapter's
// MysqlConnection with a 2s connect timeout (unless the DSN sets
// connect-timeout), every statement bounded by the server (MariaDB
// max_statement_time, MySQL max_execution_time) and by a client read timeout
// one second past it; the heartbeat's SQL (UTC_TIMESTAMP(6) on both ends); the
// load from SHOW GLOBAL STATUS.
const SignalDialect& Signals();

}  // namespace backfill::mysql

#endif  // BACKFILL_ADAPTERS_MYSQL_MYSQL_SIGNALS_H_
