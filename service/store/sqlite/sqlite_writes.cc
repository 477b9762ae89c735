// SqliteDatabase writes: planned under the writer's turn (so validation and
// statements see one schema), checked row by row before the commit, and
// remembered by request_id in the same transaction.
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "store/sqlite/cascades.h"
#include "store/sqlite/sql.h"
#include "store/sqlite/sqlite_database.h"

namespace datagate::store::sqlite {

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

absl::Status SqliteDatabase::TrackOp(Connection& conn, const Catalog& catalog, const WriteOp& op, Cascades& cascades,
                                     const WriteOptions& options, int64_t now, StoredRow* row,
                                     std::vector<int64_t>* cascade_seqs) {
  const Table& t = *catalog.Find(op.table);
  const bool deleted = op.kind == WriteKind::kDelete;
  const std::string key = EncodeKey(KeyOf(t, deleted ? op.key : row->fields));
  // Nothing but a pointer check when no trigger or foreign-key action fired.
  if (cascades.pending()) {
    RETURN_IF_ERROR(cascades.Collect());
    RETURN_IF_ERROR(FoldOwnRow(conn, cascades, t, op, key, row));
  }
  TrackVersion(conn, t, op, key, row);
  if (options.enqueue) {
    ASSIGN_OR_RETURN(const int64_t seq, Enqueue(conn, catalog, t, deleted, key, *row, now));
    if (options.enqueued != nullptr) options.enqueued->push_back(seq);
  }
  // The op's entry comes first: per row, the cloud applies entries in order.
  if (cascades.pending() || !cascades.rows().empty()) {
    RETURN_IF_ERROR(TrackCascades(conn, catalog, cascades, options.enqueue, now, cascade_seqs));
  }
  return absl::OkStatus();
}

void SqliteDatabase::WriteTombstone(Connection& conn, const std::string& table, const std::string& key,
                                    int64_t version) {
  const Value table_value = table;
  const Value key_value = Blob{key};
  const Value version_value = version;
  SQLite::Statement& tomb = conn.Prepare(
      "INSERT INTO _dg_tombstones(tbl, key, version) VALUES (?, ?, ?) "
      "ON CONFLICT (tbl, key) DO UPDATE SET version = excluded.version");
  Bind(tomb, 1, table_value);
  Bind(tomb, 2, key_value);
  Bind(tomb, 3, version_value);
  tomb.exec();
}

void SqliteDatabase::TrackVersion(Connection& conn, const Table& t, const WriteOp& op, const std::string& key,
                                  StoredRow* row) {
  if (op.kind == WriteKind::kDelete) {
    // The tombstone's version is the one the delete gives the row.
    WriteTombstone(conn, t.name, key, row->version + 1);
    return;
  }
  if (op.kind == WriteKind::kUpdate) return;
  // A row made over a tombstone continues from its version.
  const Value table = t.name;
  const Value key_value = Blob{key};
  SQLite::Statement& revive = conn.Prepare("DELETE FROM _dg_tombstones WHERE tbl = ? AND key = ? RETURNING version");
  Bind(revive, 1, table);
  Bind(revive, 2, key_value);
  if (!revive.executeStep()) return;
  const int64_t tomb = revive.getColumn(0).getInt64();
  while (revive.executeStep()) {
  }
  if (row->version > tomb) return;
  const Value version = tomb + 1;
  Sql bump;
  bump.text = absl::StrCat("UPDATE ", Quote(t.name), " SET _dg_version = ");
  bump.Param(version);
  const std::vector<Field> key_fields = KeyOf(t, row->fields);
  AppendKeyMatch(key_fields, &bump);
  bump.Prepare(conn).exec();
  row->version = tomb + 1;
}

absl::StatusOr<int64_t> SqliteDatabase::Enqueue(Connection& conn, const Catalog& catalog, const Table& t, bool deleted,
                                                const std::string& key, const StoredRow& row, int64_t now) {
  if (!deleted) {
    for (const Field& f : row.fields) {
      const std::string* text = std::get_if<std::string>(&f.value);
      if (text != nullptr && text->find('\0') != std::string::npos) return errors::NulInCloudText(t.name, f.column);
    }
  }
  const Value table = t.name;
  const Value key_value = Blob{key};
  const Value deleted_value = int64_t{deleted ? 1 : 0};
  const Value row_value = deleted ? Value{} : Value{Blob{EncodeRows({row})}};
  const Value version = deleted ? row.version + 1 : row.version;
  const Value schema_version = catalog.migration_version;
  const Value now_value = now;
  SQLite::Statement& ins = conn.Prepare(
      "INSERT INTO _dg_outbox(tbl, key, deleted, row, version, schema_version, create_us) "
      "VALUES (?, ?, ?, ?, ?, ?, ?)");
  Bind(ins, 1, table);
  Bind(ins, 2, key_value);
  Bind(ins, 3, deleted_value);
  Bind(ins, 4, row_value);
  Bind(ins, 5, version);
  Bind(ins, 6, schema_version);
  Bind(ins, 7, now_value);
  ins.exec();
  return conn.db().getLastInsertRowid();
}

absl::StatusOr<std::optional<std::vector<StoredRow>>> SqliteDatabase::Replay(Connection& conn,
                                                                             const WriteOptions& options) {
  const Value request_id = options.request_id;
  SQLite::Statement& seen = conn.Prepare("SELECT fingerprint, result FROM _dg_requests WHERE request_id = ?");
  Bind(seen, 1, request_id);
  if (!seen.executeStep()) return std::nullopt;
  if (seen.getColumn(0).getString() != options.fingerprint) return errors::RequestIdReused(options.request_id);
  SQLite::Column blob = seen.getColumn(1);
  ASSIGN_OR_RETURN(std::vector<StoredRow> rows, DecodeRows(absl::string_view(static_cast<const char*>(blob.getBlob()),
                                                                             static_cast<size_t>(blob.getBytes()))));
  return rows;
}

void SqliteDatabase::RecordResult(Connection& conn, const WriteOptions& options, const std::vector<StoredRow>& rows,
                                  int64_t now) {
  const Value request_id = options.request_id;
  const Value fingerprint = options.fingerprint;
  const Value result = Blob{EncodeRows(rows)};
  const Value now_value = now;
  SQLite::Statement& record =
      conn.Prepare("INSERT INTO _dg_requests(request_id, fingerprint, result, create_us) VALUES (?, ?, ?, ?)");
  Bind(record, 1, request_id);
  Bind(record, 2, fingerprint);
  Bind(record, 3, result);
  Bind(record, 4, now_value);
  record.exec();
  if (++writes_since_prune_ >= 256) {
    writes_since_prune_ = 0;
    const Value cutoff = now - options_.request_id_retention_us;
    SQLite::Statement& prune = conn.Prepare("DELETE FROM _dg_requests WHERE create_us < ?");
    Bind(prune, 1, cutoff);
    prune.exec();
  }
}

absl::StatusOr<std::vector<StoredRow>> SqliteDatabase::Write(Planner<std::vector<WriteOp>> plan,
                                                             const WriteOptions& options) {
  // Plan against today's catalog first, so a bad request fails without
  // waiting for the writer. A replay must not be refused by a schema that
  // changed since its first run, so with a request_id planning waits.
  std::shared_ptr<const Catalog> planned_for;
  std::vector<WriteOp> ops;
  if (options.request_id.empty()) {
    planned_for = GetCatalog();
    ASSIGN_OR_RETURN(ops, plan(*planned_for));
  }
  if (options.enqueued != nullptr) options.enqueued->clear();
  std::vector<StoredRow> rows;
  const absl::Status status =
      Transact("write", options.deadline, [&](Connection& conn, const Catalog& catalog) -> absl::Status {
        if (!options.request_id.empty()) {
          ASSIGN_OR_RETURN(std::optional<std::vector<StoredRow>> first, Replay(conn, options));
          if (first) {
            rows = *std::move(first);
            return absl::OkStatus();
          }
        }
        // The writer's catalog is the schema the statements run against.
        if (planned_for.get() != &catalog) {
          ASSIGN_OR_RETURN(ops, plan(catalog));
        }
        const int64_t now = NowUs();
        // Rows that triggers, foreign-key actions and REPLACE conflict
        // resolution change are captured while the ops run (the hook is
        // removed when this returns).
        Cascades cascades(conn, catalog);
        std::vector<int64_t> cascade_seqs;
        rows.reserve(ops.size());
        for (size_t i = 0; i < ops.size(); ++i) {
          absl::StatusOr<StoredRow> row;
          cascades.set_replace_deletes(ops[i].kind != WriteKind::kDelete);
          try {
            row = ApplyOp(conn, catalog, ops[i], now);
          } catch (const std::exception& e) {
            const Table* t = catalog.Find(ops[i].table);
            row =
                t ? MapConstraint(e, *t, absl::StrCat(path_, ": write")) : MapError(e, absl::StrCat(path_, ": write"));
          }
          cascades.set_replace_deletes(false);
          if (row.ok()) {
            absl::Status tracked;
            try {
              tracked = TrackOp(conn, catalog, ops[i], cascades, options, now, &*row, &cascade_seqs);
            } catch (const std::exception& e) {
              tracked = MapError(e, absl::StrCat(path_, ": write"));
            }
            if (!tracked.ok()) row = tracked;
          }
          if (row.ok() && options.check_row) {
            if (absl::Status s = options.check_row(i, *row); !s.ok()) row = s;
          }
          if (!row.ok())
            return ops.size() > 1 ? errors::InOperation(static_cast<int64_t>(i), row.status()) : row.status();
          rows.push_back(*std::move(row));
        }
        // The ops' seqs first, in op order (the answer pairs them with rows).
        if (options.enqueued != nullptr) {
          options.enqueued->insert(options.enqueued->end(), cascade_seqs.begin(), cascade_seqs.end());
        }
        if (!options.request_id.empty()) RecordResult(conn, options, rows, now);
        return absl::OkStatus();
      });
  if (!status.ok()) {
    // Rolled back: the entries are gone with the rows.
    if (options.enqueued != nullptr) options.enqueued->clear();
    return status;
  }
  return rows;
}

}  // namespace datagate::store::sqlite
