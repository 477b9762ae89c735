#include "store/store.h"

namespace datagate::store {

absl::string_view ColumnTypeName(ColumnType t) {
  switch (t) {
    case ColumnType::kInteger:
      return "INTEGER";
    case ColumnType::kReal:
      return "REAL";
    case ColumnType::kText:
      return "TEXT";
    case ColumnType::kBlob:
      return "BLOB";
    case ColumnType::kBoolean:
      return "BOOLEAN";
    case ColumnType::kNumeric:
      return "NUMERIC";
    case ColumnType::kAny:
      break;
  }
  return "ANY";
}

const Column* Table::Find(absl::string_view column) const {
  for (const Column& c : columns) {
    if (c.name == column) return &c;
  }
  return nullptr;
}

const Table* Catalog::Find(absl::string_view table) const {
  auto it = tables.find(table);
  return it == tables.end() ? nullptr : &it->second;
}

absl::StatusOr<std::optional<StoredRow>> Database::Get(const RowRead& read, absl::Time deadline) {
  return Get([&](const Catalog&) -> absl::StatusOr<RowRead> { return read; }, deadline);
}

absl::StatusOr<QueryResult> Database::List(const Query& query, absl::Time deadline) {
  return List([&](const Catalog&) -> absl::StatusOr<Query> { return query; }, deadline);
}

absl::StatusOr<std::vector<StoredRow>> Database::Write(const std::vector<WriteOp>& ops, const WriteOptions& options) {
  return Write([&](const Catalog&) -> absl::StatusOr<std::vector<WriteOp>> { return ops; }, options);
}

}  // namespace datagate::store
