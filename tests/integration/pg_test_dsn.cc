#include "tests/integration/pg_test_dsn.h"

#include <libpq-fe.h>

#include <stdexcept>

#include "absl/strings/str_cat.h"
#include "backfill/engine/dsn.h"

namespace backfill::testing {

std::map<std::string, std::string> PgParams(const std::string& dsn) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
  if (options == nullptr) {
    std::string why = error != nullptr ? error : "out of memory";
    PQfreemem(error);
    throw std::runtime_error("bad test DSN: " + why);
  }
  std::map<std::string, std::string> out;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val != nullptr) out[o->keyword] = o->val;
  }
  PQconninfoFree(options);
  return out;
}

std::string PgUri(const std::string& dsn,
                  const std::map<std::string, std::string>& overrides) {
  std::map<std::string, std::string> p = PgParams(dsn);
  for (const auto& [k, v] : overrides) {
    if (v.empty()) {
      p.erase(k);
    } else {
      p[k] = v;
    }
  }
  std::string out = "postgresql://";
  if (p.count("user")) {
    absl::StrAppend(&out, PercentEncode(p["user"]));
    if (p.count("password"))
      absl::StrAppend(&out, ":", PercentEncode(p["password"]));
    out.push_back('@');
  }
  absl::StrAppend(&out, p.count("host") ? p["host"] : "");
  if (p.count("port")) absl::StrAppend(&out, ":", p["port"]);
  absl::StrAppend(&out, "/",
                  p.count("dbname") ? PercentEncode(p["dbname"]) : "");
  char sep = '?';
  for (const auto& [k, v] : p) {
    if (k == "user" || k == "password" || k == "host" || k == "port" ||
        k == "dbname") {
      continue;
    }
    absl::StrAppend(&out, std::string(1, sep), k, "=", PercentEncode(v));
    sep = '&';
  }
  return out;
}

std::string PgHostPort(const std::string& dsn) {
  std::map<std::string, std::string> p = PgParams(dsn);
  return absl::StrCat(p.count("host") ? p["host"] : "localhost", ":",
                      p.count("port") ? p["port"] : "5432");
}

}  // namespace backfill::testing
