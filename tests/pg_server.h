// A throwaway PostgreSQL server (and PgBouncer in front of it) for tests.
//
// PgServer::Shared() starts one real server per test process, lazily, the
// first time a test asks for it: the Debian PostgreSQL 15 binaries, a fresh
// data folder in a temporary directory owned by the `postgres` user (the
// server refuses root, so as root every command runs through
// `runuser -u postgres --`), a free loopback port, the Unix socket in that
// directory, and settings for speed (fsync off, small buffers). It is stopped
// and its directory removed when the process exits. Tests that need an
// outage call Stop() and Start(): the data folder and port are kept.
//
// A fresh cluster is copied from a template made once per machine (initdb
// takes a second; copying its result a tenth of that).
//
// Not thread-safe: set up and tear down from the test's main thread.
#ifndef DATAGATE_TESTS_PG_SERVER_H_
#define DATAGATE_TESTS_PG_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace datagate::testing {

class PgServer {
 public:
  // The process's server, started on first use. Aborts the test process
  // (with the server's log on stderr) if it cannot start: every test that
  // asks for it needs it.
  static PgServer& Shared();

  ~PgServer();
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  // Starts the server again after Stop() (same data folder and port).
  // Waits until it accepts connections.
  absl::Status Start();
  // Stops the server at once (`pg_ctl stop -m immediate`): connections
  // break, new ones are refused until Start().
  absl::Status Stop();
  bool running() const { return running_; }

  int port() const { return port_; }
  // The directory holding the server's Unix socket (and its data folder).
  const std::string& dir() const { return dir_; }
  // A libpq connection string for database `dbname`, over the Unix socket.
  std::string ConnectionString(const std::string& dbname = "postgres") const;
  // Creates a fresh database named `name` (dropping one left by a test
  // before) and returns its connection string.
  absl::StatusOr<std::string> CreateDatabase(const std::string& name);

 private:
  PgServer() = default;
  absl::Status Init();

  std::string dir_;
  int port_ = 0;
  bool running_ = false;
};

// PgBouncer in transaction pooling mode in front of PgServer::Shared(), on
// its own free port and socket directory; stopped when destroyed.
class PgBouncer {
 public:
  // Starts it for `dbname` (which must exist) with at most `pool_size`
  // server connections.
  static absl::StatusOr<std::unique_ptr<PgBouncer>> Start(const std::string& dbname, int pool_size = 8);
  ~PgBouncer();

  // A libpq connection string to `dbname` through the bouncer.
  std::string ConnectionString() const;
  int port() const { return port_; }

 private:
  PgBouncer() = default;

  std::string dir_;
  std::string dbname_;
  int port_ = 0;
  int pid_ = 0;
};

// Runs `argv` (as the postgres user when this process is root), its output
// appended to `log`. OK when it exits with status 0.
absl::Status RunAsPostgres(const std::vector<std::string>& argv, const std::string& log);

// A loopback port whose connections the kernel accepts and nobody answers
// (a cloud host that hangs). Closing `fd` resets the pending ones.
struct SilentHost {
  int fd = -1;
  int port = 0;
};
absl::StatusOr<SilentHost> ListenSilently();

}  // namespace datagate::testing

#endif  // DATAGATE_TESTS_PG_SERVER_H_
