// The SQLite outbox: entries written with the data, versions that never
// repeat for a key, and what NextBatch hands out (per-row order, coalescing,
// waits that hold back only their own row).
#include "store/outbox.h"

#include "store/sqlite/sqlite_database.h"
#include "test_env.h"

namespace datagate::store {
namespace {

const absl::Time kForever = absl::InfiniteFuture();
constexpr int64_t kNow = int64_t{1} << 50;

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = sqlite::SqliteDatabase::Open(dir_.path() + "/t.db", {});
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *db;
    ASSERT_TRUE(
        db_->Migrate(MigrationScript{AppliedMigration{1, "t", "c", 0},
                                     "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE);", true, "t", "t.sql"},
                     kForever)
            .ok());
  }
  static WriteOp Put(int64_t id, std::string v) {
    return WriteOp{WriteKind::kUpsert, "t", {}, {{"id", Value{id}}, {"v", Value{std::move(v)}}}, 0};
  }
  static WriteOp Del(int64_t id) { return WriteOp{WriteKind::kDelete, "t", {{"id", Value{id}}}, {}, 0}; }
  absl::StatusOr<std::vector<StoredRow>> Queue(std::vector<WriteOp> ops, std::vector<int64_t>* seqs = nullptr) {
    WriteOptions o;
    o.enqueue = true;
    o.enqueued = seqs;
    return db_->Write(ops, o);
  }
  std::vector<OutboxItem> Next(int64_t now = kNow, int64_t schema = 100) {
    auto items = db_->NextBatch(100, int64_t{1} << 30, now, schema, {}, kForever, nullptr);
    EXPECT_TRUE(items.ok()) << items.status();
    return items.ok() ? *items : std::vector<OutboxItem>{};
  }
  OutboxCounts Counts() {
    auto c = db_->Counts(kForever);
    EXPECT_TRUE(c.ok());
    return *c;
  }

  testing::TempDir dir_;
  std::shared_ptr<sqlite::SqliteDatabase> db_;
};

TEST_F(OutboxTest, EntriesCommitAndRollBackWithTheirRows) {
  std::vector<int64_t> seqs;
  ASSERT_TRUE(Queue({Put(1, "a"), Put(2, "b")}, &seqs).ok());
  EXPECT_EQ(seqs.size(), 2u);
  EXPECT_EQ(Counts().pending, 2);
  // The second op breaks a UNIQUE constraint: neither row nor entry stays.
  auto failed = Queue({Put(3, "c"), Put(4, "a")}, &seqs);
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(seqs.empty());
  EXPECT_EQ(Counts().pending, 2);
  EXPECT_FALSE(db_->Get(RowRead{"t", {{"id", Value{int64_t{3}}}}, {}})->has_value());
  // A LOCAL_ONLY write queues nothing.
  ASSERT_TRUE(db_->Write({Put(5, "e")}).ok());
  EXPECT_EQ(Counts().pending, 2);
  EXPECT_EQ(Counts().last_seq, 2);
}

TEST_F(OutboxTest, VersionsNeverRepeatForAKey) {
  auto created = Queue({Put(1, "a")});
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(created->front().version, 1);
  auto deleted = Queue({Del(1)});
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->front().version, 1);  // the row's version when deleted
  auto again = Queue({Put(1, "b")});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->front().version, 3);  // past the tombstone (2)
  // The queue says the same: upsert v1, delete v2 (a tombstone), upsert v3.
  auto all = db_->ListEntries(std::nullopt, 0, 10, kForever);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].version, 1);
  EXPECT_TRUE((*all)[1].deleted);
  EXPECT_EQ((*all)[1].version, 2);
  EXPECT_EQ((*all)[2].version, 3);
  EXPECT_EQ((*all)[2].row.fields[1].value, Value{std::string("b")});
}

TEST_F(OutboxTest, ARowsReadyEntriesComeAsItsNewest) {
  ASSERT_TRUE(Queue({Put(1, "a1")}).ok());
  ASSERT_TRUE(Queue({Put(2, "b1")}).ok());
  ASSERT_TRUE(Queue({Put(1, "a2")}).ok());
  ASSERT_TRUE(Queue({Put(1, "a3")}).ok());
  std::vector<OutboxItem> items = Next();
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].entry.row.fields[1].value, Value{std::string("a3")});
  EXPECT_EQ(items[0].entry.version, 3);
  EXPECT_EQ(items[0].superseded, (std::vector<int64_t>{1, 3}));
  EXPECT_TRUE(items[1].superseded.empty());
  // Done: the item and the entries it stood for go.
  ASSERT_TRUE(
      db_->Settle({OutboxSettlement{items[0].entry.seq, items[0].superseded, OutboxSettlement::kDone, 0, ""}}, kForever)
          .ok());
  EXPECT_EQ(Counts().pending, 1);
}

TEST_F(OutboxTest, AWaitingOrDeadEntryHoldsBackOnlyItsOwnRow) {
  ASSERT_TRUE(Queue({Put(1, "a1"), Put(2, "b1")}).ok());
  std::vector<OutboxItem> items = Next();
  ASSERT_EQ(items.size(), 2u);
  // Row 1 must wait a minute; row 2 went through.
  OutboxSettlement wait{items[0].entry.seq, {}, OutboxSettlement::kRetry, kNow + 60'000'000, "UNAVAILABLE: x"};
  OutboxSettlement done{items[1].entry.seq, {}, OutboxSettlement::kDone, 0, ""};
  ASSERT_TRUE(db_->Settle({wait, done}, kForever).ok());
  ASSERT_TRUE(Queue({Put(1, "a2"), Put(2, "b2")}).ok());
  items = Next();
  ASSERT_EQ(items.size(), 1u);  // row 2's new entry; row 1's waits behind its first
  EXPECT_EQ(items[0].entry.row.fields[1].value, Value{std::string("b2")});
  EXPECT_EQ(Counts().retrying, 1);
  // Past the retry time both of row 1's entries come, as the newest.
  items = Next(kNow + 61'000'000);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].entry.row.fields[1].value, Value{std::string("a2")});
  EXPECT_EQ(items[0].superseded.size(), 1u);
  // Dead-lettered: its row stays held until it is retried.
  ASSERT_TRUE(db_->Settle({OutboxSettlement{items[0].entry.seq, items[0].superseded, OutboxSettlement::kDead, 0,
                                            "FAILED_PRECONDITION: y"}},
                          kForever)
                  .ok());
  ASSERT_TRUE(Queue({Put(1, "a3")}).ok());
  for (const OutboxItem& i : Next(kNow + 61'000'000)) EXPECT_NE(i.entry.row.fields[0].value, Value{int64_t{1}});
  EXPECT_EQ(Counts().dead, 1);
  auto retried = db_->RetryDead({}, kForever);
  ASSERT_TRUE(retried.ok());
  EXPECT_EQ(*retried, 1);
  items = Next(kNow + 61'000'000);
  bool row1 = false;
  for (const OutboxItem& i : items) row1 |= i.entry.row.fields[0].value == Value{int64_t{1}};
  EXPECT_TRUE(row1);
}

TEST_F(OutboxTest, EntriesWaitForTheCloudSchemaTheyWereWrittenUnder) {
  ASSERT_TRUE(Queue({Put(1, "a")}).ok());  // written under migration 1
  EXPECT_TRUE(Next(kNow, /*schema=*/0).empty());
  EXPECT_EQ(Next(kNow, /*schema=*/1).size(), 1u);
}

// A batch of big rows stops at its byte budget, after the entry that
// reaches it, and says how big each item is.
TEST_F(OutboxTest, ABatchStopsAtItsByteBudget) {
  for (int64_t id = 1; id <= 10; ++id) ASSERT_TRUE(Queue({Put(id, std::string(1000, 'a' + id))}).ok());
  auto items = db_->NextBatch(100, 2500, kNow, 100, {}, kForever, nullptr);
  ASSERT_TRUE(items.ok()) << items.status();
  ASSERT_EQ(items->size(), 3u);
  for (const OutboxItem& item : *items) EXPECT_GT(item.bytes, 1000);
  EXPECT_EQ(items->back().entry.seq, 3);
  // At least one entry however small the budget.
  items = db_->NextBatch(100, 1, kNow, 100, {}, kForever, nullptr);
  ASSERT_TRUE(items.ok());
  EXPECT_EQ(items->size(), 1u);
  EXPECT_EQ(Next().size(), 10u);
}

// While a batch is out (its cloud call under way), the next one passes over
// its entries and takes what followed them in commit order, up to the first
// later entry of a row out: rows changed together still travel together.
TEST_F(OutboxTest, ABatchTakesWhatFollowsABatchOutUpToOneOfItsRows) {
  ASSERT_TRUE(Queue({Put(1, "a"), Put(2, "b")}).ok());  // seqs 1, 2
  std::vector<OutboxItem> out = Next();
  ASSERT_EQ(out.size(), 2u);
  ASSERT_TRUE(Queue({Put(3, "c"), Put(4, "d"), Put(1, "a2"), Put(5, "e")}).ok());  // seqs 3-6
  bool more = false;
  auto items = db_->NextBatch(10, int64_t{1} << 30, kNow, 100, {1, 2}, kForever, &more);
  ASSERT_TRUE(items.ok()) << items.status();
  ASSERT_EQ(items->size(), 2u);  // rows 3 and 4; row 1 comes again at seq 5
  EXPECT_EQ((*items)[0].entry.seq, 3);
  EXPECT_EQ((*items)[1].entry.seq, 4);
  EXPECT_TRUE(more);
  // Once seq 1 is settled, row 1's later entry follows with the rest.
  OutboxSettlement done;
  done.seq = 1;
  ASSERT_TRUE(db_->Settle({done}, kForever).ok());
  items = db_->NextBatch(10, int64_t{1} << 30, kNow, 100, {2, 3, 4}, kForever, &more);
  ASSERT_TRUE(items.ok()) << items.status();
  ASSERT_EQ(items->size(), 2u);
  EXPECT_EQ((*items)[0].entry.seq, 5);
  EXPECT_EQ((*items)[1].entry.seq, 6);
  EXPECT_FALSE(more);
}

TEST_F(OutboxTest, PurgeRemovesOnlyTheStateAndSeqsNamed) {
  ASSERT_TRUE(Queue({Put(1, "a"), Put(2, "b"), Put(3, "c")}).ok());
  std::vector<OutboxItem> items = Next();
  ASSERT_EQ(items.size(), 3u);
  ASSERT_TRUE(db_->Settle({OutboxSettlement{items[0].entry.seq, {}, OutboxSettlement::kConflict, 0, "newer", 9},
                           OutboxSettlement{items[1].entry.seq, {}, OutboxSettlement::kDead, 0, "bad"}},
                          kForever)
                  .ok());
  OutboxCounts c = Counts();
  EXPECT_EQ(c.pending, 1);
  EXPECT_EQ(c.dead, 1);
  EXPECT_EQ(c.conflicts, 1);
  auto conflicts = db_->ListEntries(OutboxState::kConflict, 0, 10, kForever);
  ASSERT_TRUE(conflicts.ok());
  ASSERT_EQ(conflicts->size(), 1u);
  EXPECT_EQ(conflicts->front().cloud_version, 9);
  EXPECT_EQ(*db_->Purge(OutboxState::kDead, {items[2].entry.seq}, kForever), 0);  // not dead
  EXPECT_EQ(*db_->Purge(OutboxState::kConflict, {}, kForever), 1);
  c = Counts();
  EXPECT_EQ(c.dead, 1);
  EXPECT_EQ(c.conflicts, 0);
}

}  // namespace
}  // namespace datagate::store
