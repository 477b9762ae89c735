// common/reply_size bounds the bytes the API's real messages take; the
// gateway relies on them to refuse, before commit, what it could not send.
#include "common/reply_size.h"

#include <random>

#include "api/convert.h"
#include "gtest/gtest.h"

namespace datagate {
namespace {

Value RandomValue(std::mt19937_64& rng) {
  switch (rng() % 8) {
    case 0:
      return Value{};
    case 1:
      return Value{static_cast<int64_t>(rng())};  // often beyond 2^53: a decimal string
    case 2:
      return Value{static_cast<int64_t>(rng() % 1000) - 500};
    case 3:
      return Value{static_cast<double>(rng()) / 7.0};
    case 4:
      return Value{std::string(rng() % 300, 'x')};
    case 5:
      return Value{Blob{std::string(rng() % 300, '\xff')}};
    case 6:
      return Value{rng() % 2 == 0};
    default:
      return Value{std::string(rng() % 70000, 'y')};  // a length needing a 3-byte varint
  }
}

TEST(ReplySize, BoundsTheRowMessageTightly) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 2000; ++i) {
    StoredRow row;
    row.table = std::string(1 + rng() % 40, 't');
    const int fields = static_cast<int>(rng() % 12);
    for (int f = 0; f < fields; ++f) row.fields.push_back(Field{"c" + std::to_string(f), RandomValue(rng)});
    row.version = static_cast<int64_t>(rng() % 1000000) + 1;
    row.create_time_us = static_cast<int64_t>(rng() % 4000000000000000);
    row.update_time_us = row.create_time_us + 1;
    v1::Row proto;
    api::ToProto(row, &proto);
    const int64_t actual = static_cast<int64_t>(proto.ByteSizeLong());
    const int64_t bound = RowReplyBytes(row);
    ASSERT_LE(actual, bound) << "row " << i;
    // Tight enough to be useful: a few dozen bytes per field at most.
    EXPECT_LE(bound - actual, 64 + 24 * fields) << "row " << i;
  }
}

}  // namespace
}  // namespace datagate
