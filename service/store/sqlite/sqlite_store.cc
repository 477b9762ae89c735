#include "store/sqlite/sqlite_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace datagate::store::sqlite {
namespace {

constexpr char kRegistrySql[] = R"sql(
CREATE TABLE IF NOT EXISTS _dg_tenants(
  id TEXT PRIMARY KEY, display_name TEXT NOT NULL, request_id TEXT NOT NULL, create_us INTEGER NOT NULL,
  schema_version INTEGER NOT NULL DEFAULT 0);
)sql";

TenantRecord ReadTenant(SQLite::Statement& q) {
  return TenantRecord{q.getColumn(0).getString(), q.getColumn(1).getString(), q.getColumn(2).getString(),
                      q.getColumn(3).getInt64(), q.getColumn(4).getInt64()};
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& data_dir,
                                                               const StoreOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(data_dir) / "tenants", ec);
  if (ec) {
    return absl::FailedPreconditionError(absl::StrCat("cannot create data folder '", data_dir, "': ", ec.message()));
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(data_dir, options));
  const std::string lock_path = absl::StrCat(data_dir, "/datagate.lock");
  store->lock_fd_ = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (store->lock_fd_ < 0) {
    return absl::FailedPreconditionError(absl::StrCat("cannot open '", lock_path, "': ", std::strerror(errno)));
  }
  if (flock(store->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "data folder '", data_dir, "' is in use by another datagate process; stop it or use another --data_dir"));
  }
  ASSIGN_OR_RETURN(store->master_, SqliteDatabase::Open(absl::StrCat(data_dir, "/master.db"), options.database));
  RETURN_IF_ERROR(store->master_->Transact("registry", [](Connection& c) {
    c.db().exec(kRegistrySql);
    return absl::OkStatus();
  }));
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
    ASSIGN_OR_RETURN(std::optional<TenantRecord> record, LookupTenant(id));
    if (record) continue;
    spdlog::warn("removing {}: no tenant '{}' is registered (an interrupted create or delete)", path.string(), id);
    RemoveFiles(path.string());
  }
  return absl::OkStatus();
}

SqliteStore::~SqliteStore() { Close(); }

void SqliteStore::Close() {
  std::map<std::string, OpenTenant> open;
  {
    absl::MutexLock lock(&mu_);
    open.swap(open_);
  }
  for (auto& [id, t] : open) t.db->Close();
  if (master_) master_->Close();
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

absl::StatusOr<std::shared_ptr<Database>> SqliteStore::CreateTenantDatabase(const std::string& id) {
  absl::MutexLock lock(&mu_);
  if (auto it = open_.find(id); it != open_.end()) {
    it->second.db->Close();
    open_.erase(it);
  }
  // A file left by an unfinished create or delete belongs to no tenant.
  RemoveFiles(TenantPath(id));
  ASSIGN_OR_RETURN(std::shared_ptr<SqliteDatabase> db, SqliteDatabase::Open(TenantPath(id), options_.database));
  Remember(id, db);
  return db;
}

absl::StatusOr<std::shared_ptr<Database>> SqliteStore::TenantDatabase(const std::string& id) {
  {
    absl::MutexLock lock(&mu_);
    if (auto it = open_.find(id); it != open_.end()) {
      it->second.last_use = ++clock_;
      return it->second.db;
    }
  }
  ASSIGN_OR_RETURN(std::optional<TenantRecord> record, LookupTenant(id));
  if (!record) return errors::UnknownTenant(id);
  absl::MutexLock lock(&mu_);
  if (auto it = open_.find(id); it != open_.end()) return it->second.db;
  if (!std::filesystem::exists(TenantPath(id))) {
    spdlog::error("tenant '{}' is registered but its file {} is missing", id, TenantPath(id));
    return absl::DataLossError(absl::StrCat("tenant '", id, "' is registered but its storage is missing"));
  }
  ASSIGN_OR_RETURN(std::shared_ptr<SqliteDatabase> db, SqliteDatabase::Open(TenantPath(id), options_.database));
  Remember(id, db);
  return db;
}

void SqliteStore::Remember(const std::string& id, std::shared_ptr<SqliteDatabase> db) {
  open_[id] = OpenTenant{std::move(db), ++clock_};
  while (open_.size() > options_.max_open_tenants) {
    // The least recently used database that only this map holds.
    auto victim = open_.end();
    for (auto it = open_.begin(); it != open_.end(); ++it) {
      if (it->second.db.use_count() == 1 && (victim == open_.end() || it->second.last_use < victim->second.last_use)) {
        victim = it;
      }
    }
    if (victim == open_.end()) return;  // all busy: over the limit until calls end
    victim->second.db->Close();
    open_.erase(victim);
  }
}

size_t SqliteStore::open_tenants() {
  absl::MutexLock lock(&mu_);
  return open_.size();
}

absl::Status SqliteStore::SetTenantSchemaVersion(const std::string& id, int64_t version) {
  bool found = false;
  RETURN_IF_ERROR(master_->Transact("record schema version", [&](Connection& c) {
    SQLite::Statement& q = c.Prepare("UPDATE _dg_tenants SET schema_version = ? WHERE id = ?");
    q.bind(1, version);
    q.bind(2, id);
    found = q.exec() > 0;
    return absl::OkStatus();
  }));
  return found ? absl::OkStatus() : errors::UnknownTenant(id);
}

absl::Status SqliteStore::RegisterTenant(const TenantRecord& r) {
  return master_->Transact("register tenant", [&](Connection& c) {
    SQLite::Statement& q = c.Prepare(
        "INSERT INTO _dg_tenants(id, display_name, request_id, create_us, schema_version) "
        "VALUES (?, ?, ?, ?, ?)");
    q.bind(1, r.id);
    q.bind(2, r.display_name);
    q.bind(3, r.request_id);
    q.bind(4, r.create_time_us);
    q.bind(5, r.schema_version);
    q.exec();
    return absl::OkStatus();
  });
}

absl::StatusOr<std::optional<TenantRecord>> SqliteStore::LookupTenant(const std::string& id) {
  std::optional<TenantRecord> record;
  RETURN_IF_ERROR(master_->Read("lookup tenant", [&](Connection& c) {
    SQLite::Statement& q =
        c.Prepare("SELECT id, display_name, request_id, create_us, schema_version FROM _dg_tenants WHERE id = ?");
    q.bind(1, id);
    if (q.executeStep()) record = ReadTenant(q);
    return absl::OkStatus();
  }));
  return record;
}

absl::StatusOr<std::vector<TenantRecord>> SqliteStore::ListTenants(const std::string& after, int limit) {
  std::vector<TenantRecord> records;
  RETURN_IF_ERROR(master_->Read("list tenants", [&](Connection& c) {
    SQLite::Statement& q = c.Prepare(
        "SELECT id, display_name, request_id, create_us, schema_version FROM _dg_tenants WHERE id > ? ORDER BY id "
        "LIMIT ?");
    q.bind(1, after);
    q.bind(2, limit);
    while (q.executeStep()) records.push_back(ReadTenant(q));
    return absl::OkStatus();
  }));
  return records;
}

absl::Status SqliteStore::DeleteTenant(const std::string& id) {
  bool found = false;
  RETURN_IF_ERROR(master_->Transact("delete tenant", [&](Connection& c) {
    SQLite::Statement& q = c.Prepare("DELETE FROM _dg_tenants WHERE id = ?");
    q.bind(1, id);
    found = q.exec() > 0;
    return absl::OkStatus();
  }));
  if (!found) return errors::UnknownTenant(id);
  std::shared_ptr<SqliteDatabase> db;
  {
    absl::MutexLock lock(&mu_);
    if (auto it = open_.find(id); it != open_.end()) {
      db = it->second.db;
      open_.erase(it);
    }
  }
  // Close waits for the write in flight, if any; later calls get NOT_FOUND.
  if (db) db->Close(errors::UnknownTenant(id));
  RemoveFiles(TenantPath(id));
  return absl::OkStatus();
}

}  // namespace datagate::store::sqlite
