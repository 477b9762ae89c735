// Opaque page tokens: the cursor of the last row served, bound to the query
// that produced it so a token cannot be replayed against another query.
#ifndef DATAGATE_COMMON_PAGE_TOKEN_H_
#define DATAGATE_COMMON_PAGE_TOKEN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/value.h"

namespace datagate {

// Web-safe base64 of a version byte, the query fingerprint and the cursor.
std::string EncodePageToken(uint64_t query_fingerprint, const std::vector<Value>& cursor);

// Tokens for lists ordered by one string (tenant ids): the last id served.
std::string EncodeIdPageToken(uint64_t list_fingerprint, const std::string& last_id);
// The id inside `token`. INVALID_ARGUMENT if it is malformed or was made for
// another list.
absl::StatusOr<std::string> DecodeIdPageToken(absl::string_view token, uint64_t list_fingerprint);

// The length of the token EncodePageToken would make for `cursor`.
int64_t PageTokenSize(const std::vector<Value>& cursor);

// The cursor inside `token`. INVALID_ARGUMENT if it is malformed or was made
// for a different query.
absl::StatusOr<std::vector<Value>> DecodePageToken(absl::string_view token, uint64_t query_fingerprint);

}  // namespace datagate

#endif  // DATAGATE_COMMON_PAGE_TOKEN_H_
