// PgTenantDatabase writes: planned inside the transaction (against what
// the tenant is served of the catalog it runs with, so a column the cloud
// has beyond the tenant's schema is neither required nor accepted nor
// changed), checked row by row before the commit, and remembered by
// request_id in the same transaction. Deletes leave tombstones; creating
// over one revives it at its version + 1. A delete, or a change of columns
// other rows refer to, then does what the tenant's foreign keys declare to
// those rows, in the same transaction (pg_foreign_keys.h).
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "store/postgres/pg_database.h"
#include "store/postgres/pg_errors.h"
#include "store/postgres/pg_foreign_keys.h"
#include "store/postgres/pg_sql.h"

namespace datagate::store::postgres {
namespace {

// A SET CONSTRAINTS that has the unique rules the cloud defers to COMMIT
// (so that the sync's calls may swap values) checked at each statement, as
// the local store checks a unique value: an error then names its op. ""
// when there are none. Deferred foreign keys stay deferred: the foreign-key
// actions done here (an ON UPDATE CASCADE) break them between statements.
std::string UniquesAtEachStatement(const PgCatalog& catalog, absl::string_view schema) {
  std::vector<std::string> names;
  for (const auto& [table, extra] : catalog.extra) {
    for (const PgDeferredUnique& unique : extra.deferred_uniques) names.push_back(Qualified(schema, unique.name));
  }
  return names.empty() ? "" : absl::StrCat("SET CONSTRAINTS ", absl::StrJoin(names, ", "), " IMMEDIATE");
}

bool Given(const std::vector<Field>& values, absl::string_view column) {
  for (const Field& f : values) {
    if (f.column == column) return true;
  }
  return false;
}

std::vector<Field> KeyOf(const Table& t, const std::vector<Field>& values) {
  std::vector<Field> key;
  for (const size_t i : t.primary_key) {
    for (const Field& f : values) {
      if (f.column == t.columns[i].name) key.push_back(f);
    }
  }
  return key;
}

// INVALID_ARGUMENT (CloudValueChanged) naming the first of `values` that
// the cloud would store changed (cut, padded, rounded: ChangedWhenStored),
// found in a round trip that only a write of a column that may change a
// value pays. Throws pqxx errors (a value its column cannot hold at all).
absl::Status StoredAsGiven(pqxx::transaction_base& tx, const PgCatalog& catalog, const Table& t,
                           const std::vector<Field>& values) {
  const PgTableExtra* extra = catalog.Extra(t.name);
  Params p;
  std::vector<std::pair<std::string, std::string>> checked;  // stored type, value
  std::vector<std::string> names;
  for (const Field& f : values) {
    const Column* c = t.Find(f.column);
    if (c == nullptr) continue;
    const std::string& stored = StoredType(extra, *c);
    if (!MayChangeWhenStored(stored)) continue;
    checked.emplace_back(stored, absl::StrCat(p.Add(f.value), "::", UnboundedType(stored)));
    names.push_back(c->name);
  }
  if (checked.empty()) return absl::OkStatus();
  const pqxx::field changed = p.Exec(tx, "SELECT " + FirstChanged(checked))[0][0];
  if (changed.is_null()) return absl::OkStatus();
  const size_t k = changed.as<size_t>();
  return errors::CloudValueChanged(t.name, names.at(k), checked.at(k).first);
}

}  // namespace

RowText PgTenantDatabase::LockReferenced(pqxx::transaction_base& tx, const std::string& table,
                                         const std::vector<Field>& key, const std::vector<std::string>& columns) {
  Params p;
  std::vector<std::string> quoted;
  for (const std::string& c : columns) quoted.push_back(Quote(c));
  const std::string sql =
      absl::StrCat("SELECT ", absl::StrJoin(quoted, ", "), " FROM ", table, " WHERE tenant_id = ", p.AddText(tenant_),
                   " AND NOT _dg_deleted", KeyMatch(key, &p), " FOR UPDATE");
  const pqxx::result r = p.Exec(tx, sql);
  if (r.empty()) return RowText();
  return TextOf(r[0], 0, columns.size());
}

absl::StatusOr<StoredRow> PgTenantDatabase::ApplyOp(pqxx::transaction_base& tx, const PgCatalog& catalog,
                                                    const Catalog& served, const WriteOp& op, int64_t now) {
  const Table* t = served.Find(op.table);
  if (t == nullptr) return errors::UnknownTable(op.table);
  const std::string table = core_->Table(t->name);
  const std::vector<const Column*> all = Projection(*t, {});
  if (op.kind == WriteKind::kInsert || op.kind == WriteKind::kUpsert) {
    // The cloud makes no keys up: a row without its key is refused, not guessed.
    for (const size_t i : t->primary_key) {
      if (!Given(op.values, t->columns[i].name)) return errors::CloudKeyRequired(t->name, t->columns[i].name);
    }
  }
  RETURN_IF_ERROR(StoredAsGiven(tx, catalog, *t, op.values));
  const std::vector<Field> key =
      op.kind == WriteKind::kInsert || op.kind == WriteKind::kUpsert ? KeyOf(*t, op.values) : op.key;
  // The row's columns other rows refer to: a delete, or a change of one of
  // them, acts on those rows (the foreign keys' actions) after the op.
  // `before` holds them as they were, once known to be needed.
  std::vector<std::string> referenced;
  std::optional<RowText> before;
  if (op.kind != WriteKind::kInsert) {
    ASSIGN_OR_RETURN(referenced, ReferencedColumns(served, *t));
    const bool changes_referenced = std::any_of(op.values.begin(), op.values.end(), [&](const Field& f) {
      return std::find(referenced.begin(), referenced.end(), f.column) != referenced.end();
    });
    if (op.kind == WriteKind::kDelete && !referenced.empty()) {
      before.emplace();  // read back from the delete itself
    } else if (changes_referenced) {
      before = LockReferenced(tx, table, key, referenced);
    }
  }
  std::string returned;  // the referenced columns after the op, for the actions
  if (before && op.kind != WriteKind::kDelete) {
    for (const std::string& c : referenced) absl::StrAppend(&returned, ", t.", Quote(c));
  }
  Params p;
  const std::string tenant = p.AddText(tenant_);
  const std::string now_param = p.Add(Value{now});
  std::string sql;
  switch (op.kind) {
    case WriteKind::kInsert:
    case WriteKind::kUpsert: {
      sql = absl::StrCat("INSERT INTO ", table, " AS t (tenant_id");
      std::string values = absl::StrCat(") VALUES (", tenant);
      for (const Field& f : op.values) {
        absl::StrAppend(&sql, ", ", Quote(f.column));
        absl::StrAppend(&values, ", ", p.Add(f.value));
      }
      // A key deleted by sync before the cloud ever had it starts after
      // that delete's version.
      absl::StrAppend(&sql, ", ", kMetaColumns, ", _dg_deleted", values, ", coalesce((SELECT version FROM ",
                      core_->Table("_dg_tombstones"), " WHERE tenant_id = ", tenant, " AND tbl = ", p.AddText(t->name),
                      " AND key_text = ", p.AddText(KeyText(key)), "), 0) + 1, ", now_param, ", ", now_param,
                      ", false) ON CONFLICT (tenant_id");
      for (const size_t i : t->primary_key) absl::StrAppend(&sql, ", ", Quote(t->columns[i].name));
      sql += ") DO UPDATE SET ";
      for (const Column& c : t->columns) {
        if (c.pk_position > 0) continue;
        const std::string col = Quote(c.name);
        if (op.kind == WriteKind::kInsert || Given(op.values, c.name)) {
          absl::StrAppend(&sql, col, " = excluded.", col, ", ");
        } else {
          // Upsert: a live row keeps what is not given; a tombstone revives as new.
          absl::StrAppend(&sql, col, " = CASE WHEN t._dg_deleted THEN excluded.", col, " ELSE t.", col, " END, ");
        }
      }
      absl::StrAppend(&sql,
                      "_dg_version = t._dg_version + 1, _dg_update_us = excluded._dg_update_us, "
                      "_dg_create_us = CASE WHEN t._dg_deleted THEN excluded._dg_create_us ELSE t._dg_create_us END, "
                      "_dg_deleted = false");
      if (op.kind == WriteKind::kInsert) sql += " WHERE t._dg_deleted";
      absl::StrAppend(&sql, " RETURNING ", SelectList(all, "t"), returned);
      break;
    }
    case WriteKind::kUpdate:
      sql = absl::StrCat("UPDATE ", table, " AS t SET ");
      for (const Field& f : op.values) absl::StrAppend(&sql, Quote(f.column), " = ", p.Add(f.value), ", ");
      absl::StrAppend(&sql, "_dg_version = _dg_version + 1, _dg_update_us = ", now_param, " WHERE tenant_id = ", tenant,
                      " AND NOT _dg_deleted", KeyMatch(op.key, &p));
      break;
    case WriteKind::kDelete:
      sql = absl::StrCat("UPDATE ", table,
                         " SET _dg_deleted = true, _dg_version = _dg_version + 1, _dg_update_us = ", now_param,
                         " WHERE tenant_id = ", tenant, " AND NOT _dg_deleted", KeyMatch(op.key, &p));
      break;
  }
  if (op.expected_version != 0 && (op.kind == WriteKind::kUpdate || op.kind == WriteKind::kDelete)) {
    absl::StrAppend(&sql, " AND _dg_version = ", p.Add(Value{op.expected_version}));
  }
  if (op.kind == WriteKind::kDelete) {
    sql += " RETURNING _dg_version - 1";  // the version of the row deleted, as locally
    for (const std::string& c : referenced) absl::StrAppend(&sql, ", ", Quote(c));
  } else if (op.kind == WriteKind::kUpdate) {
    absl::StrAppend(&sql, " RETURNING ", SelectList(all, "t"), returned);
  }
  const pqxx::result r = p.Exec(tx, sql);
  if (!r.empty()) {
    StoredRow row;
    std::vector<RowText> after;
    if (op.kind != WriteKind::kDelete) {
      row = ReadRow(r[0], *t, all);
      if (before && !before->empty()) {
        after.push_back(TextOf(r[0], static_cast<int>(all.size()) + 3, referenced.size()));
      }
    } else {
      row.table = t->name;
      row.version = r[0][0].as<int64_t>();
      if (before) before = TextOf(r[0], 1, referenced.size());
    }
    // A row made over a tombstone (no live row before) has no referrers yet.
    if (before && !before->empty()) {
      ForeignKeyActions actions(tx, core_->schema(), catalog, served, tenant_, now);
      RowText key_text;
      for (const Field& f : key) key_text.push_back(ToText(f.value));
      RETURN_IF_ERROR(actions.Apply(*t, key_text, {*before}, after));
    }
    return row;
  }
  if (op.kind == WriteKind::kInsert) {
    std::vector<std::string> key_columns;
    for (const size_t i : t->primary_key) key_columns.push_back(t->columns[i].name);
    return errors::DuplicateRow(t->name, absl::StrJoin(key_columns, ", "));
  }
  // No row changed: tell a missing row (or a tombstone) from a version mismatch.
  Params probe;
  const std::string sql_probe =
      absl::StrCat("SELECT _dg_version FROM ", table, " WHERE tenant_id = ", probe.AddText(tenant_),
                   " AND NOT _dg_deleted", KeyMatch(op.key, &probe));
  const pqxx::result found = probe.Exec(tx, sql_probe);
  if (found.empty()) return errors::RowNotFound(t->name, DescribeFields(op.key));
  return errors::VersionMismatch(t->name, op.expected_version, found[0][0].as<int64_t>());
}

absl::StatusOr<std::optional<std::vector<StoredRow>>> PgTenantDatabase::Replay(pqxx::transaction_base& tx,
                                                                               const WriteOptions& options) {
  // Two calls with one request_id take turns, so the second sees the first.
  Params lock;
  lock.Exec(tx, absl::StrCat("SELECT pg_advisory_xact_lock(hashtextextended(", lock.AddText(tenant_), " || '/' || ",
                             lock.AddText(options.request_id), ", 0))"));
  Params p;
  const std::string sql =
      absl::StrCat("SELECT fingerprint, result FROM ", core_->Table("_dg_requests"),
                   " WHERE tenant_id = ", p.AddText(tenant_), " AND request_id = ", p.AddText(options.request_id));
  const pqxx::result r = p.Exec(tx, sql);
  if (r.empty()) return std::nullopt;
  if (r[0][0].c_str() != options.fingerprint) return errors::RequestIdReused(options.request_id);
  const Value blob = FromField(r[0][1]);
  ASSIGN_OR_RETURN(std::vector<StoredRow> rows, DecodeRows(std::get<Blob>(blob).bytes));
  return rows;
}

void PgTenantDatabase::RecordResult(pqxx::transaction_base& tx, const WriteOptions& options,
                                    const std::vector<StoredRow>& rows, int64_t now) {
  Params p;
  const std::string sql = absl::StrCat(
      "INSERT INTO ", core_->Table("_dg_requests"), " (tenant_id, request_id, fingerprint, result, create_us) VALUES (",
      p.AddText(tenant_), ", ", p.AddText(options.request_id), ", ", p.AddText(options.fingerprint), ", ",
      p.Add(Value{Blob{EncodeRows(rows)}}), ", ", p.Add(Value{now}), ")");
  p.Exec(tx, sql);
  if (core_->PruneDue()) {
    Params prune;
    const std::string prune_sql =
        absl::StrCat("DELETE FROM ", core_->Table("_dg_requests"), " WHERE tenant_id = ", prune.AddText(tenant_),
                     " AND create_us < ", prune.Add(Value{now - core_->options().request_id_retention_us}));
    prune.Exec(tx, prune_sql);
  }
}

absl::StatusOr<std::vector<StoredRow>> PgTenantDatabase::Write(Planner<std::vector<WriteOp>> plan,
                                                               const WriteOptions& options) {
  std::vector<StoredRow> rows;
  RETURN_IF_ERROR(core_->Run("write", options.deadline, tenant_, PgCore::Mode::kWrite,
                             [&](pqxx::transaction_base& tx, const PgCatalog& catalog) -> absl::Status {
                               rows.clear();
                               if (!options.request_id.empty()) {
                                 ASSIGN_OR_RETURN(std::optional<std::vector<StoredRow>> first, Replay(tx, options));
                                 if (first) {
                                   rows = *std::move(first);
                                   return absl::OkStatus();
                                 }
                               }
                               const std::shared_ptr<const Catalog> served = Served(catalog);
                               ASSIGN_OR_RETURN(const std::vector<WriteOp> ops, plan(*served));
                               // A round trip that only a batch needs.
                               if (ops.size() > 1) {
                                 const std::string immediate = UniquesAtEachStatement(catalog, core_->options().schema);
                                 if (!immediate.empty()) tx.exec(immediate);
                               }
                               const int64_t now = core_->NowUs();
                               rows.reserve(ops.size());
                               for (size_t i = 0; i < ops.size(); ++i) {
                                 absl::StatusOr<StoredRow> row;
                                 try {
                                   row = ApplyOp(tx, catalog, *served, ops[i], now);
                                 } catch (const pqxx::sql_error& e) {
                                   if (IsConnectionError(e)) throw;  // the connection goes, in Run
                                   row =
                                       MapPgError(e, "write", served->Find(ops[i].table), catalog.Extra(ops[i].table));
                                 }
                                 if (row.ok() && options.check_row) {
                                   if (absl::Status s = options.check_row(i, *row); !s.ok()) row = s;
                                 }
                                 if (!row.ok()) {
                                   return ops.size() > 1 ? errors::InOperation(static_cast<int64_t>(i), row.status())
                                                         : row.status();
                                 }
                                 rows.push_back(*std::move(row));
                               }
                               if (!options.request_id.empty()) RecordResult(tx, options, rows, now);
                               return absl::OkStatus();
                             }));
  return rows;
}

}  // namespace datagate::store::postgres
