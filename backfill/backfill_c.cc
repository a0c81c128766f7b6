// The C ABI (backfill/backfill_c.h) over the C++ API: the arguments are
// `backfill run`'s (cli/run_flags.h parses them, as the command does), a
// slice is backfill::OpenRunPacing + RunPaced on the job the handle keeps
// open, and events are the command's JSON lines (cli/progress.h).

#include "backfill/backfill_c.h"

#include <algorithm>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "backfill/backfill.h"
#include "cli/flag_terms.h"
#include "cli/flags.h"
#include "cli/progress.h"
#include "cli/run_flags.h"

namespace backfill {
namespace {

// The line a caller reads: in flag terms, no DSN password.
std::string MessageOf(absl::string_view text) {
  return RedactDsn(InFlagTerms(text));
}

// The codes are the command's exit codes (cli/flags.h).
constexpr bool SameCode(backfill_code c, ExitCode e) {
  return static_cast<int>(c) == static_cast<int>(e);
}
static_assert(SameCode(BACKFILL_DONE, kExitOk) &&
              SameCode(BACKFILL_FAILED, kExitFailure) &&
              SameCode(BACKFILL_BAD_INPUT, kExitBadInput) &&
              SameCode(BACKFILL_STOPPED, kExitStopped) &&
              SameCode(BACKFILL_CRITICAL, kExitCritical) &&
              SameCode(BACKFILL_SLICE_END, kExitSliceEnd));

// What the C ABI does not take from `backfill run`'s flags: the handle's
// events are always JSON, and a plan is the command's business.
absl::Status CheckLibraryFlags(const RunFlags& flags) {
  if (flags.dry_run) {
    return absl::InvalidArgumentError(
        "--dry-run: not taken by the library; run `backfill run --dry-run`");
  }
  if (flags.log_format != "auto") {
    return absl::InvalidArgumentError(
        "--log-format: not taken by the library; its events are JSON lines");
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace backfill

struct backfill_job {
  // The handle's state; see backfill_c.h for what each call does with it.
  std::string message;
  bool opened = false;
  backfill::RunFlags flags;
  backfill::RunInput input;
  std::unique_ptr<backfill::Job> job;
  backfill::CancellationToken cancel;
  std::unique_ptr<backfill::ProgressPrinter> printer;
  std::unique_ptr<backfill::RunMetrics> metrics;
  std::unique_ptr<backfill::MetricsServer> metrics_server;
  bool first_slice = true;
  absl::Duration baseline = absl::ZeroDuration();
  std::optional<backfill::RunReport> last;
  std::string outcome;
  mutable std::string state;  // backfill_job_progress's

  int Fail(int code, const absl::Status& status) {
    message = backfill::MessageOf(status.message());
    return code;
  }
  int Open(const std::vector<std::string>& args, backfill_event_fn on_event,
           void* user_data);
  backfill::RunOptions SliceOptions(double max_seconds);
  int Run(double max_seconds);
};

int backfill_job::Open(const std::vector<std::string>& args,
                       backfill_event_fn on_event, void* user_data) {
  using namespace backfill;
  absl::StatusOr<RunFlags> parsed = ParseRunArgs(args);
  if (!parsed.ok()) return Fail(BACKFILL_BAD_INPUT, parsed.status());
  flags = *std::move(parsed);
  if (absl::Status s = CheckLibraryFlags(flags); !s.ok())
    return Fail(BACKFILL_BAD_INPUT, s);
  absl::StatusOr<RunInput> in = ParseRunInput(flags);
  if (!in.ok()) return Fail(BACKFILL_BAD_INPUT, in.status());
  input = *std::move(in);
  absl::StatusOr<std::unique_ptr<Job>> opened_job =
      OpenJob(input.connect, input.spec, flags.restart);
  if (!opened_job.ok()) return Fail(BACKFILL_BAD_INPUT, opened_job.status());
  job = *std::move(opened_job);
  if (!flags.metrics_listen.empty()) {
    metrics = std::make_unique<RunMetrics>(job->spec().job);
    absl::StatusOr<std::unique_ptr<MetricsServer>> server =
        MetricsServer::Start(flags.metrics_listen, metrics.get());
    if (!server.ok()) return Fail(BACKFILL_BAD_INPUT, server.status());
    metrics_server = *std::move(server);
  }
  ProgressPrinter::LineSink sink = [on_event,
                                    user_data](const std::string& line) {
    if (on_event != nullptr) on_event(RedactDsn(line).c_str(), user_data);
  };
  printer = std::make_unique<ProgressPrinter>(sink, LogFormat::kJson,
                                              Clock::Real(), absl::Seconds(1));
  opened = true;
  return BACKFILL_OK;
}

backfill::RunOptions backfill_job::SliceOptions(double max_seconds) {
  backfill::RunOptions options;
  options.chunking = input.chunking;
  options.restart = first_slice && flags.restart;
  options.cancel = &cancel;
  options.lock_timeout = input.pacing.lock_timeout;
  options.retry_for = input.retry_for;
  options.max_duration = input.max_duration;
  if (max_seconds > 0) {
    options.max_duration =
        std::min(options.max_duration, absl::Seconds(max_seconds));
  }
  return options;
}

int backfill_job::Run(double max_seconds) {
  using namespace backfill;
  if (!opened) {
    constexpr absl::string_view kNotOpen = "the job did not open: ";
    if (!absl::StartsWith(message, kNotOpen))
      message = absl::StrCat(kNotOpen, message);
    return BACKFILL_BAD_INPUT;
  }
  RunOptions options = SliceOptions(max_seconds);
  ObserverList observers({printer.get(), metrics.get()});
  options.observer = &observers;
  PacingOptions pacing = input.pacing;
  if (baseline > absl::ZeroDuration())
    pacing.commit_latency.known_baseline = baseline;
  absl::StatusOr<std::unique_ptr<Pacing>> paced = OpenRunPacing(
      *job, input.connect, pacing, flags.target_chunk_time_given, &options);
  if (!paced.ok()) return Fail(BACKFILL_BAD_INPUT, paced.status());
  absl::StatusOr<RunReport> report =
      RunPaced(*job, **paced, options, metrics.get());
  first_slice = false;
  if (!report.ok()) {
    outcome = "failed";
    return Fail(BACKFILL_FAILED,
                absl::Status(report.status().code(),
                             absl::StrCat("job ", job->spec().job, " failed: ",
                                          report.status().message())));
  }
  if (report->commit_latency_baseline > absl::ZeroDuration())
    baseline = report->commit_latency_baseline;
  outcome = std::string(RunOutcomeName(report->outcome));
  message = MessageOf(report->reason);
  last = *std::move(report);
  return ExitCodeFor(last->outcome);
}

namespace {

// Runs `body`, turning a C++ exception into BACKFILL_FAILED: none may cross
// the C ABI.
template <typename Body>
int Guarded(backfill_job* job, Body body) {
  try {
    return body();
  } catch (const std::exception& e) {
    if (job != nullptr)
      job->message = absl::StrCat("internal error: ", e.what());
  } catch (...) {
    if (job != nullptr) job->message = "internal error";
  }
  return BACKFILL_FAILED;
}

}  // namespace

extern "C" {

int backfill_job_open(const char* const* args, size_t n_args,
                      backfill_event_fn on_event, void* user_data,
                      backfill_job** job) {
  if (job == nullptr) return BACKFILL_FAILED;
  *job = new (std::nothrow) backfill_job;
  if (*job == nullptr) return BACKFILL_FAILED;
  backfill_job* h = *job;
  return Guarded(h, [&] {
    std::vector<std::string> argv;
    for (size_t i = 0; i < n_args; ++i) {
      if (args == nullptr || args[i] == nullptr) {
        return h->Fail(BACKFILL_BAD_INPUT,
                       absl::InvalidArgumentError(
                           absl::StrCat("argument ", i, " is NULL")));
      }
      argv.emplace_back(args[i]);
    }
    return h->Open(argv, on_event, user_data);
  });
}

int backfill_job_run(backfill_job* job, double max_seconds) {
  if (job == nullptr) return BACKFILL_BAD_INPUT;
  return Guarded(job, [&] { return job->Run(max_seconds); });
}

void backfill_job_cancel(backfill_job* job) {
  if (job != nullptr) job->cancel.Cancel();
}

int backfill_job_progress(const backfill_job* job,
                          backfill_progress* progress) {
  if (job == nullptr || progress == nullptr || !job->opened)
    return BACKFILL_BAD_INPUT;
  const backfill_job* h = job;
  const backfill::Checkpoint* cp = nullptr;
  if (h->last.has_value()) {
    cp = &h->last->checkpoint;
  } else if (h->job->existing_checkpoint().has_value()) {
    cp = &*h->job->existing_checkpoint();
  }
  *progress = backfill_progress{};
  progress->outcome = h->outcome.c_str();
  h->state = cp != nullptr ? std::string(backfill::JobStateName(cp->state))
                           : std::string("new");
  progress->state = h->state.c_str();
  if (cp != nullptr) {
    progress->rows_walked = cp->rows_walked;
    progress->rows_estimate = cp->rows_estimate;
    progress->fraction = cp->progress();
  }
  if (h->last.has_value()) {
    const backfill::RunReport& r = *h->last;
    progress->slice_rows_walked = r.rows_walked;
    progress->slice_rows_written = r.rows_written;
    progress->slice_chunks = r.chunks;
    progress->slice_seconds = absl::ToDoubleSeconds(r.elapsed);
    progress->slice_throttled_seconds = absl::ToDoubleSeconds(r.throttled);
  }
  return BACKFILL_OK;
}

const char* backfill_job_message(const backfill_job* job) {
  return job == nullptr ? "out of memory" : job->message.c_str();
}

void backfill_job_close(backfill_job* job) { delete job; }

const char* backfill_version(void) { return BACKFILL_VERSION; }

}  // extern "C"
