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
