#include "store/postgres/pg_pool.h"

#include <libpq-fe.h>

#include <algorithm>
#include <exception>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/logging.h"
#include "store/postgres/pg_errors.h"
#include "store/postgres/pg_watchdog.h"

namespace datagate::store::postgres {

PgPool::Lease::~Lease() {
  if (pool_ != nullptr && conn_ != nullptr) PgPool::Return(*pool_->s_, std::move(conn_), discard_);
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

// Thrown by Connect at the call's deadline, while the connect goes on.
struct TimedOut {};

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
  // Leases outlive no pool: the store keeps it until its databases are gone.
  // A connect still under way closes its connection when it ends.
  absl::MutexLock lock(&s_->mu);
  s_->idle.clear();
}

std::unique_ptr<pqxx::connection> PgPool::Connect(absl::Time deadline) {
  struct Attempt {
    absl::Mutex mu;
    bool done ABSL_GUARDED_BY(mu) = false;
    bool abandoned ABSL_GUARDED_BY(mu) = false;  // its call has answered
    std::unique_ptr<pqxx::connection> conn ABSL_GUARDED_BY(mu);
    std::exception_ptr error ABSL_GUARDED_BY(mu);
  };
  auto attempt = std::make_shared<Attempt>();
  std::thread([shared = s_, conninfo = conninfo_, attempt] {
    std::unique_ptr<pqxx::connection> conn;
    std::exception_ptr error;
    try {
      conn = std::make_unique<pqxx::connection>(conninfo);
    } catch (...) {
      error = std::current_exception();
    }
    bool abandoned;
    {
      absl::MutexLock lock(&attempt->mu);
      attempt->done = true;
      abandoned = attempt->abandoned;
      if (!abandoned) {
        attempt->conn = std::move(conn);
        attempt->error = error;
      }
    }
    if (abandoned && conn != nullptr) {
      Return(*shared, std::move(conn), /*discard=*/false);
    } else if (abandoned) {
      absl::MutexLock lock(&shared->mu);
      --shared->open;
    }
  }).detach();
  absl::MutexLock lock(&attempt->mu);
  attempt->mu.AwaitWithDeadline(absl::Condition(&attempt->done), deadline);
  if (!attempt->done) {
    attempt->abandoned = true;
    throw TimedOut();
  }
  if (attempt->error) std::rethrow_exception(attempt->error);
  return std::move(attempt->conn);
}

absl::StatusOr<PgPool::Lease> PgPool::Acquire(absl::Time deadline) { return Lend(deadline, /*first=*/false); }

absl::Status PgPool::Open(absl::Time deadline) { return Lend(deadline, /*first=*/true).status(); }

absl::StatusOr<PgPool::Lease> PgPool::Lend(absl::Time deadline, bool first) {
  {
    Shared& s = *s_;
    absl::MutexLock lock(&s.mu);
    struct Ready {
      Shared* s;
      int size;
      bool operator()() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu) { return !s->idle.empty() || s->open < size; }
    } ready{&s, options_.size};
    if (!s.mu.AwaitWithDeadline(absl::Condition(&ready), deadline) || absl::Now() > deadline) {
      return errors::DeadlineWhileWaiting("a connection to the cloud database");
    }
    if (!s.idle.empty()) {
      std::unique_ptr<pqxx::connection> conn = std::move(s.idle.back());
      s.idle.pop_back();
      return Lease(this, std::move(conn), /*reused=*/true);
    }
    ++s.open;
  }
  // Opened outside the lock: other calls take idle connections meanwhile.
  try {
    return Lease(this, Connect(deadline), /*reused=*/false);
  } catch (const TimedOut&) {
    return errors::DeadlineWhileWaiting("a connection to the cloud database");
  } catch (const std::exception& e) {
    {
      absl::MutexLock lock(&s_->mu);
      --s_->open;
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

void PgPool::Return(Shared& shared, std::unique_ptr<pqxx::connection> conn, bool discard) {
  if (discard || !conn->is_open()) {
    conn.reset();  // closes; no lock held
    absl::MutexLock lock(&shared.mu);
    --shared.open;
    return;
  }
  absl::MutexLock lock(&shared.mu);
  shared.idle.push_back(std::move(conn));
}

void PgPool::DropIdle() {
  std::vector<std::unique_ptr<pqxx::connection>> idle;
  {
    absl::MutexLock lock(&s_->mu);
    idle.swap(s_->idle);
    s_->open -= static_cast<int>(idle.size());
  }
}

int PgPool::open() const {
  absl::MutexLock lock(&s_->mu);
  return s_->open;
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
