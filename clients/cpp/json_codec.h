// Protobuf messages to and from JSON the way grpcurl 1.8.7 does it: grpcurl
// uses jhump/protoreflect dynamic messages, which follow golang/protobuf's
// jsonpb for the well-known types and do their own thing for the rest.
//
// Printing (MessageToJson):
// - field names as in the descriptor: the .proto name (`tenant_id`) unless a
//   json_name was written in the .proto (descriptors served by a C++
//   server's reflection carry no other json_name);
// - fields in field-number order; unset fields and zero-valued proto3
//   scalars omitted; int64/uint64 as strings; enums by name (a number the
//   enum does not define as a number); bytes as base64; float and double as
//   Go's %g; maps with sorted keys;
// - well-known types as jsonpb prints them: Timestamp in RFC 3339 UTC with
//   0, 3, 6 or 9 fraction digits; Duration as "1.5s"; Struct, Value and
//   ListValue as plain JSON (numbers as Go's encoding/json); wrappers as
//   their value; Empty as {}. FieldMask is not one of them for protoreflect,
//   so it prints as the message it is: {"paths": [...]}.
//
// Reading (JsonToMessage):
// - a message is a JSON object (or null); a field is named by its .proto
//   name or its lowerCamelCase JSON name; an unknown name is an error (as
//   without grpcurl's -allow-unknown-fields);
// - integers as numbers or numeric strings; floats also "NaN", "Infinity";
//   enums by name or number; bools also "true"/"false"; bytes in base64;
//   null leaves a field unset; an array for a singular field keeps its last
//   element, a single value for a repeated field is a list of one;
// - Timestamp as an RFC 3339 string, Duration as "1.5s", Struct/Value/
//   ListValue as any JSON, wrappers as their value;
// - FieldMask only as {"paths": ["a", "b"]}: grpcurl refuses the standard
//   string form "a,b" ("expecting start of JSON object"), and so does this.
// google.protobuf.Any is not supported either way (UNIMPLEMENTED).
#ifndef DATAGATE_CLIENTS_CPP_JSON_CODEC_H_
#define DATAGATE_CLIENTS_CPP_JSON_CODEC_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
#include "json.h"

namespace datagate::call {

// `message` as a JSON value. INVALID_ARGUMENT for values JSON cannot carry
// (a Timestamp out of range, a Value with no kind).
absl::StatusOr<Json> MessageToJson(const google::protobuf::Message& message);

// `message` as grpcurl prints it: indented JSON, no trailing newline.
absl::StatusOr<std::string> FormatMessage(const google::protobuf::Message& message);

// Merges `json` into `message`. INVALID_ARGUMENT naming the problem, with
// grpcurl's wording where grpcurl has one.
absl::Status JsonToMessage(const Json& json, google::protobuf::Message* message);

}  // namespace datagate::call

#endif  // DATAGATE_CLIENTS_CPP_JSON_CODEC_H_
