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

class SqliteStore final : public Store {
 public:
  // Creates the folder if needed and opens the master database.
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(const std::string& data_dir, const DatabaseOptions& options);
  ~SqliteStore() override;

  std::shared_ptr<Database> Master() override { return master_; }
  absl::StatusOr<std::shared_ptr<Database>> CreateTenantDatabase(const std::string& id) override;
  absl::StatusOr<std::shared_ptr<Database>> TenantDatabase(const std::string& id) override;
  absl::Status RegisterTenant(const TenantRecord& record) override;
  absl::StatusOr<std::optional<TenantRecord>> LookupTenant(const std::string& id) override;
  absl::StatusOr<std::vector<TenantRecord>> ListTenants(const std::string& after, int limit) override;
  absl::Status DeleteTenant(const std::string& id) override;

  // Closes every database; later calls fail with UNAVAILABLE.
  void Close();

 private:
  SqliteStore(std::string data_dir, DatabaseOptions options) : data_dir_(std::move(data_dir)), options_(options) {}
  std::string TenantPath(const std::string& id) const;
  static void RemoveFiles(const std::string& path);

  const std::string data_dir_;
  const DatabaseOptions options_;
  std::shared_ptr<SqliteDatabase> master_;

  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<SqliteDatabase>> open_ ABSL_GUARDED_BY(mu_);
};

}  // namespace datagate::store::sqlite

#endif  // DATAGATE_STORE_SQLITE_SQLITE_STORE_H_
