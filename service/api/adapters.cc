#include "api/adapters.h"

namespace datagate::api {

// Member pointers to the generated base's virtual methods call the
// implementation's overrides.
std::unique_ptr<UnaryAdapter> AdaptDataService(v1::DataService::Service* impl) {
  using S = v1::DataService::Service;
  auto a = std::make_unique<UnaryAdapter>(v1::DataService::service_full_name());
  a->Add("CreateRow", impl, &S::CreateRow)
      .Add("GetRow", impl, &S::GetRow)
      .Add("ListRows", impl, &S::ListRows)
      .Add("UpdateRow", impl, &S::UpdateRow)
      .Add("DeleteRow", impl, &S::DeleteRow)
      .Add("UpsertRow", impl, &S::UpsertRow)
      .Add("BatchWrite", impl, &S::BatchWrite)
      .Add("ListTables", impl, &S::ListTables);
  return a;
}

std::unique_ptr<UnaryAdapter> AdaptTenantService(v1::TenantService::Service* impl) {
  using S = v1::TenantService::Service;
  auto a = std::make_unique<UnaryAdapter>(v1::TenantService::service_full_name());
  a->Add("CreateTenant", impl, &S::CreateTenant)
      .Add("GetTenant", impl, &S::GetTenant)
      .Add("ListTenants", impl, &S::ListTenants)
      .Add("DeleteTenant", impl, &S::DeleteTenant);
  return a;
}

std::unique_ptr<UnaryAdapter> AdaptMigrationService(v1::MigrationService::Service* impl) {
  using S = v1::MigrationService::Service;
  auto a = std::make_unique<UnaryAdapter>(v1::MigrationService::service_full_name());
  a->Add("ListMigrations", impl, &S::ListMigrations)
      .Add("GetMigrationStatus", impl, &S::GetMigrationStatus)
      .Add("ApplyMigrations", impl, &S::ApplyMigrations)
      .Add("RevertMigrations", impl, &S::RevertMigrations);
  return a;
}

std::unique_ptr<UnaryAdapter> AdaptSyncService(v1::SyncService::Service* impl) {
  using S = v1::SyncService::Service;
  auto a = std::make_unique<UnaryAdapter>(v1::SyncService::service_full_name());
  a->Add("GetSyncStats", impl, &S::GetSyncStats)
      .Add("ListSyncOperations", impl, &S::ListSyncOperations)
      .Add("RetrySyncOperations", impl, &S::RetrySyncOperations)
      .Add("PurgeSyncOperations", impl, &S::PurgeSyncOperations)
      .Add("FlushSync", impl, &S::FlushSync)
      .Add("PauseSync", impl, &S::PauseSync)
      .Add("ResumeSync", impl, &S::ResumeSync);
  return a;
}

}  // namespace datagate::api
