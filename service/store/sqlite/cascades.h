// Rows SQLite changes by itself inside a write, below the write's own
// statement: foreign-key actions (ON DELETE CASCADE, SET NULL, SET DEFAULT,
// ON UPDATE CASCADE) and triggers, at trigger depth >= 1; and the rows that
// REPLACE conflict resolution deletes in the statement itself. They are captured
// through SQLite's pre-update hook and summed up per row, so the write can
// version, tombstone and queue them as it does an op's own row. Internal to
// the SQLite store; used on the writer connection by the thread holding it.
#ifndef DATAGATE_STORE_SQLITE_CASCADES_H_
#define DATAGATE_STORE_SQLITE_CASCADES_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "store/sqlite/connection.h"
#include "store/store.h"

namespace datagate::store::sqlite {

// One row (a table and a key) that cascades changed, summed over all the
// changes SQLite reported for it since the last Clear.
struct CascadedRow {
  const Table* table = nullptr;
  std::vector<Field> key;   // in key order
  std::string encoded_key;  // as the outbox and tombstones keep it
  // Whether the row existed before its first change, and then its version
  // and create time.
  bool existed = false;
  int64_t old_version = 0;
  int64_t old_create_us = 0;
  // Its last change deleted it (or moved it to another key).
  bool gone = false;
  // Its first change was a REPLACE (a delete in the op's own statement).
  bool replaced = false;
  // Already accounted for by the op (Forget): not tracked again.
  bool skip = false;
};

// While alive, captures on `conn` the changes that SQLite makes below the
// top level of a statement (trigger depth >= 1) to the tables `catalog`
// serves (never the gateway's own `_dg_*` or SQLite's tables). One per
// write; the hook is removed when it dies. `conn` and `catalog` must outlive
// it.
class Cascades {
 public:
  Cascades(Connection& conn, const Catalog& catalog);
  ~Cascades();
  Cascades(const Cascades&) = delete;
  Cascades& operator=(const Cascades&) = delete;

  // Whether changes were captured since the last Collect. Cheap.
  bool pending() const { return !changes_.empty() || out_of_memory_; }

  // Set while an op that deletes no row itself runs its statement: a
  // delete at the top level is then REPLACE conflict resolution (a
  // constraint's ON CONFLICT REPLACE), and is captured too.
  void set_replace_deletes(bool on) { replace_deletes_ = on; }

  // Sums the changes captured so far into rows(), reading where each
  // table's key and bookkeeping columns sit in its stored record (throws
  // SQLite::Exception). FAILED_PRECONDITION (CascadeNotSynced) for a change
  // that cannot be tracked: a NULL left in a key column, or a table whose
  // virtual generated columns make SQLite's column positions unreliable;
  // RESOURCE_EXHAUSTED when capturing ran out of memory.
  absl::Status Collect();

  // The rows changed since the last Clear, in the order of their first change.
  std::vector<CascadedRow>& rows() { return rows_; }
  // The row of `table` with `encoded_key`, or null.
  CascadedRow* Find(const std::string& table, const std::string& encoded_key);
  // Marks the row accounted for; later changes to it start a new row.
  void Forget(const std::string& table, const std::string& encoded_key);
  // Forgets all rows (they were tracked).
  void Clear();

 private:
  // One change as the hook reported it: the row's values by their position
  // in the stored record, before (update, delete) and after (insert, update).
  struct Change {
    int op = 0;              // SQLITE_INSERT, SQLITE_UPDATE or SQLITE_DELETE
    bool top_level = false;  // a REPLACE's delete
    const Table* table = nullptr;
    std::vector<Value> before;
    std::vector<Value> after;
  };
  // Where a table's key and bookkeeping columns sit in its stored record.
  struct Layout {
    std::vector<int> key;  // in key order
    int version = -1;
    int create_us = -1;
    std::string unusable;  // why the positions cannot be trusted; empty if they can
  };

  static void OnPreUpdate(void* self, ::sqlite3* db, int op, const char* database, const char* table,
                          long long old_rowid, long long new_rowid);  // NOLINT(runtime/int): sqlite3_int64
  const Layout& LayoutOf(const Table& t);
  // The row for (t, key), made (with `existed` and the old values) if new.
  CascadedRow& Touch(const Table& t, std::vector<Field> key, bool existed, int64_t old_version, int64_t old_create_us);

  Connection& conn_;
  const Catalog& catalog_;
  std::vector<Change> changes_;
  bool out_of_memory_ = false;
  bool replace_deletes_ = false;
  std::map<std::string, Layout, std::less<>> layouts_;
  std::vector<CascadedRow> rows_;
  std::map<std::pair<std::string, std::string>, size_t> index_;  // (table, encoded key) -> rows_
};

// While alive, no trigger fires on `conn` (foreign-key actions still do):
// the gateway's own bookkeeping updates are not user changes. Changing the
// setting expires `conn`'s prepared statements (they are prepared again on
// their next use), so this is for the rare path only.
class TriggersOff {
 public:
  explicit TriggersOff(Connection& conn);
  ~TriggersOff();
  TriggersOff(const TriggersOff&) = delete;
  TriggersOff& operator=(const TriggersOff&) = delete;

 private:
  Connection& conn_;
};

}  // namespace datagate::store::sqlite

#endif  // DATAGATE_STORE_SQLITE_CASCADES_H_
