// store::Database on one SQLite file: one writer connection that calls take
// in turn (so SQLITE_BUSY never reaches callers), a bounded pool of
// read-only connections (WAL lets them run beside the writer), cached
// prepared statements, and a catalog read from the file itself.
//
// The code is split by concern: sqlite_database.cc (connections, the writer
// and reader turns, closing), sqlite_reads.cc, sqlite_writes.cc,
// sqlite_migrations.cc, sqlite_cursors.cc, sqlite_outbox.cc, sqlite_cascades.cc
// (rows changed by triggers and foreign-key actions; captured by
// cascades.cc); the catalog is read in catalog.cc.
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
#include "store/outbox.h"
#include "store/sqlite/connection.h"
#include "store/store.h"

namespace datagate::store::sqlite {

class Cascades;
struct DatabaseOptions;
// File descriptors an open database may hold: the writer's database and WAL
// files, the shared-memory index, and two for each reader.
int64_t FilesPerDatabase(const DatabaseOptions& options);

struct DatabaseOptions {
  std::string synchronous = "FULL";  // FULL: an acknowledged write is on disk
  int busy_timeout_ms = 5000;        // waiting for another process's lock
  int max_readers = 4;
  int64_t request_id_retention_us = int64_t{24} * 3600 * 1000000;
  // Page cursors (SaveCursor): how long they are kept, and at most how many
  // and how many bytes of them per database (the oldest go first).
  int64_t cursor_retention_us = int64_t{24} * 3600 * 1000000;
  int64_t max_cursors = 10000;
  int64_t max_cursor_bytes = int64_t{64} << 20;
  std::function<int64_t()> now_us;  // clock; wall clock when empty
  // Set by the store: once true (shutdown), statements and lock waits on
  // every database stop, even one still being opened or created.
  const std::atomic<bool>* stop_all = nullptr;
};

class SqliteDatabase final : public Database, public Outbox {
 public:
  // Opens the file (creating it only when `create`; a missing file is then
  // INTERNAL, which callers that expect it map) and the gateway's own
  // tables, waiting for another process's lock until `deadline`.
  static absl::StatusOr<std::shared_ptr<SqliteDatabase>> Open(const std::string& path, const DatabaseOptions& options,
                                                              bool create = true,
                                                              absl::Time deadline = absl::InfiniteFuture());
  ~SqliteDatabase() override;

  std::shared_ptr<const Catalog> GetCatalog() const override;
  absl::StatusOr<std::optional<StoredRow>> Get(Planner<RowRead> plan, absl::Time deadline) override;
  absl::StatusOr<QueryResult> List(Planner<Query> plan, absl::Time deadline) override;
  absl::StatusOr<std::vector<StoredRow>> Write(Planner<std::vector<WriteOp>> plan,
                                               const WriteOptions& options) override;
  absl::StatusOr<int64_t> SaveCursor(const SavedCursor& cursor, absl::Time deadline) override;
  absl::StatusOr<std::optional<SavedCursor>> LoadCursor(int64_t id, absl::Time deadline) override;
  absl::StatusOr<std::vector<AppliedMigration>> ListApplied(absl::Time deadline) override;
  absl::Status Migrate(const MigrationScript& script, absl::Time deadline) override;
  absl::StatusOr<DatabaseHold> Hold() override;
  Outbox* outbox() override { return this; }

  // store::Outbox.
  absl::StatusOr<std::vector<OutboxItem>> NextBatch(int limit, int64_t max_bytes, int64_t now_us,
                                                    int64_t max_schema_version, const std::vector<int64_t>& held,
                                                    absl::Time deadline, bool* more) override;
  absl::Status Settle(const std::vector<OutboxSettlement>& settlements, absl::Time deadline) override;
  absl::StatusOr<OutboxCounts> Counts(absl::Time deadline) override;
  absl::StatusOr<std::vector<OutboxEntry>> ListEntries(std::optional<OutboxState> state, int64_t after_seq, int limit,
                                                       absl::Time deadline) override;
  absl::StatusOr<int64_t> RetryDead(const std::vector<int64_t>& seqs, absl::Time deadline) override;
  absl::StatusOr<int64_t> Purge(OutboxState state, const std::vector<int64_t>& seqs, absl::Time deadline) override;

  using Database::Get;
  using Database::List;
  using Database::Write;

  // Runs `fn` on the writer connection inside BEGIN IMMEDIATE..COMMIT
  // (rolled back when fn fails or throws), with the catalog the writer sees.
  // Waits for the writer's turn until `deadline` (DEADLINE_EXCEEDED, nothing
  // done); statements stop at the deadline too.
  absl::Status Transact(absl::string_view context, absl::Time deadline,
                        absl::FunctionRef<absl::Status(Connection&, const Catalog&)> fn);
  // Runs `fn` on a pooled read connection inside one read transaction, with
  // the catalog of exactly the schema that snapshot sees. Waits for a free
  // connection until `deadline`.
  absl::Status Read(absl::string_view context, absl::Time deadline,
                    absl::FunctionRef<absl::Status(Connection&, const Catalog&)> fn);

  // Refuses further calls with `reason` (UNAVAILABLE when not given), stops
  // the statements in flight (they fail with `reason` too), waits for their
  // calls to let go of the connections, and closes them. Idempotent.
  void Close(absl::Status reason = absl::Status());
  // Refuses new Holds with `reason` and waits until every Hold taken is
  // let go. False if `deadline` came first; Holds are then taken again.
  bool StopHolds(absl::Status reason, absl::Time deadline);
  // Takes Holds again after StopHolds.
  void AllowHolds();

  const std::string& path() const { return path_; }
  int64_t NowUs() const;

 private:
  SqliteDatabase(std::string path, DatabaseOptions options);
  ConnectionOptions ConnOptions(bool read_only, bool create) const;

  // The writer's turn: taken by AcquireWriter, given back by ReleaseWriter.
  absl::Status AcquireWriter(absl::Time deadline);
  void ReleaseWriter();
  // Runs `fn` in a transaction on the writer (held by the caller); with
  // `on_commit`, runs it after COMMIT succeeded, still holding the writer.
  absl::Status RunTransaction(absl::string_view context, absl::Time deadline,
                              absl::FunctionRef<absl::Status(Connection&, const Catalog&)> fn,
                              const std::function<void()>& on_commit = nullptr);
  // After a failed statement: the reason for closing if that is why it
  // stopped, DEADLINE_EXCEEDED if the deadline passed, else `status`.
  absl::Status Explain(absl::Status status, absl::Time deadline) const;
  absl::Status ClosedStatus() const;
  void SetCatalog(std::shared_ptr<const Catalog> catalog);

  absl::StatusOr<StoredRow> ApplyOp(Connection& conn, const Catalog& catalog, const WriteOp& op, int64_t now);
  // After ApplyOp made `row`: versions and (with options.enqueue) queues it,
  // and then the rows its triggers and foreign-key actions changed
  // (`cascades`), whose seqs go to `cascade_seqs`. FAILED_PRECONDITION
  // (CascadeNotSynced) for a cascade that cannot be tracked. Throws
  // SQLite::Exception.
  absl::Status TrackOp(Connection& conn, const Catalog& catalog, const WriteOp& op, Cascades& cascades,
                       const WriteOptions& options, int64_t now, StoredRow* row, std::vector<int64_t>* cascade_seqs);
  // The op's own row, changed again by its triggers in its statement: `row`
  // becomes the row as stored (with the op's version). FAILED_PRECONDITION
  // if they deleted it.
  absl::Status FoldOwnRow(Connection& conn, Cascades& cascades, const Table& t, const WriteOp& op,
                          const std::string& key, StoredRow* row);
  // Gives each row in `cascades` a new version (a deleted one a tombstone),
  // as TrackVersion does for an op, and with `enqueue` queues it.
  absl::Status TrackCascades(Connection& conn, const Catalog& catalog, Cascades& cascades, bool enqueue, int64_t now,
                             std::vector<int64_t>* seqs);
  // Keeps versions from repeating for a key: a delete leaves a tombstone,
  // a row made over one continues from its version (and `row` says so).
  void TrackVersion(Connection& conn, const Table& t, const WriteOp& op, const std::string& key, StoredRow* row);
  // Records that `key` of `table` was deleted, leaving it at `version`.
  static void WriteTombstone(Connection& conn, const std::string& table, const std::string& key, int64_t version);
  // Appends the row's state to the outbox (with `deleted`, its delete, at
  // version row.version + 1); returns the entry's seq. Refuses a row the
  // cloud cannot store: text with a NUL (written LOCAL_ONLY before), which
  // the cloud would dead-letter (INVALID_ARGUMENT).
  absl::StatusOr<int64_t> Enqueue(Connection& conn, const Catalog& catalog, const Table& t, bool deleted,
                                  const std::string& key, const StoredRow& row, int64_t now);
  absl::StatusOr<std::optional<std::vector<StoredRow>>> Replay(Connection& conn, const WriteOptions& options);
  void RecordResult(Connection& conn, const WriteOptions& options, const std::vector<StoredRow>& rows, int64_t now);

  const std::string path_;
  const DatabaseOptions options_;
  std::atomic<bool> closing_{false};  // stops running statements and lock waits

  // The writer. write_mu_ is held only to take or give back the turn, never
  // across I/O; writer_ is used by the thread holding the turn.
  mutable absl::Mutex write_mu_;
  bool writer_busy_ ABSL_GUARDED_BY(write_mu_) = false;
  std::unique_ptr<Connection> writer_;  // null once closed
  int64_t writes_since_prune_ = 0;      // used with the turn held

  // The readers.
  mutable absl::Mutex pool_mu_;
  std::vector<std::unique_ptr<Connection>> idle_readers_ ABSL_GUARDED_BY(pool_mu_);
  int readers_open_ ABSL_GUARDED_BY(pool_mu_) = 0;  // idle + in use (+ being opened)
  int readers_in_use_ ABSL_GUARDED_BY(pool_mu_) = 0;
  int holds_ ABSL_GUARDED_BY(pool_mu_) = 0;
  absl::Status holds_refused_ ABSL_GUARDED_BY(pool_mu_);  // why (set by StopHolds)
  bool closed_ ABSL_GUARDED_BY(pool_mu_) = false;
  absl::Status closed_reason_ ABSL_GUARDED_BY(pool_mu_);

  mutable absl::Mutex catalog_mu_;
  std::shared_ptr<const Catalog> catalog_ ABSL_GUARDED_BY(catalog_mu_);
  std::atomic<uint64_t> schema_generation_{1};  // bumped when the schema changes
};

}  // namespace datagate::store::sqlite

#endif  // DATAGATE_STORE_SQLITE_SQLITE_DATABASE_H_
