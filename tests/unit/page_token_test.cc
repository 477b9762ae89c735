#include "common/page_token.h"

#include "gtest/gtest.h"

namespace datagate {
namespace {

TEST(PageToken, RoundTrips) {
  const std::vector<Value> cursor{Value{std::string("x")}, Value{}, Value{int64_t{9}}};
  const std::string token = EncodePageToken(77, cursor);
  auto decoded = DecodePageToken(token, 77);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, cursor);
}

TEST(PageToken, RefusesOtherQueriesAndGarbage) {
  const std::string token = EncodePageToken(77, {Value{int64_t{1}}});
  EXPECT_EQ(DecodePageToken(token, 78).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodePageToken("!!!", 77).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodePageToken("AAAA", 77).status().code(), absl::StatusCode::kInvalidArgument);
  std::string corrupt = token;
  corrupt.back() = corrupt.back() == 'A' ? 'B' : 'A';
  EXPECT_FALSE(DecodePageToken(corrupt.substr(0, corrupt.size() - 2), 77).ok());
}

}  // namespace
}  // namespace datagate

namespace datagate {
namespace {

TEST(IdPageToken, RoundTripsAndRefusesOtherLists) {
  const std::string token = EncodeIdPageToken(5, "acme");
  EXPECT_EQ(*DecodeIdPageToken(token, 5), "acme");
  EXPECT_EQ(DecodeIdPageToken(token, 6).status().code(), absl::StatusCode::kInvalidArgument);
  // A cursor of another shape (two values) does not fit an id list.
  EXPECT_EQ(DecodeIdPageToken(EncodePageToken(5, {Value{std::string("a")}, Value{}}), 5).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace datagate

namespace datagate {
namespace {

TEST(StoredPageToken, RoundTripsWithAFixedShortLength) {
  const StoredCursorRef ref{int64_t{1} << 40, NewCursorSecret()};
  const std::string token = EncodeStoredPageToken(77, ref);
  EXPECT_EQ(static_cast<int64_t>(token.size()), kStoredPageTokenSize);
  auto parsed = ParsePageToken(token);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->fingerprint, 77u);
  EXPECT_TRUE(parsed->cursor.empty());
  ASSERT_TRUE(parsed->stored.has_value());
  EXPECT_EQ(parsed->stored->id, ref.id);
  EXPECT_EQ(parsed->stored->secret, ref.secret);
  // It holds no cursor, so the inline-only decoder refuses it.
  EXPECT_EQ(DecodePageToken(token, 77).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeIdPageToken(token, 77).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(StoredPageToken, ParsesInlineTokensAndRefusesCutOrPaddedOnes) {
  const std::vector<Value> cursor{Value{std::string("x")}, Value{int64_t{9}}};
  auto parsed = ParsePageToken(EncodePageToken(5, cursor));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->fingerprint, 5u);
  EXPECT_EQ(parsed->cursor, cursor);
  EXPECT_FALSE(parsed->stored.has_value());

  const std::string token = EncodeStoredPageToken(5, StoredCursorRef{3, NewCursorSecret()});
  EXPECT_EQ(ParsePageToken(token.substr(0, token.size() - 4)).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParsePageToken(token + "AAAA").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParsePageToken("!!!").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(StoredPageToken, CursorBytesCarryTheirQuery) {
  const std::vector<Value> cursor{Value{std::string(5000, 'k')}, Value{}};
  const std::string bytes = EncodeCursor(9, cursor);
  EXPECT_EQ(*DecodeCursor(bytes, 9), cursor);
  EXPECT_EQ(DecodeCursor(bytes, 10).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeCursor(bytes.substr(0, 20), 9).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_GT(PageTokenSize(cursor), kMaxInlinePageTokenSize);
}

TEST(StoredPageToken, SecretsAreFreshAndComparedWhole) {
  const std::string a = NewCursorSecret();
  const std::string b = NewCursorSecret();
  EXPECT_EQ(a.size(), kCursorSecretSize);
  EXPECT_NE(a, b);
  EXPECT_TRUE(SameSecret(a, a));
  EXPECT_FALSE(SameSecret(a, b));
  EXPECT_FALSE(SameSecret(a, a.substr(0, 8)));
  std::string flipped = a;
  flipped.back() ^= 1;
  EXPECT_FALSE(SameSecret(a, flipped));
}

}  // namespace
}  // namespace datagate
