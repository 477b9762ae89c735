// Planning and running migrations of one set (master or tenant) against
// store::Database targets.
#ifndef DATAGATE_MIGRATE_MIGRATOR_H_
#define DATAGATE_MIGRATE_MIGRATOR_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "migrate/migration_files.h"
#include "store/store.h"

namespace datagate::migrate {

struct Step {
  std::string target;  // "master" or "tenant/<id>"
  int64_t version = 0;
  std::string name;
  bool up = true;
  bool done = false;
};

struct AppliedState {
  store::AppliedMigration record;
  bool checksum_mismatch = false;
};

struct TargetState {
  std::string target;
  int64_t current_version = 0;
  int64_t latest_version = 0;
  std::vector<AppliedState> applied;
  std::vector<int64_t> pending;
  std::string error;  // why the target cannot be migrated as is, if so
};

// "tenant/<id>", the target name of a tenant in reports and messages.
std::string TenantTarget(absl::string_view id);

// Immutable after construction; thread-safe. Migrations of one database are
// serialized by migrate::Migrations (plans) and the database's writer
// (each step).
class Migrator {
 public:
  explicit Migrator(std::vector<MigrationFile> files) : files_(std::move(files)) {}

  const std::vector<MigrationFile>& files() const { return files_; }
  int64_t latest_version() const { return files_.empty() ? 0 : files_.back().version; }

  // INVALID_ARGUMENT unless `to_version` can be the goal of an apply (up:
  // 0 is the latest) or a revert (0 reverts everything): not negative, and
  // 0 or a version in the folder.
  absl::Status CheckGoal(int64_t to_version) const;

  // What is applied and pending on `db`.
  absl::StatusOr<TargetState> State(const std::string& target, store::Database& db,
                                    absl::Time deadline = absl::InfiniteFuture()) const;

  // Steps that bring `db` up to `to_version` (0: latest). FAILED_PRECONDITION
  // for a changed applied file, an applied version the folder lacks, or an
  // unapplied older version.
  absl::StatusOr<std::vector<Step>> PlanUp(const std::string& target, store::Database& db, int64_t to_version,
                                           absl::Time deadline = absl::InfiniteFuture()) const;

  // Steps that revert `db` down to `to_version`, newest first.
  // FAILED_PRECONDITION when a step has no down SQL or its file changed.
  absl::StatusOr<std::vector<Step>> PlanDown(const std::string& target, store::Database& db, int64_t to_version,
                                             absl::Time deadline = absl::InfiniteFuture()) const;

  // Runs the steps in order, each in its own transaction, marking them done;
  // stops at the first failure and returns it. A step the database was too
  // busy for is retried while the deadline allows.
  absl::Status Execute(store::Database& db, std::vector<Step>& steps,
                       absl::Time deadline = absl::InfiniteFuture()) const;

  // PlanUp to the latest version, then Execute.
  absl::Status ApplyAll(const std::string& target, store::Database& db,
                        absl::Time deadline = absl::InfiniteFuture()) const;

 private:
  const MigrationFile* Find(int64_t version) const;
  absl::Status CheckApplied(const std::string& target, const std::vector<store::AppliedMigration>& applied) const;

  const std::vector<MigrationFile> files_;
};

}  // namespace datagate::migrate

#endif  // DATAGATE_MIGRATE_MIGRATOR_H_
