// Every wait in the SQLite store ends at the call's deadline: the writer's
// turn, a read connection, another process's lock, another call opening the
// same tenant. And no lock shared by all tenants is held while one tenant's
// file is opened, so a slow tenant does not slow the others.
#include <atomic>
#include <thread>

#include "SQLiteCpp/SQLiteCpp.h"
#include "store/sqlite/sqlite_store.h"
#include "test_env.h"

namespace datagate::store::sqlite {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kTable[] = "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);";

int64_t MillisSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

std::shared_ptr<SqliteDatabase> OpenDb(const std::string& path, DatabaseOptions options = {}) {
  auto db = SqliteDatabase::Open(path, options);
  EXPECT_TRUE(db.ok()) << db.status();
  EXPECT_TRUE((*db)
                  ->Migrate(MigrationScript{AppliedMigration{1, "t", "c", 0}, kTable, true, "t", "t.sql"},
                            absl::InfiniteFuture())
                  .ok());
  return *db;
}

WriteOp Insert(int64_t id) { return WriteOp{WriteKind::kInsert, "t", {}, {{"id", Value{id}}}, 0}; }

TEST(StoreWaitsTest, WaitingForTheWritersTurnEndsAtTheDeadline) {
  testing::TempDir dir;
  auto db = OpenDb(dir.path() + "/w.db");
  std::atomic<bool> holding{false};
  std::thread holder([&] {
    ASSERT_TRUE(db->Transact("hold", absl::InfiniteFuture(), [&](Connection&, const Catalog&) {
                    holding = true;
                    std::this_thread::sleep_for(std::chrono::milliseconds(800));
                    return absl::OkStatus();
                  }).ok());
  });
  while (!holding) std::this_thread::yield();
  const auto start = Clock::now();
  WriteOptions options;
  options.deadline = absl::Now() + absl::Milliseconds(100);
  auto written = db->Write({Insert(1)}, options);
  EXPECT_EQ(written.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(written.status().message()), ::testing::HasSubstr("nothing was done"));
  EXPECT_LT(MillisSince(start), 500);
  holder.join();
  EXPECT_FALSE(db->Get(RowRead{"t", {{"id", Value{int64_t{1}}}}, {}})->has_value());
}

TEST(StoreWaitsTest, WaitingForAReadConnectionEndsAtTheDeadline) {
  testing::TempDir dir;
  DatabaseOptions options;
  options.max_readers = 1;
  auto db = OpenDb(dir.path() + "/r.db", options);
  std::atomic<bool> holding{false};
  std::thread holder([&] {
    ASSERT_TRUE(db->Read("hold", absl::InfiniteFuture(), [&](Connection&, const Catalog&) {
                    holding = true;
                    std::this_thread::sleep_for(std::chrono::milliseconds(800));
                    return absl::OkStatus();
                  }).ok());
  });
  while (!holding) std::this_thread::yield();
  const auto start = Clock::now();
  auto got = db->Get(RowRead{"t", {{"id", Value{int64_t{1}}}}, {}}, absl::Now() + absl::Milliseconds(100));
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(MillisSince(start), 500);
  holder.join();
}

TEST(StoreWaitsTest, WaitingForAnotherProcesssLockEndsAtTheDeadline) {
  testing::TempDir dir;
  DatabaseOptions options;
  options.busy_timeout_ms = 300;
  auto db = OpenDb(dir.path() + "/l.db", options);
  SQLite::Database outsider(dir.path() + "/l.db", SQLite::OPEN_READWRITE);
  outsider.exec("BEGIN IMMEDIATE");
  auto start = Clock::now();
  WriteOptions soon;
  soon.deadline = absl::Now() + absl::Milliseconds(100);
  EXPECT_EQ(db->Write({Insert(1)}, soon).status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(MillisSince(start), 250);
  // Without a deadline, the busy timeout ends the wait: UNAVAILABLE, retry.
  start = Clock::now();
  EXPECT_EQ(db->Write({Insert(1)}).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_GE(MillisSince(start), 250);
  outsider.exec("ROLLBACK");
  EXPECT_TRUE(db->Write({Insert(1)}).ok());
}

TEST(StoreWaitsTest, OpeningAFileAnotherProcessLocksEndsAtTheDeadline) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/o.db";
  OpenDb(path)->Close();
  // An outside program holding the file exclusively (as sqlite3 can).
  SQLite::Database outsider(path, SQLite::OPEN_READWRITE);
  outsider.exec("PRAGMA locking_mode=EXCLUSIVE");
  outsider.exec("BEGIN EXCLUSIVE");
  outsider.exec("CREATE TABLE held (a)");
  DatabaseOptions options;
  options.busy_timeout_ms = 5000;
  const auto start = Clock::now();
  auto db = SqliteDatabase::Open(path, options, /*create=*/false, absl::Now() + absl::Milliseconds(200));
  EXPECT_EQ(db.status().code(), absl::StatusCode::kDeadlineExceeded) << db.status();
  EXPECT_LT(MillisSince(start), 1500);  // not the 5 s busy timeout
  outsider.exec("ROLLBACK");
}

class TenantStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<SqliteStore> Open(DatabaseOptions database = {}) {
    StoreOptions options;
    options.database = database;
    auto store = SqliteStore::Open(dir_.path(), options);
    EXPECT_TRUE(store.ok()) << store.status();
    return *std::move(store);
  }
  static void Provision(SqliteStore& store, const std::string& id, const std::string& sql = kTable) {
    auto created = store.CreateTenant(
        TenantRecord{id, id, "", 1, 0},
        [&](Database& db, TenantRecord*) {
          return db.Migrate(MigrationScript{AppliedMigration{1, "t", "c", 0}, sql, true, id, "t.sql"},
                            absl::InfiniteFuture());
        },
        absl::InfiniteFuture());
    ASSERT_TRUE(created.ok()) << created.status();
  }
  testing::TempDir dir_;
};

TEST_F(TenantStoreTest, OneTenantOpeningSlowlyDoesNotHoldUpTheOthers) {
  {
    auto store = Open();
    Provision(*store, "slow");
    Provision(*store, "fast");
  }
  DatabaseOptions database;
  database.busy_timeout_ms = 2000;
  auto store = Open(database);  // neither tenant is open now
  SQLite::Database outsider(dir_.path() + "/tenants/slow.db", SQLite::OPEN_READWRITE);
  outsider.exec("BEGIN IMMEDIATE");  // opening "slow" waits for this lock
  std::atomic<bool> started{false};
  std::thread opener([&] {
    started = true;
    auto db = store->OpenTenant("slow", absl::Now() + absl::Seconds(1));
    EXPECT_EQ(db.status().code(), absl::StatusCode::kDeadlineExceeded);
  });
  while (!started) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto start = Clock::now();
  auto fast = store->OpenTenant("fast", absl::InfiniteFuture());
  ASSERT_TRUE(fast.ok()) << fast.status();
  EXPECT_TRUE((*fast)->Write({Insert(1)}).ok());
  EXPECT_LT(MillisSince(start), 300);
  // A second caller of "slow" waits for the first one's open, within its
  // own deadline.
  auto waiting = store->OpenTenant("slow", absl::Now() + absl::Milliseconds(100));
  EXPECT_EQ(waiting.status().code(), absl::StatusCode::kDeadlineExceeded);
  opener.join();
  outsider.exec("ROLLBACK");
  EXPECT_TRUE(store->OpenTenant("slow", absl::InfiniteFuture()).ok());
}

TEST_F(TenantStoreTest, RegistryReadsAndWritesEndAtTheDeadline) {
  Provision(*Open(), "known");
  DatabaseOptions database;
  database.max_readers = 1;
  auto store = Open(database);  // "known" is not open: opening it reads the registry
  auto* master = dynamic_cast<SqliteDatabase*>(store->Master().get());
  ASSERT_NE(master, nullptr);
  std::atomic<bool> holding{false};
  std::atomic<bool> release{false};
  std::thread reader([&] {  // the master's only read connection, busy
    EXPECT_TRUE(master
                    ->Read("hold", absl::InfiniteFuture(),
                           [&](Connection&, const Catalog&) {
                             holding = true;
                             // At most 2 s, so a wait that ignores its deadline ends too.
                             const auto until = Clock::now() + std::chrono::seconds(2);
                             while (!release && Clock::now() < until)
                               std::this_thread::sleep_for(std::chrono::milliseconds(5));
                             return absl::OkStatus();
                           })
                    .ok());
  });
  while (!holding) std::this_thread::yield();
  const auto soon = [] { return absl::Now() + absl::Milliseconds(100); };
  auto start = Clock::now();
  EXPECT_EQ(store->OpenTenant("known", soon()).status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(store->LookupTenant("known", soon()).status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(store->LookupTenantByRequestId("r", soon()).status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(store->ListTenants("", 10, soon()).status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(MillisSince(start), 1500);
  release = true;
  reader.join();
  // And the master's writer.
  release = false;
  std::thread writer([&] {
    EXPECT_TRUE(master
                    ->Transact("hold", absl::InfiniteFuture(),
                               [&](Connection&, const Catalog&) {
                                 holding = false;
                                 // At most 2 s, so a wait that ignores its deadline ends too.
                                 const auto until = Clock::now() + std::chrono::seconds(2);
                                 while (!release && Clock::now() < until)
                                   std::this_thread::sleep_for(std::chrono::milliseconds(5));
                                 return absl::OkStatus();
                               })
                    .ok());
  });
  while (holding) std::this_thread::yield();
  start = Clock::now();
  EXPECT_EQ(store->SetTenantSchemaVersion("known", 2, soon()).code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(MillisSince(start), 1500);
  release = true;
  writer.join();
  auto record = store->LookupTenant("known", absl::InfiniteFuture());
  ASSERT_TRUE(record.ok() && record->has_value());
  EXPECT_EQ((*record)->schema_version, 0);  // the late write did nothing
}

TEST_F(TenantStoreTest, DeleteStopsReadsInFlightAndRemovesFilesOnlyAfterThem) {
  auto store = Open();
  // The delete first unregisters the tenant (a synced write to the master):
  // on a loaded machine a read may finish before the delete reaches it. So
  // up to three tenants; at least one read must be caught in flight and
  // stopped, and every delete must be quick and leave no file.
  int stopped = 0;
  for (int attempt = 0; attempt < 3 && stopped == 0; ++attempt) {
    const std::string id = "busy" + std::to_string(attempt);
    Provision(*store, id,
              "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);"
              "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000) "
              "INSERT INTO t (id, v) SELECT i, hex(randomblob(16)) FROM n;");
    auto db = store->OpenTenant(id, absl::InfiniteFuture());
    ASSERT_TRUE(db.ok());
    std::atomic<bool> reading{false};
    absl::Status read_status;
    std::thread reader([&] {
      Query q;
      q.table = "t";
      q.order = {Order{"v", false}, Order{"id", false}};  // a sort of 300k rows: slow
      q.count_total = true;
      reading = true;
      read_status = (*db)->List(q).status();
    });
    while (!reading) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const auto start = Clock::now();
    ASSERT_TRUE(store->DeleteTenant(id, absl::InfiniteFuture()).ok());
    EXPECT_LT(MillisSince(start), 500);  // the read was stopped, not waited out
    reader.join();
    if (read_status.code() == absl::StatusCode::kNotFound) ++stopped;
    EXPECT_TRUE(read_status.ok() || read_status.code() == absl::StatusCode::kNotFound) << read_status;
    for (const char* suffix : {".db", ".db-wal", ".db-shm"}) {
      EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/tenants/" + id + suffix)) << suffix;
    }
    EXPECT_EQ(store->OpenTenant(id, absl::InfiniteFuture()).status().code(), absl::StatusCode::kNotFound);
    EXPECT_EQ((*db)->Write({Insert(1)}).status().code(), absl::StatusCode::kNotFound);
  }
  EXPECT_GE(stopped, 1) << "no read was stopped by its tenant's delete";
}

TEST_F(TenantStoreTest, AFailedCreateLeavesNoFileAndNothingToOpen) {
  auto store = Open();
  auto created = store->CreateTenant(
      TenantRecord{"half", "half", "", 1, 0},
      [&](Database& db, TenantRecord*) -> absl::Status {
        // While it is being created, the tenant cannot be opened.
        EXPECT_EQ(store->OpenTenant("half", absl::InfiniteFuture()).status().code(), absl::StatusCode::kNotFound);
        return db.Migrate(MigrationScript{AppliedMigration{1, "t", "c", 0}, "CREATE TABLE (;", true, "x", "x.sql"},
                          absl::InfiniteFuture());
      },
      absl::InfiniteFuture());
  EXPECT_EQ(created.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store->OpenTenant("half", absl::InfiniteFuture()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/tenants/half.db"));
  EXPECT_FALSE(store->LookupTenant("half", absl::InfiniteFuture())->has_value());
}

}  // namespace
}  // namespace datagate::store::sqlite
