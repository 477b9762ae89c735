// The Database views of the Postgres store: a tenant's rows, and the shared
// schema as a migration target. Internal to the Postgres store (callers get
// them from PgCloudStore as store::Database).
#ifndef DATAGATE_STORE_POSTGRES_PG_DATABASE_H_
#define DATAGATE_STORE_POSTGRES_PG_DATABASE_H_

#include <memory>
#include <string>
#include <vector>

#include "store/postgres/pg_core.h"
#include "store/postgres/pg_foreign_keys.h"
#include "store/store.h"

namespace datagate::store::postgres {

// One tenant's rows, with the local store's semantics (see cloud.h):
// tenant_id hidden, every statement keyed by it, tombstones never read,
// served through the tenant's local catalog `local` (ServedCatalog; the
// cloud's own when null). Thread-safe; writes run concurrently (row locks in
// Postgres order them).
class PgTenantDatabase final : public Database {
 public:
  PgTenantDatabase(std::shared_ptr<PgCore> core, std::string tenant, std::shared_ptr<const Catalog> local)
      : core_(std::move(core)), tenant_(std::move(tenant)), local_(std::move(local)) {}

  std::shared_ptr<const Catalog> GetCatalog() const override { return Served(*core_->catalog()); }
  absl::StatusOr<std::optional<StoredRow>> Get(Planner<RowRead> plan, absl::Time deadline) override;
  absl::StatusOr<QueryResult> List(Planner<Query> plan, absl::Time deadline) override;
  absl::StatusOr<std::vector<StoredRow>> Write(Planner<std::vector<WriteOp>> plan,
                                               const WriteOptions& options) override;
  absl::StatusOr<int64_t> SaveCursor(const SavedCursor& cursor, absl::Time deadline) override;
  absl::StatusOr<std::optional<SavedCursor>> LoadCursor(int64_t id, absl::Time deadline) override;
  absl::StatusOr<std::vector<AppliedMigration>> ListApplied(absl::Time deadline) override {
    return core_->ListApplied(deadline);
  }
  absl::Status Migrate(const MigrationScript& script, absl::Time deadline) override {
    return core_->Migrate(script, deadline);
  }
  using Database::Get;
  using Database::List;
  using Database::Write;

 private:
  // What this tenant is served of `catalog`.
  std::shared_ptr<const Catalog> Served(const PgCatalog& catalog) const {
    return ServedCatalog(catalog.catalog, local_.get());
  }
  // Runs `op` against `served` (what the tenant is served of `catalog`),
  // then the foreign-key actions it calls for.
  absl::StatusOr<StoredRow> ApplyOp(pqxx::transaction_base& tx, const PgCatalog& catalog, const Catalog& served,
                                    const WriteOp& op, int64_t now);
  // The `columns` of the tenant's live row of `table` (qualified) with
  // `key`, as text, locked FOR UPDATE; empty when there is no live row.
  RowText LockReferenced(pqxx::transaction_base& tx, const std::string& table, const std::vector<Field>& key,
                         const std::vector<std::string>& columns);
  absl::StatusOr<std::optional<std::vector<StoredRow>>> Replay(pqxx::transaction_base& tx, const WriteOptions& options);
  void RecordResult(pqxx::transaction_base& tx, const WriteOptions& options, const std::vector<StoredRow>& rows,
                    int64_t now);

  const std::shared_ptr<PgCore> core_;
  const std::string tenant_;
  const std::shared_ptr<const Catalog> local_;
};

// The shared schema: catalog and migrations only; rows are
// FAILED_PRECONDITION (they belong to tenants). Thread-safe.
class PgSchemaDatabase final : public Database {
 public:
  explicit PgSchemaDatabase(std::shared_ptr<PgCore> core) : core_(std::move(core)) {}

  std::shared_ptr<const Catalog> GetCatalog() const override { return core_->catalog()->catalog; }
  absl::StatusOr<std::optional<StoredRow>> Get(Planner<RowRead>, absl::Time) override;
  absl::StatusOr<QueryResult> List(Planner<Query>, absl::Time) override;
  absl::StatusOr<std::vector<StoredRow>> Write(Planner<std::vector<WriteOp>>, const WriteOptions&) override;
  absl::StatusOr<int64_t> SaveCursor(const SavedCursor&, absl::Time) override;
  absl::StatusOr<std::optional<SavedCursor>> LoadCursor(int64_t, absl::Time) override;
  absl::StatusOr<std::vector<AppliedMigration>> ListApplied(absl::Time deadline) override {
    return core_->ListApplied(deadline);
  }
  absl::Status Migrate(const MigrationScript& script, absl::Time deadline) override {
    return core_->Migrate(script, deadline);
  }
  using Database::Get;
  using Database::List;
  using Database::Write;

 private:
  const std::shared_ptr<PgCore> core_;
};

}  // namespace datagate::store::postgres

#endif  // DATAGATE_STORE_POSTGRES_PG_DATABASE_H_
