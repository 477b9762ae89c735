#include "common/reply_size.h"

namespace datagate {
namespace {
constexpr int64_t kVarint64 = 1 + 10;                  // tag and the longest varint
constexpr int64_t kTimestamp = 1 + 5 + 2 * kVarint64;  // seconds and nanos
constexpr int64_t kMaxExactInteger = int64_t{1} << 53;
}  // namespace

int64_t ValueReplyBytes(const Value& v) {
  if (const auto* n = std::get_if<int64_t>(&v)) {
    // From 2^53 on an integer is sent as a decimal string (at most 20 chars).
    return (*n >= kMaxExactInteger || *n <= -kMaxExactInteger) ? FieldBytes(20) : 1 + 8;
  }
  if (const auto* s = std::get_if<std::string>(&v)) return FieldBytes(static_cast<int64_t>(s->size()));
  if (const auto* b = std::get_if<Blob>(&v)) return FieldBytes((static_cast<int64_t>(b->bytes.size()) + 2) / 3 * 4);
  if (std::holds_alternative<double>(v)) return 1 + 8;
  return 1 + 1;  // null (an enum) or bool
}

int64_t RowReplyBytes(const StoredRow& row) {
  int64_t fields = 0;
  for (const Field& f : row.fields) {
    const int64_t entry = FieldBytes(static_cast<int64_t>(f.column.size())) + FieldBytes(ValueReplyBytes(f.value));
    fields += FieldBytes(entry);
  }
  return FieldBytes(static_cast<int64_t>(row.table.size())) + FieldBytes(fields) + kVarint64 + 2 * kTimestamp;
}

}  // namespace datagate
