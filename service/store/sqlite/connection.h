// One SQLite connection with its cache of prepared statements, and the
// mapping of SQLite errors to statuses. Internal to the SQLite store.
#ifndef DATAGATE_STORE_SQLITE_CONNECTION_H_
#define DATAGATE_STORE_SQLITE_CONNECTION_H_

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "SQLiteCpp/Database.h"
#include "SQLiteCpp/Statement.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/value.h"

namespace datagate::store::sqlite {

struct ConnectionOptions {
  bool read_only = false;
  std::string synchronous = "FULL";  // FULL or NORMAL
  int busy_timeout_ms = 5000;
  size_t statement_cache_size = 256;
};

// Not thread-safe: used by one thread at a time (the store hands it out).
class Connection {
 public:
  // Opens (creating when writable) the file and sets WAL and the pragmas.
  // Throws SQLite::Exception.
  Connection(const std::string& path, const ConnectionOptions& options);

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

  SQLite::Database& db() { return db_; }
  uint64_t schema_generation = 0;  // the store's generation the cache matches

 private:
  SQLite::Database db_;
  size_t cache_limit_;
  std::unordered_map<std::string, std::unique_ptr<SQLite::Statement>> cache_;
  std::vector<SQLite::Statement*> used_;
};

// While alive, statements on `conn` fail with SQLITE_INTERRUPT (mapped to
// DEADLINE_EXCEEDED) once `deadline` has passed. Free for infinite deadlines.
class DeadlineScope {
 public:
  DeadlineScope(Connection& conn, absl::Time deadline);
  ~DeadlineScope();
  DeadlineScope(const DeadlineScope&) = delete;
  DeadlineScope& operator=(const DeadlineScope&) = delete;

 private:
  Connection& conn_;
  const absl::Time deadline_;
};

// Binds `v` to 1-based parameter `index`.
void Bind(SQLite::Statement& stmt, int index, const Value& v);
// Reads result column `index` as a Value by its storage class.
Value ReadColumn(SQLite::Statement& stmt, int index);
// Double-quotes an identifier (doubling inner quotes): names are checked
// against the catalog before they get here, and quoted all the same.
std::string Quote(absl::string_view identifier);

// Maps a caught exception to a status: INTERRUPT (deadline) ->
// DEADLINE_EXCEEDED, BUSY/LOCKED -> UNAVAILABLE, unique
// -> ALREADY_EXISTS, NOT NULL -> INVALID_ARGUMENT, FK/CHECK ->
// FAILED_PRECONDITION, FULL/TOOBIG -> RESOURCE_EXHAUSTED, else INTERNAL
// (logged with `context`, never returned).
absl::Status MapError(const std::exception& e, absl::string_view context);

}  // namespace datagate::store::sqlite

#endif  // DATAGATE_STORE_SQLITE_CONNECTION_H_
