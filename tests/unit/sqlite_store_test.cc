#include "store/sqlite/sqlite_store.h"

#include "test_env.h"

namespace datagate::store::sqlite {
namespace {

constexpr char kTable[] = "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);";

std::unique_ptr<SqliteStore> OpenStore(const std::string& dir, size_t max_open) {
  StoreOptions options;
  options.max_open_tenants = max_open;
  auto store = SqliteStore::Open(dir, options);
  EXPECT_TRUE(store.ok()) << store.status();
  return *std::move(store);
}

const absl::Time kForever = absl::InfiniteFuture();

absl::Status Prepare(Database& db, const std::string& id) {
  absl::Status s = db.Migrate(MigrationScript{AppliedMigration{1, "t", "c", 0}, kTable, true, "t", "t.sql"}, kForever);
  if (!s.ok()) return s;
  return db.Write({WriteOp{WriteKind::kInsert, "t", {}, {{"id", Value{int64_t{1}}}, {"v", Value{id}}}, 0}}).status();
}

void Provision(SqliteStore& store, const std::string& id) {
  auto created = store.CreateTenant(
      TenantRecord{id, id, "", 1, 1}, [&](Database& db, TenantRecord*) { return Prepare(db, id); }, kForever);
  ASSERT_TRUE(created.ok()) << created.status();
}

absl::StatusOr<std::optional<StoredRow>> GetOne(Database& db) {
  return db.Get(RowRead{"t", {{"id", Value{int64_t{1}}}}, {}});
}

TEST(SqliteStoreTest, KeepsAtMostTheOpenLimitAndReopensOnUse) {
  testing::TempDir dir;
  auto store = OpenStore(dir.path(), 2);
  for (const char* id : {"t1", "t2", "t3", "t4", "t5"}) Provision(*store, id);
  EXPECT_LE(store->open_tenants(), 2u);
  for (int round = 0; round < 2; ++round) {
    for (const char* id : {"t1", "t2", "t3", "t4", "t5"}) {
      auto db = store->OpenTenant(id, kForever);
      ASSERT_TRUE(db.ok()) << db.status();
      auto row = GetOne(**db);
      ASSERT_TRUE(row.ok() && row->has_value());
      EXPECT_EQ((*row)->fields[1].value, Value{std::string(id)});
    }
    EXPECT_LE(store->open_tenants(), 2u);
  }
}

TEST(SqliteStoreTest, ADatabaseInUseIsNotClosedUnderItsCaller) {
  testing::TempDir dir;
  auto store = OpenStore(dir.path(), 1);
  for (const char* id : {"a1", "b1", "c1"}) Provision(*store, id);
  auto held = store->OpenTenant("a1", kForever);
  ASSERT_TRUE(held.ok());
  ASSERT_TRUE(store->OpenTenant("b1", kForever).ok());
  ASSERT_TRUE(store->OpenTenant("c1", kForever).ok());
  // a1 was in use the whole time, so it stayed open and usable.
  EXPECT_TRUE(GetOne(**held).ok());
}

TEST(SqliteStoreTest, CallsOnADeletedTenantGetNotFound) {
  testing::TempDir dir;
  auto store = OpenStore(dir.path(), 8);
  Provision(*store, "gone");
  auto held = store->OpenTenant("gone", kForever);
  ASSERT_TRUE(held.ok());
  ASSERT_TRUE(store->DeleteTenant("gone", kForever).ok());
  EXPECT_EQ(GetOne(**held).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ((*held)->Write({WriteOp{WriteKind::kInsert, "t", {}, {{"id", Value{int64_t{2}}}}, 0}}).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store->OpenTenant("gone", kForever).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->DeleteTenant("gone", kForever).code(), absl::StatusCode::kNotFound);
}

TEST(SqliteStoreTest, StartRemovesFilesOfUnregisteredTenants) {
  testing::TempDir dir;
  {
    auto store = OpenStore(dir.path(), 8);
    Provision(*store, "kept");
    // As if a create had crashed before registering "gone".
    ASSERT_TRUE(SqliteDatabase::Open(dir.path() + "/tenants/gone.db", {}).ok());
  }
  ASSERT_TRUE(std::filesystem::exists(dir.path() + "/tenants/gone.db"));
  auto store = OpenStore(dir.path(), 8);
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/tenants/gone.db"));
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/tenants/kept.db"));
  auto kept = store->OpenTenant("kept", kForever);
  ASSERT_TRUE(kept.ok());
  EXPECT_TRUE(GetOne(**kept)->has_value());
}

TEST(SqliteStoreTest, OneStorePerDataFolder) {
  testing::TempDir dir;
  auto first = OpenStore(dir.path(), 8);
  auto second = SqliteStore::Open(dir.path(), StoreOptions());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(second.status().message()), ::testing::HasSubstr("in use by another datagate"));
  first->Close();
  EXPECT_TRUE(SqliteStore::Open(dir.path(), StoreOptions()).ok());
}

TEST(SqliteStoreTest, RegistryKeepsSchemaVersion) {
  testing::TempDir dir;
  auto store = OpenStore(dir.path(), 8);
  Provision(*store, "v1");
  ASSERT_TRUE(store->SetTenantSchemaVersion("v1", 7).ok());
  auto record = store->LookupTenant("v1");
  ASSERT_TRUE(record.ok() && record->has_value());
  EXPECT_EQ((*record)->schema_version, 7);
  EXPECT_EQ(store->SetTenantSchemaVersion("nobody", 1).code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace datagate::store::sqlite
