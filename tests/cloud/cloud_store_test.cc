// The cloud store's own rules, beyond the conformance suite: tenants apart,
// tombstones, ApplySync's newer-only replays, SQLite-equal text semantics,
// the pool's deadline, an outage and the reconnect after it, and migrations
// racing from two replicas.
#include <unistd.h>

#include <algorithm>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pg_server.h"
#include "store/postgres/pg_pool.h"
#include "store/postgres/pg_store.h"
#include "store/sqlite/sqlite_database.h"
#include "test_env.h"

namespace datagate::store::postgres {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kSchema[] = R"sql(
CREATE TABLE items (
  tenant_id TEXT NOT NULL, id BIGINT NOT NULL, name TEXT NOT NULL, rank BIGINT,
  PRIMARY KEY (tenant_id, id), CONSTRAINT rank_small CHECK (rank < 100));
)sql";

std::string ConnInfo() {
  static const std::string conninfo = [] {
    auto c = testing::PgServer::Shared().CreateDatabase("cloud_store_test");
    if (!c.ok()) ADD_FAILURE() << c.status();
    return c.value_or("");
  }();
  return conninfo;
}

MigrationScript Script(int64_t version, std::string sql) {
  return MigrationScript{AppliedMigration{version, "v" + std::to_string(version), "sum", 0}, std::move(sql), true,
                         "cloud", "test.postgres.sql"};
}

class CloudStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static int counter = 0;
    options_.connection_string = ConnInfo();
    options_.schema = "cloud_" + std::to_string(++counter);
    auto store = PgCloudStore::Create(options_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    ASSERT_TRUE(store_->Schema()->Migrate(Script(1, kSchema), absl::InfiniteFuture()).ok());
    a_ = *store_->Tenant("tenant-a", nullptr);
    b_ = *store_->Tenant("tenant-b", nullptr);
  }
  static WriteOp Insert(int64_t id, std::string name) {
    return WriteOp{WriteKind::kInsert, "items", {}, {{"id", Value{id}}, {"name", Value{std::move(name)}}}, 0};
  }
  static WriteOp Del(int64_t id) { return WriteOp{WriteKind::kDelete, "items", {{"id", Value{id}}}, {}, 0}; }
  static SyncOp Up(int64_t id, std::string name, int64_t version, Value rank = Value{}) {
    SyncOp op;
    op.table = "items";
    op.key = {{"id", Value{id}}};
    op.values = {{"id", Value{id}}, {"name", Value{std::move(name)}}, {"rank", std::move(rank)}};
    op.version = version;
    return op;
  }
  static SyncOp Gone(int64_t id, int64_t version) {
    SyncOp op;
    op.table = "items";
    op.key = {{"id", Value{id}}};
    op.deleted = true;
    op.version = version;
    return op;
  }
  // An upsert of row `id` of `table` with `values` (the key among them), at version 1.
  static SyncOp Op(std::string table, int64_t id, std::vector<Field> values) {
    SyncOp op;
    op.table = std::move(table);
    op.key = {{"id", Value{id}}};
    op.values = std::move(values);
    op.version = 1;
    return op;
  }
  // ApplySync of `ops` for tenant-a within 5 s, while another session holds
  // the rows of `table` that `where` picks (FOR UPDATE).
  std::vector<SyncOutcome> SyncWhileHeld(const std::string& table, const std::string& where,
                                         const std::vector<SyncOp>& ops) {
    pqxx::connection other(ConnInfo());
    pqxx::work locker(other);
    locker.exec("SELECT 1 FROM " + table + " WHERE " + where + " FOR UPDATE");
    auto out = store_->ApplySync("tenant-a", ops, absl::Now() + absl::Seconds(5));
    EXPECT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(out.ok() ? out->size() : 0, ops.size());
    return out.ok() && out->size() == ops.size() ? *out : std::vector<SyncOutcome>(ops.size());
  }
  std::optional<StoredRow> Get(store::Database& db, int64_t id) {
    auto row = db.Get(RowRead{"items", {{"id", Value{id}}}, {}});
    EXPECT_TRUE(row.ok()) << row.status();
    return row.ok() ? *row : std::nullopt;
  }
  std::vector<SyncOutcome> Sync(const std::vector<SyncOp>& ops) {
    auto out = store_->ApplySync("tenant-a", ops, absl::InfiniteFuture());
    EXPECT_TRUE(out.ok()) << out.status();
    return out.value_or(std::vector<SyncOutcome>());
  }

  PgCloudStore::Options options_;
  std::unique_ptr<PgCloudStore> store_;
  std::shared_ptr<store::Database> a_, b_;
};

TEST_F(CloudStoreTest, TwoTenantsNeverSeeEachOthersRows) {
  ASSERT_TRUE(a_->Write({Insert(1, "a-one")}).ok());
  ASSERT_TRUE(b_->Write({Insert(1, "b-one")}).ok());  // same key, other tenant
  EXPECT_EQ(std::get<std::string>(Get(*a_, 1)->fields[1].value), "a-one");
  EXPECT_EQ(std::get<std::string>(Get(*b_, 1)->fields[1].value), "b-one");
  ASSERT_TRUE(a_->Write({Insert(2, "a-two")}).ok());
  EXPECT_FALSE(Get(*b_, 2).has_value());
  EXPECT_EQ(b_->Write({Del(2)}).status().code(), absl::StatusCode::kNotFound);
  Query q;
  q.table = "items";
  q.order = {Order{"id", false}};
  q.count_total = true;
  EXPECT_EQ(b_->List(q)->total, 1);
  EXPECT_EQ(a_->List(q)->total, 2);
  EXPECT_EQ(store_->Tenant("Bad_Id", nullptr).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(CloudStoreTest, TombstonesHideRowsAndReviveAtTheirVersionPlusOne) {
  ASSERT_TRUE(a_->Write({Insert(1, "x")}).ok());
  auto deleted = a_->Write({Del(1)});
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ((*deleted)[0].version, 1);  // the version deleted; the tombstone has 2
  EXPECT_FALSE(Get(*a_, 1).has_value());
  EXPECT_EQ(a_->Write({Del(1)}).status().code(), absl::StatusCode::kNotFound);
  WriteOp update{WriteKind::kUpdate, "items", {{"id", Value{int64_t{1}}}}, {{"name", Value{std::string("y")}}}, 0};
  EXPECT_EQ(a_->Write({update}).status().code(), absl::StatusCode::kNotFound);
  auto revived = a_->Write({Insert(1, "again")});
  ASSERT_TRUE(revived.ok()) << revived.status();
  EXPECT_EQ((*revived)[0].version, 3);
  EXPECT_EQ(a_->Write({Insert(1, "dup")}).status().code(), absl::StatusCode::kAlreadyExists);
  Query q;
  q.table = "items";
  q.order = {Order{"id", false}};
  q.count_total = true;
  EXPECT_EQ(a_->List(q)->total, 1);
}

TEST_F(CloudStoreTest, CreateWithoutItsKeyIsRefusedNotGuessed) {
  WriteOp op{WriteKind::kInsert, "items", {}, {{"name", Value{std::string("no key")}}}, 0};
  auto r = a_->Write({op});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("needs an explicit key in the cloud"));
}

TEST_F(CloudStoreTest, ConstraintsAreNamedAndMapped) {
  WriteOp op = Insert(1, "x");
  op.values.push_back({"rank", Value{int64_t{500}}});
  auto r = a_->Write({op});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("rank_small"));
  EXPECT_THAT(std::string(r.status().message()), ::testing::Not(HasSubstr("INSERT")));
}

TEST_F(CloudStoreTest, ApplySyncTwiceLeavesTheCloudUnchanged) {
  const std::string odd = "quote\" back\\slash {brace}, comma NULL \xc3\xa9";
  const std::vector<SyncOp> batch = {Up(1, odd, 1), Up(2, "two", 3), Gone(3, 2)};
  auto first = Sync(batch);
  ASSERT_EQ(first.size(), 3u);
  for (const SyncOutcome& o : first) EXPECT_EQ(o.kind, SyncOutcome::kApplied);
  const std::optional<StoredRow> before = Get(*a_, 2);
  auto second = Sync(batch);
  ASSERT_EQ(second.size(), 3u);
  EXPECT_EQ(second[0].kind, SyncOutcome::kStale);
  EXPECT_EQ(second[0].cloud_version, 1);
  EXPECT_EQ(second[1].kind, SyncOutcome::kStale);
  EXPECT_EQ(second[1].cloud_version, 3);
  EXPECT_EQ(second[2].kind, SyncOutcome::kStale);
  EXPECT_EQ(second[2].cloud_version, 2);
  EXPECT_EQ(Get(*a_, 2), before);
  EXPECT_EQ(before->version, 3);
  EXPECT_EQ(Get(*a_, 1)->fields[1].value, Value{odd});
  EXPECT_EQ(Get(*a_, 1)->fields[2].value, Value{});
}

TEST_F(CloudStoreTest, OlderVersionNeverOverwritesNewer) {
  ASSERT_EQ(Sync({Up(1, "new", 5)})[0].kind, SyncOutcome::kApplied);
  auto out = Sync({Up(1, "old", 3)});
  EXPECT_EQ(out[0].kind, SyncOutcome::kStale);
  EXPECT_EQ(out[0].cloud_version, 5);
  EXPECT_EQ(std::get<std::string>(Get(*a_, 1)->fields[1].value), "new");
  ASSERT_EQ(Sync({Up(1, "newer", 6)})[0].kind, SyncOutcome::kApplied);
  EXPECT_EQ(Get(*a_, 1)->version, 6);
}

TEST_F(CloudStoreTest, OlderUpsertAfterDeleteNeverResurrects) {
  // A row the cloud had: the delete leaves it as a tombstone.
  ASSERT_EQ(Sync({Up(1, "x", 1)})[0].kind, SyncOutcome::kApplied);
  ASSERT_EQ(Sync({Gone(1, 2)})[0].kind, SyncOutcome::kApplied);
  auto replay = Sync({Up(1, "x", 1)});
  EXPECT_EQ(replay[0].kind, SyncOutcome::kStale);
  EXPECT_EQ(replay[0].cloud_version, 2);
  EXPECT_FALSE(Get(*a_, 1).has_value());
  // A row the cloud never had: the delete is remembered all the same.
  ASSERT_EQ(Sync({Gone(7, 4)})[0].kind, SyncOutcome::kApplied);
  auto older = Sync({Up(7, "ghost", 3)});
  EXPECT_EQ(older[0].kind, SyncOutcome::kStale);
  EXPECT_EQ(older[0].cloud_version, 4);
  EXPECT_FALSE(Get(*a_, 7).has_value());
  EXPECT_EQ(Sync({Gone(7, 3)})[0].kind, SyncOutcome::kStale);
  ASSERT_EQ(Sync({Up(7, "back", 5)})[0].kind, SyncOutcome::kApplied);
  EXPECT_EQ(Get(*a_, 7)->version, 5);
  // A local create over such a key starts after the delete's version.
  ASSERT_EQ(Sync({Gone(8, 9)})[0].kind, SyncOutcome::kApplied);
  auto created = a_->Write({Insert(8, "fresh")});
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ((*created)[0].version, 10);
}

TEST_F(CloudStoreTest, ARejectedOpIsReportedAlone) {
  auto out = Sync({Up(1, "ok", 1), Up(2, "too big", 1, Value{int64_t{500}}), Up(3, "ok", 1), Gone(4, 1)});
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].kind, SyncOutcome::kApplied);
  EXPECT_EQ(out[1].kind, SyncOutcome::kRejected);
  EXPECT_EQ(out[1].error.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(out[1].error.message()), HasSubstr("rank_small"));
  EXPECT_EQ(out[2].kind, SyncOutcome::kApplied);
  EXPECT_EQ(out[3].kind, SyncOutcome::kApplied);
  EXPECT_TRUE(Get(*a_, 3).has_value());
  EXPECT_FALSE(Get(*a_, 2).has_value());
  SyncOp unknown = Up(5, "x", 1);
  unknown.table = "nope";
  auto alone = Sync({unknown, Up(6, "y", 1)});
  EXPECT_EQ(alone[0].kind, SyncOutcome::kRejected);
  EXPECT_EQ(alone[0].error.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(alone[1].kind, SyncOutcome::kApplied);
}

// A big batch with a few bad ops scattered through it: the call is redone
// carefully (halves under savepoints) and exactly the bad ops are rejected.
TEST_F(CloudStoreTest, AFewBadOpsInABigBatchAreRejectedExactly) {
  std::vector<SyncOp> ops;
  const std::set<int64_t> bad = {7, 500, 501, 998};
  for (int64_t id = 1; id <= 1000; ++id) {
    ops.push_back(Up(id, "n" + std::to_string(id), 1, Value{bad.count(id) ? int64_t{1000} : int64_t{1}}));
  }
  auto out = Sync(ops);
  ASSERT_EQ(out.size(), ops.size());
  for (size_t i = 0; i < ops.size(); ++i) {
    const int64_t id = static_cast<int64_t>(i) + 1;
    EXPECT_EQ(out[i].kind, bad.count(id) ? SyncOutcome::kRejected : SyncOutcome::kApplied) << id;
  }
  EXPECT_FALSE(Get(*a_, 500).has_value());
  EXPECT_TRUE(Get(*a_, 499).has_value());
  EXPECT_TRUE(Get(*a_, 1000).has_value());
  // The same batch again: the good ops are stale now, the bad ones still refused.
  out = Sync(ops);
  for (size_t i = 0; i < ops.size(); ++i) {
    const int64_t id = static_cast<int64_t>(i) + 1;
    EXPECT_EQ(out[i].kind, bad.count(id) ? SyncOutcome::kRejected : SyncOutcome::kStale) << id;
  }
}

// Item names unique per tenant among live rows, checked at commit: an
// exclusion constraint by `=`, deferred (as the example's customer emails).
constexpr char kNamesUniqueAtCommit[] =
    "ALTER TABLE items ADD CONSTRAINT items_name EXCLUDE USING btree (tenant_id WITH =, name WITH =) "
    "WHERE (NOT _dg_deleted) DEFERRABLE INITIALLY DEFERRED";

// A tags table whose foreign key to items is checked at commit.
constexpr char kTagsCheckedAtCommit[] =
    "CREATE TABLE tags (tenant_id TEXT NOT NULL, id BIGINT NOT NULL, item_id BIGINT NOT NULL, PRIMARY KEY "
    "(tenant_id, id), FOREIGN KEY (tenant_id, item_id) REFERENCES items (tenant_id, id) DEFERRABLE INITIALLY DEFERRED)";

WriteOp Rename(int64_t id, std::string name) {
  return WriteOp{WriteKind::kUpdate, "items", {{"id", Value{id}}}, {{"name", Value{std::move(name)}}}, 0};
}

// A value taken under a rule the cloud checks at commit is checked at each
// operation of a write, as the local store checks it: ALREADY_EXISTS naming
// the column and, in a batch, the operation. Rows cannot swap values in one
// write (the sync's calls can: see below); another tenant may hold the same
// value.
TEST_F(CloudStoreTest, AUniqueValueCheckedAtCommitIsCheckedAtEachOperationOfAWrite) {
  ASSERT_TRUE(store_->Schema()->Migrate(Script(2, kNamesUniqueAtCommit), absl::InfiniteFuture()).ok());
  ASSERT_TRUE(a_->Write({Insert(1, "x"), Insert(2, "y")}).ok());
  const absl::Status taken = absl::AlreadyExistsError("table 'items' already has a row with the same name");
  EXPECT_EQ(a_->Write({Insert(3, "x")}).status(), taken);
  EXPECT_EQ(a_->Write({Rename(2, "x")}).status(), taken);
  EXPECT_EQ(a_->Write({Insert(3, "z"), Rename(2, "z")}).status(),
            absl::AlreadyExistsError("operations[1]: table 'items' already has a row with the same name"));
  EXPECT_FALSE(Get(*a_, 3).has_value()) << "nothing of a refused write stays";
  EXPECT_EQ(a_->Write({Rename(1, "y"), Rename(2, "x")}).status(),
            absl::AlreadyExistsError("operations[0]: table 'items' already has a row with the same name"));
  EXPECT_EQ(std::get<std::string>(Get(*a_, 1)->fields[1].value), "x");
  EXPECT_EQ(std::get<std::string>(Get(*a_, 2)->fields[1].value), "y");
  ASSERT_TRUE(b_->Write({Insert(1, "x")}).ok());
  // A deleted row's value is free (its tombstone holds none).
  ASSERT_TRUE(a_->Write({Del(2)}).ok());
  EXPECT_TRUE(a_->Write({Insert(3, "y")}).ok());
  // Other constraints checked at commit keep their code.
  ASSERT_TRUE(store_->Schema()->Migrate(Script(3, kTagsCheckedAtCommit), absl::InfiniteFuture()).ok());
  WriteOp orphan{WriteKind::kInsert, "tags", {}, {{"id", Value{int64_t{1}}}, {"item_id", Value{int64_t{999}}}}, 0};
  EXPECT_EQ(a_->Write({orphan}).status().code(), absl::StatusCode::kFailedPrecondition);
}

// ApplySync with values checked at commit: rows that swap values arrive
// together (alone, each would meet the other's old value), and a value
// another row keeps rejects only the op that takes it, with the column
// named, wherever that op is in the batch. A foreign key checked at commit
// still fails the call whole, as a definite refusal.
TEST_F(CloudStoreTest, SwappedUniqueValuesArriveTogetherAndATakenOneIsRejectedAlone) {
  ASSERT_TRUE(store_->Schema()->Migrate(Script(2, kNamesUniqueAtCommit), absl::InfiniteFuture()).ok());
  for (const SyncOutcome& o : Sync({Up(1, "x", 1), Up(2, "y", 1), Up(3, "z", 1)})) {
    EXPECT_EQ(o.kind, SyncOutcome::kApplied) << o.error;
  }
  // 1 and 2 swap; 4 takes z, which 3 keeps; 5 is new and free.
  std::vector<SyncOp> batch = {Up(1, "y", 2), Up(4, "z", 1), Up(2, "x", 2), Up(5, "w", 1)};
  for (int turn = 0; turn < 4; ++turn) {
    auto out = Sync(batch);
    ASSERT_EQ(out.size(), batch.size());
    for (size_t i = 0; i < out.size(); ++i) {
      if (batch[i].key[0].value == Value{int64_t{4}}) {
        EXPECT_EQ(out[i].kind, SyncOutcome::kRejected) << turn;
        EXPECT_EQ(out[i].error, absl::AlreadyExistsError("table 'items' already has a row with the same name"));
      } else {
        EXPECT_EQ(out[i].kind, turn == 0 ? SyncOutcome::kApplied : SyncOutcome::kStale) << turn << " " << out[i].error;
      }
    }
    std::rotate(batch.begin(), batch.begin() + 1, batch.end());
  }
  EXPECT_EQ(std::get<std::string>(Get(*a_, 1)->fields[1].value), "y");
  EXPECT_EQ(std::get<std::string>(Get(*a_, 2)->fields[1].value), "x");
  EXPECT_FALSE(Get(*a_, 4).has_value());
  EXPECT_TRUE(Get(*a_, 5).has_value());
  ASSERT_TRUE(store_->Schema()->Migrate(Script(3, kTagsCheckedAtCommit), absl::InfiniteFuture()).ok());
  SyncOp orphan;
  orphan.table = "tags";
  orphan.key = {{"id", Value{int64_t{1}}}};
  orphan.values = {{"id", Value{int64_t{1}}}, {"item_id", Value{int64_t{999}}}};
  orphan.version = 1;
  auto refused = store_->ApplySync("tenant-a", {orphan, Up(6, "v", 1)}, absl::InfiniteFuture());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
  EXPECT_FALSE(Get(*a_, 6).has_value());
}

// A value another row keeps rejects its op; the row then keeps its old
// value, which rejects the op that takes that one, and so on down a chain
// of any length. A swap in the same call arrives all the same.
TEST_F(CloudStoreTest, AChainOfValuesBehindATakenOneIsRejectedAndASwapBesideItArrives) {
  ASSERT_TRUE(store_->Schema()->Migrate(Script(2, kNamesUniqueAtCommit), absl::InfiniteFuture()).ok());
  const std::vector<std::string> names = {"a", "b", "c", "d", "e", "f", "g"};
  std::vector<SyncOp> first = {Up(100, "z", 1)};
  for (size_t i = 0; i < names.size(); ++i) first.push_back(Up(static_cast<int64_t>(i) + 1, names[i], 1));
  for (const SyncOutcome& o : Sync(first)) ASSERT_EQ(o.kind, SyncOutcome::kApplied) << o.error;
  // 1 takes z, which 100 keeps; 2 to 5 each take the value before theirs;
  // 6 and 7 swap.
  std::vector<SyncOp> batch = {Up(1, "z", 2), Up(2, "a", 2), Up(3, "b", 2), Up(4, "c", 2),
                               Up(5, "d", 2), Up(6, "g", 2), Up(7, "f", 2)};
  const std::vector<SyncOutcome> out = Sync(batch);
  ASSERT_EQ(out.size(), batch.size());
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(out[i].kind, SyncOutcome::kRejected) << i;
    EXPECT_EQ(out[i].error, absl::AlreadyExistsError("table 'items' already has a row with the same name")) << i;
  }
  EXPECT_EQ(out[5].kind, SyncOutcome::kApplied) << out[5].error;
  EXPECT_EQ(out[6].kind, SyncOutcome::kApplied) << out[6].error;
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(std::get<std::string>(Get(*a_, static_cast<int64_t>(i) + 1)->fields[1].value), names[i]);
  }
  EXPECT_EQ(std::get<std::string>(Get(*a_, 6)->fields[1].value), "g");
  EXPECT_EQ(std::get<std::string>(Get(*a_, 7)->fields[1].value), "f");
}

// Rows another transaction keeps locked hold back only their own ops:
// those are rejected (ABORTED, to be retried) after one short wait, and the
// call's other ops arrive, a swap among them, well before the deadline.
TEST_F(CloudStoreTest, RowsLockedByAnotherTransactionRejectOnlyTheirOwnOps) {
  ASSERT_TRUE(store_->Schema()->Migrate(Script(2, kNamesUniqueAtCommit), absl::InfiniteFuture()).ok());
  std::vector<SyncOp> first, batch;
  for (int64_t id = 1; id <= 200; ++id) {
    first.push_back(Up(id, "n" + std::to_string(id), 1));
    // 3 and 4 swap their names.
    batch.push_back(Up(id, id == 3 ? "n4" : id == 4 ? "n3" : "m" + std::to_string(id), 2));
  }
  for (const SyncOutcome& o : Sync(first)) ASSERT_EQ(o.kind, SyncOutcome::kApplied) << o.error;
  auto locked = [](int64_t id) { return id % 16 == 1; };  // 13 rows, 1 to 193
  const std::vector<SyncOutcome> out =
      SyncWhileHeld(options_.schema + ".items", "tenant_id = 'tenant-a' AND id % 16 = 1", batch);
  std::vector<SyncOp> again;
  for (size_t i = 0; i < batch.size(); ++i) {
    const SyncOutcome& o = out[i];
    if (!locked(static_cast<int64_t>(i) + 1)) {
      EXPECT_EQ(o.kind, SyncOutcome::kApplied) << i << " " << o.error;
      continue;
    }
    EXPECT_EQ(o.kind, SyncOutcome::kRejected) << i;
    EXPECT_EQ(o.error.code(), absl::StatusCode::kAborted) << o.error;
    EXPECT_THAT(o.error.message(), HasSubstr("held by another transaction"));
    again.push_back(batch[i]);
  }
  EXPECT_EQ(again.size(), 13u);
  EXPECT_EQ(std::get<std::string>(Get(*a_, 3)->fields[1].value), "n4");
  EXPECT_EQ(std::get<std::string>(Get(*a_, 4)->fields[1].value), "n3");
  EXPECT_EQ(std::get<std::string>(Get(*a_, 1)->fields[1].value), "n1");
  for (const SyncOutcome& o : Sync(again)) EXPECT_EQ(o.kind, SyncOutcome::kApplied) << o.error;
  EXPECT_EQ(std::get<std::string>(Get(*a_, 1)->fields[1].value), "m1");
}

// Rows another transaction holds that ops refer to (a foreign key checked
// at commit) hold back only the ops that refer to them, too.
TEST_F(CloudStoreTest, ParentRowsLockedByAnotherTransactionRejectOnlyTheOpsReferringToThem) {
  ASSERT_TRUE(store_->Schema()->Migrate(Script(2, kTagsCheckedAtCommit), absl::InfiniteFuture()).ok());
  std::vector<SyncOp> items, tags;
  for (int64_t id = 1; id <= 20; ++id) items.push_back(Up(id, "n" + std::to_string(id), 1));
  for (const SyncOutcome& o : Sync(items)) ASSERT_EQ(o.kind, SyncOutcome::kApplied) << o.error;
  for (int64_t id = 1; id <= 60; ++id) {
    tags.push_back(Op("tags", id, {{"id", Value{id}}, {"item_id", Value{id % 20 + 1}}}));
  }
  const std::vector<SyncOutcome> out =
      SyncWhileHeld(options_.schema + ".items", "tenant_id = 'tenant-a' AND id IN (5, 9)", tags);
  int held = 0;
  for (size_t i = 0; i < tags.size(); ++i) {
    const int64_t item = static_cast<int64_t>(i + 1) % 20 + 1;
    if (item == 5 || item == 9) {
      ++held;
      EXPECT_EQ(out[i].kind, SyncOutcome::kRejected) << i;
      EXPECT_EQ(out[i].error.code(), absl::StatusCode::kAborted) << out[i].error;
    } else {
      EXPECT_EQ(out[i].kind, SyncOutcome::kApplied) << i << " " << out[i].error;
    }
  }
  EXPECT_EQ(held, 6);
}

// A foreign key of tenant_id alone (to a registry of tenants outside the
// schema): the tenant's row held elsewhere holds back that table's ops,
// and only those.
TEST_F(CloudStoreTest, AHeldTenantRowThatAForeignKeyOfTenantIdRefersToHoldsBackOnlyItsTable) {
  const std::string accounts = "public." + options_.schema + "_accounts";
  ASSERT_TRUE(store_->Schema()
                  ->Migrate(Script(2, "CREATE TABLE " + accounts + " (id TEXT PRIMARY KEY); INSERT INTO " + accounts +
                                          " VALUES ('tenant-a'); CREATE TABLE notes (tenant_id TEXT NOT NULL "
                                          "REFERENCES " +
                                          accounts +
                                          " (id) DEFERRABLE INITIALLY DEFERRED, id BIGINT NOT NULL, PRIMARY KEY "
                                          "(tenant_id, id))"),
                            absl::InfiniteFuture())
                  .ok());
  std::vector<SyncOp> batch;
  for (int64_t id = 1; id <= 10; ++id) {
    batch.push_back(Op("notes", id, {{"id", Value{id}}}));
    batch.push_back(Up(id, "n" + std::to_string(id), 1));
  }
  const std::vector<SyncOutcome> out = SyncWhileHeld(accounts, "id = 'tenant-a'", batch);
  for (size_t i = 0; i < batch.size(); ++i) {
    const bool note = batch[i].table == "notes";
    EXPECT_EQ(out[i].kind, note ? SyncOutcome::kRejected : SyncOutcome::kApplied) << i << " " << out[i].error;
  }
}

// A text too long for a cloud column of limited length (varchar(3),
// char(10), as an operator's cloud migration may declare) is refused, as a
// write of it is, never cut short; one that fits arrives whole.
// A value that a cloud column narrower than the local one (a length, a
// scale, a precision, a smaller type) would store changed is refused, not
// cut, padded or rounded; others, NULL too, arrive as they were.
TEST_F(CloudStoreTest, ASyncedValueTheCloudWouldStoreChangedIsRefused) {
  ASSERT_TRUE(store_->Schema()
                  ->Migrate(Script(2, R"sql(
CREATE DOMAIN short_code AS VARCHAR(3);
CREATE DOMAIN shorter_code AS short_code;
CREATE TABLE typed (tenant_id TEXT NOT NULL, id BIGINT NOT NULL, v VARCHAR(3), c CHARACTER(3), b BIT(3),
  n NUMERIC(5,2), ts TIMESTAMP(0), tz TIME(1) WITH TIME ZONE, iv INTERVAL SECOND(0), d short_code, q "char",
  r REAL, na NUMERIC(5,2)[], ca CHARACTER(2)[], dd shorter_code, da short_code[], ba BIT(3)[], im INTERVAL MONTH,
  mo MONEY, nm NAME, bi BIGINT, PRIMARY KEY (tenant_id, id));
)sql"),
                            absl::InfiniteFuture())
                  .ok());
  struct Case {
    std::string column;
    Value value;
    std::string type;  // of the column as it stores values; "" when the value fits as it is
  };
  const std::vector<Case> cases = {
      {"v", Value{std::string("ab ")}, ""},
      {"v", Value{std::string("abcdef")}, "character varying(3)"},
      {"v", Value{std::string("ab    ")}, "character varying(3)"},  // spaces beyond the length
      {"c", Value{std::string("abc")}, ""},
      {"c", Value{std::string("ab")}, "character(3)"},  // padded
      {"c", Value{std::string("abc ")}, "character(3)"},
      {"b", Value{std::string("101")}, ""},
      {"b", Value{std::string("10")}, "bit(3)"},
      {"n", Value{1.5}, ""},
      {"n", Value{0.1}, ""},  // a double goes as its shortest text
      {"n", Value{int64_t{2}}, ""},
      {"n", Value{std::string("1.005")}, "numeric(5,2)"},
      {"n", Value{std::string("NaN")}, ""},
      {"ts", Value{std::string("2026-11-25 10:00:00")}, ""},
      {"ts", Value{std::string("2026-11-25 10:00:00.7")}, "timestamp(0) without time zone"},
      {"tz", Value{std::string("10:00:00.25+01")}, "time(1) with time zone"},
      {"iv", Value{std::string("1.7 seconds")}, "interval second(0)"},
      {"iv", Value{std::string("2 seconds")}, ""},
      {"d", Value{std::string("ab    ")}, "character varying(3)"},
      {"d", Value{std::string("xyz")}, ""},
      {"q", Value{std::string("a")}, ""},
      {"q", Value{std::string("ab")}, R"(\"char\")"},  // as messages escape quotes
      {"r", Value{0.1}, ""},
      {"r", Value{0.123456789}, "real"},
      {"na", Value{std::string("{1.50,NULL,2.00}")}, ""},
      {"na", Value{std::string("{1,1.555}")}, "numeric(5,2)[]"},
      {"na", Value{std::string("{1.5}")}, "numeric(5,2)[]"},  // an array is served as its text: {1.50}
      {"ca", Value{std::string("{ab,xy}")}, ""},
      {"ca", Value{std::string("{ab,x}")}, "character(2)[]"},
      {"dd", Value{std::string("abc ")}, "character varying(3)"},
      {"da", Value{std::string(R"({"ab  "})")}, "character varying(3)[]"},
      {"da", Value{std::string(R"({"ab ",NULL})")}, ""},
      {"ba", Value{std::string("{101,NULL}")}, ""},
      {"ba", Value{std::string("{10}")}, "bit(3)[]"},
      {"ba", Value{}, ""},
      {"im", Value{std::string("2 mons")}, ""},
      {"im", Value{std::string("1 mon 30 days -720:00:00")}, "interval month"},  // as long as a month
      {"mo", Value{1000000.0}, ""},                                              // plain digits, not 1e+06
      {"nm", Value{std::string(70, 'n')}, "name"},
      {"bi", Value{1e6}, ""},
      {"v", Value{}, ""},
  };
  std::vector<SyncOp> ops;
  for (size_t i = 0; i < cases.size(); ++i) {
    const int64_t id = static_cast<int64_t>(i);
    ops.push_back(Op("typed", id, {{"id", Value{id}}, {cases[i].column, cases[i].value}}));
  }
  const std::vector<SyncOutcome> out = Sync(ops);
  ASSERT_EQ(out.size(), cases.size());
  pqxx::connection c(ConnInfo());
  pqxx::work w(c);
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& k = cases[i];
    const std::string row =
        absl::StrCat("SELECT concat(", k.column, ") FROM ", options_.schema, ".typed WHERE id = ", i);
    const pqxx::result stored = w.exec(row);
    if (k.type.empty()) {
      EXPECT_EQ(out[i].kind, SyncOutcome::kApplied) << i << " " << out[i].error;
      ASSERT_EQ(stored.size(), 1u) << i;
      continue;
    }
    EXPECT_EQ(out[i].kind, SyncOutcome::kRejected) << i;
    EXPECT_EQ(out[i].error.code(), absl::StatusCode::kInvalidArgument) << i;
    EXPECT_THAT(out[i].error.message(), HasSubstr(absl::StrCat("column '", k.column, "' of the cloud table 'typed' is ",
                                                               k.type, ", which would store the value given changed")))
        << i;
    EXPECT_EQ(stored.size(), 0u) << i;
  }
  // What arrived is what was sent.
  EXPECT_EQ(w.exec1("SELECT string_agg(concat(v, c, b, n, ts, iv, d, q, r, na, ca, da, ba, im, mo, bi), '|' ORDER "
                    "BY id) FROM " +
                    options_.schema + ".typed")[0]
                .as<std::string>(),
            "ab |abc|101|1.50|0.10|2.00|NaN|2026-11-25 10:00:00|00:00:02|xyz|a|0.1|{1.50,NULL,2.00}|{ab,xy}|"
            R"({"ab ",NULL}|{101,NULL}||2 mons|$1,000,000.00|1000000|)");
}

// Array columns sync (each array goes as its text, cast to the column's
// type: unnest would flatten an array of arrays), and an element too long
// for its bound is refused, not cut.
TEST_F(CloudStoreTest, ArrayColumnsSyncAndAnElementTooLongIsRefused) {
  ASSERT_TRUE(store_->Schema()
                  ->Migrate(Script(2,
                                   "CREATE TABLE tagged (tenant_id TEXT NOT NULL, id BIGINT NOT NULL, tags TEXT[], "
                                   "short VARCHAR(3)[], nums INTEGER[], PRIMARY KEY (tenant_id, id))"),
                            absl::InfiniteFuture())
                  .ok());
  auto tagged = [](int64_t id, std::string tags, std::string short_tags) {
    return Op("tagged", id,
              {{"id", Value{id}},
               {"tags", Value{std::move(tags)}},
               {"short", Value{std::move(short_tags)}},
               {"nums", Value{std::string("{1,2,3}")}}});
  };
  const std::vector<SyncOutcome> out =
      Sync({tagged(1, R"({x,"y z",NULL})", "{ab,cd}"), tagged(2, "{}", "{abcdef}"), tagged(3, "{q}", "{}")});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].kind, SyncOutcome::kApplied) << out[0].error;
  EXPECT_EQ(out[1].kind, SyncOutcome::kRejected);
  EXPECT_THAT(out[1].error.message(),
              HasSubstr("is character varying(3)[], which would store the value given changed"));
  EXPECT_EQ(out[2].kind, SyncOutcome::kApplied) << out[2].error;
  pqxx::connection c(ConnInfo());
  pqxx::work w(c);
  const pqxx::result rows = w.exec("SELECT id, array_length(tags, 1), tags[2], short::text, nums[3] FROM " +
                                   options_.schema + ".tagged ORDER BY id");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0][1].as<int>(), 3);
  EXPECT_EQ(rows[0][2].as<std::string>(), "y z");
  EXPECT_EQ(rows[0][3].as<std::string>(), "{ab,cd}");
  EXPECT_EQ(rows[0][4].as<int>(), 3);
  EXPECT_EQ(rows[1][0].as<int>(), 3);
}

// A write whose caller gave up on it while the server still commits it
// (cut at its deadline during COMMIT: UNKNOWN) is waited for by a delete
// of the tenant's data, so it cannot commit after the delete. Both ways a
// write goes out: a write's transaction, and a sync call's single trip.
TEST_F(CloudStoreTest, ADeleteOfATenantsDataWaitsForItsWritesStillCommitting) {
  // Rows named "slow" take 0.8 s to insert and 1 s to commit: a call with
  // 1.5 s is cut during its COMMIT, which goes on and succeeds.
  ASSERT_TRUE(store_->Schema()
                  ->Migrate(Script(2, R"sql(
CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.8); RETURN NEW; END $$;
CREATE TRIGGER slow_insert BEFORE INSERT ON items FOR EACH ROW WHEN (NEW.name = 'slow') EXECUTE FUNCTION slow_insert();
CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(1); RETURN NULL; END $$;
CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON items DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN (NEW.name = 'slow') EXECUTE FUNCTION slow_commit();
)sql"),
                            absl::InfiniteFuture())
                  .ok());
  for (const bool sync : {true, false}) {
    const absl::Time deadline = absl::Now() + absl::Milliseconds(1500);
    absl::Status cut;
    if (sync) {
      cut = store_->ApplySync("tenant-a", {Up(1, "slow", 1)}, deadline).status();
    } else {
      WriteOptions options;
      options.deadline = deadline;
      cut = a_->Write({Insert(1, "slow")}, options).status();
    }
    EXPECT_EQ(cut.code(), absl::StatusCode::kUnknown) << sync << " " << cut;
    ASSERT_TRUE(store_->DeleteTenantData("tenant-a", absl::Now() + absl::Seconds(10)).ok()) << sync;
    absl::SleepFor(absl::Seconds(1));  // past the commit, had the delete not waited for it
    EXPECT_FALSE(Get(*a_, 1).has_value()) << sync;
  }
  // The lock is the tenant's own: these two ids have the same 32-bit
  // hashtext, yet a delete of one does not wait for the other's write.
  auto other = store_->Tenant("h18225", nullptr);
  ASSERT_TRUE(other.ok());
  std::thread write([&] {
    WriteOptions options;
    options.deadline = absl::Now() + absl::Milliseconds(1500);
    EXPECT_EQ((*other)->Write({Insert(1, "slow")}, options).status().code(), absl::StatusCode::kUnknown);
  });
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_TRUE(store_->DeleteTenantData("h106973", absl::Now() + absl::Milliseconds(500)).ok());
  write.join();
}

// Served through a local catalog, a tenant sees of the cloud only the
// tables and columns the local schema has, in its order: not a column
// added to the cloud from outside, nor a table the local schema lacks.
TEST_F(CloudStoreTest, ATenantIsServedThroughItsLocalSchema) {
  {
    pqxx::connection c(ConnInfo());
    pqxx::work tx(c);
    tx.exec("ALTER TABLE " + options_.schema + ".items ADD COLUMN secret TEXT DEFAULT 'classified'");
    tx.commit();
  }
  ASSERT_TRUE(store_->Schema()
                  ->Migrate(Script(2,
                                   "CREATE TABLE extra (tenant_id TEXT NOT NULL, k TEXT NOT NULL, "
                                   "PRIMARY KEY (tenant_id, k))"),
                            absl::InfiniteFuture())
                  .ok());  // also re-reads the catalog
  ASSERT_NE(store_->Schema()->GetCatalog()->Find("items")->Find("secret"), nullptr) << "the cloud has it";
  testing::TempDir dir;
  auto local = sqlite::SqliteDatabase::Open(dir.path() + "/t.db", {});
  ASSERT_TRUE(local.ok());
  ASSERT_TRUE((*local)
                  ->Migrate(MigrationScript{AppliedMigration{1, "v1", "x", 0},
                                            "CREATE TABLE items (name TEXT NOT NULL, id INTEGER PRIMARY KEY, rank "
                                            "INTEGER)",
                                            true, "t", "t.sql"},
                            absl::InfiniteFuture())
                  .ok());
  auto served = store_->Tenant("tenant-a", (*local)->GetCatalog());
  ASSERT_TRUE(served.ok()) << served.status();
  const std::shared_ptr<const Catalog> catalog = (*served)->GetCatalog();
  EXPECT_EQ(catalog->Find("extra"), nullptr);
  const Table* items = catalog->Find("items");
  ASSERT_NE(items, nullptr);
  std::vector<std::string> names;
  for (const Column& c : items->columns) names.push_back(c.name);
  EXPECT_EQ(names, (std::vector<std::string>{"name", "id", "rank"}));
  ASSERT_EQ(items->primary_key, std::vector<size_t>{1});
  EXPECT_EQ(items->columns[1].declared_type, "bigint") << "as the cloud declares it";

  ASSERT_TRUE((*served)->Write({Insert(1, "one")}).ok());
  const std::vector<Field> want = {{"name", Value{std::string("one")}}, {"id", Value{int64_t{1}}}, {"rank", Value{}}};
  auto row = (*served)->Get(RowRead{"items", {{"id", Value{int64_t{1}}}}, {}});
  ASSERT_TRUE(row.ok() && row->has_value()) << row.status();
  EXPECT_EQ((*row)->fields, want);
  Query q;
  q.table = "items";
  q.order = {Order{"id", false}};
  auto listed = (*served)->List(q);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->rows.size(), 1u);
  EXPECT_EQ(listed->rows[0].fields, want);
  // Without a local schema: the cloud as it is.
  EXPECT_THAT(Get(*a_, 1)->fields, ::testing::Contains(Field{"secret", Value{std::string("classified")}}));
}

// The local schema's foreign-key actions, done by the cloud store on its
// soft-deleted rows: the same writes on SQLite and on the cloud (served
// through SQLite's catalog; the cloud declares none of the actions) leave
// the same rows at the same versions, or are refused alike. ON UPDATE
// CASCADE on a unique column, ON DELETE CASCADE through a self-reference
// and two levels, SET NULL, RESTRICT, a row reached by two actions of one
// delete (one new version, as locally); SET DEFAULT is refused in the cloud.
TEST_F(CloudStoreTest, ForeignKeyActionsOfTheLocalSchemaAreDoneInTheCloud) {
  ASSERT_TRUE(store_->Schema()
                  ->Migrate(Script(2, R"sql(
CREATE TABLE authors (tenant_id TEXT NOT NULL, id BIGINT NOT NULL, handle TEXT NOT NULL,
  PRIMARY KEY (tenant_id, id), UNIQUE (tenant_id, handle));
CREATE TABLE posts (tenant_id TEXT NOT NULL, id BIGINT NOT NULL, author TEXT, editor BIGINT, parent BIGINT,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, author) REFERENCES authors (tenant_id, handle) DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE comments (tenant_id TEXT NOT NULL, post BIGINT NOT NULL, n BIGINT NOT NULL, body TEXT,
  PRIMARY KEY (tenant_id, post, n));
CREATE TABLE pins (tenant_id TEXT NOT NULL, id BIGINT NOT NULL, post BIGINT, PRIMARY KEY (tenant_id, id));
CREATE TABLE drafts (tenant_id TEXT NOT NULL, id BIGINT NOT NULL, author BIGINT DEFAULT 0,
  PRIMARY KEY (tenant_id, id));
)sql"),
                            absl::InfiniteFuture())
                  .ok());
  testing::TempDir dir;
  auto opened = sqlite::SqliteDatabase::Open(dir.path() + "/t.db", {});
  ASSERT_TRUE(opened.ok());
  std::shared_ptr<store::Database> local = *std::move(opened);
  ASSERT_TRUE(local
                  ->Migrate(MigrationScript{AppliedMigration{1, "v1", "x", 0}, R"sql(
CREATE TABLE authors (id INTEGER PRIMARY KEY, handle TEXT NOT NULL UNIQUE);
CREATE TABLE posts (id INTEGER PRIMARY KEY,
  author TEXT REFERENCES authors (handle) ON UPDATE CASCADE ON DELETE CASCADE,
  editor INTEGER REFERENCES authors ON DELETE SET NULL,
  parent INTEGER REFERENCES posts (id) ON DELETE CASCADE);
CREATE TABLE comments (post INTEGER NOT NULL REFERENCES Posts ON DELETE CASCADE, n INTEGER NOT NULL, body TEXT,
  PRIMARY KEY (post, n));
CREATE TABLE pins (id INTEGER PRIMARY KEY, post INTEGER REFERENCES posts (id) ON DELETE RESTRICT);
CREATE TABLE drafts (id INTEGER PRIMARY KEY, author INTEGER DEFAULT 0 REFERENCES authors (id) ON DELETE SET DEFAULT);
)sql",
                                            true, "t", "t.sql"},
                            absl::InfiniteFuture())
                  .ok());
  auto served = store_->Tenant("tenant-a", local->GetCatalog());
  ASSERT_TRUE(served.ok()) << served.status();
  std::shared_ptr<store::Database> cloud = *served;

  auto n = [](int64_t v) { return Value{v}; };
  auto s = [](const char* v) { return Value{std::string(v)}; };
  auto insert = [](const char* table, std::vector<Field> values) {
    return WriteOp{WriteKind::kInsert, table, {}, std::move(values), 0};
  };
  auto del = [](const char* table, std::vector<Field> key) {
    return WriteOp{WriteKind::kDelete, table, std::move(key), {}, 0};
  };
  // Every live row, table by table in key order: version and fields.
  auto dump = [](store::Database& db) {
    std::vector<std::string> out;
    const std::shared_ptr<const Catalog> catalog = db.GetCatalog();
    for (const auto& [name, t] : catalog->tables) {
      Query q;
      q.table = name;
      for (const size_t i : t.primary_key) q.order.push_back(Order{t.columns[i].name, false});
      q.limit = 1000;
      auto rows = db.List(q);
      EXPECT_TRUE(rows.ok()) << rows.status();
      if (!rows.ok()) continue;
      for (const StoredRow& r : rows->rows) {
        std::string line = absl::StrCat(name, " v", r.version);
        for (const Field& f : r.fields) absl::StrAppend(&line, " ", f.column, "=", DebugString(f.value));
        out.push_back(std::move(line));
      }
    }
    return out;
  };
  // Writes `ops` to both; both must answer alike.
  auto both = [&](const std::vector<WriteOp>& ops) {
    const absl::Status mine = local->Write(ops).status();
    const absl::Status theirs = cloud->Write(ops).status();
    EXPECT_EQ(theirs, mine);
    EXPECT_EQ(dump(*cloud), dump(*local));
    return theirs;
  };

  ASSERT_TRUE(
      both({insert("authors", {{"id", n(0)}, {"handle", s("nobody")}}),
            insert("authors", {{"id", n(1)}, {"handle", s("ann")}}),
            insert("authors", {{"id", n(2)}, {"handle", s("bob")}}),
            insert("posts", {{"id", n(10)}, {"author", s("ann")}, {"editor", n(2)}}),
            insert("posts", {{"id", n(11)}, {"author", s("bob")}, {"editor", n(2)}, {"parent", n(10)}}),
            insert("posts", {{"id", n(12)}, {"author", s("ann")}, {"editor", n(1)}, {"parent", n(11)}}),
            insert("comments", {{"post", n(10)}, {"n", n(1)}}), insert("comments", {{"post", n(11)}, {"n", n(1)}}),
            insert("comments", {{"post", n(12)}, {"n", n(1)}}), insert("comments", {{"post", n(12)}, {"n", n(2)}}),
            insert("drafts", {{"id", n(1)}, {"author", n(2)}})})
          .ok());
  // ON UPDATE CASCADE: ann's posts follow her new handle.
  ASSERT_TRUE(both({WriteOp{WriteKind::kUpdate, "authors", {{"id", n(1)}}, {{"handle", s("anna")}}, 0}}).ok());
  EXPECT_THAT(dump(*cloud), ::testing::Contains("posts v2 id=10 author='anna' editor=2 parent=NULL"));

  // SET DEFAULT is not done in the cloud: refused there, nothing written.
  const absl::Status set_default = cloud->Write({del("authors", {{"id", n(2)}})}).status();
  EXPECT_EQ(set_default.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(set_default.message()), HasSubstr("'drafts'"));
  EXPECT_EQ(dump(*cloud), dump(*local));
  ASSERT_TRUE(both({del("drafts", {{"id", n(1)}})}).ok());
  // bob goes: his post 11 by CASCADE (and SET NULL as its editor: one new
  // version), post 12 below it through the self-reference, the comments of
  // both; post 10 keeps going without its editor.
  ASSERT_TRUE(both({del("authors", {{"id", n(2)}})}).ok());
  EXPECT_EQ(dump(*cloud).size(), 4u) << "authors 0 and 1, post 10 and its comment";
  // Made again, the deleted rows continue at the same versions.
  ASSERT_TRUE(
      both({insert("posts", {{"id", n(11)}, {"parent", n(10)}}), insert("comments", {{"post", n(11)}, {"n", n(1)}})})
          .ok());

  // RESTRICT, reached through a cascade: refused alike, nothing written.
  ASSERT_TRUE(both({insert("pins", {{"id", n(1)}, {"post", n(11)}})}).ok());
  const absl::Status restricted = both({del("posts", {{"id", n(10)}})});
  EXPECT_EQ(restricted.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(restricted.message()), HasSubstr("a foreign key of table 'posts' refused the write"));
  ASSERT_TRUE(both({del("pins", {{"id", n(1)}}), del("posts", {{"id", n(10)}})}).ok());
  EXPECT_EQ(dump(*cloud).size(), 2u) << "authors 0 and 1";
}

TEST_F(CloudStoreTest, TextComparesAndMatchesAsInSqlite) {
  testing::TempDir dir;
  auto local = sqlite::SqliteDatabase::Open(dir.path() + "/t.db", {});
  ASSERT_TRUE(local.ok());
  ASSERT_TRUE((*local)
                  ->Migrate(MigrationScript{AppliedMigration{1, "v1", "x", 0},
                                            "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, rank "
                                            "INTEGER)",
                                            true, "t", "t.sql"},
                            absl::InfiniteFuture())
                  .ok());
  const std::vector<std::string> names = {
      "apple", "Apple", "APPLE", "banana", "_x", "%y", "a\\b", "\xc3\xa9t\xc3\xa9", "\xc3\x89T\xc3\x89",
      "Zed",   "zed",   "a_c",   "abc"};
  std::vector<WriteOp> ops;
  for (size_t i = 0; i < names.size(); ++i) ops.push_back(Insert(int64_t(i + 1), names[i]));
  ASSERT_TRUE((*local)->Write(ops).ok());
  ASSERT_TRUE(a_->Write(ops).ok());
  auto ids = [](const QueryResult& r) {
    std::vector<std::string> out;
    for (const StoredRow& row : r.rows) out.push_back(std::get<std::string>(row.fields[1].value));
    return out;
  };
  for (const std::string pattern :
       {"apple", "a%", "A_C", "\\%", "%\\%", "a\\b", "\xc3\xa9%", "\xc3\x89%", "_x", "%%y", "z%", "%"}) {
    Query q;
    q.table = "items";
    q.order = {Order{"name", false}, Order{"id", false}};
    q.limit = 100;
    q.conditions = {Condition{"name", FilterOp::kLike, {Value{pattern}}}};
    auto l = (*local)->List(q);
    auto c = a_->List(q);
    ASSERT_TRUE(l.ok() && c.ok()) << c.status();
    EXPECT_EQ(ids(*c), ids(*l)) << "pattern " << pattern;
  }
  Query all;
  all.table = "items";
  all.order = {Order{"name", true}, Order{"id", false}};
  all.limit = 100;
  EXPECT_EQ(ids(*a_->List(all)), ids(*(*local)->List(all)));
  all.conditions = {Condition{"name", FilterOp::kGt, {Value{std::string("Zed")}}}};
  EXPECT_EQ(ids(*a_->List(all)), ids(*(*local)->List(all)));
}

TEST_F(CloudStoreTest, WaitingForAConnectionStopsAtTheDeadline) {
  options_.pool_size = 1;
  auto small = PgCloudStore::Create(options_);
  ASSERT_TRUE(small.ok()) << small.status();
  auto db = *(*small)->Tenant("tenant-a", nullptr);
  std::atomic<bool> holding{false};
  std::thread holder([&] {
    WriteOptions slow;
    slow.check_row = [&](size_t, const StoredRow&) {
      holding = true;
      absl::SleepFor(absl::Milliseconds(600));
      return absl::OkStatus();
    };
    EXPECT_TRUE(db->Write({Insert(1, "slow")}, slow).ok());
  });
  while (!holding) absl::SleepFor(absl::Milliseconds(1));
  const absl::Time start = absl::Now();
  auto r = db->Get(RowRead{"items", {{"id", Value{int64_t{1}}}}, {}}, start + absl::Milliseconds(50));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(400));
  EXPECT_EQ((*small)->Ping(absl::Now() + absl::Milliseconds(20)).code(), absl::StatusCode::kDeadlineExceeded);
  holder.join();
  EXPECT_TRUE((*small)->Ping(absl::Now() + absl::Seconds(5)).ok());
}

TEST_F(CloudStoreTest, StoppedServerIsUnavailableQuicklyAndReconnectsAfter) {
  ASSERT_TRUE(a_->Write({Insert(1, "x")}).ok());
  ASSERT_TRUE(store_->Ping(absl::Now() + absl::Seconds(5)).ok());
  testing::PgServer& server = testing::PgServer::Shared();
  ASSERT_TRUE(server.Stop().ok());
  const absl::Time start = absl::Now();
  auto down = a_->Get(RowRead{"items", {{"id", Value{int64_t{1}}}}, {}}, absl::Now() + absl::Seconds(30));
  EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(store_->Ping(absl::Now() + absl::Seconds(30)).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(store_->ApplySync("tenant-a", {Up(2, "y", 1)}, absl::Now() + absl::Seconds(30)).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  ASSERT_TRUE(server.Start().ok());
  auto up = a_->Get(RowRead{"items", {{"id", Value{int64_t{1}}}}, {}}, absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_TRUE(up->has_value());
  EXPECT_TRUE(store_->Ping(absl::Now() + absl::Seconds(5)).ok());
}

// Through PgBouncer a stopped server does not refuse: the bouncer holds the
// query. Every call still ends at its deadline (the watchdog cuts it).
TEST_F(CloudStoreTest, ACallHeldByABouncerWhileTheServerIsDownEndsAtItsDeadline) {
  ConnInfo();  // the database exists
  auto bouncer = testing::PgBouncer::Start("cloud_store_test", 2);
  ASSERT_TRUE(bouncer.ok()) << bouncer.status();
  PgCloudStore::Options o = options_;
  o.connection_string = (*bouncer)->ConnectionString();
  auto bounced = PgCloudStore::Create(o);
  ASSERT_TRUE(bounced.ok()) << bounced.status();
  auto tenant = *(*bounced)->Tenant("tenant-a", nullptr);
  ASSERT_TRUE(tenant->Write({Insert(1, "x")}).ok());
  ASSERT_TRUE(Get(*tenant, 1).has_value());
  testing::PgServer& server = testing::PgServer::Shared();
  ASSERT_TRUE(server.Stop().ok());
  for (int i = 0; i < 3; ++i) {
    const absl::Time start = absl::Now();
    auto got = tenant->Get(RowRead{"items", {{"id", Value{int64_t{1}}}}, {}}, start + absl::Milliseconds(400));
    // Held until the deadline, or refused once the bouncer knows the server is gone.
    EXPECT_THAT(got.status().code(),
                ::testing::AnyOf(absl::StatusCode::kDeadlineExceeded, absl::StatusCode::kUnavailable));
    EXPECT_LT(absl::Now() - start, absl::Milliseconds(1500));
    const absl::Time ping_start = absl::Now();
    EXPECT_NE((*bounced)->Ping(ping_start + absl::Milliseconds(400)).code(), absl::StatusCode::kOk);
    EXPECT_LT(absl::Now() - ping_start, absl::Milliseconds(1500));
  }
  ASSERT_TRUE(server.Start().ok());
  // The bouncer waits a while (server_login_retry) before it logs in again.
  absl::StatusOr<std::optional<StoredRow>> up;
  for (int i = 0; i < 60; ++i) {
    up = tenant->Get(RowRead{"items", {{"id", Value{int64_t{1}}}}, {}}, absl::Now() + absl::Seconds(10));
    if (up.ok()) break;
    EXPECT_EQ(up.status().code(), absl::StatusCode::kUnavailable);
    absl::SleepFor(absl::Milliseconds(500));
  }
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_TRUE(up->has_value()) << "through the bouncer";
  EXPECT_TRUE(Get(*a_, 1).has_value()) << "directly";
}

// --cloud_url may be a URI as well as key=value pairs; a refused connect
// says what to fix, without the password, with a code that says a retry
// will not help (the gateway does not start on it); a server that is not
// there is UNAVAILABLE (the gateway starts without it).
TEST(CloudConnectTest, UrisWorkAndRefusalsSayWhatToFix) {
  ConnInfo();  // the database exists
  const std::string port = std::to_string(testing::PgServer::Shared().port());
  PgCloudStore::Options o;
  o.schema = "uri_test";
  o.connection_string = "postgresql://postgres@127.0.0.1:" + port + "/cloud_store_test";
  auto store = PgCloudStore::Create(o, absl::Now() + absl::Seconds(20));
  EXPECT_TRUE(store.ok()) << store.status();
  o.connection_string = "postgresql://postgres:S3cretPW@127.0.0.1:" + port + "/cloud_store_test?application_name=x";
  EXPECT_TRUE(PgCloudStore::Create(o, absl::Now() + absl::Seconds(20)).ok());
  o.connection_string = "postgresql://postgres:S3cretPW@127.0.0.1:" + port + "/no_such_db";
  auto missing = PgCloudStore::Create(o, absl::Now() + absl::Seconds(20));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(missing.status().message(), HasSubstr("does not exist"));
  EXPECT_THAT(missing.status().message(), Not(HasSubstr("S3cretPW")));
  o.connection_string = "postgresql://nobody_here:S3cretPW@127.0.0.1:" + port + "/cloud_store_test";
  auto no_role = PgCloudStore::Create(o, absl::Now() + absl::Seconds(20));
  EXPECT_EQ(no_role.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(no_role.status().message(), Not(HasSubstr("S3cretPW")));
  // Malformed strings are refused before any connect: an unknown key, a
  // broken URI, a bad value libpq finds only when it connects.
  for (const std::string& garbled :
       {"host=127.0.0.1 port=" + port + " passwrd=S3cretPW", std::string("postgresql://postgres:S3cretPW@[::1/db"),
        "host=127.0.0.1 port=x" + port + " password=S3cretPW"}) {
    o.connection_string = garbled;
    auto refused = PgCloudStore::Create(o, absl::Now() + absl::Seconds(20));
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << refused.status();
    EXPECT_THAT(refused.status().message(), HasSubstr("not a valid"));
    EXPECT_THAT(refused.status().message(), Not(HasSubstr("S3cretPW")));
  }
  // Nothing listening: not there yet, which a later try may find.
  o.connection_string = "host=127.0.0.1 port=1 dbname=cloud_store_test password=S3cretPW";
  auto absent = PgCloudStore::Create(o, absl::Now() + absl::Seconds(20));
  EXPECT_EQ(absent.status().code(), absl::StatusCode::kUnavailable) << absent.status();
  EXPECT_THAT(absent.status().message(), Not(HasSubstr("S3cretPW")));
}

TEST_F(CloudStoreTest, ReplicasMigratingTogetherTakeTurns) {
  auto other = PgCloudStore::Create(options_);
  ASSERT_TRUE(other.ok()) << other.status();
  const MigrationScript v2 = Script(2,
                                    "CREATE TABLE extra (tenant_id TEXT NOT NULL, k TEXT NOT NULL, n BIGINT, "
                                    "PRIMARY KEY (tenant_id, k)); SELECT pg_sleep(0.2);");
  absl::Status s1, s2;
  std::thread t1([&] { s1 = store_->Schema()->Migrate(v2, absl::InfiniteFuture()); });
  std::thread t2([&] { s2 = (*other)->Schema()->Migrate(v2, absl::InfiniteFuture()); });
  t1.join();
  t2.join();
  EXPECT_TRUE(s1.ok()) << s1;
  EXPECT_TRUE(s2.ok()) << s2;
  auto applied = store_->Schema()->ListApplied(absl::InfiniteFuture());
  ASSERT_TRUE(applied.ok());
  ASSERT_EQ(applied->size(), 2u);
  EXPECT_EQ((*applied)[1].version, 2);
  EXPECT_EQ(store_->SchemaVersion(), 2);
  EXPECT_EQ((*other)->SchemaVersion(), 2);
  ASSERT_NE(store_->Schema()->GetCatalog()->Find("extra"), nullptr);
  // A changed file already applied is refused.
  MigrationScript changed = v2;
  changed.record.checksum = "other";
  EXPECT_EQ(store_->Schema()->Migrate(changed, absl::InfiniteFuture()).code(), absl::StatusCode::kFailedPrecondition);
}

// ApplySync sends its statements in one trip, made against the catalog it
// has; when another replica changed the schema meanwhile, the trip is
// refused before it writes and the call runs again on the new catalog.
TEST_F(CloudStoreTest, ApplySyncFollowsASchemaAnotherReplicaChanged) {
  ASSERT_EQ(Sync({Up(1, "before", 1)})[0].kind, SyncOutcome::kApplied);
  auto other = PgCloudStore::Create(options_);
  ASSERT_TRUE(other.ok()) << other.status();
  ASSERT_TRUE(
      (*other)->Schema()->Migrate(Script(2, "ALTER TABLE items ADD COLUMN note TEXT"), absl::InfiniteFuture()).ok());
  ASSERT_EQ(store_->SchemaVersion(), 1);  // not told yet
  SyncOp noted = Up(2, "after", 1);
  noted.values.push_back({"note", Value{std::string("new column")}});
  auto out = Sync({noted, Up(1, "before", 2)});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].kind, SyncOutcome::kApplied) << out[0].error;
  EXPECT_EQ(out[1].kind, SyncOutcome::kApplied) << out[1].error;
  EXPECT_EQ(store_->SchemaVersion(), 2);
  const std::optional<StoredRow> row = Get(*a_, 2);
  ASSERT_TRUE(row.has_value());
  EXPECT_THAT(row->fields, ::testing::Contains(Field{"note", Value{std::string("new column")}}));
  EXPECT_EQ(Get(*a_, 1)->version, 2);
}

TEST_F(CloudStoreTest, ATableNotKeyedByTenantIsRefusedLoudly) {
  auto m = store_->Schema()->Migrate(Script(2, "CREATE TABLE loose (id BIGINT PRIMARY KEY, v TEXT)"),
                                     absl::InfiniteFuture());
  EXPECT_EQ(m.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(m.message()), HasSubstr("'loose'"));
  EXPECT_EQ(store_->Schema()->GetCatalog()->Find("loose"), nullptr);  // rolled back
  {
    pqxx::connection c(ConnInfo());
    pqxx::work tx(c);
    tx.exec("CREATE SCHEMA refused; CREATE TABLE refused.loose (id BIGINT PRIMARY KEY)");
    tx.commit();
  }
  PgCloudStore::Options o = options_;
  o.schema = "refused";
  auto refused = PgCloudStore::Create(o);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("'loose'"));
  EXPECT_EQ(store_->Schema()->Get(RowRead{"items", {}, {}}).status().code(), absl::StatusCode::kFailedPrecondition);
}

// A host that accepts the TCP connection and never answers holds libpq's
// connect for its whole connect_timeout (2 s at least); a call waits for it
// only until its deadline. The connect goes on, counted in the pool's size,
// and ends when the host goes.
TEST(PgPoolTest, AConnectToAHostThatNeverAnswersEndsAtTheCallsDeadline) {
  const absl::StatusOr<testing::SilentHost> silent = testing::ListenSilently();
  ASSERT_TRUE(silent.ok()) << silent.status();
  PgPool pool({"host=127.0.0.1 port=" + std::to_string(silent->port) + " dbname=x user=postgres", 2, absl::Seconds(5)});
  for (int call = 1; call <= 3; ++call) {
    const absl::Time start = absl::Now();
    const absl::Status s = pool.Acquire(start + absl::Milliseconds(300)).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
    EXPECT_LT(absl::Now() - start, absl::Milliseconds(400)) << call;
    EXPECT_EQ(pool.open(), std::min(call, 2)) << "the third waits for a free place";
  }
  close(silent->fd);  // its pending connections are reset: the connects fail
  const absl::Time until = absl::Now() + absl::Seconds(3);
  while (pool.open() > 0 && absl::Now() < until) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_EQ(pool.open(), 0);
}

}  // namespace
}  // namespace datagate::store::postgres
