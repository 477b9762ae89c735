// One suite for every store::Database implementation: the SQLite store, a
// tenant of the Postgres cloud store, and the same through PgBouncer in
// transaction pooling mode. Each factory supplies its dialect's schema (in
// the cloud, tenant_id leads every primary key); the tests are the same.
#include <algorithm>
#include <atomic>
#include <thread>

#include "pg_server.h"
#include "store/postgres/pg_store.h"
#include "store/sqlite/sqlite_database.h"
#include "test_env.h"

namespace datagate::store {
namespace {

using ::testing::HasSubstr;

constexpr char kSchema[] = R"sql(
CREATE TABLE items (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL, rank INTEGER,
  active BOOLEAN NOT NULL DEFAULT 1, data BLOB, tag TEXT UNIQUE);
CREATE TABLE pairs (a TEXT NOT NULL, b INTEGER NOT NULL, v TEXT, PRIMARY KEY (a, b));
)sql";

// 300k rows, so an unindexed LIKE scan takes far longer than 2 ms.
constexpr char kBigTable[] =
    "CREATE TABLE big (id INTEGER PRIMARY KEY, s TEXT);"
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000) "
    "INSERT INTO big (id, s) SELECT i, hex(randomblob(16)) FROM n;";

struct SqliteFactory {
  testing::TempDir dir;
  static const char* Schema() { return kSchema; }
  static const char* BigTable() { return kBigTable; }
  std::shared_ptr<Database> Make() {
    auto db = sqlite::SqliteDatabase::Open(dir.path() + "/conformance.db", {});
    EXPECT_TRUE(db.ok()) << db.status();
    return *db;
  }
};

constexpr char kPgSchema[] = R"sql(
CREATE TABLE items (
  tenant_id TEXT NOT NULL, id BIGINT NOT NULL, name TEXT NOT NULL, score DOUBLE PRECISION, rank BIGINT,
  active BOOLEAN NOT NULL DEFAULT true, data BYTEA, tag TEXT,
  PRIMARY KEY (tenant_id, id), UNIQUE (tenant_id, tag));
CREATE TABLE pairs (
  tenant_id TEXT NOT NULL, a TEXT NOT NULL, b BIGINT NOT NULL, v TEXT, PRIMARY KEY (tenant_id, a, b));
)sql";
constexpr char kPgTenant[] = "tenant-a";
constexpr char kPgBigTable[] =
    "CREATE TABLE big (tenant_id TEXT NOT NULL, id BIGINT NOT NULL, s TEXT, PRIMARY KEY (tenant_id, id));"
    "INSERT INTO big (tenant_id, id, s) SELECT 'tenant-a', i, md5(i::text) FROM generate_series(1, 300000) i;";

// The cloud database of this test process (made once), and through
// PgBouncer when `bounced`.
std::string PgConnection(bool bounced) {
  static const std::string direct = [] {
    auto conninfo = testing::PgServer::Shared().CreateDatabase("conformance");
    if (!conninfo.ok()) ADD_FAILURE() << conninfo.status();
    return conninfo.value_or("");
  }();
  if (!bounced) return direct;
  // Stopped at exit, before the server (started before it).
  static const std::unique_ptr<testing::PgBouncer> bouncer = [] {
    auto b = testing::PgBouncer::Start("conformance", 8);
    if (!b.ok()) ADD_FAILURE() << b.status();
    return b.ok() ? *std::move(b) : nullptr;
  }();
  return bouncer ? bouncer->ConnectionString() : "";
}

// A tenant's view of a fresh schema of the cloud store (a schema per test).
template <bool kBounced>
struct PgFactoryT {
  std::unique_ptr<postgres::PgCloudStore> store;
  static const char* Schema() { return kPgSchema; }
  static const char* BigTable() { return kPgBigTable; }
  std::shared_ptr<Database> Make() {
    static int counter = 0;
    postgres::PgCloudStore::Options options;
    options.connection_string = PgConnection(kBounced);
    options.schema = (kBounced ? "bounced_" : "direct_") + std::to_string(++counter);
    auto created = postgres::PgCloudStore::Create(options);
    EXPECT_TRUE(created.ok()) << created.status();
    if (!created.ok()) return nullptr;
    store = *std::move(created);
    auto db = store->Tenant(kPgTenant, nullptr);
    EXPECT_TRUE(db.ok()) << db.status();
    return db.value_or(nullptr);
  }
};
using PgFactory = PgFactoryT<false>;
using PgBouncerFactory = PgFactoryT<true>;

template <typename Factory>
class StoreConformance : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = factory_.Make();
    ASSERT_NE(db_, nullptr);
    ASSERT_TRUE(Apply(1, factory_.Schema()).ok());
  }

  absl::Status Apply(int64_t version, const std::string& sql) {
    return db_->Migrate(MigrationScript{AppliedMigration{version, "v" + std::to_string(version), "x", 0}, sql, true,
                                        "test", "test.sql"},
                        absl::InfiniteFuture());
  }
  static Value I(int64_t v) { return Value{v}; }
  static Value S(std::string v) { return Value{std::move(v)}; }

  absl::StatusOr<std::vector<StoredRow>> Run(std::vector<WriteOp> ops, std::string request_id = "",
                                             std::string fingerprint = "") {
    WriteOptions options;
    options.request_id = std::move(request_id);
    options.fingerprint = std::move(fingerprint);
    return db_->Write(ops, options);
  }
  static WriteOp Insert(int64_t id, std::string name, std::vector<Field> more = {}) {
    WriteOp op{WriteKind::kInsert, "items", {}, {{"id", I(id)}, {"name", S(std::move(name))}}, 0};
    for (Field& f : more) op.values.push_back(std::move(f));
    return op;
  }
  std::optional<StoredRow> GetItem(int64_t id) {
    auto row = db_->Get(RowRead{"items", {{"id", I(id)}}, {}});
    EXPECT_TRUE(row.ok()) << row.status();
    return row.ok() ? *row : std::nullopt;
  }
  static const Value& FieldOf(const StoredRow& row, absl::string_view column) {
    for (const Field& f : row.fields) {
      if (f.column == column) return f.value;
    }
    static const Value kMissing{std::string("<missing>")};
    return kMissing;
  }

  Factory factory_;
  std::shared_ptr<Database> db_;
};

using StoreTypes = ::testing::Types<SqliteFactory, PgFactory, PgBouncerFactory>;
TYPED_TEST_SUITE(StoreConformance, StoreTypes);

TYPED_TEST(StoreConformance, CatalogDescribesTablesKeysAndTypes) {
  auto catalog = this->db_->GetCatalog();
  const Table* items = catalog->Find("items");
  ASSERT_NE(items, nullptr);
  ASSERT_EQ(items->primary_key.size(), 1u);
  EXPECT_EQ(items->columns[items->primary_key[0]].name, "id");
  EXPECT_EQ(items->Find("score")->type, ColumnType::kReal);
  EXPECT_EQ(items->Find("active")->type, ColumnType::kBoolean);
  EXPECT_EQ(items->Find("data")->type, ColumnType::kBlob);
  EXPECT_TRUE(items->Find("name")->not_null);
  EXPECT_EQ(items->Find("_dg_version"), nullptr);
  const Table* pairs = catalog->Find("pairs");
  ASSERT_NE(pairs, nullptr);
  EXPECT_EQ(pairs->primary_key.size(), 2u);
}

TYPED_TEST(StoreConformance, InsertThenGetKeepsEveryType) {
  auto rows = this->Run({this->Insert(1, "a",
                                      {{"score", Value{1.5}},
                                       {"rank", Value{}},
                                       {"active", Value{false}},
                                       {"data", Value{Blob{std::string("\0\xff", 2)}}}})});
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ((*rows)[0].version, 1);
  auto got = this->GetItem(1);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->fields, (*rows)[0].fields);
  EXPECT_EQ(this->FieldOf(*got, "score"), Value{1.5});
  EXPECT_EQ(this->FieldOf(*got, "rank"), Value{});
  EXPECT_EQ(this->FieldOf(*got, "active"), Value{false});
  EXPECT_EQ(this->FieldOf(*got, "data"), Value{Blob{std::string("\0\xff", 2)}});
  EXPECT_FALSE(this->GetItem(2).has_value());
}

TYPED_TEST(StoreConformance, DuplicateKeyOrUniqueValueIsAlreadyExists) {
  ASSERT_TRUE(this->Run({this->Insert(1, "a", {{"tag", this->S("t")}})}).ok());
  EXPECT_EQ(this->Run({this->Insert(1, "b")}).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(this->Run({this->Insert(2, "b", {{"tag", this->S("t")}})}).status().code(),
            absl::StatusCode::kAlreadyExists);
}

TYPED_TEST(StoreConformance, UpdateChecksVersionsAndChangesNothingOnMismatch) {
  ASSERT_TRUE(this->Run({this->Insert(1, "a")}).ok());
  WriteOp update{WriteKind::kUpdate, "items", {{"id", this->I(1)}}, {{"name", this->S("b")}}, 1};
  auto updated = this->Run({update});
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ((*updated)[0].version, 2);
  EXPECT_GE((*updated)[0].update_time_us, (*updated)[0].create_time_us);
  update.values[0].value = this->S("stale");
  auto stale = this->Run({update});  // still expects version 1
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(std::string(stale.status().message()), HasSubstr("version 2"));
  EXPECT_EQ(this->FieldOf(*this->GetItem(1), "name"), this->S("b"));
  update.key[0].value = this->I(9);
  EXPECT_EQ(this->Run({update}).status().code(), absl::StatusCode::kNotFound);
}

TYPED_TEST(StoreConformance, DeleteReturnsVersionAndMissingIsNotFound) {
  ASSERT_TRUE(this->Run({this->Insert(1, "a")}).ok());
  WriteOp del{WriteKind::kDelete, "items", {{"id", this->I(1)}}, {}, 0};
  auto deleted = this->Run({del});
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ((*deleted)[0].version, 1);
  EXPECT_FALSE(this->GetItem(1).has_value());
  EXPECT_EQ(this->Run({del}).status().code(), absl::StatusCode::kNotFound);
}

TYPED_TEST(StoreConformance, UpsertInsertsThenReplacesAndBumpsVersion) {
  WriteOp up{WriteKind::kUpsert, "pairs", {}, {{"a", this->S("x")}, {"b", this->I(1)}, {"v", this->S("one")}}, 0};
  ASSERT_EQ((*this->Run({up}))[0].version, 1);
  up.values[2].value = this->S("two");
  auto second = this->Run({up});
  ASSERT_TRUE(second.ok());
  EXPECT_EQ((*second)[0].version, 2);
  auto got = this->db_->Get(RowRead{"pairs", {{"a", this->S("x")}, {"b", this->I(1)}}, {"v"}});
  ASSERT_TRUE(got.ok() && got->has_value());
  ASSERT_EQ((*got)->fields.size(), 1u);  // projection
  EXPECT_EQ((*got)->fields[0].value, this->S("two"));
}

TYPED_TEST(StoreConformance, BatchIsAllOrNothing) {
  ASSERT_TRUE(this->Run({this->Insert(1, "a")}).ok());
  auto batch = this->Run({this->Insert(2, "b"), this->Insert(3, "c"), this->Insert(1, "dup")});
  EXPECT_EQ(batch.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(batch.status().message()), HasSubstr("operations[2]"));
  EXPECT_FALSE(this->GetItem(2).has_value());
  EXPECT_FALSE(this->GetItem(3).has_value());
  ASSERT_TRUE(this->Run({this->Insert(2, "b"), this->Insert(3, "c")}).ok());
  EXPECT_TRUE(this->GetItem(3).has_value());
}

TYPED_TEST(StoreConformance, RequestIdReplaysTheFirstResult) {
  auto first = this->Run({this->Insert(1, "a")}, "req-1", "fp-a");
  ASSERT_TRUE(first.ok());
  auto again = this->Run({this->Insert(1, "a")}, "req-1", "fp-a");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *first);
  EXPECT_EQ(this->Run({this->Insert(5, "z")}, "req-1", "fp-b").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(this->GetItem(5).has_value());
}

TYPED_TEST(StoreConformance, FailedWriteWithRequestIdIsNotRemembered) {
  ASSERT_TRUE(this->Run({this->Insert(1, "a")}).ok());
  EXPECT_FALSE(this->Run({this->Insert(1, "dup")}, "req-2", "fp").ok());
  WriteOp del{WriteKind::kDelete, "items", {{"id", this->I(1)}}, {}, 0};
  ASSERT_TRUE(this->Run({del}).ok());
  EXPECT_TRUE(this->Run({this->Insert(1, "dup")}, "req-2", "fp").ok());
}

TYPED_TEST(StoreConformance, KeysetPagesCoverEveryRowOnceInOrderWithNulls) {
  std::vector<WriteOp> ops;
  for (int i = 1; i <= 23; ++i) {
    ops.push_back(this->Insert(i, "n" + std::to_string(i % 4), {{"rank", i % 5 == 0 ? Value{} : this->I(i % 3)}}));
  }
  ASSERT_TRUE(this->Run(ops).ok());
  for (bool desc : {false, true}) {
    Query q;
    q.table = "items";
    q.order = {Order{"rank", desc}, Order{"id", false}};
    q.limit = 4;
    std::vector<int64_t> seen;
    std::vector<std::pair<std::optional<int64_t>, int64_t>> keys;
    for (int page = 0; page < 20; ++page) {
      auto result = this->db_->List(q);
      ASSERT_TRUE(result.ok()) << result.status();
      for (const StoredRow& r : result->rows) {
        const int64_t id = std::get<int64_t>(this->FieldOf(r, "id"));
        const Value& rank = this->FieldOf(r, "rank");
        keys.emplace_back(IsNull(rank) ? std::nullopt : std::optional<int64_t>(std::get<int64_t>(rank)), id);
        seen.push_back(id);
      }
      if (!result->more) break;
      q.after = result->last_cursor;
    }
    std::vector<int64_t> sorted = seen;
    std::sort(sorted.begin(), sorted.end());
    ASSERT_EQ(sorted.size(), 23u) << "desc=" << desc;
    EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end());
    // NULL sorts first ascending and last descending, like SQL engines do.
    auto expected = keys;
    std::stable_sort(expected.begin(), expected.end(), [desc](const auto& x, const auto& y) {
      if (x.first != y.first) {
        if (!x.first || !y.first) return desc ? y.first == std::nullopt : x.first == std::nullopt;
        return desc ? *x.first > *y.first : *x.first < *y.first;
      }
      return x.second < y.second;
    });
    EXPECT_EQ(keys, expected) << "desc=" << desc;
  }
}

TYPED_TEST(StoreConformance, ConditionsAndCount) {
  ASSERT_TRUE(this->Run({this->Insert(1, "apple", {{"rank", this->I(1)}}), this->Insert(2, "apricot"),
                         this->Insert(3, "banana", {{"rank", this->I(3)}})})
                  .ok());
  Query q;
  q.table = "items";
  q.order = {Order{"id", false}};
  q.count_total = true;
  q.limit = 1;
  q.conditions = {Condition{"name", FilterOp::kLike, {this->S("ap%")}}};
  auto r = this->db_->List(q);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->total, 2);
  EXPECT_EQ(r->rows.size(), 1u);
  EXPECT_TRUE(r->more);
  q.conditions = {Condition{"rank", FilterOp::kIsNull, {}}};
  EXPECT_EQ(this->db_->List(q)->total, 1);
  q.conditions = {Condition{"id", FilterOp::kIn, {this->I(1), this->I(3), this->I(7)}},
                  Condition{"rank", FilterOp::kGe, {this->I(2)}}};
  auto in = this->db_->List(q);
  ASSERT_EQ(in->rows.size(), 1u);
  EXPECT_EQ(this->FieldOf(in->rows[0], "id"), this->I(3));
}

TYPED_TEST(StoreConformance, DeadlinesStopLongReadsAndLateWrites) {
  ASSERT_TRUE(this->Apply(2, this->factory_.BigTable()).ok());
  Query q;
  q.table = "big";
  q.order = {Order{"id", false}};
  q.conditions = {Condition{"s", FilterOp::kLike, {this->S("%zzz%")}}};
  q.count_total = true;
  EXPECT_EQ(this->db_->List(q, absl::Now() + absl::Milliseconds(2)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  auto all = this->db_->List(q);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->total, 0);  // hex digits never contain 'z'

  WriteOptions late;
  late.deadline = absl::Now() - absl::Milliseconds(1);
  EXPECT_EQ(this->db_->Write({this->Insert(1, "late")}, late).status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_FALSE(this->GetItem(1).has_value());
  // The connections are usable again afterwards.
  ASSERT_TRUE(this->Run({this->Insert(1, "on time")}).ok());
}

TYPED_TEST(StoreConformance, ReadersRunBesideAWriter) {
  std::atomic<bool> stop{false};
  std::atomic<int> reads{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      Query q;
      q.table = "items";
      q.order = {Order{"id", false}};
      while (!stop) {
        ASSERT_TRUE(this->db_->List(q).ok());
        ++reads;
      }
    });
  }
  for (int i = 1; i <= 200; ++i) ASSERT_TRUE(this->Run({this->Insert(i, "x")}).ok());
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_GT(reads.load(), 0);
  Query q;
  q.table = "items";
  q.order = {Order{"id", false}};
  q.count_total = true;
  EXPECT_EQ(this->db_->List(q)->total, 200);
}

TYPED_TEST(StoreConformance, SavedCursorsComeBackByIdAndStayHidden) {
  const std::string big(3 << 20, 'k');
  auto first = this->db_->SaveCursor(SavedCursor{"secret-1", big}, absl::InfiniteFuture());
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = this->db_->SaveCursor(SavedCursor{"secret-2", "small"}, absl::InfiniteFuture());
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_NE(*first, *second);
  auto loaded = this->db_->LoadCursor(*first, absl::InfiniteFuture());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_TRUE(loaded->has_value());
  EXPECT_EQ((*loaded)->secret, "secret-1");
  EXPECT_EQ((*loaded)->data, big);
  EXPECT_EQ((*this->db_->LoadCursor(*second, absl::InfiniteFuture()))->data, "small");
  auto missing = this->db_->LoadCursor(*second + 1000, absl::InfiniteFuture());
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_FALSE(missing->has_value());
  // Where cursors are kept is no table of the schema, and a migration
  // cannot take its name.
  EXPECT_EQ(this->db_->GetCatalog()->tables.size(), 2u);
  EXPECT_EQ(this->Apply(2, "CREATE TABLE _dg_cursors (x INTEGER PRIMARY KEY);").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*this->db_->LoadCursor(*second, absl::InfiniteFuture()))->data, "small");
  // Saving is a write: past the deadline nothing is saved.
  EXPECT_EQ(this->db_->SaveCursor(SavedCursor{"s", "late"}, absl::Now() - absl::Milliseconds(1)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
}

}  // namespace
}  // namespace datagate::store
