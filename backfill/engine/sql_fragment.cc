#include "backfill/engine/sql_fragment.h"

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace backfill {
namespace {

// Walks a fragment and reports, for each character, whether it is outside any
// literal or quoted identifier, along with the parenthesis depth.
class Scanner {
 public:
  explicit Scanner(absl::string_view text) : text_(text) {}

  // Advances past the next token-ish unit. Returns false at the end.
  // `outside` is set when the unit is a single character outside literals.
  bool Next(char* c, bool* outside) {
    if (pos_ >= text_.size()) return false;
    char ch = text_[pos_];
    if (ch == '\'' || ch == '"' || ch == '`') {
      SkipQuoted(ch);
      *c = ch;
      *outside = false;
      return true;
    }
    *c = ch;
    *outside = true;
    ++pos_;
    return true;
  }

  bool unterminated() const { return unterminated_; }
  size_t pos() const { return pos_; }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

 private:
  // Skips a quoted run starting at pos_. A doubled quote is an escaped quote.
  // Inside '...' a backslash escapes the next character (MySQL's default
  // mode); PostgreSQL would end the literal earlier, so accepting only what
  // parses under both rules is the conservative choice.
  void SkipQuoted(char quote) {
    ++pos_;
    while (pos_ < text_.size()) {
      char ch = text_[pos_];
      if (quote == '\'' && ch == '\\') {
        pos_ += 2;
        continue;
      }
      if (ch == quote) {
        if (pos_ + 1 < text_.size() && text_[pos_ + 1] == quote) {
          pos_ += 2;
          continue;
        }
        ++pos_;
        return;
      }
      ++pos_;
    }
    unterminated_ = true;
  }

  absl::string_view text_;
  size_t pos_ = 0;
  bool unterminated_ = false;
};

}  // namespace

absl::Status CheckSqlFragment(absl::string_view fragment,
                              absl::string_view what) {
  auto fail = [&](absl::string_view problem) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " \"", fragment, "\": ", problem));
  };
  if (absl::StripAsciiWhitespace(fragment).empty()) return fail("is empty");
  Scanner scanner(fragment);
  int depth = 0;
  char c;
  bool outside;
  while (scanner.Next(&c, &outside)) {
    if (!outside) continue;
    switch (c) {
      case '(':
        ++depth;
        break;
      case ')':
        if (--depth < 0) return fail("has a ')' without a matching '('");
        break;
      case ';':
        return fail("contains ';' (one expression, not statements)");
      case '#':
        return fail("contains '#' outside a literal (a MySQL comment)");
      case '\0':
        return fail("contains a NUL byte");
      case '-':
        if (scanner.peek() == '-') return fail("contains a '--' comment");
        break;
      case '/':
        if (scanner.peek() == '*') return fail("contains a '/*' comment");
        break;
      default:
        break;
    }
  }
  if (scanner.unterminated()) return fail("has an unterminated quote");
  if (depth != 0) return fail("has unbalanced parentheses");
  return absl::OkStatus();
}

std::vector<std::string> SplitTopLevel(absl::string_view text, char separator) {
  std::vector<std::string> pieces;
  Scanner scanner(text);
  int depth = 0;
  size_t start = 0;
  char c;
  bool outside;
  size_t before = 0;
  while (scanner.Next(&c, &outside)) {
    if (outside) {
      if (c == '(') ++depth;
      if (c == ')') --depth;
      if (c == separator && depth == 0) {
        pieces.emplace_back(
            absl::StripAsciiWhitespace(text.substr(start, before - start)));
        start = scanner.pos();
      }
    }
    before = scanner.pos();
  }
  absl::string_view last = absl::StripAsciiWhitespace(text.substr(start));
  if (!last.empty() || !pieces.empty()) pieces.emplace_back(last);
  return pieces;
}

absl::StatusOr<std::string> UnquoteIdentifier(absl::string_view text,
                                              absl::string_view what) {
  absl::string_view s = absl::StripAsciiWhitespace(text);
  if (s.size() >= 2 && (s.front() == '"' || s.front() == '`') &&
      s.back() == s.front()) {
    const char q = s.front();
    std::string out;
    for (size_t i = 1; i + 1 < s.size(); ++i) {
      out.push_back(s[i]);
      if (s[i] == q && i + 2 < s.size() && s[i + 1] == q) ++i;
    }
    if (out.empty())
      return absl::InvalidArgumentError(absl::StrCat(what, " is empty"));
    return out;
  }
  if (s.empty())
    return absl::InvalidArgumentError(absl::StrCat(what, " is empty"));
  return std::string(s);
}

}  // namespace backfill
