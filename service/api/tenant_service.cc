#include "api/tenant_service.h"

#include "api/convert.h"
#include "api/status.h"

namespace datagate::api {

grpc::Status TenantServiceImpl::CreateTenant(grpc::ServerContext* ctx, const v1::CreateTenantRequest* req,
                                             v1::Tenant* resp) {
  const core::CreateTenantSpec spec{req->tenant_id(), req->display_name(), req->request_id(), DeadlineOf(*ctx)};
  absl::StatusOr<store::TenantRecord> record = tenants_->Create(spec);
  if (!record.ok()) return ToGrpcStatus(record.status());
  ToProto(*record, resp);
  return grpc::Status::OK;
}

grpc::Status TenantServiceImpl::GetTenant(grpc::ServerContext* ctx, const v1::GetTenantRequest* req, v1::Tenant* resp) {
  absl::StatusOr<store::TenantRecord> record = tenants_->Get(req->tenant_id(), DeadlineOf(*ctx));
  if (!record.ok()) return ToGrpcStatus(record.status());
  ToProto(*record, resp);
  return grpc::Status::OK;
}

grpc::Status TenantServiceImpl::ListTenants(grpc::ServerContext* ctx, const v1::ListTenantsRequest* req,
                                            v1::ListTenantsResponse* resp) {
  absl::StatusOr<core::TenantPage> page = tenants_->List(req->page_size(), req->page_token(), DeadlineOf(*ctx));
  if (!page.ok()) return ToGrpcStatus(page.status());
  for (const store::TenantRecord& record : page->tenants) ToProto(record, resp->add_tenants());
  resp->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

grpc::Status TenantServiceImpl::DeleteTenant(grpc::ServerContext* ctx, const v1::DeleteTenantRequest* req,
                                             v1::DeleteTenantResponse*) {
  return ToGrpcStatus(tenants_->Delete(req->tenant_id(), DeadlineOf(*ctx)));
}

}  // namespace datagate::api
