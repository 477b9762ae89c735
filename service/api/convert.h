// Proto <-> domain conversions for the handlers.
#ifndef DATAGATE_API_CONVERT_H_
#define DATAGATE_API_CONVERT_H_

#include <grpcpp/server_context.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/value.h"
#include "core/hybrid.h"
#include "datagate/v1/data.pb.h"
#include "datagate/v1/migration.pb.h"
#include "datagate/v1/tenant.pb.h"
#include "google/protobuf/field_mask.pb.h"
#include "google/protobuf/struct.pb.h"
#include "migrate/migrator.h"
#include "store/store.h"

namespace datagate::api {

// A Struct value as a column value. Numbers become doubles (the core turns
// them into integers for INTEGER columns). INVALID_ARGUMENT for lists and
// objects, naming `path`.
absl::StatusOr<Value> FromProto(const google::protobuf::Value& v, absl::string_view path);
absl::StatusOr<std::vector<Field>> FromStruct(const google::protobuf::Struct& s, absl::string_view path);
std::vector<std::string> FromMask(const google::protobuf::FieldMask& mask);

// Write modes and read sources; INVALID_ARGUMENT naming `field` for a
// number the proto does not define.
absl::StatusOr<core::WriteMode> FromProto(v1::WriteMode mode, absl::string_view field);
absl::StatusOr<core::ReadSource> FromProto(v1::ReadSource source, absl::string_view field);
v1::CloudSync ToProto(core::CloudSync sync);

void ToProto(const Value& v, google::protobuf::Value* out);
void ToProto(const StoredRow& row, v1::Row* out);
void SetTimestamp(int64_t us, google::protobuf::Timestamp* out);

// Admin records as the admin services send them (common/reply_size.h bounds
// their sizes).
void ToProto(const migrate::Step& step, v1::MigrationStep* out);
void ToProto(const migrate::TargetState& state, v1::TargetStatus* out);
void ToProto(v1::MigrationSet set, const migrate::MigrationFile& file, v1::Migration* out);
void ToProto(const store::TenantRecord& record, v1::Tenant* out);

// The caller's tenant id from the `x-tenant-id` metadata. UNAUTHENTICATED
// when missing; INVALID_ARGUMENT when given more than once.
absl::StatusOr<std::string> TenantOf(const grpc::ServerContext& context);

// The call's deadline (InfiniteFuture when the caller set none).
absl::Time DeadlineOf(const grpc::ServerContext& context);

// A stable fingerprint (SHA-256) of a request's type and content, for
// idempotency checks: the same request_id on another method or with other
// content does not match.
std::string Fingerprint(const google::protobuf::Message& request);

}  // namespace datagate::api

#endif  // DATAGATE_API_CONVERT_H_
