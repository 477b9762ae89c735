// Migration operations across targets: the master database, one tenant, or
// every tenant (fan-out with a result per target).
#ifndef DATAGATE_CORE_MIGRATIONS_H_
#define DATAGATE_CORE_MIGRATIONS_H_

#include <optional>
#include <string>
#include <vector>

#include "core/tenants.h"
#include "migrate/migrator.h"

namespace datagate::core {

struct MigrationTarget {
  enum class Kind { kMaster, kTenant, kAllTenants };
  Kind kind = Kind::kMaster;
  std::string tenant_id;  // for kTenant
};

struct MigrationPlan {
  std::vector<migrate::Step> steps;
  std::vector<std::string> errors;  // "target: message"
};

// Thread-safe; pointers must outlive it.
class Migrations {
 public:
  Migrations(store::Store* store, Tenants* tenants, const migrate::Migrator* master, const migrate::Migrator* tenant)
      : store_(store), tenants_(tenants), master_(master), tenant_(tenant) {}

  const migrate::Migrator& master() const { return *master_; }
  const migrate::Migrator& tenant() const { return *tenant_; }

  // Status of the targets; every one (master, then tenants) when nullopt.
  absl::StatusOr<std::vector<migrate::TargetState>> Status(const std::optional<MigrationTarget>& target);

  // Plans (and unless validate_only, runs) migrations up to `to_version` or
  // down to it. A single-target failure is returned as a status; with
  // kAllTenants each target's failure is listed in the plan's errors and
  // the other targets still run.
  absl::StatusOr<MigrationPlan> Run(const MigrationTarget& target, int64_t to_version, bool up, bool validate_only);

  // Brings the master and every tenant to the latest version (at start-up).
  absl::Status ApplyAllAtStart();

 private:
  struct Resolved {
    std::string name;
    std::shared_ptr<store::Database> db;
    std::string tenant_id;  // empty for the master
  };
  absl::StatusOr<std::vector<Resolved>> Resolve(const MigrationTarget& target);

  store::Store* const store_;
  Tenants* const tenants_;
  const migrate::Migrator* const master_;
  const migrate::Migrator* const tenant_;
};

}  // namespace datagate::core

#endif  // DATAGATE_CORE_MIGRATIONS_H_
