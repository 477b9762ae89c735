#include "migrate/migrator.h"

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace datagate::migrate {

std::string TenantTarget(absl::string_view id) { return absl::StrCat("tenant/", id); }

const MigrationFile* Migrator::Find(int64_t version) const {
  for (const MigrationFile& f : files_) {
    if (f.version == version) return &f;
  }
  return nullptr;
}

absl::Status Migrator::CheckGoal(int64_t to_version) const {
  if (to_version < 0) return errors::InvalidField("to_version", "must not be negative");
  if (to_version != 0 && Find(to_version) == nullptr) {
    return errors::InvalidField(
        "to_version", absl::StrCat("there is no migration ", to_version, " (latest is ", latest_version(), ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<TargetState> Migrator::State(const std::string& target, store::Database& db, absl::Time deadline) const {
  ASSIGN_OR_RETURN(const std::vector<store::AppliedMigration> applied, db.ListApplied(deadline));
  TargetState state;
  state.target = target;
  state.latest_version = latest_version();
  for (const store::AppliedMigration& a : applied) {
    const MigrationFile* f = Find(a.version);
    state.applied.push_back(AppliedState{a, f != nullptr && f->checksum != a.checksum});
    state.current_version = std::max(state.current_version, a.version);
  }
  for (const MigrationFile& f : files_) {
    bool done = false;
    for (const auto& a : applied) done = done || a.version == f.version;
    if (!done) state.pending.push_back(f.version);
  }
  if (absl::Status s = CheckApplied(target, applied); !s.ok()) state.error = std::string(s.message());
  return state;
}

absl::Status Migrator::CheckApplied(const std::string& target,
                                    const std::vector<store::AppliedMigration>& applied) const {
  for (const store::AppliedMigration& a : applied) {
    const MigrationFile* f = Find(a.version);
    if (f == nullptr) {
      return errors::MigrationUnavailable(
          target, a.version, absl::StrCat("'", a.name, "' is applied but its file is missing from the folder"));
    }
    if (f->checksum != a.checksum) return errors::ChecksumMismatch(target, a.version, a.name, a.checksum, f->checksum);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Step>> Migrator::PlanUp(const std::string& target, store::Database& db, int64_t to_version,
                                                   absl::Time deadline) const {
  RETURN_IF_ERROR(CheckGoal(to_version));
  if (to_version == 0) to_version = latest_version();
  ASSIGN_OR_RETURN(const std::vector<store::AppliedMigration> applied, db.ListApplied(deadline));
  RETURN_IF_ERROR(CheckApplied(target, applied));
  const int64_t current = applied.empty() ? 0 : applied.back().version;
  std::vector<Step> steps;
  size_t next = 0;
  for (const MigrationFile& f : files_) {
    if (next < applied.size() && applied[next].version == f.version) {
      ++next;
      continue;
    }
    if (f.version < current) {
      return errors::MigrationUnavailable(
          target, f.version,
          absl::StrCat("'", f.name, "' is not applied but the later ", current,
                       " is: give new migrations versions above the latest applied one"));
    }
    if (f.version <= to_version) steps.push_back(Step{target, f.version, f.name, true, false});
  }
  return steps;
}

absl::StatusOr<std::vector<Step>> Migrator::PlanDown(const std::string& target, store::Database& db, int64_t to_version,
                                                     absl::Time deadline) const {
  RETURN_IF_ERROR(CheckGoal(to_version));
  ASSIGN_OR_RETURN(const std::vector<store::AppliedMigration> applied, db.ListApplied(deadline));
  std::vector<Step> steps;
  for (auto it = applied.rbegin(); it != applied.rend() && it->version > to_version; ++it) {
    const MigrationFile* f = Find(it->version);
    if (f == nullptr) {
      return errors::MigrationUnavailable(target, it->version, "cannot be reverted: its file is missing");
    }
    if (f->checksum != it->checksum) {
      return errors::ChecksumMismatch(target, it->version, it->name, it->checksum, f->checksum);
    }
    if (!f->has_down) {
      return errors::MigrationUnavailable(target, it->version, "cannot be reverted: it has no down SQL");
    }
    steps.push_back(Step{target, f->version, f->name, false, false});
  }
  return steps;
}

absl::Status Migrator::Execute(store::Database& db, std::vector<Step>& steps, absl::Time deadline) const {
  constexpr int kMaxAttempts = 3;
  int64_t done = 0;
  for (Step& step : steps) {
    const MigrationFile* f = Find(step.version);
    if (f == nullptr) return errors::MigrationUnavailable(step.target, step.version, "is not in the folder");
    const store::MigrationScript script{store::AppliedMigration{f->version, f->name, f->checksum, 0},
                                        step.up ? f->up_sql : f->down_sql, step.up, step.target,
                                        step.up ? f->up_file : f->down_file};
    absl::Status status;
    for (int attempt = 1; attempt <= kMaxAttempts; ++attempt) {
      status = db.Migrate(script, deadline);
      if (status.code() != absl::StatusCode::kUnavailable || attempt == kMaxAttempts) break;
      // Busy (another process holds the file): back off, within the deadline.
      const absl::Duration nap = absl::Milliseconds(100 * attempt);
      if (absl::Now() + nap > deadline) break;
      std::this_thread::sleep_for(absl::ToChronoMilliseconds(nap));
    }
    if (!status.ok()) {
      // Earlier steps committed, each in its own transaction: say so, so
      // the caller does not take the error for "nothing changed".
      if (done > 0) status = errors::AfterAppliedSteps(status, done, steps[done - 1].version, step.up);
      spdlog::error("{}", errors::InTarget(step.target, status).message());
      return errors::InTarget(step.target, status);
    }
    step.done = true;
    ++done;
    spdlog::info("{}: migration {} '{}' {} applied", step.target, f->version, f->name, step.up ? "up" : "down");
  }
  return absl::OkStatus();
}

absl::Status Migrator::ApplyAll(const std::string& target, store::Database& db, absl::Time deadline) const {
  ASSIGN_OR_RETURN(std::vector<Step> steps, PlanUp(target, db, 0, deadline));
  return Execute(db, steps, deadline);
}

}  // namespace datagate::migrate
