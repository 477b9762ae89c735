// libpqxx exceptions to statuses, by SQLSTATE. Internal to the Postgres
// store: no exception leaves it.
#ifndef DATAGATE_STORE_POSTGRES_PG_ERRORS_H_
#define DATAGATE_STORE_POSTGRES_PG_ERRORS_H_

#include <exception>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "store/postgres/pg_catalog.h"

namespace datagate::store::postgres {

// The SQLSTATE of `e` ("" when it carries none).
std::string SqlState(const std::exception& e);

// Whether `e` means the connection is unusable (broken, refused, the server
// shutting down): the connection must be discarded.
bool IsConnectionError(const std::exception& e);

// lock_not_available: a lock waited for longer than lock_timeout.
inline constexpr char kLockNotAvailable[] = "55P03";

// Whether `sqlstate` is an error the data of a statement can cause (a
// value, a constraint, a name: classes 22, 23, 42), as opposed to one of the
// server or the connection.
bool IsDataError(absl::string_view sqlstate);

// Maps `e`: connection errors (class 08, a broken connection), resources
// (class 53) and admin shutdown (57P0x) -> UNAVAILABLE; 40001/40P01 and
// 55P03 (lock_timeout) -> ABORTED; an in-doubt commit -> UNKNOWN; 57014
// (our statement_timeout) -> DEADLINE_EXCEEDED; 23505 and 23P01 (a unique
// or exclusion constraint) -> ALREADY_EXISTS naming the columns whose
// values are taken; 23502 ->
// INVALID_ARGUMENT (as SQLite), or FAILED_PRECONDITION for a column `table`
// lacks but the cloud table has (one the tenant's schema does not have);
// other 23xxx -> FAILED_PRECONDITION naming the table and the constraint
// (only names `extra` knows); anything else INTERNAL. Logs the SQLSTATE,
// the exception kind and `context` only: never SQL, server text or the
// connection string. `table` describes the table written as the write sees
// it (the columns it may give), `extra` the cloud table (either may be
// null: a constraint checked at commit, where a failed COMMIT is a definite
// refusal, never UNKNOWN).
absl::Status MapPgError(const std::exception& e, absl::string_view context, const Table* table = nullptr,
                        const PgTableExtra* extra = nullptr);

// MapPgError for an error no single statement's table explains (COMMIT,
// SET CONSTRAINTS): a unique or exclusion violation names the table that
// `catalog` (may be null) says has the constraint.
absl::Status MapPgCommitError(const std::exception& e, absl::string_view context, const PgCatalog* catalog);

}  // namespace datagate::store::postgres

#endif  // DATAGATE_STORE_POSTGRES_PG_ERRORS_H_
