// Row operations: requests (plain structs) are checked against the live
// catalog, values are coerced to column types, and validated operations go
// to the store. No protos here.
#ifndef DATAGATE_CORE_DATA_H_
#define DATAGATE_CORE_DATA_H_

#include <cstdint>
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
  // A page ends early (with a token) past this many bytes of values, so the
  // response stays under the message limit.
  int64_t max_page_bytes = 2 << 20;
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

// Reads one row. NOT_FOUND if absent; INVALID_ARGUMENT for unknown names or
// an incomplete key.
absl::StatusOr<StoredRow> GetRow(store::Database& db, const GetSpec& spec);

// Lists one page. INVALID_ARGUMENT for bad filters, order or token;
// RESOURCE_EXHAUSTED for page_size above kMaxPageSize.
absl::StatusOr<ListPage> ListRows(store::Database& db, const ListSpec& spec);

// Validates every write, then runs them in one transaction (all or nothing).
// Errors in a batch name the operation: "operations[i]: ...".
// Past `deadline` nothing is written (DEADLINE_EXCEEDED).
absl::StatusOr<std::vector<StoredRow>> Write(store::Database& db, const std::vector<WriteSpec>& specs,
                                             const std::string& request_id, const std::string& fingerprint,
                                             absl::Time deadline = absl::InfiniteFuture());

// INVALID_ARGUMENT unless `id` is empty or a usable idempotency key.
absl::Status ValidateRequestId(absl::string_view id);

}  // namespace datagate::core

#endif  // DATAGATE_CORE_DATA_H_
