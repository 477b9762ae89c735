// Request semantics and messages: values the gateway refuses, what its
// messages say (and never say), request_id binding, argument checks before
// fan-outs, and the tenant header.
#include <fstream>

#include "common/text.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "test_env.h"

namespace datagate::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Deterministic wire bytes (map entries in key order).
std::string Bytes(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  m.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

class SemanticsTest : public SharedServerTest {
 protected:
  void SetUp() override {
    static int n = 0;
    tenant_ = "sem-" + std::to_string(++n);
    server_->CreateTenant(tenant_);
  }
  v1::CreateRowRequest Product(double weight) {
    v1::CreateRowRequest req =
        FromJson<v1::CreateRowRequest>(R"({"table": "products", "row": {"sku": "P", "name": "n", "price_cents": 1}})");
    (*req.mutable_row()->mutable_fields())["weight_kg"].set_number_value(weight);
    return req;
  }
  int64_t Count(const std::string& table) {
    v1::ListRowsRequest req;
    req.set_table(table);
    req.set_include_total_size(true);
    v1::ListRowsResponse resp;
    EXPECT_TRUE(server_->data().ListRows(Ctx(tenant_).get(), req, &resp).ok());
    return resp.total_size();
  }
  std::string tenant_;
};

TEST_F(SemanticsTest, NanAndInfinityAreRefusedForColumnsAndFilters) {
  for (double bad : {std::nan(""), HUGE_VAL, -HUGE_VAL}) {
    v1::Row row;
    grpc::Status s = server_->data().CreateRow(Ctx(tenant_).get(), Product(bad), &row);
    EXPECT_THAT(s, IsCode(grpc::INVALID_ARGUMENT)) << bad;
    EXPECT_THAT(s.error_message(), HasSubstr("column 'products.weight_kg' takes finite numbers only")) << bad;

    v1::ListRowsRequest list = FromJson<v1::ListRowsRequest>(
        R"({"table": "products", "filters": [{"column": "price_cents", "op": "LESS_THAN"}]})");
    list.mutable_filters(0)->mutable_value()->set_number_value(bad);
    v1::ListRowsResponse resp;
    s = server_->data().ListRows(Ctx(tenant_).get(), list, &resp);
    EXPECT_THAT(s, IsCode(grpc::INVALID_ARGUMENT)) << bad;
    EXPECT_THAT(s.error_message(), HasSubstr("filters[0]: column 'products.price_cents' takes finite numbers only"));
  }
  EXPECT_EQ(Count("products"), 0);
}

TEST_F(SemanticsTest, NullForANotNullColumnSaysWhatToDoAboutItsDefault) {
  v1::Row row;
  // customers.vip is NOT NULL with a default.
  grpc::Status s = server_->data().CreateRow(
      Ctx(tenant_).get(),
      FromJson<v1::CreateRowRequest>(R"({"table": "customers", "row": {"name": "A", "email": "a@x", "vip": null}})"),
      &row);
  EXPECT_THAT(s, IsCode(grpc::INVALID_ARGUMENT));
  EXPECT_THAT(s.error_message(), HasSubstr("'customers.vip' is NOT NULL: give it a value, or leave it out"));
  EXPECT_THAT(s.error_message(), Not(HasSubstr("no default")));
  ASSERT_TRUE(server_->data()
                  .CreateRow(Ctx(tenant_).get(),
                             FromJson<v1::CreateRowRequest>(
                                 R"({"table": "customers", "row": {"id": 1, "name": "A", "email": "a@x"}})"),
                             &row)
                  .ok());
  // An update sets what it is given; the default does not apply there.
  s = server_->data().UpdateRow(
      Ctx(tenant_).get(), FromJson<v1::UpdateRowRequest>(R"({"table": "customers", "row": {"id": 1, "vip": null}})"),
      &row);
  EXPECT_THAT(s, IsCode(grpc::INVALID_ARGUMENT));
  EXPECT_THAT(s.error_message(), HasSubstr("'customers.vip' is NOT NULL: give it a value"));
  EXPECT_THAT(s.error_message(), Not(HasSubstr("default")));
  // A NOT NULL column without default, left out, says so.
  s = server_->data().CreateRow(
      Ctx(tenant_).get(), FromJson<v1::CreateRowRequest>(R"({"table": "customers", "row": {"name": "B"}})"), &row);
  EXPECT_THAT(s.error_message(), HasSubstr("'customers.email' is NOT NULL and has no default"));
}

TEST_F(SemanticsTest, ARequestIdIsBoundToItsMethodAndContent) {
  const std::string json = R"({"table": "products", "row": {"sku": "R", "name": "n", "price_cents": 1},
                               "request_id": "same-id"})";
  v1::Row row;
  ASSERT_TRUE(server_->data().CreateRow(Ctx(tenant_).get(), FromJson<v1::CreateRowRequest>(json), &row).ok());
  // UpsertRowRequest has CreateRowRequest's field numbers: identical bytes.
  const v1::UpsertRowRequest upsert = FromJson<v1::UpsertRowRequest>(json);
  ASSERT_EQ(Bytes(upsert), Bytes(FromJson<v1::CreateRowRequest>(json)));
  grpc::Status s = server_->data().UpsertRow(Ctx(tenant_).get(), upsert, &row);
  EXPECT_THAT(s, IsCode(grpc::INVALID_ARGUMENT));
  EXPECT_THAT(s.error_message(), HasSubstr("request_id 'same-id' was already used for a different request"));
  // Other content on the same method is refused as well.
  v1::CreateRowRequest other = FromJson<v1::CreateRowRequest>(json);
  (*other.mutable_row()->mutable_fields())["price_cents"].set_number_value(2);
  EXPECT_THAT(server_->data().CreateRow(Ctx(tenant_).get(), other, &row), IsCode(grpc::INVALID_ARGUMENT));
  // The same request replays; nothing else was written.
  ASSERT_TRUE(server_->data().CreateRow(Ctx(tenant_).get(), FromJson<v1::CreateRowRequest>(json), &row).ok());
  EXPECT_EQ(row.version(), 1);
  EXPECT_EQ(row.fields().fields().at("price_cents").number_value(), 1);
}

TEST_F(SemanticsTest, FanOutArgumentsAreCheckedOnceBeforeAnyTarget) {
  v1::MigrationPlanResponse plan;
  for (const char* json : {R"({"target": {"all_tenants": true}, "to_version": -1})",
                           R"({"target": {"all_tenants": true}, "to_version": 99})"}) {
    grpc::Status s =
        server_->migrations().ApplyMigrations(Ctx().get(), FromJson<v1::ApplyMigrationsRequest>(json), &plan);
    EXPECT_THAT(s, IsCode(grpc::INVALID_ARGUMENT)) << json;
    EXPECT_THAT(s.error_message(), HasSubstr("to_version")) << json;
  }
  for (const char* json : {R"({"target": {"all_tenants": true}, "to_version": -3})",
                           R"({"target": {"all_tenants": true}, "to_version": 99})"}) {
    grpc::Status s =
        server_->migrations().RevertMigrations(Ctx().get(), FromJson<v1::RevertMigrationsRequest>(json), &plan);
    EXPECT_THAT(s, IsCode(grpc::INVALID_ARGUMENT)) << json;
    EXPECT_EQ(plan.errors_size(), 0);
  }
}

TEST_F(SemanticsTest, TwoTenantHeadersAreRefused) {
  auto ctx = Ctx(tenant_);
  ctx->AddMetadata("x-tenant-id", "sem-other");
  v1::ListTablesResponse resp;
  grpc::Status s = server_->data().ListTables(ctx.get(), {}, &resp);
  EXPECT_THAT(s, IsCode(grpc::INVALID_ARGUMENT));
  EXPECT_THAT(s.error_message(), HasSubstr("'x-tenant-id' is given 2 times"));
}

TEST_F(SemanticsTest, MessagesAreValidUtf8WithCallerInputEscaped) {
  v1::Row row;
  // A key of 'a' and 30 two-byte characters: cutting it by bytes would split one.
  v1::GetRowRequest get = FromJson<v1::GetRowRequest>(R"({"table": "products"})");
  std::string sku = "a";
  for (int i = 0; i < 30; ++i) sku += "\xc3\xa9";
  (*get.mutable_key()->mutable_fields())["sku"].set_string_value(sku);
  grpc::Status s = server_->data().GetRow(Ctx(tenant_).get(), get, &row);
  EXPECT_THAT(s, IsCode(grpc::NOT_FOUND));
  EXPECT_TRUE(IsValidUtf8(s.error_message())) << s.error_message();
  // Control characters from the caller cannot forge log lines or move a
  // terminal's cursor.
  get.set_table("x\n2026-01-01 [info] forged\x1b[2J");
  s = server_->data().GetRow(Ctx(tenant_).get(), get, &row);
  EXPECT_THAT(s, IsCode(grpc::INVALID_ARGUMENT));
  EXPECT_THAT(s.error_message(), HasSubstr("unknown table 'x\\n2026-01-01 [info] forged\\x1b[2J'"));
  EXPECT_EQ(s.error_message().find_first_of("\n\x1b"), std::string::npos);
  // A long name is cut on a character boundary.
  std::string long_name;
  for (int i = 0; i < 600; ++i) long_name += "\xe6\x97\xa5";  // a 3-byte character
  get.set_table(long_name);
  s = server_->data().GetRow(Ctx(tenant_).get(), get, &row);
  EXPECT_THAT(s, IsCode(grpc::INVALID_ARGUMENT));
  EXPECT_TRUE(IsValidUtf8(s.error_message()));
  EXPECT_LT(s.error_message().size(), 1024u);
}

TEST_F(SemanticsTest, AMapKeyEchoedInAFieldPathIsEscaped) {
  v1::CreateRowRequest req = FromJson<v1::CreateRowRequest>(R"({"table": "customers"})");
  auto& value = (*req.mutable_row()->mutable_fields())["\x1b[2J\nforged\xe2\x80\xae"];
  value.mutable_list_value()->add_values()->set_number_value(1);
  v1::Row row;
  grpc::Status s = server_->data().CreateRow(Ctx(tenant_).get(), req, &row);
  EXPECT_THAT(s, IsCode(grpc::INVALID_ARGUMENT));
  EXPECT_EQ(s.error_message(), "row.\\x1b[2J\\nforged\\u{202e}: lists and objects are not column values");
}

TEST_F(SemanticsTest, AMissingRowsKeyIsQuotedOnceAndEscapedInside) {
  v1::Row row;
  grpc::Status s = server_->data().GetRow(
      Ctx(tenant_).get(), FromJson<v1::GetRowRequest>(R"({"table": "products", "key": {"sku": "PEN-9"}})"), &row);
  EXPECT_THAT(s, IsCode(grpc::NOT_FOUND));
  EXPECT_EQ(s.error_message(), "no row in table 'products' with key (sku='PEN-9')");
  s = server_->data().GetRow(Ctx(tenant_).get(),
                             FromJson<v1::GetRowRequest>(R"({"table": "products", "key": {"sku": "it's\n\u001b[2J"}})"),
                             &row);
  EXPECT_THAT(s, IsCode(grpc::NOT_FOUND));
  EXPECT_EQ(s.error_message(), "no row in table 'products' with key (sku='it\\'s\\n\\x1b[2J')");
}

TEST_F(SemanticsTest, IntegersAreExactOnlyBelowTwoToThe53AsNumbers) {
  int n = 0;
  auto create = [&](const std::string& id_json) {
    v1::Row row;
    grpc::Status s = server_->data().CreateRow(
        Ctx(tenant_).get(),
        FromJson<v1::CreateRowRequest>(R"({"table": "customers", "row": {"id": )" + id_json +
                                       R"(, "name": "N", "email": "e)" + std::to_string(++n) + R"("}})"),
        &row);
    return std::make_pair(s, row);
  };
  auto [ok, below] = create("9007199254740991");  // 2^53 - 1: exact as a number
  ASSERT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_EQ(below.fields().fields().at("id").number_value(), 9007199254740991.0);
  // 2^53 as a number may be 2^53 + 1 rounded by the client's JSON: refused.
  auto [refused, unused] = create("9007199254740992");
  EXPECT_THAT(refused, IsCode(grpc::INVALID_ARGUMENT));
  EXPECT_THAT(refused.error_message(), HasSubstr("not a whole number in range"));
  // As a string it is exact, and comes back as a string.
  auto [exact, above] = create(R"("9007199254740993")");
  ASSERT_TRUE(exact.ok()) << exact.error_message();
  EXPECT_EQ(above.fields().fields().at("id").string_value(), "9007199254740993");
}

TEST(NumericColumnTest, NumericTextThatWouldBeInfiniteIsRefused) {
  TempDir dir;
  const std::string root = dir.path() + "/migrations";
  std::filesystem::copy(ExampleMigrationsDir(), root, std::filesystem::copy_options::recursive);
  std::ofstream(root + "/tenant/0005_amounts.up.sql") << "CREATE TABLE amounts (id INTEGER PRIMARY KEY, a NUMERIC);";
  server::Options o;
  o.migrations_dir = root;
  auto server = TestServer::Start(o);
  server->CreateTenant("num");
  v1::Row row;
  for (const char* bad : {R"("1e999")", R"("-1e999")"}) {
    grpc::Status s = server->data().CreateRow(
        Ctx("num").get(),
        FromJson<v1::CreateRowRequest>(std::string(R"({"table": "amounts", "row": {"a": )") + bad + "}}"), &row);
    EXPECT_THAT(s, IsCode(grpc::INVALID_ARGUMENT)) << bad;
    EXPECT_THAT(s.error_message(), HasSubstr("column 'amounts.a' takes finite numbers only"));
  }
  ASSERT_TRUE(server->data()
                  .CreateRow(Ctx("num").get(),
                             FromJson<v1::CreateRowRequest>(R"({"table": "amounts", "row": {"a": "12.5"}})"), &row)
                  .ok());
  EXPECT_EQ(row.fields().fields().at("a").number_value(), 12.5);
}

TEST(ConstraintMessagesTest, NameTheTableAndTheConstraintNeverItsExpression) {
  TempDir dir;
  const std::string root = dir.path() + "/migrations";
  std::filesystem::copy(ExampleMigrationsDir(), root, std::filesystem::copy_options::recursive);
  std::ofstream(root + "/tenant/0005_reviews.up.sql")
      << "CREATE TABLE reviews (id INTEGER PRIMARY KEY,"
         " rating INTEGER NOT NULL CONSTRAINT rating_range CHECK (rating BETWEEN 1 AND 5),"
         " body TEXT CHECK (length(body) < 10));";
  server::Options o;
  o.migrations_dir = root;
  auto server = TestServer::Start(o);
  server->CreateTenant("rev");
  v1::Row row;
  grpc::Status s = server->data().CreateRow(
      Ctx("rev").get(), FromJson<v1::CreateRowRequest>(R"({"table": "reviews", "row": {"rating": 9}})"), &row);
  EXPECT_THAT(s, IsCode(grpc::FAILED_PRECONDITION));
  EXPECT_EQ(s.error_message(), "the row breaks CHECK constraint 'rating_range' of table 'reviews'");
  s = server->data().CreateRow(
      Ctx("rev").get(),
      FromJson<v1::CreateRowRequest>(R"({"table": "reviews", "row": {"rating": 3, "body": "far too long"}})"), &row);
  EXPECT_THAT(s, IsCode(grpc::FAILED_PRECONDITION));
  EXPECT_EQ(s.error_message(), "the row breaks a CHECK constraint of table 'reviews'");
  // In a batch, the failing operation is named too.
  v1::BatchWriteResponse batch;
  s = server->data().BatchWrite(
      Ctx("rev").get(),
      FromJson<v1::BatchWriteRequest>(R"({"operations": [{"create": {"table": "reviews", "row": {"rating": 2}}},
          {"create": {"table": "reviews", "row": {"rating": 0}}}]})"),
      &batch);
  EXPECT_THAT(s, IsCode(grpc::FAILED_PRECONDITION));
  EXPECT_EQ(s.error_message(), "operations[1]: the row breaks CHECK constraint 'rating_range' of table 'reviews'");
}

}  // namespace
}  // namespace datagate::testing
