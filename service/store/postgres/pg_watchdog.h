// Bounds a blocking libpq call by its deadline even when the server never
// answers (a PgBouncer holding the query while PostgreSQL is down, a
// network that drops packets): statement_timeout only runs inside a live
// server. At the deadline (statement_timeout, set to end a little before
// it, acts first when it can), the watchdog shuts the connection's socket
// down; the blocked call then fails as a broken connection, which the
// caller discards. The call's answer is never later than its deadline.
#ifndef DATAGATE_STORE_POSTGRES_PG_WATCHDOG_H_
#define DATAGATE_STORE_POSTGRES_PG_WATCHDOG_H_

#include <pqxx/pqxx>

#include "absl/time/time.h"

namespace datagate::store::postgres {

// Watches `conn` from construction until destruction. Thread-safe; the
// socket is never touched after the guard is gone. No-op for an infinite
// deadline.
class DeadlineGuard {
 public:
  DeadlineGuard(pqxx::connection_base& conn, absl::Time deadline);
  ~DeadlineGuard();
  DeadlineGuard(const DeadlineGuard&) = delete;
  DeadlineGuard& operator=(const DeadlineGuard&) = delete;

  // Whether the watchdog cut the connection.
  bool fired() const;

 private:
  uint64_t id_ = 0;
};

}  // namespace datagate::store::postgres

#endif  // DATAGATE_STORE_POSTGRES_PG_WATCHDOG_H_
