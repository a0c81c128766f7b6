// Fuzz target: DSN parsing and password redaction (backfill/engine/dsn.h).
//
// Any text: ParseDsn, RedactDsn, FindPasswords and ToRedactedUri never
// crash, and a password that ParseDsn or FindPasswords finds is not in what
// RedactDsn or ToRedactedUri print, wherever the text holds it only once
// (a password that also spells the user or host cannot be told apart).
// Built DSNs: a URI and a conninfo string with a password made of the
// input's bytes never print it, raw or percent-encoded.

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
  if (!dsn->password.has_value() || dsn->password->size() < kMinPassword)
    return;
  const std::string& pw = *dsn->password;
  const std::string encoded = backfill::PercentEncode(pw);
  const bool unique =
      !absl::StrContains(pw, "*") && Occurrences(text, pw) <= 1 &&
      Occurrences(text, encoded) <= 1 && !absl::StrContains(dsn->user, pw) &&
      !absl::StrContains(dsn->host, pw) &&
      !absl::StrContains(dsn->database, pw);
  if (!unique) return;
  for (const auto& [key, value] : dsn->params) {
    // A parameter that also spells it (encoded otherwise) prints it.
    if (absl::StrContains(key, pw) || absl::StrContains(value, pw)) return;
  }
  const std::string safe = dsn->ToRedactedUri();
  Require(!absl::StrContains(safe, pw), "ToRedactedUri printed the password",
          text);
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
  // With a '*' the password could be spelled by the redacted text around
  // the "***" put in its place ("d=*** dbname" in "password=*** dbname").
  if (pw.size() < kMinPassword || absl::StrContains(pw, "*")) return;
  const std::string encoded = backfill::PercentEncode(pw);
  const std::string scheme = in.ConsumeBool() ? "mysql://" : "postgresql://";
  auto with_password = [&](const std::string& p) {
    return absl::StrCat(scheme, backfill::PercentEncode(user), ":", p, "@",
                        backfill::PercentEncode(host), ":3306/db");
  };
  const std::string uri = with_password(encoded);
  // What a redacted URI looks like; a password it spells cannot be checked.
  const std::string redacted_form = with_password("***");
  if (!absl::StrContains(redacted_form, pw) &&
      !absl::StrContains(redacted_form, encoded)) {
    const std::string redacted = backfill::RedactDsn(uri);
    Require(!absl::StrContains(redacted, encoded),
            "RedactDsn left an encoded URI password", uri);
    Require(!absl::StrContains(redacted, pw), "RedactDsn left a URI password",
            uri);
  }
  const std::string conninfo = absl::StrCat(
      "host=localhost password=", ConninfoQuote(pw), " dbname=app");
  if (!absl::StrContains("host=localhost password='***' *** dbname=app", pw)) {
    Require(!absl::StrContains(backfill::RedactDsn(conninfo), pw),
            "RedactDsn left a conninfo password", conninfo);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  CheckAnyText(std::string(reinterpret_cast<const char*>(data), size));
  FuzzedDataProvider in(data, size);
  CheckBuilt(in);
  return 0;
}
