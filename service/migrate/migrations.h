// Migration operations across targets: the master database, one tenant, or
// every tenant (fan-out with a result per target). Fan-outs hold one tenant
// database at a time, so they work with any number of tenants within the
// store's open-database limit, and their answers are bounded in size: in
// counts and in bytes as the reply carries them (common/reply_size.h), so
// that a plan that ran can always be answered.
#ifndef DATAGATE_MIGRATE_MIGRATIONS_H_
#define DATAGATE_MIGRATE_MIGRATIONS_H_

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/reply_size.h"
#include "migrate/migrator.h"
#include "store/store.h"

namespace datagate::migrate {

struct MigrationTarget {
  // kAllTenants: the cloud's shared schema (when there is one), then every
  // tenant's database.
  enum class Kind { kMaster, kTenant, kAllTenants, kCloud };
  Kind kind = Kind::kMaster;
  std::string tenant_id;  // for kTenant
};

struct MigrationPlan {
  std::vector<Step> steps;
  std::vector<std::string> errors;  // "target: message", each at most kMaxListedErrorBytes
  int64_t omitted_steps = 0;        // beyond the listing limits
  int64_t omitted_errors = 0;
};

struct StatusPage {
  std::vector<TargetState> targets;
  std::string next_page_token;
};

inline constexpr int kDefaultStatusPageSize = 100;
inline constexpr int kMaxStatusPageSize = 1000;

// Bounds of what one answer lists. Byte budgets count the listed items as
// common/reply_size.h measures them; the server derives them from its
// message limit, less kListReplyReserve for the other fields.
struct ListingLimits {
  size_t max_listed_steps = 10000;
  size_t max_listed_errors = 1000;
  // A plan's steps and errors together; errors take at most half of it, so
  // steps are listed beside them.
  int64_t max_plan_bytes = (4 << 20) - kListReplyReserve;
  // The targets of a status page (it ends early, with a token, before a
  // target that would not fit).
  int64_t max_status_bytes = (4 << 20) - kListReplyReserve;
};

class PlanListing;

// The largest answer the migrations folder alone makes: the listing of both
// sets (ListMigrations, which is not paged) or the status of one target with
// every migration of its set applied and an error, in bytes as
// common/reply_size.h measures them. The server checks it against its
// message limit at start.
int64_t LargestFolderReplyBytes(const Migrator& master, const Migrator& tenant);

// Thread-safe; pointers must outlive it. Plans and runs on one target take
// turns: a second call on the same target waits (until its deadline).
class Migrations {
 public:
  Migrations(store::Store* store, const Migrator* master, const Migrator* tenant,
             ListingLimits limits = ListingLimits())
      : store_(store), master_(master), tenant_(tenant), limits_(limits) {}

  // Adds the cloud's shared schema as a target ("cloud"): `schema` runs the
  // tenant migrations in the cloud's dialect (`cloud`); `changed` is called
  // after steps ran there. Call before serving.
  void SetCloud(store::Database* schema, const Migrator* cloud, std::function<void()> changed) {
    cloud_db_ = schema;
    cloud_ = cloud;
    cloud_changed_ = std::move(changed);
  }

  const Migrator& master() const { return *master_; }
  const Migrator& tenant() const { return *tenant_; }

  // The status of one target, or a page of them: with no target, the
  // master, the cloud, then every tenant in id order; with kAllTenants, the
  // cloud and every tenant. kCloud without a cloud is FAILED_PRECONDITION.
  // A page ends early (with a token) before a target that would take it past
  // max_status_bytes; a target's error is cut to kMaxListedErrorBytes.
  // INVALID_ARGUMENT for a bad page size or token; RESOURCE_EXHAUSTED when
  // one target's status alone is over the budget (its records hold more
  // than the migrations folder: the server checks, with
  // LargestFolderReplyBytes, that the folder's own fit).
  absl::StatusOr<StatusPage> Status(const std::optional<MigrationTarget>& target, int page_size,
                                    const std::string& page_token, absl::Time deadline);

  // Plans (and unless validate_only, runs) migrations up to `to_version` or
  // down to it. Arguments are checked once, before any target. A
  // single-target failure is returned as a status; with kAllTenants each
  // target's failure is listed in the plan's errors (cut to
  // kMaxListedErrorBytes) and the other targets still run (a tenant deleted
  // meanwhile is skipped). The plan lists steps and errors in order while
  // they fit the limits and counts the rest as omitted, so it always fits.
  absl::StatusOr<MigrationPlan> Run(const MigrationTarget& target, int64_t to_version, bool up, bool validate_only,
                                    absl::Time deadline);

  // Brings the master and every tenant to the latest version (at start-up).
  // The cloud's schema is brought up by whoever connects the cloud, each
  // time it connects (server/cloud.h): it may come after start-up.
  absl::Status ApplyAllAtStart();

 private:
  // Takes `target`'s turn (DEADLINE_EXCEEDED if not free by `deadline`).
  absl::Status Acquire(const std::string& target, absl::Time deadline);
  void Release(const std::string& target);
  // Plans and runs on one database, adding to `plan`; records a tenant's
  // schema version after running.
  absl::Status RunOne(const std::string& target, const std::string& tenant_id, store::Database& db, const Migrator& m,
                      int64_t to_version, bool up, bool validate_only, absl::Time deadline, PlanListing* plan);
  // Calls fn for each tenant id after `after`, in order, in batches read
  // from the registry by `deadline`; passes tenants being deleted by.
  absl::Status ForEachTenant(const std::string& after, absl::Time deadline,
                             absl::FunctionRef<absl::StatusOr<bool>(const std::string&)> fn);
  absl::Status RecordSchemaVersion(const std::string& id, store::Database& db, absl::Time deadline);

  store::Store* const store_;
  const Migrator* const master_;
  const Migrator* const tenant_;
  const ListingLimits limits_;
  store::Database* cloud_db_ = nullptr;
  const Migrator* cloud_ = nullptr;
  std::function<void()> cloud_changed_;

  absl::Mutex mu_;  // held only to take or give back a turn
  std::set<std::string> busy_ ABSL_GUARDED_BY(mu_);
};

}  // namespace datagate::migrate

#endif  // DATAGATE_MIGRATE_MIGRATIONS_H_
