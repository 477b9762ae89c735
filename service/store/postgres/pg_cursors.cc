// PgTenantDatabase page cursors: kept in _dg_cursors keyed by tenant, with
// the local store's bounds per tenant (age, number, bytes; the oldest go
// first, never the one being saved). Ids come from one sequence shared by
// all tenants: unique within each tenant, as the interface asks.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "store/postgres/pg_database.h"
#include "store/postgres/pg_sql.h"

namespace datagate::store::postgres {

absl::StatusOr<int64_t> PgTenantDatabase::SaveCursor(const SavedCursor& cursor, absl::Time deadline) {
  int64_t id = 0;
  const std::string table = core_->Table("_dg_cursors");
  RETURN_IF_ERROR(core_->Run(
      "save cursor", deadline, tenant_, PgCore::Mode::kWrite,
      [&](pqxx::transaction_base& tx, const PgCatalog&) -> absl::Status {
        const int64_t now = core_->NowUs();
        const PgCloudStore::Options& o = core_->options();
        Params expire;
        const std::string expire_sql =
            absl::StrCat("DELETE FROM ", table, " WHERE tenant_id = ", expire.AddText(tenant_), " AND create_us < ",
                         expire.Add(Value{now - o.cursor_retention_us}));
        expire.Exec(tx, expire_sql);

        Params ins;
        const std::string ins_sql = absl::StrCat(
            "INSERT INTO ", table, " (tenant_id, create_us, size, secret, data) VALUES (", ins.AddText(tenant_), ", ",
            ins.Add(Value{now}), ", ", ins.Add(Value{static_cast<int64_t>(cursor.data.size())}), ", ",
            ins.Add(Value{Blob{cursor.secret}}), ", ", ins.Add(Value{Blob{cursor.data}}), ") RETURNING id");
        id = ins.Exec(tx, ins_sql)[0][0].as<int64_t>();

        Params totals;
        const std::string totals_sql = absl::StrCat("SELECT count(*), coalesce(sum(size), 0) FROM ", table,
                                                    " WHERE tenant_id = ", totals.AddText(tenant_));
        const pqxx::row t = totals.Exec(tx, totals_sql)[0];
        int64_t count = t[0].as<int64_t>();
        int64_t bytes = t[1].as<int64_t>();
        if (count <= o.max_cursors && bytes <= o.max_cursor_bytes) return absl::OkStatus();
        Params oldest;
        const std::string oldest_sql =
            absl::StrCat("SELECT id, size FROM ", table, " WHERE tenant_id = ", oldest.AddText(tenant_), " AND id <> ",
                         oldest.Add(Value{id}), " ORDER BY create_us, id");
        std::vector<int64_t> dropped;
        for (const pqxx::row& r : oldest.Exec(tx, oldest_sql)) {
          if (count <= o.max_cursors && bytes <= o.max_cursor_bytes) break;
          dropped.push_back(r[0].as<int64_t>());
          --count;
          bytes -= r[1].as<int64_t>();
        }
        Params drop;
        const std::string drop_sql =
            absl::StrCat("DELETE FROM ", table, " WHERE tenant_id = ", drop.AddText(tenant_), " AND id = ANY(",
                         drop.AddText(absl::StrCat("{", absl::StrJoin(dropped, ","), "}")), "::bigint[])");
        drop.Exec(tx, drop_sql);
        return absl::OkStatus();
      }));
  return id;
}

absl::StatusOr<std::optional<SavedCursor>> PgTenantDatabase::LoadCursor(int64_t id, absl::Time deadline) {
  std::optional<SavedCursor> cursor;
  RETURN_IF_ERROR(core_->Run(
      "load cursor", deadline, tenant_, PgCore::Mode::kRead,
      [&](pqxx::transaction_base& tx, const PgCatalog&) -> absl::Status {
        Params p;
        const std::string sql =
            absl::StrCat("SELECT secret, data FROM ", core_->Table("_dg_cursors"),
                         " WHERE tenant_id = ", p.AddText(tenant_), " AND id = ", p.Add(Value{id}),
                         " AND create_us >= ", p.Add(Value{core_->NowUs() - core_->options().cursor_retention_us}));
        const pqxx::result r = p.Exec(tx, sql);
        if (!r.empty()) {
          cursor = SavedCursor{std::get<Blob>(FromField(r[0][0])).bytes, std::get<Blob>(FromField(r[0][1])).bytes};
        }
        return absl::OkStatus();
      }));
  return cursor;
}

}  // namespace datagate::store::postgres
