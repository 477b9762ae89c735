// The storage interface: plain C++ types only (no protos, no gRPC). The
// SQLite store implements it now; the Postgres store will implement it too,
// and one conformance suite (tests/conformance) runs against every store.
//
// One schema per call: every call that validates names and values takes a
// planner, which the store runs against the catalog its statements will run
// against (under the writer, or inside the read snapshot). A migration
// racing the call therefore turns into a clean INVALID_ARGUMENT from the
// planner, never an engine error.
#ifndef DATAGATE_STORE_STORE_H_
#define DATAGATE_STORE_STORE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/value.h"

namespace datagate::store {

class Outbox;

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

// What a foreign key does to the rows referring to a row that is deleted,
// or whose referred columns change.
enum class ForeignKeyAction { kNoAction, kRestrict, kSetNull, kSetDefault, kCascade };

// A foreign key of a table: its `columns` refer to `parent_columns` (as
// many, in the same order) of table `parent`.
struct ForeignKey {
  std::vector<std::string> columns;
  std::string parent;
  std::vector<std::string> parent_columns;
  ForeignKeyAction on_delete = ForeignKeyAction::kNoAction;
  ForeignKeyAction on_update = ForeignKeyAction::kNoAction;
};

struct Table {
  std::string name;
  std::vector<Column> columns;                 // in declaration order
  std::vector<size_t> primary_key;             // indexes into `columns`, key order
  std::vector<std::string> check_constraints;  // names of its named CHECK constraints
  // Its foreign keys, as the local store declares them (the cloud store
  // does their actions by the local ones: see cloud.h); empty in the
  // cloud store's own catalog.
  std::vector<ForeignKey> foreign_keys;
  const Column* Find(absl::string_view column) const;
};

// The schema of one database, read from the database itself.
struct Catalog {
  std::map<std::string, Table, std::less<>> tables;
  int64_t schema_cookie = 0;  // the database's schema version this describes
  // The highest migration version applied when this was read (0: none).
  int64_t migration_version = 0;
  const Table* Find(absl::string_view table) const;
};

// Validates a request against `catalog` and returns what the store runs.
// A store may call it more than once (with different catalogs) for a call.
template <typename T>
using Planner = absl::FunctionRef<absl::StatusOr<T>(const Catalog& catalog)>;

// One validated point read: the table's full primary key, typed.
struct RowRead {
  std::string table;
  std::vector<Field> key;
  std::vector<std::string> columns;  // projection; empty means all
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
  bool count_total = false;
  // The page's size budget: a row joins the page only while the bytes of
  // the rows so far plus `row_bytes` of it plus `cursor_bytes` of its cursor
  // (the page token that would follow it) stay within `max_bytes`. The first
  // row always joins, so a page always makes progress; its caller checks it.
  // Unset functions count 0.
  int64_t max_bytes = INT64_MAX;
  std::function<int64_t(const StoredRow& row)> row_bytes;
  std::function<int64_t(const std::vector<Value>& cursor)> cursor_bytes;
};

struct QueryResult {
  std::vector<StoredRow> rows;
  bool more = false;               // further rows match
  std::vector<Value> last_cursor;  // `order` values of the last row returned
  int64_t total = -1;              // when count_total
};

// A page cursor too large to hand out in a page token, kept by the store:
// opaque bytes, and the secret a token must show to use them.
struct SavedCursor {
  std::string secret;
  std::string data;
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

struct WriteOptions {
  std::string request_id;   // empty: not idempotent
  std::string fingerprint;  // identifies the request's method and content
  absl::Time deadline = absl::InfiniteFuture();
  // Runs on each row an op produced (in op order) before the commit; an
  // error rolls the whole write back. The gateway checks sizes here.
  std::function<absl::Status(size_t index, const StoredRow& row)> check_row;
  // Queue every changed row for the cloud in the same transaction (the
  // outbox; stores without one refuse with FAILED_PRECONDITION).
  bool enqueue = false;
  // When set, receives the outbox seq of every entry the write queued: each
  // op's entry, in op order, then those of the rows its triggers and
  // foreign-key actions changed (ON DELETE CASCADE, ...), in the order they
  // were queued. All are in one transaction, so the seqs are consecutive.
  // On a replay: the seqs of the first run's entries are not known; empty.
  std::vector<int64_t>* enqueued = nullptr;
};

struct AppliedMigration {
  int64_t version = 0;
  std::string name;
  std::string checksum;
  int64_t apply_time_us = 0;
};

// One migration step to run on a database.
struct MigrationScript {
  AppliedMigration record;
  std::string sql;
  bool up = true;
  std::string target;  // for messages: "master", "tenant/<id>"
  std::string file;    // for messages: the file the SQL came from
};

// A use of a database by work done elsewhere for its tenant (a CLOUD_ONLY
// write): the tenant's delete waits for it to end (Database::Hold).
// Released when destroyed; must not outlive its database.
class DatabaseHold {
 public:
  DatabaseHold() = default;
  explicit DatabaseHold(std::function<void()> release) : release_(std::move(release)) {}
  DatabaseHold(DatabaseHold&& other) noexcept : release_(std::exchange(other.release_, nullptr)) {}
  DatabaseHold& operator=(DatabaseHold&& other) noexcept {
    if (this != &other) {
      Release();
      release_ = std::exchange(other.release_, nullptr);
    }
    return *this;
  }
  ~DatabaseHold() { Release(); }

 private:
  void Release() {
    if (release_) std::exchange(release_, nullptr)();
  }
  std::function<void()> release_;
};

// One logical database: a tenant's, or the master. Thread-safe: reads run
// concurrently; writes and migrations queue and run one at a time. Every
// wait (for the writer, for a read connection) and every statement stops at
// the deadline with DEADLINE_EXCEEDED. Once the database is closed (its
// tenant deleted), calls fail with the reason it was closed for.
class Database {
 public:
  virtual ~Database() = default;

  // The current schema. Never null.
  virtual std::shared_ptr<const Catalog> GetCatalog() const = 0;

  // Reads one row by its full primary key; nullopt if absent.
  virtual absl::StatusOr<std::optional<StoredRow>> Get(Planner<RowRead> plan, absl::Time deadline) = 0;

  // Runs a list query; the page and its total come from one snapshot.
  virtual absl::StatusOr<QueryResult> List(Planner<Query> plan, absl::Time deadline) = 0;

  // Runs all planned ops in one transaction: all commit, or none. Returns
  // one row per op (for deletes only table and version). With a request_id
  // seen before, returns the first result without planning or writing
  // (INVALID_ARGUMENT if the fingerprint differs). Errors: the planner's,
  // NOT_FOUND, ALREADY_EXISTS, ABORTED (version mismatch),
  // FAILED_PRECONDITION (constraints), check_row's, UNAVAILABLE,
  // DEADLINE_EXCEEDED. Versions never repeat for a key: a delete leaves
  // a tombstone at the row's version + 1, and a row created again over it
  // starts at the tombstone's version + 1.
  virtual absl::StatusOr<std::vector<StoredRow>> Write(Planner<std::vector<WriteOp>> plan,
                                                       const WriteOptions& options) = 0;

  // Keeps `cursor` durably in this database and returns its id (unique in
  // the database while the cursor is kept). Cursors are kept for a bounded
  // time (the store's retention, 24 hours by default) and in bounded number
  // and bytes per database: saving drops expired cursors, then the oldest
  // ones beyond the bounds (never the one being saved). A write: it waits
  // for the writer's turn until `deadline` (DEADLINE_EXCEEDED, nothing
  // saved); UNAVAILABLE, RESOURCE_EXHAUSTED (disk full) as writes.
  virtual absl::StatusOr<int64_t> SaveCursor(const SavedCursor& cursor, absl::Time deadline) = 0;
  // The cursor saved under `id`; nullopt if there is none, or it expired or
  // was dropped. A read; DEADLINE_EXCEEDED as reads.
  virtual absl::StatusOr<std::optional<SavedCursor>> LoadCursor(int64_t id, absl::Time deadline) = 0;

  // Migrations recorded as applied, in version order.
  virtual absl::StatusOr<std::vector<AppliedMigration>> ListApplied(absl::Time deadline) = 0;

  // Runs the script and records (up) or erases (down) its record, in one
  // transaction, then serves the new schema. FAILED_PRECONDITION naming the
  // target, version and file when the SQL fails.
  virtual absl::Status Migrate(const MigrationScript& script, absl::Time deadline) = 0;

  // Keeps the tenant's delete waiting until the hold is let go, for work
  // that acts for the tenant outside this database (a CLOUD_ONLY write),
  // so that nothing of it lands after the delete. Fails as calls do once
  // the database is closed.
  virtual absl::StatusOr<DatabaseHold> Hold() { return DatabaseHold(); }

  // The database's outbox; null for stores that keep none.
  virtual Outbox* outbox() { return nullptr; }

  // Shorthands for requests validated beforehand (tests, fixed queries).
  absl::StatusOr<std::optional<StoredRow>> Get(const RowRead& read, absl::Time deadline = absl::InfiniteFuture());
  absl::StatusOr<QueryResult> List(const Query& query, absl::Time deadline = absl::InfiniteFuture());
  absl::StatusOr<std::vector<StoredRow>> Write(const std::vector<WriteOp>& ops, const WriteOptions& options = {});
};

struct TenantRecord {
  std::string id;
  std::string display_name;
  std::string request_id;
  int64_t create_time_us = 0;
  int64_t schema_version = 0;  // highest tenant migration applied, as last recorded
  bool deleting = false;       // a delete began and did not finish: not served
};

// The whole local storage: the master database, the tenant registry in it,
// and one database per tenant. Thread-safe. A tenant is served (OpenTenant)
// exactly while it is registered: not while it is created, not after a
// failed create, and not from the moment its delete begins.
class Store {
 public:
  virtual ~Store() = default;

  virtual std::shared_ptr<Database> Master() = 0;

  // Creates the tenant's storage, runs `prepare` on it (migrations; it may
  // complete the record, e.g. its schema version), then registers the
  // record; only then is the tenant served. On any failure
  // nothing of it remains. ALREADY_EXISTS if the id is registered (or being
  // created); INVALID_ARGUMENT if record.request_id names another tenant's
  // creation.
  virtual absl::StatusOr<TenantRecord> CreateTenant(
      const TenantRecord& record, absl::FunctionRef<absl::Status(Database& db, TenantRecord* record)> prepare,
      absl::Time deadline) = 0;
  // The database of a registered tenant. A delete of it under way is waited
  // for. NOT_FOUND if unregistered (being created too) or marked as being
  // deleted; INVALID_ARGUMENT for a malformed id; DEADLINE_EXCEEDED while
  // another call is still opening or deleting it at the deadline.
  virtual absl::StatusOr<std::shared_ptr<Database>> OpenTenant(const std::string& id, absl::Time deadline) = 0;

  // Registry calls wait at most until `deadline` (DEADLINE_EXCEEDED).
  virtual absl::StatusOr<std::optional<TenantRecord>> LookupTenant(const std::string& id, absl::Time deadline) = 0;
  // The tenant created with `request_id` (non-empty), if any.
  virtual absl::StatusOr<std::optional<TenantRecord>> LookupTenantByRequestId(const std::string& request_id,
                                                                              absl::Time deadline) = 0;
  // Tenants with id > after, in id order, at most `limit`.
  virtual absl::StatusOr<std::vector<TenantRecord>> ListTenants(const std::string& after, int limit,
                                                                absl::Time deadline) = 0;
  // Records the tenant's schema version after migrations. NOT_FOUND if unknown.
  virtual absl::Status SetTenantSchemaVersion(const std::string& id, int64_t version, absl::Time deadline) = 0;
  // Stops serving the tenant, interrupts (and waits for) calls still using
  // its database, which get NOT_FOUND from then on, and records that its
  // delete began; then runs `first` (the cloud's part). When `first` fails,
  // so does the delete: with UNKNOWN (its outcome not known) the tenant
  // stays unserved (TenantBeingDeleted) until a delete finishes; with any
  // other error it is served again, unchanged. Once `first` is OK the
  // tenant is unregistered and its data deleted, past `deadline` if need
  // be. NOT_FOUND if unknown.
  virtual absl::Status DeleteTenant(const std::string& id, absl::Time deadline,
                                    absl::FunctionRef<absl::Status()> first) = 0;
  absl::Status DeleteTenant(const std::string& id, absl::Time deadline) {
    return DeleteTenant(id, deadline, [] { return absl::OkStatus(); });
  }
};

}  // namespace datagate::store

#endif  // DATAGATE_STORE_STORE_H_
