// Reading a database's schema into a Catalog, and the gateway's own columns.
// Internal to the SQLite store. Functions throw SQLite::Exception.
#ifndef DATAGATE_STORE_SQLITE_CATALOG_H_
#define DATAGATE_STORE_SQLITE_CATALOG_H_

#include <memory>
#include <string>
#include <vector>

#include "store/sqlite/connection.h"
#include "store/store.h"

namespace datagate::store::sqlite {

// The schema `conn` sees now (inside its transaction, if one is open).
// Tables without a PRIMARY KEY are left out; with `warn`, each is logged
// (`where` names the file).
std::shared_ptr<const Catalog> LoadCatalog(Connection& conn, absl::string_view where, bool warn);

// SQLite's schema cookie as `conn` sees it now.
int64_t SchemaCookie(Connection& conn);

// The user tables (not SQLite's or the gateway's own), sorted by name.
std::vector<std::string> UserTables(Connection& conn);
// User tables that lack the gateway's bookkeeping columns (_dg_version,
// _dg_create_us, _dg_update_us), sorted by name.
std::vector<std::string> TablesWithoutMetaColumns(Connection& conn);
// Whether `table` holds at least one row.
bool TableHasRows(Connection& conn, const std::string& table);
// Adds the bookkeeping columns to user tables that lack them; their rows
// start at version 1.
void EnsureMetaColumns(Connection& conn);

// The names of the named CHECK constraints in a CREATE TABLE statement
// (`CONSTRAINT name CHECK (...)`), in order.
std::vector<std::string> CheckConstraintNames(absl::string_view create_table_sql);

}  // namespace datagate::store::sqlite

#endif  // DATAGATE_STORE_SQLITE_CATALOG_H_
