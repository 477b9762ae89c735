#include "store/sqlite/connection.h"

#include <sqlite3.h>

#include <algorithm>
#include <thread>

#include "SQLiteCpp/Exception.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/errors.h"
#include "common/logging.h"

namespace datagate::store::sqlite {
namespace {
// SQLite calls the progress handler every kProgressSteps VM instructions.
constexpr int kProgressSteps = 1000;
}  // namespace

Connection::Connection(const std::string& path, const ConnectionOptions& options, absl::Time deadline)
    : db_(path,
          options.read_only ? SQLite::OPEN_READONLY
                            : (SQLite::OPEN_READWRITE | (options.create ? SQLite::OPEN_CREATE : 0)),
          /*busyTimeoutMs=*/0),
      options_(options) {
  sqlite3_busy_handler(db_.getHandle(), &Connection::OnBusy, this);
  sqlite3_progress_handler(db_.getHandle(), kProgressSteps, &Connection::OnProgress, this);
  if (!options.read_only) {
    // SQLite falls back to read-only when it cannot open the file for
    // writing (e.g. out of descriptors at that moment): a writer that could
    // not write is a file that cannot be opened now.
    if (sqlite3_db_readonly(db_.getHandle(), "main") == 1) {
      throw SQLite::Exception("the database file could only be opened read-only", SQLITE_CANTOPEN);
    }
    DeadlineScope scope(*this, deadline);
    db_.exec("PRAGMA journal_mode=WAL");
    db_.exec(absl::StrCat("PRAGMA synchronous=", options.synchronous));
    db_.exec("PRAGMA foreign_keys=ON");
  }
}

namespace {

bool Set(const std::atomic<bool>* flag) { return flag != nullptr && flag->load(std::memory_order_relaxed); }

}  // namespace

int Connection::OnProgress(void* self) {
  auto* c = static_cast<Connection*>(self);
  if (!c->interruptible_) return 0;
  if (Set(c->options_.stop) || Set(c->options_.stop_all)) return 1;
  if (c->deadline_ != absl::InfiniteFuture() && absl::Now() > c->deadline_) return 1;
  return 0;
}

int Connection::OnBusy(void* self, int count) {
  auto* c = static_cast<Connection*>(self);
  const absl::Time now = absl::Now();
  if (count == 0) c->busy_since_ = now;
  if (c->interruptible_ && (Set(c->options_.stop) || Set(c->options_.stop_all))) return 0;
  const absl::Time give_up = std::min(c->interruptible_ ? c->deadline_ : absl::InfiniteFuture(),
                                      c->busy_since_ + absl::Milliseconds(c->options_.busy_timeout_ms));
  if (now >= give_up) return 0;
  const absl::Duration nap = std::min(absl::Milliseconds(1 << std::min(count, 4)), give_up - now);
  std::this_thread::sleep_for(absl::ToChronoMicroseconds(nap));
  return 1;
}

SQLite::Statement& Connection::Prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) {
    it->second->reset();
    it->second->clearBindings();
    used_.push_back(it->second.get());
    return *it->second;
  }
  auto stmt = std::make_unique<SQLite::Statement>(db_, sql);
  SQLite::Statement* raw = stmt.get();
  cache_.emplace(sql, std::move(stmt));
  used_.push_back(raw);
  return *raw;
}

void Connection::ResetUsed() {
  for (SQLite::Statement* s : used_) s->tryReset();
  used_.clear();
  // Trim between calls only: a statement in use must stay alive.
  if (cache_.size() > options_.statement_cache_size) cache_.clear();
}

bool Connection::InTransaction() { return sqlite3_get_autocommit(db_.getHandle()) == 0; }

void Bind(SQLite::Statement& stmt, int index, const Value& v) {
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          stmt.bind(index);
        } else if constexpr (std::is_same_v<T, bool>) {
          stmt.bind(index, static_cast<int64_t>(x ? 1 : 0));
        } else if constexpr (std::is_same_v<T, Blob>) {
          stmt.bindNoCopy(index, x.bytes.data(), static_cast<int>(x.bytes.size()));
        } else if constexpr (std::is_same_v<T, std::string>) {
          stmt.bindNoCopy(index, x);
        } else {
          stmt.bind(index, x);
        }
      },
      v);
}

Value ReadColumn(SQLite::Statement& stmt, int index) {
  SQLite::Column col = stmt.getColumn(index);
  switch (col.getType()) {
    case SQLITE_INTEGER:
      return col.getInt64();
    case SQLITE_FLOAT:
      return col.getDouble();
    case SQLITE_TEXT:
      return col.getString();
    case SQLITE_BLOB:
      return Blob{std::string(static_cast<const char*>(col.getBlob()), static_cast<size_t>(col.getBytes()))};
    default:
      return Value{};
  }
}

std::string Quote(absl::string_view identifier) {
  return absl::StrCat("\"", absl::StrReplaceAll(identifier, {{"\"", "\"\""}}), "\"");
}

absl::Status MapError(const std::exception& e, absl::string_view context) {
  const auto* se = dynamic_cast<const SQLite::Exception*>(&e);
  const int code = se ? se->getErrorCode() : -1;
  const int extended = se ? se->getExtendedErrorCode() : -1;
  switch (code) {
    case SQLITE_INTERRUPT:
      return errors::DeadlineWhileWorking();
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return errors::StoreUnavailable("the database is locked by another process");
    case SQLITE_FULL:
      return errors::DiskFull();
    case SQLITE_TOOBIG:
      return errors::ValueTooBig();
    case SQLITE_READONLY:  // a writer opened read-only (see Connection)
    case SQLITE_CANTOPEN:
      // Out of file descriptors, most often (a missing tenant file is told
      // apart before this): passing, so retryable.
      spdlog::error("sqlite cannot open a file during {}: {} (extended code {})", context, e.what(), extended);
      return errors::StoreUnavailable("a database file cannot be opened now (too many open files?)");
    default:
      break;
  }
  spdlog::error("sqlite error during {}: {} (code {}, extended {})", context, e.what(), code, extended);
  return errors::StoreInternal();
}

namespace {

// The column names in a constraint message's detail, "t.a, t.b" -> a, b,
// keeping only columns `table` has (the detail is engine text; only names
// the schema defines are passed on).
std::string ColumnsOf(absl::string_view detail, const Table& table) {
  std::vector<std::string> columns;
  for (absl::string_view part : absl::StrSplit(detail, ", ")) {
    const size_t dot = part.rfind('.');
    const absl::string_view column = dot == absl::string_view::npos ? part : part.substr(dot + 1);
    if (table.Find(column) != nullptr) columns.emplace_back(column);
  }
  return absl::StrJoin(columns, ", ");
}

}  // namespace

absl::Status MapConstraint(const std::exception& e, const Table& table, absl::string_view context) {
  const auto* se = dynamic_cast<const SQLite::Exception*>(&e);
  if (se == nullptr || se->getErrorCode() != SQLITE_CONSTRAINT) return MapError(e, context);
  // Messages look like "UNIQUE constraint failed: t.c" or
  // "CHECK constraint failed: <name or expression>".
  const absl::string_view what = e.what();
  const size_t colon = what.find(": ");
  const absl::string_view detail = colon == absl::string_view::npos ? "" : what.substr(colon + 2);
  switch (se->getExtendedErrorCode()) {
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_UNIQUE:
      return errors::DuplicateRow(table.name, ColumnsOf(detail, table));
    case SQLITE_CONSTRAINT_NOTNULL: {
      const std::string column = ColumnsOf(detail, table);
      const Column* c = table.Find(column);
      if (c == nullptr) return errors::ConstraintViolated(table.name);
      return errors::NullNotAllowed(table.name, c->name, c->has_default);
    }
    case SQLITE_CONSTRAINT_FOREIGNKEY:
      return errors::ForeignKeyViolated(table.name);
    case SQLITE_CONSTRAINT_CHECK: {
      // Only a name the schema gives is passed on; an unnamed constraint's
      // detail is its expression, which stays in the log.
      const auto& names = table.check_constraints;
      const bool named = std::find(names.begin(), names.end(), detail) != names.end();
      if (!named) spdlog::info("{}: CHECK failed on table '{}': {}", context, table.name, detail);
      return errors::CheckViolated(table.name, named ? detail : "");
    }
    case SQLITE_CONSTRAINT_TRIGGER:
      // SQLite checks a RESTRICT foreign key with a trigger program of its own.
      if (what == "FOREIGN KEY constraint failed") return errors::ForeignKeyViolated(table.name);
      spdlog::info("{}: a trigger refused a write to '{}': {}", context, table.name, what);
      return errors::TriggerRefused(table.name);
    default:
      spdlog::info("{}: constraint failed on table '{}': {}", context, table.name, what);
      return errors::ConstraintViolated(table.name);
  }
}

}  // namespace datagate::store::sqlite
