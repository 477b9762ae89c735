// The cloud store interface: one shared PostgreSQL schema that holds every
// tenant's rows, keyed by tenant. Plain C++ types only, like store.h; the
// Postgres store (store/postgres) implements it, and the sync engine and the
// data layer use it without knowing the engine.
//
// Every cloud table carries `tenant_id` first in its primary key; the
// `Database` a tenant gets from `Tenant()` hides that column (its catalog
// and rows look like the tenant's local ones) and keys every statement by
// the tenant. Rows carry the gateway's version and timestamps as locally,
// and a deleted marker: a delete leaves a tombstone (the key and its last
// version) that reads never return, so an older operation replayed later
// cannot bring the row back.
#ifndef DATAGATE_STORE_CLOUD_H_
#define DATAGATE_STORE_CLOUD_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/value.h"
#include "store/store.h"

namespace datagate::store {

// One operation the sync worker pushes: the state of one row after a local
// write, at that write's version. An upsert carries every column of the
// row; a delete carries the key only and becomes a tombstone.
struct SyncOp {
  int64_t seq = 0;  // the outbox entry it came from (for the caller)
  std::string table;
  std::vector<Field> key;     // every primary-key column, typed as locally
  std::vector<Field> values;  // upsert: every column, key included
  bool deleted = false;
  int64_t version = 0;
  int64_t create_time_us = 0;
  int64_t update_time_us = 0;
};

// What the cloud did with one SyncOp.
struct SyncOutcome {
  enum Kind {
    kApplied,   // the cloud row (or tombstone) now has the op's version
    kStale,     // the cloud row already had this version or a newer one
    kRejected,  // the cloud refused this op alone (`error` says why)
  };
  Kind kind = kApplied;
  int64_t cloud_version = 0;  // kStale: the version the cloud kept
  absl::Status error;         // kRejected: a constraint, a type, a missing table
};

// The cloud store. Thread-safe; every call waits at most until its deadline
// (for a pooled connection too) and fails with DEADLINE_EXCEEDED after.
// Errors are mapped by SQLSTATE class: connection and resource classes
// UNAVAILABLE, serialization failure and deadlock ABORTED, unique and
// exclusion violations ALREADY_EXISTS (also when found at COMMIT), other
// integrity violations FAILED_PRECONDITION, a commit whose outcome is
// unknown UNKNOWN (a COMMIT the server refused is not unknown). No SQL,
// connection string or server text that could carry them reaches a message.
class CloudStore {
 public:
  virtual ~CloudStore() = default;

  // The tenant's rows as a Database: Get, List and Write as locally (the
  // same filters, ordering with NULLs first ascending, keyset pages,
  // projection, totals, request_id replay, expected_version), every
  // statement in a transaction that first sets `app.tenant_id` and is keyed
  // by `tenant_id`. Creating a row over a tombstone revives it at the
  // tombstone's version + 1. ListApplied and Migrate act on the shared
  // schema (as Schema() does). INVALID_ARGUMENT for a malformed id.
  //
  // `local`, the tenant's local catalog, is the schema it is served
  // through: of the cloud's tables and columns only those `local` has too,
  // in `local`'s column order (as the cloud declares them: types,
  // nullability, defaults; the cloud's key columns always), so a column or
  // table the cloud has beyond it (added there outside the gateway's
  // migrations, or by one the tenant has not applied yet) is never read,
  // written or accepted in a filter, order or projection: the planner
  // refuses it as the local store does. A delete, or a change of columns
  // other rows refer to, then does to those rows what the foreign keys of
  // `local` declare, as SQLite does locally (in the cloud a delete only
  // marks the row, so PostgreSQL's own actions never run), in the same
  // transaction: CASCADE marks them deleted or moves them along, SET NULL
  // empties their referring columns (each changed row at its version + 1),
  // RESTRICT and NO ACTION refuse (FAILED_PRECONDITION) while a live row
  // refers; SET DEFAULT is refused when a live row refers (not done in the
  // cloud). Null serves the cloud schema as it is, with no foreign-key
  // actions (for tools and tests that have no local schema).
  virtual absl::StatusOr<std::shared_ptr<Database>> Tenant(const std::string& tenant_id,
                                                           std::shared_ptr<const Catalog> local) = 0;

  // The shared schema as a migration target: GetCatalog (tables with the
  // tenant column hidden), ListApplied, Migrate (each script in its own
  // transaction under a Postgres advisory lock, so replicas do not race;
  // the gateway's columns are added to tables that lack them). Get, List
  // and Write are FAILED_PRECONDITION here.
  virtual std::shared_ptr<Database> Schema() = 0;

  // The shared schema's migration version (highest applied), as last read
  // or migrated by this process; -1 before it is known.
  virtual int64_t SchemaVersion() const = 0;

  // False while the store has not reached its database yet (a gateway that
  // started while its cloud was down): then every call fails (UNAVAILABLE,
  // or the error that keeps it from connecting) and SchemaVersion is -1.
  // Once true it stays true; later outages fail calls UNAVAILABLE.
  virtual bool Connected() const { return true; }

  // Applies `ops` (one tenant's, in outbox order, at most one per row) set
  // by set, each only if its version is newer than the cloud row's or
  // tombstone's; returns one outcome per op, in order. An op the cloud
  // refuses on its own (integrity, type) is kRejected without stopping the
  // others. Constraints the schema defers hold for the call as a whole, so
  // rows that swap unique values pass together; an op whose row takes a
  // value another row keeps is kRejected (ALREADY_EXISTS). The call fails
  // whole for the store's errors above (UNAVAILABLE, ABORTED,
  // DEADLINE_EXCEEDED, UNKNOWN), and with FAILED_PRECONDITION for another
  // deferred constraint that refuses it (a foreign key checked at commit:
  // the caller splits the call to find the op): then nothing of it may be
  // assumed applied, and a retry is harmless.
  virtual absl::StatusOr<std::vector<SyncOutcome>> ApplySync(const std::string& tenant_id,
                                                             const std::vector<SyncOp>& ops, absl::Time deadline) = 0;

  // Removes every row the tenant has in the cloud (its tables' rows and
  // tombstones, replay records, saved cursors) in one transaction, so a
  // tenant made again with the same id starts empty. The store's errors
  // above; nothing removed on failure.
  virtual absl::Status DeleteTenantData(const std::string& tenant_id, absl::Time deadline) = 0;

  // A cheap round trip (`SELECT 1` on a pooled connection): OK when the
  // cloud answers, UNAVAILABLE when it does not.
  virtual absl::Status Ping(absl::Time deadline) = 0;
};

}  // namespace datagate::store

#endif  // DATAGATE_STORE_CLOUD_H_
