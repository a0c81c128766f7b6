#include "backfill/engine/key.h"

#include <string>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace backfill {
namespace {

Key RoundTrip(const Key& key) {
  absl::StatusOr<Key> decoded = DecodeKey(EncodeKey(key));
  EXPECT_TRUE(decoded.ok()) << decoded.status() << " for " << EncodeKey(key);
  return decoded.ok() ? *decoded : Key{"<decode failed>"};
}

TEST(KeyTest, EncodesAsJsonArrayOfStrings) {
  EXPECT_EQ(EncodeKey({"42"}), R"(["42"])");
  EXPECT_EQ(EncodeKey({"1", "b\"c"}), R"(["1","b\"c"])");
  EXPECT_EQ(EncodeKey({"a\\b"}), R"(["a\\b"])");
  EXPECT_EQ(EncodeKey({"x\ny\t\x01"}), R"(["x\ny\t\u0001"])");
  EXPECT_EQ(EncodeKey({}), "[]");
}

TEST(KeyTest, RoundTripsAwkwardValues) {
  const Key cases[] = {
      {"42"},
      {""},
      {"", ""},
      {"quote\"inside", "'single'"},
      {"back\\slash", "\\", "\\\""},
      {"line\nbreak\r\ttab\b\f"},
      {std::string("nul\0byte", 8), "\x01\x1f\x7f"},
      {"héllo wörld", "日本語", "😀"},
      {"2024-01-01 00:00:00+00", "550e8400-e29b-41d4-a716-446655440000"},
      {"[\"not\",\"nested\"]", ",", "]"},
  };
  for (const Key& key : cases) EXPECT_EQ(RoundTrip(key), key);
}

TEST(KeyTest, DecodesWhitespaceAndStandardEscapes) {
  absl::StatusOr<Key> k =
      DecodeKey(" [ \"a\" ,\n\"b\\/c\", \"\\u00e9\\u0041\" ] ");
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(*k, (Key{"a", "b/c",
                     "\xC3\xA9"
                     "A"}));
  absl::StatusOr<Key> euro = DecodeKey(R"(["\u20AC"])");
  ASSERT_TRUE(euro.ok());
  EXPECT_EQ(*euro, Key{"\xE2\x82\xAC"});
}

TEST(KeyTest, MalformedInputIsInvalidArgument) {
  const char* bad[] = {
      "",
      "42",
      "\"42\"",
      "[",
      "[\"a\"",
      "[\"a\",]",
      "[\"a\" \"b\"]",
      "[42]",
      "[null]",
      "[\"a\"] x",
      "[\"\\x\"]",
      "[\"\\u12\"]",
      "[\"\\uZZZZ\"]",
      "[\"abc",
      "{\"a\":\"b\"}",
      "[\"a\\",
  };
  for (const char* text : bad) {
    absl::StatusOr<Key> k = DecodeKey(text);
    EXPECT_EQ(k.status().code(), absl::StatusCode::kInvalidArgument)
        << "input: " << text;
  }
}

TEST(KeyTest, DisplayForm) {
  EXPECT_EQ(KeyToDisplay({"42"}), "42");
  EXPECT_EQ(KeyToDisplay({"a", "7"}), "(a, 7)");
}

}  // namespace
}  // namespace backfill
