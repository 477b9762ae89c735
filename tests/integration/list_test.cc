// ListRows: filters, ordering, projection, keyset pages, totals, errors.
#include <set>

#include "test_env.h"

namespace datagate::testing {
namespace {

using ::testing::HasSubstr;

class ListTest : public SharedServerTest {
 protected:
  static void SetUpTestSuite() {
    SharedServerTest::SetUpTestSuite();
    server_->CreateTenant("shop");
    v1::BatchWriteRequest batch;
    for (int i = 1; i <= 40; ++i) {
      auto* create = batch.add_operations()->mutable_create();
      *create = FromJson<v1::CreateRowRequest>(R"({"table": "products"})");
      auto& f = *create->mutable_row()->mutable_fields();
      f["sku"].set_string_value("SKU-" + std::string(i < 10 ? "0" : "") + std::to_string(i));
      f["name"].set_string_value(i % 2 ? "odd " + std::to_string(i) : "even " + std::to_string(i));
      f["price_cents"].set_number_value((i * 7) % 13 * 100);
      if (i % 5 != 0) f["weight_kg"].set_number_value(i / 10.0);
    }
    v1::BatchWriteResponse resp;
    grpc::Status s = server_->data().BatchWrite(Ctx("shop").get(), batch, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  static grpc::Status List(const v1::ListRowsRequest& req, v1::ListRowsResponse* resp) {
    return server_->data().ListRows(Ctx("shop").get(), req, resp);
  }
  static std::vector<std::string> Skus(const v1::ListRowsResponse& resp) {
    std::vector<std::string> out;
    for (const auto& r : resp.rows()) out.push_back(r.fields().fields().at("sku").string_value());
    return out;
  }
  static int Total(const std::string& filters_json) {
    auto req = FromJson<v1::ListRowsRequest>(R"({"table": "products", "include_total_size": true,
                                                 "page_size": 1000, "filters": )" +
                                             filters_json + "}");
    v1::ListRowsResponse resp;
    grpc::Status s = List(req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message() << " for " << filters_json;
    EXPECT_EQ(resp.rows_size(), resp.total_size());
    return static_cast<int>(resp.total_size());
  }
};

TEST_F(ListTest, EveryFilterOperator) {
  EXPECT_EQ(Total(R"([{"column": "sku", "op": "EQUAL", "value": "SKU-07"}])"), 1);
  EXPECT_EQ(Total(R"([{"column": "sku", "op": "NOT_EQUAL", "value": "SKU-07"}])"), 39);
  EXPECT_EQ(Total(R"([{"column": "price_cents", "op": "LESS_THAN", "value": 300}])"), 9);
  EXPECT_EQ(Total(R"([{"column": "price_cents", "op": "LESS_THAN_OR_EQUAL", "value": 300}])"), 12);
  EXPECT_EQ(Total(R"([{"column": "price_cents", "op": "GREATER_THAN", "value": 1000}])"), 6);
  EXPECT_EQ(Total(R"([{"column": "price_cents", "op": "GREATER_THAN_OR_EQUAL", "value": 1000}])"), 9);
  EXPECT_EQ(Total(R"([{"column": "sku", "op": "IN", "values": ["SKU-01", "SKU-02", "SKU-99"]}])"), 2);
  EXPECT_EQ(Total(R"([{"column": "name", "op": "LIKE", "value": "odd%"}])"), 20);
  EXPECT_EQ(Total(R"([{"column": "weight_kg", "op": "IS_NULL"}])"), 8);
  EXPECT_EQ(Total(R"([{"column": "weight_kg", "op": "IS_NOT_NULL"}])"), 32);
  EXPECT_EQ(Total(R"([{"column": "name", "op": "LIKE", "value": "odd%"},
                      {"column": "weight_kg", "op": "IS_NULL"}])"),
            4);
}

TEST_F(ListTest, OrdersByColumnsAndProjects) {
  auto req = FromJson<v1::ListRowsRequest>(R"({"table": "products", "page_size": 5, "read_mask": "sku,price_cents",
      "order_by": [{"column": "price_cents", "descending": true}, {"column": "sku"}]})");
  v1::ListRowsResponse resp;
  ASSERT_TRUE(List(req, &resp).ok());
  ASSERT_EQ(resp.rows_size(), 5);
  EXPECT_EQ(resp.rows(0).fields().fields_size(), 2);
  double last = 1e9;
  for (const auto& r : resp.rows()) {
    const double p = r.fields().fields().at("price_cents").number_value();
    EXPECT_LE(p, last);
    last = p;
  }
  EXPECT_EQ(resp.rows(0).fields().fields().at("price_cents").number_value(), 1200);
  EXPECT_FALSE(resp.next_page_token().empty());
}

TEST_F(ListTest, PagesStayCorrectUnderConcurrentInserts) {
  server_->CreateTenant("pages");
  auto insert = [](const std::string& sku) {
    auto req = FromJson<v1::CreateRowRequest>(R"({"table": "products", "row": {"name": "n", "price_cents": 1}})");
    (*req.mutable_row()->mutable_fields())["sku"].set_string_value(sku);
    v1::Row row;
    ASSERT_TRUE(server_->data().CreateRow(Ctx("pages").get(), req, &row).ok());
  };
  std::set<std::string> before;
  for (int i = 0; i < 30; ++i) {
    const std::string sku = "M" + std::to_string(100 + i * 10);
    insert(sku);
    before.insert(sku);
  }
  auto req = FromJson<v1::ListRowsRequest>(R"({"table": "products", "page_size": 7,
      "order_by": [{"column": "price_cents"}]})");
  std::vector<std::string> seen;
  for (int page = 0; page < 20; ++page) {
    v1::ListRowsResponse resp;
    ASSERT_TRUE(server_->data().ListRows(Ctx("pages").get(), req, &resp).ok());
    for (const auto& s : Skus(resp)) seen.push_back(s);
    // Rows land both behind and ahead of the cursor between pages.
    insert("A" + std::to_string(page));
    insert("Z" + std::to_string(page));
    if (resp.next_page_token().empty()) break;
    req.set_page_token(resp.next_page_token());
  }
  std::set<std::string> unique(seen.begin(), seen.end());
  EXPECT_EQ(unique.size(), seen.size()) << "a row was served twice";
  for (const auto& sku : before) EXPECT_TRUE(unique.count(sku)) << sku << " was skipped";
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));  // price ties fall back to the key
}

TEST_F(ListTest, DefaultPageAndLastPage) {
  v1::ListRowsRequest req;
  req.set_table("products");
  v1::ListRowsResponse resp;
  ASSERT_TRUE(List(req, &resp).ok());
  EXPECT_EQ(resp.rows_size(), 40);
  EXPECT_TRUE(resp.next_page_token().empty());
  EXPECT_EQ(resp.total_size(), 0);  // not requested
}

TEST_F(ListTest, BadListsAreRefusedWithWhatToFix) {
  struct Case {
    const char* json;
    grpc::StatusCode code;
    const char* says;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"table": "nope"})", grpc::INVALID_ARGUMENT, "unknown table"},
           {R"({"table": "products", "page_size": 1001})", grpc::RESOURCE_EXHAUSTED, "page_size"},
           {R"({"table": "products", "page_size": -1})", grpc::INVALID_ARGUMENT, "page_size"},
           {R"({"table": "products", "page_token": "xyz"})", grpc::INVALID_ARGUMENT, "page_token"},
           {R"({"table": "products", "filters": [{"column": "nose", "op": "EQUAL", "value": 1}]})",
            grpc::INVALID_ARGUMENT, "filters[0]: unknown column"},
           {R"({"table": "products", "filters": [{"column": "sku", "value": "x"}]})", grpc::INVALID_ARGUMENT,
            "op is required"},
           {R"({"table": "products", "filters": [{"column": "sku", "op": "IN"}]})", grpc::INVALID_ARGUMENT,
            "at least one"},
           {R"({"table": "products", "filters": [{"column": "sku", "op": "LIKE", "value": 3}]})",
            grpc::INVALID_ARGUMENT, "string pattern"},
           {R"({"table": "products", "filters": [{"column": "sku", "op": "EQUAL", "value": null}]})",
            grpc::INVALID_ARGUMENT, "IS_NULL"},
           {R"({"table": "products", "filters": [{"column": "sku", "op": "IS_NULL", "value": "x"}]})",
            grpc::INVALID_ARGUMENT, "take no value"},
           {R"({"table": "products", "filters": [{"column": "price_cents", "op": "EQUAL", "value": "cheap"}]})",
            grpc::INVALID_ARGUMENT, "INTEGER"},
           {R"({"table": "products", "filters": [{"column": "sku", "op": "EQUAL"}]})", grpc::INVALID_ARGUMENT,
            "needs a 'value'"},
           {R"({"table": "products", "order_by": [{"column": "nose"}]})", grpc::INVALID_ARGUMENT, "unknown column"},
           {R"({"table": "products", "order_by": [{"column": "sku"}, {"column": "sku"}]})", grpc::INVALID_ARGUMENT,
            "twice"},
           {R"({"table": "products", "read_mask": "nose"})", grpc::INVALID_ARGUMENT, "unknown column"},
       }) {
    v1::ListRowsResponse resp;
    grpc::Status s = List(FromJson<v1::ListRowsRequest>(c.json), &resp);
    EXPECT_THAT(s, IsCode(c.code)) << c.json;
    EXPECT_THAT(s.error_message(), HasSubstr(c.says)) << c.json;
  }
}

TEST_F(ListTest, OversizedFiltersAreResourceExhausted) {
  v1::ListRowsRequest req;
  req.set_table("products");
  for (int i = 0; i < 65; ++i) {
    v1::Filter* f = req.add_filters();
    f->set_column("price_cents");
    f->set_op(v1::Filter::GREATER_THAN);
    f->mutable_value()->set_number_value(i);
  }
  v1::ListRowsResponse resp;
  grpc::Status many = List(req, &resp);
  EXPECT_THAT(many, IsCode(grpc::RESOURCE_EXHAUSTED));
  EXPECT_THAT(many.error_message(), HasSubstr("filters is 65, above the maximum of 64"));
  req.mutable_filters()->DeleteSubrange(1, 64);
  ASSERT_TRUE(List(req, &resp).ok());  // one is fine
  req.mutable_filters(0)->set_column("name");
  req.mutable_filters(0)->set_op(v1::Filter::LIKE);
  req.mutable_filters(0)->mutable_value()->set_string_value(std::string(1001, '%'));
  EXPECT_THAT(List(req, &resp), IsCode(grpc::RESOURCE_EXHAUSTED));
}

TEST_F(ListTest, TokenFromAnotherQueryIsRefused) {
  auto req = FromJson<v1::ListRowsRequest>(R"({"table": "products", "page_size": 3})");
  v1::ListRowsResponse resp;
  ASSERT_TRUE(List(req, &resp).ok());
  auto other = FromJson<v1::ListRowsRequest>(R"({"table": "products", "page_size": 3,
      "order_by": [{"column": "name"}]})");
  other.set_page_token(resp.next_page_token());
  grpc::Status s = List(other, &resp);
  EXPECT_THAT(s, IsCode(grpc::INVALID_ARGUMENT));
  EXPECT_THAT(s.error_message(), HasSubstr("different"));
}

}  // namespace
}  // namespace datagate::testing
