// The gateway's services as registered with gRPC: each .proto method is
// served through a UnaryAdapter (see unary_adapter.h), so requests are
// parsed by datagate. Check() on the result before registering it.
#ifndef DATAGATE_API_ADAPTERS_H_
#define DATAGATE_API_ADAPTERS_H_

#include <memory>

#include "api/unary_adapter.h"
#include "datagate/v1/data.grpc.pb.h"
#include "datagate/v1/migration.grpc.pb.h"
#include "datagate/v1/sync.grpc.pb.h"
#include "datagate/v1/tenant.grpc.pb.h"

namespace datagate::api {

// Each holds a non-owning pointer to `impl`, which must outlive it.
std::unique_ptr<UnaryAdapter> AdaptDataService(v1::DataService::Service* impl);
std::unique_ptr<UnaryAdapter> AdaptTenantService(v1::TenantService::Service* impl);
std::unique_ptr<UnaryAdapter> AdaptMigrationService(v1::MigrationService::Service* impl);
std::unique_ptr<UnaryAdapter> AdaptSyncService(v1::SyncService::Service* impl);

}  // namespace datagate::api

#endif  // DATAGATE_API_ADAPTERS_H_
