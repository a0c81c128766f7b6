#ifndef BACKFILL_CLI_COMMANDS_H_
#define BACKFILL_CLI_COMMANDS_H_

#include "backfill/engine/job.h"
#include "cli/flags.h"

namespace backfill {

// Each command prints its result to stdout, diagnostics to stderr, and
// returns an ExitCode.

// `backfill run`: validates (exit 2, nothing written), then runs until done
// (0), stopped by `cancel` or a pause (3), failed (1), or stopped at a
// --critical-* threshold (4).
int RunCommand(const RunFlags& flags, const CancellationToken* cancel);

// `backfill verify SHAPE [--show N]`: 0 when no row differs, 1 when some do
// (listing up to `show` keys), 2 on bad input, 3 when cancelled.
int VerifyCommand(const RunFlags& flags, int show,
                  const CancellationToken* cancel);

// `backfill status [--job NAME] [--json]`.
int StatusCommand(const CommonFlags& flags, bool json);

// `backfill pause --job NAME` / `backfill resume --job NAME`.
int PauseCommand(const CommonFlags& flags, bool pause);

}  // namespace backfill

#endif  // BACKFILL_CLI_COMMANDS_H_
