// SqliteDatabase reads: Get and List, each planned against the catalog of
// its own read snapshot.
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "store/sqlite/sql.h"
#include "store/sqlite/sqlite_database.h"

namespace datagate::store::sqlite {

absl::StatusOr<std::optional<StoredRow>> SqliteDatabase::Get(Planner<RowRead> plan, absl::Time deadline) {
  std::optional<StoredRow> row;
  RETURN_IF_ERROR(Read("get", deadline, [&](Connection& conn, const Catalog& catalog) -> absl::Status {
    ASSIGN_OR_RETURN(const RowRead read, plan(catalog));
    const Table* t = catalog.Find(read.table);
    if (t == nullptr) return errors::UnknownTable(read.table);
    const std::vector<const Column*> cols = Projection(*t, read.columns);
    Sql sql;
    sql.text = absl::StrCat("SELECT ", SelectList(cols), " FROM ", Quote(t->name));
    AppendKeyMatch(read.key, &sql);
    SQLite::Statement& stmt = sql.Prepare(conn);
    if (stmt.executeStep()) row = ReadRow(stmt, *t, cols);
    return absl::OkStatus();
  }));
  return row;
}

absl::StatusOr<QueryResult> SqliteDatabase::List(Planner<Query> plan, absl::Time deadline) {
  QueryResult result;
  RETURN_IF_ERROR(Read("list", deadline, [&](Connection& conn, const Catalog& catalog) -> absl::Status {
    ASSIGN_OR_RETURN(const Query query, plan(catalog));
    const Table* t = catalog.Find(query.table);
    if (t == nullptr) return errors::UnknownTable(query.table);
    if (!query.after.empty() && query.after.size() != query.order.size()) {
      return errors::MalformedPageToken("its cursor does not fit the order");
    }
    const std::vector<const Column*> cols = Projection(*t, query.columns);
    Sql where;
    for (const Condition& c : query.conditions) {
      where.text += where.text.empty() ? " WHERE " : " AND ";
      AppendCondition(c, &where);
    }
    // Order columns are selected too (after the meta columns) for the cursor.
    Sql sql;
    sql.text = absl::StrCat("SELECT ", SelectList(cols));
    for (const Order& o : query.order) absl::StrAppend(&sql.text, ", ", Quote(o.column));
    absl::StrAppend(&sql.text, " FROM ", Quote(t->name), where.text);
    sql.params = where.params;
    if (!query.after.empty()) {
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

    SQLite::Statement& stmt = sql.Prepare(conn);
    const int first_order = static_cast<int>(cols.size()) + 3;
    int64_t used = 0;
    while (stmt.executeStep()) {
      if (static_cast<int>(result.rows.size()) == query.limit) {
        result.more = true;
        break;
      }
      StoredRow row = ReadRow(stmt, *t, cols);
      std::vector<Value> cursor;
      cursor.reserve(query.order.size());
      for (size_t i = 0; i < query.order.size(); ++i) {
        cursor.push_back(ReadColumn(stmt, first_order + static_cast<int>(i)));
      }
      // Sized before it joins: a page never grows past its budget.
      const int64_t row_bytes = query.row_bytes ? query.row_bytes(row) : 0;
      const int64_t cursor_bytes = query.cursor_bytes ? query.cursor_bytes(cursor) : 0;
      if (!result.rows.empty() && used + row_bytes + cursor_bytes > query.max_bytes) {
        result.more = true;
        break;
      }
      used += row_bytes;
      result.rows.push_back(std::move(row));
      result.last_cursor = std::move(cursor);
    }
    if (query.count_total) {
      Sql count;
      count.text = absl::StrCat("SELECT count(*) FROM ", Quote(t->name), where.text);
      count.params = where.params;
      SQLite::Statement& c = count.Prepare(conn);
      if (c.executeStep()) result.total = c.getColumn(0).getInt64();
    }
    return absl::OkStatus();
  }));
  return result;
}

}  // namespace datagate::store::sqlite
