#include "backfill/engine/probe_signal.h"

#include <optional>
#include <utility>

namespace backfill {

ProbeLatencySignal::ProbeLatencySignal(std::unique_ptr<Probe> probe,
                                       absl::Duration max_latency, Clock* clock,
                                       absl::Duration window)
    : probe_(std::move(probe)),
      max_latency_(max_latency),
      clock_(clock != nullptr ? clock : Clock::Real()),
      window_(window) {}

Reading ProbeLatencySignal::Read() {
  const absl::Time start = clock_->Now();
  absl::Status s = probe_->Run();
  const absl::Time end = clock_->Now();
  if (!s.ok()) return Reading::Unreadable(std::string(s.message()));
  window_.Add(end, end - start);
  std::optional<absl::Duration> p95 = window_.P95(end);
  if (!p95.has_value()) return Reading::Unreadable("no sample yet");
  return Reading::Ok(absl::ToDoubleSeconds(*p95),
                     absl::ToDoubleSeconds(max_latency_), "s");
}

}  // namespace backfill
