#ifndef BACKFILL_CLI_PROGRESS_H_
#define BACKFILL_CLI_PROGRESS_H_

#include <cstdio>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "backfill/engine/job.h"
#include "backfill/throttle/clock.h"

namespace backfill {

enum class LogFormat {
  kLive,  // one live, rewritten line (stderr is a terminal)
  kText,  // a log line every `interval` (stderr is a file or pipe)
  kJson,  // one JSON object per event, for job runners
};

// Prints a run's events to `out` (stderr in the CLI). Never prints secrets:
// it only sees the job, its checkpoint and error messages, which adapters
// keep free of passwords.
class ProgressPrinter : public Observer {
 public:
  ProgressPrinter(std::FILE* out, LogFormat format, Clock* clock,
                  absl::Duration interval = absl::Seconds(5));
  // Hands each complete line (without its newline) to `sink` instead, on
  // the run's thread; `format` must be kText or kJson.
  using LineSink = std::function<void(const std::string& line)>;
  ProgressPrinter(LineSink sink, LogFormat format, Clock* clock,
                  absl::Duration interval = absl::Seconds(5));

  void OnStart(const Checkpoint& checkpoint, const JobPlan& plan,
               bool resumed) override;
  void OnChunk(const Progress& progress) override;
  void OnRetry(const absl::Status& error, int attempt,
               absl::Duration backoff) override;
  void OnFinish(const RunReport& report) override;
  // Throttle on (with its reason) or off: a line in the text log, a
  // {"event":"throttle","state":"on"|"off",...} object in JSON, and the
  // reason appended to the live line while writes are held.
  void OnThrottle(const Decision& decision) override;

  // A warning during the run: "backfill: WARNING: ..." in text, a
  // {"event":"warning","message":...} object in JSON.
  void OnWarning(const std::string& message) override;

  // Something the operator should know before the run, e.g. that
  // replication lag is not watched.
  void OnNote(const std::string& text) override;

  // The metrics endpoint is up (`--metrics-listen`): says where.
  void OnMetricsListening(const std::string& url);

 private:
  void Emit(const std::string& line);  // a complete line, clearing a live one
  void DrawLive();  // live_text_ and the throttle reason, on the live line

  std::FILE* const out_;  // null when sink_ is set
  const LineSink sink_;
  const LogFormat format_;
  Clock* const clock_;
  const absl::Duration interval_;
  absl::Time last_print_ = absl::InfinitePast();
  bool live_line_open_ = false;
  std::string job_;        // from OnStart, for events that do not carry it
  std::string live_text_;  // the live line's progress, as last drawn
  std::string throttle_reason_;  // empty when writes are not held
  absl::Time throttle_since_ = absl::InfinitePast();
};

// A failure of `backfill run` as one JSON object (`--log-format json`):
// {"event":"error","time":...,"exit_code":2,"code":"NOT_FOUND",
//  "reason":"<the one-line message>"}.
std::string JsonErrorEvent(const absl::Status& error, int exit_code,
                           absl::Time now);

// "1,234,567"
std::string WithCommas(int64_t n);
// "1h02m03s", "4m05s", "12s"; "?" for an infinite duration.
std::string ShortDuration(absl::Duration d);

}  // namespace backfill

#endif  // BACKFILL_CLI_PROGRESS_H_
