#include "backfill/pacing.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "backfill/throttle/lag_trend.h"
#include "backfill/throttle/pace.h"

namespace backfill {
namespace {

// The throttle query and the load variables: a user's query may cost more
// than a heartbeat read, and SHOW GLOBAL STATUS reads every variable.
constexpr absl::Duration kSlowSignalInterval = absl::Milliseconds(250);

// Chunks under a rate on MySQL (ThrottleOptions::chunk_cap_time): a
// hundredth of a second of it, at least 100 rows so that a slow pace does
// not turn into a commit (a redo log flush) per handful of rows.
constexpr absl::Duration kMysqlChunkCapTime = absl::Milliseconds(10);
constexpr int64_t kMysqlChunkCapMinRows = 100;

// Bad input, "<option>: <why>", naming the PacingOptions member
// (pacing.h: OptionError).
absl::Status BadOption(absl::string_view option, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(option, ": ", why));
}

// `status` from a signal factory, as bad input naming the option it came
// from.
absl::Status OptionError(absl::string_view option, const absl::Status& status) {
  return absl::Status(absl::IsUnavailable(status)
                          ? absl::StatusCode::kInvalidArgument
                          : status.code(),
                      absl::StrCat(option, ": ", status.message()));
}

}  // namespace

CommitLatencyLimit PacingOptions::DefaultCommitLatency() {
  CommitLatencyLimit limit;
  limit.enabled = true;
  limit.factor = 2;
  return limit;
}

void Pacing::Start(Observer* observer) {
  if (pacer == nullptr) return;
  pacer->Start();
  const CommitLatency* c = pacer->commit_latency();
  if (c == nullptr || observer == nullptr) return;
  if (c->baseline().has_value()) {
    observer->OnNote(c->Describe());
  } else {
    observer->OnWarning(
        "commit latency: no quiet baseline (the heartbeat's writes failed); "
        "writes hold until they succeed");
  }
}

void Pacing::Stop() {
  if (pacer != nullptr) pacer->Stop();
}

const CommitLatency* Pacing::commit_latency() const {
  return pacer != nullptr ? pacer->commit_latency() : nullptr;
}

absl::Duration ChunkTimeForReplicas(const PacingOptions& s, DatabaseKind kind,
                                    absl::Duration target, bool target_given,
                                    std::vector<std::string>* notes) {
  if (kind != DatabaseKind::kMysql || s.replicas.empty() ||
      target == absl::ZeroDuration()) {
    return target;
  }
  const absl::Duration cap = s.lag.max_lag / 10;
  if (target <= cap) return target;
  if (target_given) {
    notes->push_back(absl::StrCat(
        "`chunking.target_chunk_time` ", absl::FormatDuration(target),
        ": each chunk can hold a MySQL replica about that long behind (a "
        "replica applies a chunk only once it is committed), so `lag.max_lag` ",
        absl::FormatDuration(s.lag.max_lag), " may be overshot; ",
        absl::FormatDuration(cap), " or less avoids that"));
    return target;
  }
  notes->push_back(absl::StrCat(
      "chunks sized to take ", absl::FormatDuration(cap), ", not ",
      absl::FormatDuration(target),
      ": a MySQL replica applies a chunk only "
      "once committed, so each holds it about one chunk time behind; a tenth "
      "of `lag.max_lag` leaves room under the limit "
      "(`chunking.target_chunk_time` overrides)"));
  return cap;
}

PaceOptions PaceFor(const PacingOptions& s) {
  PaceOptions pace;
  const absl::Duration window = s.commit_latency.window;
  if (s.commit_latency.enabled && window > pace.period) {
    pace.max_increase =
        std::min(pace.max_increase,
                 std::pow(2.0, absl::FDivDuration(pace.period, window)));
  }
  return pace;
}

std::vector<std::string> DescribePacing(const PacingOptions& s) {
  std::vector<std::string> out;
  const CommitLatencyLimit& c = s.commit_latency;
  if (c.enabled) {
    out.push_back(absl::StrCat(
        "commit latency: the p95 of a one-row write and commit on the "
        "primary, at most ",
        c.factor > 0 ? absl::StrCat(FormatQuantity(c.factor, ""),
                                    "x its quiet baseline (measured for ",
                                    absl::FormatDuration(c.baseline_time),
                                    " before the first chunk, lowered when "
                                    "the run reads below it)")
                     : absl::FormatDuration(c.max),
        "; `commit_latency` 0 turns it off"));
  }
  for (const std::string& r : s.replicas) {
    absl::StatusOr<std::string> label = ReplicaLabel(r);
    out.push_back(absl::StrCat("replication lag of ",
                               label.ok() ? label->substr(8) : "?", " up to ",
                               absl::FormatDuration(s.lag.max_lag)));
  }
  for (const LoadLimit& l : s.load) {
    std::string line = absl::StrCat("load ", l.variable);
    if (l.max > 0) absl::StrAppend(&line, " up to ", FormatQuantity(l.max, ""));
    if (l.critical > 0) {
      absl::StrAppend(&line, l.max > 0 ? ", " : " ", "critical at ",
                      FormatQuantity(l.critical, ""));
    }
    out.push_back(line);
  }
  if (s.max_latency > absl::ZeroDuration()) {
    out.push_back(absl::StrCat("probe latency p95 up to ",
                               absl::FormatDuration(s.max_latency)));
  }
  if (!s.throttle_query.empty()) {
    out.push_back(absl::StrCat("throttle query below ",
                               FormatQuantity(s.throttle_threshold, "")));
  }
  if (s.max_rows_per_second > 0) {
    out.push_back(absl::StrCat(
        "at most ", FormatQuantity(s.max_rows_per_second, ""), " rows/s"));
  }
  if (!out.empty() &&
      (c.enabled || !s.replicas.empty() || !s.load.empty() ||
       s.max_latency > absl::ZeroDuration() || !s.throttle_query.empty())) {
    const PaceOptions pace = PaceFor(s);
    out.push_back(absl::StrCat(
        "the pace is unlimited until a signal passes ",
        FormatQuantity(pace.target_utilisation * 100, ""),
        "% of its limit, then follows the one nearest its limit, rising at "
        "most x",
        FormatQuantity(pace.max_increase, ""), " every ",
        absl::FormatDuration(pace.period), "; writes pause at a limit"));
  }
  return out;
}

namespace {

// The signals OpenPacing opens, before they are handed to a Pacer.
struct OpenedSignals {
  std::vector<std::unique_ptr<Signal>> fast;  // read every 100ms
  std::vector<std::unique_ptr<Signal>> slow;  // read every 250ms
  bool heartbeat = false;                     // something needs the heartbeat
  std::vector<std::string> notes;
};

// One lag signal per replica, each read through a forecast over
// `target_chunk_time`.
absl::Status OpenReplicaSignals(const PacingOptions& s,
                                const ConnectOptions& primary,
                                DatabaseKind kind, const std::string& job,
                                absl::Duration target_chunk_time, Clock* clock,
                                OpenedSignals* out) {
  for (const std::string& uri : s.replicas) {
    absl::StatusOr<Dsn> dsn = ParseDsn(uri);
    if (!dsn.ok()) return OptionError("replicas", dsn.status());
    if (dsn->kind != kind) {
      return BadOption("replicas",
                       "must be the same kind of database as the primary");
    }
    ConnectOptions options;
    options.dsn = uri;
    // The replica's own password first (its DSN), then --password-file's.
    options.default_password = primary.password;
    options.defaults_file = primary.defaults_file;
    absl::StatusOr<std::unique_ptr<Signal>> lag =
        OpenReplicaLagSignal(options, job, s.lag);
    if (!lag.ok()) {
      absl::StatusOr<std::string> label = ReplicaLabel(uri);
      return OptionError(
          absl::StrCat("replicas ", label.ok() ? label->substr(8) : "?"),
          lag.status());
    }
    LagTrend::Options trend;
    if (target_chunk_time > absl::ZeroDuration()) {
      trend.horizon = target_chunk_time;
    }
    out->fast.push_back(
        std::make_unique<TrendingLagSignal>(*std::move(lag), clock, trend));
    out->heartbeat = true;
  }
  return absl::OkStatus();
}

// The lag the primary sees itself: pg_stat_replication on PostgreSQL; on
// MySQL nothing (a note, or bad input when lag limits were asked for).
absl::Status OpenPrimarySignals(const PacingOptions& s,
                                const ConnectOptions& primary,
                                DatabaseKind kind, OpenedSignals* out) {
  const bool watch_lag = s.lag.max_lag > absl::ZeroDuration();
  if (kind == DatabaseKind::kPostgres) {
    const bool time = s.replicas.empty() && watch_lag;
    absl::StatusOr<std::vector<std::unique_ptr<Signal>>> own =
        OpenPrimaryLagSignals(primary, s.lag, time);
    if (!own.ok()) return own.status();
    if ((time || s.lag.max_lag_bytes > 0) && own->empty()) {
      out->notes.push_back(
          "no standby is connected (pg_stat_replication is empty): "
          "replication lag is not watched");
    }
    out->heartbeat |= !own->empty();
    for (auto& signal : *own) out->fast.push_back(std::move(signal));
  } else if (s.replicas.empty()) {
    if (s.lag_explicit || s.lag.max_lag_bytes > 0) {
      absl::StatusOr<std::vector<std::unique_ptr<Signal>>> own =
          OpenPrimaryLagSignals(primary, s.lag, watch_lag);
      if (!own.ok()) {
        return absl::InvalidArgumentError(std::string(own.status().message()));
      }
    } else if (watch_lag) {
      out->notes.push_back(
          "replication lag is not watched: a MySQL primary cannot see its "
          "replicas' lag; give `replicas` URI for each replica");
    }
  } else if (s.lag.max_lag_bytes > 0) {
    return BadOption("lag.max_lag_bytes", "is PostgreSQL only");
  }
  return absl::OkStatus();
}

// The probe, the throttle query and the load variables.
absl::Status OpenQuerySignals(const PacingOptions& s,
                              const ConnectOptions& primary, Clock* clock,
                              OpenedSignals* out) {
  if (s.max_latency > absl::ZeroDuration()) {
    absl::StatusOr<std::unique_ptr<Signal>> probe =
        OpenProbeSignal(primary, s.probe_query, s.max_latency, clock);
    if (!probe.ok()) return probe.status();
    out->fast.push_back(*std::move(probe));
  }
  if (!s.throttle_query.empty()) {
    absl::StatusOr<std::unique_ptr<Signal>> query = OpenThrottleQuerySignal(
        primary, s.throttle_query, s.throttle_threshold);
    if (!query.ok()) return query.status();
    out->slow.push_back(*std::move(query));
  }
  absl::StatusOr<std::vector<std::unique_ptr<Signal>>> load =
      OpenLoadSignals(primary, s.load);
  if (!load.ok()) return load.status();
  for (auto& signal : *load) out->slow.push_back(std::move(signal));
  return absl::OkStatus();
}

ThrottleOptions ControllerOptions(const PacingOptions& s, DatabaseKind kind,
                                  bool paced, Clock* clock) {
  ThrottleOptions options;
  options.clock = clock;
  options.max_rows_per_second = s.max_rows_per_second;
  options.ignore_unreadable_replicas = s.ignore_unreachable_replicas;
  if (kind == DatabaseKind::kMysql) {
    options.chunk_cap_time = kMysqlChunkCapTime;
    options.chunk_cap_min_rows = kMysqlChunkCapMinRows;
  }
  if (paced) options.pace = PaceFor(s);
  if (s.max_latency > absl::ZeroDuration()) {
    // A probe may legitimately take up to its timeout: do not call it stale
    // before that.
    options.staleness_limit =
        std::max(options.staleness_limit,
                 ProbeTimeout(s.max_latency) + absl::Seconds(1));
  }
  return options;
}

// The Pacer that feeds `controller` from `opened` (and the heartbeat).
absl::StatusOr<std::unique_ptr<Pacer>> OpenPacer(const PacingOptions& s,
                                                 const ConnectOptions& primary,
                                                 const std::string& job,
                                                 ThrottleController* controller,
                                                 Clock* clock,
                                                 OpenedSignals opened) {
  PacerOptions pacer_options;
  pacer_options.clock = clock;
  pacer_options.commit_latency = s.commit_latency;
  if (s.commit_latency.enabled) {
    pacer_options.heartbeat_interval = CommitLatencyLimit::kBeatInterval;
  }
  auto pacer = std::make_unique<Pacer>(controller, pacer_options);
  if (opened.heartbeat) {
    absl::StatusOr<std::unique_ptr<Heartbeat>> beat =
        OpenHeartbeat(primary, job);
    if (!beat.ok()) return beat.status();
    pacer->SetHeartbeat(*std::move(beat));
  }
  for (auto& signal : opened.fast) pacer->AddSignal(std::move(signal));
  for (auto& signal : opened.slow) {
    pacer->AddSignal(std::move(signal), kSlowSignalInterval);
  }
  return pacer;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Pacing>> OpenPacing(
    const PacingOptions& s, const ConnectOptions& primary,
    const std::string& job, absl::Duration target_chunk_time, Clock* clock) {
  if (absl::Status st = CheckPacingOptions(s); !st.ok()) return st;
  absl::StatusOr<Dsn> primary_dsn = ParseDsn(primary.dsn);
  if (!primary_dsn.ok()) return primary_dsn.status();
  const DatabaseKind kind = primary_dsn->kind;
  OpenedSignals opened;
  if (absl::Status st = OpenReplicaSignals(s, primary, kind, job,
                                           target_chunk_time, clock, &opened);
      !st.ok()) {
    return st;
  }
  if (absl::Status st = OpenPrimarySignals(s, primary, kind, &opened);
      !st.ok()) {
    return st;
  }
  if (absl::Status st = OpenQuerySignals(s, primary, clock, &opened);
      !st.ok()) {
    return st;
  }
  // The commit latency is timed on the heartbeat, which then runs for it
  // alone if nothing else needs it.
  opened.heartbeat |= s.commit_latency.enabled;

  auto pacing = std::make_unique<Pacing>();
  pacing->notes = std::move(opened.notes);
  const bool paced =
      !opened.fast.empty() || !opened.slow.empty() || opened.heartbeat;
  if (!paced && s.max_rows_per_second <= 0) return pacing;
  pacing->controller = std::make_unique<ThrottleController>(
      ControllerOptions(s, kind, paced, clock));
  if (!paced) return pacing;
  absl::StatusOr<std::unique_ptr<Pacer>> pacer = OpenPacer(
      s, primary, job, pacing->controller.get(), clock, std::move(opened));
  if (!pacer.ok()) return pacer.status();
  pacing->pacer = *std::move(pacer);
  return pacing;
}

}  // namespace backfill
