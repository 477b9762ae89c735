#include "common/errors.h"

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/text.h"

namespace datagate::errors {
namespace {

// Caller input, made safe to echo.
std::string E(absl::string_view input) { return EscapeText(input, 100); }

// A column named as the API shows it: 'table.column'.
std::string Col(absl::string_view table, absl::string_view column) {
  return absl::StrCat("'", E(table), ".", E(column), "'");
}

absl::Status Prefixed(absl::string_view prefix, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat(prefix, status.message()));
}

std::string RequestError(absl::string_view type, absl::string_view what) {
  return absl::StrCat("request is not a valid ", type, ": ", what);
}

}  // namespace

absl::Status UnknownTable(absl::string_view table) {
  return absl::InvalidArgumentError(
      absl::StrCat("unknown table '", E(table), "': it is not defined by the tenant's applied migrations"));
}

absl::Status UnknownColumn(absl::string_view table, absl::string_view column) {
  return absl::InvalidArgumentError(absl::StrCat("unknown column '", E(column), "' in table '", E(table), "'"));
}

absl::Status WrongType(absl::string_view table, absl::string_view column, absl::string_view column_type,
                       absl::string_view got) {
  return absl::InvalidArgumentError(
      absl::StrCat("column ", Col(table, column), " is ", column_type, " but the value given is ", got));
}

absl::Status NotFinite(absl::string_view table, absl::string_view column, double value) {
  return absl::InvalidArgumentError(absl::StrCat("column ", Col(table, column), " takes finite numbers only, not ",
                                                 value != value ? "NaN" : (value > 0 ? "Infinity" : "-Infinity")));
}

absl::Status MissingKeyColumn(absl::string_view table, absl::string_view column) {
  return absl::InvalidArgumentError(
      absl::StrCat("primary-key column '", E(column), "' of table '", E(table), "' must be given"));
}

absl::Status NotAKeyColumn(absl::string_view field, absl::string_view table, absl::string_view column) {
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": '", E(column), "' is not a primary-key column of '", E(table), "'; give only the key"));
}

absl::Status RequiredColumn(absl::string_view table, absl::string_view column) {
  return absl::InvalidArgumentError(
      absl::StrCat("column ", Col(table, column), " is NOT NULL and has no default: give it a value"));
}

absl::Status NullNotAllowed(absl::string_view table, absl::string_view column, bool has_default) {
  return absl::InvalidArgumentError(absl::StrCat("column ", Col(table, column), " is NOT NULL: give it a value",
                                                 has_default ? ", or leave it out to get its default" : ""));
}

absl::Status KeyColumnInMask(absl::string_view column) {
  return absl::InvalidArgumentError(
      absl::StrCat("update_mask: '", E(column), "' is a primary-key column and cannot be changed"));
}

absl::Status OrderColumnRepeated(absl::string_view column) {
  return absl::InvalidArgumentError(absl::StrCat("order_by: column '", E(column), "' appears twice"));
}

absl::Status InvalidField(absl::string_view field, absl::string_view what) {
  // `field` may hold a caller's map key ("row.<key>").
  return absl::InvalidArgumentError(absl::StrCat(E(field), ": ", what));
}

absl::Status UnknownEnumValue(absl::string_view field, int value) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", value, " is not a value this API defines"));
}

absl::Status MalformedFilter(int index, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("filters[", index, "]: ", what));
}

absl::Status FilterUnknownColumn(int index, absl::string_view table, absl::string_view column) {
  return absl::InvalidArgumentError(
      absl::StrCat("filters[", index, "]: unknown column '", E(column), "' in table '", E(table), "'"));
}

absl::Status TooLong(absl::string_view field, int64_t length, int64_t max) {
  return absl::InvalidArgumentError(absl::StrCat(field, " is ", length, " long; at most ", max, " is allowed"));
}

absl::Status MalformedPageToken(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(
      "page_token is invalid (", why, "): pass the next_page_token of a previous response to the same query"));
}

absl::Status PageTokenExpired() {
  return absl::InvalidArgumentError(
      "page_token has expired or is unknown: start again from the first page, without a page_token");
}

absl::Status CorruptEncoding(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("encoded data is invalid: ", why));
}

absl::Status RequestIdReused(absl::string_view request_id) {
  return absl::InvalidArgumentError(absl::StrCat("request_id '", E(request_id),
                                                 "' was already used for a different request (another method or "
                                                 "other content): use a new request_id"));
}

absl::Status InOperation(int64_t index, const absl::Status& status) {
  return Prefixed(absl::StrCat("operations[", index, "]: "), status);
}

absl::Status TooLarge(absl::string_view field, int64_t size, int64_t max) {
  return absl::ResourceExhaustedError(absl::StrCat(field, " is ", size, ", above the maximum of ", max));
}

absl::Status RowTooLarge(absl::string_view table, int64_t bytes, int64_t max) {
  return absl::ResourceExhaustedError(absl::StrCat("the row in table '", E(table), "' would be ", bytes,
                                                   " bytes in a reply, above the maximum row size of ", max,
                                                   " bytes (--max_row_bytes); nothing was written"));
}

absl::Status ReplyTooLarge(int64_t bytes, int64_t max) {
  return absl::ResourceExhaustedError(absl::StrCat("the answer would be ", bytes,
                                                   " bytes, above the maximum message size of ", max,
                                                   " bytes: split the batch; nothing was written"));
}

absl::Status RowTooLargeToRead(absl::string_view table, int64_t bytes, int64_t max) {
  return absl::ResourceExhaustedError(absl::StrCat("a row of table '", E(table), "' is ", bytes,
                                                   " bytes in a reply, above the maximum message size of ", max,
                                                   " bytes: read fewer columns with read_mask"));
}

absl::Status StatusTooLarge(absl::string_view target, int64_t bytes, int64_t max) {
  return absl::ResourceExhaustedError(absl::StrCat("the migration status of '", E(target), "' is ", bytes,
                                                   " bytes in a reply, above the ", max,
                                                   " bytes a status page may carry (its records hold more than the "
                                                   "migrations folder): raise the gateway's --max_message_bytes"));
}

absl::Status RowNotFound(absl::string_view table, absl::string_view key) {
  // `key` comes from DescribeFields, which escapes what it quotes.
  return absl::NotFoundError(absl::StrCat("no row in table '", E(table), "' with key ", key));
}

absl::Status DuplicateRow(absl::string_view table, absl::string_view columns) {
  if (columns.empty()) {
    return absl::AlreadyExistsError(
        absl::StrCat("table '", E(table), "' already has a row with the same unique values"));
  }
  return absl::AlreadyExistsError(absl::StrCat("table '", E(table), "' already has a row with the same ", E(columns)));
}

absl::Status ConflictingRow(absl::string_view table, absl::string_view constraint) {
  if (constraint.empty()) {
    return absl::AlreadyExistsError(
        absl::StrCat("table '", E(table), "' already has a row that an exclusion constraint keeps this one from"));
  }
  return absl::AlreadyExistsError(absl::StrCat("table '", E(table), "' already has a row that constraint '",
                                               E(constraint), "' keeps this one from"));
}

absl::Status VersionMismatch(absl::string_view table, int64_t expected, int64_t actual) {
  return absl::AbortedError(absl::StrCat("row in table '", E(table), "' is at version ", actual, ", not the expected ",
                                         expected, ": read it again and retry"));
}

absl::Status ForeignKeyViolated(absl::string_view table) {
  return absl::FailedPreconditionError(
      absl::StrCat("a foreign key of table '", E(table),
                   "' refused the write: it refers to a row that does not exist, or a row still referred to "
                   "was changed"));
}

absl::Status CheckViolated(absl::string_view table, absl::string_view constraint) {
  if (constraint.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("the row breaks a CHECK constraint of table '", E(table), "'"));
  }
  return absl::FailedPreconditionError(
      absl::StrCat("the row breaks CHECK constraint '", E(constraint), "' of table '", E(table), "'"));
}

absl::Status ConstraintViolated(absl::string_view table) {
  return absl::FailedPreconditionError(absl::StrCat("a constraint of table '", E(table), "' refused the write"));
}

absl::Status TriggerRefused(absl::string_view table) {
  return absl::FailedPreconditionError(absl::StrCat("a trigger refused the write to table '", E(table), "'"));
}

absl::Status CascadeNotSynced(absl::string_view table, absl::string_view why) {
  return absl::FailedPreconditionError(absl::StrCat(
      "a trigger or foreign key action changed a row of table '", E(table), "' that cannot be synced: ", why,
      "; nothing was written (change the schema's trigger or foreign key)"));
}

absl::Status MissingTenant() { return absl::UnauthenticatedError("no tenant: set the 'x-tenant-id' request metadata"); }

absl::Status TenantHeaderRepeated(int count) {
  return absl::InvalidArgumentError(
      absl::StrCat("'x-tenant-id' is given ", count, " times: name exactly one tenant per call"));
}

absl::Status InvalidTenantId(absl::string_view id, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("invalid tenant id '", E(id), "': ", why));
}

absl::Status UnknownTenant(absl::string_view id) {
  return absl::NotFoundError(absl::StrCat("tenant '", E(id), "' is not registered"));
}

absl::Status TenantBeingDeleted(absl::string_view id, bool creating) {
  const std::string what =
      absl::StrCat("tenant '", E(id), "' is being deleted (a DeleteTenant did not finish): call DeleteTenant again",
                   creating ? ", then create it" : " to finish");
  return creating ? absl::FailedPreconditionError(what) : absl::NotFoundError(what);
}

absl::Status TenantDeleteInDoubt(absl::string_view id) {
  return absl::UnknownError(absl::StrCat("tenant '", E(id),
                                         "': the cloud database's answer to the delete of its rows was lost, so they "
                                         "may be deleted; the tenant is no longer served: call DeleteTenant again to "
                                         "finish"));
}

absl::Status TenantExists(absl::string_view id) {
  return absl::AlreadyExistsError(absl::StrCat("tenant '", E(id), "' already exists"));
}

absl::Status TenantStorageMissing(absl::string_view id) {
  return absl::DataLossError(absl::StrCat("tenant '", E(id), "' is registered but its storage is missing"));
}

absl::Status ChecksumMismatch(absl::string_view target, int64_t version, absl::string_view name,
                              absl::string_view recorded, absl::string_view file) {
  return absl::FailedPreconditionError(absl::StrCat(target, ": migration ", version, " '", E(name),
                                                    "' changed after it was applied (recorded checksum ",
                                                    recorded.substr(0, 12), ", file now ", file.substr(0, 12),
                                                    "): restore the original file and put changes in a new migration"));
}

absl::Status MigrationUnavailable(absl::string_view target, int64_t version, absl::string_view why) {
  return absl::FailedPreconditionError(absl::StrCat(target, ": migration ", version, " ", why));
}

absl::Status MigrationFailed(absl::string_view target, int64_t version, absl::string_view name, absl::string_view file,
                             absl::string_view engine_message) {
  return absl::FailedPreconditionError(absl::StrCat(target, ": migration ", version, " '", E(name), "' (", E(file),
                                                    ") failed: ", EscapeText(engine_message, 300)));
}

absl::Status MigrationDropsVersions(absl::string_view target, int64_t version, absl::string_view name,
                                    absl::string_view file, absl::string_view table) {
  return absl::FailedPreconditionError(absl::StrCat(
      target, ": migration ", version, " '", E(name), "' (", E(file), ") leaves table '", E(table),
      "' holding rows without the gateway's columns _dg_version, _dg_create_us and _dg_update_us (a rebuilt "
      "table, or a dropped column), so rows would lose their versions; declare them in the new table and copy "
      "them with the rows (README: rebuilding a table)"));
}

absl::Status BadMigrationFile(absl::string_view file, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("migration file '", E(file), "': ", why));
}

absl::Status DeadlineInFanOut(absl::string_view next) {
  return absl::DeadlineExceededError(
      absl::StrCat("the call's deadline passed before tenant '", E(next),
                   "': the tenants before it were migrated and stay so; call again to finish the rest"));
}

absl::Status AfterAppliedSteps(const absl::Status& status, int64_t steps_done, int64_t last_version, bool up) {
  if (steps_done == 0) return status;
  const absl::string_view done = up ? "applied" : "reverted";
  return absl::Status(status.code(), absl::StrCat(status.message(), " (this call ", done, " ", steps_done,
                                                  " migration(s) before it, the last being version ", last_version,
                                                  "; they stay ", done, ")"));
}

absl::Status InTarget(absl::string_view target, const absl::Status& status) {
  if (absl::StartsWith(status.message(), absl::StrCat(target, ":"))) return status;
  return Prefixed(absl::StrCat(target, ": "), status);
}

absl::Status StoreUnavailable(absl::string_view why) {
  return absl::UnavailableError(absl::StrCat("store unavailable: ", why, "; retry later"));
}

absl::Status DeadlineWhileWaiting(absl::string_view waiting_for) {
  return absl::DeadlineExceededError(
      absl::StrCat("the call's deadline passed while it waited for ", waiting_for, "; nothing was done"));
}

absl::Status DeadlineWhileWorking() {
  return absl::DeadlineExceededError(
      "the call's deadline passed while the store was working on it; whatever it had begun to write was rolled back");
}

absl::Status DiskFull() { return absl::ResourceExhaustedError("the data volume is full"); }

absl::Status ValueTooBig() { return absl::ResourceExhaustedError("a value or row is larger than the store allows"); }

absl::Status StoreInternal() {
  return absl::InternalError("internal storage error; the details are in the gateway's log");
}

absl::Status CloudNotConfigured(absl::string_view what) {
  return absl::FailedPreconditionError(
      absl::StrCat(what,
                   " needs the cloud store, and this gateway runs without one: start it with --cloud_url "
                   "(or DATAGATE_CLOUD_URL), or use LOCAL_ONLY writes and LOCAL reads"));
}

absl::Status CorruptOutbox(int64_t seq) {
  return absl::InternalError(
      absl::StrCat("sync queue entry ", seq, " cannot be read; the details are in the gateway's log"));
}

absl::Status AdminOnly(absl::string_view method) {
  return absl::PermissionDeniedError(
      absl::StrCat(method, " is for administrators: send the metadata 'x-datagate-admin: true'"));
}

absl::Status FlushIncomplete(int64_t settled, int64_t total, absl::string_view why) {
  return absl::DeadlineExceededError(
      absl::StrCat("the deadline passed before the sync queue was flushed: ", settled, " of ", total,
                   " operations committed before the call were applied or dead-lettered; ",
                   why.empty() ? "call again (with a longer deadline) to wait for the rest" : why));
}

absl::Status PausedWithCallsOut(int64_t in_flight) {
  return absl::DeadlineExceededError(absl::StrCat(
      "sync is paused (no push starts until ResumeSync), but a cloud call under way (", in_flight,
      " operations) has not ended yet, so its rows may still arrive; call PauseSync again to wait for it"));
}

absl::Status CloudDown(absl::string_view what) {
  return absl::UnavailableError(absl::StrCat("the cloud store is unreachable (its circuit breaker is open), so ", what,
                                             " cannot run now; retry later, or use a local write mode or read source"));
}

absl::Status CloudConstraintAtCommit() {
  return absl::FailedPreconditionError(
      "the write breaks a constraint the cloud database checks at commit (e.g. a foreign key to a row it does not "
      "have): write the row it refers to first");
}

absl::Status CloudDuplicateAtCommit() {
  return absl::AlreadyExistsError(
      "the cloud database found at commit that a unique value written is taken by another row");
}

absl::Status CloudConnectRefused(absl::string_view why) {
  return absl::UnavailableError(absl::StrCat("cannot connect to the cloud database: ", why));
}

absl::Status CloudUrlRefused(absl::string_view why) {
  return absl::FailedPreconditionError(
      absl::StrCat("the cloud database refused the connection: ", why, "; fix --cloud_url and start again"));
}

absl::Status CloudUrlMalformed() {
  return absl::InvalidArgumentError(
      "--cloud_url is not a valid libpq connection string or URI (key=value pairs, or "
      "postgresql://user@host:port/database?option=value)");
}

absl::Status CloudNotConnectedYet(absl::string_view what, absl::string_view instead) {
  return absl::UnavailableError(absl::StrCat(
      "the cloud store is not reachable yet (the gateway started without it and keeps trying to connect), so ", what,
      " cannot run now: retry later", instead.empty() ? "" : ", or ", instead));
}

absl::Status NulInCloudText(absl::string_view table, absl::string_view column) {
  return absl::InvalidArgumentError(absl::StrCat("column '", E(column), "' of table '", E(table),
                                                 "' holds a NUL character, which the cloud database cannot store: "
                                                 "remove it, or write with LOCAL_ONLY"));
}

absl::Status CloudKeyRequired(absl::string_view table, absl::string_view column) {
  return absl::InvalidArgumentError(absl::StrCat("a create in table '", E(table), "' without key column '", E(column),
                                                 "' needs an explicit key in the cloud: give every key column"));
}

absl::Status CloudTableNotTenantKeyed(absl::string_view schema, absl::string_view table) {
  return absl::FailedPreconditionError(absl::StrCat("table '", E(table), "' of the cloud schema '", E(schema),
                                                    "' has no primary key starting with tenant_id: every cloud "
                                                    "table must lead its primary key with tenant_id"));
}

absl::Status CloudSchemaHasNoRows() {
  return absl::FailedPreconditionError(
      "the shared cloud schema serves no rows: read and write through a tenant's view of it");
}

absl::Status NamedConstraintViolated(absl::string_view table, absl::string_view constraint) {
  return absl::FailedPreconditionError(
      absl::StrCat("constraint '", E(constraint), "' of table '", E(table), "' refused the write"));
}

absl::Status CloudValueRejected(absl::string_view table) {
  return absl::InvalidArgumentError(
      absl::StrCat("the cloud refused a value of the row for table '", E(table), "': it does not fit its column"));
}

absl::Status CloudValueChanged(absl::string_view table, absl::string_view column, absl::string_view stored_type) {
  return absl::InvalidArgumentError(absl::StrCat(
      "column '", E(column), "' of the cloud table '", E(table), "' is ", E(stored_type),
      ", which would store the value given changed (cut, padded or rounded to fit), so it was not written: "
      "give a value the column holds as it is, or widen the cloud column through a migration (the "
      "gateway reads the cloud's columns at start and after each migration)"));
}

absl::Status CloudSchemaMismatch(absl::string_view table) {
  return absl::FailedPreconditionError(absl::StrCat("the cloud table '", E(table),
                                                    "' lacks what the row needs (a table or column): migrate the "
                                                    "cloud schema first"));
}

absl::Status CloudColumnNotServed(absl::string_view table, absl::string_view column) {
  return absl::FailedPreconditionError(
      absl::StrCat("column '", E(column), "' of the cloud table '", E(table),
                   "' is NOT NULL without a default, but the gateway's migrations did not make it, so rows "
                   "written through the gateway cannot fill it: give it a default, make it nullable, or add it "
                   "through a migration"));
}

absl::Status CloudSetDefaultNotDone(absl::string_view table, absl::string_view referring) {
  return absl::FailedPreconditionError(
      absl::StrCat("rows of table '", E(referring), "' refer to the row of table '", E(table),
                   "' and their foreign key sets them to their defaults, which the cloud does not do: change or "
                   "delete those rows first; nothing was written"));
}

absl::Status ForeignKeyActionsTooDeep(absl::string_view table, int max) {
  return absl::FailedPreconditionError(absl::StrCat("the write to table '", E(table),
                                                    "' sets off foreign key actions nested deeper than ", max,
                                                    " levels; nothing was written"));
}

absl::Status CloudTransactionConflict() {
  return absl::AbortedError(
      "the cloud transaction conflicted with a concurrent one (serialization failure or deadlock); retry it");
}

// Marks CloudRowLocked's status, so the sync engine tells a lock held
// elsewhere from the op's own failures without reading the message.
constexpr absl::string_view kHeldElsewhere = "type.datagate/held-elsewhere";

absl::Status CloudRowLocked() {
  absl::Status s = absl::AbortedError(
      "a cloud row or unique value the operation writes is held by another transaction for longer than the operation "
      "may wait; retry it");
  s.SetPayload(kHeldElsewhere, absl::Cord());
  return s;
}

bool HeldElsewhere(const absl::Status& status) { return status.GetPayload(kHeldElsewhere).has_value(); }

absl::Status SyncCallOutOfTime() {
  return absl::DeadlineExceededError(
      "the cloud call ran out of time before the cloud answered; it may have been applied, and is sent again "
      "(which changes nothing if it was)");
}

absl::Status CloudCommitInDoubt() {
  return absl::UnknownError(
      "the connection to the cloud broke while it committed: the write may or may not be applied; read it back "
      "before retrying");
}

absl::Status CloudTimeWithoutDeadline(const absl::Status& status, absl::Duration given) {
  constexpr absl::string_view kDeadlinePassed = "the call's deadline passed";
  const std::string instead = absl::StrCat("the call set no deadline, and the ", absl::FormatDuration(given),
                                           " the gateway gives the cloud part of such a call passed");
  absl::string_view rest = status.message();
  if (absl::StartsWith(rest, kDeadlinePassed)) {
    rest.remove_prefix(kDeadlinePassed.size());
    return absl::DeadlineExceededError(absl::StrCat(instead, rest));
  }
  return absl::DeadlineExceededError(absl::StrCat(instead, ": ", rest));
}

absl::Status UnknownHealthService(absl::string_view service) {
  return absl::NotFoundError(absl::StrCat("unknown service '", E(service),
                                          "': ask for \"\" (the whole server) or a service this server exposes"));
}

absl::Status TooManyWatches(int max) {
  return absl::ResourceExhaustedError(absl::StrCat("too many health watches open (at most ", max, "): retry later"));
}

absl::Status ShuttingDown() { return absl::UnavailableError("the server is shutting down"); }

absl::Status StreamBroken() { return absl::CancelledError("the stream broke"); }

absl::Status RequestNotUtf8(absl::string_view type, absl::string_view path, size_t offset) {
  return absl::InvalidArgumentError(
      RequestError(type, absl::StrCat("field '", path, "' is not valid UTF-8 (bad byte at offset ", offset,
                                      "): send text as UTF-8, binary data base64-encoded")));
}

absl::Status RequestMapKeyNotUtf8(absl::string_view type, absl::string_view path, absl::string_view raw_key) {
  return absl::InvalidArgumentError(
      RequestError(type, absl::StrCat("field '", path, "' has a key that is not valid UTF-8: \"", E(raw_key), "\"")));
}

absl::Status RequestTooDeep(absl::string_view type, absl::string_view path, int limit) {
  return absl::InvalidArgumentError(
      RequestError(type, absl::StrCat("field '", path, "' nests values more than ", limit,
                                      " levels deep (an object counts as 3 levels, a list as 2)")));
}

absl::Status RequestMalformed(absl::string_view type, absl::string_view where) {
  return absl::InvalidArgumentError(
      RequestError(type, absl::StrCat("malformed protobuf bytes", where.empty() ? "" : " ", where,
                                      ": the message is truncated or was not serialized from this type")));
}

absl::Status ServiceMisregistered(absl::string_view service, absl::string_view problems) {
  return absl::InternalError(absl::StrCat("service adapter for ", service, ": ", problems));
}

absl::Status RequestMissing(absl::string_view type) {
  return absl::InvalidArgumentError(absl::StrCat("no request message: a unary call must send exactly one ", type));
}

absl::Status InvalidOption(absl::string_view name, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(name, ": ", what));
}

absl::Status TooFewFiles(int64_t limit, int64_t needed) {
  return absl::FailedPreconditionError(absl::StrCat(
      "the process may open ", limit, " files, and serving one tenant needs ", needed,
      ": raise the limit (ulimit -n, or the container's nofile limit), or lower --max_readers if it is above "
      "1"));
}

absl::Status UnusablePath(absl::string_view option, absl::string_view path, absl::string_view why) {
  return absl::FailedPreconditionError(absl::StrCat(option, ": '", E(path), "' ", why));
}

absl::Status DataFolderInUse(absl::string_view path) {
  return absl::FailedPreconditionError(absl::StrCat(
      "data folder '", E(path), "' is in use by another datagate process; stop it or use another --data_dir"));
}

absl::Status CannotListen(absl::string_view address) {
  return absl::UnavailableError(absl::StrCat("cannot listen on '", E(address), "': the address is in use or invalid"));
}

absl::Status During(absl::string_view context, const absl::Status& status) {
  return Prefixed(absl::StrCat(context, ": "), status);
}

}  // namespace datagate::errors
