#ifndef BACKFILL_ADAPTERS_SESSION_SIGNALS_H_
#define BACKFILL_ADAPTERS_SESSION_SIGNALS_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "backfill/adapters/signal_factory.h"
#include "backfill/engine/dsn.h"
#include "backfill/engine/pacer.h"
#include "backfill/engine/probe_signal.h"
#include "backfill/throttle/signal.h"

// The pacing signals written once, over the one thing each database adapter
// provides for them: a SignalSession. The adapters supply the SQL of their
// dialect (HeartbeatSql) and the session; what a reading means, how it
// fails and what is bad input at open is decided here.

namespace backfill {

// One result row, each field as text; nullopt for SQL NULL.
using SignalRow = std::vector<std::optional<std::string>>;

// A signal's own connection, as each adapter implements it: opened lazily
// and re-opened on the next call after it broke; every statement bounded by
// a timeout on the server and by a client-side bound past it (a server that
// has gone silent sends no error); session settings that cannot outlive one
// transaction on a pooled server connection. Errors come mapped to a
// Status (kUnavailable: the connection is gone and is dropped), passwords
// scrubbed. Not thread-safe: one poller thread per session.
class SignalSession {
 public:
  virtual ~SignalSession() = default;
  // Connects now if not connected; a no-op otherwise.
  virtual absl::Status Connect() = 0;
  // Runs `sql` and returns its first row (empty: no row), with `context`
  // leading an error's message. Connects first if needed.
  virtual absl::StatusOr<SignalRow> QueryRow(const std::string& sql,
                                             absl::string_view context) = 0;
  // `value` as a string literal of the session's dialect. Valid once
  // connected (MySQL's quoting depends on the session's sql_mode).
  virtual std::string Literal(absl::string_view value) const = 0;
};

// The heartbeat's SQL in one dialect. The table is backfill_heartbeat (job,
// ts), one row per job, ts the primary's clock.
struct HeartbeatSql {
  // CREATE TABLE IF NOT EXISTS of `table`, one row per job: job, ts.
  const char* create;
  // The heartbeat table's name, quoted for the dialect.
  const char* table;
  // The server's clock as the value of ts.
  const char* now;
  // What makes "INSERT INTO <table> (job, ts) VALUES (<job>, <now>)" an
  // upsert of the job's row.
  const char* upsert_tail;
  // Seconds between ts and the server's clock, as a number: the lag, read
  // on a replica.
  const char* age_seconds;
};

// Runs `f` (the first statement of a signal, at open) up to 3 times, 200ms
// apart, while it fails with kUnavailable: through a pooler it may wait for
// a server connection to be set up (or freed) before it runs, which a
// client-side silence bound can take for a dead server under load.
absl::Status RetryAtOpen(const std::function<absl::Status()>& f);

// What a signal's session is for, which sets it up: the heartbeat's writes
// (with a short lock wait), a replica's reads (PostgreSQL: checked to be a
// standby at its first connect), or read-only queries (probe, throttle
// query, load).
enum class SessionUse { kHeartbeat, kReplicaLag, kReadOnly };

using LoadReader = absl::StatusOr<double> (*)(SignalSession& session,
                                              const LoadLimit& limit);

// Everything a database adapter provides for the signals written here.
struct SignalDialect {
  // A session for `use` on the server `dsn` names (`options`: the password
  // and option file), every statement bounded by `timeout`, not yet
  // connected. kInvalidArgument for a DSN the adapter cannot use.
  absl::StatusOr<std::unique_ptr<SignalSession>> (*open_session)(
      const Dsn& dsn, const ConnectOptions& options, SessionUse use,
      absl::Duration timeout);
  HeartbeatSql heartbeat;
  // The value of a load variable; kInvalidArgument when the server has no
  // such variable, kPermissionDenied when the session may not read it.
  LoadReader load;
  // Checks before a load signal opens (PostgreSQL: its one variable and the
  // role that reads every session); nullptr: none.
  absl::Status (*check_load)(SignalSession& session, const LoadLimit& limit);
};

// A bad query (PacingOptions probe_query, throttle_query, load) is bad input
// when its signal is opened: kInvalidArgument "<option>: <message>". A lost
// connection (kUnavailable) and a refused login (kUnauthenticated) keep
// their codes. At run time the same errors only make the signal unreadable.
absl::Status QueryError(absl::string_view option, const absl::Status& s);

// The heartbeat on `session`: creates the table (a pooler may need a few
// tries to hand out its first server connection), then one upsert per Beat.
absl::StatusOr<std::unique_ptr<Heartbeat>> OpenSessionHeartbeat(
    std::unique_ptr<SignalSession> session, const HeartbeatSql& sql,
    std::string job);

// The lag of `replica` (HOST:PORT) read from the heartbeat row through
// `session`: "replication_lag replica=HOST:PORT" (see OpenReplicaLagSignal),
// SignalKind::kReplicaLag. A replica that is down at open (kUnavailable) is
// watched anyway, unreadable until it is back; any other failure to connect
// is returned.
absl::StatusOr<std::unique_ptr<Signal>> OpenSessionReplicaLag(
    std::unique_ptr<SignalSession> session, const HeartbeatSql& sql,
    std::string replica, std::string job, const LagLimits& limits);

// --throttle-query on `session` (read-only): the first column of the first
// row against `threshold`; no row, NULL and a non-number read unreadable.
// Run once at open (QueryError).
absl::StatusOr<std::unique_ptr<Signal>> OpenSessionThrottleQuery(
    std::unique_ptr<SignalSession> session, std::string sql, double threshold);

// --probe-query on `session` (read-only), run once at open (QueryError).
absl::StatusOr<std::unique_ptr<Probe>> OpenSessionProbe(
    std::unique_ptr<SignalSession> session, std::string sql);

// A load signal ("load <variable>") whose value `read` takes through
// `session`: against limit.max (or limit.critical when only that is set),
// with limit.critical as its critical limit. `read` is called once at open
// (QueryError, "--max-load"); its kInvalidArgument and kPermissionDenied are
// bad input as they are.
absl::StatusOr<std::unique_ptr<Signal>> OpenSessionLoad(
    std::unique_ptr<SignalSession> session, const LoadLimit& limit,
    LoadReader read);

// The first column of `row` as a number: kInvalidArgument naming `what`
// when there is no row, a NULL or a non-number.
absl::StatusOr<double> NumberField(const SignalRow& row, size_t column,
                                   absl::string_view what);

}  // namespace backfill

#endif  // BACKFILL_ADAPTERS_SESSION_SIGNALS_H_
