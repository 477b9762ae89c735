#include "json.h"

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace datagate::call {

Json Json::Bool(bool b) {
  Json j = Of(Kind::kBool);
  j.boolean = b;
  return j;
}

Json Json::Number(std::string literal) {
  Json j = Of(Kind::kNumber);
  j.text = std::move(literal);
  return j;
}

Json Json::String(std::string s) {
  Json j = Of(Kind::kString);
  j.text = std::move(s);
  return j;
}

namespace {

constexpr int kMaxDepth = 512;
constexpr uint32_t kReplacement = 0xFFFD;

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Decodes one UTF-8 sequence at s[i]; returns its length (1 with U+FFFD for
// an invalid or overlong sequence or a surrogate, as Go's utf8 package does).
size_t DecodeUtf8(absl::string_view s, size_t i, uint32_t* cp) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = byte(i);
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
    *cp = kReplacement;
    return 1;
  }
  if (i + len > s.size()) {
    *cp = kReplacement;
    return 1;
  }
  for (size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) {
      *cp = kReplacement;
      return 1;
    }
    *cp = (*cp << 6) | (byte(i + k) & 0x3F);
  }
  if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF)) {
    *cp = kReplacement;
    return 1;
  }
  return len;
}

// Go's %q-like rendering of the offending character in error messages.
std::string QuoteChar(char c) {
  if (c == '\'') return "'\\''";
  if (c >= 0x20 && c < 0x7F) return absl::StrCat("'", std::string(1, c), "'");
  return absl::StrCat("'\\x", absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2), "'");
}

class Parser {
 public:
  explicit Parser(absl::string_view in) : in_(in) {}

  absl::StatusOr<std::vector<Json>> ParseAll() {
    std::vector<Json> values;
    SkipSpace();
    while (pos_ < in_.size()) {
      Json v;
      if (!ParseValue(&v, 0)) return status_;
      values.push_back(std::move(v));
      SkipSpace();
    }
    return values;
  }

 private:
  bool Fail(std::string what) {
    status_ = absl::InvalidArgumentError(absl::StrCat(what, " (at offset ", pos_, ")"));
    return false;
  }
  bool FailAt(absl::string_view context) {
    if (pos_ >= in_.size()) return Fail("unexpected end of JSON input");
    return Fail(absl::StrCat("invalid character ", QuoteChar(in_[pos_]), " ", context));
  }
  void SkipSpace() {
    while (pos_ < in_.size() && (in_[pos_] == ' ' || in_[pos_] == '\t' || in_[pos_] == '\n' || in_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool Peek(char c) const { return pos_ < in_.size() && in_[pos_] == c; }
  bool IsDigit() const { return pos_ < in_.size() && in_[pos_] >= '0' && in_[pos_] <= '9'; }

  bool ParseValue(Json* out, int depth) {
    if (depth > kMaxDepth) return Fail("JSON nested too deeply");
    SkipSpace();
    if (pos_ >= in_.size()) return FailAt("");
    switch (in_[pos_]) {
      case '{':
        return ParseObject(out, depth);
      case '[':
        return ParseArray(out, depth);
      case '"':
        *out = Json::String("");
        return ParseString(&out->text);
      case 't':
        *out = Json::Bool(true);
        return ParseLiteral("true");
      case 'f':
        *out = Json::Bool(false);
        return ParseLiteral("false");
      case 'n':
        *out = Json::Null();
        return ParseLiteral("null");
      default:
        if (in_[pos_] == '-' || IsDigit()) return ParseNumber(out);
        return FailAt("looking for beginning of value");
    }
  }

  bool ParseLiteral(absl::string_view word) {
    for (char c : word) {
      if (!Peek(c)) return FailAt(absl::StrCat("in literal ", word, " (expecting '", std::string(1, c), "')"));
      ++pos_;
    }
    return true;
  }

  bool ParseNumber(Json* out) {
    const size_t start = pos_;
    if (Peek('-')) ++pos_;
    if (Peek('0')) {
      ++pos_;
    } else if (IsDigit()) {
      while (IsDigit()) ++pos_;
    } else {
      return FailAt("in numeric literal");
    }
    if (Peek('.')) {
      ++pos_;
      if (!IsDigit()) return FailAt("after decimal point in numeric literal");
      while (IsDigit()) ++pos_;
    }
    if (Peek('e') || Peek('E')) {
      ++pos_;
      if (Peek('+') || Peek('-')) ++pos_;
      if (!IsDigit()) return FailAt("in exponent of numeric literal");
      while (IsDigit()) ++pos_;
    }
    *out = Json::Number(std::string(in_.substr(start, pos_ - start)));
    return true;
  }

  bool ParseHex4(uint32_t* v) {
    *v = 0;
    for (int k = 0; k < 4; ++k) {
      if (pos_ >= in_.size()) return FailAt("");
      const char c = in_[pos_];
      int d;
      if (c >= '0' && c <= '9') {
        d = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        d = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        d = c - 'A' + 10;
      } else {
        return FailAt("in \\u hexadecimal character escape");
      }
      *v = *v * 16 + static_cast<uint32_t>(d);
      ++pos_;
    }
    return true;
  }

  // At a '"': reads the string into *out.
  bool ParseString(std::string* out) {
    ++pos_;
    while (true) {
      if (pos_ >= in_.size()) return FailAt("");
      const char c = in_[pos_];
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (static_cast<unsigned char>(c) < 0x20) return FailAt("in string literal");
      if (c != '\\') {
        uint32_t cp;
        pos_ += DecodeUtf8(in_, pos_, &cp);
        AppendUtf8(cp, out);
        continue;
      }
      ++pos_;
      if (pos_ >= in_.size()) return FailAt("");
      const char e = in_[pos_++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out->push_back(e);
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'n':
          out->push_back('\n');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 't':
          out->push_back('\t');
          break;
        case 'u': {
          uint32_t cp;
          if (!ParseHex4(&cp)) return false;
          if (cp >= 0xD800 && cp < 0xDC00) {
            // A high surrogate pairs only with an escaped low one that follows.
            uint32_t low = 0;
            if (in_.substr(pos_, 2) == "\\u") {
              const size_t save = pos_;
              pos_ += 2;
              if (!ParseHex4(&low)) return false;
              if (low >= 0xDC00 && low <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
              } else {
                pos_ = save;
                cp = kReplacement;
              }
            } else {
              cp = kReplacement;
            }
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            cp = kReplacement;
          }
          AppendUtf8(cp, out);
          break;
        }
        default:
          --pos_;
          return FailAt("in string escape code");
      }
    }
  }

  bool ParseArray(Json* out, int depth) {
    *out = Json::Array();
    ++pos_;
    SkipSpace();
    if (Peek(']')) {
      ++pos_;
      return true;
    }
    while (true) {
      Json item;
      if (!ParseValue(&item, depth + 1)) return false;
      out->items.push_back(std::move(item));
      SkipSpace();
      if (Peek(',')) {
        ++pos_;
        continue;
      }
      if (Peek(']')) {
        ++pos_;
        return true;
      }
      return FailAt("after array element");
    }
  }

  bool ParseObject(Json* out, int depth) {
    *out = Json::Object();
    ++pos_;
    SkipSpace();
    if (Peek('}')) {
      ++pos_;
      return true;
    }
    while (true) {
      SkipSpace();
      if (!Peek('"')) return FailAt("looking for beginning of object key string");
      std::string key;
      if (!ParseString(&key)) return false;
      SkipSpace();
      if (!Peek(':')) return FailAt("after object key");
      ++pos_;
      Json value;
      if (!ParseValue(&value, depth + 1)) return false;
      out->members.emplace_back(std::move(key), std::move(value));
      SkipSpace();
      if (Peek(',')) {
        ++pos_;
        continue;
      }
      if (Peek('}')) {
        ++pos_;
        return true;
      }
      return FailAt("after object key:value pair");
    }
  }

  absl::string_view in_;
  size_t pos_ = 0;
  absl::Status status_;
};

void Newline(int depth, std::string* out) {
  out->push_back('\n');
  out->append(2 * depth, ' ');
}

void Write(const Json& v, bool indent, int depth, std::string* out) {
  switch (v.kind) {
    case Json::Kind::kNull:
      out->append("null");
      return;
    case Json::Kind::kBool:
      out->append(v.boolean ? "true" : "false");
      return;
    case Json::Kind::kNumber:
      out->append(v.text);
      return;
    case Json::Kind::kString:
      out->append(QuoteJson(v.text));
      return;
    case Json::Kind::kArray:
      out->push_back('[');
      for (size_t i = 0; i < v.items.size(); ++i) {
        if (i > 0) out->push_back(',');
        if (indent) Newline(depth + 1, out);
        Write(v.items[i], indent, depth + 1, out);
      }
      if (indent && !v.items.empty()) Newline(depth, out);
      out->push_back(']');
      return;
    case Json::Kind::kObject:
      out->push_back('{');
      for (size_t i = 0; i < v.members.size(); ++i) {
        if (i > 0) out->push_back(',');
        if (indent) Newline(depth + 1, out);
        out->append(QuoteJson(v.members[i].first));
        out->append(indent ? ": " : ":");
        Write(v.members[i].second, indent, depth + 1, out);
      }
      if (indent && !v.members.empty()) Newline(depth, out);
      out->push_back('}');
      return;
  }
}

}  // namespace

absl::StatusOr<std::vector<Json>> ParseJsonStream(absl::string_view text) { return Parser(text).ParseAll(); }

absl::StatusOr<Json> ParseJson(absl::string_view text) {
  absl::StatusOr<std::vector<Json>> all = ParseJsonStream(text);
  if (!all.ok()) return all.status();
  if (all->size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat("expected one JSON value, found ", all->size()));
  }
  return std::move(all->front());
}

std::string WriteJson(const Json& value, bool indent) {
  std::string out;
  Write(value, indent, 0, &out);
  return out;
}

std::string QuoteJson(absl::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    uint32_t cp;
    const size_t len = DecodeUtf8(s, i, &cp);
    i += len;
    switch (cp) {
      case '"':
        out.append("\\\"");
        continue;
      case '\\':
        out.append("\\\\");
        continue;
      case '\n':
        out.append("\\n");
        continue;
      case '\r':
        out.append("\\r");
        continue;
      case '\t':
        out.append("\\t");
        continue;
      default:
        break;
    }
    if (cp < 0x20 || cp == '<' || cp == '>' || cp == '&') {
      out.append("\\u00");
      out.push_back(kHex[cp >> 4]);
      out.push_back(kHex[cp & 0xF]);
    } else if (cp == 0x2028 || cp == 0x2029 || (cp == kReplacement && len == 1)) {
      absl::StrAppend(&out, "\\u", absl::Hex(cp, absl::kZeroPad4));
    } else {
      AppendUtf8(cp, &out);
    }
  }
  out.push_back('"');
  return out;
}

}  // namespace datagate::call
