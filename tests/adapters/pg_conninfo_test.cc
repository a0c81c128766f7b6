#include "backfill/adapters/postgres/pg_conninfo.h"

#include <cstdlib>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace backfill::pg {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(ConninfoTest, EveryLibpqFormParses) {
  absl::StatusOr<Conninfo> uri = Conninfo::Parse(
      "postgresql://app:s3cr3t@10.0.0.1:5432,10.0.0.2:6432/prod?target_"
      "session_attrs=read-write&sslmode=require");
  ASSERT_TRUE(uri.ok()) << uri.status();
  EXPECT_EQ(*uri->Find("host"), "10.0.0.1,10.0.0.2");
  EXPECT_EQ(*uri->Find("port"), "5432,6432");
  EXPECT_EQ(*uri->Find("password"), "s3cr3t");
  EXPECT_EQ(*uri->Find("target_session_attrs"), "read-write");
  EXPECT_EQ(uri->Label(), "10.0.0.1:5432,10.0.0.2:6432");

  absl::StatusOr<Conninfo> kv =
      Conninfo::Parse("host=db port=5433 dbname=prod password='it''s x'");
  ASSERT_FALSE(kv.ok());  // libpq quotes with backslashes, not doubling
  kv = Conninfo::Parse("host=db port=5433 dbname=prod password='it\\'s x'");
  ASSERT_TRUE(kv.ok()) << kv.status();
  EXPECT_EQ(*kv->Find("password"), "it's x");
  EXPECT_EQ(kv->Label(), "db:5433");
  // Round trip through the key/value form handed to libpq.
  absl::StatusOr<Conninfo> again = Conninfo::Parse(kv->ToString());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again->Find("password"), "it's x");

  absl::StatusOr<Conninfo> service = Conninfo::Parse("service=prod");
  ASSERT_TRUE(service.ok());
  EXPECT_EQ(service->Label(), "service=prod");
  EXPECT_EQ(service->Find("host"), nullptr);
}

TEST(ConninfoTest, MalformedStringsNeverShowThePassword) {
  for (const char* text :
       {"host=h password=s3cr3tpw dbname", "postgresql://u:s3cr3tpw/x@h/db",
        "postgresql://u:s3cr@3tpw@h/db", "postgresql://u:s3cr3tpw@h/db?bogus=1",
        "host=h password='s3cr3tpw", "postgresql://u:s3cr3tpw@[::1/db"}) {
    absl::StatusOr<Conninfo> c = Conninfo::Parse(text);
    ASSERT_FALSE(c.ok()) << text;
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(c.status().message(), HasSubstr("bad `dsn`")) << text;
    for (const char* piece : {"s3cr", "3tpw", "x@h"}) {
      EXPECT_THAT(c.status().message(), Not(HasSubstr(piece)))
          << text << " -> " << c.status().message();
    }
  }
}

TEST(ConnectTargetTest, BackfillsChoicesComeAfterTheUsers) {
  unsetenv("PGCONNECT_TIMEOUT");
  ConnectOptions o;
  o.dsn = "postgresql://app:own@h/db?application_name=mine";
  o.default_password = "from-file";
  absl::StatusOr<ConnectTarget> t = BuildConnectTarget(o, "backfill", 10);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->secret, "own");  // the DSN's own password first
  EXPECT_THAT(t->conninfo, HasSubstr("connect_timeout='10'"));
  EXPECT_THAT(t->conninfo, HasSubstr("fallback_application_name='backfill'"));
  EXPECT_THAT(t->conninfo, HasSubstr("application_name='mine'"));

  o.password = "override";  // --password-file
  t = BuildConnectTarget(o, "backfill", 10);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->secret, "override");
  EXPECT_THAT(t->conninfo, Not(HasSubstr("'own'")));

  ConnectOptions timeout;
  timeout.dsn = "host=h connect_timeout=3";
  t = BuildConnectTarget(timeout, "backfill-pacer", 2);
  ASSERT_TRUE(t.ok());
  EXPECT_THAT(t->conninfo, HasSubstr("connect_timeout='3'"));
  EXPECT_THAT(t->conninfo, Not(HasSubstr("connect_timeout='2'")));

  EXPECT_THAT(t->conninfo, HasSubstr("keepalives_idle='10'"));
  EXPECT_THAT(t->conninfo, HasSubstr("keepalives_count='3'"));
  ConnectOptions keepalives;
  keepalives.dsn = "host=h keepalives_idle=60";
  t = BuildConnectTarget(keepalives, "backfill", 10);
  ASSERT_TRUE(t.ok());
  EXPECT_THAT(t->conninfo, HasSubstr("keepalives_idle='60'"));
  EXPECT_THAT(t->conninfo, Not(HasSubstr("keepalives_count")));

  ConnectOptions mysql_file;
  mysql_file.dsn = "host=h";
  mysql_file.defaults_file = "/etc/my.cnf";
  EXPECT_EQ(BuildConnectTarget(mysql_file, "backfill", 10).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace backfill::pg
