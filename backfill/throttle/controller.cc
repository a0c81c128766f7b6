#include "backfill/throttle/controller.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"

namespace backfill {
namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();
constexpr absl::string_view kOperatorReason = "paused by operator";

}  // namespace

ThrottleController::ThrottleController(const ThrottleOptions& options)
    : options_([&] {
        ThrottleOptions o = options;
        o.resume_utilisation = std::min(o.resume_utilisation, 1.0);
        if (o.wait_step <= absl::ZeroDuration()) {
          o.wait_step = absl::Milliseconds(100);
        }
        return o;
      }()),
      clock_(options.clock != nullptr ? options.clock : Clock::Real()) {
  const absl::Time now = clock_->Now();
  MutexLock lock(&mu_);
  last_evaluated_ = now;
  if (options_.pace.has_value()) pace_.emplace(*options_.pace, now);
  tokens_ = BucketLocked();
  tokens_at_ = now;
}

void ThrottleController::AddSignal(absl::string_view name, SignalKind kind,
                                   std::string subject) {
  MutexLock lock(&mu_);
  Entry& entry = signals_.try_emplace(std::string(name)).first->second;
  entry.kind = kind;
  entry.subject = std::move(subject);
}

void ThrottleController::Update(absl::string_view name, Reading reading) {
  const absl::Time now = clock_->Now();
  MutexLock lock(&mu_);
  // Charge the time up to now under the old readings before changing them
  // (and before registering a new name, which would count as unreadable).
  EvaluateLocked(now);
  auto it = signals_.find(name);
  if (it == signals_.end()) it = signals_.try_emplace(std::string(name)).first;
  it->second.reading = std::move(reading);
  it->second.updated_at = now;
  EvaluateLocked(now);
}

void ThrottleController::Poll(Signal& signal) {
  AddSignal(signal.name(), signal.kind(), signal.subject());
  Reading reading = signal.Read();
  Update(signal.name(), std::move(reading));
}

void ThrottleController::SetOperatorPause(bool paused) {
  const absl::Time now = clock_->Now();
  MutexLock lock(&mu_);
  EvaluateLocked(now);
  operator_pause_ = paused;
  EvaluateLocked(now);
}

void ThrottleController::SetHold(absl::string_view reason) {
  const absl::Time now = clock_->Now();
  MutexLock lock(&mu_);
  EvaluateLocked(now);
  hold_ = std::string(reason);
  EvaluateLocked(now);
}

Decision ThrottleController::Check() {
  const absl::Time now = clock_->Now();
  MutexLock lock(&mu_);
  return EvaluateLocked(now);
}

bool ThrottleController::Readable(const Entry& entry, absl::Time now) const {
  return entry.reading.has_value() &&
         now - entry.updated_at <= options_.staleness_limit &&
         std::isfinite(entry.reading->Utilisation());
}

double ThrottleController::Utilisation(const Entry& entry,
                                       absl::Time now) const {
  return Readable(entry, now) ? entry.reading->Utilisation() : kInfinity;
}

std::string ThrottleController::Reason(const std::string& name,
                                       const Entry& entry,
                                       absl::Time now) const {
  if (!entry.reading.has_value()) {
    return absl::StrCat(name, " unreadable: no reading yet");
  }
  const absl::Duration age = now - entry.updated_at;
  if (age > options_.staleness_limit) {
    return absl::StrCat(name, " unreadable: no reading for ",
                        FormatQuantity(absl::ToDoubleSeconds(age), "s"));
  }
  return entry.reading->Describe(name);
}

std::vector<const std::string*> ThrottleController::IgnoredLocked(
    absl::Time now) const {
  std::vector<const std::string*> ignored;
  if (options_.ignore_unreadable_replicas <= 0) return ignored;
  for (const auto& [name, entry] : signals_) {
    if (entry.kind == SignalKind::kReplicaLag && !Readable(entry, now)) {
      ignored.push_back(&name);
    }
  }
  // All of them, or none: more than N unreadable fail closed.
  if (ignored.size() >
      static_cast<size_t>(options_.ignore_unreadable_replicas)) {
    ignored.clear();
  }
  return ignored;
}

ThrottleController::Scan ThrottleController::ScanLocked(absl::Time now) const {
  Scan scan;
  scan.ignored = IgnoredLocked(now);
  double critical_ratio = -kInfinity;
  for (const auto& [name, entry] : signals_) {
    if (std::find(scan.ignored.begin(), scan.ignored.end(), &name) !=
        scan.ignored.end()) {
      continue;
    }
    const double u = Utilisation(entry, now);
    if (scan.worst_entry == nullptr || u > scan.worst) {
      scan.worst = u;
      scan.worst_name = &name;
      scan.worst_entry = &entry;
    }
    if (Readable(entry, now) && entry.reading->Critical()) {
      const double ratio = entry.reading->value / entry.reading->critical;
      if (ratio > critical_ratio) {
        critical_ratio = ratio;
        scan.critical_name = &name;
        scan.critical_entry = &entry;
      }
    }
  }
  return scan;
}

Decision ThrottleController::DecideLocked(const Scan& scan,
                                          absl::Time now) const {
  Decision d;
  if (scan.critical_entry != nullptr) {
    const Reading& r = *scan.critical_entry->reading;
    d.action = Decision::Action::kCritical;
    d.reason = absl::StrCat("critical: ", *scan.critical_name, " ",
                            FormatQuantity(r.value, r.unit),
                            r.value > r.critical ? " > " : " >= ",
                            FormatQuantity(r.critical, r.unit));
    d.label = absl::StrCat(*scan.critical_name, " critical");
  } else if (operator_pause_) {
    d.action = Decision::Action::kWait;
    d.reason = std::string(kOperatorReason);
    d.label = std::string(kOperatorReason);
  } else if (!hold_.empty()) {
    d.action = Decision::Action::kWait;
    d.reason = hold_;
    d.label = hold_;
  } else if (signal_paused_) {
    d.action = Decision::Action::kWait;
    const std::string& name = *scan.worst_name;
    const Entry& entry = *scan.worst_entry;
    if (!Readable(entry, now)) {
      d.reason = Reason(name, entry, now);
      d.label = absl::StrCat(name, " unreadable");
    } else if (scan.worst >= 1) {
      d.reason = Reason(name, entry, now);
      d.label = name;
    } else {
      // In the hysteresis band: below the threshold, not yet below resume.
      const Reading& r = *entry.reading;
      d.reason = absl::StrCat(
          name, " ", FormatQuantity(r.Effective(), r.unit), ", resumes below ",
          FormatQuantity(r.threshold * options_.resume_utilisation, r.unit));
      d.label = name;
    }
  }
  for (const std::string* name : scan.ignored) {
    d.ignored.emplace(*name, Reason(*name, signals_.find(*name)->second, now));
  }
  return d;
}

Decision ThrottleController::EvaluateLocked(absl::Time now) {
  if (!current_.proceed() && now > last_evaluated_) {
    throttle_time_[current_.label] += now - last_evaluated_;
  }
  last_evaluated_ = std::max(last_evaluated_, now);

  const Scan scan = ScanLocked(now);
  // No signal left to count: nothing holds writes.
  const double worst = scan.worst_entry != nullptr ? scan.worst : 0;
  StepPaceLocked(now, worst, scan.worst_name);
  if (worst >= 1) {
    signal_paused_ = true;
  } else if (worst < options_.resume_utilisation) {
    signal_paused_ = false;
  }
  Decision d = DecideLocked(scan, now);
  if (d.proceed()) {
    throttled_since_ = absl::InfinitePast();
  } else if (current_.proceed()) {
    throttled_since_ = now;
  }
  current_ = d;
  return d;
}

double ThrottleController::RateLocked() const {
  const double cap = options_.max_rows_per_second > 0
                         ? options_.max_rows_per_second
                         : std::numeric_limits<double>::infinity();
  const double rate = pace_.has_value() && pace_->rows_per_second() > 0
                          ? std::min(cap, pace_->rows_per_second())
                          : cap;
  return std::isfinite(rate) ? rate : 0;
}

double ThrottleController::BucketLocked() const {
  const double rate = RateLocked();
  if (rate == 0) return 0;
  if (options_.burst_rows > 0) return static_cast<double>(options_.burst_rows);
  return std::max(1.0, rate);
}

double ThrottleController::TokensLocked(absl::Time now) const {
  // Whole nanoseconds first, so round rates and times refill exactly.
  const double elapsed_ns = static_cast<double>(
      std::max<int64_t>(0, absl::ToInt64Nanoseconds(now - tokens_at_)));
  const double refill = RateLocked() * elapsed_ns / 1e9;
  return std::min(BucketLocked(), tokens_ + refill);
}

void ThrottleController::StepPaceLocked(absl::Time now, double worst,
                                        const std::string* name) {
  if (!pace_.has_value()) return;
  // The bucket fills at the old rate up to now, at the new one after.
  const double tokens = TokensLocked(now);
  if (!pace_->Observe(now, worst)) return;
  tokens_ = std::min(tokens, BucketLocked());
  tokens_at_ = std::max(tokens_at_, now);
  pace_signal_ = name != nullptr ? *name : "";
  pace_reason_.clear();
  if (name != nullptr) {
    pace_reason_ = Reason(*name, signals_.find(*name)->second, now);
  }
}

std::string ThrottleController::RateWaitReasonLocked(std::string* label) {
  const double rate = RateLocked();
  if (!pace_.has_value() || pace_->rows_per_second() == 0 ||
      (options_.max_rows_per_second > 0 &&
       rate >= options_.max_rows_per_second)) {
    *label = std::string(kRateLabel);
    return absl::StrCat(kRateLabel, " ", FormatQuantity(rate, ""));
  }
  *label = std::string(kPaceLabel);
  std::string reason =
      absl::StrCat(kPaceLabel, " ", FormatQuantity(rate, ""), " rows/s");
  if (!pace_reason_.empty()) absl::StrAppend(&reason, " (", pace_reason_, ")");
  return reason;
}

absl::Duration ThrottleController::DelayFor(int64_t rows) const {
  if (rows <= 0) return absl::ZeroDuration();
  const absl::Time now = clock_->Now();
  MutexLock lock(&mu_);
  const double rate = RateLocked();
  if (rate == 0) return absl::ZeroDuration();
  const double need = std::min(static_cast<double>(rows), BucketLocked());
  const double missing = need - TokensLocked(now);
  // Tolerate rounding so that sleeping exactly the returned delay suffices.
  if (missing <= 1e-6) return absl::ZeroDuration();
  return absl::Nanoseconds(std::ceil(missing * 1e9 / rate - 1e-6));
}

int64_t ThrottleController::ChunkRowsCap() const {
  MutexLock lock(&mu_);
  const double rate = RateLocked();
  if (rate == 0) return 0;
  return std::max<int64_t>(
      std::max<int64_t>(1, options_.chunk_cap_min_rows),
      static_cast<int64_t>(rate *
                           absl::ToDoubleSeconds(options_.chunk_cap_time)));
}

void ThrottleController::RecordChunk(int64_t rows) {
  if (rows <= 0) return;
  const absl::Time now = clock_->Now();
  MutexLock lock(&mu_);
  if (pace_.has_value()) pace_->RecordRows(now, rows);
  if (RateLocked() == 0) return;
  tokens_ = TokensLocked(now) - static_cast<double>(rows);
  tokens_at_ = std::max(tokens_at_, now);
}

WaitResult ThrottleController::WaitUntilAllowed(
    int64_t rows, absl::FunctionRef<bool()> should_stop,
    const std::function<void(const Decision&)>& on_wait) {
  const absl::Time start = clock_->Now();
  WaitResult result;
  std::string last_label;
  while (true) {
    const Decision d = Check();
    if (d.critical()) {
      result.outcome = WaitResult::Outcome::kCritical;
      result.reason = d.reason;
      break;
    }
    absl::Duration sleep;
    std::string rate_label;  // set when waiting on the bucket
    if (!d.proceed()) {
      result.reason = d.reason;
      if (d.label != last_label) {
        last_label = d.label;
        if (on_wait) on_wait(d);
      }
      sleep = options_.wait_step;
    } else {
      const absl::Duration delay = DelayFor(rows);
      if (delay <= absl::ZeroDuration()) {
        result.outcome = WaitResult::Outcome::kProceed;
        break;
      }
      {
        MutexLock lock(&mu_);
        result.reason = RateWaitReasonLocked(&rate_label);
      }
      sleep = std::min(delay, options_.wait_step);
    }
    if (should_stop()) {
      result.outcome = WaitResult::Outcome::kStopped;
      break;
    }
    const absl::Time before = clock_->Now();
    clock_->SleepFor(sleep);
    if (!rate_label.empty()) {
      const absl::Duration slept = clock_->Now() - before;
      MutexLock lock(&mu_);
      if (slept > absl::ZeroDuration()) throttle_time_[rate_label] += slept;
    }
  }
  result.waited = clock_->Now() - start;
  return result;
}

ThrottleState ThrottleController::State() {
  const absl::Time now = clock_->Now();
  MutexLock lock(&mu_);
  const Decision d = EvaluateLocked(now);
  ThrottleState state;
  state.throttled = !d.proceed();
  state.critical = d.critical();
  state.reason = d.reason;
  state.label = d.label;
  state.since = throttled_since_;
  if (pace_.has_value()) {
    state.paced = true;
    state.pace_rows_per_second = pace_->rows_per_second();
    state.pace_signal = pace_signal_;
  }
  return state;
}

std::vector<SignalStatus> ThrottleController::Signals() {
  const absl::Time now = clock_->Now();
  MutexLock lock(&mu_);
  EvaluateLocked(now);
  std::vector<SignalStatus> out;
  out.reserve(signals_.size());
  for (const auto& [name, entry] : signals_) {
    SignalStatus s;
    s.name = name;
    s.kind = entry.kind;
    s.subject = entry.subject;
    s.reading = entry.reading;
    if (entry.reading.has_value()) s.age = now - entry.updated_at;
    s.utilisation = Utilisation(entry, now);
    s.reason = Reason(name, entry, now);
    out.push_back(std::move(s));
  }
  return out;
}

std::string ThrottleController::PacingSummary() {
  const absl::Time now = clock_->Now();
  MutexLock lock(&mu_);
  EvaluateLocked(now);
  if (!pace_.has_value()) return "";
  const double pace = pace_->rows_per_second();
  std::string out =
      absl::StrCat(kPaceLabel, " ",
                   pace > 0 ? absl::StrCat(FormatQuantity(pace, ""), " rows/s")
                            : "unlimited");
  if (!pace_reason_.empty()) absl::StrAppend(&out, " (", pace_reason_, ")");
  for (const auto& [name, entry] : signals_) {
    if (name == pace_signal_ || !entry.reading.has_value() ||
        !(entry.reading->floor > 0)) {
      continue;
    }
    absl::StrAppend(&out, "; ", Reason(name, entry, now));
  }
  return out;
}

std::map<std::string, absl::Duration> ThrottleController::ThrottleTime() {
  const absl::Time now = clock_->Now();
  MutexLock lock(&mu_);
  EvaluateLocked(now);
  return throttle_time_;
}

}  // namespace backfill
