// store::Database on one SQLite file: one writer connection behind a mutex
// (writers queue here, so SQLITE_BUSY never reaches callers), a bounded pool
// of read-only connections (WAL lets them run beside the writer), cached
// prepared statements, and a catalog read from the file itself.
#ifndef DATAGATE_STORE_SQLITE_SQLITE_DATABASE_H_
#define DATAGATE_STORE_SQLITE_SQLITE_DATABASE_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"
#include "store/sqlite/connection.h"
#include "store/store.h"

namespace datagate::store::sqlite {

struct DatabaseOptions {
  std::string synchronous = "FULL";  // FULL: an acknowledged write is on disk
  int busy_timeout_ms = 5000;
  int max_readers = 4;
  int64_t request_id_retention_us = int64_t{24} * 3600 * 1000000;
  std::function<int64_t()> now_us;  // clock; wall clock when empty
};

class SqliteDatabase final : public Database {
 public:
  // Opens or creates the file and the gateway's own tables.
  static absl::StatusOr<std::shared_ptr<SqliteDatabase>> Open(const std::string& path, const DatabaseOptions& options);

  std::shared_ptr<const Catalog> GetCatalog() const override;
  absl::StatusOr<std::optional<StoredRow>> Get(const std::string& table, const std::vector<Field>& key,
                                               const std::vector<std::string>& columns,
                                               absl::Time deadline = absl::InfiniteFuture()) override;
  absl::StatusOr<QueryResult> List(const Query& query) override;
  absl::StatusOr<std::vector<StoredRow>> Write(const WriteRequest& request) override;
  absl::StatusOr<std::vector<AppliedMigration>> ListApplied() override;
  absl::Status Migrate(const AppliedMigration& record, const std::string& sql, bool up) override;

  // Runs `fn` on the writer connection inside BEGIN IMMEDIATE..COMMIT (rolled
  // back when fn fails or throws). With `single_statement`, fn runs exactly
  // one write statement, which SQLite makes atomic by itself: no explicit
  // transaction is opened.
  // Past `deadline`, statements stop with DEADLINE_EXCEEDED and a write
  // that waited its turn that long does not start.
  absl::Status Transact(absl::string_view context, absl::FunctionRef<absl::Status(Connection&)> fn,
                        bool single_statement = false, absl::Time deadline = absl::InfiniteFuture());
  // Runs `fn` on a pooled read connection, stopping at `deadline`.
  absl::Status Read(absl::string_view context, absl::FunctionRef<absl::Status(Connection&)> fn,
                    absl::Time deadline = absl::InfiniteFuture());

  // Refuses all further calls with `reason` (UNAVAILABLE when not given)
  // and closes the connections once in-flight calls finish.
  void Close(absl::Status reason = absl::Status());

  const std::string& path() const { return path_; }
  int64_t NowUs() const;

 private:
  SqliteDatabase(std::string path, DatabaseOptions options);
  absl::Status LoadCatalog(Connection& conn);
  absl::Status ClosedStatus() const;
  absl::StatusOr<StoredRow> ApplyOp(Connection& conn, const Catalog& catalog, const WriteOp& op, int64_t now);

  const std::string path_;
  const DatabaseOptions options_;

  absl::Mutex write_mu_;
  std::unique_ptr<Connection> writer_ ABSL_GUARDED_BY(write_mu_);
  int64_t writes_since_prune_ ABSL_GUARDED_BY(write_mu_) = 0;

  mutable absl::Mutex pool_mu_;
  absl::CondVar pool_cv_;
  std::vector<std::unique_ptr<Connection>> idle_readers_ ABSL_GUARDED_BY(pool_mu_);
  int readers_open_ ABSL_GUARDED_BY(pool_mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(pool_mu_) = false;
  absl::Status closed_reason_ ABSL_GUARDED_BY(pool_mu_);

  mutable absl::Mutex catalog_mu_;
  std::shared_ptr<const Catalog> catalog_ ABSL_GUARDED_BY(catalog_mu_);
  std::atomic<uint64_t> schema_generation_{1};
};

}  // namespace datagate::store::sqlite

#endif  // DATAGATE_STORE_SQLITE_SQLITE_DATABASE_H_
