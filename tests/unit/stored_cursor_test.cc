// Page tokens for huge sort keys: the cursor is kept in the database it pages
// through and the token refers to it. core::ListRows against a real SQLite
// database with small limits (64 KiB replies), an injected clock and small
// bounds, so expiry and eviction are quick to reach.
#include <atomic>

#include "absl/strings/escaping.h"
#include "common/page_token.h"
#include "core/data.h"
#include "store/sqlite/sqlite_database.h"
#include "test_env.h"

namespace datagate::core {
namespace {

using store::sqlite::DatabaseOptions;
using store::sqlite::SqliteDatabase;
using ::testing::HasSubstr;

constexpr char kSchema[] = "CREATE TABLE docs (k TEXT PRIMARY KEY, body TEXT);";
constexpr int64_t kHour = int64_t{3600} * 1000000;

const std::string kBigKey = "b" + std::string(2000, 'b');    // a token of ~2.7 KB inline
const std::string kHugeKey = "d" + std::string(30000, 'd');  // ~40 KB inline: no room beside its row

// `keys` with long ones abbreviated, for readable failures.
std::vector<std::string> Brief(std::vector<std::string> keys) {
  for (std::string& k : keys) {
    if (k.size() > 16) k = k.substr(0, 4) + "...(" + std::to_string(k.size()) + " bytes)";
  }
  return keys;
}

class StoredCursorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    limits_.max_reply_bytes = 64 << 10;
    limits_.max_row_bytes = 60 << 10;
    options_.now_us = [this] { return now_us_.load(); };
  }

  std::shared_ptr<SqliteDatabase> Open(const std::string& name, bool fill = true) {
    auto db = SqliteDatabase::Open(dir_.path() + "/" + name, options_);
    EXPECT_TRUE(db.ok()) << db.status();
    if (!db.ok()) return nullptr;
    if (!fill) return *db;
    EXPECT_TRUE((*db)
                    ->Migrate(store::MigrationScript{store::AppliedMigration{1, "docs", "c", 0}, kSchema, true, "test",
                                                     "docs.sql"},
                              absl::InfiniteFuture())
                    .ok());
    for (const std::string& k : Keys()) {
      std::vector<Field> row{{"k", Value{k}}, {"body", Value{std::string(k.size() > 1000 ? 10 : 20, 'x')}}};
      EXPECT_TRUE((*db)->Write({store::WriteOp{store::WriteKind::kInsert, "docs", {}, row, 0}}).ok());
    }
    return *db;
  }
  static std::vector<std::string> Keys() { return {"a", kBigKey, "c", kHugeKey, "e"}; }

  static ListSpec Spec(int page_size, std::string token = "") {
    ListSpec spec;
    spec.table = "docs";
    spec.page_size = page_size;
    spec.page_token = std::move(token);
    return spec;
  }
  static std::string KeyOf(const StoredRow& row) { return std::get<std::string>(row.fields[0].value); }

  // Pages through docs; every page must be OK, within the reply limit, and
  // its token short.
  std::vector<std::string> ListAll(SqliteDatabase& db, int page_size) {
    std::vector<std::string> keys;
    ListSpec spec = Spec(page_size);
    for (int pages = 0; pages < 100; ++pages) {
      absl::StatusOr<ListPage> page = ListRows(db, spec, limits_);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      EXPECT_LE(static_cast<int64_t>(page->next_page_token.size()), kMaxInlinePageTokenSize);
      for (const StoredRow& row : page->rows) keys.push_back(KeyOf(row));
      if (page->next_page_token.empty()) break;
      spec.page_token = page->next_page_token;
    }
    return keys;
  }

  // The token after the first page of `page_size` rows (which must be a
  // stored-cursor token).
  std::string StoredToken(SqliteDatabase& db, int page_size) {
    absl::StatusOr<ListPage> page = ListRows(db, Spec(page_size), limits_);
    EXPECT_TRUE(page.ok()) << page.status();
    if (!page.ok()) return "";
    EXPECT_EQ(static_cast<int64_t>(page->next_page_token.size()), kStoredPageTokenSize);
    return page->next_page_token;
  }

  // The first key of the page `token` leads to, or the error.
  absl::StatusOr<std::string> Next(SqliteDatabase& db, const std::string& token) {
    absl::StatusOr<ListPage> page = ListRows(db, Spec(1, token), limits_);
    if (!page.ok()) return page.status();
    if (page->rows.empty()) return std::string("<none>");
    return KeyOf(page->rows[0]);
  }

  static void ExpectExpired(const absl::StatusOr<std::string>& next) {
    EXPECT_EQ(next.status().code(), absl::StatusCode::kInvalidArgument) << next.status();
    EXPECT_THAT(std::string(next.status().message()), HasSubstr("expired"));
    EXPECT_THAT(std::string(next.status().message()), HasSubstr("without a page_token"));
  }

  testing::TempDir dir_;
  Limits limits_;
  DatabaseOptions options_;
  std::atomic<int64_t> now_us_{int64_t{1700000000} * 1000000};
};

TEST_F(StoredCursorTest, PagesPastHugeKeysWithShortTokens) {
  auto db = Open("a.db");
  EXPECT_EQ(Brief(ListAll(*db, 1)), Brief(Keys()));
  EXPECT_EQ(Brief(ListAll(*db, 100)), Brief(Keys()));
  // A small key still gets an inline token, and no cursor is stored for it.
  absl::StatusOr<ListPage> first = ListRows(*db, Spec(1), limits_);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_LT(static_cast<int64_t>(first->next_page_token.size()), kStoredPageTokenSize);
  EXPECT_EQ(*Next(*db, StoredToken(*db, 2)), "c");
}

TEST_F(StoredCursorTest, PagesPastAHugeSortValue) {
  auto db = Open("a.db");
  ASSERT_TRUE(db->Write({store::WriteOp{store::WriteKind::kUpdate,
                                        "docs",
                                        {{"k", Value{std::string("c")}}},
                                        {{"body", Value{std::string(40000, 'y')}}},
                                        0}})
                  .ok());
  ListSpec spec = Spec(1);
  spec.order = {store::Order{"body", true}};
  std::vector<std::string> keys;
  for (int pages = 0; pages < 10; ++pages) {
    absl::StatusOr<ListPage> page = ListRows(*db, spec, limits_);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const StoredRow& row : page->rows) keys.push_back(KeyOf(row));
    if (page->next_page_token.empty()) break;
    EXPECT_LE(static_cast<int64_t>(page->next_page_token.size()), kMaxInlinePageTokenSize);
    spec.page_token = page->next_page_token;
  }
  // body descending: the 40,000 y's, then the 20 x's (a, e), then the 10 x's.
  EXPECT_EQ(Brief(keys), Brief({"c", "a", "e", kBigKey, kHugeKey}));
}

TEST_F(StoredCursorTest, ATokenExpiresAfterTheRetention) {
  auto db = Open("a.db");
  const std::string token = StoredToken(*db, 2);
  now_us_ += 23 * kHour;
  EXPECT_EQ(*Next(*db, token), "c");
  now_us_ += 2 * kHour;
  ExpectExpired(Next(*db, token));
}

TEST_F(StoredCursorTest, TheOldestCursorsAreDroppedPastTheCount) {
  options_.max_cursors = 2;
  auto db = Open("a.db");
  const std::string first = StoredToken(*db, 2);
  now_us_ += 1;
  const std::string second = StoredToken(*db, 2);
  now_us_ += 1;
  const std::string third = StoredToken(*db, 2);
  ExpectExpired(Next(*db, first));
  EXPECT_EQ(*Next(*db, second), "c");
  EXPECT_EQ(*Next(*db, third), "c");
}

TEST_F(StoredCursorTest, TheOldestCursorsAreDroppedPastTheBytes) {
  options_.max_cursor_bytes = 5000;  // two cursors of ~2 KB
  auto db = Open("a.db");
  const std::string first = StoredToken(*db, 2);
  now_us_ += 1;
  const std::string second = StoredToken(*db, 2);
  now_us_ += 1;
  const std::string third = StoredToken(*db, 2);
  ExpectExpired(Next(*db, first));
  EXPECT_EQ(*Next(*db, second), "c");
  EXPECT_EQ(*Next(*db, third), "c");
  // A cursor larger than the bound alone is still kept while it is newest.
  ListSpec spec = Spec(1, third);  // to "c", whose token is inline
  absl::StatusOr<ListPage> page = ListRows(*db, spec, limits_);
  ASSERT_TRUE(page.ok()) << page.status();
  spec.page_token = page->next_page_token;
  page = ListRows(*db, spec, limits_);  // the huge key: a ~30 KB cursor
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(*Next(*db, page->next_page_token), "e");
}

TEST_F(StoredCursorTest, ATokenSurvivesReopeningTheDatabase) {
  auto db = Open("a.db");
  const std::string token = StoredToken(*db, 2);
  db->Close();
  db.reset();
  auto reopened = Open("a.db", /*fill=*/false);
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(*Next(*reopened, token), "c");
}

TEST_F(StoredCursorTest, ATokenOfAnotherDatabaseOrWithAnotherSecretFindsNothing) {
  auto a = Open("a.db");
  auto b = Open("b.db");
  const std::string from_a = StoredToken(*a, 2);
  const std::string from_b = StoredToken(*b, 2);  // the same id in b, another secret
  ExpectExpired(Next(*b, from_a));
  ExpectExpired(Next(*a, from_b));

  std::string raw;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(from_a, &raw));
  std::string flipped_secret = raw;
  flipped_secret.back() ^= 1;
  ExpectExpired(Next(*a, absl::WebSafeBase64Escape(flipped_secret)));
  std::string other_id = raw;
  other_id[9] ^= 1;  // the id follows the version byte and the fingerprint
  ExpectExpired(Next(*a, absl::WebSafeBase64Escape(other_id)));
  std::string other_query = raw;
  other_query[1] ^= 1;
  EXPECT_THAT(Next(*a, absl::WebSafeBase64Escape(other_query)).status().message(), HasSubstr("different table"));
  EXPECT_EQ(*Next(*a, from_a), "c");  // the real one still works
}

}  // namespace
}  // namespace datagate::core
