#include "backfill/adapters/mysql/mysql_connection.h"

#include <mysql.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstdlib>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "backfill/adapters/mysql/mysql_errors.h"
#include "backfill/adapters/mysql/mysql_sql.h"

namespace backfill::mysql {
namespace {

// Seconds a chunk's statement waits for a row lock before failing with 1205
// (kAborted: the engine retries the chunk, smaller). The server default of
// 50 s would stall a backfill behind one long application transaction.
constexpr int kLockWaitTimeoutSeconds = 10;

absl::Status BadParam(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("bad `dsn`: ", why));
}

}  // namespace

struct MysqlConnection::Handle {
  MYSQL* mysql = nullptr;
  ~Handle() {
    if (mysql != nullptr) mysql_close(mysql);
  }
};

absl::StatusOr<ConnectionSettings> SettingsFromDsn(
    const Dsn& dsn, const ConnectOptions& options) {
  ConnectionSettings s;
  s.host = dsn.host;
  s.port = dsn.port;
  s.user = dsn.user;
  s.database = dsn.database;
  s.defaults_file = options.defaults_file;
  if (options.password.has_value()) {
    s.password = options.password;
  } else if (dsn.password.has_value()) {
    s.password = dsn.password;
  } else if (options.default_password.has_value()) {
    s.password = options.default_password;
  }
  for (const auto& [raw_key, value] : dsn.params) {
    const std::string key =
        absl::StrReplaceAll(absl::AsciiStrToLower(raw_key), {{"_", "-"}});
    if (key == "ssl-mode") {
      s.ssl_mode = absl::AsciiStrToUpper(value);
      if (s.ssl_mode != "DISABLED" && s.ssl_mode != "PREFERRED" &&
          s.ssl_mode != "REQUIRED" && s.ssl_mode != "VERIFY_CA" &&
          s.ssl_mode != "VERIFY_IDENTITY") {
        return BadParam(
            absl::StrCat("ssl-mode \"", value,
                         "\" is not one of DISABLED, PREFERRED, REQUIRED, "
                         "VERIFY_CA, VERIFY_IDENTITY"));
      }
    } else if (key == "ssl-ca") {
      s.ssl_ca = value;
    } else if (key == "ssl-capath") {
      s.ssl_capath = value;
    } else if (key == "ssl-cert") {
      s.ssl_cert = value;
    } else if (key == "ssl-key") {
      s.ssl_key = value;
    } else if (key == "ssl-cipher") {
      s.ssl_cipher = value;
    } else if (key == "socket") {
      s.socket = value;
    } else if (key == "defaults-file") {
      s.defaults_file = value;
    } else if (key == "connect-timeout") {
      if (!absl::SimpleAtoi(value, &s.connect_timeout_seconds) ||
          s.connect_timeout_seconds == 0) {
        return BadParam(absl::StrCat("connect-timeout \"", value,
                                     "\" is not a positive number of seconds"));
      }
    } else {
      return BadParam(absl::StrCat("unknown parameter \"", raw_key,
                                   "\" for mysql:// (known: ssl-mode, ssl-ca, "
                                   "ssl-capath, ssl-cert, ssl-key, "
                                   "ssl-cipher, connect-timeout, socket, "
                                   "defaults-file)"));
    }
  }
  return s;
}

MysqlConnection::MysqlConnection(std::unique_ptr<Handle> handle,
                                 std::string secret)
    : handle_(std::move(handle)), secret_(std::move(secret)) {}

MysqlConnection::~MysqlConnection() = default;

namespace {

// The client options of `s` on `m`, before connecting.
void SetOptions(MYSQL* m, const ConnectionSettings& s) {
  // Option files are read at connect time and override the options set
  // here (their connect-timeout, ssl-…); the character set and automatic
  // reconnection are set again once connected.
  mysql_options(m, MYSQL_READ_DEFAULT_GROUP, "backfill");
  if (!s.defaults_file.empty()) {
    mysql_options(m, MYSQL_READ_DEFAULT_FILE, s.defaults_file.c_str());
  }
  // Every key and checkpoint value is read and written as utf8mb4 text.
  mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &s.connect_timeout_seconds);
  if (s.read_timeout_seconds > 0) {
    mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &s.read_timeout_seconds);
    mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &s.read_timeout_seconds);
  }
  mysql_options4(m, MYSQL_OPT_CONNECT_ATTR_ADD, "program_name", "backfill");
  // Automatic reconnection is off by default in both client libraries and
  // stays off (setting the option explicitly is deprecated in MySQL 8's;
  // Connector/C's is turned off again after an option file was read).
}

// The TLS options of `s` on `m`, before connecting.
void SetTlsOptions(MYSQL* m, const ConnectionSettings& s) {
  if (s.ssl_mode != "DISABLED") {
    if (!s.ssl_ca.empty()) mysql_options(m, MYSQL_OPT_SSL_CA, s.ssl_ca.c_str());
    if (!s.ssl_capath.empty())
      mysql_options(m, MYSQL_OPT_SSL_CAPATH, s.ssl_capath.c_str());
    if (!s.ssl_cert.empty())
      mysql_options(m, MYSQL_OPT_SSL_CERT, s.ssl_cert.c_str());
    if (!s.ssl_key.empty())
      mysql_options(m, MYSQL_OPT_SSL_KEY, s.ssl_key.c_str());
    if (!s.ssl_cipher.empty())
      mysql_options(m, MYSQL_OPT_SSL_CIPHER, s.ssl_cipher.c_str());
  }
#if defined(LIBMARIADB)
  // MariaDB Connector/C has no MYSQL_OPT_SSL_MODE: REQUIRED enforces TLS,
  // VERIFY_* also verifies the server certificate (CA and host name alike).
  if (s.ssl_mode == "REQUIRED" || s.ssl_mode == "VERIFY_CA" ||
      s.ssl_mode == "VERIFY_IDENTITY") {
    my_bool on = 1;
    mysql_options(m, MYSQL_OPT_SSL_ENFORCE, &on);
    if (s.ssl_mode != "REQUIRED")
      mysql_options(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &on);
  }
#else
  if (!s.ssl_mode.empty()) {
    unsigned int mode = SSL_MODE_PREFERRED;
    if (s.ssl_mode == "DISABLED") mode = SSL_MODE_DISABLED;
    if (s.ssl_mode == "REQUIRED") mode = SSL_MODE_REQUIRED;
    if (s.ssl_mode == "VERIFY_CA") mode = SSL_MODE_VERIFY_CA;
    if (s.ssl_mode == "VERIFY_IDENTITY") mode = SSL_MODE_VERIFY_IDENTITY;
    mysql_options(m, MYSQL_OPT_SSL_MODE, &mode);
  }
#endif
}

// TCP keepalives on the open connection: 10s idle, then every 5s, 3 probes,
// so that a peer that died between statements is noticed in about 25s
// instead of the kernel's two hours. Best effort (a Unix socket has none).
void SetKeepalives(MYSQL* m) {
  const int fd = static_cast<int>(mysql_get_socket(m));
  const int on = 1, idle = 10, interval = 5, count = 3;
  (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
  (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
  (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
  (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof(count));
}

bool TlsRequired(const ConnectionSettings& s) {
  return s.ssl_mode == "REQUIRED" || s.ssl_mode == "VERIFY_CA" ||
         s.ssl_mode == "VERIFY_IDENTITY";
}

}  // namespace

absl::StatusOr<std::unique_ptr<MysqlConnection>> MysqlConnection::Open(
    const ConnectionSettings& s) {
  static const int library_init = mysql_library_init(0, nullptr, nullptr);
  (void)library_init;
  auto handle = std::make_unique<Handle>();
  handle->mysql = mysql_init(nullptr);
  if (handle->mysql == nullptr) {
    return absl::ResourceExhaustedError(
        "cannot connect to MySQL: out of memory");
  }
  MYSQL* m = handle->mysql;
  std::string secret = s.password.value_or("");
  if (secret.empty()) {
    if (const char* env = std::getenv("MYSQL_PWD"); env != nullptr)
      secret = env;
  }
  SetOptions(m, s);
  SetTlsOptions(m, s);
  // Client flags 0: no CLIENT_MULTI_STATEMENTS, no CLIENT_FOUND_ROWS (so
  // affected rows count rows changed, not rows matched).
  if (mysql_real_connect(m, s.host.empty() ? nullptr : s.host.c_str(),
                         s.user.empty() ? nullptr : s.user.c_str(),
                         s.password.has_value() ? s.password->c_str() : nullptr,
                         s.database.c_str(), static_cast<unsigned int>(s.port),
                         s.socket.empty() ? nullptr : s.socket.c_str(),
                         0) == nullptr) {
    return MapMysqlError(mysql_errno(m), mysql_sqlstate(m), mysql_error(m),
                         "cannot connect to MySQL", secret);
  }
  SetKeepalives(m);
  // The password actually used, wherever it came from (an option file).
  if (m->passwd != nullptr && *m->passwd != '\0') secret = m->passwd;
  if (mysql_set_character_set(m, "utf8mb4") != 0) {
    return MapMysqlError(mysql_errno(m), mysql_sqlstate(m), mysql_error(m),
                         "cannot set up the MySQL session", secret);
  }
#if defined(LIBMARIADB)
  {
    // An option file's "reconnect" would silently drop a transaction and
    // the session's settings on a lost connection.
    my_bool off = 0;
    mysql_options(m, MYSQL_OPT_RECONNECT, &off);
  }
#endif
  // Connector/C 3.3 does not refuse a server without TLS on
  // MYSQL_OPT_SSL_ENFORCE alone (only with certificate verification), so
  // every required mode is checked on the open connection.
  if (TlsRequired(s) && mysql_get_ssl_cipher(m) == nullptr) {
    return absl::UnavailableError(absl::StrCat(
        "cannot connect to MySQL: ssl-mode=", s.ssl_mode,
        " but the connection is not encrypted (does the server have TLS?)"));
  }
  std::unique_ptr<MysqlConnection> conn(
      new MysqlConnection(std::move(handle), secret));
  if (absl::Status st = conn->SetUpSession(); !st.ok()) return st;
  return conn;
}

absl::Status MysqlConnection::SetUpSession() {
  if (absl::Status st = Run(absl::StrCat("SET SESSION autocommit = 1, "
                                         "SESSION innodb_lock_wait_timeout = ",
                                         kLockWaitTimeoutSeconds),
                            "cannot set up the MySQL session");
      !st.ok()) {
    return st;
  }
  absl::StatusOr<std::vector<SqlRow>> r =
      Query("SELECT @@SESSION.sql_mode, DATABASE()",
            "cannot set up the MySQL session");
  if (!r.ok()) return r.status();
  const std::string sql_mode = absl::AsciiStrToUpper(r->at(0)[0].value_or(""));
  no_backslash_escapes_ =
      sql_mode.find("NO_BACKSLASH_ESCAPES") != std::string::npos;
  database_ = r->at(0)[1].value_or("");
  return absl::OkStatus();
}

absl::Status MysqlConnection::Error(absl::string_view context) const {
  MYSQL* m = handle_->mysql;
  return MapMysqlError(mysql_errno(m), mysql_sqlstate(m), mysql_error(m),
                       context, secret_);
}

absl::Status MysqlConnection::Run(const std::string& sql,
                                  absl::string_view context) {
  MYSQL* m = handle_->mysql;
  if (mysql_real_query(m, sql.data(), static_cast<unsigned long>(sql.size())) !=
      0) {
    return Error(context);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<SqlRow>> MysqlConnection::Query(
    const std::string& sql, absl::string_view context) {
  return QueryWithNames(sql, context, nullptr);
}

absl::StatusOr<std::vector<SqlRow>> MysqlConnection::QueryWithNames(
    const std::string& sql, absl::string_view context,
    std::vector<std::string>* names) {
  if (absl::Status s = Run(sql, context); !s.ok()) return s;
  MYSQL* m = handle_->mysql;
  MYSQL_RES* res = mysql_store_result(m);
  std::vector<SqlRow> rows;
  if (res == nullptr) {
    if (mysql_field_count(m) != 0) return Error(context);
    return rows;  // a statement without a result set
  }
  const unsigned int fields = mysql_num_fields(res);
  if (names != nullptr) {
    MYSQL_FIELD* f = mysql_fetch_fields(res);
    names->clear();
    for (unsigned int i = 0; i < fields; ++i) names->emplace_back(f[i].name);
  }
  while (MYSQL_ROW row = mysql_fetch_row(res)) {
    unsigned long* lengths = mysql_fetch_lengths(res);
    SqlRow out(fields);
    for (unsigned int i = 0; i < fields; ++i) {
      if (row[i] != nullptr) out[i] = std::string(row[i], lengths[i]);
    }
    rows.push_back(std::move(out));
  }
  const bool failed = mysql_errno(m) != 0;
  mysql_free_result(res);
  if (failed) return Error(context);
  return rows;
}

absl::StatusOr<ExecResult> MysqlConnection::Exec(const std::string& sql,
                                                 absl::string_view context) {
  if (absl::Status s = Run(sql, context); !s.ok()) return s;
  MYSQL* m = handle_->mysql;
  ExecResult out;
  out.affected_rows = mysql_affected_rows(m);
  if (const char* info = mysql_info(m); info != nullptr) out.info = info;
  if (MYSQL_RES* res = mysql_store_result(m); res != nullptr)
    mysql_free_result(res);
  return out;
}

std::string MysqlConnection::Literal(absl::string_view value) const {
  return QuoteString(value, no_backslash_escapes_);
}

}  // namespace backfill::mysql
