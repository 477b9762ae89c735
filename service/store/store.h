// The storage interface: plain C++ types only (no protos, no gRPC). The
// SQLite store implements it now; the Postgres store will implement it too,
// and one conformance suite (tests/conformance) runs against every store.
#ifndef DATAGATE_STORE_STORE_H_
#define DATAGATE_STORE_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/value.h"

namespace datagate::store {

// A column's type as the gateway validates it (derived from the declared
// SQL type with SQLite's affinity rules, plus BOOLEAN).
enum class ColumnType { kInteger, kReal, kText, kBlob, kBoolean, kNumeric, kAny };
absl::string_view ColumnTypeName(ColumnType t);

struct Column {
  std::string name;
  ColumnType type = ColumnType::kAny;
  std::string declared_type;
  bool not_null = false;
  bool has_default = false;
  int pk_position = 0;  // 1-based position in the primary key; 0 if not in it
};

struct Table {
  std::string name;
  std::vector<Column> columns;      // in declaration order
  std::vector<size_t> primary_key;  // indexes into `columns`, key order
  const Column* Find(absl::string_view column) const;
};

// The schema of one database, read from the database itself.
struct Catalog {
  std::map<std::string, Table, std::less<>> tables;
  const Table* Find(absl::string_view table) const;
};

enum class FilterOp { kEq, kNe, kLt, kLe, kGt, kGe, kIn, kLike, kIsNull, kIsNotNull };

// One validated condition: `column` exists and `values` are typed for it.
struct Condition {
  std::string column;
  FilterOp op = FilterOp::kEq;
  std::vector<Value> values;  // 1 for comparisons and LIKE, n for IN, 0 else
};

struct Order {
  std::string column;
  bool descending = false;
};

// A validated list query. `order` already ends with the primary key, so it
// is a total order and `after` (the previous page's last row's values of the
// `order` columns) makes keyset pagination exact.
struct Query {
  std::string table;
  std::vector<Condition> conditions;
  std::vector<Order> order;
  std::vector<Value> after;          // empty on the first page
  std::vector<std::string> columns;  // projection; empty means all
  int limit = 50;
  int64_t max_bytes = 4 << 20;  // stop early past this many value bytes
  bool count_total = false;
  absl::Time deadline = absl::InfiniteFuture();  // DEADLINE_EXCEEDED past it
};

struct QueryResult {
  std::vector<StoredRow> rows;
  bool more = false;               // further rows match
  std::vector<Value> last_cursor;  // `order` values of the last row returned
  int64_t total = -1;              // when count_total
};

enum class WriteKind { kInsert, kUpdate, kUpsert, kDelete };

// One validated write. For kInsert/kUpsert `values` holds every given column
// (key included); for kUpdate `key` selects the row and `values` the columns
// to set; for kDelete only `key` is used.
struct WriteOp {
  WriteKind kind = WriteKind::kInsert;
  std::string table;
  std::vector<Field> key;
  std::vector<Field> values;
  int64_t expected_version = 0;  // 0: no check
};

struct WriteRequest {
  std::vector<WriteOp> ops;
  std::string request_id;                        // empty: not idempotent
  std::string fingerprint;                       // identifies the request's content
  absl::Time deadline = absl::InfiniteFuture();  // not started, or stopped, past it
};

struct AppliedMigration {
  int64_t version = 0;
  std::string name;
  std::string checksum;
  int64_t apply_time_us = 0;
};

// One logical database: a tenant's, or the master. Thread-safe: reads run
// concurrently; writes are queued and run one at a time.
class Database {
 public:
  virtual ~Database() = default;

  // The current schema. Never null.
  virtual std::shared_ptr<const Catalog> GetCatalog() const = 0;

  // Reads one row by its full primary key; nullopt if absent.
  // DEADLINE_EXCEEDED once `deadline` passes.
  virtual absl::StatusOr<std::optional<StoredRow>> Get(const std::string& table, const std::vector<Field>& key,
                                                       const std::vector<std::string>& columns,
                                                       absl::Time deadline = absl::InfiniteFuture()) = 0;

  // Runs a list query.
  virtual absl::StatusOr<QueryResult> List(const Query& query) = 0;

  // Runs all ops in one transaction: all commit, or none. Returns one row per
  // op (for deletes only table and version). With a request_id seen before,
  // returns the first result without writing (INVALID_ARGUMENT if the
  // fingerprint differs). Errors: NOT_FOUND, ALREADY_EXISTS, ABORTED
  // (version mismatch), FAILED_PRECONDITION (constraints), UNAVAILABLE.
  virtual absl::StatusOr<std::vector<StoredRow>> Write(const WriteRequest& request) = 0;

  // Migrations recorded as applied, in version order.
  virtual absl::StatusOr<std::vector<AppliedMigration>> ListApplied() = 0;

  // Runs migration `sql` and records (up) or erases (down) `record`, in one
  // transaction; then refreshes the catalog.
  virtual absl::Status Migrate(const AppliedMigration& record, const std::string& sql, bool up) = 0;
};

struct TenantRecord {
  std::string id;
  std::string display_name;
  std::string request_id;
  int64_t create_time_us = 0;
  int64_t schema_version = 0;  // highest tenant migration applied, as last recorded
};

// The whole local storage: the master database, the tenant registry in it,
// and one database per tenant. Thread-safe.
class Store {
 public:
  virtual ~Store() = default;

  virtual std::shared_ptr<Database> Master() = 0;

  // Creates (or recreates empty) the tenant's database; does not register it.
  virtual absl::StatusOr<std::shared_ptr<Database>> CreateTenantDatabase(const std::string& id) = 0;
  // Opens a registered tenant's database (cached). NOT_FOUND if unregistered.
  virtual absl::StatusOr<std::shared_ptr<Database>> TenantDatabase(const std::string& id) = 0;

  // Registers a tenant. ALREADY_EXISTS if the id is taken.
  virtual absl::Status RegisterTenant(const TenantRecord& record) = 0;
  virtual absl::StatusOr<std::optional<TenantRecord>> LookupTenant(const std::string& id) = 0;
  // Tenants with id > after, in id order, at most `limit`.
  virtual absl::StatusOr<std::vector<TenantRecord>> ListTenants(const std::string& after, int limit) = 0;
  // Records the tenant's schema version after migrations. NOT_FOUND if unknown.
  virtual absl::Status SetTenantSchemaVersion(const std::string& id, int64_t version) = 0;
  // Unregisters the tenant, then deletes its data. NOT_FOUND if unknown.
  // Calls still holding its Database get NOT_FOUND from then on.
  virtual absl::Status DeleteTenant(const std::string& id) = 0;
};

}  // namespace datagate::store

#endif  // DATAGATE_STORE_STORE_H_
