#include "store/sqlite/sqlite_database.h"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/clock.h"
#include "common/errors.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "store/sqlite/sql.h"

namespace datagate::store::sqlite {
namespace {

constexpr char kBootstrapSql[] = R"sql(
CREATE TABLE IF NOT EXISTS _dg_migrations(
  version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, apply_us INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS _dg_requests(
  request_id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, result BLOB NOT NULL, create_us INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS _dg_requests_by_time ON _dg_requests(create_us);
)sql";

// SQLite's column affinity rules (its "Datatypes In SQLite" page), plus BOOLEAN.
ColumnType TypeFromDeclared(absl::string_view declared) {
  const std::string t = absl::AsciiStrToUpper(declared);
  if (t.empty()) return ColumnType::kAny;
  if (absl::StrContains(t, "BOOL")) return ColumnType::kBoolean;
  if (absl::StrContains(t, "INT")) return ColumnType::kInteger;
  if (absl::StrContains(t, "CHAR") || absl::StrContains(t, "CLOB") || absl::StrContains(t, "TEXT"))
    return ColumnType::kText;
  if (absl::StrContains(t, "BLOB")) return ColumnType::kBlob;
  if (absl::StrContains(t, "REAL") || absl::StrContains(t, "FLOA") || absl::StrContains(t, "DOUB"))
    return ColumnType::kReal;
  return ColumnType::kNumeric;
}

absl::Status PrefixError(const absl::Status& s, size_t index) {
  return absl::Status(s.code(), absl::StrCat("operations[", index, "]: ", s.message()));
}

// Adds the gateway's bookkeeping columns to user tables that lack them.
void EnsureMetaColumns(Connection& conn) {
  std::vector<std::string> tables;
  {
    SQLite::Statement q(conn.db(),
                        "SELECT m.name FROM sqlite_master m WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' "
                        "ESCAPE '\\' AND m.name NOT LIKE '\\_dg\\_%' ESCAPE '\\' AND NOT EXISTS (SELECT 1 FROM "
                        "pragma_table_info(m.name) p WHERE p.name = '_dg_version')");
    while (q.executeStep()) tables.push_back(q.getColumn(0).getString());
  }
  for (const std::string& t : tables) {
    const std::string alter = absl::StrCat("ALTER TABLE ", Quote(t), " ADD COLUMN ");
    conn.db().exec(absl::StrCat(alter, "_dg_version INTEGER NOT NULL DEFAULT 1"));
    conn.db().exec(absl::StrCat(alter, "_dg_create_us INTEGER NOT NULL DEFAULT 0"));
    conn.db().exec(absl::StrCat(alter, "_dg_update_us INTEGER NOT NULL DEFAULT 0"));
  }
}

}  // namespace

SqliteDatabase::SqliteDatabase(std::string path, DatabaseOptions options)
    : path_(std::move(path)), options_(std::move(options)), catalog_(std::make_shared<Catalog>()) {}

absl::StatusOr<std::shared_ptr<SqliteDatabase>> SqliteDatabase::Open(const std::string& path,
                                                                     const DatabaseOptions& options) {
  if (options.synchronous != "FULL" && options.synchronous != "NORMAL") {
    return absl::InvalidArgumentError(
        absl::StrCat("synchronous must be FULL or NORMAL, not '", options.synchronous, "'"));
  }
  std::shared_ptr<SqliteDatabase> db(new SqliteDatabase(path, options));
  ConnectionOptions copts;
  copts.synchronous = options.synchronous;
  copts.busy_timeout_ms = options.busy_timeout_ms;
  try {
    absl::MutexLock lock(&db->write_mu_);
    db->writer_ = std::make_unique<Connection>(path, copts);
  } catch (const std::exception& e) {
    return MapError(e, absl::StrCat("opening ", path));
  }
  RETURN_IF_ERROR(db->Transact("bootstrap", [&](Connection& c) {
    c.db().exec(kBootstrapSql);
    EnsureMetaColumns(c);
    return db->LoadCatalog(c);
  }));
  return db;
}

int64_t SqliteDatabase::NowUs() const {
  if (options_.now_us) return options_.now_us();
  return NowMicros();
}

std::shared_ptr<const Catalog> SqliteDatabase::GetCatalog() const {
  absl::MutexLock lock(&catalog_mu_);
  return catalog_;
}

absl::Status SqliteDatabase::LoadCatalog(Connection& conn) {
  auto catalog = std::make_shared<Catalog>();
  SQLite::Statement tables(conn.db(),
                           "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' "
                           "ESCAPE '\\' AND name NOT LIKE '\\_dg\\_%' ESCAPE '\\' ORDER BY name");
  SQLite::Statement info(conn.db(),
                         "SELECT name, type, \"notnull\", dflt_value IS NOT NULL, pk FROM pragma_table_info(?) "
                         "ORDER BY cid");
  while (tables.executeStep()) {
    Table t;
    t.name = tables.getColumn(0).getString();
    info.reset();
    info.bind(1, t.name);
    std::vector<std::pair<int, size_t>> pk;
    while (info.executeStep()) {
      Column c;
      c.name = info.getColumn(0).getString();
      if (absl::StartsWith(c.name, "_dg_")) continue;
      c.declared_type = info.getColumn(1).getString();
      c.type = TypeFromDeclared(c.declared_type);
      c.not_null = info.getColumn(2).getInt() != 0;
      c.has_default = info.getColumn(3).getInt() != 0;
      c.pk_position = info.getColumn(4).getInt();
      if (c.pk_position > 0) pk.emplace_back(c.pk_position, t.columns.size());
      t.columns.push_back(std::move(c));
    }
    if (pk.empty()) {
      spdlog::warn("{}: table '{}' has no PRIMARY KEY and is not served", path_, t.name);
      continue;
    }
    std::sort(pk.begin(), pk.end());
    for (const auto& [pos, index] : pk) t.primary_key.push_back(index);
    std::string name = t.name;
    catalog->tables.emplace(std::move(name), std::move(t));
  }
  absl::MutexLock lock(&catalog_mu_);
  catalog_ = std::move(catalog);
  return absl::OkStatus();
}

absl::Status SqliteDatabase::Transact(absl::string_view context, absl::FunctionRef<absl::Status(Connection&)> fn,
                                      bool single_statement, absl::Time deadline) {
  absl::MutexLock lock(&write_mu_);
  if (writer_ == nullptr) return ClosedStatus();
  if (absl::Now() > deadline) {
    return absl::DeadlineExceededError(
        "the call's deadline passed while its write waited its turn; nothing was written");
  }
  Connection& conn = *writer_;
  DeadlineScope scope(conn, deadline);
  absl::Status status;
  try {
    if (!single_statement) conn.Prepare("BEGIN IMMEDIATE").exec();
    status = fn(conn);
    conn.ResetUsed();
    if (status.ok() && !single_statement) conn.Prepare("COMMIT").exec();
  } catch (const std::exception& e) {
    status = MapError(e, absl::StrCat(path_, ": ", context));
  }
  if (!status.ok()) {
    conn.ResetUsed();
    if (sqlite3_get_autocommit(conn.db().getHandle()) == 0) {  // a transaction is open
      try {
        conn.db().exec("ROLLBACK");
      } catch (const std::exception& e) {
        spdlog::error("{}: rollback after failed {} failed: {}", path_, context, e.what());
      }
    }
  }
  conn.ResetUsed();
  return status;
}

absl::Status SqliteDatabase::Read(absl::string_view context, absl::FunctionRef<absl::Status(Connection&)> fn,
                                  absl::Time deadline) {
  std::unique_ptr<Connection> conn;
  {
    absl::MutexLock lock(&pool_mu_);
    while (!closed_ && idle_readers_.empty() && readers_open_ >= options_.max_readers) {
      pool_cv_.Wait(&pool_mu_);
    }
    if (closed_) return closed_reason_;
    if (!idle_readers_.empty()) {
      conn = std::move(idle_readers_.back());
      idle_readers_.pop_back();
    } else {
      ++readers_open_;
    }
  }
  absl::Status status;
  try {
    if (conn == nullptr) {
      ConnectionOptions copts;
      copts.read_only = true;
      copts.busy_timeout_ms = options_.busy_timeout_ms;
      conn = std::make_unique<Connection>(path_, copts);
    }
    const uint64_t generation = schema_generation_.load();
    if (conn->schema_generation != generation) {
      conn->ClearCache();
      conn->schema_generation = generation;
    }
    DeadlineScope scope(*conn, deadline);
    status = fn(*conn);
  } catch (const std::exception& e) {
    status = MapError(e, absl::StrCat(path_, ": ", context));
  }
  if (conn) conn->ResetUsed();
  absl::MutexLock lock(&pool_mu_);
  if (conn && !closed_) {
    idle_readers_.push_back(std::move(conn));
  } else {
    --readers_open_;
  }
  pool_cv_.Signal();
  return status;
}

absl::Status SqliteDatabase::ClosedStatus() const {
  absl::MutexLock lock(&pool_mu_);
  return closed_reason_.ok() ? errors::StoreUnavailable("the database is closed") : closed_reason_;
}

void SqliteDatabase::Close(absl::Status reason) {
  {
    absl::MutexLock lock(&pool_mu_);
    closed_ = true;
    closed_reason_ = reason.ok() ? errors::StoreUnavailable("the database is closed") : std::move(reason);
    idle_readers_.clear();
    pool_cv_.SignalAll();
  }
  absl::MutexLock lock(&write_mu_);
  writer_.reset();
}

absl::StatusOr<std::optional<StoredRow>> SqliteDatabase::Get(const std::string& table, const std::vector<Field>& key,
                                                             const std::vector<std::string>& columns,
                                                             absl::Time deadline) {
  const std::shared_ptr<const Catalog> catalog = GetCatalog();
  const Table* t = catalog->Find(table);
  if (t == nullptr) return errors::UnknownTable(table);
  const std::vector<const Column*> cols = Projection(*t, columns);
  Sql sql;
  sql.text = absl::StrCat("SELECT ", SelectList(cols), " FROM ", Quote(t->name));
  AppendKeyMatch(key, &sql);
  std::optional<StoredRow> row;
  RETURN_IF_ERROR(Read(
      "get",
      [&](Connection& conn) {
        SQLite::Statement& stmt = sql.Prepare(conn);
        if (stmt.executeStep()) row = ReadRow(stmt, *t, cols);
        return absl::OkStatus();
      },
      deadline));
  return row;
}

absl::StatusOr<QueryResult> SqliteDatabase::List(const Query& query) {
  const std::shared_ptr<const Catalog> catalog = GetCatalog();
  const Table* t = catalog->Find(query.table);
  if (t == nullptr) return errors::UnknownTable(query.table);
  const std::vector<const Column*> cols = Projection(*t, query.columns);
  // Order columns are selected too (after the meta columns) for the cursor.
  Sql where;
  for (const Condition& c : query.conditions) {
    where.text += where.text.empty() ? " WHERE " : " AND ";
    AppendCondition(c, &where);
  }
  Sql sql;
  sql.text = absl::StrCat("SELECT ", SelectList(cols));
  for (const Order& o : query.order) absl::StrAppend(&sql.text, ", ", Quote(o.column));
  absl::StrAppend(&sql.text, " FROM ", Quote(t->name), where.text);
  sql.params = where.params;
  if (!query.after.empty()) {
    if (query.after.size() != query.order.size()) return errors::MalformedPageToken("cursor does not fit the order");
    sql.text += where.text.empty() ? " WHERE " : " AND ";
    AppendKeyset(query.order, query.after, &sql);
  }
  for (size_t i = 0; i < query.order.size(); ++i) {
    absl::StrAppend(&sql.text, i ? ", " : " ORDER BY ", Quote(query.order[i].column),
                    query.order[i].descending ? " DESC" : " ASC");
  }
  const Value limit = int64_t{query.limit} + 1;
  sql.text += " LIMIT ";
  sql.Param(limit);

  QueryResult result;
  RETURN_IF_ERROR(Read(
      "list",
      [&](Connection& conn) {
        SQLite::Statement& stmt = sql.Prepare(conn);
        int64_t bytes = 0;
        const int first_order = static_cast<int>(cols.size()) + 3;
        while (stmt.executeStep()) {
          if (static_cast<int>(result.rows.size()) == query.limit ||
              (bytes > query.max_bytes && !result.rows.empty())) {
            result.more = true;
            break;
          }
          result.rows.push_back(ReadRow(stmt, *t, cols));
          for (const Field& f : result.rows.back().fields) bytes += ValueBytes(f.value);
          result.last_cursor.clear();
          for (size_t i = 0; i < query.order.size(); ++i) {
            result.last_cursor.push_back(ReadColumn(stmt, first_order + static_cast<int>(i)));
          }
        }
        if (query.count_total) {
          // Counted in the same read snapshot as the page.
          Sql count;
          count.text = absl::StrCat("SELECT count(*) FROM ", Quote(t->name), where.text);
          count.params = where.params;
          SQLite::Statement& c = count.Prepare(conn);
          if (c.executeStep()) result.total = c.getColumn(0).getInt64();
        }
        return absl::OkStatus();
      },
      query.deadline));
  return result;
}

absl::StatusOr<StoredRow> SqliteDatabase::ApplyOp(Connection& conn, const Catalog& catalog, const WriteOp& op,
                                                  int64_t now) {
  const Table* t = catalog.Find(op.table);
  if (t == nullptr) return errors::UnknownTable(op.table);
  const std::vector<const Column*> all = Projection(*t, {});
  const std::string returning = absl::StrCat(" RETURNING ", SelectList(all));
  const Value now_value = now;
  const Value expected = op.expected_version;
  Sql sql;
  switch (op.kind) {
    case WriteKind::kInsert:
    case WriteKind::kUpsert: {
      sql.text = absl::StrCat("INSERT INTO ", Quote(t->name), " (");
      for (const Field& f : op.values) absl::StrAppend(&sql.text, Quote(f.column), ", ");
      absl::StrAppend(&sql.text, kMetaColumns, ") VALUES (");
      for (const Field& f : op.values) {
        sql.Param(f.value);
        sql.text += ", ";
      }
      sql.text += "1, ";
      sql.Param(now_value);
      sql.text += ", ";
      sql.Param(now_value);
      sql.text += ")";
      if (op.kind == WriteKind::kUpsert) {
        sql.text += " ON CONFLICT (";
        for (size_t i = 0; i < t->primary_key.size(); ++i) {
          absl::StrAppend(&sql.text, i ? ", " : "", Quote(t->columns[t->primary_key[i]].name));
        }
        sql.text += ") DO UPDATE SET ";
        for (const Field& f : op.values) {
          if (t->Find(f.column)->pk_position > 0) continue;
          absl::StrAppend(&sql.text, Quote(f.column), " = excluded.", Quote(f.column), ", ");
        }
        sql.text += "_dg_version = _dg_version + 1, _dg_update_us = excluded._dg_update_us";
      }
      break;
    }
    case WriteKind::kUpdate: {
      sql.text = absl::StrCat("UPDATE ", Quote(t->name), " SET ");
      for (const Field& f : op.values) {
        absl::StrAppend(&sql.text, Quote(f.column), " = ");
        sql.Param(f.value);
        sql.text += ", ";
      }
      sql.text += "_dg_version = _dg_version + 1, _dg_update_us = ";
      sql.Param(now_value);
      AppendKeyMatch(op.key, &sql);
      break;
    }
    case WriteKind::kDelete:
      sql.text = absl::StrCat("DELETE FROM ", Quote(t->name));
      AppendKeyMatch(op.key, &sql);
      break;
  }
  if (op.expected_version != 0 && (op.kind == WriteKind::kUpdate || op.kind == WriteKind::kDelete)) {
    sql.text += " AND _dg_version = ";
    sql.Param(expected);
  }
  sql.text += op.kind == WriteKind::kDelete ? " RETURNING _dg_version" : returning;

  SQLite::Statement& stmt = sql.Prepare(conn);
  if (stmt.executeStep()) {
    StoredRow row;
    if (op.kind == WriteKind::kDelete) {
      row.table = t->name;
      row.version = stmt.getColumn(0).getInt64();
    } else {
      row = ReadRow(stmt, *t, all);
    }
    while (stmt.executeStep()) {
    }
    return row;
  }
  // No row changed: tell a missing row from a version mismatch.
  Sql probe;
  probe.text = absl::StrCat("SELECT _dg_version FROM ", Quote(t->name));
  AppendKeyMatch(op.key, &probe);
  SQLite::Statement& p = probe.Prepare(conn);
  if (!p.executeStep()) return errors::RowNotFound(t->name, DescribeFields(op.key));
  return errors::VersionMismatch(t->name, op.expected_version, p.getColumn(0).getInt64());
}

absl::StatusOr<std::vector<StoredRow>> SqliteDatabase::Write(const WriteRequest& request) {
  const std::shared_ptr<const Catalog> catalog = GetCatalog();
  std::vector<StoredRow> rows;
  const Value request_id = request.request_id;
  const Value fingerprint = request.fingerprint;
  RETURN_IF_ERROR(Transact(
      "write",
      [&](Connection& conn) -> absl::Status {
        const Value now = NowUs();
        if (!request.request_id.empty()) {
          SQLite::Statement& seen = conn.Prepare("SELECT fingerprint, result FROM _dg_requests WHERE request_id = ?");
          Bind(seen, 1, request_id);
          if (seen.executeStep()) {
            if (seen.getColumn(0).getString() != request.fingerprint)
              return errors::RequestIdReused(request.request_id);
            SQLite::Column blob = seen.getColumn(1);
            ASSIGN_OR_RETURN(rows, DecodeRows(absl::string_view(static_cast<const char*>(blob.getBlob()),
                                                                static_cast<size_t>(blob.getBytes()))));
            return absl::OkStatus();
          }
        }
        rows.reserve(request.ops.size());
        for (size_t i = 0; i < request.ops.size(); ++i) {
          absl::StatusOr<StoredRow> row;
          try {
            row = ApplyOp(conn, *catalog, request.ops[i], std::get<int64_t>(now));
          } catch (const std::exception& e) {
            row = MapError(e, absl::StrCat(path_, ": write"));
          }
          if (!row.ok()) return request.ops.size() > 1 ? PrefixError(row.status(), i) : row.status();
          rows.push_back(*std::move(row));
        }
        if (!request.request_id.empty()) {
          const Value result = Blob{EncodeRows(rows)};
          SQLite::Statement& record =
              conn.Prepare("INSERT INTO _dg_requests(request_id, fingerprint, result, create_us) VALUES (?, ?, ?, ?)");
          Bind(record, 1, request_id);
          Bind(record, 2, fingerprint);
          Bind(record, 3, result);
          Bind(record, 4, now);
          record.exec();
          if (++writes_since_prune_ >= 256) {
            writes_since_prune_ = 0;
            const Value cutoff = std::get<int64_t>(now) - options_.request_id_retention_us;
            SQLite::Statement& prune = conn.Prepare("DELETE FROM _dg_requests WHERE create_us < ?");
            Bind(prune, 1, cutoff);
            prune.exec();
          }
        }
        return absl::OkStatus();
      },
      /*single_statement=*/request.ops.size() == 1 && request.request_id.empty(), request.deadline));
  return rows;
}

absl::StatusOr<std::vector<AppliedMigration>> SqliteDatabase::ListApplied() {
  std::vector<AppliedMigration> applied;
  RETURN_IF_ERROR(Read("list migrations", [&](Connection& conn) {
    SQLite::Statement& q =
        conn.Prepare("SELECT version, name, checksum, apply_us FROM _dg_migrations ORDER BY version");
    while (q.executeStep()) {
      applied.push_back(AppliedMigration{q.getColumn(0).getInt64(), q.getColumn(1).getString(),
                                         q.getColumn(2).getString(), q.getColumn(3).getInt64()});
    }
    return absl::OkStatus();
  }));
  return applied;
}

absl::Status SqliteDatabase::Migrate(const AppliedMigration& record, const std::string& sql, bool up) {
  absl::Status status = Transact("migration", [&](Connection& conn) -> absl::Status {
    try {
      conn.db().exec(sql);
    } catch (const SQLite::Exception& e) {
      // The migration author needs SQLite's own words to fix the file.
      return absl::FailedPreconditionError(absl::StrCat("migration ", record.version, " '", record.name, "' (",
                                                        up ? "up" : "down", ") failed: ", e.what()));
    }
    if (up) {
      EnsureMetaColumns(conn);
      SQLite::Statement& ins =
          conn.Prepare("INSERT INTO _dg_migrations(version, name, checksum, apply_us) VALUES (?, ?, ?, ?)");
      ins.bind(1, record.version);
      ins.bind(2, record.name);
      ins.bind(3, record.checksum);
      ins.bind(4, NowUs());
      ins.exec();
    } else {
      SQLite::Statement& del = conn.Prepare("DELETE FROM _dg_migrations WHERE version = ?");
      del.bind(1, record.version);
      del.exec();
    }
    conn.ClearCache();
    return LoadCatalog(conn);
  });
  schema_generation_.fetch_add(1);
  if (!status.ok()) {
    // The rollback restored the old schema: read it back.
    RETURN_IF_ERROR(Transact("catalog", [&](Connection& conn) { return LoadCatalog(conn); }));
  }
  return status;
}

}  // namespace datagate::store::sqlite
