#include "backfill/engine/key.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "backfill/engine/json.h"

namespace backfill {
namespace {

// Minimal reader for the subset EncodeKey writes (plus whitespace and the
// standard escapes), so a hand-edited checkpoint still decodes.
class KeyReader {
 public:
  explicit KeyReader(absl::string_view text) : text_(text) {}

  absl::StatusOr<Key> Read() {
    Key key;
    SkipSpace();
    if (!Consume('[')) return Error("expected '['");
    SkipSpace();
    if (Consume(']')) return End(std::move(key));
    while (true) {
      SkipSpace();
      std::string value;
      if (absl::Status s = ReadString(&value); !s.ok()) return s;
      key.push_back(std::move(value));
      SkipSpace();
      if (Consume(']')) return End(std::move(key));
      if (!Consume(',')) return Error("expected ',' or ']'");
    }
  }

 private:
  absl::StatusOr<Key> End(Key key) {
    SkipSpace();
    if (pos_ != text_.size()) return Error("trailing characters");
    return key;
  }

  absl::Status ReadString(std::string* out) {
    if (!Consume('"')) return Error("expected a string");
    while (pos_ < text_.size()) {
      char c = text_[pos_++];
      if (c == '"') return absl::OkStatus();
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (pos_ >= text_.size()) break;
      char e = text_[pos_++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out->push_back(e);
          break;
        case 'n':
          out->push_back('\n');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 't':
          out->push_back('\t');
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'u': {
          if (pos_ + 4 > text_.size()) return Error("short \\u escape");
          unsigned code = 0;
          for (int i = 0; i < 4; ++i) {
            char h = text_[pos_++];
            code <<= 4;
            if (h >= '0' && h <= '9')
              code |= h - '0';
            else if (h >= 'a' && h <= 'f')
              code |= h - 'a' + 10;
            else if (h >= 'A' && h <= 'F')
              code |= h - 'A' + 10;
            else
              return Error("bad \\u escape");
          }
          AppendUtf8(code, out);
          break;
        }
        default:
          return Error("bad escape");
      }
    }
    return Error("unterminated string");
  }

  static void AppendUtf8(unsigned code, std::string* out) {
    if (code < 0x80) {
      out->push_back(static_cast<char>(code));
    } else if (code < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (code >> 6)));
      out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xE0 | (code >> 12)));
      out->push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
    }
  }

  void SkipSpace() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\n' || text_[pos_] == '\t' ||
            text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  bool Consume(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed key ", text_, ": ", what, " at offset ", pos_));
  }

  absl::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

std::string EncodeKey(const Key& key) {
  std::string out = "[";
  for (size_t i = 0; i < key.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendJsonString(key[i], &out);
  }
  out.push_back(']');
  return out;
}

absl::StatusOr<Key> DecodeKey(absl::string_view text) {
  return KeyReader(text).Read();
}

std::string KeyToDisplay(const Key& key) {
  if (key.size() == 1) return key[0];
  return absl::StrCat("(", absl::StrJoin(key, ", "), ")");
}

}  // namespace backfill
