#include "server/cloud.h"

#include "store/postgres/pg_store.h"

namespace datagate::server {

std::unique_ptr<CloudLink> OpenCloud(const Options& options, const migrate::Migrator* migrations) {
  store::postgres::PgCloudStore::Options pg;
  pg.connection_string = options.cloud_url;
  pg.schema = options.cloud_schema;
  pg.pool_size = options.cloud_pool_size;
  CloudLink::Options link;
  link.start_wait = absl::Milliseconds(options.cloud_start_wait_ms);
  link.initial_backoff = absl::Milliseconds(options.cloud_retry_initial_ms);
  link.max_backoff = absl::Milliseconds(options.cloud_retry_max_ms);
  auto connect = [pg]() -> absl::StatusOr<std::unique_ptr<store::CloudStore>> {
    // The bootstrap takes a few round trips; it waits longer only behind a
    // bouncer whose server is down, or for another replica's migration (the
    // advisory lock): then the attempt fails (DEADLINE_EXCEEDED) and another
    // follows. The bound also bounds how long a stop waits for it.
    absl::StatusOr<std::unique_ptr<store::postgres::PgCloudStore>> cloud =
        store::postgres::PgCloudStore::Create(pg, absl::Now() + absl::Seconds(10));
    if (!cloud.ok()) return cloud.status();
    return std::unique_ptr<store::CloudStore>(*std::move(cloud));
  };
  auto prepare = [migrations](store::CloudStore& cloud) {
    return migrations->ApplyAll("cloud", *cloud.Schema(), absl::Now() + absl::Minutes(5));
  };
  return std::make_unique<CloudLink>(link, std::move(connect), std::move(prepare));
}

}  // namespace datagate::server
