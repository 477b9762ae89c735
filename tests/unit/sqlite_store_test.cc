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

void Provision(SqliteStore& store, const std::string& id) {
  auto db = store.CreateTenantDatabase(id);
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE((*db)->Migrate(AppliedMigration{1, "t", "c", 0}, kTable, true).ok());
  WriteRequest w;
  w.ops.push_back(WriteOp{WriteKind::kInsert, "t", {}, {{"id", Value{int64_t{1}}}, {"v", Value{id}}}, 0});
  ASSERT_TRUE((*db)->Write(w).ok());
  ASSERT_TRUE(store.RegisterTenant(TenantRecord{id, id, "", 1, 1}).ok());
}

TEST(SqliteStoreTest, KeepsAtMostTheOpenLimitAndReopensOnUse) {
  testing::TempDir dir;
  auto store = OpenStore(dir.path(), 2);
  for (const char* id : {"t1", "t2", "t3", "t4", "t5"}) Provision(*store, id);
  EXPECT_LE(store->open_tenants(), 2u);
  for (int round = 0; round < 2; ++round) {
    for (const char* id : {"t1", "t2", "t3", "t4", "t5"}) {
      auto db = store->TenantDatabase(id);
      ASSERT_TRUE(db.ok()) << db.status();
      auto row = (*db)->Get("t", {{"id", Value{int64_t{1}}}}, {});
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
  auto held = store->TenantDatabase("a1");
  ASSERT_TRUE(held.ok());
  ASSERT_TRUE(store->TenantDatabase("b1").ok());
  ASSERT_TRUE(store->TenantDatabase("c1").ok());
  // a1 was in use the whole time, so it stayed open and usable.
  EXPECT_TRUE((*held)->Get("t", {{"id", Value{int64_t{1}}}}, {}).ok());
}

TEST(SqliteStoreTest, CallsOnADeletedTenantGetNotFound) {
  testing::TempDir dir;
  auto store = OpenStore(dir.path(), 8);
  Provision(*store, "gone");
  auto held = store->TenantDatabase("gone");
  ASSERT_TRUE(held.ok());
  ASSERT_TRUE(store->DeleteTenant("gone").ok());
  EXPECT_EQ((*held)->Get("t", {{"id", Value{int64_t{1}}}}, {}).status().code(), absl::StatusCode::kNotFound);
  WriteRequest w;
  w.ops.push_back(WriteOp{WriteKind::kInsert, "t", {}, {{"id", Value{int64_t{2}}}}, 0});
  EXPECT_EQ((*held)->Write(w).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->TenantDatabase("gone").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->DeleteTenant("gone").code(), absl::StatusCode::kNotFound);
}

TEST(SqliteStoreTest, StartRemovesFilesOfUnregisteredTenants) {
  testing::TempDir dir;
  {
    auto store = OpenStore(dir.path(), 8);
    Provision(*store, "kept");
    // As if a delete had unregistered "gone" and then crashed.
    ASSERT_TRUE(store->CreateTenantDatabase("gone").ok());
  }
  ASSERT_TRUE(std::filesystem::exists(dir.path() + "/tenants/gone.db"));
  auto store = OpenStore(dir.path(), 8);
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/tenants/gone.db"));
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/tenants/kept.db"));
  auto kept = store->TenantDatabase("kept");
  ASSERT_TRUE(kept.ok());
  EXPECT_TRUE((*kept)->Get("t", {{"id", Value{int64_t{1}}}}, {})->has_value());
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
