// grpc.health.v1.Health, served from the generated code of the standard
// health.proto. gRPC's built-in health service registers no descriptors, so
// server reflection (and grpcurl, which resolves everything through it) could
// not describe or call it; this one is ordinary generated code, and its
// descriptors are in the pool reflection serves.
#ifndef DATAGATE_API_HEALTH_SERVICE_H_
#define DATAGATE_API_HEALTH_SERVICE_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace datagate::api {

// Serving status per service name; "" is the server as a whole.
//
// Check: SERVING or NOT_SERVING for a known name, NOT_FOUND for any other.
// Watch: sends the current status at once (SERVICE_UNKNOWN for an unknown
// name) and then every change; the stream ends with UNAVAILABLE after
// Shutdown(), or when the caller cancels. Watch runs on gRPC's callback API,
// so an open watch holds no server thread; beyond `max_watchers` open at once
// a new Watch fails with RESOURCE_EXHAUSTED.
//
// Thread-safe. Must outlive the grpc::Server it is registered with.
class HealthServiceImpl final : public grpc::health::v1::Health::CallbackService {
 public:
  struct Options {
    // Watch streams open at once, over all callers.
    int max_watchers = 1000;
  };

  // Knows "" and `services`, all NOT_SERVING until SetStatus says otherwise.
  HealthServiceImpl(const std::vector<std::string>& services, Options options);
  ~HealthServiceImpl() override;

  // Sets the status of `service` (a name not known yet becomes known) and
  // tells its watchers. Does nothing after Shutdown().
  void SetStatus(absl::string_view service, bool serving);

  // Sets every status to NOT_SERVING, sends that to every watcher and then
  // ends their streams (UNAVAILABLE), so that open watches do not hold up the
  // server's shutdown. Later SetStatus calls change nothing. Idempotent.
  void Shutdown();

  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* ctx, const grpc::health::v1::HealthCheckRequest* req,
                                  grpc::health::v1::HealthCheckResponse* resp) override;
  grpc::ServerWriteReactor<grpc::health::v1::HealthCheckResponse>* Watch(
      grpc::CallbackServerContext* ctx, const grpc::health::v1::HealthCheckRequest* req) override;

 private:
  class Watcher;
  using Status = grpc::health::v1::HealthCheckResponse::ServingStatus;

  Status StatusOfLocked(const std::string& service) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemoveWatcher(Watcher* watcher) ABSL_LOCKS_EXCLUDED(mu_);

  const Options options_;
  absl::Mutex mu_;
  std::map<std::string, Status, std::less<>> statuses_ ABSL_GUARDED_BY(mu_);
  std::set<Watcher*> watchers_ ABSL_GUARDED_BY(mu_);
  // Counts status changes, so a watcher can drop an update older than one it
  // already has (updates reach watchers outside mu_).
  uint64_t changes_ ABSL_GUARDED_BY(mu_) = 0;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace datagate::api

#endif  // DATAGATE_API_HEALTH_SERVICE_H_
