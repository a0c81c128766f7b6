#include "cli/pacing.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "throttle/lag_trend.h"

namespace backfill {
namespace {

// The throttle query and the load variables: a user's query may cost more
// than a heartbeat read, and SHOW GLOBAL STATUS reads every variable.
constexpr absl::Duration kSlowSignalInterval = absl::Milliseconds(250);

absl::Status BadFlag(absl::string_view flag, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(flag, ": ", why));
}

// A duration flag: empty keeps `*out`; otherwise a duration >= 0.
absl::Status ParseDurationFlag(absl::string_view flag, const std::string& text,
                               absl::Duration* out) {
  if (text.empty()) return absl::OkStatus();
  absl::Duration d;
  if (!absl::ParseDuration(text, &d) || d < absl::ZeroDuration() ||
      d == absl::InfiniteDuration()) {
    return BadFlag(flag, absl::StrCat("\"", text,
                                      "\" is not a duration such as 250ms, "
                                      "2s or 1m"));
  }
  *out = d;
  return absl::OkStatus();
}

// `status` from a signal factory, as bad input naming the flag it came from.
absl::Status FlagError(absl::string_view flag, const absl::Status& status) {
  return absl::Status(absl::IsUnavailable(status)
                          ? absl::StatusCode::kInvalidArgument
                          : status.code(),
                      absl::StrCat(flag, ": ", status.message()));
}

}  // namespace

void AddPacingFlags(CLI::App* run, PacingFlags* f) {
  run->add_option("--replica", f->replicas,
                  "a replica to watch for lag through the heartbeat "
                  "(repeatable), same database as --dsn");
  run->add_option("--max-lag", f->max_lag,
                  "pause writes at this replication lag (default 1s; 0 = off)");
  run->add_option("--max-lag-bytes", f->max_lag_bytes,
                  "PostgreSQL: pause writes when a standby is this many WAL "
                  "bytes behind (pg_stat_replication)");
  run->add_option("--critical-lag", f->critical_lag,
                  "checkpoint and exit 4 at this replication lag");
  run->add_option("--max-latency", f->max_latency,
                  "pause writes when the probe query's p95 reaches this");
  run->add_option("--probe-query", f->probe_query,
                  "query timed on the primary for --max-latency (default "
                  "SELECT 1)");
  run->add_option("--throttle-query", f->throttle_query,
                  "query returning one number; writes pause when it reaches "
                  "--throttle-threshold");
  run->add_option("--throttle-threshold", f->throttle_threshold,
                  "threshold (> 0) of --throttle-query");
  run->add_option("--max-rows-per-second", f->max_rows_per_second,
                  "cap on rows walked per second (default: no cap)");
  run->add_option("--max-commit-latency", f->max_commit_latency,
                  "slow writes as the p95 of a one-row commit on the primary "
                  "nears this, pause them above it: a multiple of the quiet "
                  "baseline measured at start (default " +
                      std::string(kDefaultMaxCommitLatency) +
                      "), a duration, or 0 = off (faster, and the "
                      "application's commits may wait behind the backfill's)");
  run->add_option("--max-load", f->max_load,
                  "slow writes as a load variable nears its limit, pause them "
                  "at it: VAR=N[,VAR=N...]; MySQL global status (e.g. "
                  "Threads_running=25), PostgreSQL active_sessions=N");
  run->add_option("--critical-load", f->critical_load,
                  "checkpoint and exit 4 when a load variable reaches N: "
                  "VAR=N[,VAR=N...]");
  run->add_option("--lock-timeout", f->lock_timeout,
                  "longest a chunk waits for a lock before it is retried "
                  "smaller (default 2s)");
  run->add_option("--ignore-unreachable-replicas",
                  f->ignore_unreachable_replicas,
                  "let writes proceed while at most N --replica lag signals "
                  "cannot be read, with a warning each time (default 0: an "
                  "unreachable replica holds writes)");
}

absl::StatusOr<PacingSettings> ParsePacingFlags(const PacingFlags& f) {
  PacingSettings s;
  s.replicas = f.replicas;
  for (const std::string& r : s.replicas) {
    // Parsed as the adapter will (libpq for PostgreSQL).
    absl::StatusOr<std::string> label = ReplicaLabel(r);
    if (!label.ok()) {
      absl::string_view why = label.status().message();
      absl::ConsumePrefix(&why, "bad --dsn: ");
      return BadFlag("--replica", absl::StrCat("bad URI: ", RedactDsn(why)));
    }
  }
  s.lag_explicit = !f.max_lag.empty() || !f.critical_lag.empty();
  if (absl::Status st =
          ParseDurationFlag("--max-lag", f.max_lag, &s.lag.max_lag);
      !st.ok()) {
    return st;
  }
  if (absl::Status st = ParseDurationFlag("--critical-lag", f.critical_lag,
                                          &s.lag.critical_lag);
      !st.ok()) {
    return st;
  }
  if (f.max_lag_bytes < 0) {
    return BadFlag("--max-lag-bytes", "must be a number of bytes >= 0");
  }
  s.lag.max_lag_bytes = f.max_lag_bytes;
  if (s.lag.critical_lag > absl::ZeroDuration()) {
    if (s.lag.max_lag == absl::ZeroDuration()) {
      return BadFlag("--critical-lag", "needs lag watching (--max-lag is 0)");
    }
    if (s.lag.critical_lag <= s.lag.max_lag) {
      return BadFlag("--critical-lag",
                     absl::StrCat("must be above --max-lag (",
                                  absl::FormatDuration(s.lag.max_lag), ")"));
    }
  }
  if (!s.replicas.empty() && s.lag.max_lag == absl::ZeroDuration()) {
    return BadFlag("--replica", "lag watching is off (--max-lag 0)");
  }

  if (absl::Status st =
          ParseDurationFlag("--max-latency", f.max_latency, &s.max_latency);
      !st.ok()) {
    return st;
  }
  if (!f.max_latency.empty() && s.max_latency == absl::ZeroDuration()) {
    return BadFlag("--max-latency", "must be above 0");
  }
  if (!f.probe_query.empty()) {
    if (f.max_latency.empty()) {
      return BadFlag("--probe-query", "needs --max-latency D");
    }
    s.probe_query = f.probe_query;
  }

  if (f.throttle_query.empty() != f.throttle_threshold.empty()) {
    return absl::InvalidArgumentError(
        "--throttle-query and --throttle-threshold go together");
  }
  if (!f.throttle_query.empty()) {
    s.throttle_query = f.throttle_query;
    if (!absl::SimpleAtod(f.throttle_threshold, &s.throttle_threshold) ||
        !(s.throttle_threshold > 0) || !std::isfinite(s.throttle_threshold)) {
      return BadFlag("--throttle-threshold",
                     absl::StrCat("\"", f.throttle_threshold,
                                  "\" is not a number above 0 (writes pause "
                                  "when the query's value reaches it)"));
    }
  }

  if (!(f.max_rows_per_second >= 0) || !std::isfinite(f.max_rows_per_second)) {
    return BadFlag("--max-rows-per-second", "must be a number >= 0");
  }
  s.max_rows_per_second = f.max_rows_per_second;
  if (f.ignore_unreachable_replicas < 0) {
    return BadFlag("--ignore-unreachable-replicas", "must be a number >= 0");
  }
  if (f.ignore_unreachable_replicas > 0 && s.replicas.empty()) {
    return BadFlag("--ignore-unreachable-replicas", "needs --replica URI");
  }
  s.ignore_unreachable_replicas = f.ignore_unreachable_replicas;
  s.lock_timeout = absl::ZeroDuration();
  if (absl::Status st =
          ParseDurationFlag("--lock-timeout", f.lock_timeout, &s.lock_timeout);
      !st.ok()) {
    return st;
  }
  absl::StatusOr<CommitLatencyLimit> commit = ParseCommitLatencyFlag(
      f.max_commit_latency.empty() ? kDefaultMaxCommitLatency
                                   : f.max_commit_latency);
  if (!commit.ok()) return commit.status();
  s.commit_latency = *commit;
  absl::StatusOr<std::vector<LoadLimit>> load =
      ParseLoadFlags(f.max_load, f.critical_load);
  if (!load.ok()) return load.status();
  s.load = *std::move(load);
  return s;
}

absl::StatusOr<CommitLatencyLimit> ParseCommitLatencyFlag(
    absl::string_view text) {
  CommitLatencyLimit limit;
  if (text == "0") return limit;
  absl::string_view factor = text;
  if (absl::ConsumeSuffix(&factor, "x")) {
    if (!absl::SimpleAtod(factor, &limit.factor) || !(limit.factor > 1) ||
        !std::isfinite(limit.factor)) {
      return BadFlag("--max-commit-latency",
                     absl::StrCat("\"", text,
                                  "\": a multiple of the quiet baseline must "
                                  "be above 1, such as 1.5x"));
    }
    limit.enabled = true;
    return limit;
  }
  absl::Duration d;
  if (!absl::ParseDuration(text, &d) || !(d > absl::ZeroDuration()) ||
      d == absl::InfiniteDuration()) {
    return BadFlag("--max-commit-latency",
                   absl::StrCat("\"", text,
                                "\" is not a multiple of the quiet baseline "
                                "(1.5x), a duration (5ms) or 0 (off)"));
  }
  limit.enabled = true;
  limit.max = d;
  return limit;
}

namespace {

// Adds "VAR=N,..." from `flag` to `out`, into max (or critical).
absl::Status ParseLoadList(absl::string_view flag, absl::string_view text,
                           bool critical, std::vector<LoadLimit>* out) {
  std::vector<std::string> seen;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    item = absl::StripAsciiWhitespace(item);
    const size_t eq = item.find('=');
    double n = 0;
    if (eq == absl::string_view::npos || eq == 0 ||
        !absl::SimpleAtod(item.substr(eq + 1), &n) || !(n > 0) ||
        !std::isfinite(n)) {
      return BadFlag(flag, absl::StrCat("\"", item,
                                        "\" is not VAR=N with N above 0, "
                                        "such as Threads_running=25"));
    }
    const std::string var(absl::StripAsciiWhitespace(item.substr(0, eq)));
    for (const std::string& other : seen) {
      if (absl::EqualsIgnoreCase(other, var)) {
        return BadFlag(flag, absl::StrCat(var, " is given twice"));
      }
    }
    seen.push_back(var);
    auto it = std::find_if(out->begin(), out->end(), [&](const LoadLimit& l) {
      return absl::EqualsIgnoreCase(l.variable, var);
    });
    if (it == out->end()) {
      out->push_back(LoadLimit{var});
      it = out->end() - 1;
    }
    (critical ? it->critical : it->max) = n;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<LoadLimit>> ParseLoadFlags(
    absl::string_view max_load, absl::string_view critical_load) {
  std::vector<LoadLimit> out;
  if (absl::Status s = ParseLoadList("--max-load", max_load, false, &out);
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          ParseLoadList("--critical-load", critical_load, true, &out);
      !s.ok()) {
    return s;
  }
  for (const LoadLimit& l : out) {
    if (l.max > 0 && l.critical > 0 && l.critical <= l.max) {
      return BadFlag("--critical-load",
                     absl::StrCat(l.variable, " must be above its --max-load (",
                                  FormatQuantity(l.max, ""), ")"));
    }
  }
  return out;
}

absl::Duration ChunkTimeForReplicas(const PacingSettings& s, DatabaseKind kind,
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
        "--target-chunk-time ", absl::FormatDuration(target),
        ": each chunk can hold a MySQL replica about that long behind (a "
        "replica applies a chunk only once it is committed), so --max-lag ",
        absl::FormatDuration(s.lag.max_lag), " may be overshot; ",
        absl::FormatDuration(cap), " or less avoids that"));
    return target;
  }
  notes->push_back(absl::StrCat(
      "chunks sized to take ", absl::FormatDuration(cap), ", not ",
      absl::FormatDuration(target),
      ": a MySQL replica applies a chunk only "
      "once committed, so each holds it about one chunk time behind; a tenth "
      "of --max-lag leaves room under the limit (--target-chunk-time "
      "overrides)"));
  return cap;
}

std::vector<std::string> DescribePacing(const PacingSettings& s) {
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
        "; --max-commit-latency 0 turns it off"));
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
    PaceOptions pace;
    out.push_back(absl::StrCat(
        "the pace is unlimited until a signal passes ",
        FormatQuantity(pace.target_utilisation * 100, ""),
        "% of its limit, then follows the one nearest its limit; writes pause "
        "at a limit"));
  }
  return out;
}

absl::StatusOr<std::unique_ptr<Pacing>> OpenPacing(
    const PacingSettings& s, const ConnectOptions& primary,
    const std::string& job, Clock* clock) {
  absl::StatusOr<Dsn> primary_dsn = ParseDsn(primary.dsn);
  if (!primary_dsn.ok()) return primary_dsn.status();
  const bool postgres = primary_dsn->kind == DatabaseKind::kPostgres;
  auto pacing = std::make_unique<Pacing>();
  std::vector<std::unique_ptr<Signal>> signals;
  bool heartbeat = false;

  const bool watch_lag = s.lag.max_lag > absl::ZeroDuration();
  for (const std::string& uri : s.replicas) {
    absl::StatusOr<Dsn> dsn = ParseDsn(uri);
    if (!dsn.ok()) return FlagError("--replica", dsn.status());
    if (dsn->kind != primary_dsn->kind) {
      return BadFlag("--replica", "must be the same kind of database as --dsn");
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
      return FlagError(absl::StrCat("--replica ", label.ok() ? *label : "?"),
                       lag.status());
    }
    LagTrend::Options trend;
    trend.horizon = s.lag_horizon;
    signals.push_back(
        std::make_unique<TrendingLagSignal>(*std::move(lag), clock, trend));
    heartbeat = true;
  }
  if (postgres) {
    const bool time = s.replicas.empty() && watch_lag;
    absl::StatusOr<std::vector<std::unique_ptr<Signal>>> own =
        OpenPrimaryLagSignals(primary, s.lag, time);
    if (!own.ok()) return own.status();
    if ((time || s.lag.max_lag_bytes > 0) && own->empty()) {
      pacing->notes.push_back(
          "no standby is connected (pg_stat_replication is empty): "
          "replication lag is not watched");
    }
    heartbeat |= !own->empty();
    for (auto& signal : *own) signals.push_back(std::move(signal));
  } else if (s.replicas.empty()) {
    if (s.lag_explicit || s.lag.max_lag_bytes > 0) {
      absl::StatusOr<std::vector<std::unique_ptr<Signal>>> own =
          OpenPrimaryLagSignals(primary, s.lag, watch_lag);
      if (!own.ok()) {
        return absl::InvalidArgumentError(std::string(own.status().message()));
      }
    } else if (watch_lag) {
      pacing->notes.push_back(
          "replication lag is not watched: a MySQL primary cannot see its "
          "replicas' lag; give --replica URI for each replica");
    }
  } else if (s.lag.max_lag_bytes > 0) {
    return BadFlag("--max-lag-bytes", "is PostgreSQL only");
  }

  if (s.max_latency > absl::ZeroDuration()) {
    absl::StatusOr<std::unique_ptr<Signal>> probe =
        OpenProbeSignal(primary, s.probe_query, s.max_latency, clock);
    if (!probe.ok()) return probe.status();
    signals.push_back(*std::move(probe));
  }
  std::vector<std::unique_ptr<Signal>> slow;  // read every 250ms
  if (!s.throttle_query.empty()) {
    absl::StatusOr<std::unique_ptr<Signal>> query = OpenThrottleQuerySignal(
        primary, s.throttle_query, s.throttle_threshold);
    if (!query.ok()) return query.status();
    slow.push_back(*std::move(query));
  }
  absl::StatusOr<std::vector<std::unique_ptr<Signal>>> load =
      OpenLoadSignals(primary, s.load);
  if (!load.ok()) return load.status();
  for (auto& signal : *load) slow.push_back(std::move(signal));
  // The commit latency is timed on the heartbeat, which then runs for it
  // alone if nothing else needs it.
  heartbeat |= s.commit_latency.enabled;

  if (signals.empty() && slow.empty() && !heartbeat &&
      s.max_rows_per_second <= 0) {
    return pacing;
  }
  ThrottleOptions options;
  options.clock = clock;
  options.max_rows_per_second = s.max_rows_per_second;
  options.ignore_unreadable_replicas = s.ignore_unreachable_replicas;
  if (!signals.empty() || !slow.empty() || heartbeat) {
    options.pace = PaceOptions();
  }
  if (s.max_latency > absl::ZeroDuration()) {
    // A probe may legitimately take up to its timeout: do not call it stale
    // before that.
    options.staleness_limit =
        std::max(options.staleness_limit,
                 ProbeTimeout(s.max_latency) + absl::Seconds(1));
  }
  pacing->controller = std::make_unique<ThrottleController>(options);
  if (!options.pace.has_value()) return pacing;
  PacerOptions pacer_options;
  pacer_options.clock = clock;
  pacer_options.commit_latency = s.commit_latency;
  pacing->pacer =
      std::make_unique<Pacer>(pacing->controller.get(), pacer_options);
  if (heartbeat) {
    absl::StatusOr<std::unique_ptr<Heartbeat>> beat =
        OpenHeartbeat(primary, job);
    if (!beat.ok()) return beat.status();
    pacing->pacer->SetHeartbeat(*std::move(beat));
  }
  for (auto& signal : signals) pacing->pacer->AddSignal(std::move(signal));
  for (auto& signal : slow) {
    pacing->pacer->AddSignal(std::move(signal), kSlowSignalInterval);
  }
  return pacing;
}

}  // namespace backfill
