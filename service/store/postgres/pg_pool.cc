#include "store/postgres/pg_pool.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/logging.h"
#include "store/postgres/pg_errors.h"
#include "store/postgres/pg_watchdog.h"

namespace datagate::store::postgres {

PgPool::Lease::~Lease() {
  if (pool_ != nullptr && conn_ != nullptr) pool_->Return(std::move(conn_), discard_);
}

PgPool::PgPool(Options options)
    : options_(std::move(options)),
      // libpq's connect_timeout is whole seconds, at least 2.
      conninfo_(absl::StrCat(options_.conninfo, " connect_timeout=",
                             std::max<int64_t>(2, absl::ToInt64Seconds(options_.connect_timeout)))) {}

PgPool::~PgPool() {
  absl::MutexLock lock(&mu_);
  // Leases outlive no pool: the store keeps it until its databases are gone.
  idle_.clear();
}

absl::StatusOr<PgPool::Lease> PgPool::Acquire(absl::Time deadline) {
  {
    absl::MutexLock lock(&mu_);
    struct Ready {
      PgPool* pool;
      bool operator()() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(pool->mu_) {
        return !pool->idle_.empty() || pool->open_ < pool->options_.size;
      }
    } ready{this};
    if (!mu_.AwaitWithDeadline(absl::Condition(&ready), deadline) || absl::Now() > deadline) {
      return errors::DeadlineWhileWaiting("a connection to the cloud database");
    }
    if (!idle_.empty()) {
      std::unique_ptr<pqxx::connection> conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(conn), /*reused=*/true);
    }
    ++open_;
  }
  // Opened outside the lock: other calls take idle connections meanwhile.
  try {
    auto conn = std::make_unique<pqxx::connection>(conninfo_);
    return Lease(this, std::move(conn), /*reused=*/false);
  } catch (const std::exception& e) {
    {
      absl::MutexLock lock(&mu_);
      --open_;
    }
    return MapPgError(e, "connecting");
  }
}

void PgPool::Return(std::unique_ptr<pqxx::connection> conn, bool discard) {
  if (discard || !conn->is_open()) {
    conn.reset();  // closes; no lock held
    absl::MutexLock lock(&mu_);
    --open_;
    return;
  }
  absl::MutexLock lock(&mu_);
  idle_.push_back(std::move(conn));
}

void PgPool::DropIdle() {
  std::vector<std::unique_ptr<pqxx::connection>> idle;
  {
    absl::MutexLock lock(&mu_);
    idle.swap(idle_);
    open_ -= static_cast<int>(idle.size());
  }
}

int PgPool::open() const {
  absl::MutexLock lock(&mu_);
  return open_;
}

absl::Status PgPool::Ping(absl::Time deadline) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    absl::StatusOr<Lease> lease = Acquire(deadline);
    if (!lease.ok()) return lease.status();
    DeadlineGuard guard(lease->conn(), deadline);
    try {
      pqxx::nontransaction tx(lease->conn());
      tx.exec("SELECT 1");
      if (guard.fired()) lease->Discard();
      return absl::OkStatus();
    } catch (const std::exception& e) {
      lease->Discard();
      if (!IsConnectionError(e)) return MapPgError(e, "ping");
      DropIdle();
      // A connection that broke while idle says nothing about the server
      // now: try once more on a fresh one.
      if (!lease->reused()) return MapPgError(e, "ping");
    }
  }
  return errors::StoreUnavailable("the cloud database cannot be reached");
}

}  // namespace datagate::store::postgres
