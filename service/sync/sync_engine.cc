#include "sync/sync_engine.h"

#include <pthread.h>

#include <algorithm>
#include <cmath>
#include <future>
#include <random>

#include "common/clock.h"
#include "common/errors.h"
#include "common/logging.h"

namespace datagate::sync {
namespace {

// Errors of one op that a later try can fix: the cloud was busy, or a
// constraint may hold once other rows (pushed in parallel) arrive.
bool Retryable(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kUnknown:
      return true;
    default:
      return false;  // INVALID_ARGUMENT (types, names), INTERNAL, ...
  }
}

// Errors of a whole call that say the cloud is not there (a call that ran
// out of time may be one slow row: see DrainBatch).
bool CloudOutage(absl::StatusCode code) {
  return code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kUnknown ||
         code == absl::StatusCode::kCancelled;
}

std::string Describe(const absl::Status& s) {
  return std::string(absl::StatusCodeToString(s.code())) + ": " + std::string(s.message());
}

}  // namespace

absl::string_view BreakerStateName(BreakerState s) {
  switch (s) {
    case BreakerState::kClosed:
      return "closed";
    case BreakerState::kOpen:
      return "open";
    case BreakerState::kHalfOpen:
      return "half-open";
  }
  return "unknown";
}

SyncEngine::SyncEngine(const Options& options, store::Store* local, store::CloudStore* cloud)
    : options_(options), local_(local), cloud_(cloud), cooldown_(options.breaker_cooldown) {}

absl::StatusOr<std::unique_ptr<SyncEngine>> SyncEngine::Create(const Options& options, store::Store* local,
                                                               store::CloudStore* cloud) {
  if (options.workers < 1 || options.workers > 64) return errors::InvalidOption("sync_workers", "1 to 64");
  if (options.batch_size < 1 || options.batch_size > 10000) {
    return errors::InvalidOption("sync_batch_size", "1 to 10000");
  }
  if (options.max_attempts < 1) return errors::InvalidOption("sync_max_attempts", "at least 1");
  return std::unique_ptr<SyncEngine>(new SyncEngine(options, local, cloud));
}

SyncEngine::~SyncEngine() { Stop(); }

int64_t SyncEngine::Now() const { return options_.now_us ? options_.now_us() : NowMicros(); }

void SyncEngine::Start() {
  absl::MutexLock lock(&mu_);
  if (started_) return;
  started_ = true;
  for (int i = 0; i < options_.workers; ++i) threads_.emplace_back([this] { WorkerLoop(); });
  threads_.emplace_back([this] { SweepLoop(); });
}

void SyncEngine::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    work_cv_.SignalAll();
    progress_cv_.SignalAll();
  }
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void SyncEngine::Wake(const std::string& tenant) {
  if (queued_.insert(tenant).second) {
    queue_.push_back(tenant);
    work_cv_.Signal();
  }
}

void SyncEngine::Committed(const std::string& tenant, int64_t last_seq, int64_t count) {
  if (count <= 0) return;
  absl::MutexLock lock(&mu_);
  Tenant& t = tenants_[tenant];
  const int64_t first_seq = last_seq - count + 1;
  if (t.forget) {
    // Deleted while being drained, and made again: a new tenant.
    const bool draining = t.draining;
    t = Tenant();
    t.draining = draining;
  }
  if (t.loading > 0) t.told_while_loading.emplace_back(first_seq, last_seq);
  // Seqs are dense: those up to loaded_seq were in the counts read from
  // the outbox (a commit can be told after that read saw it).
  const int64_t fresh = t.loaded ? last_seq - std::max(t.loaded_seq, first_seq - 1) : count;
  if (fresh > 0) {
    if (t.pending == 0) {
      t.oldest_pending_us = Now();
      t.oldest_pending_seq = std::max(first_seq, t.loaded_seq + 1);
    }
    t.pending += fresh;
  }
  t.last_seq = std::max(t.last_seq, last_seq);
  Wake(tenant);
}

double SyncEngine::Jitter() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.5, 1.0)(rng);
}

int64_t SyncEngine::Backoff(int64_t attempts, double jitter) {
  const double base = absl::ToDoubleMicroseconds(options_.initial_backoff) *
                      std::pow(2.0, static_cast<double>(std::min<int64_t>(attempts, 30)));
  const double capped = std::min(base, absl::ToDoubleMicroseconds(options_.max_backoff));
  return Now() + static_cast<int64_t>(capped * jitter);
}

absl::StatusOr<bool> SyncEngine::SameInCloud(const std::string& tenant, std::shared_ptr<const store::Catalog> local,
                                             const store::OutboxEntry& entry, absl::Time deadline) {
  absl::StatusOr<std::shared_ptr<store::Database>> db = cloud_->Tenant(tenant, std::move(local));
  if (!db.ok()) return db.status();
  absl::StatusOr<std::optional<StoredRow>> row = (*db)->Get(store::RowRead{entry.table, entry.key, {}}, deadline);
  if (!row.ok()) return row.status();
  if (entry.deleted || !row->has_value()) return entry.deleted && !row->has_value();
  for (const Field& f : entry.row.fields) {
    auto it = std::find_if((*row)->fields.begin(), (*row)->fields.end(),
                           [&](const Field& c) { return c.column == f.column; });
    if (it == (*row)->fields.end() || !(it->value == f.value)) return false;
  }
  return true;
}

absl::StatusOr<std::vector<store::SyncOutcome>> SyncEngine::ApplyIsolating(const std::string& tenant,
                                                                           const std::vector<store::SyncOp>& ops,
                                                                           absl::Time deadline) {
  absl::StatusOr<std::vector<store::SyncOutcome>> out = cloud_->ApplySync(tenant, ops, deadline);
  // Cut at its deadline while the cloud still worked on it: in doubt
  // (UNKNOWN), which a replay settles. It ran out of time, which Record
  // tells apart from an outage (a ping), not a sign that the cloud is down.
  if (!out.ok() && out.status().code() == absl::StatusCode::kUnknown && absl::Now() >= deadline) {
    return errors::SyncCallOutOfTime();
  }
  if (out.ok() || CloudOutage(out.status().code()) || out.status().code() == absl::StatusCode::kDeadlineExceeded ||
      absl::Now() >= deadline) {
    return out;
  }
  if (ops.size() == 1) {
    return std::vector<store::SyncOutcome>{store::SyncOutcome{store::SyncOutcome::kRejected, 0, out.status()}};
  }
  // Something in the call refused it whole (a foreign key checked at
  // commit): the halves go apart, so only the ops at fault fail. Ops are of
  // distinct rows, so this keeps each row's order.
  const auto mid = ops.begin() + static_cast<std::ptrdiff_t>(ops.size() / 2);
  absl::StatusOr<std::vector<store::SyncOutcome>> left =
      ApplyIsolating(tenant, std::vector<store::SyncOp>(ops.begin(), mid), deadline);
  if (!left.ok()) return left;
  absl::StatusOr<std::vector<store::SyncOutcome>> right =
      ApplyIsolating(tenant, std::vector<store::SyncOp>(mid, ops.end()), deadline);
  if (!right.ok()) return right;
  left->insert(left->end(), right->begin(), right->end());
  return left;
}

absl::StatusOr<SyncEngine::Batch> SyncEngine::Take(const std::string& tenant, const std::vector<int64_t>& held,
                                                   absl::Time deadline) {
  Batch batch;
  absl::StatusOr<std::shared_ptr<store::Database>> db = local_->OpenTenant(tenant, deadline);
  if (!db.ok()) {
    if (db.status().code() == absl::StatusCode::kNotFound) Forget(tenant);
    return db.status();
  }
  batch.db = *std::move(db);
  store::Outbox* outbox = batch.db->outbox();
  if (outbox == nullptr) return batch;
  int limit = options_.batch_size;
  {
    absl::MutexLock lock(&mu_);
    auto t = tenants_.find(tenant);
    if (t != tenants_.end() && t->second.batch_limit > 0) limit = std::min(limit, t->second.batch_limit);
  }
  bool more = false;
  absl::StatusOr<std::vector<store::OutboxItem>> items =
      outbox->NextBatch(limit, options_.batch_bytes, Now(), cloud_->SchemaVersion(), held, deadline, &more);
  if (!items.ok()) return items.status();
  batch.items = *std::move(items);
  if (batch.items.size() > 1) {
    // An op too slow for a call with others goes alone; the rest follow.
    absl::MutexLock lock(&mu_);
    auto t = tenants_.find(tenant);
    if (t != tenants_.end() && !t->second.slow.empty()) {
      const std::set<int64_t>& slow = t->second.slow;
      auto is_slow = [&](const store::OutboxItem& item) {
        return slow.contains(item.entry.seq) ||
               std::any_of(item.superseded.begin(), item.superseded.end(), [&](int64_t s) { return slow.contains(s); });
      };
      auto it = std::find_if(batch.items.begin(), batch.items.end(), is_slow);
      if (it != batch.items.end()) {
        std::vector<store::OutboxItem> alone;
        alone.push_back(std::move(*it));
        batch.items = std::move(alone);
        more = true;
      }
    }
  }
  batch.ops.reserve(batch.items.size());
  int64_t entries = 0;
  int64_t bytes = 0;
  for (const store::OutboxItem& item : batch.items) {
    const store::OutboxEntry& e = item.entry;
    store::SyncOp op;
    op.seq = e.seq;
    op.table = e.table;
    op.key = e.key;
    op.deleted = e.deleted;
    op.version = e.version;
    if (e.deleted) {
      op.create_time_us = e.create_us;
      op.update_time_us = e.create_us;
    } else {
      op.values = e.row.fields;
      op.create_time_us = e.row.create_time_us;
      op.update_time_us = e.row.update_time_us;
    }
    batch.ops.push_back(std::move(op));
    entries += 1 + static_cast<int64_t>(item.superseded.size());
    bytes += item.bytes;
  }
  // Full if it read `batch_size` entries (coalesced ones too) or
  // `batch_bytes`, or stopped at a row out: more are likely ready.
  batch.full = more || entries >= limit || bytes >= options_.batch_bytes;
  return batch;
}

std::vector<int64_t> SyncEngine::Batch::Seqs() const {
  std::vector<int64_t> seqs;
  for (const store::OutboxItem& item : items) {
    seqs.push_back(item.entry.seq);
    seqs.insert(seqs.end(), item.superseded.begin(), item.superseded.end());
  }
  std::sort(seqs.begin(), seqs.end());
  return seqs;
}

bool SyncEngine::BeginCall(const std::string& tenant, int64_t ops) {
  absl::MutexLock lock(&mu_);
  if (CallsStopped(tenant)) return false;
  ++calls_out_;
  tenants_[tenant].in_flight += ops;
  return true;
}

absl::StatusOr<std::vector<store::SyncOutcome>> SyncEngine::Push(const std::string& tenant, const Batch& batch,
                                                                 absl::Time deadline) {
  absl::StatusOr<std::vector<store::SyncOutcome>> outcomes = ApplyIsolating(tenant, batch.ops, deadline);
  absl::MutexLock lock(&mu_);
  tenants_[tenant].in_flight -= static_cast<int64_t>(batch.ops.size());
  --calls_out_;
  return outcomes;
}

absl::StatusOr<SyncEngine::Pass> SyncEngine::DrainBatch(const std::string& tenant, absl::Time deadline) {
  absl::StatusOr<Batch> batch = Take(tenant, {}, deadline);
  if (!batch.ok()) return batch.status();
  if (batch->items.empty()) return Pass();
  if (!BeginCall(tenant, static_cast<int64_t>(batch->ops.size()))) {
    Pass stopped;
    stopped.more = true;
    stopped.stopped = true;
    return stopped;
  }
  absl::StatusOr<std::vector<store::SyncOutcome>> outcomes = Push(tenant, *batch, deadline);
  return Record(tenant, *batch, outcomes, deadline);
}

bool SyncEngine::DrainRounds(const std::string& tenant, int rounds) {
  auto go_on = [&] {
    {
      absl::MutexLock lock(&mu_);
      if (CallsStopped(tenant)) return false;
    }
    return CloudAllowed();  // the sweep comes back for it
  };
  if (!go_on()) return false;
  // Batches live on the heap: the call in flight holds a pointer to its own.
  auto take = [&](const std::vector<int64_t>& held) -> std::unique_ptr<Batch> {
    absl::StatusOr<Batch> b = Take(tenant, held, absl::Now() + options_.call_timeout);
    if (!b.ok() || b->items.empty()) return nullptr;
    return std::make_unique<Batch>(*std::move(b));
  };
  auto push = [&](const Batch* b) {
    return std::async(std::launch::async, [this, &tenant, b, d = absl::Now() + options_.call_timeout] {
      pthread_setname_np(pthread_self(), "dg-sync-call");  // nice as its worker's (inherited)
      return Push(tenant, *b, d);
    });
  };
  auto begin_call = [&](const Batch& b) { return BeginCall(tenant, static_cast<int64_t>(b.ops.size())); };
  std::unique_ptr<Batch> cur = take({});
  if (cur == nullptr) return false;
  if (!begin_call(*cur)) return true;  // paused or held since go_on: the batch waits
  // One cloud call is out at a time. While it is, this thread reads the
  // next batch (passing over the rows out) and then records the previous
  // one, so the local work and the cloud's overlap instead of taking turns.
  auto call = push(cur.get());
  for (int round = 1;; ++round) {
    std::unique_ptr<Batch> next;
    if (cur->full && round < rounds) next = take(cur->Seqs());
    const absl::StatusOr<std::vector<store::SyncOutcome>> outcomes = call.get();
    const bool answered = outcomes.ok() || (!CloudOutage(outcomes.status().code()) &&
                                            outcomes.status().code() != absl::StatusCode::kDeadlineExceeded);
    const bool overlap = answered && next != nullptr && go_on() && begin_call(*next);
    if (overlap) call = push(next.get());
    const absl::StatusOr<Pass> pass = Record(tenant, *cur, outcomes, absl::Now() + options_.call_timeout);
    if (!overlap) {
      // A full batch leaves more (maybe rows passed over for being out),
      // and so does one sent again in smaller ones.
      return pass.ok() && pass->more;
    }
    cur = std::move(next);
  }
}

absl::StatusOr<SyncEngine::Pass> SyncEngine::Record(const std::string& tenant, const Batch& batch,
                                                    const absl::StatusOr<std::vector<store::SyncOutcome>>& outcomes,
                                                    absl::Time deadline) {
  Pass pass;
  const std::vector<store::OutboxItem>* items = &batch.items;
  store::Outbox* outbox = batch.db->outbox();
  std::vector<store::OutboxSettlement> settlements;
  settlements.reserve(items->size());
  if (!outcomes.ok() && outcomes.status().code() == absl::StatusCode::kDeadlineExceeded) {
    // Out of time: the cloud is down if it does not answer a ping either;
    // else something in the batch was slow (a locked row), and the batch
    // retries later like any failed op, without blaming the cloud.
    // Within the call's own deadline (a WRITE_THROUGH answers by it): with
    // no time left to ask, the batch stays as it is, nothing counted.
    const absl::Time ping_by = std::min(deadline, absl::Now() + absl::Seconds(1));
    if (ping_by <= absl::Now()) return outcomes.status();
    const absl::Status ping = cloud_->Ping(ping_by);
    if (!ping.ok()) {
      CloudFailed();
      spdlog::warn("sync: tenant {}: cloud call ran out of time and the cloud does not answer", tenant);
      return outcomes.status();
    }
    if (batch.ops.size() > 1) {
      // Too slow together, maybe not alone: the ops go again at once in
      // calls an eighth as big (kSlowSplit), nothing charged. Cutting ends
      // at an op that runs a call out of time by itself; that one is
      // charged (below).
      CloudSucceeded();
      const int limit = std::max(1, static_cast<int>(batch.ops.size()) / kSlowSplit);
      {
        absl::MutexLock lock(&mu_);
        tenants_[tenant].batch_limit = limit;
      }
      spdlog::info("sync: tenant {}: a call of {} ops ran out of time; sending them {} at a time", tenant,
                   batch.ops.size(), limit);
      pass.more = true;
      return pass;
    }
  } else if (!outcomes.ok() && CloudOutage(outcomes.status().code())) {
    // The cloud's fault, not the ops': nothing counted against them.
    CloudFailed();
    spdlog::warn("sync: tenant {}: cloud call failed: {}", tenant, Describe(outcomes.status()));
    return outcomes.status();
  }
  CloudSucceeded();
  const double jitter = Jitter();
  // The last error of an op that waited for a lock held elsewhere.
  static const std::string held_text = Describe(errors::CloudRowLocked());
  for (size_t i = 0; i < items->size(); ++i) {
    const store::OutboxItem& item = (*items)[i];
    store::OutboxSettlement s;
    s.seq = item.entry.seq;
    s.superseded = item.superseded;
    absl::Status error;
    if (!outcomes.ok()) {
      error = outcomes.status();
    } else if (outcomes->size() != items->size()) {
      error = errors::StoreInternal();
    } else {
      const store::SyncOutcome& o = (*outcomes)[i];
      switch (o.kind) {
        case store::SyncOutcome::kApplied:
          s.kind = store::OutboxSettlement::kDone;
          break;
        case store::SyncOutcome::kStale:
          if (o.cloud_version < item.entry.version) {
            error = errors::StoreInternal();  // not applied, yet older: cannot be
          } else if (o.cloud_version == item.entry.version) {
            // A replay (the cloud has this very write), or a CLOUD_ONLY write
            // that reached the same version with other content: only the
            // content tells them apart.
            absl::StatusOr<bool> same = SameInCloud(tenant, batch.db->GetCatalog(), item.entry, deadline);
            if (!same.ok()) {
              error = same.status();
            } else if (*same) {
              s.kind = store::OutboxSettlement::kDone;
            } else {
              s.kind = store::OutboxSettlement::kConflict;
              s.cloud_version = o.cloud_version;
              s.error = "the cloud row has the same version (" + std::to_string(o.cloud_version) +
                        ") with other content, written there directly";
            }
          } else {
            s.kind = store::OutboxSettlement::kConflict;
            s.cloud_version = o.cloud_version;
            s.error = "the cloud row is newer (version " + std::to_string(o.cloud_version) + ")";
          }
          break;
        case store::SyncOutcome::kRejected:
          error = o.error;
          break;
      }
    }
    if (!error.ok()) {
      s.error = Describe(error);
      // A row held by another transaction is no fault of the op: it waits
      // for it however many tries that takes (the pause still grows). Once
      // the lock is gone, those tries are not held against it: its other
      // errors count afresh.
      const bool held = errors::HeldElsewhere(error);
      const int64_t before = !held && item.entry.last_error == held_text ? 0 : item.entry.attempts;
      const bool retry = Retryable(error.code()) && (before + 1 < options_.max_attempts || held);
      if (held && item.entry.attempts + 1 == options_.max_attempts) {
        spdlog::warn(
            "sync: tenant {}: op {} on table '{}' still waits for a cloud row held by another transaction "
            "after {} tries; it goes on waiting",
            tenant, s.seq, item.entry.table, options_.max_attempts);
      }
      s.kind = retry ? store::OutboxSettlement::kRetry : store::OutboxSettlement::kDead;
      if (retry) s.next_attempt_us = Backoff(before, jitter);
      s.attempts = before + 1;
    }
    settlements.push_back(std::move(s));
  }
  if (absl::Status s = outbox->Settle(settlements, deadline); !s.ok()) {
    // The cloud has them; they stay pending here and come back as replays.
    spdlog::warn("sync: tenant {}: recording {} pushed ops failed: {}", tenant, settlements.size(), Describe(s));
    return s;
  }
  absl::StatusOr<std::vector<store::OutboxEntry>> head =
      outbox->ListEntries(store::OutboxState::kPending, 0, 1, deadline);

  absl::MutexLock lock(&mu_);
  Tenant& t = tenants_[tenant];
  if (outcomes.ok() && t.batch_limit > 0 && batch.full) {
    // Grows back by a quarter a call: slowly, as the size that ran out of
    // time is likely to again.
    t.batch_limit += std::max(1, t.batch_limit / 4);
    if (t.batch_limit >= options_.batch_size) t.batch_limit = 0;
  }
  // Out of time alone (a smaller batch was tried first): it goes alone
  // from now on.
  const bool slow_alone = !outcomes.ok() && outcomes.status().code() == absl::StatusCode::kDeadlineExceeded;
  for (size_t i = 0; i < settlements.size(); ++i) {
    const store::OutboxSettlement& s = settlements[i];
    if (s.kind == store::OutboxSettlement::kRetry && slow_alone) {
      if (t.slow.size() < kSlowRemembered) t.slow.insert(s.seq);
    } else if (s.kind != store::OutboxSettlement::kRetry) {
      t.slow.erase(s.seq);
      for (int64_t seq : s.superseded) t.slow.erase(seq);
    }
    const bool was_retrying = (*items)[i].entry.attempts > 0;
    const int64_t covered = 1 + static_cast<int64_t>(s.superseded.size());
    PushState state = PushState::kQueued;
    switch (s.kind) {
      case store::OutboxSettlement::kDone:
        t.pending -= covered;
        t.applied += covered;
        applied_total_ += covered;
        state = PushState::kApplied;
        break;
      case store::OutboxSettlement::kConflict:
        t.pending -= covered;
        t.conflicts += 1;
        state = PushState::kConflict;
        break;
      case store::OutboxSettlement::kDead:
        t.pending -= covered;
        t.dead += 1;
        state = PushState::kDead;
        spdlog::error("sync: tenant {}: op {} on table '{}' dead-lettered after {} attempts: {}", tenant, s.seq,
                      (*items)[i].entry.table, s.attempts, s.error);
        break;
      case store::OutboxSettlement::kRetry:
        if (!was_retrying) ++t.retrying;
        t.due_us = t.due_us == 0 ? s.next_attempt_us : std::min(t.due_us, s.next_attempt_us);
        break;
    }
    if (s.kind != store::OutboxSettlement::kRetry && was_retrying) --t.retrying;
    pass.states[s.seq] = state;
    for (int64_t seq : s.superseded) pass.states[seq] = state;
    if (state == PushState::kConflict || state == PushState::kDead) {
      // Superseded entries go from the outbox with this settling.
      for (int64_t seq : s.superseded) {
        if (unapplied_.emplace(std::make_pair(tenant, seq), state).second) unapplied_order_.emplace_back(tenant, seq);
      }
      while (unapplied_order_.size() > kRemembered) {
        unapplied_.erase(unapplied_order_.front());
        unapplied_order_.pop_front();
      }
    }
  }
  t.pending = std::max<int64_t>(t.pending, 0);
  t.retrying = std::max<int64_t>(t.retrying, 0);
  if (head.ok()) {
    t.oldest_pending_seq = head->empty() ? 0 : head->front().seq;
    t.oldest_pending_us = head->empty() ? 0 : head->front().create_us;
    if (head->empty()) t.pending = 0;
  }
  pass.more = batch.full;
  progress_cv_.SignalAll();
  return pass;
}

}  // namespace datagate::sync
