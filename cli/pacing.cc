#include "cli/pacing.h"

#include <CLI/CLI.hpp>
#include <cmath>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "cli/flag_terms.h"

namespace backfill {
namespace {

absl::Status BadFlag(absl::string_view flag, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(flag, ": ", why));
}

}  // namespace

absl::Status ParseDurationFlag(absl::string_view flag, const std::string& text,
                               absl::Duration* out, bool allow_zero) {
  if (text.empty()) return absl::OkStatus();
  absl::Duration d;
  if (!absl::ParseDuration(text, &d) || d < absl::ZeroDuration() ||
      (!allow_zero && d == absl::ZeroDuration()) ||
      d == absl::InfiniteDuration()) {
    return BadFlag(flag, absl::StrCat("\"", text, "\" is not a duration ",
                                      allow_zero ? "" : "above 0 ",
                                      "such as 250ms, 2s or 1m"));
  }
  *out = d;
  return absl::OkStatus();
}

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

namespace {

// --replica, --max-lag, --critical-lag, --max-lag-bytes.
absl::Status ParseLagFlags(const PacingFlags& f, PacingSettings* s) {
  s->replicas = f.replicas;
  for (const std::string& r : s->replicas) {
    // Parsed as the adapter will (libpq for PostgreSQL).
    absl::StatusOr<std::string> label = ReplicaLabel(r);
    if (!label.ok()) {
      absl::string_view why = label.status().message();
      absl::ConsumePrefix(&why, "bad --dsn: ");
      return BadFlag("--replica", absl::StrCat("bad URI: ", RedactDsn(why)));
    }
  }
  s->lag_explicit = !f.max_lag.empty() || !f.critical_lag.empty();
  if (absl::Status st =
          ParseDurationFlag("--max-lag", f.max_lag, &s->lag.max_lag);
      !st.ok()) {
    return st;
  }
  if (absl::Status st = ParseDurationFlag("--critical-lag", f.critical_lag,
                                          &s->lag.critical_lag);
      !st.ok()) {
    return st;
  }
  if (f.max_lag_bytes < 0) {
    return BadFlag("--max-lag-bytes", "must be a number of bytes >= 0");
  }
  s->lag.max_lag_bytes = f.max_lag_bytes;
  return absl::OkStatus();
}

// --max-latency, --probe-query, --throttle-query/threshold.
absl::Status ParseQueryFlags(const PacingFlags& f, PacingSettings* s) {
  if (absl::Status st =
          ParseDurationFlag("--max-latency", f.max_latency, &s->max_latency);
      !st.ok()) {
    return st;
  }
  if (!f.max_latency.empty() && s->max_latency == absl::ZeroDuration()) {
    return BadFlag("--max-latency", "must be above 0");
  }
  if (!f.probe_query.empty()) {
    if (f.max_latency.empty()) {
      return BadFlag("--probe-query", "needs --max-latency D");
    }
    s->probe_query = f.probe_query;
  }

  if (f.throttle_query.empty() != f.throttle_threshold.empty()) {
    return absl::InvalidArgumentError(
        "--throttle-query and --throttle-threshold go together");
  }
  if (!f.throttle_query.empty()) {
    s->throttle_query = f.throttle_query;
    if (!absl::SimpleAtod(f.throttle_threshold, &s->throttle_threshold) ||
        !(s->throttle_threshold > 0) || !std::isfinite(s->throttle_threshold)) {
      return BadFlag("--throttle-threshold",
                     absl::StrCat("\"", f.throttle_threshold,
                                  "\" is not a number above 0 (writes pause "
                                  "when the query's value reaches it)"));
    }
  }

  return absl::OkStatus();
}

// The rate cap, unreachable replicas, the lock timeout, the commit
// latency and the load.
absl::Status ParseLimitFlags(const PacingFlags& f, PacingSettings* s) {
  if (!(f.max_rows_per_second >= 0) || !std::isfinite(f.max_rows_per_second)) {
    return BadFlag("--max-rows-per-second", "must be a number >= 0");
  }
  s->max_rows_per_second = f.max_rows_per_second;
  if (f.ignore_unreachable_replicas < 0) {
    return BadFlag("--ignore-unreachable-replicas", "must be a number >= 0");
  }
  s->ignore_unreachable_replicas = f.ignore_unreachable_replicas;
  s->lock_timeout = absl::ZeroDuration();
  if (absl::Status st =
          ParseDurationFlag("--lock-timeout", f.lock_timeout, &s->lock_timeout);
      !st.ok()) {
    return st;
  }
  absl::StatusOr<CommitLatencyLimit> commit = ParseCommitLatencyFlag(
      f.max_commit_latency.empty() ? kDefaultMaxCommitLatency
                                   : f.max_commit_latency);
  if (!commit.ok()) return commit.status();
  s->commit_latency = *commit;
  absl::StatusOr<std::vector<LoadLimit>> load =
      ParseLoadFlags(f.max_load, f.critical_load);
  if (!load.ok()) return load.status();
  s->load = *std::move(load);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<PacingSettings> ParsePacingFlags(const PacingFlags& f) {
  PacingSettings s;
  for (auto parse : {ParseLagFlags, ParseQueryFlags, ParseLimitFlags}) {
    if (absl::Status st = parse(f, &s); !st.ok()) return st;
  }
  // The combination, by the library's rules, in flag terms.
  if (absl::Status st = CheckPacingOptions(s); !st.ok()) {
    return InFlagTerms(st);
  }
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
  return out;
}

}  // namespace backfill
