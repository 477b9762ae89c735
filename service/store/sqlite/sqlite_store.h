// store::Store on a data folder: master.db holds the tenant registry and
// platform tables; tenants/<id>.db holds each tenant's data.
#ifndef DATAGATE_STORE_SQLITE_SQLITE_STORE_H_
#define DATAGATE_STORE_SQLITE_SQLITE_STORE_H_

#include <map>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "store/sqlite/sqlite_database.h"
#include "store/store.h"

namespace datagate::store::sqlite {

struct StoreOptions {
  DatabaseOptions database;
  // Tenant databases kept open; beyond this the least recently used one that
  // no call is using is closed (it reopens on its next use).
  size_t max_open_tenants = 256;
};

class SqliteStore final : public Store {
 public:
  // Creates the folder if needed, locks it against other processes
  // (FAILED_PRECONDITION if one holds it) and opens the master database.
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(const std::string& data_dir, const StoreOptions& options);
  ~SqliteStore() override;

  std::shared_ptr<Database> Master() override { return master_; }
  absl::StatusOr<std::shared_ptr<Database>> CreateTenantDatabase(const std::string& id) override;
  absl::StatusOr<std::shared_ptr<Database>> TenantDatabase(const std::string& id) override;
  absl::Status RegisterTenant(const TenantRecord& record) override;
  absl::StatusOr<std::optional<TenantRecord>> LookupTenant(const std::string& id) override;
  absl::StatusOr<std::vector<TenantRecord>> ListTenants(const std::string& after, int limit) override;
  absl::Status SetTenantSchemaVersion(const std::string& id, int64_t version) override;
  absl::Status DeleteTenant(const std::string& id) override;

  // Tenant databases open now (for tests and metrics).
  size_t open_tenants();

  // Closes every database; later calls fail with UNAVAILABLE.
  void Close();

 private:
  struct OpenTenant {
    std::shared_ptr<SqliteDatabase> db;
    uint64_t last_use = 0;
  };

  SqliteStore(std::string data_dir, StoreOptions options) : data_dir_(std::move(data_dir)), options_(options) {}
  std::string TenantPath(const std::string& id) const;
  static void RemoveFiles(const std::string& path);
  // Deletes tenant files the registry does not know (at start only).
  absl::Status RemoveUnregisteredFiles();
  // Adds `db` to the open set, closing idle ones beyond the limit.
  void Remember(const std::string& id, std::shared_ptr<SqliteDatabase> db) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string data_dir_;
  const StoreOptions options_;
  int lock_fd_ = -1;  // flock on <data_dir>/datagate.lock: one process per folder
  std::shared_ptr<SqliteDatabase> master_;

  absl::Mutex mu_;
  std::map<std::string, OpenTenant> open_ ABSL_GUARDED_BY(mu_);
  uint64_t clock_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace datagate::store::sqlite

#endif  // DATAGATE_STORE_SQLITE_SQLITE_STORE_H_
