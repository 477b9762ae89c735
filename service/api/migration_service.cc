#include "api/migration_service.h"

#include "api/convert.h"
#include "api/status.h"
#include "common/errors.h"

namespace datagate::api {
namespace {

absl::StatusOr<migrate::MigrationTarget> TargetOf(const v1::MigrationTarget& t) {
  using Kind = migrate::MigrationTarget::Kind;
  switch (t.target_case()) {
    case v1::MigrationTarget::kMaster:
      if (t.master()) return migrate::MigrationTarget{Kind::kMaster, ""};
      break;
    case v1::MigrationTarget::kAllTenants:
      if (t.all_tenants()) return migrate::MigrationTarget{Kind::kAllTenants, ""};
      break;
    case v1::MigrationTarget::kTenantId:
      return migrate::MigrationTarget{Kind::kTenant, t.tenant_id()};
    case v1::MigrationTarget::kCloud:
      if (t.cloud()) return migrate::MigrationTarget{Kind::kCloud, ""};
      break;
    default:
      break;
  }
  return errors::InvalidField("target", "set one of master: true, tenant_id, all_tenants: true or cloud: true");
}

void AddFiles(v1::MigrationSet set, const migrate::Migrator& m, v1::ListMigrationsResponse* resp) {
  for (const migrate::MigrationFile& f : m.files()) ToProto(set, f, resp->add_migrations());
}

grpc::Status RunPlan(migrate::Migrations* m, const v1::MigrationTarget& target, int64_t to_version, bool up,
                     bool validate_only, absl::Time deadline, v1::MigrationPlanResponse* resp) {
  absl::StatusOr<migrate::MigrationTarget> t = TargetOf(target);
  if (!t.ok()) return ToGrpcStatus(t.status());
  absl::StatusOr<migrate::MigrationPlan> plan = m->Run(*t, to_version, up, validate_only, deadline);
  if (!plan.ok()) return ToGrpcStatus(plan.status());
  for (const migrate::Step& s : plan->steps) ToProto(s, resp->add_steps());
  for (const std::string& e : plan->errors) resp->add_errors(e);
  resp->set_omitted_steps(plan->omitted_steps);
  resp->set_omitted_errors(plan->omitted_errors);
  return grpc::Status::OK;
}

}  // namespace

grpc::Status MigrationServiceImpl::ListMigrations(grpc::ServerContext*, const v1::ListMigrationsRequest* req,
                                                  v1::ListMigrationsResponse* resp) {
  if (req->set() != v1::TENANT) AddFiles(v1::MASTER, migrations_->master(), resp);
  if (req->set() != v1::MASTER) AddFiles(v1::TENANT, migrations_->tenant(), resp);
  return grpc::Status::OK;
}

grpc::Status MigrationServiceImpl::GetMigrationStatus(grpc::ServerContext* ctx,
                                                      const v1::GetMigrationStatusRequest* req,
                                                      v1::GetMigrationStatusResponse* resp) {
  std::optional<migrate::MigrationTarget> target;
  if (req->has_target()) {
    absl::StatusOr<migrate::MigrationTarget> t = TargetOf(req->target());
    if (!t.ok()) return ToGrpcStatus(t.status());
    target = *t;
  }
  absl::StatusOr<migrate::StatusPage> page =
      migrations_->Status(target, req->page_size(), req->page_token(), DeadlineOf(*ctx));
  if (!page.ok()) return ToGrpcStatus(page.status());
  resp->set_next_page_token(page->next_page_token);
  for (const migrate::TargetState& s : page->targets) ToProto(s, resp->add_targets());
  return grpc::Status::OK;
}

grpc::Status MigrationServiceImpl::ApplyMigrations(grpc::ServerContext* ctx, const v1::ApplyMigrationsRequest* req,
                                                   v1::MigrationPlanResponse* resp) {
  return RunPlan(migrations_, req->target(), req->to_version(), true, req->validate_only(), DeadlineOf(*ctx), resp);
}

grpc::Status MigrationServiceImpl::RevertMigrations(grpc::ServerContext* ctx, const v1::RevertMigrationsRequest* req,
                                                    v1::MigrationPlanResponse* resp) {
  return RunPlan(migrations_, req->target(), req->to_version(), false, req->validate_only(), DeadlineOf(*ctx), resp);
}

}  // namespace datagate::api
