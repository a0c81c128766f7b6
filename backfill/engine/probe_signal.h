#ifndef BACKFILL_ENGINE_PROBE_SIGNAL_H_
#define BACKFILL_ENGINE_PROBE_SIGNAL_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "backfill/throttle/clock.h"
#include "backfill/throttle/latency_window.h"
#include "backfill/throttle/signal.h"

namespace backfill {

// One run of the --probe-query on the primary, on a connection of its own.
//
// Thread-safety: Run() is only called from one thread at a time.
class Probe {
 public:
  virtual ~Probe() = default;
  // Runs the query once and reads its whole result. An error (the query
  // failed or timed out, the connection is gone) makes the probe-latency
  // signal unreadable; the next Run reconnects. Never throws.
  virtual absl::Status Run() = 0;
};

// The probe-latency signal: times each Run() of a Probe with the clock and
// reports the p95 of the samples taken over a short window (default 3s)
// against --max-latency. Named "probe_latency p95".
//
// A failed run reports the signal unreadable with the probe's error (and
// adds no sample). Writes held by a slow probe resume once the slow samples
// have left the window and the p95 is below the resume level, so a single
// slow probe holds writes for at most about one window.
//
// Thread-safety: as Signal (Read from one poller thread at a time).
class ProbeLatencySignal final : public Signal {
 public:
  // `clock` is not owned (nullptr: Clock::Real()). `max_latency` must be
  // positive.
  ProbeLatencySignal(std::unique_ptr<Probe> probe, absl::Duration max_latency,
                     Clock* clock = nullptr,
                     absl::Duration window = absl::Seconds(3));

  const std::string& name() const override { return name_; }
  SignalKind kind() const override { return SignalKind::kProbeLatency; }
  Reading Read() override;

  static constexpr char kName[] = "probe_latency p95";

 private:
  const std::string name_ = kName;
  std::unique_ptr<Probe> probe_;
  const absl::Duration max_latency_;
  Clock* const clock_;
  LatencyWindow window_;
};

}  // namespace backfill

#endif  // BACKFILL_ENGINE_PROBE_SIGNAL_H_
