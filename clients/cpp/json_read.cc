// JSON -> message, as grpcurl reads request data (see json_codec.h).
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "json_codec.h"
#include "proto_time.h"

namespace datagate::call {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// How Go's %v prints the JSON token a value starts with.
std::string Token(const Json& j) {
  switch (j.kind) {
    case Json::Kind::kNull:
      return "<nil>";
    case Json::Kind::kBool:
      return j.boolean ? "true" : "false";
    case Json::Kind::kArray:
      return "[";
    case Json::Kind::kObject:
      return "{";
    default:
      return j.text;
  }
}

// protoreflect's wording for a value of the wrong JSON type.
absl::Status Expecting(absl::string_view what, const Json& got) {
  return absl::InvalidArgumentError(absl::StrCat("bad input: expecting ", what, " ; instead got ", Token(got)));
}

// The text of a number, or of a string standing for one (both are accepted).
absl::StatusOr<std::string> NumberText(const Json& j) {
  if (j.kind != Json::Kind::kNumber && j.kind != Json::Kind::kString) return Expecting("number", j);
  return j.text;
}

// Go's strconv.ParseInt / ParseUint (base 10), with their error wording.
absl::StatusOr<int64_t> ParseInt(const std::string& s, bool is_unsigned, int bits) {
  const char* fn = is_unsigned ? "strconv.ParseUint" : "strconv.ParseInt";
  size_t start = (!is_unsigned && !s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  if (start == s.size()) return absl::InvalidArgumentError(absl::StrCat(fn, ": parsing \"", s, "\": invalid syntax"));
  for (size_t i = start; i < s.size(); ++i) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(s[i]))) {
      return absl::InvalidArgumentError(absl::StrCat(fn, ": parsing \"", s, "\": invalid syntax"));
    }
  }
  const auto out_of_range = [&] {
    return bits == 64 ? absl::InvalidArgumentError(absl::StrCat(fn, ": parsing \"", s, "\": value out of range"))
                      : absl::InvalidArgumentError("numeric value is out of range");
  };
  const char* first = s.data() + (s[0] == '+' ? 1 : 0);
  if (is_unsigned) {
    uint64_t v;
    auto [p, ec] = std::from_chars(first, s.data() + s.size(), v);
    if (ec != std::errc() || (bits == 32 && v > std::numeric_limits<uint32_t>::max())) return out_of_range();
    return static_cast<int64_t>(v);  // the caller casts back
  }
  int64_t v;
  auto [p, ec] = std::from_chars(first, s.data() + s.size(), v);
  if (ec != std::errc() ||
      (bits == 32 && (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max()))) {
    return out_of_range();
  }
  return v;
}

// Go's strconv.ParseFloat: decimal numbers and (any case) "NaN", "Inf",
// "Infinity", with an optional sign.
absl::StatusOr<double> ParseFloat(const std::string& s) {
  std::string t = s;
  if (!t.empty() && t[0] == '+') t.erase(0, 1);
  double v;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec == std::errc::result_out_of_range) {
    return absl::InvalidArgumentError(absl::StrCat("strconv.ParseFloat: parsing \"", s, "\": value out of range"));
  }
  if (ec != std::errc() || p != t.data() + t.size() || t.empty() || t[0] == '+') {
    return absl::InvalidArgumentError(absl::StrCat("strconv.ParseFloat: parsing \"", s, "\": invalid syntax"));
  }
  return v;
}

absl::StatusOr<std::string> Base64(const std::string& s) {
  // Go's StdEncoding: the standard alphabet, padded to a multiple of 4.
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool pad = c == '=' && i + 2 >= s.size() && s.size() % 4 == 0;
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || pad)) {
      return absl::InvalidArgumentError(absl::StrCat("illegal base64 data at input byte ", i));
    }
  }
  std::string out;
  if (s.size() % 4 != 0 || !absl::Base64Unescape(s, &out)) {
    return absl::InvalidArgumentError(absl::StrCat("illegal base64 data at input byte ", s.size() - s.size() % 4));
  }
  return out;
}

absl::Status ReadMessage(const Json& j, Message* m);

// Sets (or appends, for a repeated field) one value of field `f` of `m`.
absl::Status ReadElement(const Json& j, Message* m, const FieldDescriptor* f) {
  const Reflection* r = m->GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return ReadMessage(j, rep ? r->AddMessage(m, f) : r->MutableMessage(m, f));
    case FieldDescriptor::CPPTYPE_ENUM: {
      absl::StatusOr<std::string> text = NumberText(j);
      if (!text.ok()) return text.status();
      absl::StatusOr<int64_t> n = ParseInt(*text, false, 32);
      int value;
      if (n.ok()) {
        value = static_cast<int>(*n);
      } else if (absl::StrContains(n.status().message(), "out of range")) {
        return n.status();
      } else if (const auto* v = f->enum_type()->FindValueByName(*text)) {
        value = v->number();
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("Enum \"", f->enum_type()->full_name(), "\" does not have value named \"", *text, "\""));
      }
      rep ? r->AddEnumValue(m, f, value) : r->SetEnumValue(m, f, value);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64:
    case FieldDescriptor::CPPTYPE_UINT32:
    case FieldDescriptor::CPPTYPE_UINT64: {
      absl::StatusOr<std::string> text = NumberText(j);
      if (!text.ok()) return text.status();
      const bool is_unsigned =
          f->cpp_type() == FieldDescriptor::CPPTYPE_UINT32 || f->cpp_type() == FieldDescriptor::CPPTYPE_UINT64;
      const bool is64 =
          f->cpp_type() == FieldDescriptor::CPPTYPE_INT64 || f->cpp_type() == FieldDescriptor::CPPTYPE_UINT64;
      absl::StatusOr<int64_t> n = ParseInt(*text, is_unsigned, is64 ? 64 : 32);
      if (!n.ok()) return n.status();
      switch (f->cpp_type()) {
        case FieldDescriptor::CPPTYPE_INT32:
          rep ? r->AddInt32(m, f, static_cast<int32_t>(*n)) : r->SetInt32(m, f, static_cast<int32_t>(*n));
          break;
        case FieldDescriptor::CPPTYPE_INT64:
          rep ? r->AddInt64(m, f, *n) : r->SetInt64(m, f, *n);
          break;
        case FieldDescriptor::CPPTYPE_UINT32:
          rep ? r->AddUInt32(m, f, static_cast<uint32_t>(*n)) : r->SetUInt32(m, f, static_cast<uint32_t>(*n));
          break;
        default:
          rep ? r->AddUInt64(m, f, static_cast<uint64_t>(*n)) : r->SetUInt64(m, f, static_cast<uint64_t>(*n));
          break;
      }
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT: {
      absl::StatusOr<std::string> text = NumberText(j);
      if (!text.ok()) return text.status();
      absl::StatusOr<double> v = ParseFloat(*text);
      if (!v.ok()) return v.status();
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_FLOAT) {
        rep ? r->AddFloat(m, f, static_cast<float>(*v)) : r->SetFloat(m, f, static_cast<float>(*v));
      } else {
        rep ? r->AddDouble(m, f, *v) : r->SetDouble(m, f, *v);
      }
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_BOOL: {
      bool b;
      if (j.kind == Json::Kind::kBool) {
        b = j.boolean;
      } else if (j.kind == Json::Kind::kString && (j.text == "true" || j.text == "false")) {
        b = j.text == "true";
      } else {
        return Expecting("boolean", j);
      }
      rep ? r->AddBool(m, f, b) : r->SetBool(m, f, b);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      if (j.kind != Json::Kind::kString) return Expecting("string", j);
      std::string value = j.text;
      if (f->type() == FieldDescriptor::TYPE_BYTES) {
        absl::StatusOr<std::string> bytes = Base64(j.text);
        if (!bytes.ok()) return bytes.status();
        value = *std::move(bytes);
      }
      rep ? r->AddString(m, f, std::move(value)) : r->SetString(m, f, std::move(value));
      return absl::OkStatus();
    }
  }
  return absl::InternalError("unknown field type");
}

absl::Status ReadMap(const Json& j, Message* m, const FieldDescriptor* f) {
  if (j.kind != Json::Kind::kObject) return Expecting("start of JSON object: '{'", j);
  const Reflection* r = m->GetReflection();
  for (const auto& [key, value] : j.members) {
    Message* entry = r->AddMessage(m, f);
    const FieldDescriptor* key_field = f->message_type()->map_key();
    // A key is always a JSON string; ReadElement takes numbers as strings.
    if (absl::Status s = ReadElement(Json::String(key), entry, key_field); !s.ok()) return s;
    if (value.kind == Json::Kind::kNull) continue;
    if (absl::Status s = ReadElement(value, entry, f->message_type()->map_value()); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status ReadField(const Json& j, Message* m, const FieldDescriptor* f) {
  const Reflection* r = m->GetReflection();
  r->ClearField(m, f);
  if (j.kind == Json::Kind::kNull) return absl::OkStatus();  // null leaves it unset
  if (f->is_map()) return ReadMap(j, m, f);
  if (j.kind != Json::Kind::kArray) return ReadElement(j, m, f);
  for (const Json& item : j.items) {
    if (item.kind == Json::Kind::kNull) continue;
    if (!f->is_repeated()) r->ClearField(m, f);  // a singular field keeps the last
    if (absl::Status s = ReadElement(item, m, f); !s.ok()) return s;
  }
  return absl::OkStatus();
}

const FieldDescriptor* Field(const Message* m, int number) { return m->GetDescriptor()->FindFieldByNumber(number); }

absl::Status ReadValue(const Json& j, Message* m);

absl::Status ReadStruct(const Json& j, Message* m) {
  if (j.kind != Json::Kind::kObject) return Expecting("start of JSON object: '{'", j);
  const FieldDescriptor* fields = Field(m, 1);
  for (const auto& [key, value] : j.members) {
    Message* entry = m->GetReflection()->AddMessage(m, fields);
    entry->GetReflection()->SetString(entry, Field(entry, 1), key);
    if (absl::Status s = ReadValue(value, entry->GetReflection()->MutableMessage(entry, Field(entry, 2))); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status ReadListValue(const Json& j, Message* m) {
  if (j.kind != Json::Kind::kArray) return Expecting("start of array: '['", j);
  for (const Json& item : j.items) {
    if (absl::Status s = ReadValue(item, m->GetReflection()->AddMessage(m, Field(m, 1))); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status ReadValue(const Json& j, Message* m) {
  const Reflection* r = m->GetReflection();
  switch (j.kind) {
    case Json::Kind::kNull:
      r->SetEnumValue(m, Field(m, 1), 0);
      return absl::OkStatus();
    case Json::Kind::kNumber: {
      absl::StatusOr<double> v = ParseFloat(j.text);
      if (!v.ok()) return v.status();
      r->SetDouble(m, Field(m, 2), *v);
      return absl::OkStatus();
    }
    case Json::Kind::kString:
      r->SetString(m, Field(m, 3), j.text);
      return absl::OkStatus();
    case Json::Kind::kBool:
      r->SetBool(m, Field(m, 4), j.boolean);
      return absl::OkStatus();
    case Json::Kind::kObject:
      return ReadStruct(j, r->MutableMessage(m, Field(m, 5)));
    case Json::Kind::kArray:
      return ReadListValue(j, r->MutableMessage(m, Field(m, 6)));
  }
  return absl::OkStatus();
}

absl::Status ReadTime(const Json& j, Message* m, bool timestamp) {
  if (j.kind != Json::Kind::kString) return Expecting("string", j);
  absl::StatusOr<SecondsNanos> t = timestamp ? ParseTimestamp(j.text) : ParseDuration(j.text);
  if (!t.ok()) return t.status();
  m->GetReflection()->SetInt64(m, Field(m, 1), t->seconds);
  m->GetReflection()->SetInt32(m, Field(m, 2), t->nanos);
  return absl::OkStatus();
}

// The well-known types jsonpb reads specially; nullopt for the rest.
std::optional<absl::Status> ReadWellKnown(const Json& j, Message* m) {
  const std::string& type = m->GetDescriptor()->full_name();
  if (type == "google.protobuf.Timestamp") return ReadTime(j, m, true);
  if (type == "google.protobuf.Duration") return ReadTime(j, m, false);
  if (type == "google.protobuf.Struct") return ReadStruct(j, m);
  if (type == "google.protobuf.Value") return ReadValue(j, m);
  if (type == "google.protobuf.ListValue") return ReadListValue(j, m);
  if (type == "google.protobuf.Any") {
    return absl::UnimplementedError("google.protobuf.Any is not supported by datagate_call");
  }
  static constexpr const char* kWrappers[] = {
      "google.protobuf.DoubleValue", "google.protobuf.FloatValue",  "google.protobuf.Int64Value",
      "google.protobuf.UInt64Value", "google.protobuf.Int32Value",  "google.protobuf.UInt32Value",
      "google.protobuf.BoolValue",   "google.protobuf.StringValue", "google.protobuf.BytesValue"};
  for (const char* wrapper : kWrappers) {
    if (type != wrapper) continue;
    if (j.kind == Json::Kind::kNull) return absl::OkStatus();
    return ReadElement(j, m, Field(m, 1));
  }
  return std::nullopt;
}

absl::Status ReadMessage(const Json& j, Message* m) {
  if (std::optional<absl::Status> wkt = ReadWellKnown(j, m)) return *wkt;
  if (j.kind == Json::Kind::kNull) return absl::OkStatus();
  if (j.kind != Json::Kind::kObject) return Expecting("start of JSON object: '{'", j);
  const google::protobuf::Descriptor* d = m->GetDescriptor();
  for (const auto& [name, value] : j.members) {
    const FieldDescriptor* f = d->FindFieldByName(name);
    for (int i = 0; f == nullptr && i < d->field_count(); ++i) {
      if (d->field(i)->json_name() == name) f = d->field(i);  // lowerCamelCase unless set in the .proto
    }
    if (f == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("message type ", d->full_name(), " has no known field named ", name));
    }
    if (absl::Status s = ReadField(value, m, f); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status JsonToMessage(const Json& json, Message* message) { return ReadMessage(json, message); }

}  // namespace datagate::call
