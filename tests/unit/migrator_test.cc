#include "migrate/migrator.h"

#include <fstream>

#include "store/sqlite/sqlite_database.h"
#include "test_env.h"

namespace datagate::migrate {
namespace {

class MigratorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_.path() + "/m");
    Write("0001_a.up.sql", "CREATE TABLE a(id INTEGER PRIMARY KEY);");
    Write("0001_a.down.sql", "DROP TABLE a;");
    Write("0002_b.up.sql", "CREATE TABLE b(id INTEGER PRIMARY KEY);");
    Write("0002_b.down.sql", "DROP TABLE b;");
    db_ = *store::sqlite::SqliteDatabase::Open(dir_.path() + "/t.db", {});
  }
  void Write(const std::string& name, const std::string& sql) { std::ofstream(dir_.path() + "/m/" + name) << sql; }
  Migrator Load() { return Migrator(*LoadMigrations(dir_.path() + "/m", "sqlite")); }

  testing::TempDir dir_;
  std::shared_ptr<store::sqlite::SqliteDatabase> db_;
};

TEST_F(MigratorTest, AppliesInOrderAndRevertsNewestFirst) {
  Migrator m = Load();
  ASSERT_TRUE(m.ApplyAll("t", *db_).ok());
  EXPECT_NE(db_->GetCatalog()->Find("b"), nullptr);
  auto down = m.PlanDown("t", *db_, 0);
  ASSERT_TRUE(down.ok());
  ASSERT_EQ(down->size(), 2u);
  EXPECT_EQ((*down)[0].version, 2);
  ASSERT_TRUE(m.Execute(*db_, *down).ok());
  EXPECT_EQ(db_->GetCatalog()->Find("a"), nullptr);
  EXPECT_TRUE(db_->ListApplied(absl::InfiniteFuture())->empty());
}

TEST_F(MigratorTest, RefusesAChangedAppliedFile) {
  ASSERT_TRUE(Load().ApplyAll("t", *db_).ok());
  Write("0001_a.up.sql", "CREATE TABLE a(id INTEGER PRIMARY KEY, extra TEXT);");
  Migrator changed = Load();
  auto plan = changed.PlanUp("t", *db_, 0);
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(plan.status().message()), ::testing::HasSubstr("changed after it was applied"));
  auto state = changed.State("t", *db_);
  ASSERT_TRUE(state.ok());
  EXPECT_TRUE(state->applied[0].checksum_mismatch);
  EXPECT_FALSE(state->error.empty());
}

TEST_F(MigratorTest, AFailingMigrationLeavesNothingBehind) {
  Write("0003_bad.up.sql", "CREATE TABLE c(id INTEGER PRIMARY KEY); CREATE TABLE broken(;");
  Migrator m = Load();
  absl::Status s = m.ApplyAll("t", *db_);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  // The message names the target, version and file, and quotes SQLite.
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("t: migration 3 'bad' (0003_bad.up.sql) failed: near"));
  EXPECT_EQ(db_->GetCatalog()->Find("c"), nullptr);  // the good half rolled back too
  EXPECT_EQ(db_->ListApplied(absl::InfiniteFuture())->size(), 2u);
}

TEST_F(MigratorTest, RefusesUnknownTargetVersionsAndIrreversibleSteps) {
  Write("0003_c.up.sql", "CREATE TABLE c(id INTEGER PRIMARY KEY);");
  Migrator m = Load();
  EXPECT_EQ(m.PlanUp("t", *db_, 9).status().code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(m.ApplyAll("t", *db_).ok());
  EXPECT_EQ(m.PlanDown("t", *db_, 1).status().code(), absl::StatusCode::kFailedPrecondition);
  auto to2 = m.PlanUp("t", *db_, 2);
  ASSERT_TRUE(to2.ok());
  EXPECT_TRUE(to2->empty());
}

TEST_F(MigratorTest, AddsBookkeepingColumnsToNewTables) {
  ASSERT_TRUE(Load().ApplyAll("t", *db_).ok());
  auto rows = db_->Write({store::WriteOp{store::WriteKind::kInsert, "a", {}, {{"id", Value{int64_t{5}}}}, 0}});
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ((*rows)[0].version, 1);
  EXPECT_GT((*rows)[0].create_time_us, 0);
}

}  // namespace
}  // namespace datagate::migrate
