#include "api/status.h"

#include <string>

#include "common/text.h"

namespace datagate::api {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  constexpr size_t kMaxMessage = 1024;
  // Valid UTF-8 and cut on a character boundary, whatever went into it.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), SanitizeUtf8(status.message(), kMaxMessage));
}

}  // namespace datagate::api
