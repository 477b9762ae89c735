// SqliteDatabase's outbox (store/outbox.h): entries in the hidden _dg_outbox
// table, appended by writes in their own transaction (sqlite_writes.cc) and
// drained here. Reads run on a snapshot; changes take the writer's turn.
#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "store/sqlite/sql.h"
#include "store/sqlite/sqlite_database.h"

namespace datagate::store {

absl::string_view OutboxStateName(OutboxState s) {
  switch (s) {
    case OutboxState::kPending:
      return "pending";
    case OutboxState::kDead:
      return "dead";
    case OutboxState::kConflict:
      return "conflict";
  }
  return "unknown";
}

namespace sqlite {
namespace {

constexpr char kEntryColumns[] =
    "seq, tbl, key, deleted, row, version, schema_version, create_us, state, attempts, next_us, "
    "coalesce(last_error, ''), cloud_version";

std::string BlobOf(const SQLite::Column& c) {
  return std::string(static_cast<const char*>(c.getBlob()), static_cast<size_t>(c.getBytes()));
}

// The entry at the statement's cursor (columns as kEntryColumns). An entry
// the gateway cannot decode is INTERNAL (the file was changed by hand).
absl::StatusOr<OutboxEntry> ReadEntry(SQLite::Statement& q) {
  OutboxEntry e;
  e.seq = q.getColumn(0).getInt64();
  e.table = q.getColumn(1).getString();
  ASSIGN_OR_RETURN(std::vector<StoredRow> key, DecodeRows(BlobOf(q.getColumn(2))));
  if (key.size() != 1) return errors::CorruptOutbox(e.seq);
  e.key = std::move(key[0].fields);
  e.deleted = q.getColumn(3).getInt() != 0;
  if (!e.deleted) {
    ASSIGN_OR_RETURN(std::vector<StoredRow> row, DecodeRows(BlobOf(q.getColumn(4))));
    if (row.size() != 1) return errors::CorruptOutbox(e.seq);
    e.row = std::move(row[0]);
  }
  e.version = q.getColumn(5).getInt64();
  e.schema_version = q.getColumn(6).getInt64();
  e.create_us = q.getColumn(7).getInt64();
  e.state = static_cast<OutboxState>(q.getColumn(8).getInt());
  e.attempts = q.getColumn(9).getInt64();
  e.next_attempt_us = q.getColumn(10).getInt64();
  e.last_error = q.getColumn(11).getString();
  e.cloud_version = q.getColumn(12).getInt64();
  return e;
}

// ` AND seq IN (?, ?, ...)` bound to `values`.
void AppendSeqs(const std::vector<Value>& values, Sql* sql) {
  sql->text += " AND seq IN (";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) sql->text += ", ";
    sql->Param(values[i]);
  }
  sql->text += ")";
}

std::vector<Value> SeqValues(const std::vector<int64_t>& seqs) { return {seqs.begin(), seqs.end()}; }

}  // namespace

absl::StatusOr<std::vector<OutboxItem>> SqliteDatabase::NextBatch(int limit, int64_t max_bytes, int64_t now_us,
                                                                  int64_t max_schema_version,
                                                                  const std::vector<int64_t>& held, absl::Time deadline,
                                                                  bool* more) {
  std::vector<OutboxItem> items;
  bool stopped = false;
  RETURN_IF_ERROR(Read("outbox", deadline, [&](Connection& conn, const Catalog&) -> absl::Status {
    SQLite::Statement& q = conn.Prepare(absl::StrCat(
        "SELECT ", kEntryColumns,
        " FROM _dg_outbox o WHERE state = 0 AND next_us <= ?1 AND schema_version <= ?2 AND NOT EXISTS ("
        "SELECT 1 FROM _dg_outbox b WHERE b.tbl = o.tbl AND b.key = o.key AND b.seq < o.seq AND (b.state = 1 OR "
        "(b.state = 0 AND (b.next_us > ?1 OR b.schema_version > ?2)))) ORDER BY seq LIMIT ?3"));
    q.bind(1, static_cast<int64_t>(now_us));
    q.bind(2, static_cast<int64_t>(max_schema_version));
    // Held entries come back too, and are passed over: they must not take
    // the places of others.
    const int64_t rows_at_most = static_cast<int64_t>(limit) + static_cast<int64_t>(held.size());
    q.bind(3, rows_at_most);
    // Per row, the newest ready entry stands for the older ones.
    std::map<std::pair<std::string, std::string>, size_t> by_row;
    // Rows with an item out.
    std::set<std::pair<std::string, std::string>> out;
    int64_t bytes = 0;
    int taken = 0;
    int64_t read = 0;
    while (true) {
      if (bytes >= max_bytes || taken >= limit) {
        stopped = true;
        break;
      }
      if (!q.executeStep()) {
        stopped = read >= rows_at_most;
        break;
      }
      ++read;
      const int64_t seq = q.getColumn(0).getInt64();
      std::pair<std::string, std::string> row{q.getColumn(1).getString(), BlobOf(q.getColumn(2))};
      if (!held.empty()) {
        if (std::binary_search(held.begin(), held.end(), seq)) {
          out.insert(std::move(row));
          continue;
        }
        if (out.contains(row)) {
          stopped = true;  // a row out comes again: the rest waits for its settling
          break;
        }
      }
      ASSIGN_OR_RETURN(OutboxEntry e, ReadEntry(q));
      const int64_t size = q.getColumn(2).getBytes() + q.getColumn(4).getBytes();
      bytes += size;
      ++taken;
      auto [it, fresh] = by_row.try_emplace(std::move(row), items.size());
      if (fresh) {
        items.push_back(OutboxItem{std::move(e), {}, size});
      } else {
        OutboxItem& item = items[it->second];
        item.superseded.push_back(item.entry.seq);
        item.bytes += size;
        const int64_t attempts = std::max(item.entry.attempts, e.attempts);
        item.entry = std::move(e);
        item.entry.attempts = attempts;
      }
    }
    return absl::OkStatus();
  }));
  if (more != nullptr) *more = stopped;
  return items;
}

absl::Status SqliteDatabase::Settle(const std::vector<OutboxSettlement>& settlements, absl::Time deadline) {
  // Entries done (and those they stood for) go in one statement: a batch is
  // mostly these, and a statement per entry made settling a third of a
  // drain's time.
  std::string done = "[";
  for (const OutboxSettlement& s : settlements) {
    if (s.kind != OutboxSettlement::kDone) continue;
    absl::StrAppend(&done, done.size() > 1 ? "," : "", s.seq);
    for (int64_t seq : s.superseded) absl::StrAppend(&done, ",", seq);
  }
  done += "]";
  const Value done_value = done;
  return Transact("outbox", deadline, [&](Connection& conn, const Catalog&) -> absl::Status {
    if (done.size() > 2) {
      SQLite::Statement& del = conn.Prepare("DELETE FROM _dg_outbox WHERE seq IN (SELECT value FROM json_each(?))");
      Bind(del, 1, done_value);
      del.exec();
    }
    for (const OutboxSettlement& s : settlements) {
      if (s.kind == OutboxSettlement::kDone) continue;
      const Value seq = s.seq;
      const Value error = s.error;
      const Value next = s.next_attempt_us;
      const Value cloud_version = s.cloud_version;
      Sql sql;
      switch (s.kind) {
        case OutboxSettlement::kDone:
          break;
        case OutboxSettlement::kConflict:
          sql.text = "UPDATE _dg_outbox SET state = 2, last_error = ";
          sql.Param(error);
          sql.text += ", cloud_version = ";
          sql.Param(cloud_version);
          sql.text += " WHERE seq = ";
          sql.Param(seq);
          break;
        case OutboxSettlement::kRetry:
        case OutboxSettlement::kDead:
          sql.text = absl::StrCat("UPDATE _dg_outbox SET state = ", s.kind == OutboxSettlement::kDead ? 1 : 0,
                                  ", attempts = ", std::max<int64_t>(1, s.attempts), ", last_error = ");
          sql.Param(error);
          sql.text += ", next_us = ";
          sql.Param(next);
          sql.text += " WHERE seq = ";
          sql.Param(seq);
          break;
      }
      sql.Prepare(conn).exec();
      if (s.superseded.empty()) continue;
      const std::vector<Value> older = SeqValues(s.superseded);
      Sql rest;
      if (s.kind == OutboxSettlement::kRetry) {
        // They wait with the entry that stands for them.
        rest.text = "UPDATE _dg_outbox SET next_us = ";
        rest.Param(next);
        rest.text += " WHERE state = 0";
      } else {
        rest.text = "DELETE FROM _dg_outbox WHERE state = 0";
      }
      AppendSeqs(older, &rest);
      rest.Prepare(conn).exec();
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<OutboxCounts> SqliteDatabase::Counts(absl::Time deadline) {
  OutboxCounts counts;
  RETURN_IF_ERROR(Read("outbox", deadline, [&](Connection& conn, const Catalog&) -> absl::Status {
    SQLite::Statement& q = conn.Prepare(
        "SELECT coalesce(sum(state = 0), 0), coalesce(sum(state = 0 AND attempts > 0), 0), "
        "coalesce(sum(state = 1), 0), coalesce(sum(state = 2), 0), "
        "coalesce(min(CASE WHEN state = 0 THEN create_us END), 0) FROM _dg_outbox");
    if (q.executeStep()) {
      counts.pending = q.getColumn(0).getInt64();
      counts.retrying = q.getColumn(1).getInt64();
      counts.dead = q.getColumn(2).getInt64();
      counts.conflicts = q.getColumn(3).getInt64();
      counts.oldest_pending_us = q.getColumn(4).getInt64();
    }
    SQLite::Statement& last = conn.Prepare("SELECT seq FROM sqlite_sequence WHERE name = '_dg_outbox'");
    if (last.executeStep()) counts.last_seq = last.getColumn(0).getInt64();
    return absl::OkStatus();
  }));
  return counts;
}

absl::StatusOr<std::vector<OutboxEntry>> SqliteDatabase::ListEntries(std::optional<OutboxState> state,
                                                                     int64_t after_seq, int limit,
                                                                     absl::Time deadline) {
  std::vector<OutboxEntry> entries;
  RETURN_IF_ERROR(Read("outbox", deadline, [&](Connection& conn, const Catalog&) -> absl::Status {
    // Two texts, so that one state is read through its (state, seq) index.
    SQLite::Statement& q = conn.Prepare(absl::StrCat("SELECT ", kEntryColumns, " FROM _dg_outbox WHERE seq > ?1",
                                                     state ? " AND state = ?2" : "", " ORDER BY seq LIMIT ?3"));
    q.bind(1, static_cast<int64_t>(after_seq));
    if (state) q.bind(2, static_cast<int>(*state));
    q.bind(3, limit);
    while (q.executeStep()) {
      ASSIGN_OR_RETURN(OutboxEntry e, ReadEntry(q));
      entries.push_back(std::move(e));
    }
    return absl::OkStatus();
  }));
  return entries;
}

absl::StatusOr<int64_t> SqliteDatabase::RetryDead(const std::vector<int64_t>& seqs, absl::Time deadline) {
  int64_t changed = 0;
  const std::vector<Value> values = SeqValues(seqs);
  RETURN_IF_ERROR(Transact("outbox", deadline, [&](Connection& conn, const Catalog&) -> absl::Status {
    Sql sql;
    sql.text = "UPDATE _dg_outbox SET state = 0, attempts = 0, next_us = 0 WHERE state = 1";
    if (!values.empty()) AppendSeqs(values, &sql);
    changed = sql.Prepare(conn).exec();
    return absl::OkStatus();
  }));
  return changed;
}

absl::StatusOr<int64_t> SqliteDatabase::Purge(OutboxState state, const std::vector<int64_t>& seqs,
                                              absl::Time deadline) {
  int64_t changed = 0;
  const std::vector<Value> values = SeqValues(seqs);
  const Value state_value = int64_t{static_cast<int>(state)};
  RETURN_IF_ERROR(Transact("outbox", deadline, [&](Connection& conn, const Catalog&) -> absl::Status {
    Sql sql;
    sql.text = "DELETE FROM _dg_outbox WHERE state = ";
    sql.Param(state_value);
    if (!values.empty()) AppendSeqs(values, &sql);
    changed = sql.Prepare(conn).exec();
    return absl::OkStatus();
  }));
  return changed;
}

}  // namespace sqlite
}  // namespace datagate::store
