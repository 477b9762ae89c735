// Building SQL for PostgreSQL with its parameters, and reading values back.
// Internal to the Postgres store. Identifiers are always quoted; values are
// always parameters in text format (so statements stay unnamed and work
// behind PgBouncer in transaction mode).
#ifndef DATAGATE_STORE_POSTGRES_PG_SQL_H_
#define DATAGATE_STORE_POSTGRES_PG_SQL_H_

#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <utility>
#include <vector>

#include "common/value.h"
#include "store/store.h"

namespace datagate::store::postgres {

// The gateway's bookkeeping columns, in the order rows are read back.
inline constexpr char kMetaColumns[] = "_dg_version, _dg_create_us, _dg_update_us";

// Parameters of one statement. Not thread-safe.
class Params {
 public:
  Params() = default;
  // Values written into the statement as quoted literals instead (for
  // statements sent as a simple query, which takes no parameters), quoted by
  // `quoter`'s connection; nothing is bound.
  explicit Params(const pqxx::transaction_base& quoter) : quoter_(&quoter) {}

  // Binds `v` and returns its placeholder ("$n"), or its literal.
  std::string Add(const Value& v);
  // Binds text as it is (or NULL) and returns its placeholder, or its literal.
  std::string AddText(std::optional<std::string> text);
  size_t size() const { return values_.size(); }
  // Runs `sql` with these parameters (unnamed statement). Throws pqxx errors.
  pqxx::result Exec(pqxx::transaction_base& tx, const std::string& sql) const { return ExecPrefix(tx, sql, size()); }
  // Runs `sql` with the first `n` of these parameters.
  pqxx::result ExecPrefix(pqxx::transaction_base& tx, const std::string& sql, size_t n) const;

 private:
  const pqxx::transaction_base* quoter_ = nullptr;
  std::vector<std::optional<std::string>> values_;
};

// A PostgreSQL array literal of text elements (NULL for nullopt), for a
// `$n::type[]` parameter.
std::string ArrayLiteral(const std::vector<std::optional<std::string>>& elements);
// `declared_type` (a type as format_type names it) without what bounds
// its values, for values on their way in: varchar(n), char(n), bit(n) and
// varbit(n) without their length, numeric(p,s) and the time types without
// their precision, interval without its fields and precision, real as
// double precision, "char" and name as text, and arrays of them. A cast to a
// bounded type cuts or rounds what storing it either refuses (22001) or
// changes unseen; see ChangedWhenStored.
std::string UnboundedType(absl::string_view declared_type);
// Whether a column whose values are stored as `stored_type` (a domain's
// base type, bound included) can store a value of its UnboundedType
// changed: cut, padded or rounded.
bool MayChangeWhenStored(absl::string_view stored_type);
// A condition true when `expr`, of `stored_type`'s UnboundedType, would be
// stored in a column of `stored_type` as another value than it is, as the
// gateway reads it back. "" when !MayChangeWhenStored(stored_type).
std::string ChangedWhenStored(absl::string_view stored_type, absl::string_view expr);
// `CASE WHEN <changed> THEN k ... END`: the index of the first of `columns`
// (each a stored type and a value expression) whose value would be stored
// changed (ChangedWhenStored), NULL when none would; "" when none can be.
std::string FirstChanged(const std::vector<std::pair<std::string, std::string>>& columns);
// Whether a column declared so holds arrays (`text[]`).
bool IsArrayType(absl::string_view declared_type);
// `::type[]` for an ArrayLiteral of a column declared as `declared_type`:
// of its UnboundedType, or `::text[]` for an array column (unnest would
// flatten an array of arrays): each element then is an array's text, for
// a cast to the UnboundedType where it is used.
std::string ArrayCast(absl::string_view declared_type);
// `v` as PostgreSQL's text input for it; nullopt for NULL.
std::optional<std::string> ToText(const Value& v);
// A result field as a Value, by its type (NULL as monostate).
Value FromField(const pqxx::field& f);

// `"name"` with inner quotes doubled.
std::string Quote(absl::string_view identifier);
// `"schema"."name"`.
std::string Qualified(absl::string_view schema, absl::string_view name);

// A column as an expression comparable the way SQLite compares it: text
// bytewise (COLLATE "C").
std::string Comparable(const Column& c);
// The named columns of `table` (all, when `names` is empty).
std::vector<const Column*> Projection(const Table& table, const std::vector<std::string>& names);
// `"a", "b", <meta columns>` (qualified with `alias.` when given).
std::string SelectList(const std::vector<const Column*>& cols, absl::string_view alias = "");
// The row in `r` from column `first`: `cols`, then the meta columns.
StoredRow ReadRow(const pqxx::row& r, const Table& table, const std::vector<const Column*>& cols, int first = 0);
// ` AND "k1" = $n AND ...` for a key.
std::string KeyMatch(const std::vector<Field>& key, Params* params);
// One filter condition, with SQLite's semantics (LIKE: ASCII case-insensitive,
// no escape character; text compared bytewise).
std::string ConditionSql(const Table& table, const Condition& c, Params* params);
// Rows strictly after `after` in `order` (NULLs first ascending, last
// descending), as SQLite's keyset.
std::string KeysetSql(const Table& table, const std::vector<Order>& order, const std::vector<Value>& after,
                      Params* params);
// ` ORDER BY ...` with explicit NULLS FIRST/LAST and bytewise text.
std::string OrderSql(const Table& table, const std::vector<Order>& order);
// A canonical text of a key (for the tombstones of rows the cloud never
// had): the same for the same typed values.
std::string KeyText(const std::vector<Field>& key);

}  // namespace datagate::store::postgres

#endif  // DATAGATE_STORE_POSTGRES_PG_SQL_H_
