// The tenant registry with provisioning. A tenant is served from the moment
// it is registered, which happens only after its storage is created and
// migrated; a failed create leaves nothing behind.
#ifndef DATAGATE_CORE_TENANTS_H_
#define DATAGATE_CORE_TENANTS_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/reply_size.h"
#include "store/cloud.h"
#include "store/store.h"

namespace datagate::core {

// Prepares a new tenant's database (the server applies the tenant
// migrations here). Runs before the tenant is visible to anyone.
using Provisioner = std::function<absl::Status(const std::string& id, store::Database& db, absl::Time deadline)>;

struct CreateTenantSpec {
  std::string id;
  std::string display_name;
  std::string request_id;
  absl::Time deadline = absl::InfiniteFuture();
};

struct TenantPage {
  std::vector<store::TenantRecord> tenants;
  std::string next_page_token;
};

inline constexpr size_t kMaxDisplayName = 200;

// Reply sizes of the registry's answers, in protobuf bytes as
// common/reply_size.h measures them.
struct TenantLimits {
  // The tenants of one ListTenants page (the server's message limit less
  // kListReplyReserve). A tenant is at most a few hundred bytes (ids and
  // display names are capped), so one always fits.
  int64_t max_page_bytes = (4 << 20) - kListReplyReserve;
};

// Thread-safe. Calls on one tenant wait for each other (in the store);
// calls on different tenants do not.
class Tenants {
 public:
  // `store` must outlive this object.
  Tenants(store::Store* store, Provisioner provision, TenantLimits limits = TenantLimits())
      : store_(store), provision_(std::move(provision)), limits_(limits) {}

  // Provisions and registers a tenant. ALREADY_EXISTS if registered, unless
  // this is a retry: the same request_id and display_name return the
  // tenant; the same request_id with other content (or for another tenant)
  // is INVALID_ARGUMENT. Errors of provisioning are returned as they are.
  absl::StatusOr<store::TenantRecord> Create(const CreateTenantSpec& spec);
  // NOT_FOUND if unknown; INVALID_ARGUMENT for a malformed id.
  absl::StatusOr<store::TenantRecord> Get(const std::string& id, absl::Time deadline);
  // One page in id order, of at most page_size tenants (default 50), ended
  // early (with a token) before a tenant that would take it past
  // max_page_bytes. INVALID_ARGUMENT for a bad token; RESOURCE_EXHAUSTED for
  // page_size above 1000.
  absl::StatusOr<TenantPage> List(int page_size, const std::string& page_token, absl::Time deadline);
  // Unregisters the tenant and deletes its data. NOT_FOUND if unknown.
  absl::Status Delete(const std::string& id, absl::Time deadline);
  // With a cloud store, Delete removes the tenant's cloud rows too (before
  // its local data, so a failure leaves everything and can be retried).
  // Call before serving. `hold_sync` (may be empty) stops the tenant's sync
  // first, within the call's deadline, so nothing is pushed while its rows
  // go; `release_sync` ends that (deleted or not).
  void SetCloud(store::CloudStore* cloud, std::function<absl::Status(const std::string&, absl::Time)> hold_sync,
                std::function<void(const std::string&, bool deleted)> release_sync) {
    cloud_ = cloud;
    hold_sync_ = std::move(hold_sync);
    release_sync_ = std::move(release_sync);
  }
  // The database of a registered tenant: INVALID_ARGUMENT for a malformed
  // id, NOT_FOUND if unknown or being created or deleted.
  absl::StatusOr<std::shared_ptr<store::Database>> Open(const std::string& id, absl::Time deadline);

 private:
  // The answer to a create of `spec` when `existing` is registered.
  static absl::StatusOr<store::TenantRecord> AnswerExisting(const CreateTenantSpec& spec,
                                                            const store::TenantRecord& existing);

  store::Store* const store_;
  const Provisioner provision_;
  store::CloudStore* cloud_ = nullptr;
  std::function<absl::Status(const std::string&, absl::Time)> hold_sync_;
  std::function<void(const std::string&, bool)> release_sync_;
  const TenantLimits limits_;
};

}  // namespace datagate::core

#endif  // DATAGATE_CORE_TENANTS_H_
