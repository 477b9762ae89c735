// SqliteDatabase page cursors: kept in the hidden _dg_cursors table of the
// database they page through (so a tenant's cursors are its own, and survive
// a restart), bounded in age, number and bytes.
#include "common/status_macros.h"
#include "store/sqlite/sqlite_database.h"

namespace datagate::store::sqlite {

absl::StatusOr<int64_t> SqliteDatabase::SaveCursor(const SavedCursor& cursor, absl::Time deadline) {
  int64_t id = 0;
  RETURN_IF_ERROR(Transact("save cursor", deadline, [&](Connection& conn, const Catalog&) -> absl::Status {
    const int64_t now = NowUs();
    const Value cutoff = now - options_.cursor_retention_us;
    SQLite::Statement& expire = conn.Prepare("DELETE FROM _dg_cursors WHERE create_us < ?");
    Bind(expire, 1, cutoff);
    expire.exec();

    const Value now_value = now;
    const Value size = static_cast<int64_t>(cursor.data.size());
    const Value secret = Blob{cursor.secret};
    const Value data = Blob{cursor.data};
    SQLite::Statement& insert =
        conn.Prepare("INSERT INTO _dg_cursors(create_us, size, secret, data) VALUES (?, ?, ?, ?)");
    Bind(insert, 1, now_value);
    Bind(insert, 2, size);
    Bind(insert, 3, secret);
    Bind(insert, 4, data);
    insert.exec();
    id = conn.db().getLastInsertRowid();

    // Within bounds again by dropping the oldest others (count and sum come
    // from the index on (create_us, size), not from the cursors' pages).
    SQLite::Statement& totals = conn.Prepare("SELECT count(*), coalesce(sum(size), 0) FROM _dg_cursors");
    totals.executeStep();
    int64_t count = totals.getColumn(0).getInt64();
    int64_t bytes = totals.getColumn(1).getInt64();
    totals.reset();
    if (count <= options_.max_cursors && bytes <= options_.max_cursor_bytes) return absl::OkStatus();
    std::vector<int64_t> dropped;
    const Value kept = id;
    SQLite::Statement& oldest = conn.Prepare("SELECT id, size FROM _dg_cursors WHERE id != ? ORDER BY create_us, id");
    Bind(oldest, 1, kept);
    while ((count > options_.max_cursors || bytes > options_.max_cursor_bytes) && oldest.executeStep()) {
      dropped.push_back(oldest.getColumn(0).getInt64());
      --count;
      bytes -= oldest.getColumn(1).getInt64();
    }
    oldest.reset();
    SQLite::Statement& drop = conn.Prepare("DELETE FROM _dg_cursors WHERE id = ?");
    for (const int64_t victim : dropped) {
      drop.reset();
      drop.bind(1, victim);
      drop.exec();
    }
    return absl::OkStatus();
  }));
  return id;
}

absl::StatusOr<std::optional<SavedCursor>> SqliteDatabase::LoadCursor(int64_t id, absl::Time deadline) {
  std::optional<SavedCursor> cursor;
  RETURN_IF_ERROR(Read("load cursor", deadline, [&](Connection& conn, const Catalog&) -> absl::Status {
    const Value id_value = id;
    const Value cutoff = NowUs() - options_.cursor_retention_us;
    SQLite::Statement& q = conn.Prepare("SELECT secret, data FROM _dg_cursors WHERE id = ? AND create_us >= ?");
    Bind(q, 1, id_value);
    Bind(q, 2, cutoff);
    if (q.executeStep()) {
      SQLite::Column secret = q.getColumn(0);
      SQLite::Column data = q.getColumn(1);
      cursor = SavedCursor{std::string(static_cast<const char*>(secret.getBlob()), secret.getBytes()),
                           std::string(static_cast<const char*>(data.getBlob()), data.getBytes())};
    }
    return absl::OkStatus();
  }));
  return cursor;
}

}  // namespace datagate::store::sqlite
