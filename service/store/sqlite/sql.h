// Building SQL text with its bound parameters, and reading rows back.
// Internal to the SQLite store. Identifiers are always quoted; values are
// always parameters.
#ifndef DATAGATE_STORE_SQLITE_SQL_H_
#define DATAGATE_STORE_SQLITE_SQL_H_

#include <string>
#include <vector>

#include "store/sqlite/connection.h"
#include "store/store.h"

namespace datagate::store::sqlite {

// The gateway's bookkeeping columns, in the order rows are read back.
inline constexpr char kMetaColumns[] = "_dg_version, _dg_create_us, _dg_update_us";

// SQL text and its parameters, built together so they cannot drift apart.
// The values pointed to must outlive the statement's execution.
struct Sql {
  std::string text;
  std::vector<const Value*> params;

  // Appends a placeholder bound to `v`.
  void Param(const Value& v) {
    text += "?";
    params.push_back(&v);
  }
  // The cached statement for `text` with the parameters bound.
  SQLite::Statement& Prepare(Connection& conn) const;
};

// Approximate bytes a value adds to a response.
int64_t ValueBytes(const Value& v);
// The named columns of `table` (all, when `names` is empty).
std::vector<const Column*> Projection(const Table& table, const std::vector<std::string>& names);
// `"a", "b", <meta columns>`.
std::string SelectList(const std::vector<const Column*>& cols);
// The row at the cursor: `cols`, then the meta columns.
StoredRow ReadRow(SQLite::Statement& stmt, const Table& table, const std::vector<const Column*>& cols);
// The row's key, in key order, from `fields` (a row or a key).
std::vector<Field> KeyOf(const Table& t, const std::vector<Field>& fields);
// The key as the outbox and tombstones keep it: one encoded row of the key
// columns (deterministic, so equal keys give equal bytes).
std::string EncodeKey(const std::vector<Field>& key);
// ` WHERE "k1" = ? AND "k2" = ?`.
void AppendKeyMatch(const std::vector<Field>& key, Sql* sql);
// One filter condition.
void AppendCondition(const Condition& c, Sql* sql);
// Rows strictly after `after` in `order` (keyset pagination).
void AppendKeyset(const std::vector<Order>& order, const std::vector<Value>& after, Sql* sql);

}  // namespace datagate::store::sqlite

#endif  // DATAGATE_STORE_SQLITE_SQL_H_
