// Request bytes to messages, with a message that says what to fix when
// protobuf refuses them (gRPC's own parsing answers INTERNAL, empty).
#ifndef DATAGATE_API_REQUEST_PARSING_H_
#define DATAGATE_API_REQUEST_PARSING_H_

#include <grpc/byte_buffer.h>
#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace datagate::api {

// Parses gRPC's received bytes into `request`, exactly as gRPC's generated
// handlers do, and takes ownership of `buffer` (may be null: no message).
// INVALID_ARGUMENT, from DiagnoseParseFailure, when protobuf refuses the
// bytes or there is no message. Thread-compatible.
grpc::Status ParseRequest(grpc_byte_buffer* buffer, google::protobuf::Message* request);

// Why `bytes` do not parse as `type`, found by walking the wire format with
// `type`'s descriptor the way protobuf's parser does: the first proto3
// string (or map key) that is not valid UTF-8, named by its path
// (`row.fields["name"].string_value`); messages nested deeper than protobuf's
// recursion limit (100), named by the outermost google.protobuf.Value (or
// the field) holding them; or malformed bytes. INVALID_ARGUMENT from
// common/errors in every case; called only after protobuf refused `bytes`.
absl::Status DiagnoseParseFailure(const google::protobuf::Descriptor& type, absl::string_view bytes);

}  // namespace datagate::api

#endif  // DATAGATE_API_REQUEST_PARSING_H_
