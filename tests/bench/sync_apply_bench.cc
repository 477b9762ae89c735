// Sync apply throughput: drains N ops (default 100,000) into the test
// process's throwaway PostgreSQL through PgCloudStore::ApplySync in batches,
// beside the same rows as raw libpqxx batched upserts (multi-row INSERT ...
// ON CONFLICT DO UPDATE ... WHERE newer, one transaction per batch) and as
// COPY (pqxx::stream_to; 6.4's tablewriter is deprecated), and prints rows/s
// for each and ApplySync's ratio to the raw upsert.
// Usage: sync_apply_bench [ops] [batch]
#include <cstdio>
#include <cstdlib>
#include <pqxx/pqxx>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "pg_server.h"
#include "store/postgres/pg_store.h"

namespace {

using datagate::Value;
using datagate::store::SyncOp;

constexpr char kTable[] =
    "CREATE TABLE rows (tenant_id TEXT NOT NULL, id BIGINT NOT NULL, name TEXT NOT NULL, score DOUBLE PRECISION, "
    "n BIGINT, PRIMARY KEY (tenant_id, id))";

std::string Name(int64_t i) { return absl::StrCat("name-", i, "-", i * 7919 % 100003); }

double ApplySyncRate(const std::string& conninfo, int64_t ops, int batch) {
  datagate::store::postgres::PgCloudStore::Options o;
  o.connection_string = conninfo;
  o.schema = "bench_sync";
  auto store = datagate::store::postgres::PgCloudStore::Create(o);
  if (!store.ok()) {
    std::fprintf(stderr, "create: %s\n", store.status().ToString().c_str());
    std::exit(1);
  }
  auto m = (*store)->Schema()->Migrate(
      datagate::store::MigrationScript{{1, "rows", "x", 0}, kTable, true, "cloud", "bench"}, absl::InfiniteFuture());
  if (!m.ok()) std::exit(1);
  const absl::Time start = absl::Now();
  for (int64_t done = 0; done < ops; done += batch) {
    std::vector<SyncOp> chunk;
    for (int64_t i = done; i < std::min(ops, done + batch); ++i) {
      SyncOp op;
      op.table = "rows";
      op.key = {{"id", Value{i}}};
      op.values = {{"id", Value{i}}, {"name", Value{Name(i)}}, {"score", Value{i * 0.5}}, {"n", Value{i % 97}}};
      op.version = 1;
      op.create_time_us = op.update_time_us = 1700000000000000 + i;
      chunk.push_back(std::move(op));
    }
    auto out = (*store)->ApplySync("bench", chunk, absl::InfiniteFuture());
    if (!out.ok() || (*out)[0].kind != datagate::store::SyncOutcome::kApplied) {
      std::fprintf(stderr, "apply failed: %s\n", out.status().ToString().c_str());
      std::exit(1);
    }
  }
  return ops / absl::ToDoubleSeconds(absl::Now() - start);
}

double RawUpsertRate(const std::string& conninfo, int64_t ops, int batch) {
  pqxx::connection c(conninfo);
  pqxx::nontransaction(c).exec("SET jit = off");  // as ApplySync's statements run
  {
    pqxx::work tx(c);
    tx.exec(absl::StrCat("CREATE SCHEMA bench_raw; SET LOCAL search_path TO bench_raw; ", kTable,
                         "; ALTER TABLE rows ADD COLUMN _dg_version BIGINT NOT NULL DEFAULT 1, ADD COLUMN "
                         "_dg_create_us BIGINT NOT NULL DEFAULT 0, ADD COLUMN _dg_update_us BIGINT NOT NULL DEFAULT 0, "
                         "ADD COLUMN _dg_deleted BOOLEAN NOT NULL DEFAULT false"));
    tx.commit();
  }
  const absl::Time start = absl::Now();
  for (int64_t done = 0; done < ops; done += batch) {
    std::vector<std::string> params;
    std::string sql =
        "INSERT INTO bench_raw.rows AS t (tenant_id, id, name, score, n, _dg_version, _dg_create_us, _dg_update_us) "
        "VALUES ";
    int p = 0;
    for (int64_t i = done; i < std::min(ops, done + batch); ++i) {
      absl::StrAppend(&sql, i > done ? ", (" : "(");
      for (int k = 0; k < 8; ++k) absl::StrAppend(&sql, k ? ", $" : "$", ++p);
      sql += ")";
      for (std::string v : {std::string("bench"), absl::StrCat(i), Name(i), absl::StrCat(i * 0.5), absl::StrCat(i % 97),
                            std::string("1"), absl::StrCat(1700000000000000 + i), absl::StrCat(1700000000000000 + i)}) {
        params.push_back(std::move(v));
      }
    }
    sql +=
        " ON CONFLICT (tenant_id, id) DO UPDATE SET name = excluded.name, score = excluded.score, n = excluded.n, "
        "_dg_version = excluded._dg_version, _dg_create_us = excluded._dg_create_us, _dg_update_us = "
        "excluded._dg_update_us, _dg_deleted = false WHERE t._dg_version < excluded._dg_version RETURNING id";
    std::vector<const char*> ptrs;
    for (const std::string& s : params) ptrs.push_back(s.c_str());
    pqxx::work tx(c);
    tx.exec_params(sql, pqxx::prepare::make_dynamic_params(ptrs));
    tx.commit();
  }
  return ops / absl::ToDoubleSeconds(absl::Now() - start);
}

double CopyRate(const std::string& conninfo, int64_t ops) {
  pqxx::connection c(conninfo);
  {
    pqxx::work tx(c);
    tx.exec(absl::StrCat(kTable, "; ALTER TABLE rows ADD COLUMN _dg_version BIGINT NOT NULL DEFAULT 1"));
    tx.commit();
  }
  const absl::Time start = absl::Now();
  pqxx::work tx(c);
  pqxx::stream_to copy(tx, "rows", std::vector<std::string>{"tenant_id", "id", "name", "score", "n", "_dg_version"});
  for (int64_t i = 0; i < ops; ++i) {
    copy << std::make_tuple(std::string("bench"), i, Name(i), i * 0.5, i % 97, int64_t{1});
  }
  copy.complete();
  tx.commit();
  return ops / absl::ToDoubleSeconds(absl::Now() - start);
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t ops = argc > 1 ? std::atoll(argv[1]) : 100000;
  const int batch = argc > 2 ? std::atoi(argv[2]) : 1000;
  auto conninfo = datagate::testing::PgServer::Shared().CreateDatabase("sync_bench");
  if (!conninfo.ok()) return 1;
  const double raw = RawUpsertRate(*conninfo, ops, batch);
  const double sync = ApplySyncRate(*conninfo, ops, batch);
  const double copy = CopyRate(*conninfo, ops);
  std::printf("rows: %lld, batch: %d\n", static_cast<long long>(ops), batch);
  std::printf("ApplySync          %10.0f rows/s\n", sync);
  std::printf("raw batched upsert %10.0f rows/s\n", raw);
  std::printf("COPY               %10.0f rows/s\n", copy);
  std::printf("ApplySync / raw upsert: %.2f (target >= 0.6; ApplySync >= 50000 rows/s)\n", sync / raw);
  return 0;
}
