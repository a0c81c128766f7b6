#ifndef BACKFILL_THROTTLE_SIGNAL_H_
#define BACKFILL_THROTTLE_SIGNAL_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace backfill {

// One observation of a pacing signal (replication lag of one replica, probe
// latency p95, the value of --throttle-query, ...), expressed against the
// threshold the operator set for it.
//
// A reading either holds a value (`ok`) or says why the signal could not be
// read. A failed reading is not "no news": the controller counts it as over
// its threshold (fail closed), so writes never run blind.
//
// A plain value type; copy freely.
struct Reading {
  // True if `value` was measured; false if the signal could not be read.
  bool ok = false;
  // When !ok: why, in a few words ("connection refused", "query returned
  // NULL"). Shown to the operator after "<signal> unreadable: ". Must not
  // contain secrets (the caller strips passwords from driver messages).
  std::string error;

  // The measurement, in `unit`. May be negative (clock skew on a heartbeat);
  // NaN counts as unreadable.
  double value = 0;
  // Writes pause when value >= threshold (utilisation >= 1). Must be > 0; a
  // reading with threshold <= 0 counts as unreadable ("invalid threshold").
  double threshold = 0;
  // Where the value is heading if writes stop now, when that is higher (a
  // replica's lag keeps growing while it works off its backlog; see
  // LagTrend). Utilisation counts the higher of value and forecast, so
  // writes pause before the value itself crosses the threshold. The critical
  // limit applies to the value alone.
  std::optional<double> forecast;
  // What the signal reads on a quiet server, when that is not 0: the commit
  // latency's baseline, measured before the first chunk. Utilisation then
  // counts the excess over it, (max(value, forecast) - floor) / (threshold -
  // floor), so that a threshold close to the baseline (1.25x) still has room
  // between "quiet" and "pause". Must be below threshold (else the reading
  // is unreadable: "invalid threshold"). Default 0.
  double floor = 0;
  // The --critical-* limit in the same unit, or 0 for none. A value >= a
  // non-zero critical makes the controller's decision kCritical (the engine
  // checkpoints and exits 4). A failed reading is never critical: an
  // unreadable replica holds writes but does not end the run.
  double critical = 0;
  // Unit of value, threshold and critical, used only to format reasons:
  //   "s"  seconds, printed as a duration: 0.08 -> "80ms", 2.3 -> "2.3s";
  //   ""   a plain number: "12";
  //   else the number followed by the unit verbatim: "5242880B".
  std::string unit;

  // A measured reading. `critical` 0 means no critical threshold.
  static Reading Ok(double value, double threshold, std::string unit = "",
                    double critical = 0);
  // A reading that failed with `error`.
  static Reading Unreadable(std::string error);

  // (max(value, forecast) - floor) / (threshold - floor); +infinity if the
  // reading failed, the value is NaN or the threshold is not above floor and
  // 0 (fail closed). Writes pause at >= 1.
  double Utilisation() const;

  // The higher of value and forecast: what utilisation counts.
  double Effective() const;

  // threshold > 0 and 0 <= floor < threshold.
  bool ValidThreshold() const;

  // True if ok and a critical threshold is set and value >= critical.
  bool Critical() const;

  // Human reason for a signal called `name`, in the formats the log, `status`
  // and metrics show:
  //   over threshold:  "replication_lag replica=r1 2.3s > 1s"
  //   at threshold:    "replication_lag replica=r1 1s >= 1s"
  //   under:           "replication_lag replica=r1 0.4s < 1s"
  //   forecast higher: "replication_lag replica=r1 0.7s rising to 1.1s > 1s"
  //   with a floor:    "commit_latency p95 2ms > 1.65ms, quiet 1.1ms"
  //   failed:          "replication_lag replica=r1 unreadable: <error>"
  std::string Describe(absl::string_view name) const;
};

// Formats `value` in `unit` as described at Reading::unit. Numbers get two
// decimals below 10, one below 100 and none above, without trailing zeros:
// "2.35", "12.3", "123", "10".
std::string FormatQuantity(double value, absl::string_view unit);

// What a signal measures, for the controller's rules (only kReplicaLag may
// be ignored while unreachable) and the metrics' series, so that neither
// parses names.
enum class SignalKind {
  kOther,
  kReplicaLag,        // one replica's lag (--replica); subject HOST:PORT
  kStandbyLag,        // the primary's standbys' lag (pg_stat_replication)
  kReplicationBytes,  // WAL bytes the standbys are behind
  kHeartbeat,         // the heartbeat's own writes succeeding
  kCommitLatency,     // the heartbeat's write and commit, timed
  kProbeLatency,      // --probe-query, timed
  kLoad,              // --max-load; subject the variable
  kThrottleQuery,     // --throttle-query
};

// A source of readings, polled from the signal poller's thread (never from
// the copier), each on its own database connection.
//
// Thread-safety: name() must be safe to call from any thread; Read() is only
// called from one poller thread at a time.
class Signal {
 public:
  virtual ~Signal() = default;

  // Stable identity of the signal, used as the key of its readings in the
  // controller, as the start of every reason it causes, and as the metrics
  // label of time spent throttled on it. Kind first, then qualifiers:
  //   "replication_lag replica=r1", "probe_latency p95", "throttle_query".
  // Must not contain secrets (no DSNs with passwords).
  virtual const std::string& name() const = 0;

  // What it measures, and of what: the replica ("db2:5432") of a
  // kReplicaLag, the variable of a kLoad, else "" (SignalKind).
  virtual SignalKind kind() const { return SignalKind::kOther; }
  virtual std::string subject() const { return ""; }

  // Takes one reading now. May block on I/O, but should bound it with its own
  // timeout well below the controller's staleness limit; a timeout is a
  // failed reading, not an exception. Never throws.
  virtual Reading Read() = 0;
};

}  // namespace backfill

#endif  // BACKFILL_THROTTLE_SIGNAL_H_
