#ifndef BACKFILL_ENGINE_SQL_FRAGMENT_H_
#define BACKFILL_ENGINE_SQL_FRAGMENT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace backfill {

// User-supplied SQL fragments (the right side of --set, --where, --on, copy
// column expressions) are pasted into the chunk statements as written: that is
// the product (an operator writes SQL). What must not happen is a fragment that
// escapes its slot and changes the statement around it, for example
// `x) OR (true` in --where widening every chunk to the whole table, a `;`
// starting a second statement, or a comment swallowing the key range.
//
// CheckSqlFragment accepts a fragment only if, read under both PostgreSQL and
// MySQL lexing rules, it has balanced parentheses, no unterminated string or
// quoted identifier, and no `;`, `--`, `/*` or `#` outside literals. On
// failure it returns kInvalidArgument naming `what` (e.g. "--where") and the
// problem. Quoted identifiers ("..." and `...`) and string literals ('...',
// with '' and, conservatively, backslash escapes) are skipped over.
absl::Status CheckSqlFragment(absl::string_view fragment,
                              absl::string_view what);

// Splits `text` at `separator` characters that are outside parentheses,
// string literals and quoted identifiers. Pieces are trimmed of whitespace.
// An empty text gives no pieces.
std::vector<std::string> SplitTopLevel(absl::string_view text, char separator);

// Reads an identifier as written by the user on the command line: surrounding
// whitespace is trimmed, and one level of "..." or `...` quoting (with the
// doubled-quote escape) is removed. The result is the identifier's real
// name, which the adapter quotes again for its dialect. Returns
// kInvalidArgument for an empty name.
absl::StatusOr<std::string> UnquoteIdentifier(absl::string_view text,
                                              absl::string_view what);

}  // namespace backfill

#endif  // BACKFILL_ENGINE_SQL_FRAGMENT_H_
