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

// ---------------------------------------------------------------------------
// Requests gRPC delivered but protobuf cannot parse.
// ---------------------------------------------------------------------------

namespace {

// Length of the valid UTF-8 sequence at the start of `s` (1 to 4), or 0 when
// it does not start with one (overlong forms and surrogates are invalid).
size_t Utf8SequenceLength(absl::string_view s) {
  const auto byte = [&s](size_t i) { return static_cast<unsigned char>(s[i]); };
  const auto cont = [&](size_t i, unsigned char lo = 0x80, unsigned char hi = 0xbf) {
    return i < s.size() && byte(i) >= lo && byte(i) <= hi;
  };
  const unsigned char b = byte(0);
  if (b < 0x80) return 1;
  if (b >= 0xc2 && b <= 0xdf) return cont(1) ? 2 : 0;
  if (b >= 0xe0 && b <= 0xef) {
    const unsigned char lo = b == 0xe0 ? 0xa0 : 0x80, hi = b == 0xed ? 0x9f : 0xbf;
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (b >= 0xf0 && b <= 0xf4) {
    const unsigned char lo = b == 0xf0 ? 0x90 : 0x80, hi = b == 0xf4 ? 0x8f : 0xbf;
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

std::string RequestError(absl::string_view type, absl::string_view what) {
  return absl::StrCat("request is not a valid ", type, ": ", what);
}

}  // namespace

std::string EscapeForMessage(absl::string_view raw, size_t max_chars) {
  std::string out;
  size_t chars = 0;
  while (!raw.empty()) {
    if (chars == max_chars) {
      out += "...";
      break;
    }
    const size_t n = Utf8SequenceLength(raw);
    const unsigned char b = static_cast<unsigned char>(raw[0]);
    if (n == 0 || b < 0x20 || b == 0x7f) {
      absl::StrAppend(&out, "\\x", absl::Hex(b, absl::kZeroPad2));
      raw.remove_prefix(1);
    } else {
      if (b == '"' || b == '\\') out += '\\';
      out.append(raw.data(), n);
      raw.remove_prefix(n);
    }
    ++chars;
  }
  return out;
}

absl::Status RequestNotUtf8(absl::string_view type, absl::string_view path, size_t offset) {
  return absl::InvalidArgumentError(
      RequestError(type, absl::StrCat("field '", path, "' is not valid UTF-8 (bad byte at offset ", offset,
                                      "): send text as UTF-8, binary data base64-encoded")));
}

absl::Status RequestMapKeyNotUtf8(absl::string_view type, absl::string_view path, absl::string_view raw_key) {
  return absl::InvalidArgumentError(RequestError(
      type, absl::StrCat("field '", path, "' has a key that is not valid UTF-8: \"", EscapeForMessage(raw_key), "\"")));
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

absl::Status RequestMissing(absl::string_view type) {
  return absl::InvalidArgumentError(absl::StrCat("no request message: a unary call must send exactly one ", type));
}

}  // namespace datagate::errors
