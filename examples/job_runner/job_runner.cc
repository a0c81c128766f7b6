// job_runner: runs a backfill the way a job runner (Sidekiq, a Kubernetes
// Job, cron) does, in slices of bounded time. Each slice connects, does at
// most --slice of work plus the chunk in flight, and returns; the checkpoint
// in the database carries the rest to the next slice, which could as well
// run in another process or on another host.
//
//   job_runner --dsn URI --table T --set "col = expr" [--set ...]
//              [--from S --on COND] [--slice 1s]
//              [--replica URI ...] [--max-lag 1s]
//
// Paced as `backfill run` is by default (the primary's commit latency at 2x
// its quiet baseline), and on the lag of each --replica.
//
// Prints one line per slice, and exits 0 when the backfill is done, 3 when
// it was paused or stopped, 2 on a usage or spec error, 1 on any other
// failure (a bad DSN or table included: see backfill::OpenJob to tell them
// apart).

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "backfill/backfill.h"

namespace {

struct Flags {
  std::string dsn, table, from, on;
  std::vector<std::string> sets, replicas;
  absl::Duration slice = absl::Seconds(1);
  absl::Duration max_lag = absl::Seconds(1);
};

bool Parse(int argc, char** argv, Flags* f) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--dsn")
      f->dsn = value;
    else if (flag == "--table")
      f->table = value;
    else if (flag == "--set")
      f->sets.push_back(value);
    else if (flag == "--from")
      f->from = value;
    else if (flag == "--on")
      f->on = value;
    else if (flag == "--replica")
      f->replicas.push_back(value);
    else if (flag == "--slice") {
      if (!absl::ParseDuration(value, &f->slice)) return false;
    } else if (flag == "--max-lag") {
      if (!absl::ParseDuration(value, &f->max_lag)) return false;
    } else {
      return false;
    }
  }
  return argc % 2 == 1 && !f->dsn.empty() && !f->table.empty() &&
         !f->sets.empty() && f->from.empty() == f->on.empty();
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  if (!Parse(argc, argv, &flags)) {
    std::fprintf(stderr,
                 "usage: job_runner --dsn URI --table T --set \"col = expr\" "
                 "[--from S --on COND] [--slice 1s] [--replica URI ...] "
                 "[--max-lag 1s]\n");
    return 2;
  }
  absl::StatusOr<backfill::JobSpec> spec =
      flags.from.empty()
          ? backfill::ColumnJob(flags.table, flags.sets)
          : backfill::JoinJob(flags.table, flags.from, flags.on, flags.sets);
  if (!spec.ok()) {
    std::fprintf(stderr, "job_runner: %s\n",
                 std::string(spec.status().message()).c_str());
    return 2;
  }

  // [README: paced slices] (README.md shows this part: ReadmeExcerptTest)
  backfill::RunOptions options;
  // A slice: this long, plus the chunk in flight.
  options.max_duration = flags.slice;
  // The primary's commit latency is watched by default (at most 2x its
  // quiet baseline); the replicas' lag by heartbeat.
  backfill::PacingOptions pacing;
  pacing.replicas = flags.replicas;
  pacing.lag.max_lag = flags.max_lag;
  for (int slice = 1;; ++slice) {
    absl::StatusOr<backfill::RunReport> report =
        backfill::Run({.dsn = flags.dsn}, *spec, options, pacing);
    if (!report.ok()) {
      std::fprintf(stderr, "job_runner: slice %d: %s\n", slice,
                   std::string(report.status().message()).c_str());
      return 1;
    }
    const backfill::Checkpoint& cp = report->checkpoint;
    std::printf(
        "slice %d: %lld rows so far (%.1f%%), %lld in this slice, %s, "
        "throttled %s\n",
        slice, static_cast<long long>(cp.rows_walked), 100 * cp.progress(),
        static_cast<long long>(report->rows_walked),
        std::string(backfill::RunOutcomeName(report->outcome)).c_str(),
        absl::FormatDuration(report->throttled).c_str());
    std::fflush(stdout);
    if (report->outcome == backfill::RunOutcome::kDone) return 0;
    // The next slice goes on from this one's quiet baseline instead of
    // measuring it again.
    pacing.commit_latency.known_baseline = report->commit_latency_baseline;
    if (report->outcome != backfill::RunOutcome::kSliceEnd) return 3;
  }
  // [README end]
}
