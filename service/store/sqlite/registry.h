// The tenant registry: a table in the master database. Internal to the
// SQLite store. Thread-safe (the master database serializes its writes).
#ifndef DATAGATE_STORE_SQLITE_REGISTRY_H_
#define DATAGATE_STORE_SQLITE_REGISTRY_H_

#include <optional>
#include <string>
#include <vector>

#include "store/sqlite/sqlite_database.h"
#include "store/store.h"

namespace datagate::store::sqlite {

class Registry {
 public:
  // `master` must outlive the registry.
  explicit Registry(SqliteDatabase* master) : master_(master) {}

  // Creates the registry's table and index if missing.
  absl::Status Init();
  // Adds `record`, in one transaction with the checks: ALREADY_EXISTS if
  // the id is registered, INVALID_ARGUMENT if its non-empty request_id
  // already created another tenant.
  absl::Status Register(const TenantRecord& record, absl::Time deadline);
  // Records that the tenant's delete began (TenantRecord::deleting); false
  // if it is not registered.
  absl::StatusOr<bool> MarkDeleting(const std::string& id, absl::Time deadline);
  // Undoes MarkDeleting.
  absl::Status ClearDeleting(const std::string& id, absl::Time deadline);
  // Removes the tenant (and its mark); false if it was not registered.
  absl::StatusOr<bool> Unregister(const std::string& id, absl::Time deadline);
  absl::StatusOr<std::optional<TenantRecord>> Lookup(const std::string& id, absl::Time deadline);
  absl::StatusOr<std::optional<TenantRecord>> LookupByRequestId(const std::string& request_id, absl::Time deadline);
  absl::StatusOr<std::vector<TenantRecord>> List(const std::string& after, int limit, absl::Time deadline);
  // NOT_FOUND if the tenant is not registered.
  absl::Status SetSchemaVersion(const std::string& id, int64_t version, absl::Time deadline);

 private:
  // The tenant matching `condition` ("WHERE column = ?") bound to `value`.
  absl::StatusOr<std::optional<TenantRecord>> LookupWhere(absl::string_view condition, const std::string& value,
                                                          absl::Time deadline);

  SqliteDatabase* const master_;
};

}  // namespace datagate::store::sqlite

#endif  // DATAGATE_STORE_SQLITE_REGISTRY_H_
