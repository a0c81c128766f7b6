#include "backfill/engine/dsn.h"

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace backfill {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;

TEST(ParseDsnTest, PostgresStringsAreLeftToLibpq) {
  for (const char* text :
       {"postgresql://app:s3cr3t@db.example.com:6432/shop?sslmode=require",
        "postgres://localhost/db",
        "postgresql://app@10.0.0.1:5432,10.0.0.2:5432/prod?target_session_"
        "attrs=read-write",
        "host=h port=5432 dbname=d", "service=prod", ""}) {
    absl::StatusOr<Dsn> d = ParseDsn(text);
    ASSERT_TRUE(d.ok()) << text << ": " << d.status();
    EXPECT_EQ(d->kind, DatabaseKind::kPostgres) << text;
    EXPECT_EQ(d->text, text);
    EXPECT_EQ(d->ToUri(), text);
    // Nothing is taken apart: libpq does that in the adapter.
    EXPECT_EQ(d->password, std::nullopt);
    EXPECT_EQ(d->host, "");
  }
  EXPECT_EQ(DsnKind("mysql://h/db"), DatabaseKind::kMysql);
  EXPECT_EQ(DsnKind("  mysql://h/db"), DatabaseKind::kMysql);
  EXPECT_EQ(DsnKind("host=mysql://"), DatabaseKind::kPostgres);
}

TEST(ParseDsnTest, MysqlUri) {
  absl::StatusOr<Dsn> d = ParseDsn("mysql://root@127.0.0.1:3306/app");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->kind, DatabaseKind::kMysql);
  EXPECT_EQ(d->user, "root");
  EXPECT_EQ(d->password, std::nullopt);
  EXPECT_EQ(d->host, "127.0.0.1");
  EXPECT_EQ(d->port, 3306);
  EXPECT_EQ(d->database, "app");
}

TEST(ParseDsnTest, MysqlNeedsDatabase) {
  EXPECT_EQ(ParseDsn("mysql://root@host:3306").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseDsn("mysql://root@host:3306/").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ParseDsnTest, PercentEncoding) {
  absl::StatusOr<Dsn> d = ParseDsn(
      "mysql://us%40er:p%40ss%3Aw%2Fo%3Frd@host/"
      "my%20db?application_name=a%26b");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->user, "us@er");
  EXPECT_EQ(d->password, "p@ss:w/o?rd");
  EXPECT_EQ(d->database, "my db");
  EXPECT_THAT(d->params, ElementsAre(Pair("application_name", "a&b")));
  // And back: ToUri re-encodes so that it parses to the same values.
  absl::StatusOr<Dsn> again = ParseDsn(d->ToUri());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->user, "us@er");
  EXPECT_EQ(again->password, "p@ss:w/o?rd");
  EXPECT_EQ(again->database, "my db");
  EXPECT_THAT(again->params, ElementsAre(Pair("application_name", "a&b")));
}

TEST(ParseDsnTest, BadPercentEncoding) {
  for (const char* uri : {"mysql://u:%zz@h/db", "mysql://u%4@h/db",
                          "mysql://h/db%", "mysql://h/db?a=%G1"}) {
    EXPECT_EQ(ParseDsn(uri).status().code(), absl::StatusCode::kInvalidArgument)
        << uri;
  }
}

TEST(ParseDsnTest, Ipv6Host) {
  absl::StatusOr<Dsn> d = ParseDsn("mysql://u@[::1]:5433/db");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->host, "::1");
  EXPECT_EQ(d->port, 5433);
  EXPECT_EQ(d->ToUri(), "mysql://u@[::1]:5433/db");

  absl::StatusOr<Dsn> no_port = ParseDsn("mysql://[fe80::1]/db");
  ASSERT_TRUE(no_port.ok()) << no_port.status();
  EXPECT_EQ(no_port->host, "fe80::1");
  EXPECT_EQ(no_port->port, 0);

  EXPECT_EQ(ParseDsn("mysql://[::1/db").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ParseDsnTest, SeveralParams) {
  absl::StatusOr<Dsn> d =
      ParseDsn("mysql://h/db?sslmode=verify-full&connect_timeout=5&&flag");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_THAT(d->params,
              ElementsAre(Pair("sslmode", "verify-full"),
                          Pair("connect_timeout", "5"), Pair("flag", "")));
}

TEST(ParseDsnTest, BadPortAndScheme) {
  for (const char* uri :
       {"mysql://h:abc/db", "mysql://h:0/db", "mysql://h:65536/db",
        "mysql://h:-1/db", "mysql://[::1]:x/db"}) {
    absl::StatusOr<Dsn> d = ParseDsn(uri);
    EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument) << uri;
  }
  EXPECT_TRUE(ParseDsn("mysql://h:65535/db").ok());
  // With host, user and password from an option file.
  absl::StatusOr<Dsn> bare = ParseDsn("mysql:///app");
  ASSERT_TRUE(bare.ok()) << bare.status();
  EXPECT_EQ(bare->host, "");
  EXPECT_EQ(bare->user, "");
  EXPECT_EQ(bare->database, "app");
}

TEST(ParseDsnTest, MysqlSpacesAndControlCharactersMustBeEncoded) {
  // RedactDsn ends a DSN at whitespace, so a raw one in a password would
  // leave the rest of it printable (found by tests/fuzz/fuzz_dsn.cc).
  for (const char* uri : {"mysql://u:pa ss@h/db", "mysql://u:pa\rss@h/db",
                          "mysql://u:pa\x01ss@h/db", "mysql://u@h/d b"}) {
    absl::StatusOr<Dsn> d = ParseDsn(uri);
    ASSERT_FALSE(d.ok()) << uri;
    EXPECT_THAT(d.status().message(), HasSubstr("percent-encode"));
    EXPECT_THAT(d.status().message(), Not(HasSubstr("ss")));
  }
  EXPECT_TRUE(ParseDsn("  mysql://u:pa%20ss@h/db\n").ok());
}

TEST(ParseDsnTest, ErrorsNeverEchoThePassword) {
  // Unencoded reserved characters in a password make the URI malformed; the
  // error must still not show any of it.
  for (const char* uri :
       {"mysql://u:s3cr3t?x@h/db", "mysql://u:s3cr3t/x@h/db",
        "mysql://u:%zzs3cr3t@h/db", "mysql://u:s3cr3t@h:99999/db",
        "mysql://u:s3cr3t@h:3306", "mysql://u:s3cr3t@[::1/db"}) {
    absl::StatusOr<Dsn> d = ParseDsn(uri);
    ASSERT_FALSE(d.ok()) << uri;
    EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument) << uri;
    EXPECT_THAT(d.status().message(), Not(HasSubstr("s3cr3t"))) << uri;
    EXPECT_THAT(d.status().message(), Not(HasSubstr("s3cr"))) << uri;
  }
}

TEST(RedactTest, RedactedUriHidesPassword) {
  absl::StatusOr<Dsn> d = ParseDsn(
      "postgresql://app:s3cr3t@h:5432/db?sslmode=require&password=s3cr3t");
  ASSERT_TRUE(d.ok());
  const std::string redacted = d->ToRedactedUri();
  EXPECT_THAT(redacted, Not(HasSubstr("s3cr3t")));
  EXPECT_EQ(redacted,
            "postgresql://app:***@h:5432/db?sslmode=require&password=***");
  absl::StatusOr<Dsn> kv = ParseDsn("host=h password=s3cr3t dbname=d");
  ASSERT_TRUE(kv.ok());
  EXPECT_EQ(kv->ToRedactedUri(), "host=h password=*** dbname=d");
  EXPECT_THAT(d->ToUri(), HasSubstr("s3cr3t"));  // the driver's form keeps it

  absl::StatusOr<Dsn> mysql = ParseDsn("mysql://root:s3cr3t@h/app");
  ASSERT_TRUE(mysql.ok());
  EXPECT_EQ(mysql->ToRedactedUri(), "mysql://root:***@h/app");
}

TEST(RedactTest, RedactDsnOnUris) {
  EXPECT_EQ(RedactDsn("postgresql://app:s3cr3t@h:5432/db"),
            "postgresql://app:***@h:5432/db");
  EXPECT_EQ(RedactDsn("--dsn=mysql://root:s3cr3t@h/app"),
            "--dsn=mysql://root:***@h/app");
  EXPECT_EQ(RedactDsn("a postgresql://u:s3cr3t@h/db and mysql://r:s3cr3t@h/x"),
            "a postgresql://u:***@h/db and mysql://r:***@h/x");
  // Nothing to hide: unchanged.
  EXPECT_EQ(RedactDsn("postgresql://u@h:5432/db"), "postgresql://u@h:5432/db");
  EXPECT_EQ(RedactDsn("postgresql://[::1]:5432/db"),
            "postgresql://[::1]:5432/db");
  EXPECT_EQ(RedactDsn("--table=repo"), "--table=repo");
  // Several hosts (libpq's multi-host URI).
  EXPECT_EQ(RedactDsn("postgresql://app:s3cr3t@10.0.0.1:5432,10.0.0.2:5432/"
                      "prod?target_session_attrs=read-write"),
            "postgresql://app:***@10.0.0.1:5432,10.0.0.2:5432/"
            "prod?target_session_attrs=read-write");
  EXPECT_EQ(RedactDsn("postgresql://u@h1,h2/db"), "postgresql://u@h1,h2/db");
}

TEST(RedactTest, UnencodedReservedCharactersInThePasswordStayHidden) {
  // libpq reads these differently from what the user meant; whatever it
  // makes of them, no part of the password may show.
  for (const char* uri :
       {"postgresql://u:se@cr3t@h/db", "postgresql://u:s3/cr3t@h/db",
        "postgresql://u:s3?cr3t@h/db", "postgresql://u:s3:cr3t@h/db",
        "mysql://u:s3/c@r3t@h/db"}) {
    const std::string out = RedactDsn(uri);
    for (const char* part : {"se", "cr3t", "s3"}) {
      EXPECT_THAT(out.substr(out.find("://") + 3), Not(HasSubstr(part)))
          << uri << " -> " << out;
    }
    EXPECT_THAT(out, HasSubstr("u:***@")) << uri;
  }
}

TEST(RedactTest, RedactDsnOnConninfoAndQuery) {
  for (const char* text :
       {"host=h password=s3cr3t dbname=d", "host=h PASSWORD=s3cr3t",
        "postgresql://h/db?sslmode=require&password=s3cr3t&x=1",
        "connection failed: password=s3cr3t\nmore",
        "host=h password = s3cr3t dbname=d",
        "host=h password='s3cr3t' dbname=d",
        "host=h password='has s3cr3t space' dbname=d",
        "host=h password='it\\'s s3cr3t' dbname=d"}) {
    const std::string out = RedactDsn(text);
    EXPECT_THAT(out, Not(HasSubstr("s3cr3t"))) << text;
    EXPECT_THAT(out, HasSubstr("***")) << text;
  }
  EXPECT_EQ(RedactDsn("host=h password=s3cr3t dbname=d"),
            "host=h password=*** dbname=d");
  EXPECT_EQ(RedactDsn("host=h password='a b' dbname=d"),
            "host=h password=*** dbname=d");
}

TEST(RedactTest, ScrubSecret) {
  EXPECT_EQ(ScrubSecret("auth failed for s3cr3t (s3cr3t)", "s3cr3t"),
            "auth failed for *** (***)");
  EXPECT_EQ(ScrubSecret("nothing here", "s3cr3t"), "nothing here");
  EXPECT_EQ(ScrubSecret("empty secret", ""), "empty secret");
}

}  // namespace
}  // namespace backfill
