// A small JSON value, reader and writer, written to behave like the Go code
// grpcurl is built from: strings escaped as Go's encoding/json escapes them,
// output indented as Go's json.Indent(dst, src, "", "  ") indents, floats
// formatted as Go's strconv and encoding/json format them.
#ifndef DATAGATE_CLIENTS_CPP_JSON_H_
#define DATAGATE_CLIENTS_CPP_JSON_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace datagate::call {

struct Json {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };

  static Json Null() { return Json(); }
  static Json Bool(bool b);
  // `literal` must be a JSON number as written ("12", "-0.5e3").
  static Json Number(std::string literal);
  static Json String(std::string s);
  static Json Array() { return Of(Kind::kArray); }
  static Json Object() { return Of(Kind::kObject); }

  Kind kind = Kind::kNull;
  bool boolean = false;
  // kString: the value (UTF-8). kNumber: the literal exactly as written, so
  // that 64-bit integers survive.
  std::string text;
  std::vector<Json> items;                            // kArray
  std::vector<std::pair<std::string, Json>> members;  // kObject, as written

 private:
  static Json Of(Kind kind) {
    Json j;
    j.kind = kind;
    return j;
  }
};

// Parses every JSON value in `text` (values separated by optional
// whitespace, as Go's json.Decoder reads a stream). Strict RFC 8259 syntax;
// invalid UTF-8 and lone surrogates in strings become U+FFFD, as in Go.
// INVALID_ARGUMENT with the offset and what was expected.
absl::StatusOr<std::vector<Json>> ParseJsonStream(absl::string_view text);

// Parses exactly one JSON value.
absl::StatusOr<Json> ParseJson(absl::string_view text);

// Writes `value` compactly, or indented by two spaces per level with
// `"key": value` and empty containers as `{}` / `[]` (Go's json.Indent).
std::string WriteJson(const Json& value, bool indent);

// `s` as a JSON string literal, escaped as Go's encoding/json does (HTML-safe:
// <, > and & as \u003c, \u003e, \u0026; U+2028/U+2029 escaped; invalid UTF-8
// as \ufffd).
std::string QuoteJson(absl::string_view s);

// Go's strconv.FormatFloat(f, 'g', -1, bits), bits 32 or 64: the shortest
// digits that read back to the same value, in exponent form below 1e-4 and
// from 1e6 up ("1e-05", "1e+06"), as Go's %g does.
std::string FormatFloatG(double f, int bits);

// Go's encoding/json number for a float64 or float32: the shortest digits,
// plain from 1e-6 up to below 1e21, else exponent form ("1e-07" written
// "1e-7", "1e+21").
std::string FormatFloatJson(double f, int bits);

}  // namespace datagate::call

#endif  // DATAGATE_CLIENTS_CPP_JSON_H_
