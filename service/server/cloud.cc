#include "server/cloud.h"

#include "common/errors.h"
#include "store/postgres/pg_store.h"

namespace datagate::server {

absl::StatusOr<std::unique_ptr<store::CloudStore>> OpenCloud(const Options& options) {
  store::postgres::PgCloudStore::Options pg;
  pg.connection_string = options.cloud_url;
  pg.schema = options.cloud_schema;
  pg.pool_size = options.cloud_pool_size;
  absl::StatusOr<std::unique_ptr<store::postgres::PgCloudStore>> cloud =
      store::postgres::PgCloudStore::Create(pg, absl::Now() + absl::Seconds(30));
  if (!cloud.ok()) return errors::During("cloud_url", cloud.status());
  return std::unique_ptr<store::CloudStore>(*std::move(cloud));
}

}  // namespace datagate::server
