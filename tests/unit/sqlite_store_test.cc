#include "store/sqlite/sqlite_store.h"

#include "absl/strings/str_cat.h"
#include "core/tenants.h"
#include "migrate/migrations.h"
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

// A delete's first part (the cloud's) decides: failed, the tenant is served
// again unchanged; outcome unknown, it stays unserved, across a restart,
// until a delete finishes; done, the rest goes through past the deadline.
TEST(SqliteStoreTest, ADeleteWhoseFirstPartFailsOrIsInDoubtLeavesNoHalfServedTenant) {
  testing::TempDir dir;
  auto store = OpenStore(dir.path(), 8);
  Provision(*store, "kept");
  const absl::Status down = absl::UnavailableError("cloud down");
  EXPECT_EQ(store->DeleteTenant("kept", kForever, [&] { return down; }), down);
  auto kept = store->OpenTenant("kept", kForever);
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_TRUE(GetOne(**kept)->has_value());
  EXPECT_FALSE((*store->LookupTenant("kept", kForever))->deleting);

  const absl::Status lost = absl::UnknownError("answer lost");
  EXPECT_EQ(store->DeleteTenant("kept", kForever, [&] { return lost; }), lost);
  EXPECT_EQ(GetOne(**kept).status().code(), absl::StatusCode::kNotFound) << "calls under way were stopped";
  const absl::Status unserved = absl::NotFoundError(
      "tenant 'kept' is being deleted (a DeleteTenant did not finish): call DeleteTenant again to finish");
  EXPECT_EQ(store->OpenTenant("kept", kForever).status(), unserved);
  store.reset();
  store = OpenStore(dir.path(), 8);
  EXPECT_EQ(store->OpenTenant("kept", kForever).status(), unserved);
  EXPECT_TRUE((*store->LookupTenant("kept", kForever))->deleting);
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/tenants/kept.db"));
  const migrate::Migrator none(std::vector<migrate::MigrationFile>{});
  EXPECT_TRUE(migrate::Migrations(store.get(), &none, &none).ApplyAllAtStart().ok()) << "a start passes it by";
  core::Tenants tenants(store.get(), [](const std::string&, Database&, absl::Time) { return absl::OkStatus(); });
  EXPECT_EQ(tenants.Get("kept", kForever).status(), unserved);
  EXPECT_EQ(tenants.Create(core::CreateTenantSpec{"kept", "kept", "", kForever}).status(),
            absl::FailedPreconditionError("tenant 'kept' is being deleted (a DeleteTenant did not finish): call "
                                          "DeleteTenant again, then create it"));

  const absl::Time deadline = absl::Now() + absl::Milliseconds(50);
  EXPECT_TRUE(store
                  ->DeleteTenant("kept", deadline,
                                 [&] {
                                   absl::SleepFor(absl::Milliseconds(100));
                                   return absl::OkStatus();
                                 })
                  .ok());
  EXPECT_FALSE(store->LookupTenant("kept", kForever)->has_value());
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/tenants/kept.db"));
  Provision(*store, "kept");
  EXPECT_FALSE((*store->LookupTenant("kept", kForever))->deleting);
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
  ASSERT_TRUE(store->SetTenantSchemaVersion("v1", 7, kForever).ok());
  auto record = store->LookupTenant("v1", kForever);
  ASSERT_TRUE(record.ok() && record->has_value());
  EXPECT_EQ((*record)->schema_version, 7);
  EXPECT_EQ(store->SetTenantSchemaVersion("nobody", 1, kForever).code(), absl::StatusCode::kNotFound);
}

MigrationScript Script(int64_t version, const char* sql, bool up = true) {
  return MigrationScript{AppliedMigration{version, "rebuild", "c", 0}, sql, up, "tenant 'r1'", "rebuild.sql"};
}

// The usual SQLite recipe for a change ALTER TABLE cannot make: a new table,
// the rows copied, the old one dropped and the new one renamed.
constexpr char kRebuildDroppingVersions[] = R"sql(
CREATE TABLE t_new (id INTEGER PRIMARY KEY, v TEXT NOT NULL DEFAULT '');
INSERT INTO t_new (id, v) SELECT id, coalesce(v, '') FROM t;
DROP TABLE t;
ALTER TABLE t_new RENAME TO t;
)sql";

constexpr char kRebuildKeepingVersions[] = R"sql(
CREATE TABLE t_new (id INTEGER PRIMARY KEY, v TEXT NOT NULL DEFAULT '',
  _dg_version INTEGER NOT NULL DEFAULT 1, _dg_create_us INTEGER NOT NULL DEFAULT 0,
  _dg_update_us INTEGER NOT NULL DEFAULT 0);
INSERT INTO t_new SELECT id, coalesce(v, ''), _dg_version, _dg_create_us, _dg_update_us FROM t;
DROP TABLE t;
ALTER TABLE t_new RENAME TO t;
)sql";

TEST(SqliteStoreTest, ARebuildThatWouldResetRowVersionsIsRefusedAndChangesNothing) {
  testing::TempDir dir;
  auto store = OpenStore(dir.path(), 8);
  Provision(*store, "r1");
  auto db = store->OpenTenant("r1", kForever);
  ASSERT_TRUE(db.ok()) << db.status();
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE((*db)
                    ->Write({WriteOp{
                        WriteKind::kUpdate, "t", {{"id", Value{int64_t{1}}}}, {{"v", Value{absl::StrCat("u", i)}}}, 0}})
                    .ok());
  }
  auto before = GetOne(**db);
  ASSERT_TRUE(before.ok() && before->has_value());
  ASSERT_EQ((*before)->version, 3);

  for (bool up : {true, false}) {
    const absl::Status s = (*db)->Migrate(Script(2, kRebuildDroppingVersions, up), kForever);
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
    EXPECT_THAT(std::string(s.message()),
                ::testing::HasSubstr("leaves table 't' holding rows without the gateway's columns"));
    EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("rebuild.sql"));
    auto after = GetOne(**db);
    ASSERT_TRUE(after.ok() && after->has_value()) << after.status();
    EXPECT_EQ(**after, **before);  // rolled back: same version, times and value
  }
  auto applied = (*db)->ListApplied(kForever);
  ASSERT_TRUE(applied.ok());
  EXPECT_EQ(applied->size(), 1u);

  // Declaring and copying the columns keeps every version.
  ASSERT_TRUE((*db)->Migrate(Script(2, kRebuildKeepingVersions), kForever).ok());
  auto kept = GetOne(**db);
  ASSERT_TRUE(kept.ok() && kept->has_value());
  EXPECT_EQ((*kept)->version, 3);
  EXPECT_EQ((*kept)->create_time_us, (*before)->create_time_us);
  // The next write goes on from there.
  auto next = (*db)->Write({WriteOp{WriteKind::kUpdate, "t", {{"id", Value{int64_t{1}}}}, {{"v", Value{"x"}}}, 3}});
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ((*next)[0].version, 4);
}

TEST(SqliteStoreTest, AnEmptyTableMayBeDroppedAndMadeAgainWithoutTheColumns) {
  testing::TempDir dir;
  auto store = OpenStore(dir.path(), 8);
  Provision(*store, "r1");
  auto db = store->OpenTenant("r1", kForever);
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE((*db)->Write({WriteOp{WriteKind::kDelete, "t", {{"id", Value{int64_t{1}}}}, {}, 0}}).ok());
  // Made again with seed rows: the old table had none, so nothing is lost.
  ASSERT_TRUE((*db)
                  ->Migrate(Script(2, R"sql(
DROP TABLE t;
CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL DEFAULT '');
INSERT INTO t (id, v) VALUES (7, 'seed');
)sql"),
                            kForever)
                  .ok());
  ASSERT_TRUE((*db)->Write({WriteOp{WriteKind::kDelete, "t", {{"id", Value{int64_t{7}}}}, {}, 0}}).ok());
  // The gateway's columns were added to the new table: writes and reads work.
  auto created =
      (*db)->Write({WriteOp{WriteKind::kInsert, "t", {}, {{"id", Value{int64_t{1}}}, {"v", Value{"n"}}}, 0}});
  ASSERT_TRUE(created.ok()) << created.status();
  auto row = GetOne(**db);
  ASSERT_TRUE(row.ok() && row->has_value()) << row.status();
  // Key 1 was deleted at version 1 (its tombstone holds 2): versions never
  // repeat for a key, so the cloud can tell the new row from the old one.
  EXPECT_EQ((*row)->version, 3);
}

// Variants of losing the gateway's columns: each is refused while the rows
// are there, and leaves the table as it was.
TEST(SqliteStoreTest, EveryWayOfLosingRowVersionsIsRefused) {
  const char* kVariants[] = {
      // Only _dg_version declared and copied.
      R"sql(CREATE TABLE t_new (id INTEGER PRIMARY KEY, v TEXT, _dg_version INTEGER NOT NULL DEFAULT 1);
            INSERT INTO t_new SELECT id, v, _dg_version FROM t; DROP TABLE t; ALTER TABLE t_new RENAME TO t;)sql",
      // One of the columns dropped.
      "ALTER TABLE t DROP COLUMN _dg_create_us;",
      // The first half of a rebuild split over two migrations.
      R"sql(CREATE TABLE t_new (id INTEGER PRIMARY KEY, v TEXT);
            INSERT INTO t_new SELECT id, v FROM t; DROP TABLE t;)sql",
      // The old table renamed away, a new one filled from it.
      R"sql(ALTER TABLE t RENAME TO t_old; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);
            INSERT INTO t SELECT id, v FROM t_old;)sql",
  };
  for (const char* sql : kVariants) {
    testing::TempDir dir;
    auto store = OpenStore(dir.path(), 8);
    Provision(*store, "r1");
    auto db = store->OpenTenant("r1", kForever);
    ASSERT_TRUE(db.ok());
    auto before = GetOne(**db);
    ASSERT_TRUE(before.ok() && before->has_value());
    const absl::Status s = (*db)->Migrate(Script(2, sql), kForever);
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << sql << "\n" << s;
    EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("without the gateway's columns")) << sql;
    auto after = GetOne(**db);
    ASSERT_TRUE(after.ok() && after->has_value()) << after.status();
    EXPECT_EQ(**after, **before);
  }
}

// Virtual tables (FTS5) and their shadow tables get no gateway columns and
// are not served; the migration succeeds and plain tables keep working.
TEST(SqliteStoreTest, AVirtualTableMigratesAndIsNotServed) {
  testing::TempDir dir;
  auto store = OpenStore(dir.path(), 8);
  Provision(*store, "r1");
  auto db = store->OpenTenant("r1", kForever);
  ASSERT_TRUE(db.ok());
  const absl::Status s = (*db)->Migrate(
      Script(2, "CREATE VIRTUAL TABLE docs USING fts5(body); INSERT INTO docs (body) VALUES ('hello');"), kForever);
  ASSERT_TRUE(s.ok()) << s;
  auto catalog = (*db)->GetCatalog();
  EXPECT_NE(catalog->Find("t"), nullptr);
  for (const auto& [name, table] : catalog->tables) EXPECT_EQ(name, "t");
  auto row = GetOne(**db);
  ASSERT_TRUE(row.ok() && row->has_value()) << row.status();
  // Dropping it again works too.
  EXPECT_TRUE((*db)->Migrate(Script(3, "DROP TABLE docs;"), kForever).ok());
}

}  // namespace
}  // namespace datagate::store::sqlite
