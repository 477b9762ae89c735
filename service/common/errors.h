// Every error a caller can see is built here, so codes and wording agree
// across the gateway. Messages name what to fix and never carry SQL text.
#ifndef DATAGATE_COMMON_ERRORS_H_
#define DATAGATE_COMMON_ERRORS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace datagate::errors {

// INVALID_ARGUMENT: the request names a table the tenant's schema lacks.
absl::Status UnknownTable(absl::string_view table);
// INVALID_ARGUMENT: the request names a column the table lacks.
absl::Status UnknownColumn(absl::string_view table, absl::string_view column);
// INVALID_ARGUMENT: a value cannot be stored in a column of that type.
absl::Status WrongType(absl::string_view table, absl::string_view column, absl::string_view column_type,
                       absl::string_view got);
// INVALID_ARGUMENT: a primary-key column is missing from a key or row.
absl::Status MissingKeyColumn(absl::string_view table, absl::string_view column);
// INVALID_ARGUMENT: a NOT NULL column without default was not given.
absl::Status RequiredColumn(absl::string_view table, absl::string_view column);
// INVALID_ARGUMENT: the request breaks a rule stated in `what`.
absl::Status InvalidField(absl::string_view field, absl::string_view what);
// INVALID_ARGUMENT: filter number `index` is malformed.
absl::Status MalformedFilter(int index, absl::string_view what);
// INVALID_ARGUMENT: the page token is not one this query produced.
absl::Status MalformedPageToken(absl::string_view what);
// RESOURCE_EXHAUSTED: a list/batch is larger than allowed.
absl::Status TooLarge(absl::string_view field, int64_t size, int64_t max);
// NOT_FOUND: no row with that key.
absl::Status RowNotFound(absl::string_view table, absl::string_view key);
// ALREADY_EXISTS: a row with the same key (or unique value) exists.
absl::Status DuplicateRow(absl::string_view table, absl::string_view detail);
// ABORTED: optimistic concurrency check failed; re-read and retry.
absl::Status VersionMismatch(absl::string_view table, int64_t expected, int64_t actual);
// FAILED_PRECONDITION: a foreign-key or CHECK constraint refused the write.
absl::Status ConstraintViolated(absl::string_view detail);
// INVALID_ARGUMENT: the same request_id was used for a different request.
absl::Status RequestIdReused(absl::string_view request_id);
// UNAUTHENTICATED: the call carries no tenant.
absl::Status MissingTenant();
// INVALID_ARGUMENT: a tenant id breaks the naming rules.
absl::Status InvalidTenantId(absl::string_view id, absl::string_view why);
// NOT_FOUND: the tenant is not registered.
absl::Status UnknownTenant(absl::string_view id);
// ALREADY_EXISTS: the tenant id is taken.
absl::Status TenantExists(absl::string_view id);
// FAILED_PRECONDITION: an applied migration file changed after it was applied.
absl::Status ChecksumMismatch(absl::string_view target, int64_t version, absl::string_view name,
                              absl::string_view recorded, absl::string_view file);
// FAILED_PRECONDITION: a migration cannot be reverted or found.
absl::Status MigrationUnavailable(absl::string_view target, int64_t version, absl::string_view why);
// UNAVAILABLE: the store is busy or shutting down; retry the call.
absl::Status StoreUnavailable(absl::string_view what);
// INTERNAL: the store failed in a way the caller cannot fix (details logged).
absl::Status StoreInternal();

// ---------------------------------------------------------------------------
// Requests gRPC delivered but protobuf cannot parse (api/request_parsing.h).
// Kept as one block at the end of this file.
// ---------------------------------------------------------------------------

// Text from a request, safe to quote inside "..." in a message: valid UTF-8
// stays, other bytes and control characters become \xNN, quotes and
// backslashes are escaped, and text past `max_chars` characters is cut with
// "...".
std::string EscapeForMessage(absl::string_view raw, size_t max_chars = 64);
// INVALID_ARGUMENT: string field `path` of a `type` request is not valid
// UTF-8; `offset` is the position of the first bad byte in the string.
absl::Status RequestNotUtf8(absl::string_view type, absl::string_view path, size_t offset);
// INVALID_ARGUMENT: map field `path` of a `type` request has a key that is not
// valid UTF-8 (`raw_key` is escaped here).
absl::Status RequestMapKeyNotUtf8(absl::string_view type, absl::string_view path, absl::string_view raw_key);
// INVALID_ARGUMENT: field `path` of a `type` request nests messages more than
// `limit` levels deep.
absl::Status RequestTooDeep(absl::string_view type, absl::string_view path, int limit);
// INVALID_ARGUMENT: the bytes are not a protobuf encoding of `type`; `where`
// (may be empty) says where the reader stopped.
absl::Status RequestMalformed(absl::string_view type, absl::string_view where);
// INVALID_ARGUMENT: a unary call ended without its request message.
absl::Status RequestMissing(absl::string_view type);

}  // namespace datagate::errors

#endif  // DATAGATE_COMMON_ERRORS_H_
