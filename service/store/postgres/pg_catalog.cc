#include "store/postgres/pg_catalog.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "store/postgres/pg_sql.h"

namespace datagate::store::postgres {
namespace {

// The user's tables of schema $1: not the gateway's, not partitions.
constexpr char kUserFrom[] = " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace ";
constexpr char kUserWhere[] =
    " WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
    "AND c.relname NOT LIKE '\\_dg\\_%' ";

ColumnType TypeOf(absl::string_view typname) {
  if (typname == "int8" || typname == "int4" || typname == "int2") return ColumnType::kInteger;
  if (typname == "float8" || typname == "float4") return ColumnType::kReal;
  if (typname == "text" || typname == "varchar" || typname == "bpchar") return ColumnType::kText;
  if (typname == "bytea") return ColumnType::kBlob;
  if (typname == "bool") return ColumnType::kBoolean;
  if (typname == "numeric") return ColumnType::kNumeric;
  return ColumnType::kAny;
}

bool Hidden(absl::string_view column) { return column == "tenant_id" || absl::StartsWith(column, "_dg_"); }

}  // namespace

std::shared_ptr<const Catalog> ServedCatalog(std::shared_ptr<const Catalog> cloud, const Catalog* local) {
  if (local == nullptr) return cloud;
  auto served = std::make_shared<Catalog>();
  served->schema_cookie = cloud->schema_cookie;
  served->migration_version = cloud->migration_version;
  for (const auto& [name, mine] : local->tables) {
    const Table* theirs = cloud->Find(name);
    if (theirs == nullptr) continue;
    Table t;
    t.name = theirs->name;
    t.check_constraints = theirs->check_constraints;
    t.foreign_keys = mine.foreign_keys;  // their actions are done as locally
    for (const Column& c : mine.columns) {
      if (const Column* column = theirs->Find(c.name)) t.columns.push_back(*column);
    }
    // A key always selects one row, even where the local key lacks a column.
    for (const size_t i : theirs->primary_key) {
      if (t.Find(theirs->columns[i].name) == nullptr) t.columns.push_back(theirs->columns[i]);
    }
    std::vector<std::pair<int, size_t>> pk;
    for (size_t i = 0; i < t.columns.size(); ++i) {
      if (t.columns[i].pk_position > 0) pk.emplace_back(t.columns[i].pk_position, i);
    }
    std::sort(pk.begin(), pk.end());
    for (const auto& [pos, index] : pk) t.primary_key.push_back(index);
    served->tables.emplace(name, std::move(t));
  }
  return served;
}

int64_t MigrationLockKey(absl::string_view schema) {
  // FNV-1a of a fixed prefix and the schema name: the same in every replica.
  uint64_t h = 14695981039346656037ull;
  for (const char c : absl::StrCat("datagate/migrations/", schema)) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return static_cast<int64_t>(h);
}

void Bootstrap(pqxx::transaction_base& tx, const std::string& schema) {
  auto q = [&](absl::string_view name) { return Qualified(schema, name); };
  tx.exec(absl::StrCat(
      "CREATE SCHEMA IF NOT EXISTS ", Quote(schema), ";", "CREATE TABLE IF NOT EXISTS ", q("_dg_migrations"),
      "(version BIGINT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, apply_us BIGINT NOT NULL);",
      "CREATE TABLE IF NOT EXISTS ", q("_dg_schema"),
      "(id INT PRIMARY KEY CHECK (id = 1), generation BIGINT NOT NULL);", "INSERT INTO ", q("_dg_schema"),
      " VALUES (1, 0) ON CONFLICT DO NOTHING;", "CREATE TABLE IF NOT EXISTS ", q("_dg_requests"),
      "(tenant_id TEXT NOT NULL, request_id TEXT NOT NULL, fingerprint TEXT NOT NULL, result BYTEA NOT NULL, "
      "create_us BIGINT NOT NULL, PRIMARY KEY (tenant_id, request_id));",
      "CREATE INDEX IF NOT EXISTS _dg_requests_by_time ON ", q("_dg_requests"), "(tenant_id, create_us);",
      "CREATE TABLE IF NOT EXISTS ", q("_dg_cursors"),
      "(tenant_id TEXT NOT NULL, id BIGSERIAL, create_us BIGINT NOT NULL, size BIGINT NOT NULL, "
      "secret BYTEA NOT NULL, data BYTEA NOT NULL, PRIMARY KEY (tenant_id, id));",
      "CREATE INDEX IF NOT EXISTS _dg_cursors_by_time ON ", q("_dg_cursors"), "(tenant_id, create_us);",
      "CREATE TABLE IF NOT EXISTS ", q("_dg_tombstones"),
      "(tenant_id TEXT NOT NULL, tbl TEXT NOT NULL, key_text TEXT NOT NULL, version BIGINT NOT NULL, "
      "PRIMARY KEY (tenant_id, tbl, key_text));"));
}

void EnsureMetaColumns(pqxx::transaction_base& tx, const std::string& schema) {
  Params p;
  p.AddText(schema);
  const pqxx::result lacking = p.Exec(
      tx, absl::StrCat("SELECT c.relname ", kUserFrom, kUserWhere,
                       " AND (SELECT count(*) FROM pg_attribute a WHERE a.attrelid = c.oid AND NOT a.attisdropped "
                       "AND a.attname IN ('_dg_version', '_dg_create_us', '_dg_update_us', '_dg_deleted')) < 4"));
  for (const pqxx::row& r : lacking) {
    tx.exec(absl::StrCat("ALTER TABLE ", Qualified(schema, r[0].c_str()),
                         " ADD COLUMN IF NOT EXISTS _dg_version BIGINT NOT NULL DEFAULT 1,"
                         " ADD COLUMN IF NOT EXISTS _dg_create_us BIGINT NOT NULL DEFAULT 0,"
                         " ADD COLUMN IF NOT EXISTS _dg_update_us BIGINT NOT NULL DEFAULT 0,"
                         " ADD COLUMN IF NOT EXISTS _dg_deleted BOOLEAN NOT NULL DEFAULT false"));
  }
}

absl::StatusOr<std::shared_ptr<const PgCatalog>> LoadCatalog(pqxx::transaction_base& tx, const std::string& schema) {
  auto out = std::make_shared<PgCatalog>();
  auto catalog = std::make_shared<Catalog>();
  {
    Params p;
    const pqxx::row r = p.Exec(tx, absl::StrCat("SELECT (SELECT generation FROM ", Qualified(schema, "_dg_schema"),
                                                " WHERE id = 1), (SELECT coalesce(max(version), 0) FROM ",
                                                Qualified(schema, "_dg_migrations"), ")"))[0];
    out->generation = r[0].as<int64_t>();
    out->schema_version = r[1].as<int64_t>();
    catalog->schema_cookie = out->generation;
  }
  // Each column: table, name, declared type, type name, NOT NULL, default,
  // place in the key, and the type its values are stored as (a domain's
  // base type, through domains over domains, with its bound; for an array
  // of a domain, its base type's array).
  Params p;
  p.AddText(schema);
  const pqxx::result cols = p.Exec(
      tx, absl::StrCat("SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), t.typname, a.attnotnull, "
                       "a.atthasdef OR a.attidentity <> '', "
                       "coalesce(array_position((SELECT k.conkey FROM pg_constraint k WHERE k.conrelid = c.oid AND "
                       "k.contype = 'p'), a.attnum), 0), "
                       "(WITH RECURSIVE d(id, mod, arr) AS (SELECT CASE WHEN at.typcategory = 'A' AND at.typtype = "
                       "'b' THEN at.typelem ELSE at.oid END, a.atttypmod, at.typcategory = 'A' AND at.typtype = 'b' "
                       "FROM pg_type at WHERE at.oid = a.atttypid UNION ALL SELECT b.typbasetype, b.typtypmod, d.arr "
                       "FROM d JOIN pg_type b ON b.oid = d.id WHERE b.typtype = 'd') SELECT format_type(d.id, d.mod) "
                       "|| CASE WHEN d.arr THEN '[]' ELSE '' END FROM d JOIN pg_type e ON e.oid = d.id WHERE "
                       "e.typtype <> 'd') ",
                       kUserFrom,
                       " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
                       "JOIN pg_type t ON t.oid = a.atttypid",
                       kUserWhere, " ORDER BY c.relname, a.attnum"));
  std::map<std::string, Table> tables;
  std::map<std::string, bool> tenant_keyed;
  for (const pqxx::row& r : cols) {
    const std::string table = r[0].c_str();
    Table& t = tables[table];
    t.name = table;
    const std::string column = r[1].c_str();
    const int pk = r[6].as<int>();
    if (column == "tenant_id" && pk == 1) tenant_keyed[table] = true;
    if (Hidden(column)) continue;
    out->extra[table].columns.insert(column);
    out->extra[table].stored_types[column] = r[7].c_str();
    Column c;
    c.name = column;
    c.declared_type = r[2].c_str();
    c.type = TypeOf(r[3].c_str());
    c.not_null = r[4].as<bool>();
    c.has_default = r[5].as<bool>();
    c.pk_position = pk > 1 ? pk - 1 : 0;
    t.columns.push_back(std::move(c));
  }
  for (auto& [name, t] : tables) {
    if (!tenant_keyed[name]) return errors::CloudTableNotTenantKeyed(schema, name);
    std::vector<std::pair<int, size_t>> pk;
    for (size_t i = 0; i < t.columns.size(); ++i) {
      if (t.columns[i].pk_position > 0) pk.emplace_back(t.columns[i].pk_position, i);
    }
    std::sort(pk.begin(), pk.end());
    for (const auto& [pos, index] : pk) t.primary_key.push_back(index);
    out->extra[name];
  }
  // Constraints: names, the columns of unique ones (for messages), and those
  // checked at commit. An exclusion constraint whose operators are all `=`
  // is a unique one (one that can have a WHERE and be deferred); its columns
  // are plain ones unless conkey holds a 0 (an expression).
  Params cp;
  cp.AddText(schema);
  const pqxx::result cons = cp.Exec(
      tx, absl::StrCat("SELECT c.relname, k.conname, k.contype, (SELECT string_agg(a.attname, ', ' ORDER BY o.n) "
                       "FROM unnest(k.conkey) WITH ORDINALITY AS o(attnum, n) JOIN pg_attribute a ON "
                       "a.attrelid = c.oid AND a.attnum = o.attnum WHERE a.attname <> 'tenant_id'), "
                       "k.contype IN ('u', 'p') OR (k.contype = 'x' AND NOT 0 = ANY (k.conkey) AND NOT EXISTS ("
                       "SELECT 1 FROM unnest(k.conexclop) AS x(op) JOIN pg_operator p ON p.oid = x.op "
                       "WHERE p.oprname <> '=')), k.condeferrable, "
                       "(SELECT pg_get_expr(i.indpred, i.indrelid) FROM pg_index i WHERE i.indexrelid = k.conindid) ",
                       kUserFrom, " JOIN pg_constraint k ON k.conrelid = c.oid", kUserWhere,
                       " ORDER BY c.relname, k.conname"));
  for (const pqxx::row& r : cons) {
    auto it = tables.find(r[0].c_str());
    if (it == tables.end()) continue;
    PgTableExtra& extra = out->extra[it->first];
    const std::string name = r[1].c_str();
    extra.constraints.insert(name);
    const std::string type = r[2].c_str();
    const bool unique = r[4].as<bool>();
    if (unique) extra.unique_columns[name] = r[3].is_null() ? "" : r[3].c_str();
    if (unique && r[5].as<bool>()) {
      extra.deferred_uniques.push_back(PgDeferredUnique{name, {}, r[6].is_null() ? "" : r[6].c_str()});
    }
    if (type == "c") it->second.check_constraints.push_back(name);
  }
  // The columns of those checked at commit, in the constraint's order.
  Params dp;
  dp.AddText(schema);
  const pqxx::result deferred_columns = dp.Exec(
      tx, absl::StrCat("SELECT c.relname, k.conname, a.attname ", kUserFrom,
                       " JOIN pg_constraint k ON k.conrelid = c.oid AND k.condeferrable AND k.contype IN ('u', 'p', "
                       "'x') CROSS JOIN LATERAL unnest(k.conkey) WITH ORDINALITY AS o(attnum, n) JOIN pg_attribute a "
                       "ON a.attrelid = c.oid AND a.attnum = o.attnum",
                       kUserWhere, " ORDER BY c.relname, k.conname, o.n"));
  for (const pqxx::row& r : deferred_columns) {
    auto it = out->extra.find(r[0].c_str());
    if (it == out->extra.end()) continue;
    for (PgDeferredUnique& d : it->second.deferred_uniques) {
      if (d.name == r[1].c_str()) d.columns.push_back(r[2].c_str());
    }
  }
  for (auto& [name, t] : tables) catalog->tables.emplace(name, std::move(t));
  out->catalog = std::move(catalog);
  return std::shared_ptr<const PgCatalog>(std::move(out));
}

}  // namespace datagate::store::postgres
