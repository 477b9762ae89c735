#include "migrate/migrations.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/logging.h"
#include "common/page_token.h"
#include "common/status_macros.h"
#include "common/tenant_id.h"
#include "common/text.h"

namespace datagate::migrate {
namespace {

constexpr int kTenantBatch = 100;
// Page tokens of the two status listings (master then tenants; tenants).
constexpr uint64_t kStatusAllFingerprint = 0x7374'6174'7573'2d61ull;
constexpr uint64_t kStatusTenantsFingerprint = 0x7374'6174'7573'2d74ull;

// Bytes a target takes as an element of a status page.
int64_t ListedStateBytes(const TargetState& s) {
  int64_t applied = 0;
  for (const AppliedState& a : s.applied) {
    applied += FieldBytes(AppliedMigrationReplyBytes(a.record.name, a.record.checksum));
  }
  return FieldBytes(TargetStatusReplyBytes(s.target, s.error, applied, static_cast<int64_t>(s.pending.size())));
}

// Bytes a step takes as an element of a plan.
int64_t ListedStepBytes(const Step& step) { return FieldBytes(MigrationStepReplyBytes(step.target, step.name)); }

}  // namespace

// Collects a plan's steps and errors, each in order, while they fit the
// listing limits, and counts the rest as omitted: errors take at most half
// of the byte budget; steps take the rest (Finish drops the last listed
// steps if errors came after them).
class PlanListing {
 public:
  explicit PlanListing(const ListingLimits& limits) : limits_(limits) {}

  void AddStep(Step step) {
    const int64_t bytes = ListedStepBytes(step);
    if (plan_.omitted_steps == 0 && plan_.steps.size() < limits_.max_listed_steps &&
        step_bytes_ + bytes <= limits_.max_plan_bytes) {
      step_bytes_ += bytes;
      plan_.steps.push_back(std::move(step));
    } else {
      ++plan_.omitted_steps;
    }
  }

  void AddError(absl::string_view message) {
    std::string listed = SanitizeUtf8(message, kMaxListedErrorBytes);
    const int64_t bytes = FieldBytes(static_cast<int64_t>(listed.size()));
    if (plan_.omitted_errors == 0 && plan_.errors.size() < limits_.max_listed_errors &&
        error_bytes_ + bytes <= limits_.max_plan_bytes / 2) {
      error_bytes_ += bytes;
      plan_.errors.push_back(std::move(listed));
    } else {
      ++plan_.omitted_errors;
    }
  }

  MigrationPlan Finish() && {
    while (!plan_.steps.empty() && step_bytes_ + error_bytes_ > limits_.max_plan_bytes) {
      step_bytes_ -= ListedStepBytes(plan_.steps.back());
      plan_.steps.pop_back();
      ++plan_.omitted_steps;
    }
    return std::move(plan_);
  }

 private:
  const ListingLimits& limits_;
  MigrationPlan plan_;
  int64_t step_bytes_ = 0;
  int64_t error_bytes_ = 0;
};

absl::Status Migrations::Acquire(const std::string& target, absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  struct Free {
    const Migrations* m;
    const std::string* target;
    bool operator()() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(m->mu_) { return m->busy_.count(*target) == 0; }
  } free{this, &target};
  if (!mu_.AwaitWithDeadline(absl::Condition(&free), deadline)) {
    return errors::DeadlineWhileWaiting(absl::StrCat("another migration call on ", target, " to finish"));
  }
  busy_.insert(target);
  return absl::OkStatus();
}

void Migrations::Release(const std::string& target) {
  absl::MutexLock lock(&mu_);
  busy_.erase(target);
}

absl::Status Migrations::ForEachTenant(const std::string& after, absl::Time deadline,
                                       absl::FunctionRef<absl::StatusOr<bool>(const std::string&)> fn) {
  std::string cursor = after;
  while (true) {
    ASSIGN_OR_RETURN(const std::vector<store::TenantRecord> batch, store_->ListTenants(cursor, kTenantBatch, deadline));
    for (const store::TenantRecord& r : batch) {
      // A tenant whose delete did not finish is not served: no fan-out
      // (the start's above all) may stop at it.
      if (r.deleting) {
        spdlog::warn(
            "tenant '{}' is being deleted (a DeleteTenant did not finish): skipped, and not served until "
            "DeleteTenant is called again",
            r.id);
        continue;
      }
      ASSIGN_OR_RETURN(const bool more, fn(r.id));
      if (!more) return absl::OkStatus();
    }
    if (static_cast<int>(batch.size()) < kTenantBatch) return absl::OkStatus();
    cursor = batch.back().id;
  }
}

absl::Status Migrations::RecordSchemaVersion(const std::string& id, store::Database& db, absl::Time deadline) {
  ASSIGN_OR_RETURN(const std::vector<store::AppliedMigration> applied, db.ListApplied(deadline));
  const int64_t version = applied.empty() ? 0 : applied.back().version;
  // Every start visits every tenant: skip the master write (an fsync under
  // FULL) when nothing changed.
  ASSIGN_OR_RETURN(const std::optional<store::TenantRecord> record, store_->LookupTenant(id, deadline));
  if (!record) return errors::UnknownTenant(id);
  if (record->schema_version == version) return absl::OkStatus();
  return store_->SetTenantSchemaVersion(id, version, deadline);
}

absl::StatusOr<StatusPage> Migrations::Status(const std::optional<MigrationTarget>& target, int page_size,
                                              const std::string& page_token, absl::Time deadline) {
  if (page_size < 0) return errors::InvalidField("page_size", "must not be negative");
  if (page_size > kMaxStatusPageSize) return errors::TooLarge("page_size", page_size, kMaxStatusPageSize);
  StatusPage page;
  int64_t bytes = 0;
  // Lists `s` if it fits the page (false if not); the first always joins
  // unless it alone is over the budget.
  auto add = [&](TargetState s) -> absl::StatusOr<bool> {
    s.error = SanitizeUtf8(s.error, kMaxListedErrorBytes);
    const int64_t size = ListedStateBytes(s);
    if (bytes + size > limits_.max_status_bytes) {
      if (page.targets.empty()) return errors::StatusTooLarge(s.target, size, limits_.max_status_bytes);
      return false;
    }
    bytes += size;
    page.targets.push_back(std::move(s));
    return true;
  };
  if (target && target->kind == MigrationTarget::Kind::kMaster) {
    ASSIGN_OR_RETURN(TargetState s, master_->State("master", *store_->Master(), deadline));
    RETURN_IF_ERROR(add(std::move(s)).status());
    return page;
  }
  if (target && target->kind == MigrationTarget::Kind::kCloud) {
    if (cloud_db_ == nullptr) return errors::CloudNotConfigured("the migration target 'cloud'");
    ASSIGN_OR_RETURN(TargetState s, cloud_->State("cloud", *cloud_db_, deadline));
    RETURN_IF_ERROR(add(std::move(s)).status());
    return page;
  }
  if (target && target->kind == MigrationTarget::Kind::kTenant) {
    ASSIGN_OR_RETURN(std::shared_ptr<store::Database> db, store_->OpenTenant(target->tenant_id, deadline));
    ASSIGN_OR_RETURN(TargetState s, tenant_->State(TenantTarget(target->tenant_id), *db, deadline));
    RETURN_IF_ERROR(add(std::move(s)).status());
    return page;
  }
  // A page over many targets: the master first (unless only tenants were
  // asked for), then tenants in id order after the token's cursor.
  const bool with_master = !target.has_value();
  const uint64_t fingerprint = with_master ? kStatusAllFingerprint : kStatusTenantsFingerprint;
  const int limit = page_size == 0 ? kDefaultStatusPageSize : page_size;
  std::string after;
  if (!page_token.empty()) {
    ASSIGN_OR_RETURN(after, DecodeIdPageToken(page_token, fingerprint));
  } else {
    if (with_master) {
      ASSIGN_OR_RETURN(TargetState s, master_->State("master", *store_->Master(), deadline));
      RETURN_IF_ERROR(add(std::move(s)).status());
    }
    if (cloud_db_ != nullptr) {
      // A cloud that cannot be read now is listed with its error.
      absl::StatusOr<TargetState> s = cloud_->State("cloud", *cloud_db_, deadline);
      if (!s.ok()) {
        if (s.status().code() == absl::StatusCode::kDeadlineExceeded) return s.status();
        TargetState failed;
        failed.target = "cloud";
        failed.latest_version = cloud_->latest_version();
        failed.error = std::string(s.status().message());
        s = std::move(failed);
      }
      RETURN_IF_ERROR(add(*std::move(s)).status());
    }
  }
  std::string last = after;
  RETURN_IF_ERROR(ForEachTenant(after, deadline, [&](const std::string& id) -> absl::StatusOr<bool> {
    if (static_cast<int>(page.targets.size()) >= limit) {
      page.next_page_token = EncodeIdPageToken(fingerprint, last);
      return false;
    }
    absl::StatusOr<std::shared_ptr<store::Database>> db = store_->OpenTenant(id, deadline);
    if (db.status().code() == absl::StatusCode::kNotFound) return true;  // deleted meanwhile
    absl::StatusOr<TargetState> s = db.ok() ? tenant_->State(TenantTarget(id), **db, deadline) : db.status();
    if (!s.ok()) {
      if (s.status().code() == absl::StatusCode::kDeadlineExceeded) return s.status();
      // One tenant that cannot be read now (locked, out of files, missing
      // file) is listed with its error; the others are still reported.
      TargetState failed;
      failed.target = TenantTarget(id);
      failed.latest_version = tenant_->latest_version();
      failed.error = std::string(s.status().message());
      s = std::move(failed);
    }
    ASSIGN_OR_RETURN(const bool added, add(*std::move(s)));
    if (!added) {  // it starts the next page
      page.next_page_token = EncodeIdPageToken(fingerprint, last);
      return false;
    }
    last = id;
    return true;
  }));
  return page;
}

absl::Status Migrations::RunOne(const std::string& target, const std::string& tenant_id, store::Database& db,
                                const Migrator& m, int64_t to_version, bool up, bool validate_only, absl::Time deadline,
                                PlanListing* plan) {
  RETURN_IF_ERROR(Acquire(target, deadline));
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(std::vector<Step> steps,
                     up ? m.PlanUp(target, db, to_version, deadline) : m.PlanDown(target, db, to_version, deadline));
    absl::Status run;
    if (!validate_only) {
      run = m.Execute(db, steps, deadline);
      // The registry follows whatever did run, failure or not. It is
      // bookkeeping (GetTenant's schema_version; the next migration call or
      // start records it again): its failure must not turn steps that
      // committed into an error, nor hold the answer long.
      if (!tenant_id.empty()) {
        const absl::Time record_by = std::min(deadline, absl::Now() + absl::Seconds(1));
        if (absl::Status s = RecordSchemaVersion(tenant_id, db, record_by); !s.ok()) {
          spdlog::warn(
              "{}: schema version not recorded in the registry (it will be at the next migration call or "
              "start): {}",
              target, s.message());
        }
      }
    }
    for (Step& step : steps) plan->AddStep(std::move(step));
    return run;
  }();
  Release(target);
  return status.ok() ? status : errors::InTarget(target, status);
}

absl::StatusOr<MigrationPlan> Migrations::Run(const MigrationTarget& target, int64_t to_version, bool up,
                                              bool validate_only, absl::Time deadline) {
  if (target.kind == MigrationTarget::Kind::kCloud && cloud_db_ == nullptr) {
    return errors::CloudNotConfigured("the migration target 'cloud'");
  }
  const Migrator& m = target.kind == MigrationTarget::Kind::kMaster  ? *master_
                      : target.kind == MigrationTarget::Kind::kCloud ? *cloud_
                                                                     : *tenant_;
  RETURN_IF_ERROR(m.CheckGoal(to_version));  // once, before any target
  PlanListing plan(limits_);
  // The cloud's schema goes first: queued writes wait for it (schema first).
  const bool with_cloud = target.kind == MigrationTarget::Kind::kCloud ||
                          (target.kind == MigrationTarget::Kind::kAllTenants && cloud_db_ != nullptr);
  if (with_cloud) {
    absl::Status s = RunOne("cloud", "", *cloud_db_, *cloud_, to_version, up, validate_only, deadline, &plan);
    if (!validate_only && cloud_changed_) cloud_changed_();
    if (target.kind == MigrationTarget::Kind::kCloud) {
      RETURN_IF_ERROR(s);
    } else if (!s.ok()) {
      plan.AddError(s.message());
    }
  }
  switch (target.kind) {
    case MigrationTarget::Kind::kCloud:
      break;
    case MigrationTarget::Kind::kMaster:
      RETURN_IF_ERROR(RunOne("master", "", *store_->Master(), m, to_version, up, validate_only, deadline, &plan));
      break;
    case MigrationTarget::Kind::kTenant: {
      RETURN_IF_ERROR(ValidateTenantId(target.tenant_id));
      ASSIGN_OR_RETURN(std::shared_ptr<store::Database> db, store_->OpenTenant(target.tenant_id, deadline));
      RETURN_IF_ERROR(RunOne(TenantTarget(target.tenant_id), target.tenant_id, *db, m, to_version, up, validate_only,
                             deadline, &plan));
      break;
    }
    case MigrationTarget::Kind::kAllTenants:
      RETURN_IF_ERROR(ForEachTenant("", deadline, [&](const std::string& id) -> absl::StatusOr<bool> {
        if (absl::Now() > deadline) return errors::DeadlineInFanOut(id);
        absl::StatusOr<std::shared_ptr<store::Database>> db = store_->OpenTenant(id, deadline);
        absl::Status s = db.ok() ? RunOne(TenantTarget(id), id, **db, m, to_version, up, validate_only, deadline, &plan)
                                 : db.status();
        if (s.ok() || s.code() == absl::StatusCode::kNotFound) return true;  // NOT_FOUND: deleted meanwhile
        plan.AddError(errors::InTarget(TenantTarget(id), s).message());
        return true;
      }));
      break;
  }
  return std::move(plan).Finish();
}

absl::Status Migrations::ApplyAllAtStart() {
  const absl::Time forever = absl::InfiniteFuture();
  RETURN_IF_ERROR(master_->ApplyAll("master", *store_->Master(), forever));
  int64_t tenants = 0;
  RETURN_IF_ERROR(ForEachTenant("", forever, [&](const std::string& id) -> absl::StatusOr<bool> {
    ASSIGN_OR_RETURN(std::shared_ptr<store::Database> db, store_->OpenTenant(id, forever));
    RETURN_IF_ERROR(tenant_->ApplyAll(TenantTarget(id), *db, forever));
    RETURN_IF_ERROR(RecordSchemaVersion(id, *db, forever));
    ++tenants;
    return true;
  }));
  spdlog::info("migrations: master at {}, {} tenant(s) at {}", master_->latest_version(), tenants,
               tenant_->latest_version());
  return absl::OkStatus();
}

int64_t LargestFolderReplyBytes(const Migrator& master, const Migrator& tenant) {
  int64_t listing = 0;  // ListMigrations: both sets
  int64_t largest = 0;
  // The longest target name, with an error of the longest listed length.
  const std::string target = TenantTarget(std::string(kMaxTenantIdLength, 'x'));
  const std::string error(kMaxListedErrorBytes, 'x');
  for (const Migrator* m : {&master, &tenant}) {
    int64_t applied = 0;
    for (const MigrationFile& f : m->files()) {
      listing += FieldBytes(MigrationFileReplyBytes(f.name, f.checksum));
      applied += FieldBytes(AppliedMigrationReplyBytes(f.name, f.checksum));
    }
    largest = std::max(largest, FieldBytes(TargetStatusReplyBytes(target, error, applied, 0)));
  }
  return std::max(largest, listing);
}

}  // namespace datagate::migrate
