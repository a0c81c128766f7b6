#ifndef BACKFILL_CLI_ARGV_SCRUB_H_
#define BACKFILL_CLI_ARGV_SCRUB_H_

namespace backfill {

// Rewrites the process's own argv in place so that `ps` and
// /proc/PID/cmdline no longer show DSN passwords (as database clients do):
// every argument is passed through RedactDsn, truncated to its original
// length, and the tail zero-filled. Call once, after the arguments were
// copied out (parsed).
void ScrubArgv(int argc, char** argv);

}  // namespace backfill

#endif  // BACKFILL_CLI_ARGV_SCRUB_H_
