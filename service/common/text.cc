#include "common/text.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace datagate {
namespace {

// Decodes one UTF-8 character at the start of `s`. Returns its length in
// bytes and sets `cp`, or returns 0 when the bytes there are not valid.
size_t DecodeOne(absl::string_view s, uint32_t* cp) {
  const auto b0 = static_cast<uint8_t>(s[0]);
  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  }
  size_t len;
  uint32_t min;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, min = 0x80, *cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, min = 0x800, *cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, min = 0x10000, *cp = b0 & 0x07;
  } else {
    return 0;
  }
  if (s.size() < len) return 0;
  for (size_t i = 1; i < len; ++i) {
    const auto b = static_cast<uint8_t>(s[i]);
    if ((b & 0xC0) != 0x80) return 0;
    *cp = (*cp << 6) | (b & 0x3F);
  }
  if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF)) return 0;
  return len;
}

// Characters that could move a terminal's cursor, end a log line or
// reorder the text around them.
bool NeedsEscape(uint32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 || (cp >= 0x202A && cp <= 0x202E) ||
         (cp >= 0x2066 && cp <= 0x2069) || (cp >= 0x200B && cp <= 0x200F) || cp == 0x2060 || cp == 0xFEFF ||
         cp == 0x061C;
}

}  // namespace

bool IsValidUtf8(absl::string_view s) {
  uint32_t cp;
  while (!s.empty()) {
    const size_t n = DecodeOne(s, &cp);
    if (n == 0) return false;
    s.remove_prefix(n);
  }
  return true;
}

absl::string_view Utf8Prefix(absl::string_view s, size_t max_bytes) {
  size_t end = 0;
  uint32_t cp;
  while (end < s.size()) {
    size_t n = DecodeOne(s.substr(end), &cp);
    if (n == 0) n = 1;
    if (end + n > max_bytes) break;
    end += n;
  }
  return s.substr(0, end);
}

std::string EscapeText(absl::string_view s, size_t max_chars) {
  std::string out;
  out.reserve(s.size() < 256 ? s.size() : 256);
  size_t chars = 0;
  uint32_t cp;
  while (!s.empty()) {
    if (chars == max_chars) {
      out += "...";
      break;
    }
    ++chars;
    const size_t n = DecodeOne(s, &cp);
    if (n == 0) {
      absl::StrAppendFormat(&out, "\\x%02x", static_cast<uint8_t>(s[0]));
      s.remove_prefix(1);
      continue;
    }
    if (cp == '\\' || cp == '"' || cp == '\'') {
      out += '\\';
      out += static_cast<char>(cp);
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp < 0x100 && NeedsEscape(cp)) {
      absl::StrAppendFormat(&out, "\\x%02x", cp);
    } else if (NeedsEscape(cp)) {
      absl::StrAppendFormat(&out, "\\u{%04x}", cp);
    } else {
      out.append(s.data(), n);
    }
    s.remove_prefix(n);
  }
  return out;
}

std::string SanitizeUtf8(absl::string_view s, size_t max_bytes) {
  std::string out;
  uint32_t cp;
  while (!s.empty()) {
    const size_t n = DecodeOne(s, &cp);
    if (n == 0) {
      if (out.size() + 4 > max_bytes) break;
      absl::StrAppendFormat(&out, "\\x%02x", static_cast<uint8_t>(s[0]));
      s.remove_prefix(1);
      continue;
    }
    if (out.size() + n > max_bytes) break;
    out.append(s.data(), n);
    s.remove_prefix(n);
  }
  return out;
}

}  // namespace datagate
