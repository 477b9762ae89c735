// The sync engine's logic against a cloud that fails on cue: every write
// arrives once, in order per row; a poison op blocks only its row; an
// outage opens the breaker and loses nothing; schema waits and pauses hold
// ops without failing them.
#include "sync/sync_engine.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

#include "store/sqlite/sqlite_store.h"
#include "sync/fake_cloud.h"
#include "test_env.h"

namespace datagate::sync {
namespace {

using store::WriteKind;
using store::WriteOp;
const absl::Time kForever = absl::InfiniteFuture();

class SyncEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = store::sqlite::SqliteStore::Open(dir_.path(), {});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    for (const char* id : {"t1", "t2"}) {
      auto created = store_->CreateTenant(
          store::TenantRecord{id, id, "", 1, 1},
          [](store::Database& db, store::TenantRecord*) {
            return db.Migrate(
                store::MigrationScript{store::AppliedMigration{1, "t", "c", 0},
                                       "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);", true, "t", "t.sql"},
                kForever);
          },
          kForever);
      ASSERT_TRUE(created.ok()) << created.status();
    }
  }
  void Start(Options options = {}) {
    options.initial_backoff = absl::Milliseconds(5);
    options.max_backoff = absl::Milliseconds(20);
    options.breaker_cooldown = absl::Milliseconds(20);
    options.sweep_interval = absl::Milliseconds(20);
    auto engine = SyncEngine::Create(options, store_.get(), &cloud_);
    ASSERT_TRUE(engine.ok());
    engine_ = *std::move(engine);
    engine_->Start();
  }
  // A LOCAL_FIRST write, told to the engine as the data path does.
  void Put(const std::string& tenant, int64_t id, const std::string& v, bool del = false) {
    auto db = store_->OpenTenant(tenant, kForever);
    ASSERT_TRUE(db.ok());
    std::vector<int64_t> seqs;
    store::WriteOptions o;
    o.enqueue = true;
    o.enqueued = &seqs;
    WriteOp op = del ? WriteOp{WriteKind::kDelete, "t", {{"id", Value{id}}}, {}, 0}
                     : WriteOp{WriteKind::kUpsert, "t", {}, {{"id", Value{id}}, {"v", Value{v}}}, 0};
    ASSERT_TRUE((*db)->Write({op}, o).ok());
    engine_->Committed(tenant, seqs.back(), static_cast<int64_t>(seqs.size()));
    last_seq_ = seqs.back();
  }
  // Cloud calls made so far.
  int64_t Calls() {
    absl::MutexLock lock(&cloud_.mu);
    return cloud_.calls;
  }
  // No cloud call is made for `d`.
  void ExpectNoCallFor(absl::Duration d) {
    const int64_t calls = Calls();
    absl::SleepFor(d);
    EXPECT_EQ(Calls(), calls);
  }
  // Starts the engine (batches of 10) over a cloud that takes `call_ms`
  // per call, queues `n` writes of t1 while paused, resumes, and returns
  // once a worker's cloud call is under way.
  void StartPushingIntoASlowCloud(int64_t call_ms, int n) {
    cloud_.call_ms = call_ms;
    Options o;
    o.batch_size = 10;
    Start(o);
    ASSERT_TRUE(engine_->Pause().ok());
    for (int i = 0; i < n; ++i) Put("t1", i, "x");
    engine_->Resume();
    const absl::Time give_up = absl::Now() + absl::Seconds(10);
    while (engine_->GetStats(std::nullopt).total.in_flight == 0 && absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    ASSERT_GT(engine_->GetStats(std::nullopt).total.in_flight, 0);
  }
  // A WRITE_THROUGH of one more write of t1: PushNow on its own thread,
  // waiting for the worker's pass when this returns; `pushed` gets where
  // the write stands.
  std::thread WriteThrough(std::vector<PushState>* pushed) {
    Put("t1", 1000, "write through");
    const int64_t seq = last_seq_;
    std::thread push([this, seq, pushed] { *pushed = engine_->PushNow("t1", {seq}, absl::Now() + absl::Seconds(30)); });
    absl::SleepFor(absl::Milliseconds(20));
    return push;
  }
  absl::Status Flush(absl::Duration d = absl::Seconds(10)) { return engine_->Flush(std::nullopt, absl::Now() + d); }
  // Per row, versions reached the cloud in increasing order.
  void ExpectEachRowsVersionsInOrder() ABSL_EXCLUSIVE_LOCKS_REQUIRED(cloud_.mu) {
    std::map<std::string, int64_t> last;
    for (const std::string& e : cloud_.order) {
      const size_t at = e.rfind('@');
      const int64_t v = std::stoll(e.substr(at + 1));
      EXPECT_GT(v, last[e.substr(0, at)]) << e;
      last[e.substr(0, at)] = v;
    }
  }

  testing::TempDir dir_;
  std::unique_ptr<store::sqlite::SqliteStore> store_;
  testing::FakeCloud cloud_;
  std::unique_ptr<SyncEngine> engine_;
  int64_t last_seq_ = 0;  // of the latest Put
};

TEST_F(SyncEngineTest, EveryWriteArrivesWithItsVersionAndRowOrderHolds) {
  Start();
  for (int i = 0; i < 200; ++i) Put(i % 2 ? "t1" : "t2", i % 20, "v" + std::to_string(i));
  Put("t1", 1, "", /*del=*/true);
  ASSERT_TRUE(Flush().ok());
  Stats s = engine_->GetStats(std::nullopt);
  EXPECT_EQ(s.total.pending, 0);
  EXPECT_EQ(s.total.dead, 0);
  EXPECT_EQ(cloud_.LiveRows(), 19u);  // 10 rows each, one deleted
  absl::MutexLock lock(&cloud_.mu);
  // Row t1/1 was written 10 times, then deleted (version 11).
  EXPECT_EQ(cloud_.rows["t1:t/1"].version, 11);
  EXPECT_TRUE(cloud_.rows["t1:t/1"].deleted);
  ExpectEachRowsVersionsInOrder();
}

// The workers run at a lower priority than the calls (they are named, so
// an operator sees them in top -H).
TEST_F(SyncEngineTest, WorkersRunNiceAndNamed) {
  Start();
  // The workers name themselves once running: look until they have.
  std::vector<std::string> nice;
  for (int tries = 0; tries < 200 && nice.size() < static_cast<size_t>(Options().workers); ++tries) {
    nice.clear();
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
      std::ifstream comm(task.path() / "comm");
      std::string name;
      std::getline(comm, name);
      if (name != "dg-sync-worker") continue;
      std::ifstream stat(task.path() / "stat");
      std::string line;
      std::getline(stat, line);
      // Fields after the parenthesised name: state is field 3, nice field 19.
      std::istringstream rest(line.substr(line.rfind(')') + 2));
      std::vector<std::string> fields{std::istream_iterator<std::string>(rest), {}};
      nice.push_back(fields.size() > 16 ? fields[16] : line);
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_THAT(nice, ::testing::ElementsAre("5", "5"));
}

// Batches cut short by their byte budget still drain the whole backlog at
// once (not a batch per sweep).
TEST_F(SyncEngineTest, BatchesCutByBytesKeepDraining) {
  Options o;
  o.batch_bytes = 4096;
  o.sweep_interval = absl::Hours(1);
  auto engine = SyncEngine::Create(o, store_.get(), &cloud_);
  ASSERT_TRUE(engine.ok());
  engine_ = *std::move(engine);
  ASSERT_TRUE(engine_->Pause().ok());
  engine_->Start();
  for (int i = 0; i < 60; ++i) Put("t1", i, std::string(1000, 'x'));
  engine_->Resume();
  ASSERT_TRUE(Flush(absl::Seconds(5)).ok());
  EXPECT_EQ(cloud_.LiveRows(), 60u);
  absl::MutexLock lock(&cloud_.mu);
  EXPECT_GE(cloud_.calls, 60 / 4);  // about 4 rows of 1 KB per call
}

// A batch is read while the one before is still out (its cloud call under
// way): it passes over that batch's rows, so a row's later write never
// reaches the cloud while an earlier one may still fail and come again.
TEST_F(SyncEngineTest, OverlappedBatchesKeepEachRowsOrderThroughRetries) {
  {
    absl::MutexLock lock(&cloud_.mu);
    for (int id = 0; id < 10; ++id) cloud_.flaky.insert("t/" + std::to_string(id));
  }
  Options o;
  o.batch_size = 8;
  // A row's tries add up across its versions (a retried entry may be
  // superseded by a newer one, which fails once too): 12 versions may
  // fail in a row, past the default 10 attempts, depending on timing.
  o.max_attempts = 100;
  Start(o);
  ASSERT_TRUE(engine_->Pause().ok());
  // Rows 0-9 written 12 times each, between 100 rows written once: each
  // hot row has entries in many batches.
  std::map<int64_t, int64_t> writes;
  for (int i = 0; i < 220; ++i) {
    const int64_t id = i % 2 ? i % 10 : 100 + i;
    Put("t1", id, "v" + std::to_string(i));
    ++writes[id];
  }
  engine_->Resume();
  ASSERT_TRUE(Flush(absl::Seconds(20)).ok());
  Stats s = engine_->GetStats(std::nullopt);
  EXPECT_EQ(s.total.conflicts, 0);
  EXPECT_EQ(s.total.dead, 0);
  absl::MutexLock lock(&cloud_.mu);
  for (const auto& [id, n] : writes) EXPECT_EQ(cloud_.rows["t1:t/" + std::to_string(id)].version, n) << id;
  ExpectEachRowsVersionsInOrder();
}

// A call cut at its deadline while the cloud still works on it comes back
// in doubt (UNKNOWN). The cloud answers a ping: a slow batch, not an
// outage. The breaker stays closed, and the batch's ops are charged an
// attempt each time, then dead-lettered.
TEST_F(SyncEngineTest, ACallCutAtItsDeadlineIsASlowBatchNotAnOutage) {
  cloud_.call_ms = 1000;
  cloud_.cut_at_deadline = true;
  Options o;
  o.call_timeout = absl::Milliseconds(100);
  o.max_attempts = 3;
  Start(o);
  Put("t1", 1, "slow");
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (engine_->GetStats(std::string("t1")).total.dead == 0 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  const Stats s = engine_->GetStats(std::string("t1"));
  EXPECT_EQ(s.total.dead, 1);
  EXPECT_EQ(s.breaker, BreakerState::kClosed);
  EXPECT_GE(cloud_.pings.load(), 3);
  auto db = store_->OpenTenant("t1", kForever);
  ASSERT_TRUE(db.ok());
  auto dead = (*db)->outbox()->ListEntries(store::OutboxState::kDead, 0, 10, kForever);
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_THAT(dead->front().last_error, ::testing::HasSubstr("it may have been applied"));
}

// Ops that are each quick but together slower than a call: the batch goes
// again in smaller ones, nothing charged, and all of them arrive. (Sent
// whole again and again, each op was charged every time and
// dead-lettered.)
TEST_F(SyncEngineTest, ABatchTooSlowForOneCallGoesAgainInSmallerOnes) {
  cloud_.op_ms = 40;
  cloud_.cut_at_deadline = true;
  Options o;
  o.call_timeout = absl::Milliseconds(300);
  o.max_attempts = 2;
  Start(o);
  ASSERT_TRUE(engine_->Pause().ok());
  for (int i = 0; i < 40; ++i) Put("t1", i, "x");  // 1.6 s in one call
  engine_->Resume();
  ASSERT_TRUE(Flush(absl::Seconds(20)).ok());
  const Stats s = engine_->GetStats(std::string("t1"));
  EXPECT_EQ(s.total.dead, 0);
  EXPECT_EQ(s.total.retrying, 0);
  EXPECT_EQ(s.breaker, BreakerState::kClosed);
  EXPECT_EQ(cloud_.LiveRows(), 40u);
  absl::MutexLock lock(&cloud_.mu);
  ExpectEachRowsVersionsInOrder();
}

// One op slower than a call even alone: the cutting of calls ends at it,
// it is charged, and from then on it goes alone (one slow call per try),
// while the ops behind it arrive.
TEST_F(SyncEngineTest, AnOpTooSlowEvenAloneGoesAloneAndOnlyItIsDeadLettered) {
  {
    absl::MutexLock lock(&cloud_.mu);
    cloud_.slow["t/7"] = 1000;
  }
  cloud_.cut_at_deadline = true;
  Options o;
  o.call_timeout = absl::Milliseconds(150);
  o.max_attempts = 3;
  Start(o);
  ASSERT_TRUE(engine_->Pause().ok());
  Put("t1", 7, "slow");
  for (int i = 0; i < 60; ++i) Put("t1", 100 + i, "ok");
  engine_->Resume();
  ASSERT_TRUE(Flush(absl::Seconds(20)).ok());
  const Stats s = engine_->GetStats(std::string("t1"));
  EXPECT_EQ(s.total.dead, 1);
  EXPECT_EQ(cloud_.LiveRows(), 60u);
  auto db = store_->OpenTenant("t1", kForever);
  ASSERT_TRUE(db.ok());
  auto dead = (*db)->outbox()->ListEntries(store::OutboxState::kDead, 0, 10, kForever);
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ(dead->front().attempts, 3);  // charged only when alone
  absl::MutexLock lock(&cloud_.mu);
  // Cut to an eighth: 61 ops, then 7, then 1 (halving took 30, 15, 7, 3
  // and 1: three more calls out of time); then alone for each try.
  const std::vector<size_t>& sizes = cloud_.slow_call_sizes;
  const auto first_alone = std::find(sizes.begin(), sizes.end(), 1u);
  ASSERT_NE(first_alone, sizes.end());
  EXPECT_EQ(std::vector<size_t>(sizes.begin(), first_alone), (std::vector<size_t>{61, 7}));
  EXPECT_EQ(std::count(first_alone, sizes.end(), 1u), 3);
  EXPECT_EQ(sizes.end() - first_alone, 3);
}

// A row another transaction holds in the cloud is no fault of the op: it
// waits past max_attempts tries, never dead-lettered, and once the lock is
// let go its tries count afresh: a serialization failure then is retried
// as for any op, not fatal.
TEST_F(SyncEngineTest, AnOpWhoseRowIsHeldElsewhereWaitsPastMaxAttempts) {
  {
    absl::MutexLock lock(&cloud_.mu);
    cloud_.locked.insert("t/7");
  }
  Options o;
  o.max_attempts = 2;
  Start(o);
  Put("t1", 7, "held");
  for (int i = 0; i < 10; ++i) Put("t1", 100 + i, "ok");
  auto db = store_->OpenTenant("t1", kForever);
  ASSERT_TRUE(db.ok());
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  int64_t attempts = 0;
  while (attempts < 6 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(10));
    auto pending = (*db)->outbox()->ListEntries(store::OutboxState::kPending, 0, 1, kForever);
    ASSERT_TRUE(pending.ok());
    ASSERT_EQ(pending->size(), 1u);
    attempts = pending->front().attempts;
    EXPECT_THAT(pending->front().last_error, ::testing::AnyOf(::testing::IsEmpty(), ::testing::HasSubstr("held by")));
  }
  EXPECT_GE(attempts, 6);
  EXPECT_EQ(engine_->GetStats(std::string("t1")).total.dead, 0);
  EXPECT_EQ(cloud_.LiveRows(), 10u);
  {
    absl::MutexLock lock(&cloud_.mu);
    cloud_.locked.clear();
    cloud_.flaky.insert("t/7");  // ABORTED once, then applied
  }
  ASSERT_TRUE(Flush().ok());
  EXPECT_EQ(engine_->GetStats(std::string("t1")).total.dead, 0);
  EXPECT_EQ(cloud_.LiveRows(), 11u);
}

TEST_F(SyncEngineTest, APoisonOpIsRetriedDeadLetteredAndBlocksOnlyItsRow) {
  {
    absl::MutexLock lock(&cloud_.mu);
    cloud_.poison.insert("t/7");
  }
  Options o;
  o.max_attempts = 3;
  Start(o);
  Put("t1", 7, "bad");
  for (int i = 0; i < 50; ++i) Put("t1", 100 + i, "ok");
  ASSERT_TRUE(Flush().ok());  // the poison op is dead: flushed counts it settled
  Stats s = engine_->GetStats(std::string("t1"));
  EXPECT_EQ(s.total.dead, 1);
  EXPECT_EQ(cloud_.LiveRows(), 50u);
  auto db = store_->OpenTenant("t1", kForever);
  auto dead = (*db)->outbox()->ListEntries(store::OutboxState::kDead, 0, 10, kForever);
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ(dead->front().attempts, 3);
  EXPECT_THAT(dead->front().last_error, ::testing::HasSubstr("FAILED_PRECONDITION"));
  // A later write to the same row waits behind the dead letter.
  Put("t1", 7, "still bad");
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(cloud_.LiveRows(), 50u);
  // Fixed in the cloud, retried: the newest state arrives.
  {
    absl::MutexLock lock(&cloud_.mu);
    cloud_.poison.clear();
  }
  ASSERT_EQ(*(*db)->outbox()->RetryDead({}, kForever), 1);
  engine_->Reload("t1", kForever);
  ASSERT_TRUE(Flush().ok());
  EXPECT_EQ(cloud_.LiveRows(), 51u);
  absl::MutexLock lock(&cloud_.mu);
  EXPECT_EQ(cloud_.rows["t1:t/7"].values[1].value, Value{std::string("still bad")});
}

TEST_F(SyncEngineTest, AnOutageOpensTheBreakerAndLosesNothing) {
  std::vector<bool> health;
  absl::Mutex health_mu;
  Options o;
  o.on_cloud_health = [&](bool serving) {
    absl::MutexLock lock(&health_mu);
    health.push_back(serving);
  };
  cloud_.down = true;
  Start(o);
  for (int i = 0; i < 300; ++i) Put("t2", i, "x");
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(engine_->breaker(), BreakerState::kOpen);
  const absl::Status down = Flush(absl::Milliseconds(100));
  EXPECT_EQ(down.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(down.message()), ::testing::HasSubstr("the circuit breaker is open"));
  EXPECT_EQ(engine_->GetStats(std::nullopt).total.pending, 300);
  EXPECT_EQ(engine_->GetStats(std::nullopt).total.dead, 0);  // an outage is not the ops' fault
  cloud_.down = false;
  ASSERT_TRUE(Flush().ok());
  EXPECT_EQ(cloud_.LiveRows(), 300u);
  EXPECT_EQ(engine_->breaker(), BreakerState::kClosed);
  absl::MutexLock lock(&health_mu);
  ASSERT_GE(health.size(), 2u);
  EXPECT_FALSE(health.front());
  EXPECT_TRUE(health.back());
}

TEST_F(SyncEngineTest, ANewerCloudRowWinsAndTheOpIsAConflict) {
  {
    absl::MutexLock lock(&cloud_.mu);
    cloud_.rows["t1:t/5"] = testing::FakeCloud::Row{10, false, {}};
  }
  Start();
  Put("t1", 5, "local");
  ASSERT_TRUE(Flush().ok());
  EXPECT_EQ(engine_->GetStats(std::nullopt).total.conflicts, 1);
  absl::MutexLock lock(&cloud_.mu);
  EXPECT_EQ(cloud_.rows["t1:t/5"].version, 10);
}

TEST_F(SyncEngineTest, OpsWaitForTheCloudSchemaAndForResume) {
  cloud_.schema_version = 0;
  Start();
  Put("t1", 1, "a");
  EXPECT_EQ(Flush(absl::Milliseconds(150)).code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(engine_->GetStats(std::nullopt).total.retrying, 0);  // waiting is not failing
  cloud_.schema_version = 1;
  engine_->SchemaChanged();
  ASSERT_TRUE(Flush().ok());
  ASSERT_TRUE(engine_->Pause().ok());
  Put("t1", 2, "b");
  const absl::Status paused = Flush(absl::Milliseconds(150));
  EXPECT_EQ(paused.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(paused.message()), ::testing::HasSubstr("sync is paused: call ResumeSync"));
  EXPECT_EQ(cloud_.LiveRows(), 1u);
  engine_->Resume();
  ASSERT_TRUE(Flush().ok());
  EXPECT_EQ(cloud_.LiveRows(), 2u);
}

// Once Pause has returned, nothing reaches the cloud until Resume: neither
// the rest of a worker's pass nor a WRITE_THROUGH's push that was waiting
// for the tenant meanwhile (it answers queued; its write stays queued).
TEST_F(SyncEngineTest, AfterPauseNothingReachesTheCloudNotEvenAWaitingPushNow) {
  StartPushingIntoASlowCloud(50, 300);
  std::vector<PushState> pushed;
  std::thread wt = WriteThrough(&pushed);
  ASSERT_TRUE(engine_->Pause(absl::Now() + absl::Seconds(10)).ok());
  ExpectNoCallFor(absl::Milliseconds(300));
  wt.join();
  EXPECT_THAT(pushed, ::testing::ElementsAre(PushState::kQueued));
  EXPECT_LT(cloud_.LiveRows(), 301u);
  engine_->Resume();
  ASSERT_TRUE(Flush().ok());
  EXPECT_EQ(cloud_.LiveRows(), 301u);
}

// A Pause whose wait ends before the call under way does says so
// (DEADLINE_EXCEEDED): sync is paused all the same, no call starts after
// it, and a Pause called again waits for the call out.
TEST_F(SyncEngineTest, APauseThatCannotWaitForTheCallOutSaysSoAndStaysPaused) {
  StartPushingIntoASlowCloud(400, 100);
  const absl::Status early = engine_->Pause(absl::Now() + absl::Milliseconds(50));
  EXPECT_EQ(early.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(early.message()), ::testing::HasSubstr("sync is paused"));
  EXPECT_THAT(std::string(early.message()), ::testing::HasSubstr("(10 operations) has not ended yet"));
  EXPECT_TRUE(engine_->GetStats(std::nullopt).paused);
  ASSERT_TRUE(engine_->Pause(absl::Now() + absl::Seconds(5)).ok());
  EXPECT_EQ(engine_->GetStats(std::nullopt).total.in_flight, 0);
  EXPECT_EQ(Calls(), 1);  // the call that was out, and none after it
  ExpectNoCallFor(absl::Milliseconds(500));
  cloud_.call_ms = 0;
  engine_->Resume();
  ASSERT_TRUE(Flush().ok());
  EXPECT_EQ(cloud_.LiveRows(), 100u);
}

// A held tenant (being deleted) starts no cloud call, neither a worker's
// next batch nor a waiting PushNow's, and the hold waits only for the call
// under way, not for the rest of the pass.
TEST_F(SyncEngineTest, AHoldWaitsOnlyForTheCallUnderWayAndStartsNoOther) {
  StartPushingIntoASlowCloud(250, 300);
  std::vector<PushState> pushed;
  std::thread wt = WriteThrough(&pushed);
  const absl::Time start = absl::Now();
  ASSERT_TRUE(engine_->Quiesce("t1", absl::Now() + absl::Seconds(10)).ok());
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));  // one call of 250 ms, not a pass of 8
  ExpectNoCallFor(absl::Milliseconds(600));
  wt.join();
  EXPECT_THAT(pushed, ::testing::ElementsAre(PushState::kQueued));
  cloud_.call_ms = 0;
  engine_->Release("t1", /*deleted=*/false);
  ASSERT_TRUE(Flush(absl::Seconds(30)).ok());
  EXPECT_EQ(cloud_.LiveRows(), 301u);
}

TEST_F(SyncEngineTest, CountersComeBackFromDiskAfterARestart) {
  cloud_.down = true;
  Start();
  for (int i = 0; i < 40; ++i) Put("t1", i, "x");
  engine_->Stop();
  engine_.reset();
  cloud_.down = false;
  Start();  // a new engine over the same files
  ASSERT_TRUE(Flush().ok());
  EXPECT_EQ(cloud_.LiveRows(), 40u);
  EXPECT_TRUE(engine_->GetStats(std::nullopt).counters_loaded);
}

}  // namespace
}  // namespace datagate::sync
