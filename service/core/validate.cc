#include "core/validate.h"

#include <cmath>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"

namespace datagate::core {
namespace {

using store::Column;
using store::ColumnType;
using store::FilterOp;
using store::Table;
using store::WriteKind;

// Every integer of smaller magnitude is exact as a double; 2^53 itself may be
// 2^53 + 1 rounded, so numbers from 2^53 on must come as decimal strings.
constexpr double kExactLimit = 9007199254740992.0;  // 2^53

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

bool IsWhole(double d) { return std::trunc(d) == d && std::fabs(d) < kExactLimit; }

// Converts `v` to what column `c` stores, or says why it cannot.
absl::StatusOr<Value> Coerce(const Table& t, const Column& c, Value v) {
  if (IsNull(v)) return v;
  // NaN and infinities have no place in any column (SQLite would store NaN
  // as NULL and infinities as values no JSON client can read back).
  if (const double* d = std::get_if<double>(&v); d != nullptr && !std::isfinite(*d)) {
    return errors::NotFinite(t.name, c.name, *d);
  }
  // -0 is 0: SQLite reads a REAL -0 back as 0, PostgreSQL keeps its sign,
  // and the sync tells the stores' rows apart by content.
  if (const double* d = std::get_if<double>(&v); d != nullptr && *d == 0) v = 0.0;
  switch (c.type) {
    case ColumnType::kInteger:
      if (std::holds_alternative<int64_t>(v)) return v;
      if (const double* d = std::get_if<double>(&v)) {
        if (IsWhole(*d)) return Value{static_cast<int64_t>(*d)};
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
      if (const double* d = std::get_if<double>(&v); d != nullptr && IsWhole(*d)) {
        return Value{static_cast<int64_t>(*d)};
      }
      if (std::holds_alternative<bool>(v)) return Wrong(t, c, v);
      // SQLite stores numeric text in a NUMERIC column as a number: "1e999"
      // would become an infinity.
      if (const auto* s = std::get_if<std::string>(&v)) {
        double d;
        if (absl::SimpleAtod(*s, &d) && !std::isfinite(d)) return errors::NotFinite(t.name, c.name, d);
      }
      return v;
    case ColumnType::kAny:
      break;
  }
  return v;
}

bool IsKey(const Column& c) { return c.pk_position > 0; }

// An INTEGER PRIMARY KEY is SQLite's rowid: omitted, it is assigned.
bool AutoKey(const Table& t) {
  return t.primary_key.size() == 1 && absl::AsciiStrToUpper(t.columns[t.primary_key[0]].declared_type) == "INTEGER";
}

const Field* FindField(const std::vector<Field>& fields, absl::string_view column) {
  const Field* found = nullptr;
  for (const Field& f : fields) {
    if (f.column == column) found = &f;
  }
  return found;
}

absl::Status CheckRequired(const Table& t, const std::vector<Field>& fields, bool auto_key) {
  for (const Column& c : t.columns) {
    const Field* found = FindField(fields, c.name);
    const bool given = found != nullptr && !IsNull(found->value);
    if (IsKey(c)) {
      if (!given && !auto_key) return errors::MissingKeyColumn(t.name, c.name);
    } else if (c.not_null && found != nullptr && !given) {
      return errors::NullNotAllowed(t.name, c.name, c.has_default);
    } else if (c.not_null && found == nullptr && !c.has_default) {
      return errors::RequiredColumn(t.name, c.name);
    }
  }
  return absl::OkStatus();
}

absl::Status PlanUpdateValues(const Table& t, std::vector<Field> fields, const std::vector<std::string>& mask,
                              store::WriteOp* op) {
  if (mask.empty()) {
    for (Field& f : fields) {
      if (!IsKey(*t.Find(f.column))) op->values.push_back(std::move(f));
    }
  } else {
    std::set<std::string, std::less<>> seen;
    for (const std::string& path : mask) {
      ASSIGN_OR_RETURN(const Column* c, FindColumn(t, path));
      if (IsKey(*c)) return errors::KeyColumnInMask(path);
      if (!seen.insert(path).second) continue;
      const Field* given = FindField(fields, path);
      op->values.push_back(Field{c->name, given ? given->value : Value{}});
    }
  }
  // An update sets what it is given: a column's default does not apply.
  for (const Field& f : op->values) {
    if (IsNull(f.value) && t.Find(f.column)->not_null) return errors::NullNotAllowed(t.name, f.column, false);
  }
  if (op->values.empty()) {
    return errors::InvalidField("row", "has nothing to update: give fields besides the key, or an update_mask");
  }
  return absl::OkStatus();
}

}  // namespace

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

absl::StatusOr<std::vector<Field>> ExtractKey(const Table& t, const std::vector<Field>& fields, bool only_key,
                                              absl::string_view field) {
  std::vector<Field> key;
  for (size_t index : t.primary_key) {
    const Column& c = t.columns[index];
    const Field* found = FindField(fields, c.name);
    if (found == nullptr || IsNull(found->value)) return errors::MissingKeyColumn(t.name, c.name);
    key.push_back(*found);
  }
  if (only_key) {
    for (const Field& f : fields) {
      if (!IsKey(*t.Find(f.column))) return errors::NotAKeyColumn(field, t.name, f.column);
    }
  }
  return key;
}

absl::StatusOr<store::WriteOp> PlanWrite(const store::Catalog& catalog, const WriteSpec& spec) {
  ASSIGN_OR_RETURN(const Table* t, FindTable(catalog, spec.table));
  ASSIGN_OR_RETURN(std::vector<Field> fields, Normalize(*t, spec.fields));
  if (spec.expected_version < 0) return errors::InvalidField("expected_version", "must not be negative");
  store::WriteOp op;
  op.kind = spec.kind;
  op.table = t->name;
  op.expected_version = spec.expected_version;
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
      RETURN_IF_ERROR(PlanUpdateValues(*t, std::move(fields), spec.mask, &op));
      break;
    }
  }
  return op;
}

absl::StatusOr<store::Condition> PlanFilter(const Table& t, const FilterSpec& f, int index) {
  if (f.column.empty()) return errors::MalformedFilter(index, "column is required");
  const Column* c = t.Find(f.column);
  if (c == nullptr) return errors::FilterUnknownColumn(index, t.name, f.column);
  if (!f.op) return errors::MalformedFilter(index, "op is required");
  store::Condition cond{c->name, *f.op, {}};
  auto coerce = [&](const Value& v) -> absl::StatusOr<Value> {
    if (IsNull(v)) return errors::MalformedFilter(index, "value is null: use IS_NULL or IS_NOT_NULL to test for NULL");
    // Comparing a fractional number with an INTEGER column is fine in a
    // filter (but NaN and infinities compare with nothing sensibly).
    if (const double* d = std::get_if<double>(&v);
        d != nullptr && c->type == ColumnType::kInteger && std::isfinite(*d) && !IsWhole(*d)) {
      return v;
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
      if (f.values.size() > kMaxInValues) {
        return errors::TooLarge(absl::StrCat("filters[", index, "].values"), f.values.size(), kMaxInValues);
      }
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

}  // namespace datagate::core
