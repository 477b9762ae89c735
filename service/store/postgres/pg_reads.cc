// PgTenantDatabase reads: Get and List, each in one REPEATABLE READ
// transaction keyed by the tenant, planned against what the tenant is
// served of the catalog that transaction runs with (so `*` is the tenant's
// columns, never one the cloud has beyond them). Tombstones are never read.
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "store/postgres/pg_database.h"
#include "store/postgres/pg_sql.h"

namespace datagate::store::postgres {

absl::StatusOr<std::optional<StoredRow>> PgTenantDatabase::Get(Planner<RowRead> plan, absl::Time deadline) {
  std::optional<StoredRow> row;
  RETURN_IF_ERROR(core_->Run("get", deadline, tenant_, PgCore::Mode::kRead,
                             [&](pqxx::transaction_base& tx, const PgCatalog& catalog) -> absl::Status {
                               const std::shared_ptr<const Catalog> served = Served(catalog);
                               ASSIGN_OR_RETURN(const RowRead read, plan(*served));
                               const Table* t = served->Find(read.table);
                               if (t == nullptr) return errors::UnknownTable(read.table);
                               const std::vector<const Column*> cols = Projection(*t, read.columns);
                               Params p;
                               std::string sql =
                                   absl::StrCat("SELECT ", SelectList(cols), " FROM ", core_->Table(t->name),
                                                " WHERE tenant_id = ", p.AddText(tenant_), " AND NOT _dg_deleted");
                               sql += KeyMatch(read.key, &p);
                               const pqxx::result r = p.Exec(tx, sql);
                               if (!r.empty()) row = ReadRow(r[0], *t, cols);
                               return absl::OkStatus();
                             }));
  return row;
}

absl::StatusOr<QueryResult> PgTenantDatabase::List(Planner<Query> plan, absl::Time deadline) {
  QueryResult result;
  RETURN_IF_ERROR(core_->Run("list", deadline, tenant_, PgCore::Mode::kRead,
                             [&](pqxx::transaction_base& tx, const PgCatalog& catalog) -> absl::Status {
                               result = QueryResult();
                               const std::shared_ptr<const Catalog> served = Served(catalog);
                               ASSIGN_OR_RETURN(const Query query, plan(*served));
                               const Table* t = served->Find(query.table);
                               if (t == nullptr) return errors::UnknownTable(query.table);
                               if (!query.after.empty() && query.after.size() != query.order.size()) {
                                 return errors::MalformedPageToken("its cursor does not fit the order");
                               }
                               const std::vector<const Column*> cols = Projection(*t, query.columns);
                               Params p;
                               std::string where =
                                   absl::StrCat(" WHERE tenant_id = ", p.AddText(tenant_), " AND NOT _dg_deleted");
                               for (const Condition& c : query.conditions)
                                 absl::StrAppend(&where, " AND ", ConditionSql(*t, c, &p));
                               const size_t where_params = p.size();
                               // Order columns are selected too (after the meta columns) for the cursor.
                               std::string sql = absl::StrCat("SELECT ", SelectList(cols));
                               for (const Order& o : query.order) absl::StrAppend(&sql, ", ", Quote(o.column));
                               absl::StrAppend(&sql, " FROM ", core_->Table(t->name), where);
                               if (!query.after.empty())
                                 absl::StrAppend(&sql, " AND ", KeysetSql(*t, query.order, query.after, &p));
                               absl::StrAppend(&sql, OrderSql(*t, query.order), " LIMIT ", int64_t{query.limit} + 1);
                               const pqxx::result rows = p.Exec(tx, sql);

                               const int first_order = static_cast<int>(cols.size()) + 3;
                               int64_t used = 0;
                               for (const pqxx::row& r : rows) {
                                 if (static_cast<int>(result.rows.size()) == query.limit) {
                                   result.more = true;
                                   break;
                                 }
                                 StoredRow row = ReadRow(r, *t, cols);
                                 std::vector<Value> cursor;
                                 cursor.reserve(query.order.size());
                                 for (size_t i = 0; i < query.order.size(); ++i)
                                   cursor.push_back(FromField(r[first_order + int(i)]));
                                 // Sized before it joins: a page never grows past its budget.
                                 const int64_t row_bytes = query.row_bytes ? query.row_bytes(row) : 0;
                                 const int64_t cursor_bytes = query.cursor_bytes ? query.cursor_bytes(cursor) : 0;
                                 if (!result.rows.empty() && used + row_bytes + cursor_bytes > query.max_bytes) {
                                   result.more = true;
                                   break;
                                 }
                                 used += row_bytes;
                                 result.rows.push_back(std::move(row));
                                 result.last_cursor = std::move(cursor);
                               }
                               if (query.count_total) {
                                 // The same snapshot (REPEATABLE READ) and the same conditions,
                                 // whose parameters come first.
                                 const std::string count_sql =
                                     absl::StrCat("SELECT count(*) FROM ", core_->Table(t->name), where);
                                 result.total = p.ExecPrefix(tx, count_sql, where_params)[0][0].as<int64_t>();
                               }
                               return absl::OkStatus();
                             }));
  return result;
}

}  // namespace datagate::store::postgres
