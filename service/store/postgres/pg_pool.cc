#include "store/postgres/pg_pool.h"

#include <libpq-fe.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/logging.h"
#include "store/postgres/pg_errors.h"
#include "store/postgres/pg_watchdog.h"

namespace datagate::store::postgres {

PgPool::Lease::~Lease() {
  if (pool_ != nullptr && conn_ != nullptr) pool_->Return(std::move(conn_), discard_);
}

namespace {

// The connection string with libpq's connect_timeout (whole seconds, at
// least 2) added in its own form: a URI takes it as a query parameter, a
// key=value string as one more pair.
std::string WithConnectTimeout(const std::string& conninfo, absl::Duration timeout) {
  const int64_t seconds = std::max<int64_t>(2, absl::ToInt64Seconds(timeout));
  if (absl::StartsWith(conninfo, "postgresql://") || absl::StartsWith(conninfo, "postgres://")) {
    const char* sep = conninfo.find('?') == std::string::npos ? "?" : "&";
    return absl::StrCat(conninfo, sep, "connect_timeout=", seconds);
  }
  return absl::StrCat(conninfo, " connect_timeout=", seconds);
}

// Why a connect failed, in the gateway's words (libpq's own text can name
// hosts and users; it is never passed on, nor logged).
struct ConnectFailure {
  enum Kind {
    kUnreachable,  // no answer, or not now (down, starting up, overloaded)
    kRefused,      // the server answered and refused the user, password or database
    kMalformed,    // libpq cannot use the string itself
  };
  Kind kind = kUnreachable;
  const char* why = "";  // kRefused: what to fix
};

ConnectFailure Classify(const std::exception& e) {
  const std::string what = e.what();
  if (absl::StrContains(what, "authentication failed") || absl::StrContains(what, "no password supplied") ||
      absl::StrContains(what, "no pg_hba.conf entry")) {
    return {ConnectFailure::kRefused, "it refused the user name or password in --cloud_url"};
  }
  if (absl::StrContains(what, "does not exist")) {
    return {ConnectFailure::kRefused, "the database or user named in --cloud_url does not exist"};
  }
  if (absl::StrContains(what, "invalid connection option") || absl::StrContains(what, "invalid URI") ||
      absl::StrContains(what, "missing \"=\"") || absl::StrContains(what, "invalid integer value") ||
      absl::StrContains(what, "unterminated quoted string") || absl::StrContains(what, "invalid sslmode value")) {
    return {ConnectFailure::kMalformed, ""};
  }
  return {ConnectFailure::kUnreachable, ""};
}

}  // namespace

bool ParsesAsConnInfo(const std::string& conninfo) {
  char* error = nullptr;  // may quote the string: never shown
  PQconninfoOption* parsed = PQconninfoParse(conninfo.c_str(), &error);
  if (error != nullptr) PQfreemem(error);
  if (parsed == nullptr) return false;
  PQconninfoFree(parsed);
  return true;
}

PgPool::PgPool(Options options)
    : options_(std::move(options)), conninfo_(WithConnectTimeout(options_.conninfo, options_.connect_timeout)) {}

PgPool::~PgPool() {
  absl::MutexLock lock(&mu_);
  // Leases outlive no pool: the store keeps it until its databases are gone.
  idle_.clear();
}

absl::StatusOr<PgPool::Lease> PgPool::Acquire(absl::Time deadline) { return Lend(deadline, /*first=*/false); }

absl::Status PgPool::Open(absl::Time deadline) { return Lend(deadline, /*first=*/true).status(); }

absl::StatusOr<PgPool::Lease> PgPool::Lend(absl::Time deadline, bool first) {
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
    const ConnectFailure failure = Classify(e);
    switch (failure.kind) {
      case ConnectFailure::kRefused:
        return first ? errors::CloudUrlRefused(failure.why) : errors::CloudConnectRefused(failure.why);
      case ConnectFailure::kMalformed:
        return first ? errors::CloudUrlMalformed()
                     : errors::CloudConnectRefused("--cloud_url is not a valid libpq connection string or URI");
      case ConnectFailure::kUnreachable:
        // The first contact's caller says it once (it may try again and
        // again while the cloud is down); later ones are logged here.
        if (first) return errors::StoreUnavailable("the cloud database cannot be reached");
        return MapPgError(e, "connecting");
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
