// Hashes for fingerprints and checksums.
#ifndef DATAGATE_COMMON_HASH_H_
#define DATAGATE_COMMON_HASH_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace datagate {

// FNV-1a, 64 bit. Not collision resistant: for telling queries apart where
// a collision only costs the caller its own page token.
inline uint64_t Fnv1a64(absl::string_view data) {
  uint64_t h = 14695981039346656037ull;
  for (const char c : data) {
    h ^= static_cast<uint8_t>(c);
    h *= 1099511628211ull;
  }
  return h;
}

// Lowercase hex SHA-256 of `data` (OpenSSL).
std::string Sha256Hex(absl::string_view data);

}  // namespace datagate

#endif  // DATAGATE_COMMON_HASH_H_
