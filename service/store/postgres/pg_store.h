// The cloud store on PostgreSQL (libpqxx 6.4): one shared schema holding
// every tenant's rows, keyed by tenant_id.
//
// Layout in the schema (Options::schema): the user's tables (tenant_id first
// in every primary key, plus the gateway's columns _dg_version,
// _dg_create_us, _dg_update_us, _dg_deleted), and the gateway's own tables
// _dg_migrations, _dg_schema (a generation bumped by every migration, so
// replicas notice a new schema), _dg_requests (request_id replay, keyed by
// tenant), _dg_cursors (saved page cursors, keyed by tenant) and
// _dg_tombstones (the versions of deletes synced for rows the cloud never
// had, so an older upsert replayed later cannot create them).
//
// Every statement is parameterized and unnamed, and no session state lives
// outside a transaction (SET LOCAL only), so the store works behind
// PgBouncer in transaction pooling mode.
//
// The code is split by concern: pg_pool.cc (connections), pg_core.cc
// (transactions, deadlines, the catalog cache), pg_catalog.cc, pg_sql.cc,
// pg_errors.cc, pg_reads.cc, pg_writes.cc, pg_cursors.cc,
// pg_migrations.cc, pg_sync.cc.
#ifndef DATAGATE_STORE_POSTGRES_PG_STORE_H_
#define DATAGATE_STORE_POSTGRES_PG_STORE_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "store/cloud.h"

namespace datagate::store::postgres {

class PgCore;

class PgCloudStore final : public CloudStore {
 public:
  struct Options {
    std::string connection_string;  // libpq conninfo or URL; a secret, never logged
    std::string schema = "public";  // the shared schema
    int pool_size = 8;              // connections at most
    absl::Duration connect_timeout = absl::Seconds(5);
    int64_t request_id_retention_us = int64_t{24} * 3600 * 1000000;
    // Saved page cursors: how long they are kept, and at most how many and
    // how many bytes of them per tenant (the oldest go first).
    int64_t cursor_retention_us = int64_t{24} * 3600 * 1000000;
    int64_t max_cursors = 10000;
    int64_t max_cursor_bytes = int64_t{64} << 20;
    // Rows per statement in ApplySync (each column goes as one array): as
    // many as the engine's biggest batch, so a call costs one statement per
    // table and kind however big its batch is.
    int sync_chunk_rows = 10000;
    std::function<int64_t()> now_us;  // clock; wall clock when empty
  };

  // Connects, creates the schema and the gateway's tables when missing
  // (under the schema's migration lock), and reads the catalog. Errors say
  // whether trying again later can help:
  // - UNAVAILABLE (and ABORTED, UNKNOWN, DEADLINE_EXCEEDED at `deadline`):
  //   the server cannot be reached or is busy now; it may come later (the
  //   gateway then starts without it and tries again: server/cloud.h).
  //   Note that the connect itself is bounded by connect_timeout, not by
  //   `deadline`.
  // - INVALID_ARGUMENT: bad options, or a connection string libpq cannot
  //   parse (checked before connecting).
  // - FAILED_PRECONDITION: the server refused the connection string's user,
  //   password or database; or a table's primary key does not start with
  //   tenant_id (named in the message): the gateway must not serve such a
  //   schema.
  // Once created, a refused or broken connection is UNAVAILABLE like any
  // outage.
  static absl::StatusOr<std::unique_ptr<PgCloudStore>> Create(const Options& options,
                                                              absl::Time deadline = absl::InfiniteFuture());
  ~PgCloudStore() override;

  absl::StatusOr<std::shared_ptr<Database>> Tenant(const std::string& tenant_id,
                                                   std::shared_ptr<const Catalog> local) override;
  std::shared_ptr<Database> Schema() override;
  int64_t SchemaVersion() const override;
  absl::StatusOr<std::vector<SyncOutcome>> ApplySync(const std::string& tenant_id, const std::vector<SyncOp>& ops,
                                                     absl::Time deadline) override;
  absl::Status Ping(absl::Time deadline) override;
  absl::Status DeleteTenantData(const std::string& tenant_id, absl::Time deadline) override;

 private:
  explicit PgCloudStore(std::shared_ptr<PgCore> core);
  std::shared_ptr<PgCore> core_;
  std::shared_ptr<Database> schema_;
};

}  // namespace datagate::store::postgres

#endif  // DATAGATE_STORE_POSTGRES_PG_STORE_H_
