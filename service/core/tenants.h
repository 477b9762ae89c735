// The tenant registry with provisioning: a tenant exists once its storage is
// created, migrated and registered (in that order, so a crash leaves at most
// an unregistered file, which the next create of that id replaces).
#ifndef DATAGATE_CORE_TENANTS_H_
#define DATAGATE_CORE_TENANTS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "migrate/migrator.h"
#include "store/store.h"

namespace datagate::core {

struct TenantInfo {
  store::TenantRecord record;
  int64_t schema_version = 0;
};

struct TenantPage {
  std::vector<TenantInfo> tenants;
  std::string next_page_token;
};

// Thread-safe. Creates and deletes run one at a time.
class Tenants {
 public:
  // `store` and `migrator` must outlive this object.
  Tenants(store::Store* store, const migrate::Migrator* tenant_migrations)
      : store_(store), migrator_(tenant_migrations) {}

  // OK, or INVALID_ARGUMENT saying what is wrong with `id`.
  static absl::Status ValidateId(absl::string_view id);
  // "tenant/<id>", the target name used in migration reports.
  static std::string TargetName(absl::string_view id) { return "tenant/" + std::string(id); }

  // Provisions and registers a tenant. ALREADY_EXISTS if registered, unless
  // `request_id` matches the one it was created with (then returns it).
  absl::StatusOr<TenantInfo> Create(const std::string& id, const std::string& display_name,
                                    const std::string& request_id);
  // NOT_FOUND if unknown.
  absl::StatusOr<TenantInfo> Get(const std::string& id);
  // One page in id order. INVALID_ARGUMENT for a bad token;
  // RESOURCE_EXHAUSTED for page_size above 1000.
  absl::StatusOr<TenantPage> List(int page_size, const std::string& page_token);
  // Unregisters the tenant and deletes its data. NOT_FOUND if unknown.
  absl::Status Delete(const std::string& id);
  // The database of a registered tenant: INVALID_ARGUMENT for a malformed id,
  // NOT_FOUND if unknown.
  absl::StatusOr<std::shared_ptr<store::Database>> Open(const std::string& id);
  // Ids of all tenants, in order.
  absl::StatusOr<std::vector<std::string>> AllIds();
  // Records the schema version `db` (the tenant's database) is at now.
  absl::Status RecordSchemaVersion(const std::string& id, store::Database& db);

 private:
  static TenantInfo Describe(store::TenantRecord record);

  store::Store* const store_;
  const migrate::Migrator* const migrator_;
  absl::Mutex admin_mu_;  // serializes Create and Delete
};

}  // namespace datagate::core

#endif  // DATAGATE_CORE_TENANTS_H_
