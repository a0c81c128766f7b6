#include "backfill/adapters/postgres/pg_conninfo.h"

#include <libpq-fe.h>

#include <cstdlib>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace backfill::pg {
namespace {

absl::Status Bad(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("bad `dsn`: ", why));
}

// libpq reads the user name and password of a URI up to the first '@' (if
// it comes before any '/'), where a user may have meant a later one. Such a
// string connects somewhere unexpected and its errors echo a piece of the
// password as a host or port, so it is refused. `text` is trimmed.
absl::Status CheckUriAt(absl::string_view text) {
  absl::string_view rest = text;
  if (!absl::ConsumePrefix(&rest, "postgresql://") &&
      !absl::ConsumePrefix(&rest, "postgres://")) {
    return absl::OkStatus();
  }
  const size_t first = rest.find_first_of("@/");
  if (first == absl::string_view::npos) return absl::OkStatus();
  if (rest[first] == '@') {
    absl::string_view host = rest.substr(first + 1);
    host = host.substr(0, host.find_first_of("/?"));
    if (absl::StrContains(host, '@')) {
      return Bad(
          "more than one '@' before the host: write an '@' in the user name "
          "or password as %40");
    }
    return absl::OkStatus();
  }
  absl::string_view path = rest.substr(first);
  path = path.substr(0, path.find('?'));
  if (absl::StrContains(path, '@')) {
    return Bad(
        "an '@' after the first '/': write a '/' in the user name or "
        "password as %2F (and an '@' in the database name as %40)");
  }
  return absl::OkStatus();
}

// libpq's parse errors quote the offending piece of the string, which may
// be part of a password: hide every password-looking part of `text`, and
// any quoted piece of the message that is a fragment of one.
std::string SafeParseError(absl::string_view message, absl::string_view text) {
  std::string out(
      absl::StripAsciiWhitespace(message.substr(0, message.find('\n'))));
  out = RedactDsn(out);
  const std::vector<std::string> secrets = FindPasswords(text);
  for (const std::string& s : secrets) out = ScrubSecret(out, s);
  std::string clean;
  size_t pos = 0;
  while (true) {
    const size_t open = out.find('"', pos);
    const size_t close =
        open == std::string::npos ? open : out.find('"', open + 1);
    if (close == std::string::npos) break;
    const std::string quoted = out.substr(open + 1, close - open - 1);
    bool secret = false;
    for (const std::string& s : secrets) {
      secret |= !quoted.empty() && absl::StrContains(s, quoted);
    }
    absl::StrAppend(&clean, out.substr(pos, open + 1 - pos),
                    secret ? "***" : quoted, "\"");
    pos = close + 1;
  }
  absl::StrAppend(&clean, out.substr(pos));
  return clean;
}

std::string Quote(absl::string_view value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

}  // namespace

absl::StatusOr<Conninfo> Conninfo::Parse(absl::string_view text_in) {
  const std::string text(absl::StripAsciiWhitespace(text_in));
  if (absl::Status s = CheckUriAt(text); !s.ok()) return s;
  char* error = nullptr;
  std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> options(
      PQconninfoParse(text.c_str(), &error), &PQconninfoFree);
  if (options == nullptr) {
    const std::string why =
        error != nullptr ? SafeParseError(error, text) : "out of memory";
    PQfreemem(error);
    return Bad(why);
  }
  Conninfo out;
  for (const PQconninfoOption* o = options.get(); o->keyword != nullptr; ++o) {
    if (o->val != nullptr) out.options_.emplace_back(o->keyword, o->val);
  }
  return out;
}

const std::string* Conninfo::Find(absl::string_view keyword) const {
  for (const auto& [k, v] : options_) {
    if (k == keyword) return &v;
  }
  return nullptr;
}

void Conninfo::Set(absl::string_view keyword, std::string value) {
  for (auto& [k, v] : options_) {
    if (k == keyword) {
      v = std::move(value);
      return;
    }
  }
  options_.emplace_back(std::string(keyword), std::move(value));
}

std::string Conninfo::ToString() const {
  return absl::StrJoin(options_, " ", [](std::string* out, const auto& kv) {
    absl::StrAppend(out, kv.first, "=", Quote(kv.second));
  });
}

std::string Conninfo::Label() const {
  std::string hosts;
  if (const std::string* h = Find("host")) {
    hosts = *h;
  } else if (const std::string* a = Find("hostaddr")) {
    hosts = *a;
  } else if (const std::string* service = Find("service")) {
    return absl::StrCat("service=", *service);
  } else {
    hosts = Env("PGHOST");
    if (hosts.empty()) hosts = Env("PGHOSTADDR");
    if (hosts.empty() && !Env("PGSERVICE").empty()) {
      return absl::StrCat("service=", Env("PGSERVICE"));
    }
    if (hosts.empty()) hosts = "localhost";
  }
  std::string ports;
  if (const std::string* p = Find("port")) ports = *p;
  if (ports.empty()) ports = Env("PGPORT");
  if (ports.empty()) ports = "5432";
  const std::vector<std::string> host_list = absl::StrSplit(hosts, ',');
  const std::vector<std::string> port_list = absl::StrSplit(ports, ',');
  std::vector<std::string> out;
  for (size_t i = 0; i < host_list.size(); ++i) {
    const std::string& host = host_list[i];
    const std::string& port =
        port_list.size() == host_list.size() ? port_list[i] : port_list[0];
    out.push_back(absl::StrCat(
        absl::StrContains(host, ':') ? absl::StrCat("[", host, "]") : host, ":",
        port));
  }
  return absl::StrJoin(out, ",");
}

absl::StatusOr<ConnectTarget> BuildConnectTarget(
    const ConnectOptions& options, absl::string_view application_name,
    int connect_timeout_seconds) {
  if (!options.defaults_file.empty()) {
    return absl::InvalidArgumentError(
        "`defaults_file` names a MySQL option file; for PostgreSQL use a "
        "service file (service=NAME, PGSERVICEFILE) or ~/.pgpass (PGPASSFILE)");
  }
  absl::StatusOr<Conninfo> info = Conninfo::Parse(options.dsn);
  if (!info.ok()) return info.status();
  if (options.password.has_value()) {
    info->Set("password", *options.password);
  } else if (info->Find("password") == nullptr &&
             options.default_password.has_value()) {
    info->Set("password", *options.default_password);
  }
  if (info->Find("connect_timeout") == nullptr &&
      Env("PGCONNECT_TIMEOUT").empty()) {
    info->Set("connect_timeout", absl::StrCat(connect_timeout_seconds));
  }
  // libpq turns keepalives on but leaves their timing to the kernel (two
  // hours idle): a peer that died between statements goes unnoticed that
  // long. The DSN's own keepalives_* win.
  if (info->Find("keepalives") == nullptr &&
      info->Find("keepalives_idle") == nullptr) {
    info->Set("keepalives_idle", "10");
    info->Set("keepalives_interval", "5");
    info->Set("keepalives_count", "3");
  }
  if (info->Find("fallback_application_name") == nullptr) {
    info->Set("fallback_application_name", std::string(application_name));
  }
  ConnectTarget target;
  const std::string* password = info->Find("password");
  target.secret = password != nullptr ? *password : Env("PGPASSWORD");
  target.conninfo = info->ToString();
  target.label = info->Label();
  return target;
}

std::string TransactionRefusal(const std::string& conninfo) {
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn(
      PQconnectdb(conninfo.c_str()), &PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) return PQerrorMessage(conn.get());
  for (const char* sql : {"BEGIN", "SELECT 1", "COMMIT"}) {
    std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(conn.get(), sql),
                                                    &PQclear);
    const ExecStatusType status = PQresultStatus(r.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      return PQerrorMessage(conn.get());
    }
  }
  return "";
}

}  // namespace backfill::pg
