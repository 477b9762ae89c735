#include "store/postgres/pg_core.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/errors.h"
#include "common/logging.h"
#include "store/postgres/pg_errors.h"
#include "store/postgres/pg_sql.h"
#include "store/postgres/pg_watchdog.h"

namespace datagate::store::postgres {
namespace {

PgPool::Options PoolOptions(const PgCloudStore::Options& o) {
  PgPool::Options p;
  p.conninfo = o.connection_string;
  p.size = o.pool_size;
  p.connect_timeout = o.connect_timeout;
  return p;
}

// statement_timeout for the time left: whole milliseconds, at least 1; 0
// (none) without a deadline.
std::string TimeoutMs(absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) return "0";
  const double ms = std::ceil(absl::ToDoubleMilliseconds(deadline - absl::Now()));
  return absl::StrCat(std::max<int64_t>(1, static_cast<int64_t>(std::min(ms, 2e9))));
}

}  // namespace

PgCore::PgCore(Options options)
    : options_(std::move(options)), pool_(PoolOptions(options_)), catalog_(std::make_shared<PgCatalog>()) {}

std::string PgCore::Table(absl::string_view name) const { return Qualified(options_.schema, name); }

int64_t PgCore::NowUs() const { return options_.now_us ? options_.now_us() : NowMicros(); }

std::shared_ptr<const PgCatalog> PgCore::catalog() const {
  absl::MutexLock lock(&mu_);
  return catalog_;
}

void PgCore::SetCatalog(std::shared_ptr<const PgCatalog> catalog) {
  absl::MutexLock lock(&mu_);
  if (catalog->generation < catalog_->generation) return;
  schema_version_.store(catalog->schema_version);
  catalog_ = std::move(catalog);
}

absl::Status PgCore::Run(absl::string_view context, absl::Time deadline, const std::string& tenant, Mode mode,
                         Body body) {
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<PgPool::Lease> lease = pool_.Acquire(deadline);
    if (!lease.ok()) return lease.status();
    if (absl::Now() > deadline) return errors::DeadlineWhileWaiting("a connection to the cloud database");
    bool began = false;
    // Destroyed before the lease gives the connection back.
    DeadlineGuard guard(lease->conn(), deadline);
    try {
      std::unique_ptr<pqxx::transaction_base> tx;
      if (mode == Mode::kRead) {
        tx = std::make_unique<pqxx::transaction<pqxx::repeatable_read, pqxx::read_only>>(lease->conn());
      } else {
        tx = std::make_unique<pqxx::work>(lease->conn());
      }
      Params p;
      std::string sql = absl::StrCat("SELECT set_config('statement_timeout', ", p.AddText(TimeoutMs(deadline)),
                                     ", true), set_config('app.tenant_id', ", p.AddText(tenant), ", true)");
      if (mode != Mode::kBootstrap) {
        absl::StrAppend(&sql, ", (SELECT generation FROM ", Table("_dg_schema"), " WHERE id = 1)");
      }
      const pqxx::result first = p.Exec(*tx, sql);
      began = true;
      std::shared_ptr<const PgCatalog> catalog = this->catalog();
      if (mode != Mode::kBootstrap && !first[0][2].is_null() && first[0][2].as<int64_t>() != catalog->generation) {
        // Another replica migrated: statements run against the new schema.
        absl::StatusOr<std::shared_ptr<const PgCatalog>> next = LoadCatalog(*tx, options_.schema);
        if (!next.ok()) return next.status();
        catalog = *next;
        SetCatalog(catalog);
      }
      absl::Status status = body(*tx, *catalog);
      if (status.ok()) {
        tx->commit();
      } else {
        tx->abort();
      }
      if (guard.fired()) lease->Discard();  // cut just after it answered
      return status;
    } catch (const std::exception& e) {
      const bool broken = IsConnectionError(e);
      if (broken) {
        lease->Discard();
        pool_.DropIdle();
        // Broke while idle (the server restarted): nothing was done yet, so
        // a fresh connection may try again.
        if (!began && lease->reused() && attempt == 0) continue;
      }
      absl::Status status = MapPgError(e, context);
      const absl::StatusCode code = status.code();
      if ((code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kDeadlineExceeded) &&
          absl::Now() > deadline) {
        return errors::DeadlineWhileWorking();
      }
      return status;
    }
  }
}

}  // namespace datagate::store::postgres
