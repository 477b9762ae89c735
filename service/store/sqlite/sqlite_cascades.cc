// SqliteDatabase writes, continued: rows changed by triggers and foreign-key
// actions (captured by Cascades) get versions, tombstones and outbox
// entries exactly as an op's own row does, in the same transaction, so
// local and cloud never part ways over them.
#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "store/sqlite/cascades.h"
#include "store/sqlite/sql.h"
#include "store/sqlite/sqlite_database.h"

namespace datagate::store::sqlite {
namespace {

// Sets the row's bookkeeping columns and returns it as stored; nullopt when
// no row has the key. Run with triggers off: this is not a user change.
std::optional<StoredRow> SetMeta(Connection& conn, const Table& t, const std::vector<Field>& key, int64_t version,
                                 int64_t create_us, int64_t update_us) {
  const Value version_value = version;
  const Value create_value = create_us;
  const Value update_value = update_us;
  const std::vector<const Column*> all = Projection(t, {});
  Sql sql;
  sql.text = absl::StrCat("UPDATE ", Quote(t.name), " SET _dg_version = ");
  sql.Param(version_value);
  sql.text += ", _dg_create_us = ";
  sql.Param(create_value);
  sql.text += ", _dg_update_us = ";
  sql.Param(update_value);
  AppendKeyMatch(key, &sql);
  absl::StrAppend(&sql.text, " RETURNING ", SelectList(all));
  SQLite::Statement& stmt = sql.Prepare(conn);
  if (!stmt.executeStep()) return std::nullopt;
  StoredRow row = ReadRow(stmt, t, all);
  while (stmt.executeStep()) {
  }
  return row;
}

// The version of the key's tombstone, if it has one.
std::optional<int64_t> TombstoneOf(Connection& conn, const std::string& table, const std::string& key) {
  const Value table_value = table;
  const Value key_value = Blob{key};
  SQLite::Statement& q = conn.Prepare("SELECT version FROM _dg_tombstones WHERE tbl = ? AND key = ?");
  Bind(q, 1, table_value);
  Bind(q, 2, key_value);
  if (!q.executeStep()) return std::nullopt;
  return q.getColumn(0).getInt64();
}

void DropTombstone(Connection& conn, const std::string& table, const std::string& key) {
  const Value table_value = table;
  const Value key_value = Blob{key};
  SQLite::Statement& d = conn.Prepare("DELETE FROM _dg_tombstones WHERE tbl = ? AND key = ?");
  Bind(d, 1, table_value);
  Bind(d, 2, key_value);
  d.exec();
}

}  // namespace

absl::Status SqliteDatabase::FoldOwnRow(Connection& conn, Cascades& cascades, const Table& t, const WriteOp& op,
                                        const std::string& key, StoredRow* row) {
  CascadedRow* own = cascades.Find(t.name, key);
  if (own == nullptr) return absl::OkStatus();
  if (op.kind == WriteKind::kDelete) {
    // The op deletes it (and leaves the tombstone): a trigger that makes
    // it again makes a new row, which continues past that tombstone.
    own->existed = false;
    return absl::OkStatus();
  }
  // Its AFTER triggers changed the row the op wrote (RETURNING does not
  // show that): the op's one entry carries the row as stored, at the op's
  // version. A row the op REPLACEd continues from the version it replaced.
  int64_t version = row->version;
  if (own->replaced) version = std::max(version, own->old_version + 1);
  cascades.Forget(t.name, key);
  TriggersOff off(conn);
  std::optional<StoredRow> stored =
      SetMeta(conn, t, KeyOf(t, row->fields), version, row->create_time_us, row->update_time_us);
  if (!stored) return errors::CascadeNotSynced(t.name, "it deleted the row the operation wrote");
  *row = *std::move(stored);
  return absl::OkStatus();
}

absl::Status SqliteDatabase::TrackCascades(Connection& conn, const Catalog& catalog, Cascades& cascades, bool enqueue,
                                           int64_t now, std::vector<int64_t>* seqs) {
  RETURN_IF_ERROR(cascades.Collect());
  if (cascades.rows().empty()) return absl::OkStatus();
  // The bookkeeping below changes only the gateway's columns: no user
  // trigger may fire on it (and be captured again).
  TriggersOff off(conn);
  for (const CascadedRow& r : cascades.rows()) {
    if (r.skip) continue;
    const Table& t = *r.table;
    std::optional<StoredRow> stored;
    if (!r.gone) {
      if (r.existed) {
        stored = SetMeta(conn, t, r.key, r.old_version + 1, r.old_create_us, now);
      } else {
        // Made: past the key's tombstone, as TrackVersion does for an op.
        const std::optional<int64_t> tomb = TombstoneOf(conn, t.name, r.encoded_key);
        stored = SetMeta(conn, t, r.key, tomb ? *tomb + 1 : 1, now, now);
        if (stored && tomb) DropTombstone(conn, t.name, r.encoded_key);
      }
    }
    if (stored) {
      if (enqueue) {
        ASSIGN_OR_RETURN(const int64_t seq, Enqueue(conn, catalog, t, /*deleted=*/false, r.encoded_key, *stored, now));
        seqs->push_back(seq);
      }
    } else if (r.existed) {
      // Deleted, as an op's delete: tombstone and entry at version + 1.
      WriteTombstone(conn, t.name, r.encoded_key, r.old_version + 1);
      if (enqueue) {
        StoredRow deleted;
        deleted.table = t.name;
        deleted.version = r.old_version;
        ASSIGN_OR_RETURN(const int64_t seq, Enqueue(conn, catalog, t, /*deleted=*/true, r.encoded_key, deleted, now));
        seqs->push_back(seq);
      }
    }
  }
  cascades.Clear();
  return absl::OkStatus();
}

}  // namespace datagate::store::sqlite
