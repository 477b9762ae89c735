#include "core/data.h"

#include <cmath>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/hash.h"
#include "common/status_macros.h"
#include "core/page_token.h"

namespace datagate::core {
namespace {

using store::Column;
using store::ColumnType;
using store::FilterOp;
using store::Table;
using store::WriteKind;

absl::string_view KindOf(const Value& v) {
  switch (v.index()) {
    case 0:
      return "null";
    case 1:
      return "an integer";
    case 2:
      return "a number";
    case 3:
      return "a string";
    case 4:
      return "bytes";
    default:
      return "a bool";
  }
}

absl::Status Wrong(const Table& t, const Column& c, const Value& v, absl::string_view extra = "") {
  return errors::WrongType(t.name, c.name, ColumnTypeName(c.type), absl::StrCat(KindOf(v), extra));
}

// Converts `v` to what column `c` stores, or says why it cannot.
absl::StatusOr<Value> Coerce(const Table& t, const Column& c, Value v) {
  if (IsNull(v)) return v;
  switch (c.type) {
    case ColumnType::kInteger:
      if (std::holds_alternative<int64_t>(v)) return v;
      if (const double* d = std::get_if<double>(&v)) {
        if (std::isfinite(*d) && std::trunc(*d) == *d && std::fabs(*d) <= 9007199254740992.0) {
          return Value{static_cast<int64_t>(*d)};
        }
        return Wrong(t, c, v, absl::StrCat(" (", *d, ", not a whole number in range)"));
      }
      if (const auto* s = std::get_if<std::string>(&v)) {
        int64_t n;
        if (absl::SimpleAtoi(*s, &n)) return Value{n};
        return Wrong(t, c, v, " that is not a decimal integer");
      }
      return Wrong(t, c, v);
    case ColumnType::kReal:
      if (std::holds_alternative<double>(v)) return v;
      if (const auto* n = std::get_if<int64_t>(&v)) return Value{static_cast<double>(*n)};
      return Wrong(t, c, v);
    case ColumnType::kText:
      if (std::holds_alternative<std::string>(v)) return v;
      return Wrong(t, c, v);
    case ColumnType::kBoolean:
      if (std::holds_alternative<bool>(v)) return v;
      return Wrong(t, c, v);
    case ColumnType::kBlob:
      if (std::holds_alternative<Blob>(v)) return v;
      if (const auto* s = std::get_if<std::string>(&v)) {
        Blob b;
        if (absl::Base64Unescape(*s, &b.bytes)) return Value{std::move(b)};
        return Wrong(t, c, v, " that is not base64");
      }
      return Wrong(t, c, v);
    case ColumnType::kNumeric:
      if (const double* d = std::get_if<double>(&v); d && std::trunc(*d) == *d && std::fabs(*d) <= 9007199254740992.0) {
        return Value{static_cast<int64_t>(*d)};
      }
      if (std::holds_alternative<bool>(v)) return Wrong(t, c, v);
      return v;
    case ColumnType::kAny:
      break;
  }
  return v;
}

absl::StatusOr<const Table*> FindTable(const store::Catalog& catalog, absl::string_view name) {
  if (name.empty()) return errors::InvalidField("table", "is required");
  const Table* t = catalog.Find(name);
  if (t == nullptr) return errors::UnknownTable(name);
  return t;
}

absl::StatusOr<const Column*> FindColumn(const Table& t, absl::string_view name) {
  const Column* c = t.Find(name);
  if (c == nullptr) return errors::UnknownColumn(t.name, name);
  return c;
}

// `fields` with known columns, coerced, in the table's column order.
absl::StatusOr<std::vector<Field>> Normalize(const Table& t, const std::vector<Field>& fields) {
  std::vector<std::optional<Value>> slots(t.columns.size());
  for (const Field& f : fields) {
    ASSIGN_OR_RETURN(const Column* c, FindColumn(t, f.column));
    ASSIGN_OR_RETURN(slots[c - t.columns.data()], Coerce(t, *c, f.value));
  }
  std::vector<Field> out;
  for (size_t i = 0; i < slots.size(); ++i) {
    if (slots[i]) out.push_back(Field{t.columns[i].name, *std::move(slots[i])});
  }
  return out;
}

bool IsKey(const Column& c) { return c.pk_position > 0; }

// An INTEGER PRIMARY KEY is SQLite's rowid: omitted, it is assigned.
bool AutoKey(const Table& t) {
  return t.primary_key.size() == 1 && absl::AsciiStrToUpper(t.columns[t.primary_key[0]].declared_type) == "INTEGER";
}

// The key fields of `fields` in key order; every key column must be there
// and non-null. With `only_key`, other columns are refused.
absl::StatusOr<std::vector<Field>> ExtractKey(const Table& t, const std::vector<Field>& fields, bool only_key,
                                              absl::string_view what) {
  std::vector<Field> key;
  for (size_t index : t.primary_key) {
    const Column& c = t.columns[index];
    const Field* found = nullptr;
    for (const Field& f : fields) {
      if (f.column == c.name) found = &f;
    }
    if (found == nullptr || IsNull(found->value)) return errors::MissingKeyColumn(t.name, c.name);
    key.push_back(*found);
  }
  if (only_key) {
    for (const Field& f : fields) {
      if (!IsKey(*t.Find(f.column))) {
        return errors::InvalidField(
            what, absl::StrCat("'", f.column, "' is not a primary-key column of '", t.name, "'; give only the key"));
      }
    }
  }
  return key;
}

absl::Status CheckRequired(const Table& t, const std::vector<Field>& fields, bool auto_key) {
  for (const Column& c : t.columns) {
    const Field* found = nullptr;
    for (const Field& f : fields) {
      if (f.column == c.name) found = &f;
    }
    const bool given = found != nullptr && !IsNull(found->value);
    if (IsKey(c)) {
      if (!given && !auto_key) return errors::MissingKeyColumn(t.name, c.name);
    } else if (c.not_null && !given && (found != nullptr || !c.has_default)) {
      return errors::RequiredColumn(t.name, c.name);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<store::WriteOp> Validate(const store::Catalog& catalog, const WriteSpec& spec) {
  ASSIGN_OR_RETURN(const Table* t, FindTable(catalog, spec.table));
  ASSIGN_OR_RETURN(std::vector<Field> fields, Normalize(*t, spec.fields));
  store::WriteOp op;
  op.kind = spec.kind;
  op.table = t->name;
  op.expected_version = spec.expected_version;
  if (spec.expected_version < 0) return errors::InvalidField("expected_version", "must not be negative");
  switch (spec.kind) {
    case WriteKind::kInsert:
    case WriteKind::kUpsert:
      if (fields.empty()) return errors::InvalidField("row", "is empty: give the row's column values");
      RETURN_IF_ERROR(CheckRequired(*t, fields, spec.kind == WriteKind::kInsert && AutoKey(*t)));
      op.values = std::move(fields);
      break;
    case WriteKind::kDelete: {
      ASSIGN_OR_RETURN(op.key, ExtractKey(*t, fields, /*only_key=*/true, "key"));
      break;
    }
    case WriteKind::kUpdate: {
      ASSIGN_OR_RETURN(op.key, ExtractKey(*t, fields, /*only_key=*/false, "row"));
      if (spec.mask.empty()) {
        for (Field& f : fields) {
          if (!IsKey(*t->Find(f.column))) op.values.push_back(std::move(f));
        }
      } else {
        std::set<std::string, std::less<>> seen;
        for (const std::string& path : spec.mask) {
          ASSIGN_OR_RETURN(const Column* c, FindColumn(*t, path));
          if (IsKey(*c)) {
            return errors::InvalidField("update_mask",
                                        absl::StrCat("'", path, "' is a primary-key column and cannot be changed"));
          }
          if (!seen.insert(path).second) continue;
          Value v;
          for (const Field& f : fields) {
            if (f.column == path) v = f.value;
          }
          if (IsNull(v) && c->not_null) return errors::RequiredColumn(t->name, c->name);
          op.values.push_back(Field{c->name, std::move(v)});
        }
      }
      for (const Field& f : op.values) {
        if (IsNull(f.value) && t->Find(f.column)->not_null) return errors::RequiredColumn(t->name, f.column);
      }
      if (op.values.empty()) {
        return errors::InvalidField("row", "has nothing to update: give fields besides the key, or an update_mask");
      }
      break;
    }
  }
  return op;
}

absl::StatusOr<store::Condition> ValidateFilter(const Table& t, const FilterSpec& f, int index) {
  if (f.column.empty()) return errors::MalformedFilter(index, "column is required");
  const Column* c = t.Find(f.column);
  if (c == nullptr)
    return errors::MalformedFilter(index, absl::StrCat("unknown column '", f.column, "' in table '", t.name, "'"));
  if (!f.op) return errors::MalformedFilter(index, "op is required");
  store::Condition cond{c->name, *f.op, {}};
  auto coerce = [&](const Value& v) -> absl::StatusOr<Value> {
    if (IsNull(v)) return errors::MalformedFilter(index, "value is null: use IS_NULL or IS_NOT_NULL to test for NULL");
    // Comparing a REAL value with an INTEGER column is fine in a filter.
    if (c->type == ColumnType::kInteger && std::holds_alternative<double>(v)) {
      const double d = std::get<double>(v);
      if (std::trunc(d) != d || std::fabs(d) > 9007199254740992.0) return v;
    }
    absl::StatusOr<Value> out = Coerce(t, *c, v);
    if (!out.ok()) return errors::MalformedFilter(index, out.status().message());
    return out;
  };
  switch (*f.op) {
    case FilterOp::kIsNull:
    case FilterOp::kIsNotNull:
      if (f.value || !f.values.empty()) return errors::MalformedFilter(index, "IS_NULL and IS_NOT_NULL take no value");
      break;
    case FilterOp::kIn:
      if (f.value) return errors::MalformedFilter(index, "IN takes its operands in 'values', not 'value'");
      if (f.values.empty()) return errors::MalformedFilter(index, "IN needs at least one value in 'values'");
      if (f.values.size() > kMaxInValues)
        return errors::TooLarge(absl::StrCat("filters[", index, "].values"), f.values.size(), kMaxInValues);
      for (const Value& v : f.values) {
        ASSIGN_OR_RETURN(Value coerced, coerce(v));
        cond.values.push_back(std::move(coerced));
      }
      break;
    case FilterOp::kLike:
      if (!f.value || !std::holds_alternative<std::string>(*f.value)) {
        return errors::MalformedFilter(index, "LIKE needs a string pattern in 'value'");
      }
      if (!f.values.empty()) return errors::MalformedFilter(index, "LIKE takes one 'value', not 'values'");
      if (std::get<std::string>(*f.value).size() > kMaxLikePattern) {
        return errors::TooLarge(absl::StrCat("filters[", index, "].value length"),
                                std::get<std::string>(*f.value).size(), kMaxLikePattern);
      }
      cond.values.push_back(*f.value);
      break;
    default:
      if (!f.value) return errors::MalformedFilter(index, "this operator needs a 'value'");
      if (!f.values.empty()) return errors::MalformedFilter(index, "'values' is only for IN");
      {
        ASSIGN_OR_RETURN(Value coerced, coerce(*f.value));
        cond.values.push_back(std::move(coerced));
      }
  }
  return cond;
}

// Identifies the query's table, filters and order, for page tokens.
uint64_t QueryFingerprint(const store::Query& q) {
  std::string s = q.table;
  for (const store::Condition& c : q.conditions) {
    absl::StrAppend(&s, "|", c.column, ":", static_cast<int>(c.op), ":");
    for (const Value& v : c.values) EncodeValue(v, &s);
  }
  for (const store::Order& o : q.order) absl::StrAppend(&s, "|", o.column, o.descending ? "-" : "+");
  return Fnv1a64(s);
}

}  // namespace

absl::Status ValidateRequestId(absl::string_view id) {
  if (id.size() > kMaxRequestIdLength) {
    return errors::InvalidField(
        "request_id", absl::StrCat("is ", id.size(), " characters; at most ", kMaxRequestIdLength, " are allowed"));
  }
  return absl::OkStatus();
}

absl::StatusOr<StoredRow> GetRow(store::Database& db, const GetSpec& spec) {
  const auto catalog = db.GetCatalog();
  ASSIGN_OR_RETURN(const Table* t, FindTable(*catalog, spec.table));
  ASSIGN_OR_RETURN(std::vector<Field> fields, Normalize(*t, spec.key));
  ASSIGN_OR_RETURN(std::vector<Field> key, ExtractKey(*t, fields, /*only_key=*/true, "key"));
  for (const std::string& c : spec.columns) RETURN_IF_ERROR(FindColumn(*t, c).status());
  ASSIGN_OR_RETURN(std::optional<StoredRow> row, db.Get(t->name, key, spec.columns, spec.deadline));
  if (!row) return errors::RowNotFound(t->name, DescribeFields(key));
  return *std::move(row);
}

absl::StatusOr<ListPage> ListRows(store::Database& db, const ListSpec& spec) {
  const auto catalog = db.GetCatalog();
  ASSIGN_OR_RETURN(const Table* t, FindTable(*catalog, spec.table));
  if (spec.page_size < 0) return errors::InvalidField("page_size", "must not be negative");
  if (spec.page_size > kMaxPageSize) return errors::TooLarge("page_size", spec.page_size, kMaxPageSize);
  store::Query q;
  q.table = t->name;
  q.limit = spec.page_size == 0 ? kDefaultPageSize : spec.page_size;
  q.count_total = spec.include_total;
  q.max_bytes = spec.max_page_bytes;
  q.deadline = spec.deadline;
  if (spec.filters.size() > kMaxFilters) return errors::TooLarge("filters", spec.filters.size(), kMaxFilters);
  for (size_t i = 0; i < spec.filters.size(); ++i) {
    ASSIGN_OR_RETURN(store::Condition c, ValidateFilter(*t, spec.filters[i], static_cast<int>(i)));
    q.conditions.push_back(std::move(c));
  }
  if (spec.order.size() > kMaxOrderTerms) return errors::TooLarge("order_by", spec.order.size(), kMaxOrderTerms);
  std::set<std::string, std::less<>> ordered;
  for (const store::Order& o : spec.order) {
    ASSIGN_OR_RETURN(const Column* c, FindColumn(*t, o.column));
    if (!ordered.insert(c->name).second) {
      return errors::InvalidField("order_by", absl::StrCat("column '", c->name, "' appears twice"));
    }
    q.order.push_back(store::Order{c->name, o.descending});
  }
  for (size_t index : t->primary_key) {  // tie-breaker: a total order
    if (ordered.insert(t->columns[index].name).second) q.order.push_back(store::Order{t->columns[index].name, false});
  }
  std::set<std::string, std::less<>> projected;
  for (const std::string& c : spec.columns) {
    ASSIGN_OR_RETURN(const Column* col, FindColumn(*t, c));
    if (projected.insert(col->name).second) q.columns.push_back(col->name);
  }
  const uint64_t fingerprint = QueryFingerprint(q);
  if (!spec.page_token.empty()) {
    ASSIGN_OR_RETURN(q.after, DecodePageToken(spec.page_token, fingerprint));
    if (q.after.size() != q.order.size()) return errors::MalformedPageToken("it does not fit this query");
  }
  ASSIGN_OR_RETURN(store::QueryResult result, db.List(q));
  ListPage page;
  page.rows = std::move(result.rows);
  page.total = result.total < 0 ? 0 : result.total;
  if (result.more) page.next_page_token = EncodePageToken(fingerprint, result.last_cursor);
  return page;
}

absl::StatusOr<std::vector<StoredRow>> Write(store::Database& db, const std::vector<WriteSpec>& specs,
                                             const std::string& request_id, const std::string& fingerprint,
                                             absl::Time deadline) {
  RETURN_IF_ERROR(ValidateRequestId(request_id));
  if (specs.empty()) return errors::InvalidField("operations", "is empty: give at least one");
  if (specs.size() > kMaxBatchOperations) return errors::TooLarge("operations", specs.size(), kMaxBatchOperations);
  const auto catalog = db.GetCatalog();
  store::WriteRequest request;
  request.request_id = request_id;
  request.fingerprint = fingerprint;
  request.deadline = deadline;
  for (size_t i = 0; i < specs.size(); ++i) {
    absl::StatusOr<store::WriteOp> op = Validate(*catalog, specs[i]);
    if (!op.ok()) {
      if (specs.size() == 1) return op.status();
      return absl::Status(op.status().code(), absl::StrCat("operations[", i, "]: ", op.status().message()));
    }
    request.ops.push_back(*std::move(op));
  }
  return db.Write(request);
}

}  // namespace datagate::core
