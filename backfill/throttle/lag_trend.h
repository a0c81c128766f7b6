#ifndef BACKFILL_THROTTLE_LAG_TREND_H_
#define BACKFILL_THROTTLE_LAG_TREND_H_

#include <deque>
#include <memory>
#include <string>
#include <utility>

#include "absl/time/time.h"
#include "backfill/throttle/clock.h"
#include "backfill/throttle/signal.h"

namespace backfill {

// Where a replica's lag is heading if writes stop now.
//
// A replica that applies the backfill's writes more slowly than the primary
// made them (a single-threaded MariaDB replica, say) falls behind at a steady
// rate while chunks commit. When writes pause, it still has the backlog to
// work off, and its lag keeps growing until it reaches the point where the
// pause began. Pausing when the lag itself reaches the limit therefore
// overshoots it: by a third or more when the replica applies at 75% of the
// primary's pace.
//
// With the lag L rising at `slope` seconds per second while writes run, the
// replica applies (1 - slope) seconds of the primary's work per second, so
// the backlog of L plus whatever the chunk in flight still adds (slope *
// horizon) takes (L + slope * horizon) / (1 - slope) seconds to clear, and
// the lag peaks at that value. Forecast() returns that peak, at most
// `max_factor` times L (a slope estimated near 1, or noise times a long
// horizon, would otherwise make it explode while the lag is still small);
// the lag itself when it is not rising. A stalled replica (slope 1) thus
// pauses writes at 1/max_factor of the limit.
//
// Pure: the caller passes the times (from its Clock). Not thread-safe; owned
// by the one signal that feeds it.
class LagTrend {
 public:
  struct Options {
    // The slope is fitted (least squares) to the samples of this window.
    absl::Duration window = absl::Seconds(1);
    // Writes still to come after a pause decision: a chunk in flight cannot
    // be stopped. The target chunk time.
    absl::Duration horizon = absl::Milliseconds(500);
    double max_factor = 3;
  };

  LagTrend() : LagTrend(Options{}) {}
  explicit LagTrend(const Options& options) : options_(options) {}

  // Records the lag `lag_seconds` measured at `at` (in time order) and
  // returns the forecast peak, in seconds. Needs at least 4 samples spanning
  // half the window to see a trend; until then returns the lag itself.
  double Forecast(absl::Time at, double lag_seconds);

 private:
  const Options options_;
  std::deque<std::pair<absl::Time, double>> samples_;  // time order
};

// A lag signal whose readings carry LagTrend's forecast (Reading::forecast),
// so that the controller pauses early enough for the lag to peak below the
// limit. Readings are otherwise the wrapped signal's, under its name.
class TrendingLagSignal : public Signal {
 public:
  // `clock` is not owned and must outlive the signal.
  TrendingLagSignal(std::unique_ptr<Signal> lag, Clock* clock,
                    const LagTrend::Options& options)
      : lag_(std::move(lag)), clock_(clock), trend_(options) {}

  const std::string& name() const override { return lag_->name(); }
  SignalKind kind() const override { return lag_->kind(); }
  std::string subject() const override { return lag_->subject(); }
  Reading Read() override;

 private:
  std::unique_ptr<Signal> lag_;
  Clock* clock_;
  LagTrend trend_;
};

}  // namespace backfill

#endif  // BACKFILL_THROTTLE_LAG_TREND_H_
