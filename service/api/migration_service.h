// MigrationService handlers.
#ifndef DATAGATE_API_MIGRATION_SERVICE_H_
#define DATAGATE_API_MIGRATION_SERVICE_H_

#include "datagate/v1/migration.grpc.pb.h"
#include "migrate/migrations.h"

namespace datagate::api {

// Thread-safe; holds a non-owning pointer.
class MigrationServiceImpl final : public v1::MigrationService::Service {
 public:
  explicit MigrationServiceImpl(migrate::Migrations* migrations) : migrations_(migrations) {}

  grpc::Status ListMigrations(grpc::ServerContext* ctx, const v1::ListMigrationsRequest* req,
                              v1::ListMigrationsResponse* resp) override;
  grpc::Status GetMigrationStatus(grpc::ServerContext* ctx, const v1::GetMigrationStatusRequest* req,
                                  v1::GetMigrationStatusResponse* resp) override;
  grpc::Status ApplyMigrations(grpc::ServerContext* ctx, const v1::ApplyMigrationsRequest* req,
                               v1::MigrationPlanResponse* resp) override;
  grpc::Status RevertMigrations(grpc::ServerContext* ctx, const v1::RevertMigrationsRequest* req,
                                v1::MigrationPlanResponse* resp) override;

 private:
  migrate::Migrations* const migrations_;
};

}  // namespace datagate::api

#endif  // DATAGATE_API_MIGRATION_SERVICE_H_
