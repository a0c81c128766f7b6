/* job_runner.c: a job runner in C over the C ABI (backfill/backfill_c.h).
 * Runs a backfill in slices of bounded time until it is done, as a cron job
 * or a worker would, one line per slice on stdout and the job's JSON events
 * on stderr.
 *
 *   job_runner_c SLICE_SECONDS ARG...     (ARGs: `backfill run`'s flags)
 *   job_runner_c 30 --dsn postgresql://app@db/app --table users \
 *                --set "login_name = lower(username)"
 *
 * Exits with the last slice's code: 0 done, 1 failed, 2 bad input, 3
 * stopped or paused, 4 critical (README "Exit codes"). */

#include <stdio.h>
#include <stdlib.h>

#include "backfill/backfill_c.h"

static void PrintEvent(const char* line, void* user_data) {
  (void)user_data;
  fprintf(stderr, "%s\n", line);
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: job_runner_c SLICE_SECONDS ARG...\n");
    return BACKFILL_BAD_INPUT;
  }
  const double slice_seconds = atof(argv[1]);
  backfill_job* job = NULL;
  int code = backfill_job_open((const char* const*)argv + 2, (size_t)argc - 2,
                               PrintEvent, NULL, &job);
  if (code != BACKFILL_OK) {
    fprintf(stderr, "job_runner_c: %s\n", backfill_job_message(job));
    backfill_job_close(job);
    return code;
  }
  int slice = 0;
  do {
    code = backfill_job_run(job, slice_seconds);
    backfill_progress p;
    backfill_job_progress(job, &p);
    printf("slice %d: %s, %lld rows (%lld in this slice), %.1f%%, state %s\n",
           ++slice, p.outcome, (long long)p.rows_walked,
           (long long)p.slice_rows_walked, 100 * p.fraction, p.state);
    fflush(stdout);
  } while (code == BACKFILL_SLICE_END);
  if (code != BACKFILL_DONE) {
    fprintf(stderr, "job_runner_c: %s\n", backfill_job_message(job));
  }
  backfill_job_close(job);
  return code;
}
