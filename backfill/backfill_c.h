#ifndef BACKFILL_BACKFILL_BACKFILL_C_H_
#define BACKFILL_BACKFILL_BACKFILL_C_H_

/* The C ABI of backfill, for job runners not written in C++ (the Python
 * binding in bindings/python/ is built on it; Ruby's FFI or Go's cgo can do
 * the same). It is part of libbackfill.so:
 *
 *   #include <backfill/backfill_c.h>      cc runner.c -lbackfill
 *
 * A job is opened from the same arguments `backfill run` takes, without the
 * word `run`: the DSN, the shape, chunking, pacing, or `--config FILE` for a
 * TOML job file. The handle then runs the job in slices of bounded time;
 * each slice paces itself as `backfill run` does (commit latency on the
 * primary by default, `--replica`/`--max-lag`, ...) and leaves a committed
 * checkpoint that the next slice, in this process or another, continues.
 *
 *   const char* args[] = {"--dsn", "postgresql://app@db/app",
 *                         "--table", "users", "--set", "login = lower(name)"};
 *   backfill_job* job = NULL;
 *   if (backfill_job_open(args, 6, NULL, NULL, &job) != BACKFILL_OK) {
 *     fprintf(stderr, "%s\n", backfill_job_message(job));  // bad input
 *     backfill_job_close(job);
 *     return 2;
 *   }
 *   int code;
 *   while ((code = backfill_job_run(job, 30.0)) == BACKFILL_SLICE_END) {}
 *   backfill_job_close(job);
 *
 * Codes keep the command's exit codes (README "Exit codes").
 *
 * Messages (backfill_job_message, the events) never carry a password: DSNs
 * in them are redacted as the command's output is. They speak in flags
 * ("--max-lag: ...") since the arguments are flags.
 *
 * Thread-safety: a handle is used from one thread at a time, except
 * backfill_job_cancel, which any thread (or a signal handler) may call at
 * any time while the handle is open. Different handles are independent.
 */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum backfill_code {
  BACKFILL_OK = 0, /* opened; or a slice finished the job */
  BACKFILL_DONE = 0,
  BACKFILL_FAILED = 1,    /* runtime failure; the checkpoint holds the last
                             committed chunk: fix the cause, run again */
  BACKFILL_BAD_INPUT = 2, /* bad arguments, spec, DSN, credentials, schema;
                             nothing was written: do not retry as is */
  BACKFILL_STOPPED = 3,   /* cancelled, or paused by an operator (`backfill
                             pause`); resumable. outcome says which */
  BACKFILL_CRITICAL = 4,  /* a --critical-* threshold was crossed;
                             checkpoint committed, resumable */
  BACKFILL_SLICE_END = 5, /* the slice's time was used up; run again */
} backfill_code;

/* A job and the connection it runs on. Opaque; from backfill_job_open. */
typedef struct backfill_job backfill_job;

/* Receives each event of the job as one JSON object on one line, without a
 * newline: the events of `backfill run --log-format json` (start, progress,
 * throttle, retry, warning, note, stop, done; README "Metrics"). Called on
 * the thread running the slice, during backfill_job_run (and, for notes,
 * backfill_job_open). `line` is valid only during the call. It must not
 * call back into the same handle, except backfill_job_cancel. */
typedef void (*backfill_event_fn)(const char* line, void* user_data);

/* Parses `args` (`n_args` NUL-terminated strings, as `backfill run` takes
 * them after `run`; `--config FILE` reads a TOML job file whose keys are the
 * long flag names), connects to --dsn and opens the job: checks the spec
 * against the schema, type-checks the chunk statements, reads the
 * checkpoint, starts --metrics-listen's endpoint if given. Writes nothing.
 * `--dry-run` and `--log-format` are not taken here (BACKFILL_BAD_INPUT).
 * `on_event` may be NULL; `user_data` is passed to it as is.
 *
 * Always sets *job (unless `job` is NULL or memory runs out, when it
 * returns BACKFILL_FAILED with *job NULL), also on failure, so that
 * backfill_job_message can say why: the caller owns *job and must call
 * backfill_job_close on it. On failure the handle can only be asked for its
 * message and closed. Returns BACKFILL_OK, BACKFILL_BAD_INPUT (arguments,
 * spec, DSN, credentials, an unreachable server, schema, permissions, a
 * changed spec without --restart), or BACKFILL_FAILED. The strings need
 * only live for the call. */
int backfill_job_open(const char* const* args, size_t n_args,
                      backfill_event_fn on_event, void* user_data,
                      backfill_job** job);

/* Runs one slice: chunks until about `max_seconds` have passed plus the
 * chunk in flight (a slice always does at least one chunk unless pacing
 * holds writes all through it), or until the job is done, cancelled,
 * paused or critical. `max_seconds` <= 0 means no time limit (run to the
 * end), as does --max-duration's absence; when both are given the smaller
 * wins. Pacing is opened for the slice and closed with it; the commit
 * latency's quiet baseline measured by the first slice is kept for the
 * next. --restart, if given, applies to the first slice only.
 *
 * Returns BACKFILL_DONE, BACKFILL_SLICE_END, BACKFILL_STOPPED,
 * BACKFILL_CRITICAL, each with a committed checkpoint; BACKFILL_FAILED (the
 * message says why; the checkpoint holds the last committed chunk; the
 * handle may run again); BACKFILL_BAD_INPUT for a handle whose open failed
 * or for pacing arguments the servers refuse (a replica DSN, a throttle
 * query), nothing written. */
int backfill_job_run(backfill_job* job, double max_seconds);

/* Asks the slice running on `job` to stop at the next chunk boundary (the
 * chunk in flight commits with its checkpoint first); backfill_job_run then
 * returns BACKFILL_STOPPED. Sticky: every later slice on this handle stops
 * at once. Thread-safe and async-signal-safe; a NULL job is ignored. */
void backfill_job_cancel(backfill_job* job);

/* The state of the job as the last call on the handle left it. Strings are
 * static or owned by the handle, valid until the next call on it. */
typedef struct backfill_progress {
  /* How the last slice ended: "done", "stopped", "paused", "slice_end",
   * "critical"; "failed" after BACKFILL_FAILED; "" before any slice. */
  const char* outcome;
  /* The checkpoint's state ("running", "done", "paused", "stopped",
   * "failed"), or "new" for a job with no checkpoint yet. */
  const char* state;
  int64_t rows_walked;   /* over the whole job, as checkpointed */
  int64_t rows_estimate; /* the table's estimated rows at the start */
  double fraction; /* rows_walked / rows_estimate in [0, 1]; 1 when done */
  int64_t slice_rows_walked;      /* in the last slice */
  int64_t slice_rows_written;     /* in the last slice */
  int64_t slice_chunks;           /* in the last slice */
  double slice_seconds;           /* the last slice's wall time */
  double slice_throttled_seconds; /* of it, writes held by pacing */
} backfill_progress;

/* Fills *progress. Returns BACKFILL_OK, or BACKFILL_BAD_INPUT for a NULL
 * argument or a handle whose open failed. */
int backfill_job_progress(const backfill_job* job, backfill_progress* progress);

/* The message of the last call on the handle that did not succeed plainly:
 * the one-line reason for a failure, the reason a slice stopped, or "".
 * Owned by the handle, valid until the next call on it. A NULL job gives
 * "out of memory". */
const char* backfill_job_message(const backfill_job* job);

/* Closes the connection and frees the handle. A slice must not be running
 * on it. NULL is ignored. */
void backfill_job_close(backfill_job* job);

/* "0.1.0": the library's version. Static. */
const char* backfill_version(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* BACKFILL_BACKFILL_BACKFILL_C_H_ */
