#include "store/postgres/pg_core.h"

#include <algorithm>
#include <cmath>
#include <pqxx/pipeline>

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

// statement_timeout for the time left, less a tenth (5 ms to 250 ms) so
// that the server's own timeout ends a statement before the watchdog cuts
// the connection at the deadline (pg_watchdog.h): whole milliseconds, at
// least 1; 0 (none) without a deadline.
std::string TimeoutMs(absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) return "0";
  const absl::Duration left = deadline - absl::Now();
  const double ms = std::ceil(
      absl::ToDoubleMilliseconds(left - std::clamp(left / 10, absl::Milliseconds(5), absl::Milliseconds(250))));
  return absl::StrCat(std::max<int64_t>(1, static_cast<int64_t>(std::min(ms, 2e9))));
}

const char* Begin(PgCore::Mode mode) {
  return mode == PgCore::Mode::kRead ? "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"
                                     : "BEGIN ISOLATION LEVEL READ COMMITTED";
}

// `SELECT` of the transaction's settings (SET LOCAL): statement_timeout for
// the time left, app.tenant_id, and no JIT: the gateway's statements are
// short, and a big batch's estimated cost would start a compilation that
// takes ten times the statement (measured: 333 ms of JIT for a 5,000-row
// sync statement that runs in 30 ms).
// `also` is appended to the list (a lock to take first).
std::string Settings(const pqxx::transaction_base& tx, absl::Time deadline, const std::string& tenant,
                     absl::string_view also) {
  return absl::StrCat("SELECT set_config('statement_timeout', ", tx.quote(TimeoutMs(deadline)),
                      ", true), set_config('app.tenant_id', ", tx.quote(tenant),
                      ", true), set_config('jit', 'off', true)", also.empty() ? "" : ", ", also);
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

// Ends the transaction a failed statement left aborted, so the connection
// can go back idle; one the watchdog cut (`cut`) is discarded instead:
// libpqxx would connect it again, and may throw doing so.
void RollbackAfterFailure(PgPool::Lease& lease, bool cut) {
  if (cut) {
    lease.Discard();
    return;
  }
  try {
    pqxx::nontransaction tx(lease.conn());
    Rollback(tx, lease);
  } catch (const std::exception&) {
    lease.Discard();
  }
}

}  // namespace

PgCore::PgCore(Options options)
    : options_(std::move(options)), pool_(PoolOptions(options_)), catalog_(std::make_shared<PgCatalog>()) {}

std::string PgCore::TenantLock(const pqxx::transaction_base& tx, const std::string& tenant, bool alone) const {
  // 64 bits: ids a client picks cannot be made to share a lock. Seed 1
  // keeps them apart from the request-id locks (seed 0, pg_writes.cc).
  return absl::StrCat(alone ? "pg_advisory_xact_lock" : "pg_advisory_xact_lock_shared", "(hashtextextended(",
                      tx.quote(absl::StrCat(options_.schema, "/", tenant)), ", 1))");
}

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
    bool began = false;                        // BEGIN went out: the server may hold a transaction open
    bool answered = false;                     // the first query answered: work may have been done
    std::shared_ptr<const PgCatalog> catalog;  // the one the body runs with
    // Destroyed before the lease gives the connection back.
    DeadlineGuard guard(lease->conn(), deadline);
    try {
      // The transaction is driven by hand on a nontransaction: pqxx::work
      // sends BEGIN alone (a round trip of its own), here BEGIN travels with
      // the settings in one simple query. Values are quoted literals (a
      // simple query takes no parameters).
      pqxx::nontransaction tx(lease->conn());
      const bool shared = mode == Mode::kWrite && !tenant.empty();
      std::string sql =
          absl::StrCat(Begin(mode), "; ", Settings(tx, deadline, tenant, shared ? TenantLock(tx, tenant, false) : ""));
      if (mode != Mode::kBootstrap) {
        absl::StrAppend(&sql, ", (SELECT generation FROM ", Table("_dg_schema"), " WHERE id = 1)");
      }
      began = true;
      const pqxx::result first = tx.exec(sql);
      answered = true;
      catalog = this->catalog();
      // The generation is the last column (after the settings).
      const pqxx::field generation = first[0][static_cast<pqxx::row::size_type>(first.columns() - 1)];
      if (mode != Mode::kBootstrap && !generation.is_null() && generation.as<int64_t>() != catalog->generation) {
        // Another replica migrated: statements run against the new schema.
        absl::StatusOr<std::shared_ptr<const PgCatalog>> next = LoadCatalog(tx, options_.schema);
        if (!next.ok()) {
          Rollback(tx, *lease);
          return next.status();
        }
        catalog = *next;
        SetCatalog(catalog);
      }
      // Its own statement, so statement_timeout ends the wait.
      if (mode == Mode::kTenantAlone) tx.exec(absl::StrCat("SELECT ", TenantLock(tx, tenant, true)));
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
        RollbackAfterFailure(*lease, guard.fired());
      }
      // A constraint checked at COMMIT that refused it is a definite
      // failure (the connection is open: Commit throws in_doubt otherwise).
      absl::Status status = MapPgCommitError(e, context, catalog.get());
      const absl::StatusCode code = status.code();
      if ((code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kDeadlineExceeded) &&
          absl::Now() > deadline) {
        return errors::DeadlineWhileWorking();
      }
      return status;
    }
  }
}

absl::StatusOr<std::vector<pqxx::result>> PgCore::RunInOneTrip(absl::string_view context, absl::Time deadline,
                                                               const std::string& tenant, TripBody body,
                                                               std::string* failed_sqlstate) {
  failed_sqlstate->clear();
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<PgPool::Lease> lease = pool_.Acquire(deadline);
    if (!lease.ok()) return lease.status();
    if (absl::Now() > deadline) return errors::DeadlineWhileWaiting("a connection to the cloud database");
    bool sent = false;    // the transaction went out
    size_t received = 0;  // answers read (BEGIN's first)
    DeadlineGuard guard(lease->conn(), deadline);
    try {
      pqxx::nontransaction tx(lease->conn());
      const std::shared_ptr<const PgCatalog> catalog = this->catalog();
      std::vector<std::string> queries = {Begin(Mode::kWrite),
                                          // 1 / 0 fails (22012) the transaction when the schema moved on.
                                          absl::StrCat(Settings(tx, deadline, tenant, TenantLock(tx, tenant, false)),
                                                       ", 1 / (SELECT (generation = ", catalog->generation,
                                                       ")::int FROM ", Table("_dg_schema"), " WHERE id = 1)")};
      for (std::string& statement : body(tx, *catalog)) queries.push_back(std::move(statement));
      queries.push_back("COMMIT");
      std::vector<pqxx::result> results;
      results.reserve(queries.size() - 3);
      {
        pqxx::pipeline pipe(tx);
        // Held back until all are in, then sent as one query.
        pipe.retain(static_cast<int>(queries.size()));
        std::vector<pqxx::pipeline::query_id> ids;
        ids.reserve(queries.size());
        for (const std::string& q : queries) ids.push_back(pipe.insert(q));
        sent = true;
        pipe.resume();
        try {
          for (size_t i = 0; i < ids.size(); ++i) {
            pqxx::result r = pipe.retrieve(ids[i]);
            ++received;
            if (i >= 2 && i + 1 < ids.size()) results.push_back(std::move(r));
          }
        } catch (const pqxx::sql_error&) {
          // The server skipped the rest; read what is left of the answer.
          try {
            pipe.flush();
          } catch (const std::exception&) {
          }
          throw;
        }
      }
      if (guard.fired()) lease->Discard();  // cut just after it answered
      return results;
    } catch (const std::exception& e) {
      if (IsConnectionError(e)) {
        lease->Discard();
        pool_.DropIdle();
        // Broke while idle (the server restarted): nothing was done yet.
        // Not when cut at the deadline: the answers come all at once, so
        // none read says nothing of what the server did.
        if (!guard.fired() && received == 0 && lease->reused() && attempt == 0) continue;
        if (sent) return errors::CloudCommitInDoubt();
        return MapPgError(e, context);
      }
      *failed_sqlstate = SqlState(e);
      // A failed COMMIT has ended the transaction: ROLLBACK then only warns.
      RollbackAfterFailure(*lease, guard.fired());
      // The caller runs a data error again its careful way: not an error yet.
      if (IsDataError(*failed_sqlstate)) return errors::CloudTransactionConflict();
      return MapPgError(e, context);
    }
  }
}

}  // namespace datagate::store::postgres
