// Opening the cloud store the options name.
#ifndef DATAGATE_SERVER_CLOUD_H_
#define DATAGATE_SERVER_CLOUD_H_

#include <memory>

#include "migrate/migrator.h"
#include "server/cloud_link.h"
#include "server/server.h"

namespace datagate::server {

// The health service entry that reports the cloud store.
inline constexpr char kCloudHealthName[] = "datagate.v1.CloudStore";

// The cloud store of options.cloud_url, not connected yet: start it with
// CloudLink::Start. Each attempt connects, creates the gateway's tables in
// the cloud schema when missing, reads its catalog, and applies the pending
// `migrations` (the tenant set in the Postgres dialect) under the schema's
// advisory lock, as the gateway does at start.
//
// The cloud need not be reachable at start: a server that refuses
// connections, does not answer, or whose name does not resolve yet lets the
// gateway start without it (a warning; the link keeps trying, 1 s apart
// doubling to 30 s by default). A cloud that cannot work as configured stops
// the start instead: a malformed --cloud_url (INVALID_ARGUMENT), a server
// that refuses its user, password or database (FAILED_PRECONDITION: that
// will not fix itself), a table whose key does not start with tenant_id
// (FAILED_PRECONDITION naming it), a failing migration. Found when the cloud
// comes later, those are logged as errors and cloud calls answer them.
// `migrations` must outlive the link.
std::unique_ptr<CloudLink> OpenCloud(const Options& options, const migrate::Migrator* migrations);

}  // namespace datagate::server

#endif  // DATAGATE_SERVER_CLOUD_H_
