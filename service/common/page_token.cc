#include "common/page_token.h"

#include <cstring>

#include "absl/strings/escaping.h"
#include "common/errors.h"

namespace datagate {
namespace {
constexpr char kTokenVersion = 1;
}  // namespace

std::string EncodePageToken(uint64_t query_fingerprint, const std::vector<Value>& cursor) {
  std::string raw(1, kTokenVersion);
  char fp[sizeof query_fingerprint];
  std::memcpy(fp, &query_fingerprint, sizeof fp);
  raw.append(fp, sizeof fp);
  for (const Value& v : cursor) EncodeValue(v, &raw);
  return absl::WebSafeBase64Escape(raw);
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

int64_t PageTokenSize(const std::vector<Value>& cursor) {
  std::string raw(1 + sizeof(uint64_t), '\0');
  for (const Value& v : cursor) EncodeValue(v, &raw);
  return (static_cast<int64_t>(raw.size()) * 4 + 2) / 3;  // unpadded base64
}

absl::StatusOr<std::vector<Value>> DecodePageToken(absl::string_view token, uint64_t query_fingerprint) {
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw)) return errors::MalformedPageToken("not base64");
  if (raw.size() < 1 + sizeof(uint64_t) || raw[0] != kTokenVersion) {
    return errors::MalformedPageToken("unknown format");
  }
  uint64_t fp;
  std::memcpy(&fp, raw.data() + 1, sizeof fp);
  if (fp != query_fingerprint) return errors::MalformedPageToken("it was made for a different table, filter or order");
  absl::string_view in(raw);
  in.remove_prefix(1 + sizeof fp);
  std::vector<Value> cursor;
  while (!in.empty()) {
    absl::StatusOr<Value> v = DecodeValue(&in);
    if (!v.ok()) return errors::MalformedPageToken("corrupt cursor");
    cursor.push_back(*std::move(v));
  }
  return cursor;
}

}  // namespace datagate
