// datagate_call's JSON reader and writer, and its Go-compatible number and
// time formatting.
#include "json.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto_time.h"

namespace datagate::call {
namespace {

using ::testing::HasSubstr;

std::string StringOf(absl::string_view json) {
  absl::StatusOr<Json> v = ParseJson(json);
  EXPECT_TRUE(v.ok()) << v.status() << " in " << json;
  if (!v.ok()) return "";
  EXPECT_EQ(v->kind, Json::Kind::kString);
  return v->text;
}

absl::Status ErrorOf(absl::string_view json) {
  absl::StatusOr<std::vector<Json>> v = ParseJsonStream(json);
  return v.ok() ? absl::OkStatus() : v.status();
}

TEST(JsonTest, ReadsEveryEscape) {
  EXPECT_EQ(StringOf(R"("\"\\\/\b\f\n\r\t")"), "\"\\/\b\f\n\r\t");
  EXPECT_EQ(StringOf(R"("caf\u00e9 \u00E9")"), "caf\xC3\xA9 \xC3\xA9");
  EXPECT_EQ(StringOf(R"("\u20ac")"), "\xE2\x82\xAC");
}

TEST(JsonTest, JoinsSurrogatePairsAndReplacesLoneSurrogates) {
  EXPECT_EQ(StringOf(R"("\ud83d\ude00")"), "\xF0\x9F\x98\x80");  // U+1F600
  EXPECT_EQ(StringOf(R"("\ud83d")"), "\xEF\xBF\xBD");            // lone high -> U+FFFD
  EXPECT_EQ(StringOf(R"("\ude00x")"), "\xEF\xBF\xBDx");          // lone low
  EXPECT_EQ(StringOf(R"("\ud83d\u0041")"),
            "\xEF\xBF\xBD"
            "A");  // high, then not a low one
  EXPECT_EQ(StringOf(R"("\ud83dA")"),
            "\xEF\xBF\xBD"
            "A");
}

TEST(JsonTest, ReplacesInvalidUtf8AndKeepsValidUtf8) {
  EXPECT_EQ(StringOf("\"a\xFF"
                     "b\""),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(StringOf("\"\xC0\xAF\""), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong
  EXPECT_EQ(StringOf("\"\xF0\x9F\x98\x80\""), "\xF0\x9F\x98\x80");
}

TEST(JsonTest, RefusesBrokenStrings) {
  EXPECT_THAT(ErrorOf("\"a\nb\"").message(), HasSubstr("in string literal"));
  EXPECT_THAT(ErrorOf(R"("\x")").message(), HasSubstr("in string escape code"));
  EXPECT_THAT(ErrorOf(R"("\u12g4")").message(), HasSubstr("hexadecimal character escape"));
  EXPECT_THAT(ErrorOf(R"("abc)").message(), HasSubstr("unexpected end of JSON input"));
}

TEST(JsonTest, NumbersKeepTheirLiteralAndFollowTheGrammar) {
  absl::StatusOr<Json> big = ParseJson("12345678901234567890");
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->kind, Json::Kind::kNumber);
  EXPECT_EQ(big->text, "12345678901234567890");
  for (const char* ok : {"0", "-0", "1.5", "1e5", "1.5E-3", "-12e+2"}) EXPECT_TRUE(ParseJson(ok).ok()) << ok;
  for (const char* bad : {"01", "1.", ".5", "+1", "-", "1e", "1e+", "0x10", "NaN", "Infinity"}) {
    EXPECT_FALSE(ParseJson(bad).ok()) << bad;
  }
}

TEST(JsonTest, ReadsAStreamOfValuesAsGosDecoderDoes) {
  absl::StatusOr<std::vector<Json>> two = ParseJsonStream(" {\"a\": 1}\n{\"b\": [true, null]} ");
  ASSERT_TRUE(two.ok()) << two.status();
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[1].members[0].second.items[0].kind, Json::Kind::kBool);
  EXPECT_TRUE(ParseJsonStream("  ")->empty());
  EXPECT_THAT(ErrorOf("{\"a\": 1} x").message(), HasSubstr("invalid character 'x' looking for beginning of value"));
  EXPECT_THAT(ErrorOf("{a: 1}").message(), HasSubstr("looking for beginning of object key string"));
  EXPECT_THAT(ErrorOf("[1 2]").message(), HasSubstr("after array element"));
  EXPECT_FALSE(ParseJson(std::string(10000, '[') + std::string(10000, ']')).ok());
}

TEST(JsonTest, QuotesAsGosEncodingJson) {
  EXPECT_EQ(QuoteJson("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(QuoteJson("\n\r\t\x01\x1f"), R"("\n\r\t\u0001\u001f")");
  EXPECT_EQ(QuoteJson("<a href='x'>&</a>"), R"("\u003ca href='x'\u003e\u0026\u003c/a\u003e")");
  EXPECT_EQ(QuoteJson("\xE2\x80\xA8\xE2\x80\xA9"), R"("\u2028\u2029")");
  EXPECT_EQ(QuoteJson("caf\xC3\xA9 \xF0\x9F\x98\x80"), "\"caf\xC3\xA9 \xF0\x9F\x98\x80\"");
  EXPECT_EQ(QuoteJson("bad\xFF"), R"("bad\ufffd")");
  EXPECT_EQ(QuoteJson("/"), R"("/")");
}

TEST(JsonTest, IndentsAsGosJsonIndent) {
  absl::StatusOr<Json> v = ParseJson(R"({"a":[1,{"b":{}},[]],"c":"d","e":{"f":null}})");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(WriteJson(*v, true), R"({
  "a": [
    1,
    {
      "b": {}
    },
    []
  ],
  "c": "d",
  "e": {
    "f": null
  }
})");
  EXPECT_EQ(WriteJson(*v, false), R"({"a":[1,{"b":{}},[]],"c":"d","e":{"f":null}})");
  EXPECT_EQ(WriteJson(Json::Object(), true), "{}");
}

TEST(JsonTest, FormatsFloatsAsGosPercentG) {
  EXPECT_EQ(FormatFloatG(0, 64), "0");
  EXPECT_EQ(FormatFloatG(0.03, 64), "0.03");
  EXPECT_EQ(FormatFloatG(1.5, 64), "1.5");
  EXPECT_EQ(FormatFloatG(100, 64), "100");
  EXPECT_EQ(FormatFloatG(123456, 64), "123456");
  EXPECT_EQ(FormatFloatG(1e6, 64), "1e+06");
  EXPECT_EQ(FormatFloatG(1234567, 64), "1.234567e+06");
  EXPECT_EQ(FormatFloatG(0.0001, 64), "0.0001");
  EXPECT_EQ(FormatFloatG(0.00001, 64), "1e-05");
  EXPECT_EQ(FormatFloatG(-2.5e-10, 64), "-2.5e-10");
  EXPECT_EQ(FormatFloatG(1e100, 64), "1e+100");
  EXPECT_EQ(FormatFloatG(0.1, 64), "0.1");
  EXPECT_EQ(FormatFloatG(0.1f, 32), "0.1");  // shortest for a float, not a double
  EXPECT_EQ(FormatFloatG(0.1f, 64), "0.10000000149011612");
}

TEST(JsonTest, FormatsFloatsAsGosEncodingJson) {
  EXPECT_EQ(FormatFloatJson(0, 64), "0");
  EXPECT_EQ(FormatFloatJson(0.03, 64), "0.03");
  EXPECT_EQ(FormatFloatJson(2500, 64), "2500");
  EXPECT_EQ(FormatFloatJson(-0.5, 64), "-0.5");
  EXPECT_EQ(FormatFloatJson(1e6, 64), "1000000");
  EXPECT_EQ(FormatFloatJson(1e20, 64), "100000000000000000000");
  EXPECT_EQ(FormatFloatJson(1e21, 64), "1e+21");
  EXPECT_EQ(FormatFloatJson(0.000001, 64), "0.000001");
  EXPECT_EQ(FormatFloatJson(1e-7, 64), "1e-7");
  EXPECT_EQ(FormatFloatJson(1.5e-10, 64), "1.5e-10");
  EXPECT_EQ(FormatFloatJson(9007199254740993.0, 64), "9007199254740992");
}

TEST(ProtoTimeTest, FormatsTimestampsWithZeroThreeSixOrNineDigits) {
  EXPECT_EQ(*FormatTimestamp({0, 0}), "1970-01-01T00:00:00Z");
  EXPECT_EQ(*FormatTimestamp({1795550948, 193768000}), "2026-11-24T20:09:08.193768Z");
  EXPECT_EQ(*FormatTimestamp({1795550948, 500000000}), "2026-11-24T20:09:08.500Z");
  EXPECT_EQ(*FormatTimestamp({1795550948, 123000}), "2026-11-24T20:09:08.000123Z");
  EXPECT_EQ(*FormatTimestamp({1795550948, 1}), "2026-11-24T20:09:08.000000001Z");
  EXPECT_EQ(*FormatTimestamp({-62135596800, 0}), "0001-01-01T00:00:00Z");
  EXPECT_EQ(*FormatTimestamp({253402300799, 999999999}), "9999-12-31T23:59:59.999999999Z");
  EXPECT_FALSE(FormatTimestamp({253402300800, 0}).ok());
  EXPECT_FALSE(FormatTimestamp({-62135596801, 0}).ok());
  EXPECT_FALSE(FormatTimestamp({0, 1000000000}).ok());
  EXPECT_FALSE(FormatTimestamp({0, -1}).ok());
}

TEST(ProtoTimeTest, ParsesRfc3339Timestamps) {
  absl::StatusOr<SecondsNanos> t = ParseTimestamp("2026-11-24T20:09:08.193768Z");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->seconds, 1795550948);
  EXPECT_EQ(t->nanos, 193768000);
  t = ParseTimestamp("2026-11-24T21:39:08.5+01:30");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->seconds, 1795550948);
  EXPECT_EQ(t->nanos, 500000000);
  for (const char* bad : {"2026-11-24", "2026-11-24T20:09:08", "2026-02-30T00:00:00Z", "2026-11-24T24:00:00Z",
                          "2026-11-24T20:09:08.1234567891Z", "2026-11-24T20:09:08.Z", "2026-11-24 20:09:08Z",
                          "10000-01-01T00:00:00Z", "2026-11-24T20:09:08Zx"}) {
    EXPECT_FALSE(ParseTimestamp(bad).ok()) << bad;
  }
}

TEST(ProtoTimeTest, FormatsAndParsesDurations) {
  EXPECT_EQ(*FormatDuration({3, 0}), "3s");
  EXPECT_EQ(*FormatDuration({1, 500000000}), "1.500s");
  EXPECT_EQ(*FormatDuration({0, -1000}), "-0.000001s");
  EXPECT_EQ(*FormatDuration({-2, -5}), "-2.000000005s");
  EXPECT_FALSE(FormatDuration({1, -1}).ok());
  absl::StatusOr<SecondsNanos> d = ParseDuration("-1.25s");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->seconds, -1);
  EXPECT_EQ(d->nanos, -250000000);
  for (const char* bad : {"1", "s", "1.s", "+1s", "1.0000000001s", "1m"}) EXPECT_FALSE(ParseDuration(bad).ok()) << bad;
}

}  // namespace
}  // namespace datagate::call
