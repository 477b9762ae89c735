// store::Store on a data folder: master.db holds the tenant registry and
// platform tables; tenants/<id>.db holds each tenant's data.
//
// Tenant databases are opened on first use and kept in a map of at most
// max_open_tenants (least recently used idle ones close). Each map entry
// also records what is being done to the tenant (opening, creating,
// deleting, closing), so that calls for one tenant wait for each other with
// their deadlines, while the map's lock itself is held only for map work:
// no file is ever opened, migrated, fsynced or closed under it.
#ifndef DATAGATE_STORE_SQLITE_SQLITE_STORE_H_
#define DATAGATE_STORE_SQLITE_SQLITE_STORE_H_

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "store/sqlite/registry.h"
#include "store/sqlite/sqlite_database.h"
#include "store/store.h"

namespace datagate::store::sqlite {

struct StoreOptions {
  DatabaseOptions database;
  // Tenant databases kept open; beyond this the least recently used one that
  // no call is using is closed (it reopens on its next use).
  size_t max_open_tenants = 256;
};

class SqliteStore final : public Store {
 public:
  // Creates the folder if needed, locks it against other processes
  // (FAILED_PRECONDITION if one holds it), opens the master database and
  // removes tenant files the registry does not know (left by a crash in the
  // middle of a create or delete).
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(const std::string& data_dir, const StoreOptions& options);
  ~SqliteStore() override;

  std::shared_ptr<Database> Master() override { return master_; }
  absl::StatusOr<TenantRecord> CreateTenant(const TenantRecord& record,
                                            absl::FunctionRef<absl::Status(Database& db, TenantRecord* record)> prepare,
                                            absl::Time deadline) override;
  absl::StatusOr<std::shared_ptr<Database>> OpenTenant(const std::string& id, absl::Time deadline) override;
  absl::StatusOr<std::optional<TenantRecord>> LookupTenant(const std::string& id, absl::Time deadline) override;
  absl::StatusOr<std::optional<TenantRecord>> LookupTenantByRequestId(const std::string& request_id,
                                                                      absl::Time deadline) override;
  absl::StatusOr<std::vector<TenantRecord>> ListTenants(const std::string& after, int limit,
                                                        absl::Time deadline) override;
  absl::Status SetTenantSchemaVersion(const std::string& id, int64_t version, absl::Time deadline) override;
  using Store::DeleteTenant;
  absl::Status DeleteTenant(const std::string& id, absl::Time deadline,
                            absl::FunctionRef<absl::Status()> first) override;

  // Tenant databases open now (for tests and metrics).
  size_t open_tenants();

  // Stops every statement and wait in every database (also ones being
  // opened or created) and closes them; later calls fail with UNAVAILABLE.
  // Keeps the data folder's lock: calls may still be returning.
  void StopServing();
  // StopServing, then lets go of the data folder's lock. Call once no call
  // uses the store any more.
  void Close();

 private:
  enum class State { kOpening, kCreating, kOpen, kDeleting, kClosing };
  struct Entry {
    State state = State::kOpening;
    std::shared_ptr<SqliteDatabase> db;  // set while kOpen
    uint64_t last_use = 0;
  };

  SqliteStore(std::string data_dir, StoreOptions options)
      : data_dir_(std::move(data_dir)), options_(WithStop(std::move(options), &stopping_)) {}
  static StoreOptions WithStop(StoreOptions options, const std::atomic<bool>* stop) {
    options.database.stop_all = stop;
    return options;
  }
  std::string TenantPath(const std::string& id) const;
  static void RemoveFiles(const std::string& path);
  absl::Status RemoveUnregisteredFiles();
  // Opens a registered tenant's existing file (no map involved).
  absl::StatusOr<std::shared_ptr<SqliteDatabase>> OpenRegistered(const std::string& id, absl::Time deadline);
  // Waits (mu_ held) until no open, delete or close of `id` (and with
  // `create_too`, no create) is under way, or until `deadline` (false).
  bool AwaitSettled(const std::string& id, absl::Time deadline, bool create_too) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Beyond max_open_tenants, marks the least recently used idle databases
  // kClosing and returns them; the caller closes them outside mu_ and then
  // calls Forget.
  std::vector<std::pair<std::string, std::shared_ptr<SqliteDatabase>>> PickIdle() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CloseIdle(std::vector<std::pair<std::string, std::shared_ptr<SqliteDatabase>>> victims);

  const std::string data_dir_;
  std::atomic<bool> stopping_{false};  // every database's stop_all
  const StoreOptions options_;
  int lock_fd_ = -1;  // flock on <data_dir>/datagate.lock: one process per folder
  std::shared_ptr<SqliteDatabase> master_;
  std::unique_ptr<Registry> registry_;

  absl::Mutex mu_;  // guards the map only; never held across I/O
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  uint64_t clock_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace datagate::store::sqlite

#endif  // DATAGATE_STORE_SQLITE_SQLITE_STORE_H_
