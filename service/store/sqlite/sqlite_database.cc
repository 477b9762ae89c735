#include "store/sqlite/sqlite_database.h"

#include <sqlite3.h>

#include "SQLiteCpp/Exception.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/errors.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "store/sqlite/catalog.h"

namespace datagate::store::sqlite {
namespace {

constexpr char kBootstrapSql[] = R"sql(
CREATE TABLE IF NOT EXISTS _dg_migrations(
  version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, apply_us INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS _dg_requests(
  request_id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, result BLOB NOT NULL, create_us INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS _dg_requests_by_time ON _dg_requests(create_us);
CREATE TABLE IF NOT EXISTS _dg_cursors(
  id INTEGER PRIMARY KEY, create_us INTEGER NOT NULL, size INTEGER NOT NULL, secret BLOB NOT NULL,
  data BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS _dg_cursors_by_time ON _dg_cursors(create_us, size);
CREATE TABLE IF NOT EXISTS _dg_tombstones(
  tbl TEXT NOT NULL, key BLOB NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (tbl, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS _dg_outbox(
  seq INTEGER PRIMARY KEY AUTOINCREMENT, tbl TEXT NOT NULL, key BLOB NOT NULL, deleted INTEGER NOT NULL,
  row BLOB, version INTEGER NOT NULL, schema_version INTEGER NOT NULL, create_us INTEGER NOT NULL,
  state INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0, next_us INTEGER NOT NULL DEFAULT 0,
  last_error TEXT, cloud_version INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS _dg_outbox_by_row ON _dg_outbox(tbl, key, seq);
CREATE INDEX IF NOT EXISTS _dg_outbox_by_state ON _dg_outbox(state, seq);
)sql";

}  // namespace

int64_t FilesPerDatabase(const DatabaseOptions& options) { return 3 + 2 * int64_t{options.max_readers}; }

SqliteDatabase::SqliteDatabase(std::string path, DatabaseOptions options)
    : path_(std::move(path)), options_(std::move(options)), catalog_(std::make_shared<Catalog>()) {}

SqliteDatabase::~SqliteDatabase() { Close(); }

ConnectionOptions SqliteDatabase::ConnOptions(bool read_only, bool create) const {
  ConnectionOptions o;
  o.read_only = read_only;
  o.create = create;
  o.synchronous = options_.synchronous;
  o.busy_timeout_ms = options_.busy_timeout_ms;
  o.stop = &closing_;
  o.stop_all = options_.stop_all;
  return o;
}

absl::StatusOr<std::shared_ptr<SqliteDatabase>> SqliteDatabase::Open(const std::string& path,
                                                                     const DatabaseOptions& options, bool create,
                                                                     absl::Time deadline) {
  if (options.synchronous != "FULL" && options.synchronous != "NORMAL") {
    return errors::InvalidOption("synchronous", "FULL or NORMAL");
  }
  std::shared_ptr<SqliteDatabase> db(new SqliteDatabase(path, options));
  try {
    db->writer_ = std::make_unique<Connection>(path, db->ConnOptions(/*read_only=*/false, create), deadline);
  } catch (const std::exception& e) {
    return db->Explain(MapError(e, absl::StrCat("opening ", path)), deadline);
  }
  RETURN_IF_ERROR(db->AcquireWriter(deadline));
  std::shared_ptr<const Catalog> catalog;
  const absl::Status status = db->RunTransaction(
      "bootstrap", deadline,
      [&](Connection& c, const Catalog&) {
        c.db().exec(kBootstrapSql);
        EnsureMetaColumns(c);
        catalog = LoadCatalog(c, path, /*warn=*/true);
        return absl::OkStatus();
      },
      [&] { db->SetCatalog(catalog); });
  db->ReleaseWriter();
  RETURN_IF_ERROR(status);
  return db;
}

int64_t SqliteDatabase::NowUs() const {
  if (options_.now_us) return options_.now_us();
  return NowMicros();
}

std::shared_ptr<const Catalog> SqliteDatabase::GetCatalog() const {
  absl::MutexLock lock(&catalog_mu_);
  return catalog_;
}

void SqliteDatabase::SetCatalog(std::shared_ptr<const Catalog> catalog) {
  absl::MutexLock lock(&catalog_mu_);
  catalog_ = std::move(catalog);
}

absl::Status SqliteDatabase::AcquireWriter(absl::Time deadline) {
  write_mu_.Lock();
  const bool free = write_mu_.AwaitWithDeadline(absl::Condition(
                                                    +[](bool* busy) { return !*busy; }, &writer_busy_),
                                                deadline);
  if (writer_ == nullptr || closing_.load()) {
    write_mu_.Unlock();
    return ClosedStatus();
  }
  if (!free || absl::Now() > deadline) {
    write_mu_.Unlock();
    return errors::DeadlineWhileWaiting("its turn to write");
  }
  writer_busy_ = true;
  write_mu_.Unlock();
  return absl::OkStatus();
}

void SqliteDatabase::ReleaseWriter() {
  absl::MutexLock lock(&write_mu_);
  writer_busy_ = false;
}

absl::Status SqliteDatabase::RunTransaction(absl::string_view context, absl::Time deadline,
                                            absl::FunctionRef<absl::Status(Connection&, const Catalog&)> fn,
                                            const std::function<void()>& on_commit) {
  Connection& conn = *writer_;
  const std::shared_ptr<const Catalog> catalog = GetCatalog();
  absl::Status status;
  {
    DeadlineScope scope(conn, deadline);
    try {
      conn.Prepare("BEGIN IMMEDIATE").exec();
      status = fn(conn, *catalog);
      conn.ResetUsed();
      if (status.ok()) {
        // A commit that has begun is not interrupted: the caller must never
        // hear "failed" for a write that is on disk.
        conn.SetInterruptible(false);
        conn.Prepare("COMMIT").exec();
        if (on_commit) on_commit();
      }
    } catch (const std::exception& e) {
      status = MapError(e, absl::StrCat(path_, ": ", context));
    }
    conn.SetInterruptible(true);
  }
  if (!status.ok()) {
    conn.ResetUsed();
    if (conn.InTransaction()) {
      try {
        conn.db().exec("ROLLBACK");
      } catch (const std::exception& e) {
        spdlog::error("{}: rollback after failed {} failed: {}", path_, context, e.what());
      }
    }
    status = Explain(std::move(status), deadline);
  }
  conn.ResetUsed();
  return status;
}

absl::Status SqliteDatabase::Transact(absl::string_view context, absl::Time deadline,
                                      absl::FunctionRef<absl::Status(Connection&, const Catalog&)> fn) {
  RETURN_IF_ERROR(AcquireWriter(deadline));
  absl::Status status = RunTransaction(context, deadline, fn);
  ReleaseWriter();
  return status;
}

absl::Status SqliteDatabase::Read(absl::string_view context, absl::Time deadline,
                                  absl::FunctionRef<absl::Status(Connection&, const Catalog&)> fn) {
  std::unique_ptr<Connection> conn;
  {
    absl::MutexLock lock(&pool_mu_);
    struct Ready {
      const SqliteDatabase* db;
      bool operator()() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(db->pool_mu_) {
        return db->closed_ || !db->idle_readers_.empty() || db->readers_open_ < db->options_.max_readers;
      }
    } ready{this};
    const bool got = pool_mu_.AwaitWithDeadline(absl::Condition(&ready), deadline);
    if (closed_) return closed_reason_;
    if (!got) return errors::DeadlineWhileWaiting("a read connection");
    if (!idle_readers_.empty()) {
      conn = std::move(idle_readers_.back());
      idle_readers_.pop_back();
    } else {
      ++readers_open_;
    }
    ++readers_in_use_;
  }
  absl::Status status;
  try {
    if (conn == nullptr) conn = std::make_unique<Connection>(path_, ConnOptions(/*read_only=*/true, false), deadline);
    const uint64_t generation = schema_generation_.load();
    if (conn->schema_generation != generation) {
      conn->ClearCache();
      conn->schema_generation = generation;
    }
    DeadlineScope scope(*conn, deadline);
    conn->Prepare("BEGIN").exec();
    // The first read fixes the snapshot; its schema decides the catalog.
    const int64_t cookie = SchemaCookie(*conn);
    std::shared_ptr<const Catalog> catalog = GetCatalog();
    if (catalog->schema_cookie != cookie) catalog = LoadCatalog(*conn, path_, /*warn=*/false);
    status = fn(*conn, *catalog);
    conn->ResetUsed();
    conn->Prepare("COMMIT").exec();
  } catch (const std::exception& e) {
    status = MapError(e, absl::StrCat(path_, ": ", context));
  }
  if (conn) {
    conn->ResetUsed();
    if (conn->InTransaction()) {
      try {
        conn->db().exec("ROLLBACK");
      } catch (const std::exception&) {
        conn.reset();  // not reusable
      }
    }
  }
  if (!status.ok()) status = Explain(std::move(status), deadline);
  std::unique_ptr<Connection> to_close;
  {
    absl::MutexLock lock(&pool_mu_);
    --readers_in_use_;
    if (conn != nullptr && !closed_) {
      idle_readers_.push_back(std::move(conn));
    } else {
      --readers_open_;
      to_close = std::move(conn);
    }
  }
  return status;  // to_close closes here, outside the lock
}

absl::Status SqliteDatabase::Explain(absl::Status status, absl::Time deadline) const {
  const absl::StatusCode code = status.code();
  const bool stopped = code == absl::StatusCode::kDeadlineExceeded || code == absl::StatusCode::kUnavailable;
  if (stopped && (closing_.load() || (options_.stop_all != nullptr && options_.stop_all->load()))) {
    return ClosedStatus();
  }
  if (stopped && absl::Now() > deadline) return errors::DeadlineWhileWorking();
  return status;
}

absl::Status SqliteDatabase::ClosedStatus() const {
  absl::MutexLock lock(&pool_mu_);
  return closed_reason_.ok() ? errors::StoreUnavailable("the database is closed") : closed_reason_;
}

void SqliteDatabase::Close(absl::Status reason) {
  std::vector<std::unique_ptr<Connection>> idle;
  {
    absl::MutexLock lock(&pool_mu_);
    if (!closed_) {
      closed_ = true;
      closed_reason_ = reason.ok() ? errors::StoreUnavailable("the database is closed") : std::move(reason);
    }
    idle.swap(idle_readers_);
    readers_open_ -= static_cast<int>(idle.size());
  }
  closing_.store(true);
  idle.clear();
  {
    // Statements in flight stop at their next progress check; wait for
    // their calls to hand the connections back.
    absl::MutexLock lock(&pool_mu_);
    pool_mu_.Await(absl::Condition(
        +[](int* in_use) { return *in_use == 0; }, &readers_in_use_));
  }
  std::unique_ptr<Connection> writer;
  {
    absl::MutexLock lock(&write_mu_);
    write_mu_.Await(absl::Condition(
        +[](bool* busy) { return !*busy; }, &writer_busy_));
    writer.swap(writer_);
  }
}

absl::StatusOr<DatabaseHold> SqliteDatabase::Hold() {
  absl::MutexLock lock(&pool_mu_);
  if (closed_) return closed_reason_;
  if (!holds_refused_.ok()) return holds_refused_;
  ++holds_;
  return DatabaseHold([this] {
    absl::MutexLock lock(&pool_mu_);
    --holds_;
  });
}

bool SqliteDatabase::StopHolds(absl::Status reason, absl::Time deadline) {
  absl::MutexLock lock(&pool_mu_);
  holds_refused_ = std::move(reason);
  if (pool_mu_.AwaitWithDeadline(absl::Condition(
                                     +[](int* holds) { return *holds == 0; }, &holds_),
                                 deadline)) {
    return true;
  }
  holds_refused_ = absl::OkStatus();
  return false;
}

void SqliteDatabase::AllowHolds() {
  absl::MutexLock lock(&pool_mu_);
  holds_refused_ = absl::OkStatus();
}

absl::StatusOr<std::vector<AppliedMigration>> SqliteDatabase::ListApplied(absl::Time deadline) {
  std::vector<AppliedMigration> applied;
  RETURN_IF_ERROR(Read("list migrations", deadline, [&](Connection& conn, const Catalog&) {
    SQLite::Statement& q =
        conn.Prepare("SELECT version, name, checksum, apply_us FROM _dg_migrations ORDER BY version");
    while (q.executeStep()) {
      applied.push_back(AppliedMigration{q.getColumn(0).getInt64(), q.getColumn(1).getString(),
                                         q.getColumn(2).getString(), q.getColumn(3).getInt64()});
    }
    return absl::OkStatus();
  }));
  return applied;
}

}  // namespace datagate::store::sqlite
