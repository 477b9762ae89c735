#include "store/postgres/pg_watchdog.h"

#include <sys/socket.h>

#include <map>
#include <set>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/logging.h"

namespace datagate::store::postgres {
namespace {

// One thread for the process, started on first use; it lives as long as
// the process (calls may still be guarded while statics are destroyed).
class Watchdog {
 public:
  static Watchdog& Get() {
    static Watchdog* w = new Watchdog();
    return *w;
  }

  uint64_t Add(int fd, absl::Time deadline) {
    absl::MutexLock lock(&mu_);
    const uint64_t id = ++next_id_;
    watched_[id] = Entry{fd, deadline};
    by_time_.insert({deadline, id});
    changed_ = true;
    return id;
  }

  void Remove(uint64_t id) {
    absl::MutexLock lock(&mu_);
    auto it = watched_.find(id);
    if (it == watched_.end()) return;
    by_time_.erase({it->second.at, id});
    watched_.erase(it);
    fired_.erase(id);
  }

  bool Fired(uint64_t id) const {
    absl::MutexLock lock(&mu_);
    return fired_.count(id) > 0;
  }

 private:
  struct Entry {
    int fd;
    absl::Time at;
  };

  Watchdog() {
    std::thread([this] { Loop(); }).detach();
  }

  void Loop() {
    absl::MutexLock lock(&mu_);
    while (true) {
      const absl::Time next = by_time_.empty() ? absl::Now() + absl::Seconds(1) : by_time_.begin()->first;
      mu_.AwaitWithDeadline(absl::Condition(&changed_), next);
      changed_ = false;
      const absl::Time now = absl::Now();
      while (!by_time_.empty() && by_time_.begin()->first <= now) {
        const uint64_t id = by_time_.begin()->second;
        by_time_.erase(by_time_.begin());
        auto it = watched_.find(id);
        if (it == watched_.end() || fired_.count(id)) continue;
        // The guard is alive (it removes itself under mu_ first), so the
        // descriptor is still the connection's.
        ::shutdown(it->second.fd, SHUT_RDWR);
        fired_.insert(id);
        spdlog::warn("cloud store: a call passed its deadline without an answer; its connection was cut");
      }
    }
  }

  mutable absl::Mutex mu_;
  bool changed_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<uint64_t, Entry> watched_ ABSL_GUARDED_BY(mu_);
  std::set<std::pair<absl::Time, uint64_t>> by_time_ ABSL_GUARDED_BY(mu_);
  std::set<uint64_t> fired_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

DeadlineGuard::DeadlineGuard(pqxx::connection_base& conn, absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) return;
  const int fd = conn.sock();
  if (fd < 0) return;
  id_ = Watchdog::Get().Add(fd, deadline);
}

DeadlineGuard::~DeadlineGuard() {
  if (id_ != 0) Watchdog::Get().Remove(id_);
}

bool DeadlineGuard::fired() const { return id_ != 0 && Watchdog::Get().Fired(id_); }

}  // namespace datagate::store::postgres
