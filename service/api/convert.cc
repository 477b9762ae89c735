#include "api/convert.h"

#include <cmath>
#include <iterator>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/hash.h"
#include "common/status_macros.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace datagate::api {

absl::StatusOr<Value> FromProto(const google::protobuf::Value& v, absl::string_view path) {
  switch (v.kind_case()) {
    case google::protobuf::Value::kNullValue:
    case google::protobuf::Value::KIND_NOT_SET:
      return Value{};
    case google::protobuf::Value::kNumberValue:
      return Value{v.number_value()};
    case google::protobuf::Value::kStringValue:
      return Value{v.string_value()};
    case google::protobuf::Value::kBoolValue:
      return Value{v.bool_value()};
    default:
      return errors::InvalidField(path, "lists and objects are not column values");
  }
}

absl::StatusOr<std::vector<Field>> FromStruct(const google::protobuf::Struct& s, absl::string_view path) {
  std::vector<Field> fields;
  fields.reserve(s.fields_size());
  for (const auto& [name, value] : s.fields()) {
    ASSIGN_OR_RETURN(Value v, FromProto(value, absl::StrCat(path, ".", name)));
    fields.push_back(Field{name, std::move(v)});
  }
  return fields;
}

std::vector<std::string> FromMask(const google::protobuf::FieldMask& mask) {
  return {mask.paths().begin(), mask.paths().end()};
}

absl::StatusOr<core::WriteMode> FromProto(v1::WriteMode mode, absl::string_view field) {
  switch (mode) {
    case v1::WRITE_MODE_UNSPECIFIED:
      return core::WriteMode::kUnspecified;
    case v1::LOCAL_ONLY:
      return core::WriteMode::kLocalOnly;
    case v1::LOCAL_FIRST:
      return core::WriteMode::kLocalFirst;
    case v1::WRITE_THROUGH:
      return core::WriteMode::kWriteThrough;
    case v1::CLOUD_ONLY:
      return core::WriteMode::kCloudOnly;
    default:
      return errors::UnknownEnumValue(field, static_cast<int>(mode));
  }
}

absl::StatusOr<core::ReadSource> FromProto(v1::ReadSource source, absl::string_view field) {
  switch (source) {
    case v1::READ_SOURCE_UNSPECIFIED:
      return core::ReadSource::kUnspecified;
    case v1::LOCAL:
      return core::ReadSource::kLocal;
    case v1::CLOUD:
      return core::ReadSource::kCloud;
    case v1::CLOUD_IF_AVAILABLE:
      return core::ReadSource::kCloudIfAvailable;
    default:
      return errors::UnknownEnumValue(field, static_cast<int>(source));
  }
}

v1::CloudSync ToProto(core::CloudSync sync) {
  switch (sync) {
    case core::CloudSync::kNone:
      return v1::CLOUD_SYNC_NONE;
    case core::CloudSync::kQueued:
      return v1::CLOUD_SYNC_QUEUED;
    case core::CloudSync::kApplied:
      return v1::CLOUD_SYNC_APPLIED;
    case core::CloudSync::kConflict:
      return v1::CLOUD_SYNC_CONFLICT;
    case core::CloudSync::kDead:
      return v1::CLOUD_SYNC_DEAD_LETTERED;
  }
  return v1::CLOUD_SYNC_UNSPECIFIED;
}

void ToProto(const Value& v, google::protobuf::Value* out) {
  std::visit(
      [out](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          out->set_null_value(google::protobuf::NULL_VALUE);
        } else if constexpr (std::is_same_v<T, int64_t>) {
          // From 2^53 on a JSON number may lose digits: send a decimal string.
          if (x >= (int64_t{1} << 53) || x <= -(int64_t{1} << 53)) {
            out->set_string_value(absl::StrCat(x));
          } else {
            out->set_number_value(static_cast<double>(x));
          }
        } else if constexpr (std::is_same_v<T, double>) {
          out->set_number_value(x);
        } else if constexpr (std::is_same_v<T, std::string>) {
          out->set_string_value(x);
        } else if constexpr (std::is_same_v<T, Blob>) {
          out->set_string_value(absl::Base64Escape(x.bytes));
        } else {
          out->set_bool_value(x);
        }
      },
      v);
}

void SetTimestamp(int64_t us, google::protobuf::Timestamp* out) {
  out->set_seconds(us / 1000000);
  out->set_nanos(static_cast<int32_t>(us % 1000000) * 1000);
}

void ToProto(const StoredRow& row, v1::Row* out) {
  out->set_table(row.table);
  auto* fields = out->mutable_fields()->mutable_fields();
  for (const Field& f : row.fields) ToProto(f.value, &(*fields)[f.column]);
  out->set_version(row.version);
  if (row.create_time_us) SetTimestamp(row.create_time_us, out->mutable_create_time());
  if (row.update_time_us) SetTimestamp(row.update_time_us, out->mutable_update_time());
}

void ToProto(const migrate::Step& step, v1::MigrationStep* out) {
  out->set_target(step.target);
  out->set_version(step.version);
  out->set_name(step.name);
  out->set_direction(step.up ? "up" : "down");
  out->set_done(step.done);
}

void ToProto(const migrate::TargetState& state, v1::TargetStatus* out) {
  out->set_target(state.target);
  out->set_current_version(state.current_version);
  out->set_latest_version(state.latest_version);
  for (const migrate::AppliedState& a : state.applied) {
    v1::AppliedMigration* am = out->add_applied();
    am->set_version(a.record.version);
    am->set_name(a.record.name);
    am->set_checksum(a.record.checksum);
    SetTimestamp(a.record.apply_time_us, am->mutable_apply_time());
    am->set_checksum_mismatch(a.checksum_mismatch);
  }
  for (int64_t v : state.pending) out->add_pending(v);
  out->set_error(state.error);
}

void ToProto(v1::MigrationSet set, const migrate::MigrationFile& file, v1::Migration* out) {
  out->set_set(set);
  out->set_version(file.version);
  out->set_name(file.name);
  out->set_checksum(file.checksum);
  out->set_reversible(file.has_down);
}

void ToProto(const store::TenantRecord& record, v1::Tenant* out) {
  out->set_tenant_id(record.id);
  out->set_display_name(record.display_name);
  SetTimestamp(record.create_time_us, out->mutable_create_time());
  out->set_schema_version(record.schema_version);
}

absl::StatusOr<std::string> TenantOf(const grpc::ServerContext& context) {
  const auto range = context.client_metadata().equal_range("x-tenant-id");
  const auto count = std::distance(range.first, range.second);
  if (count > 1) return errors::TenantHeaderRepeated(static_cast<int>(count));
  if (count == 0 || range.first->second.empty()) return errors::MissingTenant();
  return std::string(range.first->second.data(), range.first->second.size());
}

absl::Time DeadlineOf(const grpc::ServerContext& context) {
  const auto deadline = context.deadline();
  // gRPC reports "no deadline" as a time centuries away.
  if (deadline - std::chrono::system_clock::now() > std::chrono::hours(24 * 365)) return absl::InfiniteFuture();
  return absl::FromChrono(deadline);
}

std::string Fingerprint(const google::protobuf::Message& request) {
  // The message type names the method (each method has its own request
  // type), so the same bytes sent to another method differ.
  std::string bytes = request.GetDescriptor()->full_name();
  bytes.push_back('\0');
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    request.SerializeToCodedStream(&coded);
  }
  return Sha256Hex(bytes);
}

}  // namespace datagate::api
