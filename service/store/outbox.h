// The transactional outbox of one local database: the operations a write
// queued for the cloud, written in the same transaction as the data (so a
// crash never leaves a committed row without its entry, or the reverse),
// kept on disk until the cloud has them. The sync engine drains it.
#ifndef DATAGATE_STORE_OUTBOX_H_
#define DATAGATE_STORE_OUTBOX_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/value.h"

namespace datagate::store {

enum class OutboxState {
  kPending = 0,   // waiting for the cloud (maybe for its retry time)
  kDead = 1,      // given up on: holds back later entries of its row
  kConflict = 2,  // skipped: the cloud row was newer (kept to be listed)
};
absl::string_view OutboxStateName(OutboxState s);

// One queued operation: the state of one row after a write.
struct OutboxEntry {
  int64_t seq = 0;  // commit order in this database, never reused
  std::string table;
  std::vector<Field> key;      // every primary-key column, in key order
  bool deleted = false;        // a delete (tombstone); else an upsert of `row`
  StoredRow row;               // the whole row as written (upserts)
  int64_t version = 0;         // the row's version after the write
  int64_t schema_version = 0;  // the database's migration version at the write
  int64_t create_us = 0;       // when the write committed
  OutboxState state = OutboxState::kPending;
  int64_t attempts = 0;
  int64_t next_attempt_us = 0;  // not retried before this
  std::string last_error;
  int64_t cloud_version = 0;  // kConflict: the cloud's newer version
};

// The next operation to push for one row, with the older ready entries of
// the same row that it supersedes (coalesced: the newest state wins). Its
// `attempts` are the most any of them had: the row's tries so far.
struct OutboxItem {
  OutboxEntry entry;
  std::vector<int64_t> superseded;
  int64_t bytes = 0;  // the stored size of the entry and those it stands for
};

// What became of one pushed item.
struct OutboxSettlement {
  enum Kind {
    kDone,      // applied (or already there): the item and its superseded go
    kConflict,  // the cloud was newer: kept as kConflict, superseded go
    kRetry,     // try again at `next_attempt_us`, with `attempts` counted
    kDead,      // dead-lettered, superseded go
  };
  int64_t seq = 0;
  std::vector<int64_t> superseded;
  Kind kind = kDone;
  int64_t next_attempt_us = 0;
  std::string error;
  int64_t cloud_version = 0;
  // kRetry, kDead: the row's attempts so far, this one included (at least
  // 1; the engine may count afresh, see SyncEngine).
  int64_t attempts = 0;
};

// Counts kept on disk, read once when the engine starts on a database.
struct OutboxCounts {
  int64_t pending = 0;
  int64_t retrying = 0;  // pending with at least one failed attempt
  int64_t dead = 0;
  int64_t conflicts = 0;
  int64_t oldest_pending_us = 0;  // create_us of the oldest pending; 0 if none
  int64_t last_seq = 0;           // the highest seq ever given
};

// Thread-safe. Reads wait for a read connection and writes for the writer's
// turn until `deadline` (DEADLINE_EXCEEDED); UNAVAILABLE once closed.
class Outbox {
 public:
  virtual ~Outbox() = default;

  // Up to `limit` rows' next items, in commit order of their newest entry:
  // pending entries due by `now_us`, written under a schema version of at
  // most `max_schema_version`, of rows with no earlier entry that is dead,
  // waiting for its retry time or for the schema. At most one item per row.
  // Takes at most `limit` entries, and stops after the one that brings their
  // stored size to `max_bytes` (a batch's memory stays bounded however big
  // its rows are). Entries in `held` (ascending seqs of items out in a cloud
  // call whose settling is still to come) are passed over, and the batch
  // ends before the first later entry of their rows: it holds what followed
  // the batch out in commit order, up to the point where a row out comes
  // again, so rows changed together (values swapped under a unique rule)
  // still travel together. `more` (optional) says whether it stopped at a
  // limit or such a row, rather than at the end of what is ready.
  virtual absl::StatusOr<std::vector<OutboxItem>> NextBatch(int limit, int64_t max_bytes, int64_t now_us,
                                                            int64_t max_schema_version,
                                                            const std::vector<int64_t>& held, absl::Time deadline,
                                                            bool* more) = 0;
  // Records what became of pushed items, in one transaction.
  virtual absl::Status Settle(const std::vector<OutboxSettlement>& settlements, absl::Time deadline) = 0;
  virtual absl::StatusOr<OutboxCounts> Counts(absl::Time deadline) = 0;
  // Entries with seq > after_seq, in seq order, at most `limit`; of one
  // state when given.
  virtual absl::StatusOr<std::vector<OutboxEntry>> ListEntries(std::optional<OutboxState> state, int64_t after_seq,
                                                               int limit, absl::Time deadline) = 0;
  // Dead entries back to pending (attempts reset, due now): the listed
  // seqs, or every dead entry when `seqs` is empty. Returns how many.
  virtual absl::StatusOr<int64_t> RetryDead(const std::vector<int64_t>& seqs, absl::Time deadline) = 0;
  // Removes entries of `state` (the listed seqs, or all of that state when
  // `seqs` is empty). Returns how many.
  virtual absl::StatusOr<int64_t> Purge(OutboxState state, const std::vector<int64_t>& seqs, absl::Time deadline) = 0;
};

}  // namespace datagate::store

#endif  // DATAGATE_STORE_OUTBOX_H_
