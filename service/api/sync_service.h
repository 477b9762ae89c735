// SyncService handlers: the sync queue's counters, listing, retry, purge,
// flush and pause, over the sync engine and the tenants' outboxes.
#ifndef DATAGATE_API_SYNC_SERVICE_H_
#define DATAGATE_API_SYNC_SERVICE_H_

#include "core/hybrid.h"
#include "datagate/v1/sync.grpc.pb.h"
#include "sync/sync_engine.h"

namespace datagate::api {

// Thread-safe. `engine` is null on a gateway without a cloud store: every
// call is then FAILED_PRECONDITION.
class SyncServiceImpl final : public v1::SyncService::Service {
 public:
  SyncServiceImpl(core::Hybrid* hybrid, sync::SyncEngine* engine, int64_t max_reply_bytes)
      : hybrid_(hybrid), engine_(engine), max_reply_bytes_(max_reply_bytes) {}

  grpc::Status GetSyncStats(grpc::ServerContext* ctx, const v1::GetSyncStatsRequest* req, v1::SyncStats* resp) override;
  grpc::Status ListSyncOperations(grpc::ServerContext* ctx, const v1::ListSyncOperationsRequest* req,
                                  v1::ListSyncOperationsResponse* resp) override;
  grpc::Status RetrySyncOperations(grpc::ServerContext* ctx, const v1::RetrySyncOperationsRequest* req,
                                   v1::RetrySyncOperationsResponse* resp) override;
  grpc::Status PurgeSyncOperations(grpc::ServerContext* ctx, const v1::PurgeSyncOperationsRequest* req,
                                   v1::PurgeSyncOperationsResponse* resp) override;
  grpc::Status FlushSync(grpc::ServerContext* ctx, const v1::FlushSyncRequest* req,
                         v1::FlushSyncResponse* resp) override;
  grpc::Status PauseSync(grpc::ServerContext* ctx, const v1::PauseSyncRequest* req, v1::SyncStats* resp) override;
  grpc::Status ResumeSync(grpc::ServerContext* ctx, const v1::ResumeSyncRequest* req, v1::SyncStats* resp) override;

 private:
  // The tenant's outbox (NOT_FOUND for an unknown tenant).
  absl::StatusOr<std::shared_ptr<store::Database>> Queue(const std::string& tenant, absl::Time deadline);
  void FillStats(const std::optional<std::string>& tenant, v1::SyncStats* out) const;

  core::Hybrid* const hybrid_;
  sync::SyncEngine* const engine_;
  const int64_t max_reply_bytes_;
};

}  // namespace datagate::api

#endif  // DATAGATE_API_SYNC_SERVICE_H_
