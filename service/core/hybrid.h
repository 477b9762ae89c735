// Write modes and read sources: which store a request goes to, and how a
// local write reaches the cloud (queued in the same transaction, pushed
// before the answer for WRITE_THROUGH). Plain types; no protos.
#ifndef DATAGATE_CORE_HYBRID_H_
#define DATAGATE_CORE_HYBRID_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/data.h"
#include "core/tenants.h"
#include "store/cloud.h"

namespace datagate::core {

enum class WriteMode { kUnspecified, kLocalOnly, kLocalFirst, kWriteThrough, kCloudOnly };
enum class ReadSource { kUnspecified, kLocal, kCloud, kCloudIfAvailable };
// Where a write stands with the cloud as of the answer.
enum class CloudSync { kNone, kQueued, kApplied, kConflict, kDead };

absl::string_view WriteModeName(WriteMode m);

// When work on a call must stop so that its answer reaches the caller before
// the caller's own deadline: gRPC sends a deadline rounded up (to 100 ms
// steps from a second on, coarser for long ones), so the server's copy can
// be later than the caller's. A tenth of the time left up to 2.5 s, then a
// hundredth, at least 250 ms and at most 2 s. InfiniteFuture stays.
absl::Time AnswerBy(absl::Time deadline);

// What the hybrid paths need of the sync engine (sync/sync_engine.h
// implements it in the server). Thread-safe.
class SyncHook {
 public:
  virtual ~SyncHook() = default;
  // A write committed `count` outbox entries, the last with `last_seq`.
  virtual void Committed(const std::string& tenant, int64_t last_seq, int64_t count) = 0;
  // Pushes the tenant's ready entries now; where each of `seqs` stands.
  virtual std::vector<CloudSync> PushNow(const std::string& tenant, const std::vector<int64_t>& seqs,
                                         absl::Time deadline) = 0;
  // False while the breaker is open (the cloud is known to be down).
  virtual bool CloudUp() const = 0;
};

struct WriteOutcome {
  std::vector<StoredRow> rows;
  std::vector<CloudSync> sync;  // one per row
};

// Thread-safe; holds non-owning pointers that must outlive it. `cloud` and
// `sync` are null on a gateway without a cloud store.
class Hybrid {
 public:
  Hybrid(Tenants* tenants, store::CloudStore* cloud, SyncHook* sync, WriteMode default_mode, Limits limits)
      : tenants_(tenants), cloud_(cloud), sync_(sync), default_mode_(default_mode), limits_(limits) {}

  bool has_cloud() const { return cloud_ != nullptr; }
  // The mode an unspecified one stands for.
  WriteMode Resolve(WriteMode mode) const { return mode == WriteMode::kUnspecified ? default_mode_ : mode; }

  // Writes per `mode` (core::Write's checks and errors). Modes that need
  // the cloud are FAILED_PRECONDITION without one. LOCAL_FIRST and
  // WRITE_THROUGH queue each row in the same transaction; WRITE_THROUGH
  // then pushes them, leaving some time of the deadline for the answer
  // (never an error after the commit: the row stays queued). CLOUD_ONLY
  // writes the cloud only; a create there needs every key column.
  absl::StatusOr<WriteOutcome> Write(const std::string& tenant, WriteMode mode, const WriteRequest& request);

  // Reads from `source`: LOCAL (default), CLOUD (FAILED_PRECONDITION
  // without a cloud), CLOUD_IF_AVAILABLE (the local store while the cloud
  // is down or answers UNAVAILABLE).
  absl::StatusOr<StoredRow> Get(const std::string& tenant, ReadSource source, const GetSpec& spec);
  absl::StatusOr<ListPage> List(const std::string& tenant, ReadSource source, ListSpec spec);

  // The local database of a registered tenant (Tenants::Open).
  absl::StatusOr<std::shared_ptr<store::Database>> Local(const std::string& tenant, absl::Time deadline) {
    return tenants_->Open(tenant, deadline);
  }

 private:
  // The store a read goes to: true for the cloud.
  absl::StatusOr<bool> UseCloud(ReadSource source) const;
  // The tenant's database in the cloud, once the tenant is known locally,
  // served through its local catalog.
  absl::StatusOr<std::shared_ptr<store::Database>> Cloud(const std::string& tenant, absl::Time deadline);

  Tenants* const tenants_;
  store::CloudStore* const cloud_;
  SyncHook* const sync_;
  const WriteMode default_mode_;
  const Limits limits_;
};

}  // namespace datagate::core

#endif  // DATAGATE_CORE_HYBRID_H_
