#include "core/migrations.h"

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace datagate::core {

absl::StatusOr<std::vector<Migrations::Resolved>> Migrations::Resolve(const MigrationTarget& target) {
  std::vector<Resolved> out;
  switch (target.kind) {
    case MigrationTarget::Kind::kMaster:
      out.push_back(Resolved{"master", store_->Master(), ""});
      break;
    case MigrationTarget::Kind::kTenant: {
      ASSIGN_OR_RETURN(std::shared_ptr<store::Database> db, tenants_->Open(target.tenant_id));
      out.push_back(Resolved{Tenants::TargetName(target.tenant_id), std::move(db), target.tenant_id});
      break;
    }
    case MigrationTarget::Kind::kAllTenants: {
      ASSIGN_OR_RETURN(const std::vector<std::string> ids, tenants_->AllIds());
      for (const std::string& id : ids) {
        ASSIGN_OR_RETURN(std::shared_ptr<store::Database> db, tenants_->Open(id));
        out.push_back(Resolved{Tenants::TargetName(id), std::move(db), id});
      }
      break;
    }
  }
  return out;
}

absl::StatusOr<std::vector<migrate::TargetState>> Migrations::Status(const std::optional<MigrationTarget>& target) {
  std::vector<Resolved> targets;
  if (target) {
    ASSIGN_OR_RETURN(targets, Resolve(*target));
  } else {
    ASSIGN_OR_RETURN(targets, Resolve({MigrationTarget::Kind::kMaster, ""}));
    ASSIGN_OR_RETURN(std::vector<Resolved> tenants, Resolve({MigrationTarget::Kind::kAllTenants, ""}));
    for (Resolved& r : tenants) targets.push_back(std::move(r));
  }
  std::vector<migrate::TargetState> states;
  for (const Resolved& r : targets) {
    const migrate::Migrator& m = r.name == "master" ? *master_ : *tenant_;
    ASSIGN_OR_RETURN(migrate::TargetState s, m.State(r.name, *r.db));
    states.push_back(std::move(s));
  }
  return states;
}

absl::StatusOr<MigrationPlan> Migrations::Run(const MigrationTarget& target, int64_t to_version, bool up,
                                              bool validate_only) {
  const migrate::Migrator& m = target.kind == MigrationTarget::Kind::kMaster ? *master_ : *tenant_;
  if (up && to_version > m.latest_version()) {
    return absl::InvalidArgumentError(
        absl::StrCat("to_version: there is no migration ", to_version, " (latest is ", m.latest_version(), ")"));
  }
  ASSIGN_OR_RETURN(std::vector<Resolved> targets, Resolve(target));
  const bool fan_out = target.kind == MigrationTarget::Kind::kAllTenants;
  MigrationPlan plan;
  for (const Resolved& r : targets) {
    absl::StatusOr<std::vector<migrate::Step>> steps =
        up ? m.PlanUp(r.name, *r.db, to_version) : m.PlanDown(r.name, *r.db, to_version);
    absl::Status status = steps.status();
    if (status.ok() && !validate_only) {
      status = m.Execute(*r.db, *steps);
      // The registry follows whatever did run, failure or not.
      if (!r.tenant_id.empty()) {
        if (absl::Status s = tenants_->RecordSchemaVersion(r.tenant_id, *r.db); !s.ok() && status.ok()) status = s;
      }
    }
    if (steps.ok()) plan.steps.insert(plan.steps.end(), steps->begin(), steps->end());
    if (!status.ok()) {
      if (!fan_out) return status;
      plan.errors.push_back(absl::StrCat(r.name, ": ", status.message()));
    }
  }
  return plan;
}

absl::Status Migrations::ApplyAllAtStart() {
  RETURN_IF_ERROR(master_->ApplyAll("master", *store_->Master()));
  ASSIGN_OR_RETURN(std::vector<Resolved> tenants, Resolve({MigrationTarget::Kind::kAllTenants, ""}));
  for (const Resolved& r : tenants) {
    RETURN_IF_ERROR(tenant_->ApplyAll(r.name, *r.db));
    RETURN_IF_ERROR(tenants_->RecordSchemaVersion(r.tenant_id, *r.db));
  }
  spdlog::info("migrations: master at {}, {} tenant(s) at {}", master_->latest_version(), tenants.size(),
               tenant_->latest_version());
  return absl::OkStatus();
}

}  // namespace datagate::core
