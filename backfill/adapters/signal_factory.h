#ifndef BACKFILL_ADAPTERS_SIGNAL_FACTORY_H_
#define BACKFILL_ADAPTERS_SIGNAL_FACTORY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "backfill/engine/dsn.h"
#include "backfill/engine/pacer.h"
#include "backfill/throttle/clock.h"
#include "backfill/throttle/signal.h"

// The pacing signals of docs/DESIGN.md ("Pacing") for each database, behind one
// factory that picks the adapter from the DSN's scheme, as ConnectDatabase
// does. Every signal and the heartbeat open connections of their own (never
// the copier's), bound each statement with a timeout (about a second) and
// reconnect on their next reading after an error. A reading that fails
// reports the signal unreadable with the driver's message, password
// scrubbed, which holds writes (fail closed).
//
// Errors when opening: kInvalidArgument for a malformed DSN, a bad query or
// a DSN of the wrong kind; kUnauthenticated, kNotFound, kPermissionDenied as
// for ConnectDatabase. A replica that cannot be reached (kUnavailable) is
// not an error: its signal is created and reads unreadable until the
// replica is back.

namespace backfill {

// Replication-lag thresholds, shared by every lag signal.
struct LagLimits {
  // --max-lag: writes pause at this lag. Default 1s.
  absl::Duration max_lag = absl::Seconds(1);
  // --critical-lag: at this lag the run checkpoints and exits 4. Zero
  // (default): none.
  absl::Duration critical_lag = absl::ZeroDuration();
  // --max-lag-bytes: PostgreSQL only, WAL bytes a standby may be behind
  // (pg_stat_replication). Zero (default): not watched.
  int64_t max_lag_bytes = 0;
};

// One variable of --max-load / --critical-load.
struct LoadLimit {
  // MySQL: a global status variable (SHOW GLOBAL STATUS), compared without
  // regard to case, e.g. "Threads_running". PostgreSQL: "active_sessions",
  // the client backends that are not idle, the engine's own excluded.
  std::string variable;
  // Writes pause at this value (the pace slows as it nears it). 0: only a
  // critical limit.
  double max = 0;
  // At this value the run checkpoints and exits 4. 0: none.
  double critical = 0;
};

// The heartbeat writer on the primary for `job`. Creates the table
// `backfill_heartbeat (job, ts)` if it does not exist (one row per job) and
// upserts the job's row with the primary's clock: clock_timestamp() on
// PostgreSQL, UTC_TIMESTAMP(6) on MySQL. Each upsert is one autocommit
// statement with the server's normal durability (synchronous_commit,
// innodb_flush_log_at_trx_commit, sync_binlog as configured), so that the
// Pacer can time it as the commit latency the application sees.
absl::StatusOr<std::unique_ptr<Heartbeat>> OpenHeartbeat(
    const ConnectOptions& primary, const std::string& job);

// Replication lag of one replica (--replica URI): the replica's clock minus
// the heartbeat row of `job` as replicated there, in seconds, against
// limits.max_lag / critical_lag. Named "replication_lag replica=HOST:PORT".
// The URI must name the same database as --dsn (the table is there). On
// PostgreSQL the server must be a standby (pg_is_in_recovery()); otherwise
// the signal reads unreadable.
absl::StatusOr<std::unique_ptr<Signal>> OpenReplicaLagSignal(
    const ConnectOptions& replica, const std::string& job,
    const LagLimits& limits);

// "replica=HOST:PORT" for a replica DSN (no user, no password), the
// qualifier of its lag signal's name. kInvalidArgument for a bad DSN.
absl::StatusOr<std::string> ReplicaLabel(const std::string& replica_dsn);

// The lag the primary itself can see of its standbys, without replica
// connections. PostgreSQL (pg_stat_replication, every walsender connected at
// open, each of which must stay connected):
//   - "replication_lag pg_stat_replication" when `watch_time`: the largest
//     of each standby's replay_lag and the time its replay position has
//     been stuck behind the primary's WAL position (replay_lag alone stops
//     growing while replay is stalled), against max_lag / critical_lag;
//   - "replication_bytes pg_stat_replication" when limits.max_lag_bytes > 0:
//     the largest pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn).
// Returns no signal when no standby is connected at open. Needs the
// pg_read_all_stats role (or pg_monitor, or superuser): kPermissionDenied
// otherwise.
// MySQL: kFailedPrecondition (a primary cannot see its replicas' lag: give
// --replica URI for each replica).
absl::StatusOr<std::vector<std::unique_ptr<Signal>>> OpenPrimaryLagSignals(
    const ConnectOptions& primary, const LagLimits& limits, bool watch_time);

// The probe-latency signal (ProbeLatencySignal, "probe_latency p95"): `sql`
// (--probe-query) run on the primary on its own read-only session and timed
// with `clock`, p95 over 3s against `max_latency`. The query is run once at
// open: kInvalidArgument if it fails. Statement timeout max(1s, 2 x
// max_latency).
absl::StatusOr<std::unique_ptr<Signal>> OpenProbeSignal(
    const ConnectOptions& primary, const std::string& sql,
    absl::Duration max_latency, Clock* clock);

// Statement timeout of the probe query for `max_latency`, so callers can
// set the controller's staleness limit above it.
absl::Duration ProbeTimeout(absl::Duration max_latency);

// The load signals (--max-load, --critical-load): one per variable, named
// "load <variable>" as given, each read every 250ms on its own read-only
// session of the primary, against limit.max (or limit.critical when only
// that is set) with limit.critical as its critical limit.
//   MySQL: SHOW GLOBAL STATUS WHERE Variable_name = ...; the count includes
//     the engine's own statement while a chunk runs, as with gh-ost.
//   PostgreSQL: only "active_sessions": client backends of pg_stat_activity
//     whose state is not idle, without the engine's own sessions
//     (application_name backfill and backfill-pacer) and the signal's own.
//     Needs pg_read_all_stats (or pg_monitor, or superuser) to see other
//     roles' sessions: kPermissionDenied otherwise.
// Each variable is read once at open: kInvalidArgument for an unknown
// variable or one that is not a number.
absl::StatusOr<std::vector<std::unique_ptr<Signal>>> OpenLoadSignals(
    const ConnectOptions& primary, const std::vector<LoadLimit>& limits);

// The --throttle-query signal ("throttle_query"): `sql` run on the primary
// on its own read-only session; the first column of its first row is the
// value, against `threshold`. No row, NULL or a non-number read
// unreadable. The query is run once at open: kInvalidArgument if it fails.
absl::StatusOr<std::unique_ptr<Signal>> OpenThrottleQuerySignal(
    const ConnectOptions& primary, const std::string& sql, double threshold);

}  // namespace backfill

#endif  // BACKFILL_ADAPTERS_SIGNAL_FACTORY_H_
