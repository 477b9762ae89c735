// Opening the cloud store the options name.
#ifndef DATAGATE_SERVER_CLOUD_H_
#define DATAGATE_SERVER_CLOUD_H_

#include <memory>

#include "absl/status/statusor.h"
#include "server/server.h"
#include "store/cloud.h"

namespace datagate::server {

// The health service entry that reports the cloud store.
inline constexpr char kCloudHealthName[] = "datagate.v1.CloudStore";

// Connects to options.cloud_url, creates the gateway's tables in the cloud
// schema when missing and reads its catalog. The cloud must be reachable at
// start (UNAVAILABLE otherwise: the gateway does not start); once running,
// an outage only queues writes. A table whose key does not start with
// tenant_id is FAILED_PRECONDITION naming it.
absl::StatusOr<std::unique_ptr<store::CloudStore>> OpenCloud(const Options& options);

}  // namespace datagate::server

#endif  // DATAGATE_SERVER_CLOUD_H_
