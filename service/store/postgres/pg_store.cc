#include "store/postgres/pg_store.h"

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/tenant_id.h"
#include "store/postgres/pg_core.h"
#include "store/postgres/pg_database.h"

namespace datagate::store::postgres {

absl::StatusOr<std::unique_ptr<PgCloudStore>> PgCloudStore::Create(const Options& options, absl::Time deadline) {
  if (options.connection_string.empty()) return errors::InvalidOption("connection_string", "must not be empty");
  if (options.schema.empty() || options.schema.size() > 63) {
    return errors::InvalidOption("schema", "must be 1 to 63 characters");
  }
  if (options.pool_size < 1) return errors::InvalidOption("pool_size", "must be at least 1");
  if (options.sync_chunk_rows < 1) return errors::InvalidOption("sync_chunk_rows", "must be at least 1");
  if (!ParsesAsConnInfo(options.connection_string)) return errors::CloudUrlMalformed();
  auto core = std::make_shared<PgCore>(options);
  // The first contact tells a server that is not there (yet) from a
  // connection string it refuses; the connection stays for the bootstrap.
  RETURN_IF_ERROR(core->pool().Open(deadline));
  std::shared_ptr<const PgCatalog> catalog;
  RETURN_IF_ERROR(core->Run("bootstrap", deadline, "", PgCore::Mode::kBootstrap,
                            [&](pqxx::transaction_base& tx, const PgCatalog&) -> absl::Status {
                              // Replicas starting together take turns creating the tables.
                              tx.exec(
                                  absl::StrCat("SELECT pg_advisory_xact_lock(", MigrationLockKey(options.schema), ")"));
                              Bootstrap(tx, options.schema);
                              EnsureMetaColumns(tx, options.schema);
                              ASSIGN_OR_RETURN(catalog, LoadCatalog(tx, options.schema));
                              return absl::OkStatus();
                            }));
  core->SetCatalog(std::move(catalog));
  return std::unique_ptr<PgCloudStore>(new PgCloudStore(std::move(core)));
}

PgCloudStore::PgCloudStore(std::shared_ptr<PgCore> core)
    : core_(std::move(core)), schema_(std::make_shared<PgSchemaDatabase>(core_)) {}

PgCloudStore::~PgCloudStore() = default;

absl::StatusOr<std::shared_ptr<Database>> PgCloudStore::Tenant(const std::string& tenant_id,
                                                               std::shared_ptr<const Catalog> local) {
  RETURN_IF_ERROR(ValidateTenantId(tenant_id));
  return std::shared_ptr<Database>(std::make_shared<PgTenantDatabase>(core_, tenant_id, std::move(local)));
}

std::shared_ptr<Database> PgCloudStore::Schema() { return schema_; }

int64_t PgCloudStore::SchemaVersion() const { return core_->schema_version(); }

absl::Status PgCloudStore::Ping(absl::Time deadline) { return core_->pool().Ping(deadline); }

absl::StatusOr<std::optional<StoredRow>> PgSchemaDatabase::Get(Planner<RowRead>, absl::Time) {
  return errors::CloudSchemaHasNoRows();
}
absl::StatusOr<QueryResult> PgSchemaDatabase::List(Planner<Query>, absl::Time) {
  return errors::CloudSchemaHasNoRows();
}
absl::StatusOr<std::vector<StoredRow>> PgSchemaDatabase::Write(Planner<std::vector<WriteOp>>, const WriteOptions&) {
  return errors::CloudSchemaHasNoRows();
}
absl::StatusOr<int64_t> PgSchemaDatabase::SaveCursor(const SavedCursor&, absl::Time) {
  return errors::CloudSchemaHasNoRows();
}
absl::StatusOr<std::optional<SavedCursor>> PgSchemaDatabase::LoadCursor(int64_t, absl::Time) {
  return errors::CloudSchemaHasNoRows();
}

}  // namespace datagate::store::postgres
