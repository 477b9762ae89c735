// Message -> JSON, as grpcurl prints it (see json_codec.h).
#include <algorithm>
#include <cmath>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "json_codec.h"
#include "proto_time.h"

namespace datagate::call {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Go's jsonpb writes non-finite floats as these strings.
Json NonFinite(double f) {
  if (std::isnan(f)) return Json::String("NaN");
  return Json::String(f > 0 ? "Infinity" : "-Infinity");
}

// The JSON of field `f` of `m`: element `i` when repeated. `go_json_floats`
// selects encoding/json's float format (well-known types) over %g (the rest).
absl::StatusOr<Json> FieldValue(const Message& m, const FieldDescriptor* f, int i, bool go_json_floats) {
  const Reflection* r = m.GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return Json::Number(absl::StrCat(rep ? r->GetRepeatedInt32(m, f, i) : r->GetInt32(m, f)));
    case FieldDescriptor::CPPTYPE_UINT32:
      return Json::Number(absl::StrCat(rep ? r->GetRepeatedUInt32(m, f, i) : r->GetUInt32(m, f)));
    case FieldDescriptor::CPPTYPE_INT64:
      return Json::String(absl::StrCat(rep ? r->GetRepeatedInt64(m, f, i) : r->GetInt64(m, f)));
    case FieldDescriptor::CPPTYPE_UINT64:
      return Json::String(absl::StrCat(rep ? r->GetRepeatedUInt64(m, f, i) : r->GetUInt64(m, f)));
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT: {
      const bool is_float = f->cpp_type() == FieldDescriptor::CPPTYPE_FLOAT;
      const double v = is_float ? (rep ? r->GetRepeatedFloat(m, f, i) : r->GetFloat(m, f))
                                : (rep ? r->GetRepeatedDouble(m, f, i) : r->GetDouble(m, f));
      if (!std::isfinite(v)) return NonFinite(v);
      const int bits = is_float ? 32 : 64;
      return Json::Number(go_json_floats ? FormatFloatJson(v, bits) : FormatFloatG(v, bits));
    }
    case FieldDescriptor::CPPTYPE_BOOL:
      return Json::Bool(rep ? r->GetRepeatedBool(m, f, i) : r->GetBool(m, f));
    case FieldDescriptor::CPPTYPE_ENUM: {
      const int n = rep ? r->GetRepeatedEnumValue(m, f, i) : r->GetEnumValue(m, f);
      const google::protobuf::EnumValueDescriptor* v = f->enum_type()->FindValueByNumber(n);
      return v != nullptr ? Json::String(v->name()) : Json::Number(absl::StrCat(n));
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string scratch;
      const std::string& s =
          rep ? r->GetRepeatedStringReference(m, f, i, &scratch) : r->GetStringReference(m, f, &scratch);
      return Json::String(f->type() == FieldDescriptor::TYPE_BYTES ? absl::Base64Escape(s) : s);
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return MessageToJson(rep ? r->GetRepeatedMessage(m, f, i) : r->GetMessage(m, f));
  }
  return absl::InternalError("unknown field type");
}

// Map entries as an object, keys sorted: strings bytewise, numbers by value,
// false before true.
absl::StatusOr<Json> MapToJson(const Message& m, const FieldDescriptor* f) {
  const Reflection* r = m.GetReflection();
  const FieldDescriptor* key_field = f->message_type()->map_key();
  const FieldDescriptor* value_field = f->message_type()->map_value();
  struct Entry {
    Json key;
    Json value;
  };
  std::vector<Entry> entries;
  for (int i = 0; i < r->FieldSize(m, f); ++i) {
    const Message& entry = r->GetRepeatedMessage(m, f, i);
    absl::StatusOr<Json> key = FieldValue(entry, key_field, -1, false);
    absl::StatusOr<Json> value = FieldValue(entry, value_field, -1, false);
    if (!key.ok()) return key.status();
    if (!value.ok()) return value.status();
    entries.push_back({*std::move(key), *std::move(value)});
  }
  const bool numeric = key_field->cpp_type() != FieldDescriptor::CPPTYPE_STRING;
  std::stable_sort(entries.begin(), entries.end(), [&](const Entry& a, const Entry& b) {
    if (a.key.kind == Json::Kind::kBool) return !a.key.boolean && b.key.boolean;
    if (!numeric) return a.key.text < b.key.text;
    // Integer keys (int64 ones are strings here): compare as numbers.
    const bool an = !a.key.text.empty() && a.key.text[0] == '-', bn = !b.key.text.empty() && b.key.text[0] == '-';
    if (an != bn) return an;
    if (a.key.text.size() != b.key.text.size()) return (a.key.text.size() < b.key.text.size()) != an;
    return (a.key.text < b.key.text) != an;
  });
  Json out = Json::Object();
  for (Entry& e : entries) {
    std::string key = e.key.kind == Json::Kind::kBool ? (e.key.boolean ? "true" : "false") : e.key.text;
    out.members.emplace_back(std::move(key), std::move(e.value));
  }
  return out;
}

const FieldDescriptor* Field(const Message& m, int number) { return m.GetDescriptor()->FindFieldByNumber(number); }

SecondsNanos TimeFields(const Message& m) {
  const Reflection* r = m.GetReflection();
  return SecondsNanos{r->GetInt64(m, Field(m, 1)), r->GetInt32(m, Field(m, 2))};
}

absl::StatusOr<Json> ValueToJson(const Message& m);

absl::StatusOr<Json> StructToJson(const Message& m) {
  // Struct.fields is a map<string, Value>: MapToJson sorts the keys, and each
  // Value comes back through MessageToJson.
  return MapToJson(m, Field(m, 1));
}

absl::StatusOr<Json> ListValueToJson(const Message& m) {
  const Reflection* r = m.GetReflection();
  const FieldDescriptor* values = Field(m, 1);
  Json out = Json::Array();
  for (int i = 0; i < r->FieldSize(m, values); ++i) {
    absl::StatusOr<Json> v = ValueToJson(r->GetRepeatedMessage(m, values, i));
    if (!v.ok()) return v.status();
    out.items.push_back(*std::move(v));
  }
  return out;
}

absl::StatusOr<Json> ValueToJson(const Message& m) {
  const Reflection* r = m.GetReflection();
  const FieldDescriptor* kind = r->GetOneofFieldDescriptor(m, m.GetDescriptor()->FindOneofByName("kind"));
  if (kind == nullptr) return absl::InvalidArgumentError("google.protobuf.Value has no kind set");
  switch (kind->number()) {
    case 1:  // null_value
      return Json::Null();
    case 5:  // struct_value
      return StructToJson(r->GetMessage(m, kind));
    case 6:  // list_value
      return ListValueToJson(r->GetMessage(m, kind));
    default:
      return FieldValue(m, kind, -1, /*go_json_floats=*/true);
  }
}

// The well-known types jsonpb prints specially; nullopt for the rest.
std::optional<absl::StatusOr<Json>> WellKnownToJson(const Message& m) {
  const std::string& type = m.GetDescriptor()->full_name();
  if (type == "google.protobuf.Timestamp" || type == "google.protobuf.Duration") {
    absl::StatusOr<std::string> text =
        type == "google.protobuf.Timestamp" ? FormatTimestamp(TimeFields(m)) : FormatDuration(TimeFields(m));
    if (!text.ok()) return text.status();
    return Json::String(*std::move(text));
  }
  if (type == "google.protobuf.Struct") return StructToJson(m);
  if (type == "google.protobuf.Value") return ValueToJson(m);
  if (type == "google.protobuf.ListValue") return ListValueToJson(m);
  if (type == "google.protobuf.Any") {
    return absl::UnimplementedError("google.protobuf.Any is not supported by datagate_call");
  }
  static constexpr const char* kWrappers[] = {
      "google.protobuf.DoubleValue", "google.protobuf.FloatValue",  "google.protobuf.Int64Value",
      "google.protobuf.UInt64Value", "google.protobuf.Int32Value",  "google.protobuf.UInt32Value",
      "google.protobuf.BoolValue",   "google.protobuf.StringValue", "google.protobuf.BytesValue"};
  for (const char* wrapper : kWrappers) {
    if (type == wrapper) return FieldValue(m, Field(m, 1), -1, /*go_json_floats=*/true);
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<Json> MessageToJson(const Message& message) {
  if (std::optional<absl::StatusOr<Json>> wkt = WellKnownToJson(message)) return *std::move(wkt);
  const Reflection* r = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(message, &fields);  // set fields only, by number
  Json out = Json::Object();
  for (const FieldDescriptor* f : fields) {
    if (f->is_extension()) continue;
    const std::string& name = f->has_json_name() ? f->json_name() : f->name();
    absl::StatusOr<Json> value;
    if (f->is_map()) {
      value = MapToJson(message, f);
    } else if (f->is_repeated()) {
      value = Json::Array();
      for (int i = 0; i < r->FieldSize(message, f) && value.ok(); ++i) {
        absl::StatusOr<Json> item = FieldValue(message, f, i, false);
        if (!item.ok()) return item.status();
        value->items.push_back(*std::move(item));
      }
    } else {
      value = FieldValue(message, f, -1, false);
    }
    if (!value.ok()) return value.status();
    out.members.emplace_back(name, *std::move(value));
  }
  return out;
}

absl::StatusOr<std::string> FormatMessage(const Message& message) {
  absl::StatusOr<Json> json = MessageToJson(message);
  if (!json.ok()) return json.status();
  return WriteJson(*json, /*indent=*/true);
}

}  // namespace datagate::call
