// One SQLite connection with its cache of prepared statements, and the
// mapping of SQLite errors to statuses. Internal to the SQLite store.
#ifndef DATAGATE_STORE_SQLITE_CONNECTION_H_
#define DATAGATE_STORE_SQLITE_CONNECTION_H_

#include <atomic>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "SQLiteCpp/Database.h"
#include "SQLiteCpp/Statement.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/value.h"
#include "store/store.h"

namespace datagate::store::sqlite {

struct ConnectionOptions {
  bool read_only = false;
  bool create = true;                // create the file when missing (writer only)
  std::string synchronous = "FULL";  // FULL or NORMAL
  int busy_timeout_ms = 5000;        // how long to wait for another process's lock
  size_t statement_cache_size = 256;
  // When set and true, running statements stop (SQLITE_INTERRUPT) and lock
  // waits end: the database is closing.
  const std::atomic<bool>* stop = nullptr;
  // The same for the whole store (shutdown).
  const std::atomic<bool>* stop_all = nullptr;
};

// Not thread-safe: used by one thread at a time (the store hands it out).
class Connection {
 public:
  // Opens the file and sets WAL and the pragmas; a wait for another
  // process's lock meanwhile ends at `deadline`. Throws SQLite::Exception.
  Connection(const std::string& path, const ConnectionOptions& options, absl::Time deadline);

  // A prepared statement for `sql`, reset and with bindings cleared, from
  // the cache when possible. Throws SQLite::Exception.
  SQLite::Statement& Prepare(const std::string& sql);

  // Drops every cached statement (after schema changes).
  void ClearCache() {
    used_.clear();
    cache_.clear();
  }

  // Resets every statement prepared since the last call, so none keeps a
  // read snapshot or a write open between calls.
  void ResetUsed();

  // Whether a transaction is open.
  bool InTransaction();

  // While false, neither the deadline nor closing stops a statement (for
  // COMMIT: once it has begun, it finishes).
  void SetInterruptible(bool on) { interruptible_ = on; }

  SQLite::Database& db() { return db_; }
  uint64_t schema_generation = 0;  // the store's generation the cache matches

 private:
  friend class DeadlineScope;
  static int OnProgress(void* self);
  static int OnBusy(void* self, int count);

  SQLite::Database db_;
  const ConnectionOptions options_;
  absl::Time deadline_ = absl::InfiniteFuture();
  absl::Time busy_since_;
  bool interruptible_ = true;
  std::unordered_map<std::string, std::unique_ptr<SQLite::Statement>> cache_;
  std::vector<SQLite::Statement*> used_;
};

// While alive, statements on `conn` stop with SQLITE_INTERRUPT once
// `deadline` has passed, and waits for another process's lock end there.
class DeadlineScope {
 public:
  DeadlineScope(Connection& conn, absl::Time deadline) : conn_(conn) { conn_.deadline_ = deadline; }
  ~DeadlineScope() { conn_.deadline_ = absl::InfiniteFuture(); }
  DeadlineScope(const DeadlineScope&) = delete;
  DeadlineScope& operator=(const DeadlineScope&) = delete;

 private:
  Connection& conn_;
};

// Binds `v` to 1-based parameter `index`.
void Bind(SQLite::Statement& stmt, int index, const Value& v);
// Reads result column `index` as a Value by its storage class.
Value ReadColumn(SQLite::Statement& stmt, int index);
// Double-quotes an identifier (doubling inner quotes): names are checked
// against the catalog before they get here, and quoted all the same.
std::string Quote(absl::string_view identifier);

// Maps a caught exception to a status: INTERRUPT -> DEADLINE_EXCEEDED,
// BUSY/LOCKED -> UNAVAILABLE, FULL/TOOBIG -> RESOURCE_EXHAUSTED,
// CANTOPEN -> UNAVAILABLE (out of files, mostly), else
// INTERNAL (logged with `context`, never returned). Constraint failures are
// mapped by MapConstraint where the table is known.
absl::Status MapError(const std::exception& e, absl::string_view context);

// Maps a constraint failure of a write to `table` to a status that names the
// table (and the columns or the constraint's name, never its expression):
// unique/primary key -> ALREADY_EXISTS, NOT NULL -> INVALID_ARGUMENT,
// foreign key, CHECK, trigger -> FAILED_PRECONDITION. Other exceptions go
// to MapError.
absl::Status MapConstraint(const std::exception& e, const Table& table, absl::string_view context);

}  // namespace datagate::store::sqlite

#endif  // DATAGATE_STORE_SQLITE_CONNECTION_H_
