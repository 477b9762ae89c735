#include "store/sqlite/connection.h"

#include <sqlite3.h>

#include "SQLiteCpp/Exception.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/errors.h"
#include "common/logging.h"

namespace datagate::store::sqlite {

Connection::Connection(const std::string& path, const ConnectionOptions& options)
    : db_(path, options.read_only ? SQLite::OPEN_READONLY : (SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE),
          options.busy_timeout_ms),
      cache_limit_(options.statement_cache_size) {
  if (!options.read_only) {
    db_.exec("PRAGMA journal_mode=WAL");
    db_.exec(absl::StrCat("PRAGMA synchronous=", options.synchronous));
    db_.exec("PRAGMA foreign_keys=ON");
  }
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
  if (cache_.size() > cache_limit_) cache_.clear();
}

namespace {
// SQLite calls this every kProgressSteps virtual-machine steps.
constexpr int kProgressSteps = 1000;
int PastDeadline(void* deadline) { return absl::Now() > *static_cast<const absl::Time*>(deadline) ? 1 : 0; }
}  // namespace

DeadlineScope::DeadlineScope(Connection& conn, absl::Time deadline) : conn_(conn), deadline_(deadline) {
  if (deadline_ != absl::InfiniteFuture()) {
    sqlite3_progress_handler(conn_.db().getHandle(), kProgressSteps, &PastDeadline,
                             const_cast<absl::Time*>(&deadline_));
  }
}

DeadlineScope::~DeadlineScope() {
  if (deadline_ != absl::InfiniteFuture()) sqlite3_progress_handler(conn_.db().getHandle(), 0, nullptr, nullptr);
}

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
  const absl::string_view what = e.what();
  // Constraint messages look like "UNIQUE constraint failed: t.c": the part
  // after the colon names columns, never SQL text.
  auto detail = [&]() -> absl::string_view {
    const size_t colon = what.find(": ");
    return colon == absl::string_view::npos ? absl::string_view("") : what.substr(colon + 2);
  };
  switch (code) {
    case SQLITE_INTERRUPT:
      return absl::DeadlineExceededError("the call's deadline passed while the store was working on it");
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return errors::StoreUnavailable("the database is locked by another process");
    case SQLITE_FULL:
      return absl::ResourceExhaustedError("the data volume is full");
    case SQLITE_TOOBIG:
      return absl::ResourceExhaustedError("a value or row is larger than the store allows");
    case SQLITE_CONSTRAINT:
      switch (extended) {
        case SQLITE_CONSTRAINT_PRIMARYKEY:
        case SQLITE_CONSTRAINT_UNIQUE:
          return absl::AlreadyExistsError(absl::StrCat("a row with the same value already exists (", detail(), ")"));
        case SQLITE_CONSTRAINT_NOTNULL:
          return absl::InvalidArgumentError(absl::StrCat("a NOT NULL column was given no value (", detail(), ")"));
        case SQLITE_CONSTRAINT_FOREIGNKEY:
          return errors::ConstraintViolated(
              "a foreign key refers to a row that does not exist, or a row "
              "still referred to was changed");
        case SQLITE_CONSTRAINT_CHECK:
          return errors::ConstraintViolated(absl::StrCat("CHECK failed (", detail(), ")"));
        default:
          return errors::ConstraintViolated(std::string(detail()));
      }
    default:
      break;
  }
  spdlog::error("sqlite error during {}: {} (code {}, extended {})", context, what, code, extended);
  return errors::StoreInternal();
}

}  // namespace datagate::store::sqlite
