// Text that goes into messages for callers and logs: always valid UTF-8,
// bounded, with caller input made inert.
#ifndef DATAGATE_COMMON_TEXT_H_
#define DATAGATE_COMMON_TEXT_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace datagate {

// True when `s` is well-formed UTF-8 (no overlongs, surrogates or code
// points past U+10FFFF).
bool IsValidUtf8(absl::string_view s);

// The longest prefix of `s` of at most `max_bytes` bytes that does not end
// inside a UTF-8 sequence. Invalid bytes count as one character each.
absl::string_view Utf8Prefix(absl::string_view s, size_t max_bytes);

// Caller input made safe to echo in a message: control characters (C0, DEL,
// C1), line and paragraph separators and bidirectional overrides become
// escapes (\n, \t, \x1b, \u{202e}); bytes that are not valid UTF-8 become
// \xNN; zero-width characters are escaped too; a backslash or a quote (' or ")
// gets a backslash, so quoted input cannot end its quotes. Past `max_chars` characters the rest is
// replaced by "...". The result is valid UTF-8 and prints on one line.
std::string EscapeText(absl::string_view s, size_t max_chars = 100);

// `s` with every byte that is not part of valid UTF-8 replaced by \xNN (and
// nothing else changed), cut to at most `max_bytes` on a character
// boundary. For text that is ours but may contain foreign bytes.
std::string SanitizeUtf8(absl::string_view s, size_t max_bytes);

}  // namespace datagate

#endif  // DATAGATE_COMMON_TEXT_H_
