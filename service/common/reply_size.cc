#include "common/reply_size.h"

namespace datagate {
namespace {
constexpr int64_t kVarint64 = 1 + 10;                  // tag and the longest varint
constexpr int64_t kTimestamp = 1 + 5 + 2 * kVarint64;  // seconds and nanos
constexpr int64_t kBool = 1 + 1;
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

int64_t MigrationStepReplyBytes(absl::string_view target, absl::string_view name) {
  // target, version, name, direction ("up" or "down"), done.
  return FieldBytes(static_cast<int64_t>(target.size())) + kVarint64 + FieldBytes(static_cast<int64_t>(name.size())) +
         FieldBytes(4) + kBool;
}

int64_t AppliedMigrationReplyBytes(absl::string_view name, absl::string_view checksum) {
  // version, name, checksum, apply_time, checksum_mismatch.
  return kVarint64 + FieldBytes(static_cast<int64_t>(name.size())) + FieldBytes(static_cast<int64_t>(checksum.size())) +
         kTimestamp + kBool;
}

int64_t TargetStatusReplyBytes(absl::string_view target, absl::string_view error, int64_t applied_bytes,
                               int64_t pending) {
  // target, current_version, latest_version, applied, pending (packed
  // varints), error.
  return FieldBytes(static_cast<int64_t>(target.size())) + 2 * kVarint64 + applied_bytes + FieldBytes(10 * pending) +
         FieldBytes(static_cast<int64_t>(error.size()));
}

int64_t MigrationFileReplyBytes(absl::string_view name, absl::string_view checksum) {
  // set, version, name, checksum, reversible.
  return 2 * kVarint64 + FieldBytes(static_cast<int64_t>(name.size())) +
         FieldBytes(static_cast<int64_t>(checksum.size())) + kBool;
}

int64_t TenantReplyBytes(absl::string_view id, absl::string_view display_name) {
  // tenant_id, display_name, create_time, schema_version.
  return FieldBytes(static_cast<int64_t>(id.size())) + FieldBytes(static_cast<int64_t>(display_name.size())) +
         kTimestamp + kVarint64;
}

}  // namespace datagate
