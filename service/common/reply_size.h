// Upper bounds of the bytes rows and admin records take in a reply, in
// protobuf's wire format, as api/convert renders them (a datagate.v1.Row
// holding a Struct of values; integers beyond 2^53 as decimal strings, blobs
// as base64). The gateway checks these bounds before a write commits, so that
// every accepted write can be answered and every stored row read back, and
// sizes admin listings (plans, status pages, tenant pages) to fit a message.
// tests/unit/reply_size_test checks them against the real messages.
#ifndef DATAGATE_COMMON_REPLY_SIZE_H_
#define DATAGATE_COMMON_REPLY_SIZE_H_

#include <cstdint>

#include "absl/strings/string_view.h"
#include "common/value.h"

namespace datagate {

// A length-delimited field with a body of `body` bytes: tag, length, body.
inline int64_t FieldBytes(int64_t body) { return 1 + 5 + body; }

// The body of the google.protobuf.Value holding `v`.
int64_t ValueReplyBytes(const Value& v);

// The body of the datagate.v1.Row holding `row` (the whole message of a
// GetRow or CreateRow reply).
int64_t RowReplyBytes(const StoredRow& row);

// ---- Admin replies (datagate.v1 migration and tenant messages) ----

// Room kept in a listing reply for its fields beside the listed items: a
// page token for a tenant id (next_page_token) or the omitted counts of a
// plan. A listing's byte budget is the message limit less this.
inline constexpr int64_t kListReplyReserve = 512;

// The longest error text a listing carries per item (a plan's per-target
// errors, a target's status error); longer ones are cut on a character
// boundary. Small enough that the first item of any listing fits the
// smallest message limit (8192 bytes).
inline constexpr size_t kMaxListedErrorBytes = 1024;

// The body of a datagate.v1.MigrationStep on `target` of migration `name`.
int64_t MigrationStepReplyBytes(absl::string_view target, absl::string_view name);

// The body of a datagate.v1.AppliedMigration recorded as `name`, `checksum`.
int64_t AppliedMigrationReplyBytes(absl::string_view name, absl::string_view checksum);

// The body of a datagate.v1.TargetStatus: `applied_bytes` is the sum of
// FieldBytes(AppliedMigrationReplyBytes(...)) over its applied migrations,
// `pending` the number of pending versions.
int64_t TargetStatusReplyBytes(absl::string_view target, absl::string_view error, int64_t applied_bytes,
                               int64_t pending);

// The body of a datagate.v1.Migration (a ListMigrations entry).
int64_t MigrationFileReplyBytes(absl::string_view name, absl::string_view checksum);

// The body of a datagate.v1.Tenant.
int64_t TenantReplyBytes(absl::string_view id, absl::string_view display_name);

}  // namespace datagate

#endif  // DATAGATE_COMMON_REPLY_SIZE_H_
