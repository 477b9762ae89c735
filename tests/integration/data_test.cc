// DataService writes and reads through real stubs, with exact error codes.
#include <mutex>
#include <thread>

#include "test_env.h"

namespace datagate::testing {
namespace {

using ::testing::HasSubstr;

class DataTest : public SharedServerTest {
 protected:
  void SetUp() override {
    // A fresh tenant per test keeps tests independent on one server.
    static int n = 0;
    tenant_ = "data-" + std::to_string(++n);
    server_->CreateTenant(tenant_);
  }

  grpc::Status Create(const std::string& json, v1::Row* row = nullptr) {
    v1::Row ignored;
    return server_->data().CreateRow(Ctx(tenant_).get(), FromJson<v1::CreateRowRequest>(json), row ? row : &ignored);
  }
  grpc::Status Get(const std::string& json, v1::Row* row = nullptr) {
    v1::Row ignored;
    return server_->data().GetRow(Ctx(tenant_).get(), FromJson<v1::GetRowRequest>(json), row ? row : &ignored);
  }
  grpc::Status Update(const std::string& json, v1::Row* row = nullptr) {
    v1::Row ignored;
    return server_->data().UpdateRow(Ctx(tenant_).get(), FromJson<v1::UpdateRowRequest>(json), row ? row : &ignored);
  }
  grpc::Status Batch(const std::string& json, v1::BatchWriteResponse* resp = nullptr) {
    v1::BatchWriteResponse ignored;
    return server_->data().BatchWrite(Ctx(tenant_).get(), FromJson<v1::BatchWriteRequest>(json),
                                      resp ? resp : &ignored);
  }
  int64_t Count(const std::string& table) {
    v1::ListRowsRequest req;
    req.set_table(table);
    req.set_include_total_size(true);
    v1::ListRowsResponse resp;
    EXPECT_TRUE(server_->data().ListRows(Ctx(tenant_).get(), req, &resp).ok());
    return resp.total_size();
  }
  void AddCustomer(int id) {
    ASSERT_TRUE(Create(R"({"table": "customers", "row": {"id": )" + std::to_string(id) +
                       R"(, "name": "C", "email": "c)" + std::to_string(id) + R"(@x"}})")
                    .ok());
  }

  std::string tenant_;
};

TEST_F(DataTest, CreateThenGetReturnsTheRowWithVersionAndTimes) {
  v1::Row created;
  ASSERT_TRUE(Create(R"({"table": "products", "row": {"sku": "P-1", "name": "Pen", "price_cents": 150,
                        "weight_kg": 0.02, "image": "AAEC"}})",
                     &created)
                  .ok());
  EXPECT_EQ(created.version(), 1);
  EXPECT_GT(created.create_time().seconds(), 0);
  const auto& f = created.fields().fields();
  EXPECT_EQ(f.at("in_stock").bool_value(), true);   // column default
  EXPECT_EQ(f.at("image").string_value(), "AAEC");  // BLOB round-trips as base64
  v1::Row got;
  ASSERT_TRUE(Get(R"({"table": "products", "key": {"sku": "P-1"}})", &got).ok());
  EXPECT_THAT(got, EqualsProto(created));
  ASSERT_TRUE(Get(R"({"table": "products", "key": {"sku": "P-1"}, "read_mask": "name,price_cents"})", &got).ok());
  EXPECT_EQ(got.fields().fields_size(), 2);
  EXPECT_EQ(got.fields().fields().at("price_cents").number_value(), 150);
}

TEST_F(DataTest, IntegerPrimaryKeyIsAssignedWhenOmitted) {
  v1::Row row;
  ASSERT_TRUE(Create(R"({"table": "customers", "row": {"name": "Ann", "email": "ann@x"}})", &row).ok());
  EXPECT_GT(row.fields().fields().at("id").number_value(), 0);
}

TEST_F(DataTest, BadWritesGetSpecificCodesAndMessages) {
  AddCustomer(1);
  struct Case {
    const char* json;
    grpc::StatusCode code;
    const char* says;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"table": "nope", "row": {"id": 1}})", grpc::INVALID_ARGUMENT, "unknown table 'nope'"},
           {R"({"table": "", "row": {"id": 1}})", grpc::INVALID_ARGUMENT, "table"},
           {R"({"table": "customers", "row": {"id": 2, "name": "x", "email": "e2", "shoe": 1}})",
            grpc::INVALID_ARGUMENT, "unknown column 'shoe'"},
           {R"({"table": "customers", "row": {"id": 2, "name": 5, "email": "e2"}})", grpc::INVALID_ARGUMENT,
            "'customers.name' is TEXT"},
           {R"({"table": "customers", "row": {"id": 2.5, "name": "x", "email": "e2"}})", grpc::INVALID_ARGUMENT,
            "INTEGER"},
           {R"({"table": "customers", "row": {"id": 2, "name": "x", "email": "e2", "vip": "yes"}})",
            grpc::INVALID_ARGUMENT, "BOOLEAN"},
           {R"({"table": "customers", "row": {"id": 2, "name": "x", "email": "e2", "vip": [1]}})",
            grpc::INVALID_ARGUMENT, "lists and objects"},
           {R"({"table": "customers", "row": {"id": 2, "name": "x"}})", grpc::INVALID_ARGUMENT,
            "'customers.email' is NOT NULL"},
           {R"({"table": "customers", "row": {"id": 2, "name": null, "email": "e2"}})", grpc::INVALID_ARGUMENT,
            "'customers.name' is NOT NULL"},
           {R"({"table": "customers", "row": {}})", grpc::INVALID_ARGUMENT, "empty"},
           {R"({"table": "customers", "row": {"id": 1, "name": "x", "email": "e2"}})", grpc::ALREADY_EXISTS,
            "table 'customers' already has a row with the same id"},
           {R"({"table": "customers", "row": {"id": 2, "name": "x", "email": "c1@x"}})", grpc::ALREADY_EXISTS,
            "table 'customers' already has a row with the same email"},
           {R"({"table": "orders", "row": {"id": 1, "customer_id": 999}})", grpc::FAILED_PRECONDITION, "foreign key"},
           {R"({"table": "products", "row": {"sku": "S", "name": "n", "price_cents": -1}})", grpc::FAILED_PRECONDITION,
            "the row breaks a CHECK constraint of table 'products'"},
           {R"({"table": "products", "row": {"sku": "S", "name": "n", "price_cents": 1, "image": "%%"}})",
            grpc::INVALID_ARGUMENT, "base64"},
       }) {
    grpc::Status s = Create(c.json);
    EXPECT_THAT(s, IsCode(c.code)) << c.json;
    EXPECT_THAT(s.error_message(), HasSubstr(c.says)) << c.json;
    EXPECT_THAT(s.error_message(), ::testing::Not(HasSubstr("INSERT")));
    EXPECT_THAT(s.error_message(), ::testing::Not(HasSubstr(">=")));  // no constraint expressions
  }
  EXPECT_EQ(Count("customers"), 1);
  EXPECT_EQ(Count("orders"), 0);
  EXPECT_EQ(Count("products"), 0);
}

TEST_F(DataTest, GetErrors) {
  EXPECT_THAT(Get(R"({"table": "customers", "key": {"id": 42}})"), IsCode(grpc::NOT_FOUND));
  EXPECT_THAT(Get(R"({"table": "order_items", "key": {"order_id": 1}})"), IsCode(grpc::INVALID_ARGUMENT));
  EXPECT_THAT(Get(R"({"table": "customers", "key": {"id": 1, "name": "x"}})"), IsCode(grpc::INVALID_ARGUMENT));
  EXPECT_THAT(Get(R"({"table": "customers", "key": {"id": 1}, "read_mask": "nose"})"), IsCode(grpc::INVALID_ARGUMENT));
}

TEST_F(DataTest, UpdateHonoursMaskAndExpectedVersion) {
  AddCustomer(1);
  v1::Row row;
  ASSERT_TRUE(Update(R"({"table": "customers", "row": {"id": 1, "name": "New", "email": "ignored@x"},
                        "update_mask": "name", "expected_version": 1})",
                     &row)
                  .ok());
  EXPECT_EQ(row.version(), 2);
  EXPECT_EQ(row.fields().fields().at("name").string_value(), "New");
  EXPECT_EQ(row.fields().fields().at("email").string_value(), "c1@x");
  grpc::Status stale = Update(R"({"table": "customers", "row": {"id": 1, "name": "Stale"}, "expected_version": 1})");
  EXPECT_THAT(stale, IsCode(grpc::ABORTED));
  EXPECT_THAT(stale.error_message(), HasSubstr("version 2"));
  ASSERT_TRUE(Get(R"({"table": "customers", "key": {"id": 1}})", &row).ok());
  EXPECT_EQ(row.fields().fields().at("name").string_value(), "New");
  EXPECT_EQ(row.version(), 2);
  EXPECT_THAT(Update(R"({"table": "customers", "row": {"id": 9, "name": "x"}})"), IsCode(grpc::NOT_FOUND));
  EXPECT_THAT(Update(R"({"table": "customers", "row": {"id": 1, "name": "x"}, "update_mask": "id"})"),
              IsCode(grpc::INVALID_ARGUMENT));
  EXPECT_THAT(Update(R"({"table": "customers", "row": {"id": 1}})"), IsCode(grpc::INVALID_ARGUMENT));
  EXPECT_THAT(Update(R"({"table": "customers", "row": {"name": "x"}})"), IsCode(grpc::INVALID_ARGUMENT));
  EXPECT_THAT(Update(R"({"table": "customers", "row": {"id": 1}, "update_mask": "name"})"),
              IsCode(grpc::INVALID_ARGUMENT));  // would null a NOT NULL column
}

TEST_F(DataTest, DeleteAndUpsert) {
  AddCustomer(1);
  v1::DeleteRowResponse del;
  auto req = FromJson<v1::DeleteRowRequest>(R"({"table": "customers", "key": {"id": 1}, "expected_version": 3})");
  EXPECT_THAT(server_->data().DeleteRow(Ctx(tenant_).get(), req, &del), IsCode(grpc::ABORTED));
  req.set_expected_version(1);
  ASSERT_TRUE(server_->data().DeleteRow(Ctx(tenant_).get(), req, &del).ok());
  EXPECT_EQ(del.version(), 1);
  EXPECT_THAT(server_->data().DeleteRow(Ctx(tenant_).get(), req, &del), IsCode(grpc::NOT_FOUND));

  auto up = FromJson<v1::UpsertRowRequest>(R"({"table": "products", "row": {"sku": "A", "name": "a",
                                                "price_cents": 1}})");
  v1::Row row;
  ASSERT_TRUE(server_->data().UpsertRow(Ctx(tenant_).get(), up, &row).ok());
  EXPECT_EQ(row.version(), 1);
  (*up.mutable_row()->mutable_fields())["price_cents"].set_number_value(2);
  ASSERT_TRUE(server_->data().UpsertRow(Ctx(tenant_).get(), up, &row).ok());
  EXPECT_EQ(row.version(), 2);
  EXPECT_EQ(row.fields().fields().at("price_cents").number_value(), 2);
}

TEST_F(DataTest, BatchWriteIsAllOrNothing) {
  v1::BatchWriteResponse resp;
  ASSERT_TRUE(Batch(R"({"operations": [
      {"create": {"table": "customers", "row": {"id": 1, "name": "A", "email": "a@x"}}},
      {"create": {"table": "orders", "row": {"id": 10, "customer_id": 1}}},
      {"create": {"table": "products", "row": {"sku": "S", "name": "s", "price_cents": 5}}},
      {"create": {"table": "order_items", "row": {"order_id": 10, "line": 1, "sku": "S", "quantity": 2,
                                                  "price_cents": 5}}},
      {"update": {"table": "orders", "row": {"id": 10, "status": "paid"}}}]})",
                    &resp)
                  .ok());
  ASSERT_EQ(resp.results_size(), 5);
  EXPECT_EQ(resp.results(4).row().version(), 2);
  grpc::Status failed = Batch(R"({"operations": [
      {"create": {"table": "customers", "row": {"id": 2, "name": "B", "email": "b@x"}}},
      {"delete": {"table": "order_items", "key": {"order_id": 10, "line": 1}}},
      {"create": {"table": "order_items", "row": {"order_id": 10, "line": 2, "sku": "S", "quantity": 0,
                                                  "price_cents": 5}}}]})");
  EXPECT_THAT(failed, IsCode(grpc::FAILED_PRECONDITION));
  EXPECT_THAT(failed.error_message(), HasSubstr("operations[2]"));
  EXPECT_EQ(Count("customers"), 1);
  EXPECT_EQ(Count("order_items"), 1);
  EXPECT_THAT(Batch(R"({"operations": []})"), IsCode(grpc::INVALID_ARGUMENT));
  EXPECT_THAT(Batch(R"({"operations": [{}]})"), IsCode(grpc::INVALID_ARGUMENT));
  EXPECT_THAT(Batch(R"({"operations": [{"create": {"table": "customers", "row": {"id": 3, "name": "C",
                       "email": "c@x"}, "request_id": "inner"}}]})"),
              IsCode(grpc::INVALID_ARGUMENT));
  v1::BatchWriteRequest huge;
  for (int i = 0; i < 1001; ++i) {
    *huge.add_operations()->mutable_create() = FromJson<v1::CreateRowRequest>(
        R"({"table": "customers", "row": {"name": "n", "email": "e)" + std::to_string(i) + R"("}})");
  }
  EXPECT_THAT(server_->data().BatchWrite(Ctx(tenant_).get(), huge, &resp), IsCode(grpc::RESOURCE_EXHAUSTED));
  EXPECT_EQ(Count("customers"), 1);
}

TEST_F(DataTest, RetriedRequestIdReturnsTheFirstResultAndWritesOnce) {
  const std::string req = R"({"table": "customers", "row": {"name": "Once", "email": "once@x"},
                              "request_id": "create-once"})";
  v1::Row first, second;
  ASSERT_TRUE(Create(req, &first).ok());
  ASSERT_TRUE(Create(req, &second).ok());
  EXPECT_THAT(second, EqualsProto(first));
  EXPECT_EQ(Count("customers"), 1);
  grpc::Status reused = Create(R"({"table": "customers", "row": {"name": "Other", "email": "o@x"},
                                   "request_id": "create-once"})");
  EXPECT_THAT(reused, IsCode(grpc::INVALID_ARGUMENT));
  EXPECT_THAT(reused.error_message(), HasSubstr("already used"));
  EXPECT_EQ(Count("customers"), 1);

  const std::string batch = R"({"request_id": "b-1", "operations": [
      {"create": {"table": "customers", "row": {"name": "B1", "email": "b1@x"}}},
      {"create": {"table": "customers", "row": {"name": "B2", "email": "b2@x"}}}]})";
  v1::BatchWriteResponse b1, b2;
  ASSERT_TRUE(Batch(batch, &b1).ok());
  ASSERT_TRUE(Batch(batch, &b2).ok());
  EXPECT_THAT(b2, EqualsProto(b1));
  EXPECT_EQ(Count("customers"), 3);
  EXPECT_THAT(Create(R"({"table": "customers", "row": {"name": "x", "email": "y"}, "request_id": ")" +
                     std::string(200, 'r') + "\"}"),
              IsCode(grpc::INVALID_ARGUMENT));
}

TEST_F(DataTest, ListTablesDescribesTheLiveSchema) {
  v1::ListTablesResponse resp;
  ASSERT_TRUE(server_->data().ListTables(Ctx(tenant_).get(), {}, &resp).ok());
  std::vector<std::string> names;
  for (const auto& t : resp.tables()) names.push_back(t.name());
  EXPECT_EQ(names, (std::vector<std::string>{"customers", "order_items", "orders", "products"}));
  const v1::TableInfo& items = resp.tables(1);
  EXPECT_THAT(std::vector<std::string>(items.primary_key().begin(), items.primary_key().end()),
              ::testing::ElementsAre("order_id", "line"));
  const v1::TableInfo& customers = resp.tables(0);
  ASSERT_EQ(customers.columns_size(), 4);  // the gateway's _dg_ columns stay hidden
  EXPECT_EQ(customers.columns(1).name(), "name");
  EXPECT_EQ(customers.columns(1).type(), "TEXT");
  EXPECT_FALSE(customers.columns(1).nullable());
  EXPECT_EQ(customers.columns(3).type(), "BOOLEAN");
  EXPECT_TRUE(customers.columns(3).has_default());
  EXPECT_THAT(server_->data().ListTables(Ctx().get(), {}, &resp), IsCode(grpc::UNAUTHENTICATED));
}

TEST_F(DataTest, TenantsAreIsolated) {
  AddCustomer(1);
  server_->CreateTenant(tenant_ + "-other");
  v1::Row row;
  EXPECT_THAT(server_->data().GetRow(Ctx(tenant_ + "-other").get(),
                                     FromJson<v1::GetRowRequest>(R"({"table": "customers", "key": {"id": 1}})"), &row),
              IsCode(grpc::NOT_FOUND));
}

}  // namespace
}  // namespace datagate::testing

namespace datagate::testing {
namespace {

// Many writers on one tenant queue inside the gateway (no SQLITE_BUSY ever
// reaches them) while other tenants write and read at the same time.
TEST(ConcurrencyTest, WritersOnOneTenantQueueAndTenantsRunInParallel) {
  auto server = TestServer::Start();
  for (const char* t : {"busy", "side-a", "side-b"}) server->CreateTenant(t);
  constexpr int kThreads = 12, kPerThread = 60;
  std::atomic<int> failures{0};
  std::string first_error;
  std::mutex mu;
  std::vector<std::thread> threads;
  for (int w = 0; w < kThreads; ++w) {
    threads.emplace_back([&, w] {
      const std::string tenant = w < 8 ? "busy" : (w % 2 ? "side-a" : "side-b");
      for (int i = 0; i < kPerThread; ++i) {
        v1::CreateRowRequest req;
        req.set_table("customers");
        auto& f = *req.mutable_row()->mutable_fields();
        f["name"].set_string_value("w" + std::to_string(w));
        f["email"].set_string_value(std::to_string(w) + "-" + std::to_string(i) + "@x");
        v1::Row row;
        grpc::Status s = server->data().CreateRow(Ctx(tenant).get(), req, &row);
        v1::ListRowsResponse page;
        v1::ListRowsRequest list;
        list.set_table("customers");
        list.set_page_size(10);
        if (s.ok()) s = server->data().ListRows(Ctx(tenant).get(), list, &page);
        if (!s.ok()) {
          ++failures;
          std::lock_guard<std::mutex> lock(mu);
          first_error = s.error_message();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0) << first_error;
  auto count = [&](const std::string& tenant) {
    v1::ListRowsRequest req;
    req.set_table("customers");
    req.set_include_total_size(true);
    v1::ListRowsResponse resp;
    EXPECT_TRUE(server->data().ListRows(Ctx(tenant).get(), req, &resp).ok());
    return resp.total_size();
  };
  EXPECT_EQ(count("busy"), 8 * kPerThread);
  EXPECT_EQ(count("side-a") + count("side-b"), 4 * kPerThread);
}

}  // namespace
}  // namespace datagate::testing
