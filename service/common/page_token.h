// Opaque page tokens: the cursor of the last row served, bound to the query
// that produced it so a token cannot be replayed against another query.
//
// Two formats. An inline token carries the cursor itself. A cursor whose
// inline token would be longer than kMaxInlinePageTokenSize (a huge key or
// sort value) is kept by the store instead (store::Database::SaveCursor),
// and its token carries only the stored copy's id and a random secret, so
// stored cursors cannot be enumerated or guessed.
#ifndef DATAGATE_COMMON_PAGE_TOKEN_H_
#define DATAGATE_COMMON_PAGE_TOKEN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/value.h"

namespace datagate {

// The longest inline token handed out, in characters; longer cursors are
// stored and referred to.
inline constexpr int64_t kMaxInlinePageTokenSize = 1024;
// Random bytes in a stored cursor's secret.
inline constexpr size_t kCursorSecretSize = 16;
// The length of every stored-cursor token: web-safe base64 (unpadded) of a
// version byte, the fingerprint, the id and the secret.
inline constexpr int64_t kStoredPageTokenSize = ((1 + 8 + 8 + kCursorSecretSize) * 4 + 2) / 3;

// Where the store keeps a cursor: its id there and the secret that must
// match.
struct StoredCursorRef {
  int64_t id = 0;
  std::string secret;  // kCursorSecretSize bytes
};

// A decoded page token: either a cursor or a reference to a stored one.
struct PageToken {
  uint64_t fingerprint = 0;
  std::vector<Value> cursor;              // inline tokens
  std::optional<StoredCursorRef> stored;  // stored-cursor tokens
};

// The cursor as bytes: a version byte, the query fingerprint and the
// values. Inline tokens are these bytes in web-safe base64; stored cursors
// keep them as they are.
std::string EncodeCursor(uint64_t query_fingerprint, const std::vector<Value>& cursor);
// The values inside `bytes` made by EncodeCursor. INVALID_ARGUMENT if they
// are malformed or were made for a different query.
absl::StatusOr<std::vector<Value>> DecodeCursor(absl::string_view bytes, uint64_t query_fingerprint);

// An inline token: web-safe base64 of EncodeCursor.
std::string EncodePageToken(uint64_t query_fingerprint, const std::vector<Value>& cursor);
// The length of the token EncodePageToken would make for `cursor`.
int64_t PageTokenSize(const std::vector<Value>& cursor);
// A stored-cursor token (kStoredPageTokenSize characters).
std::string EncodeStoredPageToken(uint64_t query_fingerprint, const StoredCursorRef& ref);

// Either kind of token, with the fingerprint of the query it was made for
// (the caller compares it). INVALID_ARGUMENT if it is malformed.
absl::StatusOr<PageToken> ParsePageToken(absl::string_view token);
// The cursor inside an inline token. INVALID_ARGUMENT if it is malformed,
// was made for a different query, or refers to a stored cursor.
absl::StatusOr<std::vector<Value>> DecodePageToken(absl::string_view token, uint64_t query_fingerprint);

// Tokens for lists ordered by one string (tenant ids): the last id served.
std::string EncodeIdPageToken(uint64_t list_fingerprint, const std::string& last_id);
// The id inside `token`. INVALID_ARGUMENT if it is malformed or was made for
// another list.
absl::StatusOr<std::string> DecodeIdPageToken(absl::string_view token, uint64_t list_fingerprint);

// A fresh secret for a stored cursor: kCursorSecretSize random bytes from a
// cryptographic generator. Thread-safe.
std::string NewCursorSecret();
// Whether two secrets are equal, in time that does not depend on where they
// differ.
bool SameSecret(absl::string_view a, absl::string_view b);

}  // namespace datagate

#endif  // DATAGATE_COMMON_PAGE_TOKEN_H_
