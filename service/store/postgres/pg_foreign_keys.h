// Foreign-key actions in the cloud. Locally SQLite deletes or changes the
// rows that refer to a row a write deletes or changes (ON DELETE CASCADE,
// SET NULL, ...). In the cloud a delete only marks the row deleted, so
// PostgreSQL's own actions never run: the store does their work itself, in
// the write's transaction, keyed by the tenant like every statement, as the
// foreign keys of the schema the tenant is served through declare them
// (its local schema: see ServedCatalog). Internal to the Postgres store.
#ifndef DATAGATE_STORE_POSTGRES_PG_FOREIGN_KEYS_H_
#define DATAGATE_STORE_POSTGRES_PG_FOREIGN_KEYS_H_

#include <map>
#include <optional>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "store/postgres/pg_catalog.h"
#include "store/store.h"

namespace datagate::store::postgres {

// Some columns of a row, as PostgreSQL's text for them (nullopt: NULL).
using RowText = std::vector<std::optional<std::string>>;

// `n` fields of `r` from field `first`, as text.
RowText TextOf(const pqxx::row& r, int first, size_t n);

// The columns of `table` that foreign keys of `served` refer to, each once,
// in a fixed order; empty when no table refers to it. FAILED_PRECONDITION
// (CloudSchemaMismatch) when `table` lacks one of them in the cloud.
absl::StatusOr<std::vector<std::string>> ReferencedColumns(const Catalog& served, const Table& table);

// The actions of one write. Lives inside its transaction; not thread-safe.
class ForeignKeyActions {
 public:
  ForeignKeyActions(pqxx::transaction_base& tx, const std::string& schema, const PgCatalog& cloud,
                    const Catalog& served, const std::string& tenant, int64_t now_us)
      : tx_(tx), schema_(schema), cloud_(cloud), served_(served), tenant_(tenant), now_us_(now_us) {}

  // Does to the live rows that refer to rows of `table` the write deleted
  // (`after` empty) or changed what their foreign keys declare, as SQLite
  // does: RESTRICT refuses (checked first); CASCADE marks them deleted (ON
  // DELETE) or moves them along (ON UPDATE), SET NULL empties their
  // referring columns, each changed row getting its version + 1 and the
  // write's time, and the rows they change act on theirs in turn; NO ACTION
  // refuses when a referring row is left (checked after the actions). SET
  // DEFAULT is refused when a referring row exists (not done in the cloud).
  // A row changed by several actions gets one new version, as locally;
  // `key` is the op's own row's primary key (it has its version already).
  // `before` and `after` hold, per row, its ReferencedColumns. Errors:
  // FAILED_PRECONDITION (a refusal, naming `table`; a table or column the
  // key names is missing in the cloud; actions nested too deep); the
  // statements' mapped errors (SET NULL on a NOT NULL column, say). Throws
  // pqxx connection errors.
  absl::Status Apply(const Table& table, const RowText& key, const std::vector<RowText>& before,
                     const std::vector<RowText>& after);

 private:
  // One level: `table`'s rows changed from `before` to `after`.
  absl::Status Level(const Table& table, const std::vector<RowText>& before, const std::vector<RowText>& after,
                     int depth);
  // Whether a live row of `child` refers through `fk` to one of `keys`.
  bool Referred(const Table& child, const ForeignKey& fk, const std::vector<RowText>& keys);
  // Runs `action` on the live rows of `child` that refer through `fk` to
  // `keys` (moving them to `moved_to`, for ON UPDATE CASCADE), then the
  // actions of the rows it changed.
  absl::Status Act(const Table& child, const ForeignKey& fk, ForeignKeyAction action, bool deleted,
                   const std::vector<RowText>& keys, const std::vector<RowText>& moved_to, int depth);

  pqxx::transaction_base& tx_;
  const std::string& schema_;
  const PgCatalog& cloud_;
  const Catalog& served_;
  const std::string& tenant_;
  const int64_t now_us_;
  std::string top_table_;                             // the write's own table: refusals name it, as SQLite's do
  std::map<std::string, std::set<RowText>> touched_;  // table -> primary keys changed by this op
};

}  // namespace datagate::store::postgres

#endif  // DATAGATE_STORE_POSTGRES_PG_FOREIGN_KEYS_H_
