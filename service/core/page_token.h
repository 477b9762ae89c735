// Opaque page tokens: the cursor of the last row served, bound to the query
// that produced it so a token cannot be replayed against another query.
#ifndef DATAGATE_CORE_PAGE_TOKEN_H_
#define DATAGATE_CORE_PAGE_TOKEN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/value.h"

namespace datagate::core {

// Web-safe base64 of a version byte, the query fingerprint and the cursor.
std::string EncodePageToken(uint64_t query_fingerprint, const std::vector<Value>& cursor);

// The cursor inside `token`. INVALID_ARGUMENT if it is malformed or was made
// for a different query.
absl::StatusOr<std::vector<Value>> DecodePageToken(absl::string_view token, uint64_t query_fingerprint);

}  // namespace datagate::core

#endif  // DATAGATE_CORE_PAGE_TOKEN_H_
