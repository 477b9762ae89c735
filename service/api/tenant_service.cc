#include "api/tenant_service.h"

#include "api/convert.h"
#include "api/status.h"

namespace datagate::api {
namespace {

void ToProto(const core::TenantInfo& info, v1::Tenant* out) {
  out->set_tenant_id(info.record.id);
  out->set_display_name(info.record.display_name);
  SetTimestamp(info.record.create_time_us, out->mutable_create_time());
  out->set_schema_version(info.schema_version);
}

}  // namespace

grpc::Status TenantServiceImpl::CreateTenant(grpc::ServerContext*, const v1::CreateTenantRequest* req,
                                             v1::Tenant* resp) {
  absl::StatusOr<core::TenantInfo> info = tenants_->Create(req->tenant_id(), req->display_name(), req->request_id());
  if (!info.ok()) return ToGrpcStatus(info.status());
  ToProto(*info, resp);
  return grpc::Status::OK;
}

grpc::Status TenantServiceImpl::GetTenant(grpc::ServerContext*, const v1::GetTenantRequest* req, v1::Tenant* resp) {
  absl::StatusOr<core::TenantInfo> info = tenants_->Get(req->tenant_id());
  if (!info.ok()) return ToGrpcStatus(info.status());
  ToProto(*info, resp);
  return grpc::Status::OK;
}

grpc::Status TenantServiceImpl::ListTenants(grpc::ServerContext*, const v1::ListTenantsRequest* req,
                                            v1::ListTenantsResponse* resp) {
  absl::StatusOr<core::TenantPage> page = tenants_->List(req->page_size(), req->page_token());
  if (!page.ok()) return ToGrpcStatus(page.status());
  for (const core::TenantInfo& info : page->tenants) ToProto(info, resp->add_tenants());
  resp->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

grpc::Status TenantServiceImpl::DeleteTenant(grpc::ServerContext*, const v1::DeleteTenantRequest* req,
                                             v1::DeleteTenantResponse*) {
  return ToGrpcStatus(tenants_->Delete(req->tenant_id()));
}

}  // namespace datagate::api
