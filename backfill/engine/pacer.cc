#include "backfill/engine/pacer.h"

#include <optional>
#include <utility>
#include <vector>

namespace backfill {

Pacer::Pacer(ThrottleController* controller, const PacerOptions& options)
    : controller_(controller),
      options_(options),
      clock_(options.clock != nullptr ? options.clock : Clock::Real()) {}

Pacer::~Pacer() { Stop(); }

void Pacer::AddSignal(std::unique_ptr<Signal> signal, absl::Duration interval) {
  signals_.push_back(Polled{std::move(signal), interval});
}

void Pacer::SetHeartbeat(std::unique_ptr<Heartbeat> heartbeat) {
  heartbeat_ = std::move(heartbeat);
  if (options_.commit_latency.enabled) {
    commit_latency_ = std::make_unique<CommitLatency>(options_.commit_latency);
  }
}

void Pacer::Beat() {
  const absl::Time start = clock_->Now();
  if (commit_latency_ != nullptr) {
    const bool rechecking = commit_latency_->Rechecking(start);
    if (rechecking != holding_) {
      controller_->SetHold(rechecking ? CommitLatency::kRecheckReason : "");
      holding_ = rechecking;
    }
  }
  absl::Status s = heartbeat_->Beat();
  const absl::Time end = clock_->Now();
  if (commit_latency_ != nullptr) {
    const ThrottleState state = controller_->State();
    const std::optional<absl::Time> held_since =
        state.throttled ? std::optional<absl::Time>(state.since) : std::nullopt;
    controller_->Update(
        CommitLatency::kName,
        s.ok() ? commit_latency_->Record(end, end - start, held_since)
               : commit_latency_->Failed(s));
    return;
  }
  controller_->Update(
      kHeartbeatSignal,
      s.ok() ? Reading::Ok(absl::ToDoubleSeconds(end - start),
                           absl::ToDoubleSeconds(options_.heartbeat_threshold),
                           "s")
             : Reading::Unreadable(std::string(s.message())));
}

void Pacer::MeasureBaseline() {
  const CommitLatencyLimit& o = options_.commit_latency;
  std::vector<absl::Duration> beats;
  const absl::Time deadline = absl::Now() + o.baseline_time;
  do {
    const absl::Time start = clock_->Now();
    if (heartbeat_->Beat().ok()) beats.push_back(clock_->Now() - start);
  } while (!WaitOrStop(o.baseline_interval) && absl::Now() < deadline);
  // On failure the signal stays unreadable ("no quiet baseline measured").
  (void)commit_latency_->SetBaseline(beats);
}

void Pacer::PollOnce() {
  if (heartbeat_ != nullptr) Beat();
  for (Polled& p : signals_) controller_->Poll(*p.signal);
}

bool Pacer::WaitOrStop(absl::Duration d) {
  MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(
      [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; }, d);
}

void Pacer::SignalLoop(Signal* signal, absl::Duration interval) {
  controller_->Poll(*signal);
  {
    MutexLock lock(&mu_);
    ++first_readings_;
  }
  while (!WaitOrStop(interval)) controller_->Poll(*signal);
}

void Pacer::HeartbeatLoop() {
  while (!WaitOrStop(options_.heartbeat_interval)) Beat();
}

void Pacer::Start(absl::Duration first_reading_wait) {
  if (started_) return;
  started_ = true;
  {
    MutexLock lock(&mu_);
    stopping_ = false;
    first_readings_ = 0;
  }
  if (heartbeat_ != nullptr) {
    if (commit_latency_ != nullptr) {
      controller_->AddSignal(CommitLatency::kName, SignalKind::kCommitLatency);
    } else {
      controller_->AddSignal(kHeartbeatSignal, SignalKind::kHeartbeat);
    }
  }
  for (const Polled& p : signals_) {
    controller_->AddSignal(p.signal->name(), p.signal->kind(),
                           p.signal->subject());
  }
  if (commit_latency_ != nullptr && !commit_latency_->baseline()) {
    MeasureBaseline();
  }
  if (commit_latency_ != nullptr) commit_latency_->StartRechecks(clock_->Now());
  if (heartbeat_ != nullptr) {
    Beat();
    threads_.emplace_back([this] { HeartbeatLoop(); });
  }
  for (Polled& p : signals_) {
    threads_.emplace_back(
        [this, signal = p.signal.get(), interval = p.interval] {
          SignalLoop(signal, interval);
        });
  }
  const absl::Time deadline = absl::Now() + first_reading_wait;
  const size_t n = signals_.size();
  auto all_read = [this, n]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return first_readings_ >= n;
  };
  {
    MutexLock lock(&mu_);
    mu_.AwaitWithDeadline(all_read, deadline);
  }
  while (absl::Now() < deadline) {
    const Decision d = controller_->Check();
    if (d.proceed() || d.critical()) break;  // critical: the run says so
    absl::SleepFor(absl::Milliseconds(10));
  }
}

void Pacer::Stop() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
  started_ = false;
  if (holding_) {
    controller_->SetHold("");
    holding_ = false;
  }
}

}  // namespace backfill
