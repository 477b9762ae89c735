// The shared cloud schema's catalog, read from pg_catalog, and the gateway's
// own tables in it. Internal to the Postgres store.
#ifndef DATAGATE_STORE_POSTGRES_PG_CATALOG_H_
#define DATAGATE_STORE_POSTGRES_PG_CATALOG_H_

#include <map>
#include <memory>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "store/store.h"

namespace datagate::store::postgres {

// A uniqueness the server checks at commit (a DEFERRABLE unique, primary
// key, or exclusion constraint whose operators are all `=`): rows that agree
// on every column of `columns` and both satisfy `predicate` may not both be
// there once the transaction ends.
struct PgDeferredUnique {
  std::string name;
  std::vector<std::string> columns;  // all of them, tenant_id too when it is one
  std::string predicate;             // the partial constraint's WHERE, as SQL on the table's columns; "" for none
};

// What the store needs about a table beyond store::Table.
struct PgTableExtra {
  // unique/pk constraint, or exclusion constraint by `=` only -> "a, b" (tenant_id hidden)
  std::map<std::string, std::string> unique_columns;
  std::set<std::string> constraints;               // every constraint name of the table
  std::vector<PgDeferredUnique> deferred_uniques;  // checked at commit
  std::set<std::string> columns;  // every column the cloud table has (but tenant_id and _dg_*), served or not
  // column -> its type as values are stored (a domain's base type, an
  // array's of its element's), bound included: `character varying(3)` for
  // a domain over it, `character varying(3)[]` for an array of that domain
  std::map<std::string, std::string, std::less<>> stored_types;
};

// A catalog as tenants see it (tenant_id and _dg_* columns hidden), with
// the schema generation it describes.
struct PgCatalog {
  std::shared_ptr<const Catalog> catalog = std::make_shared<Catalog>();
  std::map<std::string, PgTableExtra, std::less<>> extra;
  int64_t generation = -1;      // _dg_schema.generation when read
  int64_t schema_version = -1;  // highest applied migration when read
  const PgTableExtra* Extra(absl::string_view table) const {
    auto it = extra.find(table);
    return it == extra.end() ? nullptr : &it->second;
  }
  // The table that has a constraint named `constraint`, when exactly one
  // has; "" otherwise.
  std::string TableWithConstraint(absl::string_view constraint) const {
    std::string found;
    for (const auto& [table, e] : extra) {
      if (e.constraints.count(std::string(constraint)) == 0) continue;
      if (!found.empty()) return "";
      found = table;
    }
    return found;
  }
};

// The type values of column `c` are stored as (PgTableExtra::stored_types,
// of its table's `extra`); its declared type when unknown.
inline const std::string& StoredType(const PgTableExtra* extra, const Column& c) {
  if (extra == nullptr) return c.declared_type;
  auto it = extra->stored_types.find(c.name);
  return it == extra->stored_types.end() ? c.declared_type : it->second;
}

// The catalog a tenant is served through (see CloudStore::Tenant): of
// `cloud`'s tables those `local` has too, each with the columns of the
// local table that the cloud has, in the local order, as the cloud
// declares them, and the cloud's key columns; and the local table's
// foreign keys. `cloud` itself when `local` is null.
std::shared_ptr<const Catalog> ServedCatalog(std::shared_ptr<const Catalog> cloud, const Catalog* local);

// The advisory-lock key of a schema's migrations (fixed per schema name).
int64_t MigrationLockKey(absl::string_view schema);

// Creates the schema and the gateway's tables in it when missing. Throws
// pqxx errors.
void Bootstrap(pqxx::transaction_base& tx, const std::string& schema);

// Adds the gateway's columns to every user table of `schema` lacking them.
void EnsureMetaColumns(pqxx::transaction_base& tx, const std::string& schema);

// Reads the catalog of `schema`. FAILED_PRECONDITION naming the table when a
// user table's primary key does not start with tenant_id. Throws pqxx
// errors.
absl::StatusOr<std::shared_ptr<const PgCatalog>> LoadCatalog(pqxx::transaction_base& tx, const std::string& schema);

}  // namespace datagate::store::postgres

#endif  // DATAGATE_STORE_POSTGRES_PG_CATALOG_H_
