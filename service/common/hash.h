// A stable (cross-process, cross-version) 64-bit hash for fingerprints.
#ifndef DATAGATE_COMMON_HASH_H_
#define DATAGATE_COMMON_HASH_H_

#include <cstdint>
#include "absl/strings/string_view.h"

namespace datagate {

// FNV-1a, 64 bit. Not for security: for telling requests and queries apart.
inline uint64_t Fnv1a64(absl::string_view data) {
  uint64_t h = 14695981039346656037ull;
  for (const char c : data) {
    h ^= static_cast<uint8_t>(c);
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace datagate

#endif  // DATAGATE_COMMON_HASH_H_
