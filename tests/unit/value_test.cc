#include "common/value.h"

#include "gtest/gtest.h"

namespace datagate {
namespace {

TEST(ValueCodec, RowsRoundTripEveryKind) {
  std::vector<StoredRow> rows(2);
  rows[0] = StoredRow{"t",
                      {{"n", Value{}},
                       {"i", Value{int64_t{-1234567890123}}},
                       {"r", Value{2.5}},
                       {"s", Value{std::string("héllo\0x", 7)}},
                       {"b", Value{Blob{std::string("\0\1\2", 3)}}},
                       {"o", Value{true}}},
                      7,
                      100,
                      200};
  rows[1].table = "u";
  auto decoded = DecodeRows(EncodeRows(rows));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, rows);
}

TEST(ValueCodec, TruncatedOrTrailingInputIsRefused) {
  std::vector<StoredRow> rows(1);
  rows[0] = StoredRow{"t", {{"s", Value{std::string("abcdef")}}}, 1, 2, 3};
  const std::string enc = EncodeRows(rows);
  for (size_t cut = 0; cut < enc.size(); ++cut) {
    EXPECT_EQ(DecodeRows(enc.substr(0, cut)).status().code(), absl::StatusCode::kInvalidArgument) << cut;
  }
  EXPECT_EQ(DecodeRows(enc + "x").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ValueCodec, DebugStringIsReadable) {
  EXPECT_EQ(DebugString(Value{}), "NULL");
  EXPECT_EQ(DebugString(Value{int64_t{42}}), "42");
  EXPECT_EQ(DebugString(Value{std::string("ab")}), "'ab'");
  EXPECT_EQ(DebugString(Value{false}), "false");
}

}  // namespace
}  // namespace datagate
