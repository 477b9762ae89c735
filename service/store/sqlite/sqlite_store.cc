#include "store/sqlite/sqlite_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/tenant_id.h"

namespace datagate::store::sqlite {

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& data_dir,
                                                               const StoreOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(data_dir) / "tenants", ec);
  if (ec) return errors::UnusablePath("data_dir", data_dir, absl::StrCat("cannot be created: ", ec.message()));
  std::unique_ptr<SqliteStore> store(new SqliteStore(data_dir, options));
  const std::string lock_path = absl::StrCat(data_dir, "/datagate.lock");
  store->lock_fd_ = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (store->lock_fd_ < 0) {
    return errors::UnusablePath("data_dir", lock_path, absl::StrCat("cannot be opened: ", std::strerror(errno)));
  }
  if (flock(store->lock_fd_, LOCK_EX | LOCK_NB) != 0) return errors::DataFolderInUse(data_dir);
  ASSIGN_OR_RETURN(store->master_,
                   SqliteDatabase::Open(absl::StrCat(data_dir, "/master.db"), store->options_.database));
  store->registry_ = std::make_unique<Registry>(store->master_.get());
  RETURN_IF_ERROR(store->registry_->Init());
  RETURN_IF_ERROR(store->RemoveUnregisteredFiles());
  return store;
}

absl::Status SqliteStore::RemoveUnregisteredFiles() {
  // Files of tenants whose create or delete was cut short by a crash: a
  // deleted tenant's data must not outlive the delete.
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(absl::StrCat(data_dir_, "/tenants"), ec)) {
    const std::filesystem::path path = entry.path();
    if (path.extension() != ".db") continue;
    const std::string id = path.stem().string();
    ASSIGN_OR_RETURN(std::optional<TenantRecord> record, registry_->Lookup(id, absl::InfiniteFuture()));
    if (record) continue;
    spdlog::warn("removing {}: no tenant '{}' is registered (an interrupted create or delete)", path.string(), id);
    RemoveFiles(path.string());
  }
  return absl::OkStatus();
}

SqliteStore::~SqliteStore() { Close(); }

void SqliteStore::StopServing() {
  stopping_.store(true);
  std::vector<std::shared_ptr<SqliteDatabase>> open;
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    for (auto& [id, e] : entries_) {
      if (e.db) open.push_back(std::move(e.db));
    }
    entries_.clear();
  }
  for (auto& db : open) db->Close();
  if (master_) master_->Close();
}

void SqliteStore::Close() {
  StopServing();
  if (lock_fd_ >= 0) {
    close(lock_fd_);  // releases the flock
    lock_fd_ = -1;
  }
}

std::string SqliteStore::TenantPath(const std::string& id) const {
  return absl::StrCat(data_dir_, "/tenants/", id, ".db");
}

void SqliteStore::RemoveFiles(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    std::error_code ec;
    std::filesystem::remove(path + suffix, ec);
  }
}

bool SqliteStore::AwaitSettled(const std::string& id, absl::Time deadline, bool create_too) {
  struct Settled {
    const SqliteStore* store;
    const std::string* id;
    bool create_too;
    bool operator()() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(store->mu_) {
      if (store->closed_) return true;
      auto it = store->entries_.find(*id);
      if (it == store->entries_.end()) return true;
      const State state = it->second.state;
      return state == State::kOpen || (state == State::kCreating && !create_too);
    }
  } settled{this, &id, create_too};
  return mu_.AwaitWithDeadline(absl::Condition(&settled), deadline);
}

absl::StatusOr<std::shared_ptr<SqliteDatabase>> SqliteStore::OpenRegistered(const std::string& id,
                                                                            absl::Time deadline) {
  ASSIGN_OR_RETURN(std::optional<TenantRecord> record, registry_->Lookup(id, deadline));
  if (!record) return errors::UnknownTenant(id);
  if (record->deleting) return errors::TenantBeingDeleted(id, /*creating=*/false);
  const std::string path = TenantPath(id);
  absl::StatusOr<std::shared_ptr<SqliteDatabase>> db =
      SqliteDatabase::Open(path, options_.database, /*create=*/false, deadline);
  if (!db.ok() && !std::filesystem::exists(path)) {
    spdlog::error("tenant '{}' is registered but its file {} is missing", id, path);
    return errors::TenantStorageMissing(id);
  }
  return db;
}

absl::StatusOr<std::shared_ptr<Database>> SqliteStore::OpenTenant(const std::string& id, absl::Time deadline) {
  RETURN_IF_ERROR(ValidateTenantId(id));
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return errors::StoreUnavailable("the gateway is shutting down");
    // A tenant being deleted is served (or not) once the delete has ended:
    // one that fails leaves it served as before. One being created does not
    // exist yet.
    if (!AwaitSettled(id, deadline, /*create_too=*/false)) {
      return errors::DeadlineWhileWaiting("the tenant's database to open (or its delete to end)");
    }
    if (closed_) return errors::StoreUnavailable("the gateway is shutting down");
    auto it = entries_.find(id);
    if (it != entries_.end()) {
      if (it->second.state == State::kCreating) return errors::UnknownTenant(id);
      it->second.last_use = ++clock_;
      return it->second.db;
    }
    entries_[id].state = State::kOpening;
  }
  absl::StatusOr<std::shared_ptr<SqliteDatabase>> db = OpenRegistered(id, deadline);
  std::vector<std::pair<std::string, std::shared_ptr<SqliteDatabase>>> idle;
  {
    absl::MutexLock lock(&mu_);
    if (!db.ok() || closed_) {
      entries_.erase(id);
      if (db.ok()) idle.emplace_back(id, *std::move(db));  // opened as the store closed
    }
  }
  if (!idle.empty()) {
    idle.front().second->Close();
    return errors::StoreUnavailable("the gateway is shutting down");
  }
  if (!db.ok()) return db.status();
  {
    absl::MutexLock lock(&mu_);
    Entry& e = entries_[id];
    e.state = State::kOpen;
    e.db = *db;
    e.last_use = ++clock_;
    idle = PickIdle();
  }
  CloseIdle(std::move(idle));
  return std::shared_ptr<Database>(*std::move(db));
}

std::vector<std::pair<std::string, std::shared_ptr<SqliteDatabase>>> SqliteStore::PickIdle() {
  std::vector<std::pair<std::string, std::shared_ptr<SqliteDatabase>>> victims;
  size_t open = entries_.size();
  while (open > options_.max_open_tenants) {
    // The least recently used database that only this map holds.
    auto victim = entries_.end();
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      const Entry& e = it->second;
      if (e.state == State::kOpen && e.db.use_count() == 1 &&
          (victim == entries_.end() || e.last_use < victim->second.last_use)) {
        victim = it;
      }
    }
    if (victim == entries_.end()) break;  // all busy: over the limit until calls end
    victim->second.state = State::kClosing;
    victims.emplace_back(victim->first, std::move(victim->second.db));
    --open;
  }
  return victims;
}

void SqliteStore::CloseIdle(std::vector<std::pair<std::string, std::shared_ptr<SqliteDatabase>>> victims) {
  for (auto& [id, db] : victims) db->Close();
  if (victims.empty()) return;
  absl::MutexLock lock(&mu_);
  for (const auto& [id, db] : victims) entries_.erase(id);
}

absl::StatusOr<TenantRecord> SqliteStore::CreateTenant(
    const TenantRecord& record, absl::FunctionRef<absl::Status(Database& db, TenantRecord* record)> prepare,
    absl::Time deadline) {
  const std::string& id = record.id;
  RETURN_IF_ERROR(ValidateTenantId(id));
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return errors::StoreUnavailable("the gateway is shutting down");
    if (!AwaitSettled(id, deadline, /*create_too=*/true)) {
      return errors::DeadlineWhileWaiting("another call on the same tenant");
    }
    if (closed_) return errors::StoreUnavailable("the gateway is shutting down");
    if (entries_.count(id) != 0) return errors::TenantExists(id);  // open, so registered
    entries_[id].state = State::kCreating;
  }
  // The tenant is invisible to OpenTenant until it is registered below.
  const std::string path = TenantPath(id);
  std::shared_ptr<SqliteDatabase> db;
  TenantRecord registered = record;
  bool made_file = false;
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(std::optional<TenantRecord> existing, registry_->Lookup(id, deadline));
    if (existing) return errors::TenantExists(id);
    RemoveFiles(path);  // left by an unfinished create or delete
    made_file = true;
    ASSIGN_OR_RETURN(db, SqliteDatabase::Open(path, options_.database, /*create=*/true, deadline));
    RETURN_IF_ERROR(prepare(*db, &registered));
    registered.id = id;
    return registry_->Register(registered, deadline);
  }();
  if (!status.ok() && made_file) {
    // Cleaned up while the entry still says "creating", so no other call
    // can reach the file meanwhile.
    if (db) db->Close();
    RemoveFiles(path);
  }
  std::vector<std::pair<std::string, std::shared_ptr<SqliteDatabase>>> idle;
  std::shared_ptr<SqliteDatabase> unserved;  // created as the store closed
  {
    absl::MutexLock lock(&mu_);
    if (status.ok() && closed_) {
      entries_.erase(id);
      unserved = std::move(db);
    } else if (status.ok()) {
      Entry& e = entries_[id];
      e.state = State::kOpen;
      e.db = std::move(db);
      e.last_use = ++clock_;
      idle = PickIdle();
    } else {
      entries_.erase(id);
    }
  }
  if (unserved) unserved->Close();  // registered, so created: served after the restart
  CloseIdle(std::move(idle));
  if (!status.ok()) return status;
  return registered;
}

absl::Status SqliteStore::DeleteTenant(const std::string& id, absl::Time deadline,
                                       absl::FunctionRef<absl::Status()> first) {
  RETURN_IF_ERROR(ValidateTenantId(id));
  std::shared_ptr<SqliteDatabase> db;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return errors::StoreUnavailable("the gateway is shutting down");
    if (!AwaitSettled(id, deadline, /*create_too=*/true)) {
      return errors::DeadlineWhileWaiting("another call on the same tenant");
    }
    if (closed_) return errors::StoreUnavailable("the gateway is shutting down");
    // From here no call can open the tenant: the entry says "deleting".
    Entry& e = entries_[id];
    e.state = State::kDeleting;
    db = std::move(e.db);
  }
  // Ends the "deleting" entry: the tenant opens again on its next use
  // (unless the registry still marks it).
  auto settle = [&] {
    absl::MutexLock lock(&mu_);
    entries_.erase(id);
  };
  // Serves the tenant again as it was, when nothing has gone yet.
  auto restore = [&] {
    if (db) db->AllowHolds();
    absl::MutexLock lock(&mu_);
    if (db && !closed_) {
      Entry& e = entries_[id];
      e.state = State::kOpen;
      e.db = std::move(db);
    } else {
      entries_.erase(id);
    }
  };
  // Work done for the tenant elsewhere (a CLOUD_ONLY write) cannot be
  // stopped: it is waited for, so that none lands after the delete.
  if (db && !db->StopHolds(errors::UnknownTenant(id), deadline)) {
    restore();
    return errors::DeadlineWhileWaiting("a CLOUD_ONLY write of the tenant to end");
  }
  // Marked before anything goes, so that a crash or a failure from here
  // on leaves the tenant unserved until a delete finishes, never served
  // with part of its data gone.
  absl::StatusOr<bool> marked = registry_->MarkDeleting(id, deadline);
  if (!marked.ok() || !*marked) {
    restore();
    return marked.ok() ? errors::UnknownTenant(id) : marked.status();
  }
  // Calls still holding the database are stopped and get NOT_FOUND; Close
  // returns once they have let go, so no file is removed under a reader.
  if (db) db->Close(errors::UnknownTenant(id));
  db.reset();
  if (absl::Status done = first(); !done.ok()) {
    if (done.code() != absl::StatusCode::kUnknown) {
      // Nothing went: served again. Should the mark stay, the tenant stays
      // unserved, and a delete called again finishes.
      if (absl::Status cleared = registry_->ClearDeleting(id, absl::InfiniteFuture()); !cleared.ok()) {
        spdlog::error("tenant '{}': its delete failed and it cannot be served again: {}", id, cleared.ToString());
      }
    }
    settle();
    return done;
  }
  // The rest is local and goes through, past the deadline if need be: the
  // tenant's other data is gone already.
  absl::StatusOr<bool> found = registry_->Unregister(id, absl::InfiniteFuture());
  if (!found.ok()) {
    settle();
    return found.status();
  }
  RemoveFiles(TenantPath(id));
  settle();
  return absl::OkStatus();
}

size_t SqliteStore::open_tenants() {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

absl::StatusOr<std::optional<TenantRecord>> SqliteStore::LookupTenant(const std::string& id, absl::Time deadline) {
  return registry_->Lookup(id, deadline);
}

absl::StatusOr<std::optional<TenantRecord>> SqliteStore::LookupTenantByRequestId(const std::string& request_id,
                                                                                 absl::Time deadline) {
  return registry_->LookupByRequestId(request_id, deadline);
}

absl::StatusOr<std::vector<TenantRecord>> SqliteStore::ListTenants(const std::string& after, int limit,
                                                                   absl::Time deadline) {
  return registry_->List(after, limit, deadline);
}

absl::Status SqliteStore::SetTenantSchemaVersion(const std::string& id, int64_t version, absl::Time deadline) {
  return registry_->SetSchemaVersion(id, version, deadline);
}

}  // namespace datagate::store::sqlite
