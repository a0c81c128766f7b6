#ifndef BACKFILL_THROTTLE_PACE_H_
#define BACKFILL_THROTTLE_PACE_H_

#include <cstdint>
#include <deque>
#include <utility>

#include "absl/time/time.h"

namespace backfill {

// Settings of a Pace. The defaults settle within about ten steps on a server
// whose latency grows with the write rate, without overshooting.
struct PaceOptions {
  // Rows/s before the first step down; 0 (default): unlimited. An
  // unlimited pace engages the first time a step would lower it, from the
  // rate the copier achieved over the last few periods (not before the
  // copier has written anything). Starting flat out
  // is what gh-ost, pt-online-schema-change and Spirit do; the controller's
  // pause at utilisation >= 1 covers the seconds before the pace has come
  // down. A value > 0 starts there and speeds up while the signals stay
  // comfortable.
  double initial_rows_per_second = 0;
  // The pace never falls below this (rows/s). Default 10. Holding writes
  // altogether is the controller's pause, not the pace's.
  double min_rows_per_second = 10;
  // At most one step per period. Default 1s: several readings of each
  // signal (every 100-250ms) between two steps.
  absl::Duration period = absl::Seconds(1);
  // The utilisation the pace steers to (0..1). Default 0.8, the level below
  // which paused writes resume: a limit is what the operator allows, so the
  // pace runs close to it, and the pause at 1 catches the noise that goes
  // over.
  double target_utilisation = 0.8;
  // How hard a step corrects: the pace is multiplied by
  // exp(gain * (target - utilisation)). Default 0.5. Higher settles faster
  // on a clean signal and jitters more on a noisy one.
  double gain = 0.5;
  // Bounds of one step's factor. Defaults 1.25 (up) and 0.5 (down):
  // speeding up is cautious, slowing down is not. A step with an unreadable
  // signal always takes max_decrease.
  double max_increase = 1.25;
  double max_decrease = 0.5;
  // After a step down, no step for this long. The signals are percentiles
  // over windows of a few seconds that still hold readings from before the
  // step; stepping down again on them would cut the pace far below where it
  // settles. Default 10s, the commit latency's window.
  absl::Duration hold_after_decrease = absl::Seconds(10);
};

// The proportional pace of docs/DESIGN.md "Pacing": a rate of rows/s between
// "flat out" and "pause", raised while every signal is comfortably under
// its limit and lowered as one approaches it. Integral control on the log of
// the rate: each step multiplies the rate by exp(gain * (target - u)), so
// the rate settles where the worst signal's utilisation u equals the target
// and does not oscillate once there (on a server whose utilisation rises
// with the rate; see pace_test.cc).
//
// The rate never runs away above what the copier achieves: a step only
// raises it while the copier walked at least half of it over the last few
// periods, so a pace that is not the bottleneck (the chunks themselves take
// the time, or writes are held) does not wind up and can act at once when a
// signal rises.
//
// A step down is followed by a hold (PaceOptions::hold_after_decrease)
// while the signals' windows catch up with it, so that one overload is
// answered with one cut, not a cascade.
//
// Pure: times come from the caller (the ThrottleController's clock). Not
// thread-safe; the controller calls it under its lock.
class Pace {
 public:
  Pace(const PaceOptions& options, absl::Time start);

  // Takes one step if `options.period` has passed since the last one (or
  // since `start`): `utilisation` is the highest utilisation among the
  // signals now (+infinity when one is unreadable). Returns true if it
  // stepped. Calls that come sooner do nothing, so the caller may call it
  // on every evaluation.
  bool Observe(absl::Time now, double utilisation);

  // Rows the copier walked, at `at` (after each committed chunk).
  void RecordRows(absl::Time at, int64_t rows);

  // The current pace, rows/s; 0 while unlimited.
  double rows_per_second() const { return rate_; }

  // The copier's rate over the last few periods, rows/s (0 before any).
  double Achieved(absl::Time now) const;

 private:
  const PaceOptions options_;
  double rate_;  // 0: unlimited
  absl::Time last_step_;
  absl::Time last_decrease_ = absl::InfinitePast();
  std::deque<std::pair<absl::Time, int64_t>> rows_;  // recent chunks
  absl::Time first_at_;  // when recording began, for the first periods
};

}  // namespace backfill

#endif  // BACKFILL_THROTTLE_PACE_H_
