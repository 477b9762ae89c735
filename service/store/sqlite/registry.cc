#include "store/sqlite/registry.h"

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"

namespace datagate::store::sqlite {
namespace {

constexpr char kRegistrySql[] = R"sql(
CREATE TABLE IF NOT EXISTS _dg_tenants(
  id TEXT PRIMARY KEY, display_name TEXT NOT NULL, request_id TEXT NOT NULL, create_us INTEGER NOT NULL,
  schema_version INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS _dg_tenants_by_request ON _dg_tenants(request_id) WHERE request_id != '';
CREATE TABLE IF NOT EXISTS _dg_deleting(id TEXT PRIMARY KEY);
)sql";

constexpr char kColumns[] =
    "SELECT id, display_name, request_id, create_us, schema_version, "
    "EXISTS (SELECT 1 FROM _dg_deleting d WHERE d.id = _dg_tenants.id) FROM _dg_tenants ";

TenantRecord ReadTenant(SQLite::Statement& q) {
  return TenantRecord{q.getColumn(0).getString(), q.getColumn(1).getString(), q.getColumn(2).getString(),
                      q.getColumn(3).getInt64(),  q.getColumn(4).getInt64(),  q.getColumn(5).getInt() != 0};
}

}  // namespace

absl::Status Registry::Init() {
  return master_->Transact("registry", absl::InfiniteFuture(), [](Connection& c, const Catalog&) {
    c.db().exec(kRegistrySql);
    return absl::OkStatus();
  });
}

absl::Status Registry::Register(const TenantRecord& r, absl::Time deadline) {
  return master_->Transact("register tenant", deadline, [&](Connection& c, const Catalog&) -> absl::Status {
    SQLite::Statement& by_id = c.Prepare("SELECT 1 FROM _dg_tenants WHERE id = ?");
    by_id.bind(1, r.id);
    if (by_id.executeStep()) return errors::TenantExists(r.id);
    if (!r.request_id.empty()) {
      SQLite::Statement& by_request = c.Prepare("SELECT 1 FROM _dg_tenants WHERE request_id = ?");
      by_request.bind(1, r.request_id);
      if (by_request.executeStep()) return errors::RequestIdReused(r.request_id);
    }
    SQLite::Statement& q = c.Prepare(
        "INSERT INTO _dg_tenants(id, display_name, request_id, create_us, schema_version) VALUES (?, ?, ?, ?, ?)");
    q.bind(1, r.id);
    q.bind(2, r.display_name);
    q.bind(3, r.request_id);
    q.bind(4, r.create_time_us);
    q.bind(5, r.schema_version);
    q.exec();
    return absl::OkStatus();
  });
}

absl::StatusOr<bool> Registry::MarkDeleting(const std::string& id, absl::Time deadline) {
  bool found = false;
  RETURN_IF_ERROR(master_->Transact("mark tenant deleting", deadline, [&](Connection& c, const Catalog&) {
    SQLite::Statement& by_id = c.Prepare("SELECT 1 FROM _dg_tenants WHERE id = ?");
    by_id.bind(1, id);
    found = by_id.executeStep();
    if (!found) return absl::OkStatus();
    SQLite::Statement& mark = c.Prepare("INSERT OR IGNORE INTO _dg_deleting(id) VALUES (?)");
    mark.bind(1, id);
    mark.exec();
    return absl::OkStatus();
  }));
  return found;
}

absl::Status Registry::ClearDeleting(const std::string& id, absl::Time deadline) {
  return master_->Transact("clear tenant deleting", deadline, [&](Connection& c, const Catalog&) {
    SQLite::Statement& q = c.Prepare("DELETE FROM _dg_deleting WHERE id = ?");
    q.bind(1, id);
    q.exec();
    return absl::OkStatus();
  });
}

absl::StatusOr<bool> Registry::Unregister(const std::string& id, absl::Time deadline) {
  bool found = false;
  RETURN_IF_ERROR(master_->Transact("unregister tenant", deadline, [&](Connection& c, const Catalog&) {
    SQLite::Statement& q = c.Prepare("DELETE FROM _dg_tenants WHERE id = ?");
    q.bind(1, id);
    found = q.exec() > 0;
    SQLite::Statement& mark = c.Prepare("DELETE FROM _dg_deleting WHERE id = ?");
    mark.bind(1, id);
    mark.exec();
    return absl::OkStatus();
  }));
  return found;
}

absl::StatusOr<std::optional<TenantRecord>> Registry::LookupWhere(absl::string_view condition, const std::string& value,
                                                                  absl::Time deadline) {
  std::optional<TenantRecord> record;
  RETURN_IF_ERROR(master_->Read("lookup tenant", deadline, [&](Connection& c, const Catalog&) {
    SQLite::Statement& q = c.Prepare(absl::StrCat(kColumns, condition));
    q.bind(1, value);
    if (q.executeStep()) record = ReadTenant(q);
    return absl::OkStatus();
  }));
  return record;
}

absl::StatusOr<std::optional<TenantRecord>> Registry::Lookup(const std::string& id, absl::Time deadline) {
  return LookupWhere("WHERE id = ?", id, deadline);
}

absl::StatusOr<std::optional<TenantRecord>> Registry::LookupByRequestId(const std::string& request_id,
                                                                        absl::Time deadline) {
  if (request_id.empty()) return std::optional<TenantRecord>();
  return LookupWhere("WHERE request_id = ?", request_id, deadline);
}

absl::StatusOr<std::vector<TenantRecord>> Registry::List(const std::string& after, int limit, absl::Time deadline) {
  std::vector<TenantRecord> records;
  RETURN_IF_ERROR(master_->Read("list tenants", deadline, [&](Connection& c, const Catalog&) {
    SQLite::Statement& q = c.Prepare(std::string(kColumns) + "WHERE id > ? ORDER BY id LIMIT ?");
    q.bind(1, after);
    q.bind(2, limit);
    while (q.executeStep()) records.push_back(ReadTenant(q));
    return absl::OkStatus();
  }));
  return records;
}

absl::Status Registry::SetSchemaVersion(const std::string& id, int64_t version, absl::Time deadline) {
  bool found = false;
  RETURN_IF_ERROR(master_->Transact("record schema version", deadline, [&](Connection& c, const Catalog&) {
    SQLite::Statement& q = c.Prepare("UPDATE _dg_tenants SET schema_version = ? WHERE id = ?");
    q.bind(1, version);
    q.bind(2, id);
    found = q.exec() > 0;
    return absl::OkStatus();
  }));
  return found ? absl::OkStatus() : errors::UnknownTenant(id);
}

}  // namespace datagate::store::sqlite
