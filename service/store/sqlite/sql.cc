#include "store/sqlite/sql.h"

#include "absl/strings/str_cat.h"

namespace datagate::store::sqlite {

int64_t ValueBytes(const Value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return static_cast<int64_t>(s->size()) + 8;
  if (const auto* b = std::get_if<Blob>(&v)) return static_cast<int64_t>(b->bytes.size()) + 8;
  return 8;
}

SQLite::Statement& Sql::Prepare(Connection& conn) const {
  SQLite::Statement& stmt = conn.Prepare(text);
  for (size_t i = 0; i < params.size(); ++i) Bind(stmt, static_cast<int>(i + 1), *params[i]);
  return stmt;
}

std::vector<const Column*> Projection(const Table& table, const std::vector<std::string>& names) {
  std::vector<const Column*> cols;
  if (names.empty()) {
    for (const Column& c : table.columns) cols.push_back(&c);
  } else {
    for (const std::string& n : names) {
      if (const Column* c = table.Find(n)) cols.push_back(c);
    }
  }
  return cols;
}

std::string SelectList(const std::vector<const Column*>& cols) {
  std::string s;
  for (const Column* c : cols) absl::StrAppend(&s, Quote(c->name), ", ");
  return absl::StrCat(s, kMetaColumns);
}

// Reads the row at the statement's cursor: `cols` then the meta columns.
StoredRow ReadRow(SQLite::Statement& stmt, const Table& table, const std::vector<const Column*>& cols) {
  StoredRow row;
  row.table = table.name;
  row.fields.reserve(cols.size());
  int i = 0;
  for (const Column* c : cols) {
    Value v = ReadColumn(stmt, i++);
    if (c->type == ColumnType::kBoolean) {
      if (const auto* n = std::get_if<int64_t>(&v)) v = *n != 0;
    } else if (c->type == ColumnType::kReal) {
      // SQLite keeps a whole REAL as an integer, and RETURNING gives it so.
      if (const auto* n = std::get_if<int64_t>(&v)) v = static_cast<double>(*n);
    }
    row.fields.push_back(Field{c->name, std::move(v)});
  }
  row.version = stmt.getColumn(i++).getInt64();
  row.create_time_us = stmt.getColumn(i++).getInt64();
  row.update_time_us = stmt.getColumn(i).getInt64();
  return row;
}

std::vector<Field> KeyOf(const Table& t, const std::vector<Field>& fields) {
  std::vector<Field> key;
  for (size_t index : t.primary_key) {
    const std::string& name = t.columns[index].name;
    for (const Field& f : fields) {
      if (f.column == name) key.push_back(f);
    }
  }
  return key;
}

std::string EncodeKey(const std::vector<Field>& key) {
  StoredRow row;
  row.fields = key;
  return EncodeRows({row});
}

void AppendKeyMatch(const std::vector<Field>& key, Sql* sql) {
  for (size_t i = 0; i < key.size(); ++i) {
    absl::StrAppend(&sql->text, i ? " AND " : " WHERE ", Quote(key[i].column), " = ");
    sql->Param(key[i].value);
  }
}

void AppendCondition(const Condition& c, Sql* sql) {
  const std::string col = Quote(c.column);
  auto binary = [&](absl::string_view op) {
    absl::StrAppend(&sql->text, col, " ", op, " ");
    sql->Param(c.values.at(0));
  };
  switch (c.op) {
    case FilterOp::kEq:
      return binary("=");
    case FilterOp::kNe:
      return binary("!=");
    case FilterOp::kLt:
      return binary("<");
    case FilterOp::kLe:
      return binary("<=");
    case FilterOp::kGt:
      return binary(">");
    case FilterOp::kGe:
      return binary(">=");
    case FilterOp::kLike:
      return binary("LIKE");
    case FilterOp::kIsNull:
      absl::StrAppend(&sql->text, col, " IS NULL");
      return;
    case FilterOp::kIsNotNull:
      absl::StrAppend(&sql->text, col, " IS NOT NULL");
      return;
    case FilterOp::kIn:
      absl::StrAppend(&sql->text, col, " IN (");
      for (size_t i = 0; i < c.values.size(); ++i) {
        if (i) sql->text += ", ";
        sql->Param(c.values[i]);
      }
      sql->text += ")";
      return;
  }
}

// Rows strictly after `after` in `order` (NULLs sort first ascending, last
// descending, as SQLite sorts them): an OR over each order position i of
// "equal on the first i columns and after on column i".
void AppendKeyset(const std::vector<Order>& order, const std::vector<Value>& after, Sql* sql) {
  sql->text += "(";
  for (size_t i = 0; i < order.size(); ++i) {
    if (i) sql->text += " OR ";
    sql->text += "(";
    for (size_t j = 0; j < i; ++j) {
      const std::string col = Quote(order[j].column);
      if (IsNull(after[j])) {
        absl::StrAppend(&sql->text, col, " IS NULL AND ");
      } else {
        absl::StrAppend(&sql->text, col, " = ");
        sql->Param(after[j]);
        sql->text += " AND ";
      }
    }
    const std::string col = Quote(order[i].column);
    if (!order[i].descending) {
      if (IsNull(after[i])) {
        absl::StrAppend(&sql->text, col, " IS NOT NULL");
      } else {
        absl::StrAppend(&sql->text, col, " > ");
        sql->Param(after[i]);
      }
    } else if (IsNull(after[i])) {
      sql->text += "0";
    } else {
      absl::StrAppend(&sql->text, "(", col, " < ");
      sql->Param(after[i]);
      absl::StrAppend(&sql->text, " OR ", col, " IS NULL)");
    }
    sql->text += ")";
  }
  sql->text += ")";
}

}  // namespace datagate::store::sqlite
