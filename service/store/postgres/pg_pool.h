// A bounded pool of PostgreSQL connections. Internal to the Postgres store.
#ifndef DATAGATE_STORE_POSTGRES_PG_POOL_H_
#define DATAGATE_STORE_POSTGRES_PG_POOL_H_

#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace datagate::store::postgres {

// Whether libpq can parse `conninfo` (a key=value string or a URI), without
// connecting.
bool ParsesAsConnInfo(const std::string& conninfo);

// Thread-safe. At most `size` connections are open (idle + lent); Acquire
// waits for one until the call's deadline. Connections are opened lazily,
// so the pool reconnects by itself after the server comes back: a
// connection that broke is discarded by its lease (never lent again), and
// a break drops the idle ones too (they are broken alike, mostly).
class PgPool {
 public:
  struct Options {
    std::string conninfo;  // libpq connection string (a secret: never logged)
    int size = 8;
    absl::Duration connect_timeout = absl::Seconds(5);
  };

  // One lent connection; given back (or discarded) when destroyed.
  class Lease {
   public:
    Lease(Lease&& other) noexcept : pool_(other.pool_), conn_(std::move(other.conn_)), reused_(other.reused_) {
      other.pool_ = nullptr;
    }
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    pqxx::connection& conn() { return *conn_; }
    // Whether the connection was used before (and may have broken idle).
    bool reused() const { return reused_; }
    // The connection is broken or in an unknown state: close it.
    void Discard() { discard_ = true; }

   private:
    friend class PgPool;
    Lease(PgPool* pool, std::unique_ptr<pqxx::connection> conn, bool reused)
        : pool_(pool), conn_(std::move(conn)), reused_(reused) {}
    PgPool* pool_;
    std::unique_ptr<pqxx::connection> conn_;
    bool reused_ = false;
    bool discard_ = false;
  };

  explicit PgPool(Options options);
  ~PgPool();

  // A connection, idle or newly opened. DEADLINE_EXCEEDED when none is free
  // by `deadline`; UNAVAILABLE when the server cannot be reached, or when it
  // refuses the connection (a running gateway waits that out too).
  absl::StatusOr<Lease> Acquire(absl::Time deadline);
  // The first contact: opens a connection (kept idle for the next Acquire)
  // and tells a server that cannot be reached, which may come later
  // (UNAVAILABLE, not logged: the caller says it), from a connection string
  // that cannot work: INVALID_ARGUMENT when libpq cannot parse it,
  // FAILED_PRECONDITION when the server refuses its user, password or
  // database. DEADLINE_EXCEEDED as Acquire.
  absl::Status Open(absl::Time deadline);
  // `SELECT 1` on a pooled connection: OK, UNAVAILABLE, or DEADLINE_EXCEEDED.
  absl::Status Ping(absl::Time deadline);
  // Closes every idle connection (after a break: they are likely broken).
  void DropIdle();

  int open() const;  // connections open or being opened (for tests)

 private:
  // Acquire, with Open's errors when `first`.
  absl::StatusOr<Lease> Lend(absl::Time deadline, bool first);
  // Opens a connection (counted in open_ already) on a thread of its own,
  // waiting for it until `deadline`: libpq's connect blocks for up to
  // connect_timeout (2 s at least), whatever the call's deadline. Throws
  // libpq's errors, or TimedOut (pg_pool.cc) at the deadline; a connection
  // that opens later is kept idle (or closed, if the pool is gone).
  std::unique_ptr<pqxx::connection> Connect(absl::Time deadline);

  // Shared with Connect's threads, which may outlive the pool.
  struct Shared {
    mutable absl::Mutex mu;
    std::vector<std::unique_ptr<pqxx::connection>> idle ABSL_GUARDED_BY(mu);
    int open ABSL_GUARDED_BY(mu) = 0;  // idle, lent, or being opened
  };
  // Gives `conn` back to `shared`'s idle ones, or closes it.
  static void Return(Shared& shared, std::unique_ptr<pqxx::connection> conn, bool discard);

  const Options options_;
  const std::string conninfo_;  // options_.conninfo with connect_timeout
  const std::shared_ptr<Shared> s_ = std::make_shared<Shared>();
};

}  // namespace datagate::store::postgres

#endif  // DATAGATE_STORE_POSTGRES_PG_POOL_H_
