// The cloud store of a gateway that may start before its cloud can be
// reached: it connects in the background and serves once connected.
#ifndef DATAGATE_SERVER_CLOUD_LINK_H_
#define DATAGATE_SERVER_CLOUD_LINK_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "store/cloud.h"

namespace datagate::server {

// The cloud store as the gateway holds it, before and after its database is
// reached (store::CloudStore; the sync engine, the data paths, tenant
// deletes and the cloud migration target all hold this one).
//
// Start makes the first attempt. An attempt that fails with a code a later
// try can fix (UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED, UNKNOWN: the cloud
// is down, starting, overloaded or slow) does not stop the gateway: the link
// keeps trying on its own thread, waiting initial_backoff, doubling up to
// max_backoff, and once an attempt succeeds it serves the store: Connected()
// turns true and `on_ready` is called. Any other failure means the cloud
// answered and cannot be used as configured (a connection string it
// refuses, a table not keyed by tenant_id, a failing migration): at start
// the gateway must not start on it; found later, it is logged as an error,
// calls answer with it, and the link tries again every max_backoff (an
// operator may fix the cloud meanwhile).
//
// Until connected, calls fail with CloudNotConnectedYet (UNAVAILABLE) while
// the cloud cannot be reached, or with the last attempt's error when it
// answered and could not be used; Schema() does the same (its catalog is
// empty) and SchemaVersion() is -1.
//
// Thread-safe. The store it serves lives as long as the link.
class CloudLink final : public store::CloudStore {
 public:
  struct Options {
    absl::Duration initial_backoff = absl::Seconds(1);
    absl::Duration max_backoff = absl::Seconds(30);
    // How long Start waits for a first attempt that has not reached the
    // cloud yet (a server that does not answer holds a connect until its
    // connect_timeout); one that reached it is waited for to the end, as it
    // checks and migrates the cloud schema.
    absl::Duration start_wait = absl::Seconds(2);
  };
  // One attempt to reach the cloud: the connected store, or why not.
  using Connect = std::function<absl::StatusOr<std::unique_ptr<store::CloudStore>>()>;
  // Readies a connected store before any call reaches it (the cloud
  // migrations); an error fails the attempt as Connect's would.
  using Prepare = std::function<absl::Status(store::CloudStore& store)>;

  CloudLink(Options options, Connect connect, Prepare prepare);
  ~CloudLink() override;  // Stop()
  CloudLink(const CloudLink&) = delete;
  CloudLink& operator=(const CloudLink&) = delete;

  // Makes the first attempt and starts the link's thread. OK when connected,
  // and when the cloud could not be reached (said once, as a warning:
  // attempts go on in the background); the attempt's error when the cloud
  // answered and cannot be used (the thread is stopped then). `on_ready` is
  // called once, on the link's thread, when connected (maybe before Start
  // returns). Call once.
  absl::Status Start(std::function<void()> on_ready);
  // Stops trying: at once while waiting to try again. An attempt under way
  // is waited for: a connect to a server that does not answer ends at its
  // connect_timeout (5 s), the gateway's bootstrap at 10 s (server/cloud.cc),
  // a migration step when it ends. Idempotent.
  void Stop();

  bool Connected() const override { return ready_.load(std::memory_order_acquire) != nullptr; }

  absl::StatusOr<std::shared_ptr<store::Database>> Tenant(const std::string& tenant_id,
                                                          std::shared_ptr<const store::Catalog> local) override;
  std::shared_ptr<store::Database> Schema() override { return schema_; }
  int64_t SchemaVersion() const override;
  absl::StatusOr<std::vector<store::SyncOutcome>> ApplySync(const std::string& tenant_id,
                                                            const std::vector<store::SyncOp>& ops,
                                                            absl::Time deadline) override;
  absl::Status DeleteTenantData(const std::string& tenant_id, absl::Time deadline) override;
  absl::Status Ping(absl::Time deadline) override;

 private:
  class SchemaView;
  enum class Phase { kConnecting, kPreparing, kDone };

  void Loop();
  // One attempt; publishes the store when it succeeds.
  absl::Status Attempt();
  // Why a call for `what` fails now (the store is not connected).
  absl::Status NotConnected(absl::string_view what, absl::string_view instead = "") const;
  // Logs an attempt's failure that Start did not report.
  void Report(const absl::Status& status, absl::Duration next) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  const Connect connect_;
  const Prepare prepare_;
  const std::shared_ptr<store::Database> schema_;
  std::atomic<store::CloudStore*> ready_{nullptr};  // store_, once connected

  mutable absl::Mutex mu_;
  std::unique_ptr<store::CloudStore> store_ ABSL_GUARDED_BY(mu_);
  absl::Status error_ ABSL_GUARDED_BY(mu_);  // the last attempt's, if it answered; OK: not reached
  Phase phase_ ABSL_GUARDED_BY(mu_) = Phase::kConnecting;
  int attempts_ ABSL_GUARDED_BY(mu_) = 0;             // ended attempts
  bool start_returned_ ABSL_GUARDED_BY(mu_) = false;  // later outcomes are logged by the thread
  std::string last_logged_ ABSL_GUARDED_BY(mu_);      // the last failure logged as an error
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void()> on_ready_;
  std::thread thread_;
};

}  // namespace datagate::server

#endif  // DATAGATE_SERVER_CLOUD_LINK_H_
