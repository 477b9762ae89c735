#include "common/errors.h"

#include "absl/strings/str_cat.h"

namespace datagate::errors {

absl::Status UnknownTable(absl::string_view table) {
  return absl::InvalidArgumentError(
      absl::StrCat("unknown table '", table, "': it is not defined by the tenant's applied migrations"));
}

absl::Status UnknownColumn(absl::string_view table, absl::string_view column) {
  return absl::InvalidArgumentError(absl::StrCat("unknown column '", column, "' in table '", table, "'"));
}

absl::Status WrongType(absl::string_view table, absl::string_view column, absl::string_view column_type,
                       absl::string_view got) {
  return absl::InvalidArgumentError(
      absl::StrCat("column '", table, ".", column, "' is ", column_type, " but the value given is ", got));
}

absl::Status MissingKeyColumn(absl::string_view table, absl::string_view column) {
  return absl::InvalidArgumentError(
      absl::StrCat("primary-key column '", column, "' of table '", table, "' must be given"));
}

absl::Status RequiredColumn(absl::string_view table, absl::string_view column) {
  return absl::InvalidArgumentError(
      absl::StrCat("column '", table, ".", column, "' is NOT NULL and has no default: give it a value"));
}

absl::Status InvalidField(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

absl::Status MalformedFilter(int index, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("filters[", index, "]: ", what));
}

absl::Status MalformedPageToken(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(
      "page_token is invalid (", what, "): pass the next_page_token of a previous response to the same query"));
}

absl::Status TooLarge(absl::string_view field, int64_t size, int64_t max) {
  return absl::ResourceExhaustedError(absl::StrCat(field, " is ", size, ", above the maximum of ", max));
}

absl::Status RowNotFound(absl::string_view table, absl::string_view key) {
  return absl::NotFoundError(absl::StrCat("no row in table '", table, "' with key ", key));
}

absl::Status DuplicateRow(absl::string_view table, absl::string_view detail) {
  return absl::AlreadyExistsError(absl::StrCat("table '", table, "' already has a row with ", detail));
}

absl::Status VersionMismatch(absl::string_view table, int64_t expected, int64_t actual) {
  return absl::AbortedError(absl::StrCat("row in table '", table, "' is at version ", actual, ", not the expected ",
                                         expected, ": read it again and retry"));
}

absl::Status ConstraintViolated(absl::string_view detail) {
  return absl::FailedPreconditionError(absl::StrCat("constraint violated: ", detail));
}

absl::Status RequestIdReused(absl::string_view request_id) {
  return absl::InvalidArgumentError(
      absl::StrCat("request_id '", request_id, "' was already used for a different request: use a new one"));
}

absl::Status MissingTenant() { return absl::UnauthenticatedError("no tenant: set the 'x-tenant-id' request metadata"); }

absl::Status InvalidTenantId(absl::string_view id, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("invalid tenant id '", id.substr(0, 80), "': ", why));
}

absl::Status UnknownTenant(absl::string_view id) {
  return absl::NotFoundError(absl::StrCat("tenant '", id, "' is not registered"));
}

absl::Status TenantExists(absl::string_view id) {
  return absl::AlreadyExistsError(absl::StrCat("tenant '", id, "' already exists"));
}

absl::Status ChecksumMismatch(absl::string_view target, int64_t version, absl::string_view name,
                              absl::string_view recorded, absl::string_view file) {
  return absl::FailedPreconditionError(absl::StrCat(target, ": migration ", version, " '", name,
                                                    "' changed after it was applied (recorded checksum ",
                                                    recorded.substr(0, 12), ", file now ", file.substr(0, 12),
                                                    "): restore the original file and put changes in a new migration"));
}

absl::Status MigrationUnavailable(absl::string_view target, int64_t version, absl::string_view why) {
  return absl::FailedPreconditionError(absl::StrCat(target, ": migration ", version, " ", why));
}

absl::Status StoreUnavailable(absl::string_view what) {
  return absl::UnavailableError(absl::StrCat("store unavailable: ", what, "; retry later"));
}

absl::Status StoreInternal() {
  return absl::InternalError("internal storage error; the details are in the gateway's log");
}

}  // namespace datagate::errors
