#include "absl/strings/string_view.h"
#include "engine/dsn.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

namespace backfill {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> PercentDecode(absl::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::string PercentEncode(absl::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppend(&out, "%", absl::string_view("0123456789ABCDEF" + (c >> 4), 1),
                      absl::string_view("0123456789ABCDEF" + (c & 15), 1));
    }
  }
  return out;
}

absl::Status Bad(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("bad --dsn: ", why));
}

std::string Encode(const Dsn& dsn, bool redact) {
  std::string out = dsn.kind == DatabaseKind::kPostgres ? "postgresql://" : "mysql://";
  if (!dsn.user.empty() || dsn.password.has_value()) {
    absl::StrAppend(&out, PercentEncode(dsn.user));
    if (dsn.password.has_value()) {
      absl::StrAppend(&out, ":", redact ? "***" : PercentEncode(*dsn.password));
    }
    out.push_back('@');
  }
  absl::StrAppend(&out, dsn.host.find(':') != std::string::npos
                            ? absl::StrCat("[", dsn.host, "]")
                            : PercentEncode(dsn.host));
  if (dsn.port != 0) absl::StrAppend(&out, ":", dsn.port);
  absl::StrAppend(&out, "/", PercentEncode(dsn.database));
  char sep = '?';
  for (const auto& [k, v] : dsn.params) {
    const bool secret = absl::AsciiStrToLower(k) == "password";
    absl::StrAppend(&out, std::string(1, sep), PercentEncode(k), "=",
                    redact && secret ? "***" : PercentEncode(v));
    sep = '&';
  }
  return out;
}

}  // namespace

std::string Dsn::ToUri() const { return Encode(*this, false); }
std::string Dsn::ToRedactedUri() const { return Encode(*this, true); }

absl::StatusOr<Dsn> ParseDsn(absl::string_view uri) {
  Dsn dsn;
  absl::string_view rest;
  if (absl::ConsumePrefix(&(rest = uri), "postgresql://") ||
      absl::ConsumePrefix(&(rest = uri), "postgres://")) {
    dsn.kind = DatabaseKind::kPostgres;
  } else if (absl::ConsumePrefix(&(rest = uri), "mysql://")) {
    dsn.kind = DatabaseKind::kMysql;
  } else {
    return Bad("expected postgresql://… or mysql://…");
  }
  absl::string_view query;
  if (size_t q = rest.find('?'); q != absl::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  absl::string_view path;
  if (size_t slash = rest.find('/'); slash != absl::string_view::npos) {
    path = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  if (size_t at = rest.rfind('@'); at != absl::string_view::npos) {
    absl::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    absl::string_view user = userinfo;
    if (size_t colon = userinfo.find(':'); colon != absl::string_view::npos) {
      user = userinfo.substr(0, colon);
      std::optional<std::string> pw = PercentDecode(userinfo.substr(colon + 1));
      if (!pw.has_value()) return Bad("bad percent-encoding in the password");
      dsn.password = *std::move(pw);
    }
    std::optional<std::string> u = PercentDecode(user);
    if (!u.has_value()) return Bad("bad percent-encoding in the user name");
    dsn.user = *std::move(u);
  }
  absl::string_view host = rest, port;
  if (absl::StartsWith(rest, "[")) {  // [ipv6]:port
    size_t close = rest.find(']');
    if (close == absl::string_view::npos) return Bad("unclosed '[' in the host");
    host = rest.substr(1, close - 1);
    absl::string_view after = rest.substr(close + 1);
    if (absl::ConsumePrefix(&after, ":")) port = after;
  } else if (size_t colon = rest.rfind(':'); colon != absl::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  std::optional<std::string> h = PercentDecode(host);
  if (!h.has_value()) return Bad("bad percent-encoding in the host");
  dsn.host = *std::move(h);
  if (!port.empty() && (!absl::SimpleAtoi(port, &dsn.port) || dsn.port <= 0 ||
                        dsn.port > 65535)) {
    // Not echoed: with an unencoded '/', '?' or '@' in the password, the
    // "port" is the tail of the password.
    return Bad("the port is not a number in 1-65535");
  }
  std::optional<std::string> db = PercentDecode(path);
  if (!db.has_value()) return Bad("bad percent-encoding in the database name");
  dsn.database = *std::move(db);
  if (dsn.kind == DatabaseKind::kMysql && dsn.database.empty()) {
    return Bad("mysql:// needs a database: mysql://user@host:port/db");
  }
  for (absl::string_view kv : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> p =
        absl::StrSplit(kv, absl::MaxSplits('=', 1));
    std::optional<std::string> k = PercentDecode(p.first);
    std::optional<std::string> v = PercentDecode(p.second);
    if (!k.has_value() || !v.has_value()) return Bad("bad percent-encoding in a parameter");
    dsn.params.emplace_back(*std::move(k), *std::move(v));
  }
  return dsn;
}

std::string RedactDsn(absl::string_view text) {
  std::string out(text);
  // user:secret@ after a scheme.
  for (size_t scheme = out.find("://"); scheme != std::string::npos;
       scheme = out.find("://", scheme + 3)) {
    size_t start = scheme + 3;
    size_t at = out.find('@', start);
    if (at == std::string::npos) continue;
    size_t slash = out.find_first_of("/? \t\n", start);
    if (slash != std::string::npos && slash < at) continue;
    size_t colon = out.find(':', start);
    if (colon != std::string::npos && colon < at) {
      out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  // password=secret in a query string or a conninfo string, where libpq also
  // allows spaces around '=' and a '...' quoted value with \ escapes.
  std::string lower = absl::AsciiStrToLower(out);
  for (size_t p = lower.find("password"); p != std::string::npos;
       p = lower.find("password", p + 1)) {
    size_t i = p + 8;
    while (i < out.size() && (out[i] == ' ' || out[i] == '\t')) ++i;
    if (i >= out.size() || out[i] != '=') continue;
    ++i;
    while (i < out.size() && (out[i] == ' ' || out[i] == '\t')) ++i;
    const size_t start = i;
    size_t end;
    if (start < out.size() && out[start] == '\'') {
      end = start + 1;
      while (end < out.size() && out[end] != '\'') end += out[end] == '\\' ? 2 : 1;
      end = std::min(end + 1, out.size());
    } else {
      end = out.find_first_of("& \t\n", start);
      if (end == std::string::npos) end = out.size();
    }
    out.replace(start, end - start, "***");
    lower = absl::AsciiStrToLower(out);
    p = start;
  }
  return out;
}

std::string ScrubSecret(absl::string_view text, absl::string_view secret) {
  if (secret.empty()) return std::string(text);
  return absl::StrReplaceAll(text, {{secret, "***"}});
}

}  // namespace backfill
