// Fuzz target: DSN parsing and password redaction (backfill/engine/dsn.h).
//
// Any text: ParseDsn, RedactDsn, FindPasswords and ToRedactedUri never
// crash, and a password that ParseDsn or FindPasswords finds is not in what
// RedactDsn or ToRedactedUri print, wherever the text holds it only once
// (a password that also spells the user or host cannot be told apart).
// ToRedactedUri, and RedactDsn of built DSNs (a URI and a conninfo string
// with a password made of the input's bytes), read the same whatever the
// password.

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "backfill/engine/dsn.h"

namespace {

int Occurrences(const std::string& text, const std::string& part) {
  int n = 0;
  for (size_t at = text.find(part); at != std::string::npos;
       at = text.find(part, at + 1)) {
    ++n;
  }
  return n;
}

void Require(bool ok, const char* what, const std::string& text) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_dsn: %s, for input [%s]\n", what, text.c_str());
  std::abort();
}

// Passwords short enough to spell ordinary words are not checked: "a" is in
// every DSN.
constexpr size_t kMinPassword = 4;

void CheckAnyText(const std::string& text) {
  const std::string redacted = backfill::RedactDsn(text);
  for (const std::string& part : backfill::FindPasswords(text)) {
    // A part with a '*' could be spelled by the "***" put in its place.
    if (part.size() < kMinPassword || Occurrences(text, part) != 1 ||
        absl::StrContains(part, "*")) {
      continue;
    }
    Require(!absl::StrContains(redacted, part),
            "RedactDsn left a part FindPasswords found", text);
  }
  absl::StatusOr<backfill::Dsn> dsn = backfill::ParseDsn(text);
  if (!dsn.ok()) {
    return;
  }
  (void)dsn->ToUri();
  if (!dsn->password.has_value()) return;
  // ToRedactedUri rebuilds the URI, so what it prints must not depend on
  // the password at all (a substring test would see a password like "p=Ap"
  // spelled by a parameter's "…p=Ap…").
  backfill::Dsn other = *dsn;
  other.password = "x";
  Require(dsn->ToRedactedUri() == other.ToRedactedUri(),
          "ToRedactedUri depends on the password", text);
  if (dsn->password->size() < kMinPassword) return;
  const std::string& pw = *dsn->password;
  // Checked where the text spells it as it decodes, once, in its slot
  // (":pw@"): a password written p%41ss decodes to pAss, which the text may
  // hold elsewhere as an ordinary word.
  const bool unique =
      !absl::StrContains(pw, "*") && Occurrences(text, pw) == 1 &&
      Occurrences(text, absl::StrCat(":", pw, "@")) == 1 &&
      !absl::StrContains(dsn->user, pw) && !absl::StrContains(dsn->host, pw) &&
      !absl::StrContains(dsn->database, pw);
  if (!unique) return;
  Require(!absl::StrContains(redacted, pw), "RedactDsn left the password",
          text);
}

// A conninfo value as libpq quotes it: '...' with \' and \\.
std::string ConninfoQuote(const std::string& value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "'";
}

void CheckBuilt(FuzzedDataProvider& in) {
  const std::string user = in.ConsumeRandomLengthString(16);
  const std::string host = in.ConsumeRandomLengthString(16);
  const std::string pw = in.ConsumeRandomLengthString(32);
  if (pw.empty()) return;
  const std::string encoded = backfill::PercentEncode(pw);
  const std::string scheme = in.ConsumeBool() ? "mysql://" : "postgresql://";
  auto with_password = [&](const std::string& p) {
    return absl::StrCat(scheme, backfill::PercentEncode(user), ":", p, "@",
                        backfill::PercentEncode(host), ":3306/db");
  };
  // Redacted, the DSN reads the same whatever its password.
  const std::string uri = with_password(encoded);
  Require(backfill::RedactDsn(uri) == backfill::RedactDsn(with_password("x")),
          "RedactDsn of a URI depends on its password", uri);
  auto conninfo = [](const std::string& p) {
    return absl::StrCat("host=localhost password=", ConninfoQuote(p),
                        " dbname=app");
  };
  Require(
      backfill::RedactDsn(conninfo(pw)) == backfill::RedactDsn(conninfo("x")),
      "RedactDsn of a conninfo string depends on its password", conninfo(pw));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  CheckAnyText(std::string(reinterpret_cast<const char*>(data), size));
  FuzzedDataProvider in(data, size);
  CheckBuilt(in);
  return 0;
}
