/* The C ABI's contract where no database is needed (backfill/backfill_c.h):
 * failures keep a handle with a one-line message and cannot run, NULLs are
 * refused or ignored as promised, and a planted password never shows in a
 * message. Compiled as C99 against libbackfill.so. The runs themselves are
 * PackageTest's and PythonBindingTest's, on the dev servers. */

#include <stdio.h>
#include <string.h>

#include "backfill/backfill_c.h"

static int failures = 0;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                              \
    }                                                                          \
  } while (0)

#define N(args) (sizeof(args) / sizeof((args)[0]))

static const char kPlanted[] = "Pl4nted-S3cret-xyzzy";

/* Opens `args`, expecting `code` and a message containing `words`, then
 * checks that the failed handle refuses to run and says so. */
static void ExpectOpenFails(const char* const* args, size_t n, int code,
                            const char* words) {
  backfill_job* job = NULL;
  CHECK(backfill_job_open(args, n, NULL, NULL, &job) == code);
  CHECK(job != NULL);
  const char* message = backfill_job_message(job);
  if (strstr(message, words) == NULL) {
    fprintf(stderr, "message \"%s\" lacks \"%s\"\n", message, words);
    ++failures;
  }
  CHECK(strchr(message, '\n') == NULL);
  CHECK(strstr(message, kPlanted) == NULL);
  CHECK(backfill_job_run(job, 1.0) == BACKFILL_BAD_INPUT);
  CHECK(backfill_job_run(job, 1.0) == BACKFILL_BAD_INPUT);
  /* Said once, however often it is asked to run. */
  const char* again = backfill_job_message(job);
  CHECK(strstr(again, "the job did not open: ") == again);
  CHECK(strstr(again + 1, "the job did not open") == NULL);
  CHECK(strstr(backfill_job_message(job), kPlanted) == NULL);
  backfill_progress progress;
  CHECK(backfill_job_progress(job, &progress) == BACKFILL_BAD_INPUT);
  backfill_job_cancel(job);
  backfill_job_close(job);
}

int main(void) {
  const char* unknown[] = {"--dsn",   "postgresql://u@127.0.0.1:1/db",
                           "--table", "t",
                           "--set",   "a = 1",
                           "--bogus", "x"};
  ExpectOpenFails(unknown, N(unknown), BACKFILL_BAD_INPUT, "--bogus");

  const char* no_shape[] = {"--dsn", "postgresql://u@127.0.0.1:1/db"};
  ExpectOpenFails(no_shape, N(no_shape), BACKFILL_BAD_INPUT, "--table");

  const char* dry_run[] = {"--dsn",    "postgresql://u@127.0.0.1:1/db",
                           "--table",  "t",
                           "--set",    "a = 1",
                           "--dry-run"};
  ExpectOpenFails(dry_run, N(dry_run), BACKFILL_BAD_INPUT,
                  "--dry-run: not taken by the library");

  const char* bad_lag[] = {"--dsn",     "postgresql://u@127.0.0.1:1/db",
                           "--table",   "t",
                           "--set",     "a = 1",
                           "--max-lag", "2"};
  ExpectOpenFails(bad_lag, N(bad_lag), BACKFILL_BAD_INPUT, "--max-lag");

  /* Nothing listens on port 1: the connection is refused, and the DSN's
   * password stays out of the message. */
  char dsn[128];
  snprintf(dsn, sizeof(dsn), "postgresql://u:%s@127.0.0.1:1/db", kPlanted);
  const char* refused[] = {"--dsn", dsn, "--table", "t", "--set", "a = 1"};
  ExpectOpenFails(refused, N(refused), BACKFILL_BAD_INPUT, "connect");
  snprintf(dsn, sizeof(dsn), "mysql://u:%s@127.0.0.1:1/db", kPlanted);
  ExpectOpenFails(refused, N(refused), BACKFILL_BAD_INPUT, "connect");

  const char* with_null[] = {"--dsn", NULL};
  ExpectOpenFails(with_null, N(with_null), BACKFILL_BAD_INPUT,
                  "argument 1 is NULL");

  CHECK(backfill_job_open(unknown, N(unknown), NULL, NULL, NULL) ==
        BACKFILL_FAILED);
  CHECK(backfill_job_run(NULL, 1.0) == BACKFILL_BAD_INPUT);
  CHECK(strcmp(backfill_job_message(NULL), "out of memory") == 0);
  backfill_job_cancel(NULL);
  backfill_job_close(NULL);
  CHECK(strcmp(backfill_version(), BACKFILL_EXPECTED_VERSION) == 0);

  if (failures == 0) printf("c_abi_test: all checks passed\n");
  return failures == 0 ? 0 : 1;
}
