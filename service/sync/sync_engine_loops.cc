// SyncEngine: its threads (workers, sweep, counter loading), the breaker,
// and the calls that wait on it (PushNow, Flush).
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/errors.h"
#include "common/logging.h"
#include "sync/sync_engine.h"

namespace datagate::sync {

bool SyncEngine::BeginDrain(const std::string& tenant, absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  struct Free {
    SyncEngine* e;
    const std::string* tenant;
    bool operator()() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(e->mu_) {
      return e->CallsStopped(*tenant) || !e->Draining(*tenant);
    }
  } free{this, &tenant};
  if (!mu_.AwaitWithDeadline(absl::Condition(&free), deadline) || CallsStopped(tenant)) return false;
  tenants_[tenant].draining = true;
  return true;
}

bool SyncEngine::Draining(const std::string& tenant) const {
  auto it = tenants_.find(tenant);
  return it != tenants_.end() && it->second.draining;
}

void SyncEngine::EndDrain(const std::string& tenant, bool more) {
  absl::MutexLock lock(&mu_);
  auto it = tenants_.find(tenant);
  if (it == tenants_.end()) return;
  it->second.draining = false;
  if (it->second.forget) {
    tenants_.erase(it);
    progress_cv_.SignalAll();
    return;
  }
  if (more || it->second.rewake) Wake(tenant);
  it->second.rewake = false;
}

void SyncEngine::WorkerLoop() {
  pthread_setname_np(pthread_self(), "dg-sync-worker");  // as top -H and /proc show it
  if (options_.worker_nice != 0) {
    // Threads have their own nice value on Linux; lowering one's priority
    // needs no privilege. A failure only leaves it at the default.
    const auto tid = static_cast<id_t>(syscall(SYS_gettid));
    if (setpriority(PRIO_PROCESS, tid, options_.worker_nice) != 0) {
      spdlog::debug("sync: could not lower the worker's priority: {}", std::strerror(errno));
    }
  }
  while (true) {
    std::string tenant;
    {
      absl::MutexLock lock(&mu_);
      struct HasWork {
        SyncEngine* e;
        bool operator()() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(e->mu_) {
          return e->stopping_ || (!e->paused_ && !e->queue_.empty());
        }
      } has_work{this};
      mu_.Await(absl::Condition(&has_work));
      if (stopping_) return;
      tenant = queue_.front();
      queue_.pop_front();
      queued_.erase(tenant);
      if (held_.contains(tenant)) continue;  // being deleted: Release wakes it if it stays
      Tenant& t = tenants_[tenant];
      if (t.draining) {
        t.rewake = true;  // its drainer looks again when done
        continue;
      }
      t.draining = true;
      if (t.pending < options_.batch_size && options_.linger > absl::ZeroDuration()) {
        // Let the commits of this moment join the batch (stopping ends it).
        struct Stopping {
          SyncEngine* e;
          bool operator()() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(e->mu_) { return e->stopping_; }
        } stopping{this};
        mu_.AwaitWithTimeout(absl::Condition(&stopping), options_.linger);
      }
    }
    // A few batches, then the tenant goes to the back of the line.
    const bool more = DrainRounds(tenant, 8);
    EndDrain(tenant, more);
  }
}

void SyncEngine::SweepLoop() {
  LoadCounters();
  while (true) {
    absl::MutexLock lock(&mu_);
    struct Stopping {
      SyncEngine* e;
      bool operator()() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(e->mu_) { return e->stopping_; }
    } stopping{this};
    mu_.AwaitWithTimeout(absl::Condition(&stopping), options_.sweep_interval);
    if (stopping_) return;
    const int64_t now = Now();
    for (auto& [name, t] : tenants_) {
      if (t.pending > 0 && (t.due_us == 0 || t.due_us <= now)) {
        t.due_us = 0;
        Wake(name);
      }
    }
    rate_samples_.emplace_back(now, applied_total_);
    while (rate_samples_.size() > 6) rate_samples_.pop_front();
  }
}

void SyncEngine::LoadTenant(const std::string& tenant, absl::Time deadline) {
  absl::StatusOr<std::shared_ptr<store::Database>> db = local_->OpenTenant(tenant, deadline);
  if (!db.ok() || (*db)->outbox() == nullptr) return;
  store::Outbox* outbox = (*db)->outbox();
  {
    absl::MutexLock lock(&mu_);
    Tenant& t = tenants_[tenant];
    if (t.loading++ == 0) t.told_while_loading.clear();
  }
  absl::StatusOr<store::OutboxCounts> counts = outbox->Counts(deadline);
  absl::StatusOr<std::vector<store::OutboxEntry>> head =
      outbox->ListEntries(store::OutboxState::kPending, 0, 1, deadline);
  absl::MutexLock lock(&mu_);
  Tenant& t = tenants_[tenant];
  --t.loading;
  if (!counts.ok() || !head.ok()) {
    spdlog::warn("sync: tenant {}: reading its queue's counts failed: {}", tenant,
                 (counts.ok() ? head.status() : counts.status()).message());
    return;
  }
  // Commits told while reading that the read did not see (seqs are dense;
  // one told before the read began is in `counts`).
  int64_t later = 0;
  for (const auto& [first, last] : t.told_while_loading) {
    later += std::max<int64_t>(0, last - std::max(first - 1, counts->last_seq));
  }
  if (t.loading == 0) t.told_while_loading.clear();
  t.loaded_seq = counts->last_seq;
  t.pending = counts->pending + later;
  t.retrying = counts->retrying;
  t.dead = counts->dead;
  t.conflicts = counts->conflicts;
  t.last_seq = std::max(t.last_seq, counts->last_seq);
  if (!head->empty()) {
    t.oldest_pending_seq = head->front().seq;
    t.oldest_pending_us = head->front().create_us;
  }
  t.loaded = true;
  if (t.pending > 0) Wake(tenant);
  progress_cv_.SignalAll();
}

void SyncEngine::LoadCounters() {
  std::string after;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    absl::StatusOr<std::vector<store::TenantRecord>> page =
        local_->ListTenants(after, 500, absl::Now() + absl::Seconds(30));
    if (!page.ok()) {
      spdlog::warn("sync: listing tenants to read their queues failed: {}", page.status().message());
      absl::SleepFor(absl::Seconds(1));
      continue;
    }
    for (const store::TenantRecord& r : *page) {
      {
        absl::MutexLock lock(&mu_);
        if (stopping_) return;
      }
      LoadTenant(r.id, absl::Now() + absl::Seconds(30));
    }
    if (page->size() < 500) break;
    after = page->back().id;
  }
  absl::MutexLock lock(&mu_);
  loaded_ = true;
  progress_cv_.SignalAll();
}

void SyncEngine::Reload(const std::string& tenant, absl::Time deadline) {
  LoadTenant(tenant, deadline);
  absl::MutexLock lock(&mu_);
  // Ops purged may be among those marked slow: the marks start over.
  tenants_[tenant].slow.clear();
  Wake(tenant);
}

void SyncEngine::ForgetUnapplied(const std::string& tenant) {
  // A tenant made again with the id numbers its entries from 1 again.
  std::deque<std::pair<std::string, int64_t>> kept;
  for (auto& key : unapplied_order_) {
    if (key.first == tenant) {
      unapplied_.erase(key);
    } else {
      kept.push_back(std::move(key));
    }
  }
  unapplied_order_ = std::move(kept);
}

void SyncEngine::Forget(const std::string& tenant) {
  absl::MutexLock lock(&mu_);
  ForgetUnapplied(tenant);
  auto it = tenants_.find(tenant);
  if (it != tenants_.end()) {
    if (it->second.draining) {
      it->second.forget = true;  // its drainer lets go of it, then it goes
    } else {
      tenants_.erase(it);
    }
  }
  progress_cv_.SignalAll();
}

absl::Status SyncEngine::Quiesce(const std::string& tenant, absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  // Stopping, or held by another delete of the tenant under way.
  if (stopping_ || !held_.insert(tenant).second) {
    return errors::DeadlineWhileWaiting("the sync of the tenant being deleted");
  }
  // From here no call of the tenant starts (BeginCall), so its drainer lets
  // go once the call under way has ended and been recorded.
  struct Free {
    SyncEngine* e;
    const std::string* tenant;
    bool operator()() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(e->mu_) { return e->stopping_ || !e->Draining(*tenant); }
  } free{this, &tenant};
  if (mu_.AwaitWithDeadline(absl::Condition(&free), deadline) && !stopping_) return absl::OkStatus();
  held_.erase(tenant);
  if (auto it = tenants_.find(tenant); it != tenants_.end() && it->second.pending > 0) Wake(tenant);  // it goes on
  return errors::DeadlineWhileWaiting("the sync of the tenant being deleted");
}

void SyncEngine::Release(const std::string& tenant, bool deleted) {
  absl::MutexLock lock(&mu_);
  held_.erase(tenant);
  if (deleted) {
    tenants_.erase(tenant);
    queued_.erase(tenant);
    ForgetUnapplied(tenant);
    progress_cv_.SignalAll();
  } else {
    Wake(tenant);
  }
}

void SyncEngine::SchemaChanged() {
  absl::MutexLock lock(&mu_);
  for (auto& [name, t] : tenants_) {
    if (t.pending > 0) Wake(name);
  }
}

absl::Status SyncEngine::Pause(absl::Time quiet_by) {
  absl::MutexLock lock(&mu_);
  paused_ = true;
  // No call starts from here (BeginCall): only those under way can still
  // reach the cloud.
  struct Quiet {
    SyncEngine* e;
    bool operator()() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(e->mu_) { return e->stopping_ || e->calls_out_ == 0; }
  } quiet{this};
  if (mu_.AwaitWithDeadline(absl::Condition(&quiet), quiet_by)) return absl::OkStatus();
  int64_t in_flight = 0;
  for (const auto& [name, t] : tenants_) in_flight += t.in_flight;
  return errors::PausedWithCallsOut(in_flight);
}

void SyncEngine::Resume() {
  absl::MutexLock lock(&mu_);
  paused_ = false;
  for (auto& [name, t] : tenants_) {
    if (t.pending > 0) Wake(name);
  }
  work_cv_.SignalAll();
}

// ---- The breaker ----

void SyncEngine::SetHealth(bool serving) {
  bool changed = false;
  {
    absl::MutexLock lock(&breaker_mu_);
    changed = !health_reported_ || *health_reported_ != serving;
    health_reported_ = serving;
  }
  if (changed && options_.on_cloud_health) options_.on_cloud_health(serving);
}

void SyncEngine::CloudSucceeded() {
  {
    absl::MutexLock lock(&breaker_mu_);
    failures_ = 0;
    if (breaker_ != BreakerState::kClosed) spdlog::info("sync: the cloud store answers again; breaker closed");
    breaker_ = BreakerState::kClosed;
    cooldown_ = options_.breaker_cooldown;
  }
  SetHealth(true);
}

void SyncEngine::CloudFailed() {
  {
    absl::MutexLock lock(&breaker_mu_);
    ++failures_;
    if (breaker_ == BreakerState::kClosed && failures_ < options_.breaker_failures) return;
    // A call that began before the breaker opened and failed since: the
    // cool-down under way stands (only a failed probe lengthens it).
    if (breaker_ == BreakerState::kOpen) return;
    if (breaker_ != BreakerState::kOpen) {
      spdlog::warn("sync: the cloud store is unreachable; breaker open for {}", absl::FormatDuration(cooldown_));
    }
    breaker_ = BreakerState::kOpen;
    open_until_us_ = Now() + absl::ToInt64Microseconds(cooldown_);
    cooldown_ = std::min(cooldown_ * 2, options_.max_breaker_cooldown);
  }
  SetHealth(false);
}

bool SyncEngine::CloudAllowed(absl::Time deadline) {
  if (!cloud_->Connected()) return false;  // nothing to call yet; no failure either
  const absl::Time full = absl::Now() + std::min(options_.call_timeout, absl::Seconds(2));
  const absl::Time ping_by = std::min(deadline, full);
  {
    absl::MutexLock lock(&breaker_mu_);
    if (breaker_ == BreakerState::kClosed) return true;
    if (breaker_ == BreakerState::kHalfOpen || Now() < open_until_us_) return false;
    if (ping_by <= absl::Now()) return false;  // the probe is left to a call with time for it
    breaker_ = BreakerState::kHalfOpen;        // this thread probes
  }
  const absl::Status ping = cloud_->Ping(ping_by);
  if (ping.ok()) {
    CloudSucceeded();
    return true;
  }
  if (ping.code() == absl::StatusCode::kDeadlineExceeded && ping_by < full) {
    // Out of the caller's time, which says nothing of the cloud: the next
    // call probes again.
    absl::MutexLock lock(&breaker_mu_);
    breaker_ = BreakerState::kOpen;
    return false;
  }
  CloudFailed();
  return false;
}

BreakerState SyncEngine::breaker() const {
  if (!cloud_->Connected()) return BreakerState::kOpen;
  absl::MutexLock lock(&breaker_mu_);
  return breaker_;
}

// ---- Calls that wait ----

std::vector<PushState> SyncEngine::PushNow(const std::string& tenant, const std::vector<int64_t>& seqs,
                                           absl::Time deadline) {
  std::vector<PushState> result(seqs.size(), PushState::kQueued);
  {
    absl::MutexLock lock(&mu_);
    if (CallsStopped(tenant)) return result;
  }
  if (!CloudAllowed(deadline) || !BeginDrain(tenant, deadline)) return result;
  absl::flat_hash_map<int64_t, PushState> states;
  bool more = false;
  while (absl::Now() < deadline) {
    absl::StatusOr<Pass> pass = DrainBatch(tenant, std::min(deadline, absl::Now() + options_.call_timeout));
    if (!pass.ok() || pass->stopped) break;
    for (const auto& [seq, state] : pass->states) states[seq] = state;
    more = pass->more;
    const bool all = std::all_of(seqs.begin(), seqs.end(), [&](int64_t s) { return states.contains(s); });
    if (all || !more) break;
  }
  EndDrain(tenant, more);
  absl::StatusOr<std::shared_ptr<store::Database>> db = local_->OpenTenant(tenant, deadline);
  for (size_t i = 0; i < seqs.size(); ++i) {
    auto it = states.find(seqs[i]);
    if (it != states.end()) {
      result[i] = it->second;
      continue;
    }
    // Another drainer (a worker, or another push) may have taken it: the
    // outbox says where it stands (gone once applied).
    if (!db.ok() || (*db)->outbox() == nullptr) continue;
    absl::StatusOr<std::vector<store::OutboxEntry>> e =
        (*db)->outbox()->ListEntries(std::nullopt, seqs[i] - 1, 1, deadline);
    if (!e.ok()) continue;
    if (e->empty() || e->front().seq != seqs[i]) {
      // Gone: applied, unless it went with a newer entry of its row that
      // became a conflict or dead letter.
      absl::MutexLock lock(&mu_);
      auto gone = unapplied_.find(std::make_pair(tenant, seqs[i]));
      result[i] = gone == unapplied_.end() ? PushState::kApplied : gone->second;
    } else if (e->front().state == store::OutboxState::kConflict) {
      result[i] = PushState::kConflict;
    } else if (e->front().state == store::OutboxState::kDead) {
      result[i] = PushState::kDead;
    }
  }
  return result;
}

absl::Status SyncEngine::Flush(const std::optional<std::string>& tenant, absl::Time deadline, int64_t* settled,
                               int64_t* total) {
  if (tenant) {
    bool loaded = false;
    {
      absl::MutexLock lock(&mu_);
      auto it = tenants_.find(*tenant);
      loaded = loaded_ || (it != tenants_.end() && it->second.loaded);
    }
    if (!loaded) LoadTenant(*tenant, deadline);
  }
  absl::MutexLock lock(&mu_);
  if (!tenant) {
    // Ops queued before a restart count too: wait for every outbox's counts.
    struct Loaded {
      SyncEngine* e;
      bool operator()() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(e->mu_) { return e->loaded_ || e->stopping_; }
    } loaded{this};
    if (!mu_.AwaitWithDeadline(absl::Condition(&loaded), deadline)) return errors::FlushIncomplete(0, 0);
  }
  // Every entry pending now was committed before the call: done for a
  // tenant once none pending is at or below its last seq of now.
  std::map<std::string, int64_t> targets;
  int64_t start_total = 0;
  for (auto& [name, t] : tenants_) {
    if (tenant && name != *tenant) continue;
    if (t.pending <= 0) continue;
    targets[name] = t.last_seq;
    start_total += t.pending;
    Wake(name);
  }
  auto remaining = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    int64_t left = 0;
    for (auto it = targets.begin(); it != targets.end();) {
      auto t = tenants_.find(it->first);
      if (t == tenants_.end() || t->second.pending <= 0 || t->second.oldest_pending_seq == 0 ||
          t->second.oldest_pending_seq > it->second) {
        it = targets.erase(it);
      } else {
        left += t->second.pending;
        ++it;
      }
    }
    return std::min(left, start_total);
  };
  int64_t left = remaining();
  while (left > 0 && !stopping_) {
    if (progress_cv_.WaitWithDeadline(&mu_, deadline)) {
      left = remaining();
      break;
    }
    left = remaining();
  }
  if (settled) *settled = start_total - left;
  if (total) *total = start_total;
  if (left > 0) {
    // A longer deadline helps only while the queue moves: say when it cannot.
    const char* why = paused_ ? "sync is paused: call ResumeSync, then FlushSync again"
                      : breaker() != BreakerState::kClosed
                          ? "the cloud store is unreachable (the circuit breaker is open): the rest waits on disk and "
                            "goes once it answers; see GetSyncStats"
                          : "";
    return errors::FlushIncomplete(start_total - left, start_total, why);
  }
  return absl::OkStatus();
}

Stats SyncEngine::GetStats(const std::optional<std::string>& tenant) const {
  Stats stats;
  stats.breaker = breaker();
  stats.cloud_schema_version = cloud_->SchemaVersion();
  absl::MutexLock lock(&mu_);
  stats.paused = paused_;
  stats.counters_loaded = loaded_;
  for (const auto& [name, t] : tenants_) {
    if (tenant && name != *tenant) continue;
    TenantStats s{name, t.pending, t.in_flight, t.retrying, t.dead, t.conflicts, t.applied, t.oldest_pending_us};
    stats.total.pending += s.pending;
    stats.total.in_flight += s.in_flight;
    stats.total.retrying += s.retrying;
    stats.total.dead += s.dead;
    stats.total.conflicts += s.conflicts;
    stats.total.applied += s.applied;
    if (s.oldest_pending_us != 0 &&
        (stats.total.oldest_pending_us == 0 || s.oldest_pending_us < stats.total.oldest_pending_us)) {
      stats.total.oldest_pending_us = s.oldest_pending_us;
    }
    stats.tenants.push_back(std::move(s));
  }
  if (rate_samples_.size() >= 2) {
    const auto& [t0, a0] = rate_samples_.front();
    const auto& [t1, a1] = rate_samples_.back();
    if (t1 > t0) stats.applied_per_second = static_cast<double>(a1 - a0) * 1e6 / static_cast<double>(t1 - t0);
  }
  return stats;
}

}  // namespace datagate::sync
