// Message limits: a write the answer could not carry is refused before it
// commits, every stored row can be read back, and no page is built over the
// limit. The server runs with the default 4 MiB messages, as shipped.
#include "absl/strings/escaping.h"
#include "test_env.h"

namespace datagate::testing {
namespace {

using ::testing::HasSubstr;

constexpr int kLimit = 4 << 20;  // the default --max_message_bytes

v1::CreateRowRequest Product(const std::string& sku, size_t name_bytes) {
  v1::CreateRowRequest req = FromJson<v1::CreateRowRequest>(R"({"table": "products"})");
  auto& f = *req.mutable_row()->mutable_fields();
  f["sku"].set_string_value(sku);
  f["name"].set_string_value(std::string(name_bytes, 'n'));
  f["price_cents"].set_number_value(1);
  return req;
}

// `skus` with long ones abbreviated ("Dddd...(3145729 bytes)"), for
// readable failures.
std::vector<std::string> Brief(std::vector<std::string> skus) {
  for (std::string& sku : skus) {
    if (sku.size() > 16) sku = sku.substr(0, 4) + "...(" + std::to_string(sku.size()) + " bytes)";
  }
  return skus;
}

// Pages through products (ordered by `order_by`, if given, then sku);
// every page must be OK and within the limit, and every token short.
std::vector<std::string> ListAllOf(v1::DataService::Stub& data, const std::string& tenant, int page_size,
                                   const std::string& order_by = "") {
  std::vector<std::string> skus;
  v1::ListRowsRequest req;
  req.set_table("products");
  req.set_page_size(page_size);
  if (!order_by.empty()) req.add_order_by()->set_column(order_by);
  for (int pages = 0; pages < 100; ++pages) {
    v1::ListRowsResponse resp;
    grpc::Status s = data.ListRows(Ctx(tenant).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_code() << ": " << s.error_message();
    if (!s.ok()) break;
    EXPECT_LE(resp.ByteSizeLong(), static_cast<size_t>(kLimit));
    EXPECT_LE(resp.next_page_token().size(), 1024u);
    for (const auto& r : resp.rows()) skus.push_back(r.fields().fields().at("sku").string_value());
    if (resp.next_page_token().empty()) break;
    req.set_page_token(resp.next_page_token());
  }
  return skus;
}

// Creates products with these skus (and short names).
void CreateProducts(v1::DataService::Stub& data, const std::string& tenant, const std::vector<std::string>& skus) {
  for (const std::string& sku : skus) {
    v1::Row row;
    grpc::Status s = data.CreateRow(Ctx(tenant).get(), Product(sku, 10), &row);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
}

// The first sku (Brief) of the page after `token` (page size 1), or the status.
grpc::Status NextSku(v1::DataService::Stub& data, const std::string& tenant, const std::string& token,
                     std::string* sku) {
  v1::ListRowsRequest req = FromJson<v1::ListRowsRequest>(R"({"table": "products", "page_size": 1})");
  req.set_page_token(token);
  v1::ListRowsResponse resp;
  grpc::Status s = data.ListRows(Ctx(tenant).get(), req, &resp);
  if (s.ok() && resp.rows_size() == 1) *sku = Brief({resp.rows(0).fields().fields().at("sku").string_value()})[0];
  return s;
}

// The token after the first `page_size` products.
std::string TokenAfter(v1::DataService::Stub& data, const std::string& tenant, int page_size) {
  v1::ListRowsRequest req;
  req.set_table("products");
  req.set_page_size(page_size);
  v1::ListRowsResponse resp;
  grpc::Status s = data.ListRows(Ctx(tenant).get(), req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return resp.next_page_token();
}

// Keys of 1.5 MB and 3 MB between small ones, in sku order: as inline
// page tokens they would be 2 MB and 4 MB.
std::vector<std::string> HugeKeys() {
  return {"A", "B" + std::string(1500 << 10, 'b'), "C", "D" + std::string(3 << 20, 'd'), "E"};
}

class LimitsTest : public SharedServerTest {
 protected:
  void SetUp() override {
    static int n = 0;
    tenant_ = "limits-" + std::to_string(++n);
    server_->CreateTenant(tenant_);
  }
  grpc::Status Get(const std::string& sku, v1::Row* row) {
    v1::GetRowRequest req = FromJson<v1::GetRowRequest>(R"({"table": "products"})");
    (*req.mutable_key()->mutable_fields())["sku"].set_string_value(sku);
    return server_->data().GetRow(Ctx(tenant_).get(), req, row);
  }
  std::vector<std::string> ListAll(int page_size, const std::string& order_by = "") {
    return ListAllOf(server_->data(), tenant_, page_size, order_by);
  }

  std::string tenant_;
};

TEST_F(LimitsTest, ACreateOfExactlyTheRequestLimitIsRefusedBeforeItCommits) {
  // The reviewer's case: a request of exactly 4 MiB, which gRPC accepts.
  v1::CreateRowRequest req = Product("BIG", 0);
  const size_t base = req.ByteSizeLong();
  size_t name = kLimit - base;
  while (true) {
    req = Product("BIG", name);
    if (req.ByteSizeLong() == static_cast<size_t>(kLimit)) break;
    name -= req.ByteSizeLong() - kLimit;
  }
  v1::Row row;
  grpc::Status s = server_->data().CreateRow(Ctx(tenant_).get(), req, &row);
  EXPECT_THAT(s, IsCode(grpc::RESOURCE_EXHAUSTED));
  EXPECT_THAT(s.error_message(), HasSubstr("nothing was written"));
  EXPECT_THAT(s.error_message(), HasSubstr("--max_row_bytes"));
  // Told "failed", the caller can rely on nothing having been written.
  EXPECT_THAT(Get("BIG", &row), IsCode(grpc::NOT_FOUND));
  EXPECT_TRUE(ListAll(50).empty());
  // A retry with a request_id is refused the same way, not half-remembered.
  req.set_request_id("big-1");
  EXPECT_THAT(server_->data().CreateRow(Ctx(tenant_).get(), req, &row), IsCode(grpc::RESOURCE_EXHAUSTED));
}

TEST_F(LimitsTest, TheLargestAcceptedRowCanBeWrittenReadAndListed) {
  // 4 MiB less the 64 KiB reserve is the default row limit; a name of 4 MiB
  // less 66 KiB stays under it.
  v1::CreateRowRequest req = Product("MAX", kLimit - (66 << 10));
  req.set_request_id("max-1");
  v1::Row created;
  grpc::Status s = server_->data().CreateRow(Ctx(tenant_).get(), req, &created);
  ASSERT_TRUE(s.ok()) << s.error_message();
  v1::Row again;
  ASSERT_TRUE(server_->data().CreateRow(Ctx(tenant_).get(), req, &again).ok());  // replayed answer
  EXPECT_EQ(again.version(), created.version());
  v1::Row got;
  ASSERT_TRUE(Get("MAX", &got).ok());
  EXPECT_EQ(got.fields().fields().at("name").string_value().size(),
            req.row().fields().at("name").string_value().size());
  EXPECT_EQ(ListAll(50), std::vector<std::string>{"MAX"});
}

TEST_F(LimitsTest, AnUpdateThatWouldGrowARowPastTheLimitChangesNothing) {
  v1::Row created;
  ASSERT_TRUE(server_->data().CreateRow(Ctx(tenant_).get(), Product("GROW", 10), &created).ok());
  // Two ~2 MiB updates of different columns: each request is well under
  // the limit, but the second would leave a row (and an answer) over it.
  v1::UpdateRowRequest first = FromJson<v1::UpdateRowRequest>(R"({"table": "products", "row": {"sku": "GROW"}})");
  (*first.mutable_row()->mutable_fields())["name"].set_string_value(std::string(2 << 20, 'a'));
  v1::Row row;
  ASSERT_TRUE(server_->data().UpdateRow(Ctx(tenant_).get(), first, &row).ok());
  EXPECT_EQ(row.version(), 2);
  v1::UpdateRowRequest second = FromJson<v1::UpdateRowRequest>(R"({"table": "products", "row": {"sku": "GROW"}})");
  (*second.mutable_row()->mutable_fields())["image"].set_string_value(std::string(2 << 20, 'A'));  // base64
  grpc::Status s = server_->data().UpdateRow(Ctx(tenant_).get(), second, &row);
  EXPECT_THAT(s, IsCode(grpc::RESOURCE_EXHAUSTED));
  EXPECT_THAT(s.error_message(), HasSubstr("the row in table 'products' would be"));
  ASSERT_TRUE(Get("GROW", &row).ok());
  EXPECT_EQ(row.version(), 2);
  EXPECT_TRUE(row.fields().fields().at("image").has_null_value());
}

TEST_F(LimitsTest, ABatchWhoseAnswerWouldBeTooLargeWritesNothing) {
  v1::Row row;
  ASSERT_TRUE(server_->data().CreateRow(Ctx(tenant_).get(), Product("WIDE", 1500 << 10), &row).ok());
  // Three small updates of a 1.5 MiB row: the request is tiny, the answer
  // (the row three times) is 4.5 MiB.
  v1::BatchWriteRequest batch;
  for (int price = 2; price <= 4; ++price) {
    *batch.add_operations()->mutable_update() = FromJson<v1::UpdateRowRequest>(
        R"({"table": "products", "row": {"sku": "WIDE", "price_cents": )" + std::to_string(price) + "}}");
  }
  ASSERT_LT(batch.ByteSizeLong(), 1000u);
  v1::BatchWriteResponse resp;
  grpc::Status s = server_->data().BatchWrite(Ctx(tenant_).get(), batch, &resp);
  EXPECT_THAT(s, IsCode(grpc::RESOURCE_EXHAUSTED));
  EXPECT_THAT(s.error_message(), HasSubstr("split the batch; nothing was written"));
  ASSERT_TRUE(Get("WIDE", &row).ok());
  EXPECT_EQ(row.version(), 1);
  EXPECT_EQ(row.fields().fields().at("price_cents").number_value(), 1);
  // Two of them fit.
  batch.mutable_operations()->RemoveLast();
  ASSERT_TRUE(server_->data().BatchWrite(Ctx(tenant_).get(), batch, &resp).ok());
  EXPECT_EQ(resp.results(1).row().version(), 3);
}

TEST_F(LimitsTest, PagesAreSizedBeforeEachRowJoins) {
  // Rows whose values are half the limit by the old count (value bytes plus
  // 8 per column, 6 columns): a page may hold one of them, never two. The
  // old check let the second in, then failed to send a page of 4,194,6xx
  // bytes.
  for (const char* sku : {"H1", "H2", "H3"}) {
    v1::Row row;
    grpc::Status s = server_->data().CreateRow(Ctx(tenant_).get(), Product(sku, kLimit / 2 - 50), &row);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_EQ(ListAll(50), (std::vector<std::string>{"H1", "H2", "H3"}));
  // Projection makes the same rows small enough to share a page.
  v1::ListRowsRequest req = FromJson<v1::ListRowsRequest>(R"({"table": "products", "read_mask": {"paths": ["sku"]}})");
  v1::ListRowsResponse resp;
  ASSERT_TRUE(server_->data().ListRows(Ctx(tenant_).get(), req, &resp).ok());
  EXPECT_EQ(resp.rows_size(), 3);
}

TEST_F(LimitsTest, RowsWithHugeKeysArePagedWithShortTokens) {
  // The reviewer's case: the token after a row held its whole key, so the
  // page with the 3 MB key (3 MB row + 4 MB token) could not be built.
  CreateProducts(server_->data(), tenant_, HugeKeys());
  EXPECT_EQ(Brief(ListAll(1)), Brief(HugeKeys()));
  EXPECT_EQ(Brief(ListAll(100)), Brief(HugeKeys()));
}

TEST_F(LimitsTest, RowsOrderedByAHugeColumnArePagedWithShortTokens) {
  for (const auto& [sku, name_bytes] : std::vector<std::pair<std::string, size_t>>{
           {"N1", size_t{2} << 20}, {"N2", 10}, {"N3", size_t{2} << 20}, {"N4", 20}}) {
    v1::Row row;
    grpc::Status s = server_->data().CreateRow(Ctx(tenant_).get(), Product(sku, name_bytes), &row);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  // name ascending ('n' repeated: shorter first), then sku.
  const std::vector<std::string> by_name = {"N2", "N4", "N1", "N3"};
  EXPECT_EQ(ListAll(1, "name"), by_name);
  EXPECT_EQ(ListAll(100, "name"), by_name);
}

TEST_F(LimitsTest, AStoredCursorsTokenServesOnlyItsTenantAndOnlyIntact) {
  static int n = 0;
  const std::string other = "limits-other-" + std::to_string(++n);
  server_->CreateTenant(other);
  CreateProducts(server_->data(), tenant_, HugeKeys());
  CreateProducts(server_->data(), other, HugeKeys());
  const std::string mine = TokenAfter(server_->data(), tenant_, 2);  // after the 1.5 MB key
  const std::string theirs = TokenAfter(server_->data(), other, 2);
  ASSERT_LT(mine.size(), 100u);
  std::string sku;
  ASSERT_TRUE(NextSku(server_->data(), tenant_, mine, &sku).ok());
  EXPECT_EQ(sku, "C");
  for (const auto& [tenant, token] :
       std::vector<std::pair<std::string, std::string>>{{other, mine}, {tenant_, theirs}}) {
    grpc::Status s = NextSku(server_->data(), tenant, token, &sku);
    EXPECT_THAT(s, IsCode(grpc::INVALID_ARGUMENT));
    EXPECT_THAT(s.error_message(), HasSubstr("start again from the first page, without a page_token"));
    EXPECT_THAT(s.error_message(), ::testing::Not(HasSubstr("_dg_")));
  }
  std::string raw;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(mine, &raw));
  raw.back() ^= 0x40;  // the secret's last byte
  EXPECT_THAT(NextSku(server_->data(), tenant_, absl::WebSafeBase64Escape(raw), &sku), IsCode(grpc::INVALID_ARGUMENT));
  // Where the cursors are kept is no table a caller can name.
  v1::ListRowsResponse resp;
  EXPECT_THAT(
      server_->data().ListRows(Ctx(tenant_).get(), FromJson<v1::ListRowsRequest>(R"({"table": "_dg_cursors"})"), &resp),
      IsCode(grpc::INVALID_ARGUMENT));
}

TEST(LimitsRestartTest, AStoredCursorsTokenSurvivesARestart) {
  TempDir dir;
  server::Options options;
  options.data_dir = dir.path() + "/data";
  auto server = TestServer::Start(options);
  ASSERT_NE(server, nullptr);
  server->CreateTenant("restart");
  CreateProducts(server->data(), "restart", HugeKeys());
  const std::string token = TokenAfter(server->data(), "restart", 2);  // after the 1.5 MB key
  ASSERT_LT(token.size(), 100u);
  server.reset();
  server = TestServer::Start(options);
  ASSERT_NE(server, nullptr);
  std::string sku;
  grpc::Status s = NextSku(server->data(), "restart", token, &sku);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(sku, "C");
}

TEST(LimitsOptionsTest, ASmallerRowLimitIsHonouredAndChecked) {
  server::Options options;
  options.max_row_bytes = 64 << 10;
  auto server = TestServer::Start(options);
  server->CreateTenant("small");
  v1::CreateRowRequest req = FromJson<v1::CreateRowRequest>(R"({"table": "products"})");
  auto& f = *req.mutable_row()->mutable_fields();
  f["sku"].set_string_value("S");
  f["price_cents"].set_number_value(1);
  f["name"].set_string_value(std::string(65 << 10, 'x'));
  v1::Row row;
  EXPECT_THAT(server->data().CreateRow(Ctx("small").get(), req, &row), IsCode(grpc::RESOURCE_EXHAUSTED));
  f["name"].set_string_value(std::string(60 << 10, 'x'));
  EXPECT_TRUE(server->data().CreateRow(Ctx("small").get(), req, &row).ok());

  server::Options bad;
  bad.listen = "127.0.0.1:0";
  bad.migrations_dir = ExampleMigrationsDir();
  bad.data_dir = "/tmp/unused";
  bad.max_row_bytes = bad.max_message_bytes;  // no room left for the rest of a reply
  EXPECT_EQ(server::Server::Create(bad).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace datagate::testing
