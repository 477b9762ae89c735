#include "common/page_token.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <cstring>
#include <random>

#include "absl/strings/escaping.h"
#include "common/errors.h"
#include "common/status_macros.h"

namespace datagate {
namespace {

constexpr char kInlineVersion = 1;  // the cursor itself
constexpr char kStoredVersion = 2;  // a stored cursor's id and secret

void AppendUint64(uint64_t v, std::string* out) {
  char bytes[sizeof v];
  std::memcpy(bytes, &v, sizeof bytes);
  out->append(bytes, sizeof bytes);
}

uint64_t ReadUint64(const char* in) {
  uint64_t v;
  std::memcpy(&v, in, sizeof v);
  return v;
}

absl::Status DifferentQuery() {
  return errors::MalformedPageToken("it was made for a different table, filter or order");
}

}  // namespace

std::string EncodeCursor(uint64_t query_fingerprint, const std::vector<Value>& cursor) {
  std::string raw(1, kInlineVersion);
  AppendUint64(query_fingerprint, &raw);
  for (const Value& v : cursor) EncodeValue(v, &raw);
  return raw;
}

absl::StatusOr<std::vector<Value>> DecodeCursor(absl::string_view bytes, uint64_t query_fingerprint) {
  if (bytes.size() < 1 + sizeof(uint64_t) || bytes[0] != kInlineVersion) {
    return errors::MalformedPageToken("unknown format");
  }
  if (ReadUint64(bytes.data() + 1) != query_fingerprint) return DifferentQuery();
  bytes.remove_prefix(1 + sizeof(uint64_t));
  std::vector<Value> cursor;
  while (!bytes.empty()) {
    absl::StatusOr<Value> v = DecodeValue(&bytes);
    if (!v.ok()) return errors::MalformedPageToken("corrupt cursor");
    cursor.push_back(*std::move(v));
  }
  return cursor;
}

std::string EncodePageToken(uint64_t query_fingerprint, const std::vector<Value>& cursor) {
  return absl::WebSafeBase64Escape(EncodeCursor(query_fingerprint, cursor));
}

int64_t PageTokenSize(const std::vector<Value>& cursor) {
  std::string raw(1 + sizeof(uint64_t), '\0');
  for (const Value& v : cursor) EncodeValue(v, &raw);
  return (static_cast<int64_t>(raw.size()) * 4 + 2) / 3;  // unpadded base64
}

std::string EncodeStoredPageToken(uint64_t query_fingerprint, const StoredCursorRef& ref) {
  std::string raw(1, kStoredVersion);
  AppendUint64(query_fingerprint, &raw);
  AppendUint64(static_cast<uint64_t>(ref.id), &raw);
  raw += ref.secret;
  return absl::WebSafeBase64Escape(raw);
}

absl::StatusOr<PageToken> ParsePageToken(absl::string_view token) {
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw)) return errors::MalformedPageToken("not base64");
  if (raw.size() < 1 + sizeof(uint64_t)) return errors::MalformedPageToken("unknown format");
  PageToken parsed;
  parsed.fingerprint = ReadUint64(raw.data() + 1);
  if (raw[0] == kInlineVersion) {
    ASSIGN_OR_RETURN(parsed.cursor, DecodeCursor(raw, parsed.fingerprint));
    return parsed;
  }
  if (raw[0] != kStoredVersion || raw.size() != 1 + 2 * sizeof(uint64_t) + kCursorSecretSize) {
    return errors::MalformedPageToken("unknown format");
  }
  StoredCursorRef ref;
  ref.id = static_cast<int64_t>(ReadUint64(raw.data() + 1 + sizeof(uint64_t)));
  ref.secret = raw.substr(1 + 2 * sizeof(uint64_t));
  parsed.stored = std::move(ref);
  return parsed;
}

absl::StatusOr<std::vector<Value>> DecodePageToken(absl::string_view token, uint64_t query_fingerprint) {
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw)) return errors::MalformedPageToken("not base64");
  return DecodeCursor(raw, query_fingerprint);
}

std::string EncodeIdPageToken(uint64_t list_fingerprint, const std::string& last_id) {
  return EncodePageToken(list_fingerprint, {Value{last_id}});
}

absl::StatusOr<std::string> DecodeIdPageToken(absl::string_view token, uint64_t list_fingerprint) {
  absl::StatusOr<std::vector<Value>> cursor = DecodePageToken(token, list_fingerprint);
  if (!cursor.ok()) return cursor.status();
  if (cursor->size() != 1 || !std::holds_alternative<std::string>((*cursor)[0])) {
    return errors::MalformedPageToken("it does not fit this list");
  }
  return std::get<std::string>((*cursor)[0]);
}

std::string NewCursorSecret() {
  std::string secret(kCursorSecretSize, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(secret.data()), static_cast<int>(secret.size())) != 1) {
    std::random_device device;  // the kernel's generator
    for (char& c : secret) c = static_cast<char>(device());
  }
  return secret;
}

bool SameSecret(absl::string_view a, absl::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace datagate
