// The datagate server: every setting in Options, start-up in Create.
#ifndef DATAGATE_SERVER_SERVER_H_
#define DATAGATE_SERVER_SERVER_H_

#include <grpcpp/server.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace datagate::server {

struct Options {
  // host:port to listen on; port 0 picks a free port (see Server::port()).
  std::string listen = "127.0.0.1:50051";
  // Folder for master.db and tenants/<id>.db (created if missing).
  std::string data_dir = "./data";
  // Folder with master/ and tenant/ migration sets.
  std::string migrations_dir = "./migrations";
  // SQLite synchronous mode: FULL (an acknowledged write is on disk) or
  // NORMAL (faster; a power loss may drop the last writes, a crash may not).
  std::string synchronous = "FULL";
  // Read connections per database.
  int max_readers = 4;
  // Tenant databases kept open at once (least recently used idle ones close).
  int max_open_tenants = 256;
  // gRPC sync-server poller threads kept ready for new calls.
  int max_pollers = 4;
  // gRPC threads for calls and pollers together (a grpc::ResourceQuota), so
  // calls that block cannot make threads without limit. One thread stays
  // free to refuse calls: at most max_threads - 1 calls run at once, and
  // more are answered RESOURCE_EXHAUSTED at once, without running. Must
  // exceed max_pollers. Reflection calls count; health checks run on gRPC's
  // own callback threads and do not.
  int max_threads = 256;
  // Largest request or reply message, bytes (gRPC's receive and send
  // limits; 4 MiB is also what gRPC clients accept by default). At least
  // 8192, and enough for the migrations folder's listing and one target's
  // full status; admin listings (plans, status and tenant pages) are cut to
  // fit it, less kListReplyReserve.
  int max_message_bytes = 4 << 20;
  // Largest row a write may leave, measured as a reply carries it; a write
  // that would exceed it is refused before it commits. 0: max_message_bytes
  // less a reserve of 1/8 (at most 64 KiB) for the rest of a reply.
  int max_row_bytes = 0;
  // Tenants to create at start when they do not exist yet (quick start,
  // fixed deployments).
  std::vector<std::string> create_tenants;

  // The cloud store: a libpq connection string (URL or key=value). Empty:
  // no cloud store; writes and reads stay local.
  std::string cloud_url;
  // The Postgres schema that holds every tenant's cloud tables.
  std::string cloud_schema = "public";
  // Pooled cloud connections.
  int cloud_pool_size = 8;
  // A cloud that cannot be reached at start does not stop the gateway (see
  // server/cloud.h): start-up waits for an answer at most this long (ms),
  // then serves without it while it connects in the background, waiting
  // cloud_retry_initial_ms after a failed attempt, doubling up to
  // cloud_retry_max_ms.
  int cloud_start_wait_ms = 2000;
  int cloud_retry_initial_ms = 1000;
  int cloud_retry_max_ms = 30000;
  // The write mode of requests that name none: LOCAL_ONLY, LOCAL_FIRST,
  // WRITE_THROUGH or CLOUD_ONLY. Empty: LOCAL_FIRST with a cloud store,
  // LOCAL_ONLY without.
  std::string default_write_mode;
  // The sync worker: attempts before an op is dead-lettered, ops per cloud
  // call, tenants drained at once.
  int sync_max_attempts = 10;
  int sync_batch_size = 2000;
  int sync_workers = 2;
  // How long one sync call may take, and the cloud part of a CLOUD read or
  // CLOUD_ONLY write that set no deadline (tests shorten them).
  int sync_call_timeout_ms = 5000;
  int cloud_without_deadline_ms = 30000;
};

class Server {
 public:
  // Validates options, opens the store, applies migrations to the master and
  // every tenant, connects the cloud store when there is one, and starts
  // serving (with health and reflection). A cloud that cannot be reached
  // does not stop it (server/cloud.h): its health entry stays NOT_SERVING
  // until it connects. INVALID_ARGUMENT for bad options, FAILED_PRECONDITION
  // for bad folders or migrations, or a cloud that answers and cannot be
  // used; UNAVAILABLE when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<Server>> Create(const Options& options);
  ~Server();

  // The bound port.
  int port() const { return port_; }
  // Stops taking calls, lets calls in flight finish until `deadline`, then
  // cancels the rest and closes the store. Idempotent.
  void Shutdown(std::chrono::system_clock::time_point deadline);
  // Blocks until Shutdown has finished.
  void Wait();

 private:
  struct State;
  explicit Server(std::unique_ptr<State> state);

  std::unique_ptr<State> state_;
  int port_ = 0;
};

}  // namespace datagate::server

#endif  // DATAGATE_SERVER_SERVER_H_
