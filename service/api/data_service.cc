#include "api/data_service.h"

#include "absl/strings/str_cat.h"
#include "api/convert.h"
#include "api/status.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "core/data.h"

namespace datagate::api {
namespace {

using store::WriteKind;

absl::StatusOr<core::WriteSpec> Spec(WriteKind kind, const std::string& table, const google::protobuf::Struct& row,
                                     absl::string_view row_field) {
  core::WriteSpec spec;
  spec.kind = kind;
  spec.table = table;
  ASSIGN_OR_RETURN(spec.fields, FromStruct(row, row_field));
  return spec;
}

absl::StatusOr<core::WriteSpec> SpecOf(const v1::CreateRowRequest& r) {
  return Spec(WriteKind::kInsert, r.table(), r.row(), "row");
}
absl::StatusOr<core::WriteSpec> SpecOf(const v1::UpsertRowRequest& r) {
  return Spec(WriteKind::kUpsert, r.table(), r.row(), "row");
}
absl::StatusOr<core::WriteSpec> SpecOf(const v1::UpdateRowRequest& r) {
  ASSIGN_OR_RETURN(core::WriteSpec spec, Spec(WriteKind::kUpdate, r.table(), r.row(), "row"));
  spec.mask = FromMask(r.update_mask());
  spec.expected_version = r.expected_version();
  return spec;
}
absl::StatusOr<core::WriteSpec> SpecOf(const v1::DeleteRowRequest& r) {
  ASSIGN_OR_RETURN(core::WriteSpec spec, Spec(WriteKind::kDelete, r.table(), r.key(), "key"));
  spec.expected_version = r.expected_version();
  return spec;
}

absl::StatusOr<core::WriteSpec> SpecOf(const v1::WriteOperation& op) {
  switch (op.operation_case()) {
    case v1::WriteOperation::kCreate:
      if (!op.create().request_id().empty()) break;
      return SpecOf(op.create());
    case v1::WriteOperation::kUpdate:
      if (!op.update().request_id().empty()) break;
      return SpecOf(op.update());
    case v1::WriteOperation::kUpsert:
      if (!op.upsert().request_id().empty()) break;
      return SpecOf(op.upsert());
    case v1::WriteOperation::kDelete:
      if (!op.delete_().request_id().empty()) break;
      return SpecOf(op.delete_());
    default:
      return errors::InvalidField("operation", "is not set: give create, update, upsert or delete");
  }
  return errors::InvalidField("request_id", "must be empty inside a batch: set BatchWriteRequest.request_id");
}

// Inner operations take the batch's mode.
bool InnerModeSet(const v1::WriteOperation& op) {
  switch (op.operation_case()) {
    case v1::WriteOperation::kCreate:
      return op.create().write_mode() != v1::WRITE_MODE_UNSPECIFIED;
    case v1::WriteOperation::kUpdate:
      return op.update().write_mode() != v1::WRITE_MODE_UNSPECIFIED;
    case v1::WriteOperation::kUpsert:
      return op.upsert().write_mode() != v1::WRITE_MODE_UNSPECIFIED;
    case v1::WriteOperation::kDelete:
      return op.delete_().write_mode() != v1::WRITE_MODE_UNSPECIFIED;
    default:
      return false;
  }
}

absl::StatusOr<std::optional<store::FilterOp>> OpOf(v1::Filter::Operator op, int index) {
  switch (op) {
    case v1::Filter::OPERATOR_UNSPECIFIED:
      return std::nullopt;
    case v1::Filter::EQUAL:
      return store::FilterOp::kEq;
    case v1::Filter::NOT_EQUAL:
      return store::FilterOp::kNe;
    case v1::Filter::LESS_THAN:
      return store::FilterOp::kLt;
    case v1::Filter::LESS_THAN_OR_EQUAL:
      return store::FilterOp::kLe;
    case v1::Filter::GREATER_THAN:
      return store::FilterOp::kGt;
    case v1::Filter::GREATER_THAN_OR_EQUAL:
      return store::FilterOp::kGe;
    case v1::Filter::IN:
      return store::FilterOp::kIn;
    case v1::Filter::LIKE:
      return store::FilterOp::kLike;
    case v1::Filter::IS_NULL:
      return store::FilterOp::kIsNull;
    case v1::Filter::IS_NOT_NULL:
      return store::FilterOp::kIsNotNull;
    default:
      return errors::UnknownEnumValue(absl::StrCat("filters[", index, "].op"), static_cast<int>(op));
  }
}

absl::StatusOr<core::ListSpec> SpecOf(const v1::ListRowsRequest& r) {
  core::ListSpec spec;
  spec.table = r.table();
  spec.page_size = r.page_size();
  spec.page_token = r.page_token();
  spec.columns = FromMask(r.read_mask());
  spec.include_total = r.include_total_size();
  for (int i = 0; i < r.filters_size(); ++i) {
    const v1::Filter& f = r.filters(i);
    const std::string path = absl::StrCat("filters[", i, "]");
    core::FilterSpec fs;
    fs.column = f.column();
    ASSIGN_OR_RETURN(fs.op, OpOf(f.op(), i));
    if (f.has_value()) {
      ASSIGN_OR_RETURN(fs.value, FromProto(f.value(), path + ".value"));
    }
    for (const auto& v : f.values()) {
      ASSIGN_OR_RETURN(Value value, FromProto(v, path + ".values"));
      fs.values.push_back(std::move(value));
    }
    spec.filters.push_back(std::move(fs));
  }
  for (const v1::OrderBy& o : r.order_by()) spec.order.push_back(store::Order{o.column(), o.descending()});
  return spec;
}

}  // namespace

grpc::Status DataServiceImpl::WriteOne(grpc::ServerContext* ctx, const google::protobuf::Message& req,
                                       const absl::StatusOr<core::WriteSpec>& spec, const std::string& request_id,
                                       v1::WriteMode mode, v1::Row* resp) {
  absl::StatusOr<std::string> tenant = TenantOf(*ctx);
  if (!tenant.ok()) return ToGrpcStatus(tenant.status());
  absl::StatusOr<core::WriteMode> write_mode = FromProto(mode, "write_mode");
  if (!write_mode.ok()) return ToGrpcStatus(write_mode.status());
  if (!spec.ok()) return ToGrpcStatus(spec.status());
  const core::WriteRequest write{{*spec}, request_id, request_id.empty() ? "" : Fingerprint(req), DeadlineOf(*ctx)};
  absl::StatusOr<core::WriteOutcome> out = hybrid_->Write(*tenant, *write_mode, write);
  if (!out.ok()) return ToGrpcStatus(out.status());
  ToProto(out->rows.front(), resp);
  if (hybrid_->has_cloud()) resp->set_cloud_sync(ToProto(out->sync.front()));
  return grpc::Status::OK;
}

grpc::Status DataServiceImpl::CreateRow(grpc::ServerContext* ctx, const v1::CreateRowRequest* req, v1::Row* resp) {
  return WriteOne(ctx, *req, SpecOf(*req), req->request_id(), req->write_mode(), resp);
}

grpc::Status DataServiceImpl::UpdateRow(grpc::ServerContext* ctx, const v1::UpdateRowRequest* req, v1::Row* resp) {
  return WriteOne(ctx, *req, SpecOf(*req), req->request_id(), req->write_mode(), resp);
}

grpc::Status DataServiceImpl::UpsertRow(grpc::ServerContext* ctx, const v1::UpsertRowRequest* req, v1::Row* resp) {
  return WriteOne(ctx, *req, SpecOf(*req), req->request_id(), req->write_mode(), resp);
}

grpc::Status DataServiceImpl::DeleteRow(grpc::ServerContext* ctx, const v1::DeleteRowRequest* req,
                                        v1::DeleteRowResponse* resp) {
  v1::Row row;
  grpc::Status status = WriteOne(ctx, *req, SpecOf(*req), req->request_id(), req->write_mode(), &row);
  if (status.ok()) {
    resp->set_version(row.version());
    resp->set_cloud_sync(row.cloud_sync());
  }
  return status;
}

grpc::Status DataServiceImpl::GetRow(grpc::ServerContext* ctx, const v1::GetRowRequest* req, v1::Row* resp) {
  absl::StatusOr<std::string> tenant = TenantOf(*ctx);
  if (!tenant.ok()) return ToGrpcStatus(tenant.status());
  absl::StatusOr<core::ReadSource> source = FromProto(req->read_source(), "read_source");
  if (!source.ok()) return ToGrpcStatus(source.status());
  core::GetSpec spec;
  spec.deadline = DeadlineOf(*ctx);
  spec.table = req->table();
  spec.columns = FromMask(req->read_mask());
  absl::StatusOr<std::vector<Field>> key = FromStruct(req->key(), "key");
  if (!key.ok()) return ToGrpcStatus(key.status());
  spec.key = *std::move(key);
  absl::StatusOr<StoredRow> row = hybrid_->Get(*tenant, *source, spec);
  if (!row.ok()) return ToGrpcStatus(row.status());
  ToProto(*row, resp);
  return grpc::Status::OK;
}

grpc::Status DataServiceImpl::ListRows(grpc::ServerContext* ctx, const v1::ListRowsRequest* req,
                                       v1::ListRowsResponse* resp) {
  absl::StatusOr<std::string> tenant = TenantOf(*ctx);
  if (!tenant.ok()) return ToGrpcStatus(tenant.status());
  absl::StatusOr<core::ReadSource> source = FromProto(req->read_source(), "read_source");
  if (!source.ok()) return ToGrpcStatus(source.status());
  absl::StatusOr<core::ListSpec> spec = SpecOf(*req);
  if (!spec.ok()) return ToGrpcStatus(spec.status());
  spec->deadline = DeadlineOf(*ctx);
  absl::StatusOr<core::ListPage> page = hybrid_->List(*tenant, *source, *std::move(spec));
  if (!page.ok()) return ToGrpcStatus(page.status());
  resp->mutable_rows()->Reserve(static_cast<int>(page->rows.size()));
  for (const StoredRow& row : page->rows) ToProto(row, resp->add_rows());
  resp->set_next_page_token(page->next_page_token);
  resp->set_total_size(page->total);
  return grpc::Status::OK;
}

grpc::Status DataServiceImpl::BatchWrite(grpc::ServerContext* ctx, const v1::BatchWriteRequest* req,
                                         v1::BatchWriteResponse* resp) {
  absl::StatusOr<std::string> tenant = TenantOf(*ctx);
  if (!tenant.ok()) return ToGrpcStatus(tenant.status());
  absl::StatusOr<core::WriteMode> mode = FromProto(req->write_mode(), "write_mode");
  if (!mode.ok()) return ToGrpcStatus(mode.status());
  std::vector<core::WriteSpec> specs;
  specs.reserve(req->operations_size());
  for (int i = 0; i < req->operations_size(); ++i) {
    if (InnerModeSet(req->operations(i))) {
      return ToGrpcStatus(errors::InOperation(
          i,
          errors::InvalidField("write_mode", "must be unspecified inside a batch: set BatchWriteRequest.write_mode")));
    }
    absl::StatusOr<core::WriteSpec> spec = SpecOf(req->operations(i));
    if (!spec.ok()) return ToGrpcStatus(errors::InOperation(i, spec.status()));
    specs.push_back(*std::move(spec));
  }
  const core::WriteRequest write{std::move(specs), req->request_id(),
                                 req->request_id().empty() ? "" : Fingerprint(*req), DeadlineOf(*ctx)};
  absl::StatusOr<core::WriteOutcome> out = hybrid_->Write(*tenant, *mode, write);
  if (!out.ok()) return ToGrpcStatus(out.status());
  for (size_t i = 0; i < out->rows.size(); ++i) {
    v1::Row* row = resp->add_results()->mutable_row();
    ToProto(out->rows[i], row);
    if (hybrid_->has_cloud()) row->set_cloud_sync(ToProto(out->sync[i]));
  }
  return grpc::Status::OK;
}

grpc::Status DataServiceImpl::ListTables(grpc::ServerContext* ctx, const v1::ListTablesRequest*,
                                         v1::ListTablesResponse* resp) {
  absl::StatusOr<std::string> tenant = TenantOf(*ctx);
  if (!tenant.ok()) return ToGrpcStatus(tenant.status());
  absl::StatusOr<std::shared_ptr<store::Database>> db = hybrid_->Local(*tenant, DeadlineOf(*ctx));
  if (!db.ok()) return ToGrpcStatus(db.status());
  const std::shared_ptr<const store::Catalog> catalog = (*db)->GetCatalog();
  for (const auto& [name, table] : catalog->tables) {
    v1::TableInfo* t = resp->add_tables();
    t->set_name(name);
    for (const store::Column& c : table.columns) {
      v1::ColumnInfo* col = t->add_columns();
      col->set_name(c.name);
      col->set_type(std::string(store::ColumnTypeName(c.type)));
      col->set_declared_type(c.declared_type);
      col->set_nullable(!c.not_null && c.pk_position == 0);
      col->set_has_default(c.has_default);
    }
    for (size_t index : table.primary_key) t->add_primary_key(table.columns[index].name);
  }
  return grpc::Status::OK;
}

}  // namespace datagate::api
