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

// Connects to options.cloud_url and reads the cloud schema. A cloud that
// cannot be reached at start is not fatal (the gateway serves locally and
// the sync engine waits for it); a schema the gateway cannot serve is
// FAILED_PRECONDITION.
absl::StatusOr<std::unique_ptr<store::CloudStore>> OpenCloud(const Options& options);

}  // namespace datagate::server

#endif  // DATAGATE_SERVER_CLOUD_H_
