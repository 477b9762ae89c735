// The one place absl::Status becomes grpc::Status.
#ifndef DATAGATE_API_STATUS_H_
#define DATAGATE_API_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace datagate::api {

// Copies the code and a bounded message (at most 1 KiB, valid UTF-8, cut on
// a character boundary). Messages are built by common/errors, which keeps
// SQL text and paths out of them and escapes caller input.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace datagate::api

#endif  // DATAGATE_API_STATUS_H_
