#include "backfill/engine/commit_latency.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"

namespace backfill {
namespace {

constexpr int kMinBaselineBeats = 5;
// Beats per group of the baseline's measurement (see SetBaseline).
constexpr size_t kBaselineGroup = 10;

double Seconds(absl::Duration d) { return absl::ToDoubleSeconds(d); }

// The nearest-rank p95 of `beats` (not empty).
absl::Duration P95(std::vector<absl::Duration> beats) {
  const size_t rank = std::clamp<size_t>(
      static_cast<size_t>(std::ceil(0.95 * beats.size() - 1e-9)), 1,
      beats.size());
  std::nth_element(beats.begin(), beats.begin() + (rank - 1), beats.end());
  return beats[rank - 1];
}

// The quiet p95 of `beats`, in the order they were taken: the median of the
// p95s of consecutive groups of kBaselineGroup (one group when there are
// fewer than two groups' worth), so that one stall of the disk during the
// measurement (a few slow beats in a row) does not become the figure.
absl::Duration QuietP95(const std::vector<absl::Duration>& beats) {
  std::vector<absl::Duration> p95s;
  const size_t groups = std::max<size_t>(1, beats.size() / kBaselineGroup);
  for (size_t g = 0; g < groups; ++g) {
    const size_t from = g * beats.size() / groups;
    const size_t to = (g + 1) * beats.size() / groups;
    p95s.push_back(P95(
        std::vector<absl::Duration>(beats.begin() + from, beats.begin() + to)));
  }
  std::sort(p95s.begin(), p95s.end());
  return p95s[(p95s.size() - 1) / 2];
}

}  // namespace

CommitLatency::CommitLatency(const CommitLatencyLimit& limit)
    : options_(limit), window_(limit.window) {
  if (options_.factor <= 0 && options_.max > absl::ZeroDuration()) {
    limit_ = options_.max;
  }
  if (options_.known_baseline > absl::ZeroDuration()) {
    MutexLock lock(&mu_);
    SetBaselineLocked(options_.known_baseline);
  }
}

std::optional<absl::Duration> CommitLatency::baseline() const {
  MutexLock lock(&mu_);
  return baseline_;
}

std::optional<absl::Duration> CommitLatency::limit() const {
  MutexLock lock(&mu_);
  return limit_;
}

int CommitLatency::corrections() const {
  MutexLock lock(&mu_);
  return corrections_;
}

void CommitLatency::SetBaselineLocked(absl::Duration baseline) {
  baseline_ = baseline;
  if (options_.factor > 0) {
    limit_ =
        std::max(options_.factor * baseline, baseline + options_.min_headroom);
  }
}

absl::Status CommitLatency::SetBaseline(
    const std::vector<absl::Duration>& beats) {
  if (static_cast<int>(beats.size()) < kMinBaselineBeats) {
    return absl::UnavailableError(
        absl::StrCat("cannot measure the quiet commit latency: only ",
                     beats.size(), " of the heartbeat's writes succeeded"));
  }
  const absl::Duration quiet = QuietP95(beats);
  MutexLock lock(&mu_);
  SetBaselineLocked(quiet);
  baseline_beats_ = static_cast<int>(beats.size());
  return absl::OkStatus();
}

void CommitLatency::StartRechecks(absl::Time now) {
  MutexLock lock(&mu_);
  if (options_.recheck_every > absl::ZeroDuration()) {
    next_recheck_ = now + options_.recheck_first;
  }
}

bool CommitLatency::Rechecking(absl::Time now) {
  MutexLock lock(&mu_);
  if (!recheck_started_.has_value() && next_recheck_.has_value() &&
      baseline_.has_value() && now >= *next_recheck_) {
    recheck_started_ = now;
    recheck_beats_.clear();
  }
  return recheck_started_.has_value();
}

void CommitLatency::RecheckBeatLocked(absl::Time at, absl::Duration took) {
  if (!recheck_started_.has_value()) return;
  const absl::Duration since = at - *recheck_started_;
  if (since >= options_.recheck_settle) recheck_beats_.push_back(took);
  if (since < options_.recheck_time) return;
  if (static_cast<int>(recheck_beats_.size()) >= kMinBaselineBeats &&
      baseline_.has_value()) {
    const absl::Duration quiet = QuietP95(recheck_beats_);
    if (quiet < *baseline_) {
      SetBaselineLocked(quiet);
      ++corrections_;
    }
  }
  recheck_started_.reset();
  next_recheck_ = at + options_.recheck_every;
}

int CommitLatency::held_rebaselines() const {
  MutexLock lock(&mu_);
  return held_rebaselines_;
}

void CommitLatency::RebaselineIfHeldLocked(
    absl::Time at, absl::Duration p95, std::optional<absl::Time> held_since) {
  if (!held_since.has_value() || options_.factor <= 0) return;
  if (at - *held_since < options_.window + options_.recheck_settle) return;
  if (window_.Count(at) < static_cast<size_t>(kMinCorrectionBeats)) return;
  // Once per window of a hold: the next one may take over only when a whole
  // window of new beats has passed since.
  if (rebaselined_at_.has_value() && at - *rebaselined_at_ < options_.window) {
    return;
  }
  rebaselined_at_ = at;
  if (p95 == *baseline_) return;
  SetBaselineLocked(p95);
  ++held_rebaselines_;
}

Reading CommitLatency::Record(absl::Time at, absl::Duration took,
                              std::optional<absl::Time> held_since) {
  MutexLock lock(&mu_);
  window_.Add(at, took);
  RecheckBeatLocked(at, took);
  if (!baseline_.has_value() || !limit_.has_value()) {
    return Reading::Unreadable("no quiet baseline measured");
  }
  const absl::Duration p95 = *window_.P95(at);
  if (window_.Count(at) >= static_cast<size_t>(kMinCorrectionBeats) &&
      p95 < kCorrectionMargin * *baseline_) {
    SetBaselineLocked(p95);
    ++corrections_;
  }
  RebaselineIfHeldLocked(at, p95, held_since);
  Reading r = Reading::Ok(Seconds(p95), Seconds(*limit_), "s");
  // A baseline at or above an absolute limit leaves no room: the plain
  // ratio then holds writes until the server is faster than the limit.
  if (*baseline_ < *limit_) r.floor = Seconds(*baseline_);
  return r;
}

Reading CommitLatency::Failed(const absl::Status& error) {
  return Reading::Unreadable(std::string(error.message()));
}

std::string CommitLatency::Describe() const {
  MutexLock lock(&mu_);
  if (!baseline_.has_value() || !limit_.has_value()) return "";
  std::string relative;
  if (options_.factor > 0) {
    relative =
        *limit_ > options_.factor * *baseline_
            ? absl::StrCat(" (the quiet p95 + ",
                           FormatQuantity(Seconds(options_.min_headroom), "s"),
                           ")")
            : absl::StrCat(" (", FormatQuantity(options_.factor, ""),
                           "x the quiet p95)");
  }
  std::string out = absl::StrCat(
      "commit latency: quiet p95 ", FormatQuantity(Seconds(*baseline_), "s"),
      baseline_beats_ > 0 ? absl::StrCat(" over ", baseline_beats_, " writes")
                          : " (from an earlier run)",
      "; writes slow down as the p95 nears ",
      FormatQuantity(Seconds(*limit_), "s"), relative, " and pause above it");
  if (*baseline_ >= *limit_) {
    absl::StrAppend(&out,
                    "; the quiet p95 is already at the limit, so writes "
                    "hold until the primary commits faster");
  }
  return out;
}

}  // namespace backfill
