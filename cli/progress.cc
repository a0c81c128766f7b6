#include "cli/progress.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "backfill/engine/json.h"
#include "backfill/engine/retry.h"
#include "cli/flag_terms.h"

namespace backfill {
namespace {

std::string Timestamp(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

std::string ProgressFields(const Progress& p) {
  const Checkpoint& cp = *p.checkpoint;
  return absl::StrFormat(
      "progress=%.1f%% rows_walked=%d rows_written=%d chunks=%d "
      "rows_per_s=%.0f "
      "chunk_rows=%d last_chunk_ms=%d eta=%s",
      100 * cp.progress(), cp.rows_walked, cp.rows_written, cp.chunks,
      p.rows_per_second, p.next_chunk_rows,
      absl::ToInt64Milliseconds(p.last_chunk_time), ShortDuration(p.eta));
}

}  // namespace

std::string WithCommas(int64_t n) {
  std::string digits = absl::StrCat(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return n < 0 ? "-" + out : out;
}

std::string ShortDuration(absl::Duration d) {
  if (d == absl::InfiniteDuration()) return "?";
  int64_t s = absl::ToInt64Seconds(d + absl::Milliseconds(500));
  if (s >= 3600)
    return absl::StrFormat("%dh%02dm%02ds", s / 3600, s / 60 % 60, s % 60);
  if (s >= 60) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%ds", s);
}

ProgressPrinter::ProgressPrinter(std::FILE* out, LogFormat format, Clock* clock,
                                 absl::Duration interval)
    : out_(out), format_(format), clock_(clock), interval_(interval) {}

ProgressPrinter::ProgressPrinter(LineSink sink, LogFormat format, Clock* clock,
                                 absl::Duration interval)
    : out_(nullptr),
      sink_(std::move(sink)),
      format_(format == LogFormat::kLive ? LogFormat::kText : format),
      clock_(clock),
      interval_(interval) {}

void ProgressPrinter::Emit(const std::string& line) {
  if (sink_) {
    sink_(line);
    return;
  }
  if (live_line_open_) std::fputs("\r\033[K", out_);
  live_line_open_ = false;
  std::fputs(line.c_str(), out_);
  std::fputc('\n', out_);
  std::fflush(out_);
}

void ProgressPrinter::OnStart(const Checkpoint& cp, const JobPlan& plan,
                              bool resumed) {
  job_ = cp.job;
  if (format_ == LogFormat::kJson) {
    Emit(absl::StrCat(
        "{\"event\":\"start\",\"time\":", JsonString(Timestamp(clock_->Now())),
        ",\"job\":", JsonString(cp.job), ",\"spec\":", JsonString(cp.spec),
        ",\"resumed\":", resumed ? "true" : "false", ",\"rows_estimate\":",
        cp.rows_estimate, ",\"rows_walked\":", cp.rows_walked, "}"));
    return;
  }
  std::string where =
      resumed && cp.last_key.has_value()
          ? absl::StrCat("resuming after key ", KeyToDisplay(*cp.last_key))
          : "starting";
  Emit(absl::StrCat(
      "backfill: job ", cp.job, ": ", where, "; ", cp.spec, "; about ",
      WithCommas(cp.rows_estimate), " rows up to key ",
      cp.high_water.has_value() ? KeyToDisplay(*cp.high_water) : "(none)"));
}

void ProgressPrinter::OnChunk(const Progress& p) {
  const absl::Time now = clock_->Now();
  const Checkpoint& cp = *p.checkpoint;
  switch (format_) {
    case LogFormat::kLive: {
      if (now - last_print_ < absl::Milliseconds(100)) return;
      last_print_ = now;
      live_text_ = absl::StrFormat(
          "%s %5.1f%%  %s rows  %s written  %s rows/s  chunk %s  ETA %s",
          cp.job, 100 * cp.progress(), WithCommas(cp.rows_walked),
          WithCommas(cp.rows_written),
          WithCommas(std::llround(p.rows_per_second)),
          WithCommas(p.next_chunk_rows), ShortDuration(p.eta));
      DrawLive();
      return;
    }
    case LogFormat::kText:
      if (now - last_print_ < interval_) return;
      last_print_ = now;
      Emit(absl::StrCat(Timestamp(now), " backfill job=", cp.job, " ",
                        ProgressFields(p)));
      return;
    case LogFormat::kJson:
      if (now - last_print_ < interval_) return;
      last_print_ = now;
      Emit(absl::StrFormat(
          "{\"event\":\"progress\",\"time\":%s,\"job\":%s,\"progress\":%.4f,"
          "\"rows_walked\":%d,\"rows_written\":%d,\"chunks\":%d,\"rows_per_"
          "second\":%.1f,"
          "\"chunk_rows\":%d,\"last_chunk_seconds\":%.3f,\"eta_seconds\":%s}",
          JsonString(Timestamp(now)), JsonString(cp.job), cp.progress(),
          cp.rows_walked, cp.rows_written, cp.chunks, p.rows_per_second,
          p.next_chunk_rows, absl::ToDoubleSeconds(p.last_chunk_time),
          p.eta == absl::InfiniteDuration()
              ? std::string("null")
              : absl::StrCat(absl::ToInt64Seconds(p.eta))));
      return;
  }
}

void ProgressPrinter::OnRetry(const absl::Status& error, int attempt,
                              absl::Duration backoff) {
  if (format_ == LogFormat::kJson) {
    Emit(absl::StrCat(
        "{\"event\":\"retry\",\"time\":", JsonString(Timestamp(clock_->Now())),
        ",\"job\":", JsonString(job_), ",\"attempt\":", attempt,
        ",\"reason\":", JsonString(RetryReason(error)),
        ",\"code\":", JsonString(absl::StatusCodeToString(error.code())),
        ",\"message\":", JsonString(error.message()),
        ",\"backoff_seconds\":", absl::ToDoubleSeconds(backoff), "}"));
    return;
  }
  Emit(absl::StrCat("backfill: retrying in ", absl::FormatDuration(backoff),
                    " (attempt ", attempt, "): ", error.message()));
}

void ProgressPrinter::OnFinish(const RunReport& r) {
  const double seconds = absl::ToDoubleSeconds(r.elapsed);
  const double rate = seconds > 0 ? r.rows_walked / seconds : 0;
  if (format_ == LogFormat::kJson) {
    Emit(absl::StrFormat(
        "{\"event\":\"%s\",\"time\":%s,\"job\":%s,\"outcome\":\"%s\","
        "\"reason\":%s,"
        "\"rows_walked\":%d,\"rows_written\":%d,\"chunks\":%d,\"retries\":%d,"
        "\"elapsed_seconds\":%.3f,\"progress\":%.4f}",
        r.outcome == RunOutcome::kDone ? "done" : "stop",
        JsonString(Timestamp(clock_->Now())), JsonString(r.checkpoint.job),
        RunOutcomeName(r.outcome), JsonString(r.reason), r.rows_walked,
        r.rows_written, r.chunks, r.retries, seconds, r.checkpoint.progress()));
    return;
  }
  Emit(absl::StrCat("backfill: job ", r.checkpoint.job, ": ", r.reason,
                    "; this run walked ", WithCommas(r.rows_walked),
                    " rows, wrote ", WithCommas(r.rows_written), " in ",
                    WithCommas(r.chunks), " chunks, ",
                    absl::StrFormat("%.1fs (%s rows/s)", seconds,
                                    WithCommas(std::llround(rate))),
                    r.throttled >= absl::Milliseconds(50)
                        ? absl::StrFormat(", throttled %.1fs",
                                          absl::ToDoubleSeconds(r.throttled))
                        : ""));
}

void ProgressPrinter::DrawLive() {
  std::fprintf(out_, "\r\033[K%s%s%s", live_text_.c_str(),
               throttle_reason_.empty() ? "" : "  throttled: ",
               throttle_reason_.c_str());
  std::fflush(out_);
  live_line_open_ = true;
}

void ProgressPrinter::OnThrottle(const Decision& d) {
  const absl::Time now = clock_->Now();
  const bool on = !d.proceed();
  absl::Duration waited = absl::ZeroDuration();
  if (on) {
    if (throttle_reason_.empty()) throttle_since_ = now;
    throttle_reason_ = d.reason;
  } else {
    if (throttle_since_ != absl::InfinitePast()) waited = now - throttle_since_;
    throttle_reason_.clear();
    throttle_since_ = absl::InfinitePast();
  }
  switch (format_) {
    case LogFormat::kLive:
      if (live_text_.empty()) live_text_ = absl::StrCat(job_, " starting");
      DrawLive();
      return;
    case LogFormat::kText:
      Emit(on ? absl::StrCat(Timestamp(now), " backfill job=", job_,
                             " throttle=on reason=", JsonString(d.reason))
              : absl::StrCat(
                    Timestamp(now), " backfill job=", job_,
                    " throttle=off waited=", absl::FormatDuration(waited)));
      return;
    case LogFormat::kJson:
      Emit(absl::StrCat(
          "{\"event\":\"throttle\",\"time\":", JsonString(Timestamp(now)),
          ",\"job\":", JsonString(job_), ",\"state\":\"", on ? "on" : "off",
          "\"",
          on ? absl::StrCat(",\"reason\":", JsonString(d.reason),
                            ",\"label\":", JsonString(d.label))
             : absl::StrCat(",\"waited_seconds\":",
                            absl::ToDoubleSeconds(waited)),
          "}"));
      return;
  }
}

void ProgressPrinter::OnNote(const std::string& library_text) {
  const std::string text = InFlagTerms(library_text);
  if (format_ == LogFormat::kJson) {
    Emit(absl::StrCat(
        "{\"event\":\"note\",\"time\":", JsonString(Timestamp(clock_->Now())),
        ",\"message\":", JsonString(text), "}"));
    return;
  }
  Emit(absl::StrCat("backfill: note: ", text));
}

void ProgressPrinter::OnWarning(const std::string& library_message) {
  const std::string message = InFlagTerms(library_message);
  if (format_ == LogFormat::kJson) {
    Emit(absl::StrCat("{\"event\":\"warning\",\"time\":",
                      JsonString(Timestamp(clock_->Now())),
                      ",\"job\":", JsonString(job_),
                      ",\"message\":", JsonString(message), "}"));
    return;
  }
  Emit(absl::StrCat("backfill: WARNING: ", message));
  if (format_ == LogFormat::kLive && !live_text_.empty()) DrawLive();
}

void ProgressPrinter::OnMetricsListening(const std::string& url) {
  if (format_ == LogFormat::kJson) {
    Emit(absl::StrCat("{\"event\":\"metrics\",\"time\":",
                      JsonString(Timestamp(clock_->Now())),
                      ",\"url\":", JsonString(url), "}"));
    return;
  }
  Emit(absl::StrCat("backfill: serving metrics at ", url));
}

std::string JsonErrorEvent(const absl::Status& error, int exit_code,
                           absl::Time now) {
  return absl::StrCat(
      "{\"event\":\"error\",\"time\":", JsonString(Timestamp(now)),
      ",\"exit_code\":", exit_code,
      ",\"code\":", JsonString(absl::StatusCodeToString(error.code())),
      ",\"reason\":", JsonString(error.message()), "}");
}

}  // namespace backfill
