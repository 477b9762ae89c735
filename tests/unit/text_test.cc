#include "common/text.h"

#include "common/errors.h"
#include "gtest/gtest.h"

namespace datagate {
namespace {

TEST(Text, ValidatesUtf8) {
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("caf\xc3\xa9 \xf0\x9f\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xc3"));              // truncated
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xff"));
}

TEST(Text, CutsOnCharacterBoundaries) {
  const std::string s = "a\xc3\xa9\xc3\xa9";  // a, é, é: 5 bytes
  EXPECT_EQ(Utf8Prefix(s, 2), "a");
  EXPECT_EQ(Utf8Prefix(s, 3), "a\xc3\xa9");
  EXPECT_EQ(Utf8Prefix(s, 100), s);
  EXPECT_EQ(SanitizeUtf8(s, 4), "a\xc3\xa9");
  EXPECT_EQ(SanitizeUtf8("ok\xff", 100), "ok\\xff");
  EXPECT_TRUE(IsValidUtf8(SanitizeUtf8(std::string(2000, '\xe9'), 1024)));
}

TEST(Text, EscapesWhatCouldInjectIntoLogsOrTerminals) {
  EXPECT_EQ(EscapeText("a\nb"), "a\\nb");
  EXPECT_EQ(EscapeText("\x1b[31mred"), "\\x1b[31mred");
  EXPECT_EQ(EscapeText("back\\slash"), "back\\\\slash");
  EXPECT_EQ(EscapeText("say \"hi\""), "say \\\"hi\\\"");                       // unambiguous inside "..."
  EXPECT_EQ(EscapeText("\xed\xa0\x80\xc0\xaf"), "\\xed\\xa0\\x80\\xc0\\xaf");  // surrogate, overlong
  EXPECT_EQ(EscapeText("\xe2\x80\xae"
                       "evil"),
            "\\u{202e}evil");  // right-to-left override
  EXPECT_EQ(EscapeText("bad\xff"), "bad\\xff");
  EXPECT_EQ(EscapeText("caf\xc3\xa9"), "caf\xc3\xa9");  // printable text stays as it is
  EXPECT_EQ(EscapeText(std::string(5, 'x'), 3), "xxx...");
  const std::string cut = EscapeText(std::string(300, '\xe9'), 100);
  EXPECT_TRUE(IsValidUtf8(cut));
}

TEST(Text, ErrorsEscapeCallerInput) {
  const absl::Status s = errors::UnknownTable("x\n[INFO] forged line\x1b[0m");
  EXPECT_EQ(s.message().find('\n'), absl::string_view::npos);
  EXPECT_EQ(s.message().find('\x1b'), absl::string_view::npos);
  EXPECT_NE(s.message().find("x\\n[INFO] forged line\\x1b[0m"), absl::string_view::npos);
}

}  // namespace
}  // namespace datagate

namespace datagate {
namespace {

TEST(Text, QuotesAndZeroWidthCharactersAreEscaped) {
  EXPECT_EQ(EscapeText("O'Brien"), "O\\'Brien");  // cannot end a '...' quote
  EXPECT_EQ(EscapeText("a\xe2\x80\x8b"
                       "b\xef\xbb\xbf"),
            "a\\u{200b}b\\u{feff}");  // zero-width space, byte-order mark
}

}  // namespace
}  // namespace datagate
