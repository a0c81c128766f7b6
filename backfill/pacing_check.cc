// CheckPacingOptions (backfill/pacing.h): the consistency of PacingOptions,
// checked before anything is opened.

#include <cmath>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "backfill/pacing.h"
#include "backfill/throttle/signal.h"

namespace backfill {
namespace {

absl::Status Bad(absl::string_view option, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(option, ": ", why));
}

bool NonNegativeNumber(double x) { return x >= 0 && std::isfinite(x); }

// The replicas, their lag limits and the ones that may be ignored.
absl::Status CheckLag(const PacingOptions& p) {
  const LagLimits& lag = p.lag;
  if (lag.max_lag < absl::ZeroDuration() ||
      lag.critical_lag < absl::ZeroDuration()) {
    return Bad(
        lag.max_lag < absl::ZeroDuration() ? "lag.max_lag" : "lag.critical_lag",
        "must not be negative");
  }
  if (lag.critical_lag > absl::ZeroDuration()) {
    if (lag.max_lag == absl::ZeroDuration()) {
      return Bad("lag.critical_lag", "needs lag watching (`lag.max_lag` is 0)");
    }
    if (lag.critical_lag <= lag.max_lag) {
      return Bad("lag.critical_lag",
                 absl::StrCat("must be above `lag.max_lag` (",
                              absl::FormatDuration(lag.max_lag), ")"));
    }
  }
  if (lag.max_lag_bytes < 0) {
    return Bad("lag.max_lag_bytes", "must be a number of bytes >= 0");
  }
  if (!p.replicas.empty() && lag.max_lag == absl::ZeroDuration()) {
    return Bad("replicas", "lag watching is off (`lag.max_lag` is 0)");
  }
  if (p.ignore_unreachable_replicas < 0) {
    return Bad("ignore_unreachable_replicas", "must be a number >= 0");
  }
  if (p.ignore_unreachable_replicas > 0 && p.replicas.empty()) {
    return Bad("ignore_unreachable_replicas", "needs `replicas` to ignore");
  }
  return absl::OkStatus();
}

// The probe, the throttle query and the rate cap.
absl::Status CheckQueriesAndRate(const PacingOptions& p) {
  if (p.max_latency < absl::ZeroDuration()) {
    return Bad("max_latency", "must not be negative");
  }
  if (p.max_latency > absl::ZeroDuration() && p.probe_query.empty()) {
    return Bad("probe_query", "is empty (`max_latency` times it)");
  }
  if (!p.throttle_query.empty() &&
      !(p.throttle_threshold > 0 && std::isfinite(p.throttle_threshold))) {
    return Bad("throttle_threshold",
               "must be a number above 0 (writes pause when the query's "
               "value reaches it)");
  }
  if (!NonNegativeNumber(p.max_rows_per_second)) {
    return Bad("max_rows_per_second", "must be a number >= 0");
  }
  return absl::OkStatus();
}

absl::Status CheckCommitLatency(const CommitLatencyLimit& c) {
  if (!c.enabled) return absl::OkStatus();
  const bool relative = c.factor > 1 && std::isfinite(c.factor);
  if (!relative && !(c.max > absl::ZeroDuration())) {
    return Bad("commit_latency",
               "needs a factor above 1 (times the quiet baseline) or a max "
               "above 0");
  }
  if (c.window <= absl::ZeroDuration() ||
      c.baseline_time <= absl::ZeroDuration()) {
    return Bad("commit_latency", "window and baseline_time must be above 0");
  }
  return absl::OkStatus();
}

absl::Status CheckLoad(const std::vector<LoadLimit>& load) {
  for (size_t i = 0; i < load.size(); ++i) {
    const LoadLimit& l = load[i];
    if (l.variable.empty()) return Bad("load", "a limit names no variable");
    if (!NonNegativeNumber(l.max) || !NonNegativeNumber(l.critical) ||
        (l.max == 0 && l.critical == 0)) {
      return Bad("load", absl::StrCat(l.variable,
                                      " needs a max or a critical above 0"));
    }
    if (l.max > 0 && l.critical > 0 && l.critical <= l.max) {
      return Bad("load.critical",
                 absl::StrCat(l.variable, " must be above its `load.max` (",
                              FormatQuantity(l.max, ""), ")"));
    }
    for (size_t j = 0; j < i; ++j) {
      if (absl::EqualsIgnoreCase(load[j].variable, l.variable)) {
        return Bad("load", absl::StrCat(l.variable, " is given twice"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckPacingOptions(const PacingOptions& pacing) {
  if (absl::Status s = CheckLag(pacing); !s.ok()) return s;
  if (absl::Status s = CheckQueriesAndRate(pacing); !s.ok()) return s;
  if (absl::Status s = CheckCommitLatency(pacing.commit_latency); !s.ok()) {
    return s;
  }
  return CheckLoad(pacing.load);
}

}  // namespace backfill
