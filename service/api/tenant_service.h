// TenantService handlers.
#ifndef DATAGATE_API_TENANT_SERVICE_H_
#define DATAGATE_API_TENANT_SERVICE_H_

#include "core/tenants.h"
#include "datagate/v1/tenant.grpc.pb.h"

namespace datagate::api {

// Thread-safe; holds a non-owning pointer.
class TenantServiceImpl final : public v1::TenantService::Service {
 public:
  explicit TenantServiceImpl(core::Tenants* tenants) : tenants_(tenants) {}

  grpc::Status CreateTenant(grpc::ServerContext* ctx, const v1::CreateTenantRequest* req, v1::Tenant* resp) override;
  grpc::Status GetTenant(grpc::ServerContext* ctx, const v1::GetTenantRequest* req, v1::Tenant* resp) override;
  grpc::Status ListTenants(grpc::ServerContext* ctx, const v1::ListTenantsRequest* req,
                           v1::ListTenantsResponse* resp) override;
  grpc::Status DeleteTenant(grpc::ServerContext* ctx, const v1::DeleteTenantRequest* req,
                            v1::DeleteTenantResponse* resp) override;

 private:
  core::Tenants* const tenants_;
};

}  // namespace datagate::api

#endif  // DATAGATE_API_TENANT_SERVICE_H_
