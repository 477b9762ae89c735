// Every error a caller (or an operator starting the gateway) can see is built
// here, so codes and wording agree across the gateway.
//
// Rules: messages say what to fix; they never carry SQL, engine text, file
// paths of the data folder or secrets (migration errors, for admin calls,
// may quote the engine's words about the migration file). Arguments that
// come from callers (names, ids, values, request ids) are escaped with
// EscapeText, so messages stay valid UTF-8 on one line. Arguments named
// `what`/`why` are the gateway's own text and are used as given.
#ifndef DATAGATE_COMMON_ERRORS_H_
#define DATAGATE_COMMON_ERRORS_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace datagate::errors {

// ---- Schema and values (INVALID_ARGUMENT unless noted) ----

// The request names a table the tenant's schema lacks.
absl::Status UnknownTable(absl::string_view table);
// The request names a column the table lacks.
absl::Status UnknownColumn(absl::string_view table, absl::string_view column);
// A value cannot be stored in a column of that type.
absl::Status WrongType(absl::string_view table, absl::string_view column, absl::string_view column_type,
                       absl::string_view got);
// NaN or an infinity given for a column.
absl::Status NotFinite(absl::string_view table, absl::string_view column, double value);
// A primary-key column is missing from a key or row.
absl::Status MissingKeyColumn(absl::string_view table, absl::string_view column);
// A field that must hold only key columns holds another one.
absl::Status NotAKeyColumn(absl::string_view field, absl::string_view table, absl::string_view column);
// A NOT NULL column without default was not given.
absl::Status RequiredColumn(absl::string_view table, absl::string_view column);
// null given for a NOT NULL column (which may have a default).
absl::Status NullNotAllowed(absl::string_view table, absl::string_view column, bool has_default);
// update_mask names a primary-key column.
absl::Status KeyColumnInMask(absl::string_view column);
// order_by names a column twice.
absl::Status OrderColumnRepeated(absl::string_view column);

// ---- Request fields ----

// INVALID_ARGUMENT: field `field` (escaped: it may hold a caller's key)
// breaks the rule stated in `what`.
absl::Status InvalidField(absl::string_view field, absl::string_view what);
// INVALID_ARGUMENT: an enum field holds a number the API does not define.
absl::Status UnknownEnumValue(absl::string_view field, int value);
// INVALID_ARGUMENT: filter number `index` is malformed (`what`).
absl::Status MalformedFilter(int index, absl::string_view what);
// INVALID_ARGUMENT: filter number `index` names a column the table lacks.
absl::Status FilterUnknownColumn(int index, absl::string_view table, absl::string_view column);
// INVALID_ARGUMENT: a string is longer than allowed (in characters/bytes).
absl::Status TooLong(absl::string_view field, int64_t length, int64_t max);
// INVALID_ARGUMENT: the page token is not one this query produced.
absl::Status MalformedPageToken(absl::string_view why);
// INVALID_ARGUMENT: the page token refers to a cursor the store no longer
// keeps (expired or dropped), or never kept for this tenant.
absl::Status PageTokenExpired();
// INVALID_ARGUMENT: bytes the gateway encoded itself (a page token or a
// stored result) do not decode.
absl::Status CorruptEncoding(absl::string_view why);
// INVALID_ARGUMENT: the same request_id was used for a different request.
absl::Status RequestIdReused(absl::string_view request_id);
// `status` with "operations[i]: " in front of its message (same code).
absl::Status InOperation(int64_t index, const absl::Status& status);

// ---- Sizes (RESOURCE_EXHAUSTED) ----

// A list in the request (or a number) is above its maximum.
absl::Status TooLarge(absl::string_view field, int64_t size, int64_t max);
// A write would leave a row larger than a reply may carry.
absl::Status RowTooLarge(absl::string_view table, int64_t bytes, int64_t max);
// A write's answer (all its rows) would be larger than a reply may be.
absl::Status ReplyTooLarge(int64_t bytes, int64_t max);
// A stored row is larger than a reply may carry.
absl::Status RowTooLargeToRead(absl::string_view table, int64_t bytes, int64_t max);
// One target's migration status is larger than a status page may carry.
absl::Status StatusTooLarge(absl::string_view target, int64_t bytes, int64_t max);

// ---- Rows and constraints ----

// NOT_FOUND: no row with that key.
absl::Status RowNotFound(absl::string_view table, absl::string_view key);
// ALREADY_EXISTS: a row with the same key or unique values exists.
// `columns` names them ("email", "order_id, line"); may be empty.
absl::Status DuplicateRow(absl::string_view table, absl::string_view columns);
// ALREADY_EXISTS: an exclusion constraint other than "the same values" (one
// on overlapping ranges, say) found a row the written one conflicts with.
// `constraint` is its name in the schema; may be empty.
absl::Status ConflictingRow(absl::string_view table, absl::string_view constraint);
// ABORTED: optimistic concurrency check failed; re-read and retry.
absl::Status VersionMismatch(absl::string_view table, int64_t expected, int64_t actual);
// FAILED_PRECONDITION: a foreign key of (or to) the table refused the write.
absl::Status ForeignKeyViolated(absl::string_view table);
// FAILED_PRECONDITION: a CHECK constraint refused the row. `constraint` is
// the name the schema gives it; empty for unnamed constraints.
absl::Status CheckViolated(absl::string_view table, absl::string_view constraint);
// FAILED_PRECONDITION: another constraint of the schema refused the write.
absl::Status ConstraintViolated(absl::string_view table);
// FAILED_PRECONDITION: a trigger of the schema refused the write.
absl::Status TriggerRefused(absl::string_view table);
// FAILED_PRECONDITION: a trigger or foreign-key action (ON DELETE CASCADE,
// SET NULL, ...) changed a row of `table` in a way the gateway cannot
// version and sync (`why`); the whole write was rolled back.
absl::Status CascadeNotSynced(absl::string_view table, absl::string_view why);

// ---- Tenants ----

// UNAUTHENTICATED: the call carries no tenant.
absl::Status MissingTenant();
// INVALID_ARGUMENT: the call names its tenant more than once.
absl::Status TenantHeaderRepeated(int count);
// INVALID_ARGUMENT: a tenant id breaks the naming rules.
absl::Status InvalidTenantId(absl::string_view id, absl::string_view why);
// NOT_FOUND: the tenant is not registered.
absl::Status UnknownTenant(absl::string_view id);
// ALREADY_EXISTS: the tenant id is taken.
absl::Status TenantExists(absl::string_view id);
// NOT_FOUND (a call on the tenant) or FAILED_PRECONDITION (a create of its
// id): a delete of the tenant began and did not finish.
absl::Status TenantBeingDeleted(absl::string_view id, bool creating);
// UNKNOWN: whether the tenant's cloud rows were deleted is not known.
absl::Status TenantDeleteInDoubt(absl::string_view id);
// DATA_LOSS: a registered tenant's storage is gone.
absl::Status TenantStorageMissing(absl::string_view id);

// ---- Migrations (admin calls and start-up) ----

// FAILED_PRECONDITION: an applied migration file changed after it was applied.
absl::Status ChecksumMismatch(absl::string_view target, int64_t version, absl::string_view name,
                              absl::string_view recorded, absl::string_view file);
// FAILED_PRECONDITION: a migration cannot be planned (`why`).
absl::Status MigrationUnavailable(absl::string_view target, int64_t version, absl::string_view why);
// FAILED_PRECONDITION: the migration's SQL failed; quotes the engine.
absl::Status MigrationFailed(absl::string_view target, int64_t version, absl::string_view name, absl::string_view file,
                             absl::string_view engine_message);
// FAILED_PRECONDITION: a migration replaced `table` by one without the
// gateway's version columns while it held rows, so their versions would
// restart at 1 and stale expected_versions could match again.
absl::Status MigrationDropsVersions(absl::string_view target, int64_t version, absl::string_view name,
                                    absl::string_view file, absl::string_view table);
// INVALID_ARGUMENT: a migration file's name or set is malformed.
absl::Status BadMigrationFile(absl::string_view file, absl::string_view why);
// `status` with "<target>: " in front of its message (same code).
absl::Status InTarget(absl::string_view target, const absl::Status& status);
// `status` (a failed migration step) with what the same call had already
// applied before it: those steps committed and stay (same code).
// DEADLINE_EXCEEDED: a migration over every tenant stopped at the call's
// deadline before tenant `next`; tenants before it stay migrated.
absl::Status DeadlineInFanOut(absl::string_view next);
absl::Status AfterAppliedSteps(const absl::Status& status, int64_t steps_done, int64_t last_version, bool up);

// ---- Store state ----

// UNAVAILABLE: the store is busy or shutting down; retry the call.
absl::Status StoreUnavailable(absl::string_view why);
// DEADLINE_EXCEEDED: the deadline passed before the work started
// (`waiting_for`: "a writer", "a read connection", ...). Nothing was written.
absl::Status DeadlineWhileWaiting(absl::string_view waiting_for);
// DEADLINE_EXCEEDED: the deadline passed while the store was working.
absl::Status DeadlineWhileWorking();
// RESOURCE_EXHAUSTED: the data volume is full.
absl::Status DiskFull();
// RESOURCE_EXHAUSTED: a value is larger than the store can hold.
absl::Status ValueTooBig();
// INTERNAL: the store failed in a way the caller cannot fix (details logged).
absl::Status StoreInternal();

// ---- Cloud store and sync queue ----

// A write mode or read source that needs the cloud store, on a gateway
// started without one (FAILED_PRECONDITION). `what`: e.g. "write_mode CLOUD_ONLY".
absl::Status CloudNotConfigured(absl::string_view what);
// An outbox entry the gateway cannot decode (INTERNAL; logged with the seq).
absl::Status CorruptOutbox(int64_t seq);
// An admin-only call without the admin flag (PERMISSION_DENIED).
absl::Status AdminOnly(absl::string_view method);
// FlushSync's deadline passed first (DEADLINE_EXCEEDED), with its progress.
// `why` (may be empty) says what holds the rest back when the engine knows.
absl::Status FlushIncomplete(int64_t settled, int64_t total, absl::string_view why = "");
// PauseSync's wait ended before the cloud calls under way did
// (DEADLINE_EXCEEDED): sync is paused all the same, but `in_flight`
// operations may still arrive.
absl::Status PausedWithCallsOut(int64_t in_flight);
// The cloud is down and the breaker open (UNAVAILABLE): `what` is refused.
absl::Status CloudDown(absl::string_view what);
// A constraint the cloud checks at commit (a deferred foreign key) refused
// the write (FAILED_PRECONDITION).
absl::Status CloudConstraintAtCommit();
// A unique value the cloud checks at commit is taken, by a row of a table
// it could not name (ALREADY_EXISTS).
absl::Status CloudDuplicateAtCommit();
// Text with a NUL character in a write bound for the cloud (INVALID_ARGUMENT).
absl::Status NulInCloudText(absl::string_view table, absl::string_view column);
// The cloud database answered but refused a new connection of a running
// gateway: `why` says what to fix in --cloud_url (UNAVAILABLE: connections
// already open keep working, and the sync queue waits it out).
absl::Status CloudConnectRefused(absl::string_view why);
// FAILED_PRECONDITION (for operators): the cloud database refused the
// connection --cloud_url describes (`why`: the user, password or database),
// on the gateway's first contact with it; that will not fix itself, so the
// gateway does not start on it.
absl::Status CloudUrlRefused(absl::string_view why);
// INVALID_ARGUMENT (for operators): --cloud_url is not a libpq connection
// string or URI (or names an option or value libpq does not know).
absl::Status CloudUrlMalformed();
// UNAVAILABLE: the gateway started while its cloud store could not be
// reached, and has not connected to it yet (it keeps trying): `what` is
// refused for now; `instead` (may be empty) says what works meanwhile.
absl::Status CloudNotConnectedYet(absl::string_view what, absl::string_view instead = "");
// ---- The cloud store (PostgreSQL) ----

// INVALID_ARGUMENT: a create in the cloud does not give key column
// `column`: the cloud does not make keys up (no AUTOINCREMENT there).
absl::Status CloudKeyRequired(absl::string_view table, absl::string_view column);
// FAILED_PRECONDITION (for operators): a table of the shared cloud schema
// has no primary key starting with tenant_id, so it cannot be kept per
// tenant; the gateway refuses to serve the schema.
absl::Status CloudTableNotTenantKeyed(absl::string_view schema, absl::string_view table);
// FAILED_PRECONDITION: the shared cloud schema itself serves no rows (use a
// tenant's view of it).
absl::Status CloudSchemaHasNoRows();
// FAILED_PRECONDITION: constraint `constraint` (its name in the schema) of
// the table refused the write.
absl::Status NamedConstraintViolated(absl::string_view table, absl::string_view constraint);
// INVALID_ARGUMENT: the cloud refused a value of a row of the table as not
// fitting its column's type or range.
absl::Status CloudValueRejected(absl::string_view table);
// INVALID_ARGUMENT: the cloud's column `column` of the table, of type
// `stored_type`, would store the value given changed (cut, padded or
// rounded); nothing was written.
absl::Status CloudValueChanged(absl::string_view table, absl::string_view column, absl::string_view stored_type);
// FAILED_PRECONDITION: the cloud table does not have the shape the row
// needs (a missing table or column): migrate the cloud schema first.
absl::Status CloudSchemaMismatch(absl::string_view table);
// FAILED_PRECONDITION (for operators): column `column` of the cloud table
// is NOT NULL without a default, yet the tenant's schema does not have it
// (it was added to the cloud outside the gateway's migrations), so no row
// written through the gateway can fill it.
absl::Status CloudColumnNotServed(absl::string_view table, absl::string_view column);
// FAILED_PRECONDITION: a cloud write to `table` would leave rows of
// `referring` referring to a row it deletes or changes, and their foreign
// key says ON DELETE / ON UPDATE SET DEFAULT, which the cloud does not do.
absl::Status CloudSetDefaultNotDone(absl::string_view table, absl::string_view referring);
// FAILED_PRECONDITION: a cloud write to `table` sets off foreign-key actions
// nested deeper than `max` levels (as SQLite's limit).
absl::Status ForeignKeyActionsTooDeep(absl::string_view table, int max);
// ABORTED: the cloud transaction lost a race with another (serialization
// failure or deadlock); retry the transaction.
absl::Status CloudTransactionConflict();
// A cloud row or unique value the operation writes is held by another
// transaction for longer than the operation may wait (ABORTED: retried).
absl::Status CloudRowLocked();
// Whether `status` is CloudRowLocked's (a copy keeps the mark).
bool HeldElsewhere(const absl::Status& status);
// DEADLINE_EXCEEDED: a sync call was cut at its deadline while the cloud
// still worked on it; it may have been applied, and is sent again.
absl::Status SyncCallOutOfTime();
// UNKNOWN: the connection broke while the cloud committed: the write may or
// may not be applied; re-read before retrying.
absl::Status CloudCommitInDoubt();
// DEADLINE_EXCEEDED `status` of a cloud call whose request set no deadline,
// cut at the `given` time the gateway allows such a call: says so.
absl::Status CloudTimeWithoutDeadline(const absl::Status& status, absl::Duration given);

// ---- Health ----

// NOT_FOUND: a health check names a service the server does not expose.
absl::Status UnknownHealthService(absl::string_view service);
// RESOURCE_EXHAUSTED: too many health watches are open.
absl::Status TooManyWatches(int max);
// UNAVAILABLE: the server is shutting down.
absl::Status ShuttingDown();
// CANCELLED: a stream to the caller broke.
absl::Status StreamBroken();

// ---- Requests gRPC delivered but protobuf cannot parse (api/request_parsing.h) ----
// `path` names the field as the caller wrote it (map keys escaped already).

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
// INTERNAL (at start): a service's methods do not match its .proto.
absl::Status ServiceMisregistered(absl::string_view service, absl::string_view problems);
// INVALID_ARGUMENT: a unary call ended without its request message.
absl::Status RequestMissing(absl::string_view type);

// ---- Start-up and options (for operators) ----

// INVALID_ARGUMENT: option `name` is wrong (`what` says how).
absl::Status InvalidOption(absl::string_view name, absl::string_view what);
// FAILED_PRECONDITION: the process may open `limit` files, but serving even
// one tenant needs `needed`.
absl::Status TooFewFiles(int64_t limit, int64_t needed);
// FAILED_PRECONDITION: a folder or file named by an option cannot be used.
absl::Status UnusablePath(absl::string_view option, absl::string_view path, absl::string_view why);
// FAILED_PRECONDITION: another process owns the data folder.
absl::Status DataFolderInUse(absl::string_view path);
// UNAVAILABLE: the listen address cannot be bound.
absl::Status CannotListen(absl::string_view address);
// `status` with "<context>: " in front (same code), for start-up steps.
absl::Status During(absl::string_view context, const absl::Status& status);

}  // namespace datagate::errors

#endif  // DATAGATE_COMMON_ERRORS_H_
