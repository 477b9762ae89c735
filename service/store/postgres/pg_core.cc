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

// Commits the transaction `tx` began. As pqxx::work: a connection lost
// during COMMIT leaves the outcome unknown (in_doubt_error).
void Commit(pqxx::transaction_base& tx) {
  try {
    tx.exec("COMMIT");
  } catch (const pqxx::broken_connection& e) {
    throw pqxx::in_doubt_error(e.what());
  } catch (const pqxx::sql_error&) {
    if (!tx.conn().is_open()) throw pqxx::in_doubt_error("the connection broke during COMMIT");
    throw;
  }
}

// Rolls the transaction back; a connection that cannot is discarded (it
// may still hold the transaction).
void Rollback(pqxx::transaction_base& tx, PgPool::Lease& lease) {
  try {
    tx.exec("ROLLBACK");
  } catch (const std::exception&) {
    lease.Discard();
  }
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
    bool began = false;     // BEGIN went out: the server may hold a transaction open
    bool answered = false;  // the first query answered: work may have been done
    // Destroyed before the lease gives the connection back.
    DeadlineGuard guard(lease->conn(), deadline);
    try {
      // The transaction is driven by hand on a nontransaction: pqxx::work
      // sends BEGIN alone (a round trip of its own), here BEGIN travels with
      // the settings in one simple query. Values are quoted literals (a
      // simple query takes no parameters).
      pqxx::nontransaction tx(lease->conn());
      std::string sql = absl::StrCat(mode == Mode::kRead ? "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"
                                                         : "BEGIN ISOLATION LEVEL READ COMMITTED",
                                     "; SELECT set_config('statement_timeout', ", tx.quote(TimeoutMs(deadline)),
                                     ", true), set_config('app.tenant_id', ", tx.quote(tenant), ", true)");
      if (mode != Mode::kBootstrap) {
        absl::StrAppend(&sql, ", (SELECT generation FROM ", Table("_dg_schema"), " WHERE id = 1)");
      }
      began = true;
      const pqxx::result first = tx.exec(sql);
      answered = true;
      std::shared_ptr<const PgCatalog> catalog = this->catalog();
      if (mode != Mode::kBootstrap && !first[0][2].is_null() && first[0][2].as<int64_t>() != catalog->generation) {
        // Another replica migrated: statements run against the new schema.
        absl::StatusOr<std::shared_ptr<const PgCatalog>> next = LoadCatalog(tx, options_.schema);
        if (!next.ok()) {
          Rollback(tx, *lease);
          return next.status();
        }
        catalog = *next;
        SetCatalog(catalog);
      }
      absl::Status status = body(tx, *catalog);
      began = false;  // COMMIT ends the transaction even when it fails
      if (status.ok()) {
        Commit(tx);
      } else {
        Rollback(tx, *lease);
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
        if (!answered && lease->reused() && attempt == 0) continue;
      } else if (began) {
        // A failed statement leaves the transaction aborted: end it so the
        // connection goes back idle.
        pqxx::nontransaction tx(lease->conn());
        Rollback(tx, *lease);
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
