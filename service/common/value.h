// Plain row and value types shared by every layer below the API.
#ifndef DATAGATE_COMMON_VALUE_H_
#define DATAGATE_COMMON_VALUE_H_

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace datagate {

// Bytes of a BLOB column, kept apart from TEXT.
struct Blob {
  std::string bytes;
  friend bool operator==(const Blob&, const Blob&) = default;
};

// One SQL value. std::monostate is NULL.
using Value = std::variant<std::monostate, int64_t, double, std::string, Blob, bool>;

inline bool IsNull(const Value& v) { return std::holds_alternative<std::monostate>(v); }

// A column name with its value.
struct Field {
  std::string column;
  Value value;
  friend bool operator==(const Field&, const Field&) = default;
};

// A stored row: its fields plus the gateway's bookkeeping.
struct StoredRow {
  std::string table;
  std::vector<Field> fields;
  int64_t version = 0;
  int64_t create_time_us = 0;  // microseconds since the Unix epoch
  int64_t update_time_us = 0;
  friend bool operator==(const StoredRow&, const StoredRow&) = default;
};

// Compact, self-describing binary encoding of values and rows, used for page
// tokens and stored idempotent results. Decode returns INVALID_ARGUMENT on
// malformed input.
void EncodeValue(const Value& v, std::string* out);
absl::StatusOr<Value> DecodeValue(absl::string_view* in);
std::string EncodeRows(const std::vector<StoredRow>& rows);
absl::StatusOr<std::vector<StoredRow>> DecodeRows(absl::string_view in);

// A readable rendering of a value for error messages ("NULL", "42", "'abc'"):
// text is escaped (common/text.h EscapeText) and cut at 40 characters, so the
// result is safe to echo as it is.
std::string DebugString(const Value& v);
// "(id=42, name='x')", for error messages naming a key.
std::string DescribeFields(const std::vector<Field>& fields);

}  // namespace datagate

#endif  // DATAGATE_COMMON_VALUE_H_
