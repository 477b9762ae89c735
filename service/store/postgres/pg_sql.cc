#include "store/postgres/pg_sql.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"

namespace datagate::store::postgres {
namespace {

// Type OIDs of the built-in types the store reads (pg_type.dat).
constexpr pqxx::oid kBool = 16, kBytea = 17, kInt8 = 20, kInt2 = 21, kInt4 = 23, kFloat4 = 700, kFloat8 = 701,
                    kNumeric = 1700;

std::string DoubleText(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  // The shortest text that reads back as `d`: 0.1, not 0.10000000000000001,
  // which a numeric column would keep digit for digit (and a numeric(p,s)
  // one would store changed, so refuse); below 1e21 in plain digits
  // (1000000, which an integer or money column takes, not 1e+06; beyond
  // 2^53, where every double is an integer, that integer's digits).
  char buf[64];
  const double magnitude = std::fabs(d);
  const bool plain = magnitude == 0 || (magnitude >= 1e-6 && magnitude < 1e21);
  const auto [end, ec] = plain ? std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed)
                               : std::to_chars(buf, buf + sizeof buf, d);
  return ec == std::errc() ? std::string(buf, end) : absl::StrFormat("%.17g", d);
}

}  // namespace

std::optional<std::string> ToText(const Value& v) {
  return std::visit(
      [](const auto& x) -> std::optional<std::string> {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          return std::nullopt;
        } else if constexpr (std::is_same_v<T, bool>) {
          return std::string(x ? "t" : "f");
        } else if constexpr (std::is_same_v<T, int64_t>) {
          return absl::StrCat(x);
        } else if constexpr (std::is_same_v<T, double>) {
          return DoubleText(x);
        } else if constexpr (std::is_same_v<T, Blob>) {
          return absl::StrCat("\\x", absl::BytesToHexString(x.bytes));
        } else {
          return x;
        }
      },
      v);
}

std::string UnboundedType(absl::string_view declared_type) {
  const bool array = IsArrayType(declared_type);
  absl::string_view type = declared_type;
  if (array) type = type.substr(0, type.find('['));
  const std::string suffix = array ? "[]" : "";
  // Each bounded type, and its unbounded form (a bare "character" or "bit"
  // would mean a length of 1). A time type keeps what follows its
  // precision (`with time zone`); an interval drops its fields too.
  static constexpr std::pair<absl::string_view, absl::string_view> kUnbounded[] = {
      {"character varying(", "character varying"},
      {"character(", "bpchar"},
      {"bit varying(", "bit varying"},
      {"bit(", "varbit"},
      {"numeric(", "numeric"},
      {"timestamp(", "timestamp"},
      {"time(", "time"},
  };
  const size_t close = type.find(')');
  for (const auto& [bounded, unbounded] : kUnbounded) {
    if (absl::StartsWith(type, bounded) && close != absl::string_view::npos) {
      return absl::StrCat(unbounded, type.substr(close + 1), suffix);
    }
  }
  if (type == "interval" || absl::StartsWith(type, "interval ") || absl::StartsWith(type, "interval(")) {
    return "interval" + suffix;
  }
  if (type == "real") return "double precision" + suffix;
  if (type == "\"char\"" || type == "name") return "text" + suffix;
  return std::string(declared_type);
}

bool MayChangeWhenStored(absl::string_view stored_type) { return UnboundedType(stored_type) != stored_type; }

std::string ChangedWhenStored(absl::string_view stored_type, absl::string_view expr) {
  if (!MayChangeWhenStored(stored_type)) return "";
  const std::string stored = absl::StrCat("(", expr, ")::", stored_type);
  // What the gateway reads back is compared: a numeric as a number (2
  // and 2.00 are the same), a real as the double its shortest text makes,
  // anything else as its text (char(n) pads it; an array is served as its
  // text, so `{1.50}` is not `{1.5}`; an interval's fields are not its
  // length).
  if (!IsArrayType(stored_type)) {
    if (absl::StartsWith(stored_type, "numeric")) return absl::StrCat(stored, " IS DISTINCT FROM (", expr, ")");
    if (stored_type == "real") return absl::StrCat(stored, "::text::double precision IS DISTINCT FROM (", expr, ")");
  }
  return absl::StrCat("concat(", stored, ") IS DISTINCT FROM concat(", expr, ")");
}

std::string FirstChanged(const std::vector<std::pair<std::string, std::string>>& columns) {
  std::string whens;
  for (size_t k = 0; k < columns.size(); ++k) {
    const std::string changed = ChangedWhenStored(columns[k].first, columns[k].second);
    if (!changed.empty()) absl::StrAppend(&whens, " WHEN ", changed, " THEN ", k);
  }
  return whens.empty() ? "" : absl::StrCat("CASE", whens, " END");
}

bool IsArrayType(absl::string_view declared_type) { return absl::EndsWith(declared_type, "]"); }

std::string ArrayCast(absl::string_view declared_type) {
  return IsArrayType(declared_type) ? "::text[]" : absl::StrCat("::", UnboundedType(declared_type), "[]");
}

std::string ArrayLiteral(const std::vector<std::optional<std::string>>& elements) {
  std::string out = "{";
  for (size_t i = 0; i < elements.size(); ++i) {
    if (i) out += ',';
    if (!elements[i]) {
      out += "NULL";
      continue;
    }
    out += '"';
    for (const char c : *elements[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

std::string Params::Add(const Value& v) { return AddText(ToText(v)); }

std::string Params::AddText(std::optional<std::string> text) {
  if (quoter_ != nullptr) return text ? quoter_->quote(*text) : "NULL";
  values_.push_back(std::move(text));
  return absl::StrCat("$", values_.size());
}

pqxx::result Params::ExecPrefix(pqxx::transaction_base& tx, const std::string& sql, size_t n) const {
  std::vector<const char*> ptrs;
  ptrs.reserve(n);
  for (size_t i = 0; i < n && i < values_.size(); ++i) ptrs.push_back(values_[i] ? values_[i]->c_str() : nullptr);
  return tx.exec_params(sql, pqxx::prepare::make_dynamic_params(ptrs));
}

Value FromField(const pqxx::field& f) {
  if (f.is_null()) return Value{};
  const absl::string_view text(f.c_str(), f.size());
  switch (f.type()) {
    case kBool:
      return text == "t";
    case kInt2:
    case kInt4:
    case kInt8: {
      int64_t n = 0;
      if (absl::SimpleAtoi(text, &n)) return n;
      return std::string(text);
    }
    case kFloat4:
    case kFloat8:
      return std::strtod(f.c_str(), nullptr);
    case kNumeric: {
      // As SQLite's NUMERIC affinity: integers stay integers.
      int64_t n = 0;
      if (text.find_first_of(".eEN") == absl::string_view::npos && absl::SimpleAtoi(text, &n)) return n;
      return std::strtod(f.c_str(), nullptr);
    }
    case kBytea: {
      absl::string_view hex = text;
      if (hex.size() >= 2 && hex[0] == '\\' && hex[1] == 'x') hex.remove_prefix(2);
      return Blob{absl::HexStringToBytes(hex)};
    }
    default:
      return std::string(text);
  }
}

std::string Quote(absl::string_view identifier) {
  return absl::StrCat("\"", absl::StrReplaceAll(identifier, {{"\"", "\"\""}}), "\"");
}

std::string Qualified(absl::string_view schema, absl::string_view name) {
  return absl::StrCat(Quote(schema), ".", Quote(name));
}

std::string Comparable(const Column& c) {
  if (c.type == ColumnType::kText) return absl::StrCat(Quote(c.name), " COLLATE \"C\"");
  return Quote(c.name);
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

std::string SelectList(const std::vector<const Column*>& cols, absl::string_view alias) {
  const std::string prefix = alias.empty() ? "" : absl::StrCat(alias, ".");
  std::string s;
  for (const Column* c : cols) absl::StrAppend(&s, prefix, Quote(c->name), ", ");
  return absl::StrCat(s, prefix, "_dg_version, ", prefix, "_dg_create_us, ", prefix, "_dg_update_us");
}

StoredRow ReadRow(const pqxx::row& r, const Table& table, const std::vector<const Column*>& cols, int first) {
  StoredRow row;
  row.table = table.name;
  row.fields.reserve(cols.size());
  int i = first;
  for (const Column* c : cols) row.fields.push_back(Field{c->name, FromField(r[i++])});
  row.version = r[i++].as<int64_t>();
  row.create_time_us = r[i++].as<int64_t>();
  row.update_time_us = r[i].as<int64_t>();
  return row;
}

std::string KeyMatch(const std::vector<Field>& key, Params* params) {
  std::string s;
  for (const Field& f : key) absl::StrAppend(&s, " AND ", Quote(f.column), " = ", params->Add(f.value));
  return s;
}

std::string ConditionSql(const Table& table, const Condition& c, Params* params) {
  const Column* column = table.Find(c.column);
  const std::string col = column ? Comparable(*column) : Quote(c.column);
  auto binary = [&](absl::string_view op) { return absl::StrCat(col, " ", op, " ", params->Add(c.values.at(0))); };
  switch (c.op) {
    case FilterOp::kEq:
      return binary("=");
    case FilterOp::kNe:
      return binary("<>");
    case FilterOp::kLt:
      return binary("<");
    case FilterOp::kLe:
      return binary("<=");
    case FilterOp::kGt:
      return binary(">");
    case FilterOp::kGe:
      return binary(">=");
    case FilterOp::kLike: {
      // SQLite's LIKE: case-insensitive for ASCII letters only (ILIKE under
      // the C collation folds ASCII only), no escape character.
      const bool text = column != nullptr && column->type == ColumnType::kText;
      const std::string subject = text ? col : absl::StrCat(Quote(c.column), "::text COLLATE \"C\"");
      return absl::StrCat(subject, " ILIKE ", params->Add(c.values.at(0)), " ESCAPE ''");
    }
    case FilterOp::kIsNull:
      return absl::StrCat(Quote(c.column), " IS NULL");
    case FilterOp::kIsNotNull:
      return absl::StrCat(Quote(c.column), " IS NOT NULL");
    case FilterOp::kIn: {
      if (c.values.empty()) return "FALSE";
      std::string s = absl::StrCat(col, " IN (");
      for (size_t i = 0; i < c.values.size(); ++i) absl::StrAppend(&s, i ? ", " : "", params->Add(c.values[i]));
      return s + ")";
    }
  }
  return "FALSE";
}

std::string KeysetSql(const Table& table, const std::vector<Order>& order, const std::vector<Value>& after,
                      Params* params) {
  auto expr = [&](const Order& o) {
    const Column* c = table.Find(o.column);
    return c ? Comparable(*c) : Quote(o.column);
  };
  std::string s = "(";
  for (size_t i = 0; i < order.size(); ++i) {
    if (i) s += " OR ";
    s += "(";
    for (size_t j = 0; j < i; ++j) {
      if (IsNull(after[j])) {
        absl::StrAppend(&s, Quote(order[j].column), " IS NULL AND ");
      } else {
        absl::StrAppend(&s, expr(order[j]), " = ", params->Add(after[j]), " AND ");
      }
    }
    const std::string col = expr(order[i]);
    if (!order[i].descending) {
      if (IsNull(after[i])) {
        absl::StrAppend(&s, Quote(order[i].column), " IS NOT NULL");
      } else {
        absl::StrAppend(&s, col, " > ", params->Add(after[i]));
      }
    } else if (IsNull(after[i])) {
      s += "FALSE";
    } else {
      absl::StrAppend(&s, "(", col, " < ", params->Add(after[i]), " OR ", Quote(order[i].column), " IS NULL)");
    }
    s += ")";
  }
  return s + ")";
}

std::string OrderSql(const Table& table, const std::vector<Order>& order) {
  std::string s;
  for (size_t i = 0; i < order.size(); ++i) {
    const Column* c = table.Find(order[i].column);
    absl::StrAppend(&s, i ? ", " : " ORDER BY ", c ? Comparable(*c) : Quote(order[i].column),
                    order[i].descending ? " DESC NULLS LAST" : " ASC NULLS FIRST");
  }
  return s;
}

std::string KeyText(const std::vector<Field>& key) {
  std::vector<const Field*> sorted;
  for (const Field& f : key) sorted.push_back(&f);
  std::sort(sorted.begin(), sorted.end(), [](const Field* a, const Field* b) { return a->column < b->column; });
  std::string out;
  for (const Field* f : sorted) {
    absl::StrAppend(&out, f->column, "=");
    std::string bytes;
    EncodeValue(f->value, &bytes);
    absl::StrAppend(&out, absl::BytesToHexString(bytes), ";");
  }
  return out;
}

}  // namespace datagate::store::postgres
