#ifndef BACKFILL_CLI_FLAG_TERMS_H_
#define BACKFILL_CLI_FLAG_TERMS_H_

// The library's messages in the command line's terms. The library names
// what a message is about by its option: a JobText, ConnectOptions,
// PacingOptions or RunOptions member, in backquotes where it stands inside
// a sentence ("the copy shape takes `columns`, not `sets`") or bare where it
// leads as "<member>: <why>" ("lag.critical_lag: must be above ..."). The
// command turns each into its flag before printing, so that what the user
// reads names what the user typed.

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace backfill {

// `text` with every backquoted member (`sets`, `lag.max_lag`, ...) replaced
// by its flag (--set, --max-lag), a member leading the text as "member:" by
// its flag, and "replicas " leading it ("replicas db2:5432: refused") by
// "--replica ". Backquoted words that are not members, and members that
// are not backquoted or leading, pass through; so does text without any.
// Idempotent.
std::string InFlagTerms(absl::string_view text);

// The same for a status's message; the code is kept. OK passes through.
absl::Status InFlagTerms(const absl::Status& status);

}  // namespace backfill

#endif  // BACKFILL_CLI_FLAG_TERMS_H_
