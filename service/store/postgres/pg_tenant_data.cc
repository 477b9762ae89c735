// PgCloudStore::DeleteTenantData: a deleted tenant's rows leave the shared
// schema with it.
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/tenant_id.h"
#include "store/postgres/pg_core.h"
#include "store/postgres/pg_sql.h"
#include "store/postgres/pg_store.h"

namespace datagate::store::postgres {

absl::Status PgCloudStore::DeleteTenantData(const std::string& tenant_id, absl::Time deadline) {
  RETURN_IF_ERROR(ValidateTenantId(tenant_id));
  return core_->Run(
      "delete tenant", deadline, tenant_id, PgCore::Mode::kTenantAlone,
      [&](pqxx::transaction_base& tx, const PgCatalog& catalog) -> absl::Status {
        std::vector<std::string> tables;
        for (const auto& [name, table] : catalog.catalog->tables) tables.push_back(name);
        for (const char* own : {"_dg_tombstones", "_dg_requests", "_dg_cursors"}) tables.push_back(own);
        for (const std::string& t : tables) {
          Params p;
          p.Exec(tx, absl::StrCat("DELETE FROM ", core_->Table(t), " WHERE tenant_id = ", p.AddText(tenant_id)));
        }
        return absl::OkStatus();
      });
}

}  // namespace datagate::store::postgres
