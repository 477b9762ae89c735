// An in-memory stand-in for the cloud store, for the sync engine's own
// logic (ordering, retries, breaker, schema waits) where a test must make
// the cloud fail on cue. It keeps the newer-only rule and tombstones as the
// real store does; tests/conformance and the cloud integration tests run
// the real PostgreSQL.
#ifndef DATAGATE_TESTS_SYNC_FAKE_CLOUD_H_
#define DATAGATE_TESTS_SYNC_FAKE_CLOUD_H_

#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/errors.h"
#include "store/cloud.h"

namespace datagate::testing {

class FakeCloud final : public store::CloudStore {
 public:
  struct Row {
    int64_t version = 0;
    bool deleted = false;
    std::vector<Field> values;
  };

  absl::StatusOr<std::shared_ptr<store::Database>> Tenant(const std::string&,
                                                          std::shared_ptr<const store::Catalog>) override {
    return absl::Status(absl::StatusCode::kUnimplemented, "fake");  // NOLINT: test double
  }
  std::shared_ptr<store::Database> Schema() override { return nullptr; }
  int64_t SchemaVersion() const override { return schema_version.load(); }

  absl::StatusOr<std::vector<store::SyncOutcome>> ApplySync(const std::string& tenant,
                                                            const std::vector<store::SyncOp>& ops,
                                                            absl::Time deadline) override {
    int64_t ms = call_ms.load() + op_ms.load() * static_cast<int64_t>(ops.size());
    {
      absl::MutexLock lock(&mu);
      for (const store::SyncOp& op : ops) {
        if (auto it = slow.find(KeyText(op)); it != slow.end()) {
          ms += it->second;
          slow_call_sizes.push_back(ops.size());
        }
      }
    }
    if (ms > 0) {
      if (cut_at_deadline.load()) {
        // As the real store's watchdog: the call is cut, its outcome unknown.
        absl::SleepFor(std::min(absl::Milliseconds(ms), deadline - absl::Now()));
        if (absl::Now() >= deadline) return absl::Status(absl::StatusCode::kUnknown, "cut");  // NOLINT: test double
      } else {
        absl::SleepFor(absl::Milliseconds(ms));
      }
    }
    if (down.load()) return absl::Status(absl::StatusCode::kUnavailable, "down");  // NOLINT: test double
    absl::MutexLock lock(&mu);
    ++calls;
    std::vector<store::SyncOutcome> out;
    for (const store::SyncOp& op : ops) {
      store::SyncOutcome o;
      const std::string key = Key(tenant, op);
      if (locked.count(KeyText(op))) {
        o.kind = store::SyncOutcome::kRejected;
        o.error = errors::CloudRowLocked();
        out.push_back(o);
        continue;
      }
      if (poison.count(KeyText(op))) {
        o.kind = store::SyncOutcome::kRejected;
        o.error = absl::Status(absl::StatusCode::kFailedPrecondition, "check 'cloud_only' refused");  // NOLINT
        out.push_back(o);
        continue;
      }
      if (flaky.count(KeyText(op)) && failed_once.insert(key + "@" + std::to_string(op.version)).second) {
        o.kind = store::SyncOutcome::kRejected;
        o.error = absl::Status(absl::StatusCode::kAborted, "serialization failure");  // NOLINT: test double
        out.push_back(o);
        continue;
      }
      Row& row = rows[key];
      if (row.version >= op.version) {
        o.kind = store::SyncOutcome::kStale;
        o.cloud_version = row.version;
      } else {
        row.version = op.version;
        row.deleted = op.deleted;
        row.values = op.values;
        ++applied;
        order.push_back(key + "@" + std::to_string(op.version));
      }
      out.push_back(o);
    }
    return out;
  }
  absl::Status DeleteTenantData(const std::string&, absl::Time) override { return absl::OkStatus(); }
  absl::Status Ping(absl::Time) override {
    ++pings;
    if (down.load()) return absl::Status(absl::StatusCode::kUnavailable, "down");  // NOLINT: test double
    return absl::OkStatus();
  }

  // "table/key values" of an op, as tests name rows.
  static std::string KeyText(const store::SyncOp& op) {
    std::string s = op.table + "/";
    for (const Field& f : op.key) s += DebugString(f.value);
    return s;
  }
  static std::string Key(const std::string& tenant, const store::SyncOp& op) { return tenant + ":" + KeyText(op); }

  // Live (not deleted) rows.
  size_t LiveRows() {
    absl::MutexLock lock(&mu);
    size_t n = 0;
    for (const auto& [k, r] : rows) n += r.deleted ? 0 : 1;
    return n;
  }

  absl::Mutex mu;
  std::map<std::string, Row> rows ABSL_GUARDED_BY(mu);
  std::set<std::string> poison ABSL_GUARDED_BY(mu);         // KeyText of rows refused
  std::set<std::string> locked ABSL_GUARDED_BY(mu);         // KeyText of rows held by another transaction
  std::map<std::string, int64_t> slow ABSL_GUARDED_BY(mu);  // KeyText: ms more a call with it takes
  std::vector<size_t> slow_call_sizes ABSL_GUARDED_BY(mu);  // ops in each call with a slow row
  // KeyText of rows whose every op is refused once (ABORTED), then applied.
  std::set<std::string> flaky ABSL_GUARDED_BY(mu);
  std::set<std::string> failed_once ABSL_GUARDED_BY(mu);  // "key@version"
  std::vector<std::string> order ABSL_GUARDED_BY(mu);
  int64_t applied ABSL_GUARDED_BY(mu) = 0;
  int64_t calls ABSL_GUARDED_BY(mu) = 0;
  std::atomic<bool> down{false};
  std::atomic<int64_t> call_ms{0};           // each ApplySync takes this long (a slow cloud)
  std::atomic<int64_t> op_ms{0};             // and this long more per op
  std::atomic<bool> cut_at_deadline{false};  // a call slower than its deadline ends UNKNOWN there
  std::atomic<int64_t> schema_version{1 << 20};
  std::atomic<int64_t> pings{0};
};

}  // namespace datagate::testing

#endif  // DATAGATE_TESTS_SYNC_FAKE_CLOUD_H_
