// The sync engine: drains every tenant's outbox (store/outbox.h) into the
// cloud store (store/cloud.h).
//
// - A commit wakes a worker (Committed); no polling delay in between. A
//   sweep every `sweep_interval` re-queues tenants with entries left (retry
//   times, schema waits, a breaker that closed).
// - Per row, operations reach the cloud in commit order (the outbox hands
//   out at most one item per row, never past an earlier entry that waits);
//   across rows and tenants, `workers` threads drain freely, one thread per
//   tenant at a time.
// - Exactly-once effect: the cloud applies an op only when it is newer;
//   an op the cloud already has (a replay) is done, one the cloud has a
//   newer version of is a conflict (kept, counted, listable).
// - Failures by status code: UNAVAILABLE and UNKNOWN of a whole call (and
//   DEADLINE_EXCEEDED when a ping fails too) are the cloud's, not the
//   op's: nothing is counted against the op, the breaker counts them. A
//   call out of time while the cloud answers a ping is a slow batch: its
//   ops go again in calls an eighth as big, uncharged, down to one op too
//   slow alone, which is charged and from then on goes alone. A call refused
//   whole for another reason is split in halves until only the ops at
//   fault fail. ABORTED, constraint errors (a parent may still come) and
//   other retryable codes of one op back off exponentially with jitter,
//   drawn once per call so ops failed together are tried again together;
//   after `max_attempts`, or at once for errors a retry cannot fix (types,
//   names), the op is dead-lettered, holding back only later ops of its
//   own row. An op whose cloud row another transaction holds
//   (errors::HeldElsewhere) backs off too but is never dead-lettered for
//   it.
// - A circuit breaker stops calling a cloud that keeps failing and probes
//   it (Ping) after a cool-down to close again. A cloud store not connected
//   yet (CloudStore::Connected) reads as an open breaker: nothing is pushed
//   and nothing counts as a failure until it connects.
// - Schema first: an op waits, without failing, until the cloud schema has
//   reached the version it was written under.
// Counters are kept in memory (loaded from each outbox once at start), so
// Stats never scans a queue. Thread-safe.
#ifndef DATAGATE_SYNC_SYNC_ENGINE_H_
#define DATAGATE_SYNC_SYNC_ENGINE_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "store/cloud.h"
#include "store/outbox.h"
#include "store/store.h"

namespace datagate::sync {

struct Options {
  int workers = 2;        // tenants drained at once
  int batch_size = 2000;  // ops per cloud call
  // A batch stops early at this many stored bytes (its memory is bounded
  // however big the rows).
  int64_t batch_bytes = int64_t{8} << 20;
  int max_attempts = 10;  // then dead-lettered
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Minutes(5);
  absl::Duration call_timeout = absl::Seconds(5);  // one cloud call (and so the longest Stop)
  // A worker woken for a tenant with less than a batch queued waits this
  // long first, so one cloud call carries the commits of that moment
  // instead of one each (commits at a high rate would otherwise each pay a
  // cloud transaction and a local settle).
  absl::Duration linger = absl::Milliseconds(5);
  // The workers' nice value (Linux, per thread): pushing is background
  // work, so on a busy machine the calls being answered get the CPU first
  // (the worker still gets its share: nice 5 is a third of a call thread's
  // weight). 0 leaves it alone.
  int worker_nice = 5;
  int breaker_failures = 3;  // in a row, to open it
  absl::Duration breaker_cooldown = absl::Seconds(1);
  absl::Duration max_breaker_cooldown = absl::Seconds(30);
  absl::Duration sweep_interval = absl::Seconds(2);
  std::function<int64_t()> now_us;  // clock; wall clock when empty
  // Called (outside the engine's locks) when the cloud's reachability
  // changes: the health service's CloudStore entry.
  std::function<void(bool serving)> on_cloud_health;
};

enum class BreakerState { kClosed, kOpen, kHalfOpen };
absl::string_view BreakerStateName(BreakerState s);

struct TenantStats {
  std::string tenant;
  int64_t pending = 0;  // depth: not yet applied, not dead
  int64_t in_flight = 0;
  int64_t retrying = 0;
  int64_t dead = 0;
  int64_t conflicts = 0;
  int64_t applied = 0;            // since start
  int64_t oldest_pending_us = 0;  // create time of the oldest pending; 0 if none
};

struct Stats {
  TenantStats total;  // `tenant` empty
  std::vector<TenantStats> tenants;
  double applied_per_second = 0;  // over the last few seconds
  BreakerState breaker = BreakerState::kClosed;
  bool paused = false;
  bool counters_loaded = false;  // every outbox read once since start
  int64_t cloud_schema_version = -1;
};

// Where one write stands with the cloud after a push.
enum class PushState { kQueued, kApplied, kConflict, kDead };

class SyncEngine {
 public:
  // `local` and `cloud` must outlive the engine.
  static absl::StatusOr<std::unique_ptr<SyncEngine>> Create(const Options& options, store::Store* local,
                                                            store::CloudStore* cloud);
  ~SyncEngine();

  // Starts the workers, the sweep and the loading of counters. Once.
  void Start();
  // Stops the workers (a cloud call in flight ends at its own timeout) and
  // joins them. Idempotent.
  void Stop();

  // A write committed `count` entries, the last with `last_seq`, to the
  // tenant's outbox: counted, and a worker wakes for the tenant.
  void Committed(const std::string& tenant, int64_t last_seq, int64_t count);

  // WRITE_THROUGH: drains the tenant's ready ops now (the given seqs among
  // them) until `deadline`, and says where each seq stands. Queued when the
  // breaker is open, sync is paused, an earlier op of its row holds it
  // back, or the deadline comes first; never an error for that.
  std::vector<PushState> PushNow(const std::string& tenant, const std::vector<int64_t>& seqs, absl::Time deadline);

  // The counters; of one tenant only when `tenant` is set (NOT_FOUND-free:
  // an unknown tenant has zero counts).
  Stats GetStats(const std::optional<std::string>& tenant) const;

  // Waits until every op committed before the call (of `tenant`, or of all
  // tenants) is applied, a conflict or dead-lettered. OK then;
  // DEADLINE_EXCEEDED with the progress made (FlushIncomplete). `settled`
  // and `total` (optional) receive the counts.
  absl::Status Flush(const std::optional<std::string>& tenant, absl::Time deadline, int64_t* settled = nullptr,
                     int64_t* total = nullptr);

  // Writes keep queueing while paused; from the call on no cloud call
  // starts until Resume (neither a worker's nor PushNow's). Then waits
  // until the calls under way have ended (each ends at its own timeout):
  // OK, and nothing more reaches the cloud. DEADLINE_EXCEEDED
  // (PausedWithCallsOut) when `quiet_by` comes first: paused all the same,
  // but a call under way may still deliver its rows; call again to wait.
  absl::Status Pause(absl::Time quiet_by = absl::InfiniteFuture());
  void Resume();

  // After Retry/Purge through the outbox: re-reads that tenant's counters
  // and wakes a worker for it.
  void Reload(const std::string& tenant, absl::Time deadline);
  // The tenant was deleted: its counters go.
  void Forget(const std::string& tenant);
  // The tenant is being deleted: holds it at once (no cloud call of it
  // starts, neither a worker's nor PushNow's), then waits (until
  // `deadline`) for its drainer, which lets go once the call under way has
  // ended and been recorded. After OK, nothing of the tenant is pushed
  // until Release. DEADLINE_EXCEEDED (and not held) otherwise.
  absl::Status Quiesce(const std::string& tenant, absl::Time deadline);
  // Ends a Quiesce: the tenant is forgotten when `deleted`, else its sync
  // goes on.
  void Release(const std::string& tenant, bool deleted);
  // The cloud schema changed: ops waiting for it may go.
  void SchemaChanged();

  // The breaker; kOpen too while the cloud store is not connected yet.
  BreakerState breaker() const;

 private:
  struct Tenant {
    int64_t pending = 0;
    int64_t in_flight = 0;
    int64_t retrying = 0;
    int64_t dead = 0;
    int64_t conflicts = 0;
    int64_t applied = 0;
    int64_t oldest_pending_us = 0;
    int64_t oldest_pending_seq = 0;  // 0: none pending
    int64_t last_seq = 0;            // highest seq known committed
    bool loaded = false;             // counters read from the outbox
    int64_t loaded_seq = 0;          // the outbox's last seq when they were read
    int loading = 0;                 // reads of the counters under way
    // Commits told while a read was under way: (first seq, last seq).
    std::vector<std::pair<int64_t, int64_t>> told_while_loading;
    bool draining = false;  // a thread is draining it
    bool rewake = false;    // woken while draining
    bool forget = false;    // gone (tenant deleted) once drained
    int64_t due_us = 0;     // earliest retry time seen (0: none)
    // Ops per call (0: Options::batch_size): cut to an eighth
    // (kSlowSplit) when a call runs out of time while the cloud answers (a
    // slow batch), grown again after each full call answered.
    int batch_limit = 0;
    // Seqs of ops that ran a call out of time alone: each goes alone while
    // it stays queued, so it costs its tenant one slow call per try, not a
    // splitting of the batch again. At most kSlowRemembered.
    std::set<int64_t> slow;
  };
  static constexpr size_t kSlowRemembered = 256;
  // What a slow batch's calls are cut to: a part as big. Each cut costs a
  // call run out of time, and the calls without the slow op go quickly, so
  // finding one op too slow alone among 2,000 costs 4 such calls (2,000,
  // 250, 31, 3) before it goes alone, where halving cost 10. Ops slow only
  // together run fewer calls out of time too, as the size grows back by a
  // quarter a call.
  static constexpr int kSlowSplit = 8;
  // The outcome of one drain pass over a tenant.
  struct Pass {
    absl::flat_hash_map<int64_t, PushState> states;  // by seq, incl. superseded
    bool more = false;                               // ready ops remain
    bool stopped = false;                            // no call made: BeginCall refused
  };

  SyncEngine(const Options& options, store::Store* local, store::CloudStore* cloud);
  int64_t Now() const;
  void WorkerLoop();
  void SweepLoop();
  void LoadCounters();
  // Reads one tenant's counters from its outbox.
  void LoadTenant(const std::string& tenant, absl::Time deadline);
  // Marks the tenant drained by this thread, waiting until `deadline` for
  // another drainer; false if it could not, or sync is paused or the
  // tenant held.
  bool BeginDrain(const std::string& tenant, absl::Time deadline);
  // Whether a thread drains the tenant now.
  bool Draining(const std::string& tenant) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether no cloud call of the tenant may start: sync stopping or paused,
  // or the tenant held.
  bool CallsStopped(const std::string& tenant) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || paused_ || held_.contains(tenant);
  }
  void EndDrain(const std::string& tenant, bool more);
  // Queues the tenant for a worker (if not queued already).
  void Wake(const std::string& tenant) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops the tenant's entries of unapplied_.
  void ForgetUnapplied(const std::string& tenant) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // ApplySync; when the call fails whole for a reason other than an
  // outage, its halves are applied apart (recursively), so an op that
  // breaks the whole call is rejected alone.
  absl::StatusOr<std::vector<store::SyncOutcome>> ApplyIsolating(const std::string& tenant,
                                                                 const std::vector<store::SyncOp>& ops,
                                                                 absl::Time deadline);
  // Whether the cloud holds exactly the entry's row (or its delete), read
  // through the tenant's local catalog `local`.
  absl::StatusOr<bool> SameInCloud(const std::string& tenant, std::shared_ptr<const store::Catalog> local,
                                   const store::OutboxEntry& entry, absl::Time deadline);
  // One batch read from a tenant's outbox, and the ops it pushes.
  struct Batch {
    std::shared_ptr<store::Database> db;
    std::vector<store::OutboxItem> items;
    std::vector<store::SyncOp> ops;     // one per item
    bool full = false;                  // read `batch_size` entries or `batch_bytes`
    std::vector<int64_t> Seqs() const;  // every entry's, ascending
  };
  // The tenant's next batch, passing over the rows of `held` (a batch out).
  absl::StatusOr<Batch> Take(const std::string& tenant, const std::vector<int64_t>& held, absl::Time deadline);
  // Counts a cloud call of `ops` ops of the tenant as under way (Pause
  // waits for it), unless
  // sync is paused or stopping or the tenant held: then false, and the
  // caller must not make the call. Every cloud call starts through here.
  bool BeginCall(const std::string& tenant, int64_t ops);
  // The batch's cloud call, which BeginCall counted; uncounted when it ends.
  absl::StatusOr<std::vector<store::SyncOutcome>> Push(const std::string& tenant, const Batch& batch,
                                                       absl::Time deadline);
  // What the call did: the breaker told, the outbox settled, the counters
  // moved.
  absl::StatusOr<Pass> Record(const std::string& tenant, const Batch& batch,
                              const absl::StatusOr<std::vector<store::SyncOutcome>>& outcomes, absl::Time deadline);
  // One batch of the tenant, step after step (the caller marked it
  // draining).
  absl::StatusOr<Pass> DrainBatch(const std::string& tenant, absl::Time deadline);
  // Up to `rounds` batches of the tenant, each one's cloud call overlapping
  // the reading of the next and the recording of the one before (the
  // caller marked it draining). Whether more may be ready.
  bool DrainRounds(const std::string& tenant, int rounds);
  // Breaker bookkeeping after a cloud call.
  void CloudSucceeded();
  void CloudFailed();
  // Whether the breaker lets a call through now (probing when due, within
  // `deadline`: with no time to probe, not now).
  bool CloudAllowed(absl::Time deadline = absl::InfiniteFuture());
  // When an op that failed `attempts` times before is tried again: the
  // exponential delay times `jitter` (from Jitter()).
  int64_t Backoff(int64_t attempts, double jitter);
  // A random factor in [0.5, 1): one per call's answer, so that the ops a
  // call failed together (rows that swap unique values) are tried again
  // together, while calls spread out.
  static double Jitter();
  void SetHealth(bool serving);

  const Options options_;
  store::Store* const local_;
  store::CloudStore* const cloud_;

  mutable absl::Mutex mu_;
  absl::CondVar work_cv_;      // a tenant was queued, or stopping
  absl::CondVar progress_cv_;  // counters changed
  std::map<std::string, Tenant> tenants_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> queued_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> held_ ABSL_GUARDED_BY(mu_);  // quiesced: not drained
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool paused_ ABSL_GUARDED_BY(mu_) = false;
  int64_t calls_out_ ABSL_GUARDED_BY(mu_) = 0;  // cloud calls under way (BeginCall)
  bool loaded_ ABSL_GUARDED_BY(mu_) = false;
  int64_t applied_total_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<std::pair<int64_t, int64_t>> rate_samples_ ABSL_GUARDED_BY(mu_);  // (us, applied_total)
  // The latest entries settled as a conflict or dead letter (those they
  // stood for too), by (tenant, seq): their entries may be gone from the
  // outbox, and a WRITE_THROUGH that another drainer pushed learns here
  // that it did not apply. At most kRemembered, oldest dropped first.
  static constexpr size_t kRemembered = 1 << 16;
  absl::flat_hash_map<std::pair<std::string, int64_t>, PushState> unapplied_ ABSL_GUARDED_BY(mu_);
  std::deque<std::pair<std::string, int64_t>> unapplied_order_ ABSL_GUARDED_BY(mu_);

  // The breaker.
  mutable absl::Mutex breaker_mu_;
  BreakerState breaker_ ABSL_GUARDED_BY(breaker_mu_) = BreakerState::kClosed;
  int failures_ ABSL_GUARDED_BY(breaker_mu_) = 0;
  int64_t open_until_us_ ABSL_GUARDED_BY(breaker_mu_) = 0;
  absl::Duration cooldown_ ABSL_GUARDED_BY(breaker_mu_);
  std::optional<bool> health_reported_ ABSL_GUARDED_BY(breaker_mu_);

  std::vector<std::thread> threads_;
};

}  // namespace datagate::sync

#endif  // DATAGATE_SYNC_SYNC_ENGINE_H_
