// DataService handlers: validate, convert, one core call, convert back.
#ifndef DATAGATE_API_DATA_SERVICE_H_
#define DATAGATE_API_DATA_SERVICE_H_

#include "core/data.h"
#include "core/hybrid.h"
#include "datagate/v1/data.grpc.pb.h"

namespace datagate::api {

// Stateless apart from the non-owning pointer; thread-safe.
class DataServiceImpl final : public v1::DataService::Service {
 public:
  // Replies stay within `limits` (core/data.h); `hybrid` picks the store
  // per write mode and read source.
  DataServiceImpl(core::Hybrid* hybrid, core::Limits limits) : hybrid_(hybrid), limits_(limits) {}

  grpc::Status CreateRow(grpc::ServerContext* ctx, const v1::CreateRowRequest* req, v1::Row* resp) override;
  grpc::Status GetRow(grpc::ServerContext* ctx, const v1::GetRowRequest* req, v1::Row* resp) override;
  grpc::Status ListRows(grpc::ServerContext* ctx, const v1::ListRowsRequest* req, v1::ListRowsResponse* resp) override;
  grpc::Status UpdateRow(grpc::ServerContext* ctx, const v1::UpdateRowRequest* req, v1::Row* resp) override;
  grpc::Status DeleteRow(grpc::ServerContext* ctx, const v1::DeleteRowRequest* req,
                         v1::DeleteRowResponse* resp) override;
  grpc::Status UpsertRow(grpc::ServerContext* ctx, const v1::UpsertRowRequest* req, v1::Row* resp) override;
  grpc::Status BatchWrite(grpc::ServerContext* ctx, const v1::BatchWriteRequest* req,
                          v1::BatchWriteResponse* resp) override;
  grpc::Status ListTables(grpc::ServerContext* ctx, const v1::ListTablesRequest* req,
                          v1::ListTablesResponse* resp) override;

 private:
  // Runs a one-operation write and fills the row.
  grpc::Status WriteOne(grpc::ServerContext* ctx, const google::protobuf::Message& req,
                        const absl::StatusOr<core::WriteSpec>& spec, const std::string& request_id, v1::WriteMode mode,
                        v1::Row* resp);

  core::Hybrid* const hybrid_;
  const core::Limits limits_;
};

}  // namespace datagate::api

#endif  // DATAGATE_API_DATA_SERVICE_H_
