// The real server on port 0: tenants, health, reflection, limits.
#include "google/protobuf/descriptor.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "store/sqlite/sqlite_store.h"
#include "test_env.h"

namespace datagate::testing {
namespace {

using ::testing::HasSubstr;

class ServerTest : public SharedServerTest {};

v1::Tenant MustCreate(TestServer& s, const std::string& id, const std::string& request_id = "") {
  v1::CreateTenantRequest req;
  req.set_tenant_id(id);
  req.set_display_name("Tenant " + id);
  req.set_request_id(request_id);
  v1::Tenant t;
  grpc::Status st = s.tenants().CreateTenant(Ctx().get(), req, &t);
  EXPECT_TRUE(st.ok()) << st.error_message();
  return t;
}

TEST_F(ServerTest, CreateTenantProvisionsMigratedStorage) {
  v1::Tenant t = MustCreate(*server_, "prov");
  EXPECT_EQ(t.tenant_id(), "prov");
  EXPECT_EQ(t.display_name(), "Tenant prov");
  EXPECT_EQ(t.schema_version(), 4);
  EXPECT_GT(t.create_time().seconds(), 0);
  EXPECT_TRUE(std::filesystem::exists(server_->options().data_dir + "/tenants/prov.db"));
  v1::Tenant got;
  v1::GetTenantRequest get;
  get.set_tenant_id("prov");
  ASSERT_TRUE(server_->tenants().GetTenant(Ctx().get(), get, &got).ok());
  EXPECT_EQ(got.create_time().seconds(), t.create_time().seconds());
}

// A tenant of --create_tenants left being deleted (its DeleteTenant's
// answer was lost) does not stop the start: only a running gateway can
// finish the delete. It stays unserved; the others are made.
TEST(ServerStartTest, ATenantToCreateThatIsBeingDeletedIsPassedBy) {
  TempDir dir;
  server::Options options;
  options.data_dir = dir.path() + "/data";
  options.create_tenants = {"left"};
  ASSERT_NE(TestServer::Start(options), nullptr);
  {
    auto store = store::sqlite::SqliteStore::Open(options.data_dir, store::sqlite::StoreOptions());
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_EQ((*store)->DeleteTenant("left", absl::InfiniteFuture(), [] { return absl::UnknownError("lost"); }).code(),
              absl::StatusCode::kUnknown);
  }
  options.create_tenants = {"left", "fresh"};
  std::unique_ptr<TestServer> restarted = TestServer::Start(options);
  ASSERT_NE(restarted, nullptr);
  v1::Tenant got;
  v1::GetTenantRequest get;
  get.set_tenant_id("fresh");
  EXPECT_TRUE(restarted->tenants().GetTenant(Ctx().get(), get, &got).ok());
  get.set_tenant_id("left");
  const grpc::Status left = restarted->tenants().GetTenant(Ctx().get(), get, &got);
  EXPECT_EQ(left.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(left.error_message(), HasSubstr("is being deleted"));
}

TEST_F(ServerTest, CreateTenantIsIdempotentOnlyWithTheSameRequestId) {
  v1::Tenant first = MustCreate(*server_, "idem", "r-1");
  v1::CreateTenantRequest req;
  req.set_tenant_id("idem");
  req.set_display_name("Tenant idem");
  req.set_request_id("r-1");
  v1::Tenant again;
  ASSERT_TRUE(server_->tenants().CreateTenant(Ctx().get(), req, &again).ok());
  EXPECT_EQ(again.create_time().nanos(), first.create_time().nanos());
  // The same request_id with other content is a mistake, not a retry.
  req.set_display_name("Another name");
  EXPECT_THAT(server_->tenants().CreateTenant(Ctx().get(), req, &again), IsCode(grpc::INVALID_ARGUMENT));
  v1::CreateTenantRequest other;
  other.set_tenant_id("idem-other");
  other.set_display_name("Tenant idem");
  other.set_request_id("r-1");
  EXPECT_THAT(server_->tenants().CreateTenant(Ctx().get(), other, &again), IsCode(grpc::INVALID_ARGUMENT));
  v1::GetTenantRequest get;
  get.set_tenant_id("idem-other");
  EXPECT_THAT(server_->tenants().GetTenant(Ctx().get(), get, &again), IsCode(grpc::NOT_FOUND));
  v1::GetTenantRequest got_first;
  got_first.set_tenant_id("idem");
  ASSERT_TRUE(server_->tenants().GetTenant(Ctx().get(), got_first, &again).ok());
  EXPECT_EQ(again.display_name(), "Tenant idem");
  req.set_request_id("r-2");
  EXPECT_THAT(server_->tenants().CreateTenant(Ctx().get(), req, &again), IsCode(grpc::ALREADY_EXISTS));
  req.clear_request_id();
  EXPECT_THAT(server_->tenants().CreateTenant(Ctx().get(), req, &again), IsCode(grpc::ALREADY_EXISTS));
}

TEST_F(ServerTest, TenantIdsAreValidated) {
  for (const char* id : {"", "A", "Bad_Id", "-x", "x-", "../x"}) {
    v1::CreateTenantRequest req;
    req.set_tenant_id(id);
    v1::Tenant t;
    grpc::Status s = server_->tenants().CreateTenant(Ctx().get(), req, &t);
    EXPECT_THAT(s, IsCode(grpc::INVALID_ARGUMENT)) << id;
    EXPECT_THAT(s.error_message(), HasSubstr("invalid tenant id"));
  }
  v1::CreateTenantRequest long_name;
  long_name.set_tenant_id("named");
  long_name.set_display_name(std::string(201, 'n'));
  v1::Tenant created;
  grpc::Status s = server_->tenants().CreateTenant(Ctx().get(), long_name, &created);
  EXPECT_THAT(s, IsCode(grpc::INVALID_ARGUMENT));
  EXPECT_THAT(s.error_message(), HasSubstr("display_name"));
  v1::GetTenantRequest get;
  get.set_tenant_id("named");
  EXPECT_THAT(server_->tenants().GetTenant(Ctx().get(), get, &created), IsCode(grpc::NOT_FOUND));
  get.set_tenant_id("nobody");
  v1::Tenant t;
  EXPECT_THAT(server_->tenants().GetTenant(Ctx().get(), get, &t), IsCode(grpc::NOT_FOUND));
}

TEST(TenantListTest, PagesThroughAllTenantsInOrder) {
  auto server = TestServer::Start();
  for (const char* id : {"e5", "a1", "c3", "b2", "d4"}) MustCreate(*server, id);
  std::vector<std::string> seen;
  v1::ListTenantsRequest req;
  req.set_page_size(2);
  int pages = 0;
  do {
    v1::ListTenantsResponse resp;
    ASSERT_TRUE(server->tenants().ListTenants(Ctx().get(), req, &resp).ok());
    for (const auto& t : resp.tenants()) seen.push_back(t.tenant_id());
    req.set_page_token(resp.next_page_token());
    ++pages;
  } while (!req.page_token().empty() && pages < 10);
  EXPECT_EQ(seen, (std::vector<std::string>{"a1", "b2", "c3", "d4", "e5"}));
  EXPECT_EQ(pages, 3);
  v1::ListTenantsResponse resp;
  req.set_page_token("garbage");
  EXPECT_THAT(server->tenants().ListTenants(Ctx().get(), req, &resp), IsCode(grpc::INVALID_ARGUMENT));
  req.clear_page_token();
  req.set_page_size(5000);
  EXPECT_THAT(server->tenants().ListTenants(Ctx().get(), req, &resp), IsCode(grpc::RESOURCE_EXHAUSTED));
}

TEST_F(ServerTest, DeleteTenantRemovesItsDataForGood) {
  MustCreate(*server_, "gone");
  v1::CreateRowRequest create = FromJson<v1::CreateRowRequest>(
      R"({"table": "customers", "row": {"id": 1, "name": "Ann", "email": "ann@example.com"}})");
  v1::Row row;
  ASSERT_TRUE(server_->data().CreateRow(Ctx("gone").get(), create, &row).ok());
  v1::DeleteTenantRequest del;
  del.set_tenant_id("gone");
  v1::DeleteTenantResponse dresp;
  ASSERT_TRUE(server_->tenants().DeleteTenant(Ctx().get(), del, &dresp).ok());
  EXPECT_FALSE(std::filesystem::exists(server_->options().data_dir + "/tenants/gone.db"));
  EXPECT_THAT(server_->data().CreateRow(Ctx("gone").get(), create, &row), IsCode(grpc::NOT_FOUND));
  EXPECT_THAT(server_->tenants().DeleteTenant(Ctx().get(), del, &dresp), IsCode(grpc::NOT_FOUND));
  // Recreated, it starts empty.
  MustCreate(*server_, "gone");
  v1::GetRowRequest get = FromJson<v1::GetRowRequest>(R"({"table": "customers", "key": {"id": 1}})");
  EXPECT_THAT(server_->data().GetRow(Ctx("gone").get(), get, &row), IsCode(grpc::NOT_FOUND));
}

TEST_F(ServerTest, CallerTenantComesFromMetadata) {
  v1::GetRowRequest get = FromJson<v1::GetRowRequest>(R"({"table": "customers", "key": {"id": 1}})");
  v1::Row row;
  grpc::Status none = server_->data().GetRow(Ctx().get(), get, &row);
  EXPECT_THAT(none, IsCode(grpc::UNAUTHENTICATED));
  EXPECT_THAT(none.error_message(), HasSubstr("x-tenant-id"));
  EXPECT_THAT(server_->data().GetRow(Ctx("nobody").get(), get, &row), IsCode(grpc::NOT_FOUND));
  EXPECT_THAT(server_->data().GetRow(Ctx("Not_Valid").get(), get, &row), IsCode(grpc::INVALID_ARGUMENT));
}

TEST_F(ServerTest, HealthReportsServing) {
  auto stub = grpc::health::v1::Health::NewStub(server_->channel());
  for (const char* service : {"", "datagate.v1.DataService", "datagate.v1.MigrationService"}) {
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(service);
    grpc::health::v1::HealthCheckResponse resp;
    ASSERT_TRUE(stub->Check(Ctx().get(), req, &resp).ok()) << service;
    EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  }
}

TEST_F(ServerTest, ReflectionListsAndDescribesServices) {
  namespace refl = grpc::reflection::v1alpha;
  auto stub = refl::ServerReflection::NewStub(server_->channel());
  auto ctx = Ctx();
  auto stream = stub->ServerReflectionInfo(ctx.get());
  refl::ServerReflectionRequest req;
  req.set_list_services("");
  ASSERT_TRUE(stream->Write(req));
  refl::ServerReflectionResponse resp;
  ASSERT_TRUE(stream->Read(&resp));
  std::vector<std::string> names;
  for (const auto& s : resp.list_services_response().service()) names.push_back(s.name());
  // Exactly what the README's `grpcurl list` shows.
  EXPECT_THAT(names,
              ::testing::UnorderedElementsAre("datagate.v1.DataService", "datagate.v1.TenantService",
                                              "datagate.v1.MigrationService", "datagate.v1.SyncService",
                                              "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"));
  // grpcurl's describe needs the file and every file it imports.
  req.set_file_containing_symbol("datagate.v1.DataService");
  ASSERT_TRUE(stream->Write(req));
  ASSERT_TRUE(stream->Read(&resp));
  std::vector<std::string> files;
  for (const std::string& bytes : resp.file_descriptor_response().file_descriptor_proto()) {
    google::protobuf::FileDescriptorProto file;
    ASSERT_TRUE(file.ParseFromString(bytes));
    files.push_back(file.name());
    if (file.name() == "datagate/v1/data.proto") {
      ASSERT_GT(file.service_size(), 0);
      EXPECT_EQ(file.service(0).method_size(), 8);
    }
  }
  EXPECT_THAT(files, ::testing::IsSupersetOf({"datagate/v1/data.proto", "google/protobuf/struct.proto",
                                              "google/protobuf/field_mask.proto", "google/protobuf/timestamp.proto"}));
  req.set_file_by_filename("datagate/v1/migration.proto");
  ASSERT_TRUE(stream->Write(req));
  ASSERT_TRUE(stream->Read(&resp));
  EXPECT_GT(resp.file_descriptor_response().file_descriptor_proto_size(), 0);
  stream->WritesDone();
}

TEST(ServerLimitsTest, OversizedMessageIsResourceExhausted) {
  server::Options options;
  options.max_message_bytes = 64 << 10;
  auto server = TestServer::Start(options);
  server->CreateTenant("big");
  v1::CreateRowRequest req =
      FromJson<v1::CreateRowRequest>(R"({"table": "customers", "row": {"id": 1, "email": "a@b.c"}})");
  (*req.mutable_row()->mutable_fields())["name"].set_string_value(std::string(100 << 10, 'x'));
  v1::Row row;
  EXPECT_THAT(server->data().CreateRow(Ctx("big").get(), req, &row), IsCode(grpc::RESOURCE_EXHAUSTED));
  v1::GetRowRequest get = FromJson<v1::GetRowRequest>(R"({"table": "customers", "key": {"id": 1}})");
  EXPECT_THAT(server->data().GetRow(Ctx("big").get(), get, &row), IsCode(grpc::NOT_FOUND));
}

TEST(ServerLimitsTest, LargeRowsMakeShorterPagesNotErrors) {
  server::Options options;
  options.max_message_bytes = 64 << 10;
  auto server = TestServer::Start(options);
  server->CreateTenant("wide");
  for (int i = 1; i <= 20; ++i) {
    v1::CreateRowRequest req = FromJson<v1::CreateRowRequest>(R"({"table": "customers"})");
    auto& f = *req.mutable_row()->mutable_fields();
    f["id"].set_number_value(i);
    f["email"].set_string_value(std::to_string(i) + "@x");
    f["name"].set_string_value(std::string(10 << 10, 'n'));
    v1::Row row;
    ASSERT_TRUE(server->data().CreateRow(Ctx("wide").get(), req, &row).ok());
  }
  v1::ListRowsRequest list;
  list.set_table("customers");
  list.set_page_size(50);
  int rows = 0, pages = 0;
  do {
    v1::ListRowsResponse resp;
    grpc::Status s = server->data().ListRows(Ctx("wide").get(), list, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_LT(resp.rows_size(), 20);
    rows += resp.rows_size();
    list.set_page_token(resp.next_page_token());
    ++pages;
  } while (!list.page_token().empty() && pages < 50);
  EXPECT_EQ(rows, 20);
  EXPECT_GT(pages, 1);
}

TEST(ServerStartTest, BadOptionsAreRefusedClearly) {
  server::Options o;
  o.listen = "127.0.0.1:0";
  o.migrations_dir = "/nonexistent";
  EXPECT_EQ(server::Server::Create(o).status().code(), absl::StatusCode::kFailedPrecondition);
  o.migrations_dir = ExampleMigrationsDir();
  o.synchronous = "SOMETIMES";
  EXPECT_EQ(server::Server::Create(o).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ServerStartTest, DataSurvivesARestart) {
  TempDir dir;
  server::Options o;
  o.data_dir = dir.path() + "/data";
  {
    auto server = TestServer::Start(o);
    server->CreateTenant("keep");
    v1::Row row;
    ASSERT_TRUE(server->data()
                    .CreateRow(Ctx("keep").get(),
                               FromJson<v1::CreateRowRequest>(
                                   R"({"table": "customers", "row": {"id": 7, "name": "Kim", "email": "k@x"}})"),
                               &row)
                    .ok());
  }
  auto server = TestServer::Start(o);
  v1::Row row;
  ASSERT_TRUE(
      server->data()
          .GetRow(Ctx("keep").get(), FromJson<v1::GetRowRequest>(R"({"table": "customers", "key": {"id": 7}})"), &row)
          .ok());
  EXPECT_EQ(row.fields().fields().at("name").string_value(), "Kim");
}

}  // namespace
}  // namespace datagate::testing
