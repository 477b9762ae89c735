// Row operations: requests (plain structs) are checked against the catalog
// the store runs them against, values are coerced to column types, and
// sizes are checked so that every accepted write can be answered and every
// row read back. No protos here.
#ifndef DATAGATE_CORE_DATA_H_
#define DATAGATE_CORE_DATA_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/value.h"
#include "store/store.h"

namespace datagate::core {

inline constexpr int kDefaultPageSize = 50;
inline constexpr int kMaxPageSize = 1000;
inline constexpr int kMaxBatchOperations = 1000;
inline constexpr int kMaxInValues = 1000;
inline constexpr int kMaxOrderTerms = 8;
inline constexpr int kMaxFilters = 64;
inline constexpr size_t kMaxLikePattern = 1000;
inline constexpr size_t kMaxRequestIdLength = 128;

// Room kept in every reply beside the rows (a page token's framing, the
// total, a batch's framing).
inline constexpr int64_t kReplyReserve = 64 << 10;

// Reply sizes, in protobuf bytes as common/reply_size.h bounds them.
struct Limits {
  // The largest message the gateway sends (the gRPC send limit).
  int64_t max_reply_bytes = 4 << 20;
  // The largest row a write may leave behind, as a reply carries it. At
  // most max_reply_bytes - kReplyReserve, so every stored row can be read.
  int64_t max_row_bytes = (4 << 20) - kReplyReserve;
  // How long the cloud part of a CLOUD read or CLOUD_ONLY write that set no
  // deadline may take (none waits for the cloud forever).
  absl::Duration cloud_without_deadline = absl::Seconds(30);
};

struct GetSpec {
  absl::Time deadline = absl::InfiniteFuture();
  std::string table;
  std::vector<Field> key;
  std::vector<std::string> columns;  // empty: all
};

struct FilterSpec {
  std::string column;
  std::optional<store::FilterOp> op;  // nullopt: not given
  std::optional<Value> value;         // for comparisons and LIKE
  std::vector<Value> values;          // for IN
};

struct ListSpec {
  absl::Time deadline = absl::InfiniteFuture();
  std::string table;
  std::vector<FilterSpec> filters;
  std::vector<store::Order> order;
  int page_size = 0;  // 0: default
  std::string page_token;
  std::vector<std::string> columns;
  bool include_total = false;
  // Mixed into page tokens, so a token from one source (the local or the
  // cloud store) is refused by the other.
  std::string token_scope;
};

struct ListPage {
  std::vector<StoredRow> rows;
  std::string next_page_token;
  int64_t total = 0;
};

struct WriteSpec {
  store::WriteKind kind = store::WriteKind::kInsert;
  std::string table;
  std::vector<Field> fields;      // the row (or key, for deletes)
  std::vector<std::string> mask;  // updates only; empty: every given non-key field
  int64_t expected_version = 0;
};

struct WriteRequest {
  std::vector<WriteSpec> specs;
  std::string request_id;   // empty: not idempotent
  std::string fingerprint;  // the request's method and content, for request_id
  absl::Time deadline = absl::InfiniteFuture();
  // Queue the rows for the cloud in the same transaction (LOCAL_FIRST,
  // WRITE_THROUGH); `enqueued` receives the outbox seqs (store::WriteOptions:
  // the ops' first, then those of rows their triggers and foreign-key
  // actions changed).
  bool enqueue = false;
  std::vector<int64_t>* enqueued = nullptr;
};

// Reads one row. NOT_FOUND if absent; INVALID_ARGUMENT for unknown names or
// an incomplete key; RESOURCE_EXHAUSTED if the row is too large to send.
absl::StatusOr<StoredRow> GetRow(store::Database& db, const GetSpec& spec, const Limits& limits);

// Lists one page, never larger than a reply may be. The next page's token
// is short: a cursor whose inline token would be longer than
// kMaxInlinePageTokenSize (a huge key or sort value) is saved in `db`
// (Database::SaveCursor, a write with the spec's deadline) and the token
// refers to it. INVALID_ARGUMENT for bad filters, order or token, and for a
// token whose saved cursor has expired, was dropped or belongs to another
// database; RESOURCE_EXHAUSTED for page_size above kMaxPageSize, or when one
// row alone is too large to send.
absl::StatusOr<ListPage> ListRows(store::Database& db, const ListSpec& spec, const Limits& limits);

// Validates every write, then runs them in one transaction (all or nothing).
// Before the commit, each resulting row must fit max_row_bytes and the whole
// answer max_reply_bytes (RESOURCE_EXHAUSTED, nothing written). Errors in a
// batch name the operation: "operations[i]: ...". Past the deadline nothing
// is written (DEADLINE_EXCEEDED).
absl::StatusOr<std::vector<StoredRow>> Write(store::Database& db, const WriteRequest& request, const Limits& limits);

// INVALID_ARGUMENT unless `id` is empty or a usable idempotency key.
absl::Status ValidateRequestId(absl::string_view id);

}  // namespace datagate::core

#endif  // DATAGATE_CORE_DATA_H_
