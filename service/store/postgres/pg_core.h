// What every database view of the Postgres store shares: the pool, the
// catalog cache, and running one transaction with its deadline and tenant.
// Internal to the Postgres store.
#ifndef DATAGATE_STORE_POSTGRES_PG_CORE_H_
#define DATAGATE_STORE_POSTGRES_PG_CORE_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"
#include "store/postgres/pg_catalog.h"
#include "store/postgres/pg_pool.h"
#include "store/postgres/pg_store.h"

namespace datagate::store::postgres {

// Thread-safe.
class PgCore {
 public:
  using Options = PgCloudStore::Options;
  // Every write transaction of a tenant holds the tenant's lock (an
  // advisory lock keyed by a 64-bit hash of the schema and the tenant)
  // shared, from its first statement on; a delete of the tenant's data
  // holds it alone. So the delete waits for every write transaction of the
  // tenant that the server still runs, one whose caller has given up on it
  // too (cut at its deadline, its COMMIT in doubt): none commits after it.
  enum class Mode {
    kRead,         // REPEATABLE READ, READ ONLY: one snapshot for the call
    kWrite,        // READ COMMITTED, holding the tenant's lock shared (with a tenant)
    kTenantAlone,  // kWrite holding the tenant's lock alone, waited for until the deadline
    kBootstrap,    // kWrite without a tenant, before the gateway's tables may exist
  };
  using Body = absl::FunctionRef<absl::Status(pqxx::transaction_base& tx, const PgCatalog& catalog)>;
  // Makes the statements of a one-trip transaction (RunInOneTrip) against
  // `catalog`: plain SQL, values as quoted literals (tx.quote), since they
  // travel together as one simple query, which takes no parameters.
  using TripBody =
      absl::FunctionRef<std::vector<std::string>(const pqxx::transaction_base& tx, const PgCatalog& catalog)>;

  explicit PgCore(Options options);

  // Runs `body` in one transaction on a pooled connection and commits when
  // it returns OK (rolls back otherwise). The transaction first sets
  // statement_timeout to the time left before `deadline` and app.tenant_id
  // to `tenant` (both SET LOCAL), and reloads the catalog when another
  // process migrated since it was read. Exceptions are mapped (pg_errors.h);
  // a connection that broke before any work is replaced once. Errors: the
  // body's, UNAVAILABLE, ABORTED, UNKNOWN (commit in doubt),
  // DEADLINE_EXCEEDED (waiting for a connection, or working).
  absl::Status Run(absl::string_view context, absl::Time deadline, const std::string& tenant, Mode mode, Body body);

  // One write transaction in a single round trip (Run takes three at least:
  // its first query, the body's statements, COMMIT). BEGIN, Run's settings,
  // a check that the schema is still at the generation of the catalog the
  // statements were made against, the statements and COMMIT go out
  // together (pqxx::pipeline); returns the statements' results in order.
  // When one fails nothing is committed and `failed_sqlstate` receives its
  // SQLSTATE. A data error (IsDataError; "22012" from the check: another
  // process migrated, and Run reloads the catalog) is ABORTED without a log
  // line, for the caller to run again its careful way; others are mapped
  // as Run's. A pooled connection that
  // broke idle is replaced once and everything sent again, so the
  // statements must be safe to repeat; a break once they went out is
  // UNKNOWN (they may have committed).
  absl::StatusOr<std::vector<pqxx::result>> RunInOneTrip(absl::string_view context, absl::Time deadline,
                                                         const std::string& tenant, TripBody body,
                                                         std::string* failed_sqlstate);

  std::shared_ptr<const PgCatalog> catalog() const;
  // Serves `catalog` unless a newer generation is served already.
  void SetCatalog(std::shared_ptr<const PgCatalog> catalog);
  // Migrations on the shared schema (see Database::Migrate and cloud.h).
  absl::Status Migrate(const MigrationScript& script, absl::Time deadline);
  absl::StatusOr<std::vector<AppliedMigration>> ListApplied(absl::Time deadline);

  const Options& options() const { return options_; }
  const std::string& schema() const { return options_.schema; }
  std::string Table(absl::string_view name) const;
  PgPool& pool() { return pool_; }
  int64_t NowUs() const;
  int64_t schema_version() const { return schema_version_.load(); }
  // True once in every 256 calls: time to prune old request records.
  bool PruneDue() { return ((writes_.fetch_add(1) + 1) & 255) == 0; }

 private:
  // The tenant's lock as a SQL call: shared, or held `alone`.
  std::string TenantLock(const pqxx::transaction_base& tx, const std::string& tenant, bool alone) const;

  const Options options_;
  PgPool pool_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const PgCatalog> catalog_ ABSL_GUARDED_BY(mu_);
  std::atomic<int64_t> schema_version_{-1};
  std::atomic<int64_t> writes_{0};
};

}  // namespace datagate::store::postgres

#endif  // DATAGATE_STORE_POSTGRES_PG_CORE_H_
