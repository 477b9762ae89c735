#include "test_env.h"

#include <stdlib.h>

#include <filesystem>
#include <map>

#include "spdlog/spdlog.h"

namespace datagate::testing {

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "datagate-test-XXXXXX").string();
  path_ = mkdtemp(tmpl.data());
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

TestServer* SharedServerTest::server_ = nullptr;

std::string ExampleMigrationsDir() { return std::string(DATAGATE_SOURCE_DIR) + "/deploy/migrations"; }

std::string ToJson(const google::protobuf::Message& msg) {
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(msg, &out);
  return out;
}

std::unique_ptr<TestServer> TestServer::Start(server::Options options) {
  spdlog::set_level(spdlog::level::warn);
  auto t = std::unique_ptr<TestServer>(new TestServer());
  if (options.listen == server::Options().listen) options.listen = "127.0.0.1:0";
  if (options.data_dir == server::Options().data_dir) options.data_dir = t->dir_.path() + "/data";
  if (options.migrations_dir == server::Options().migrations_dir) options.migrations_dir = ExampleMigrationsDir();
  t->options_ = options;
  auto server = server::Server::Create(options);
  EXPECT_TRUE(server.ok()) << server.status();
  if (!server.ok()) return nullptr;
  t->server_ = *std::move(server);
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(64 << 20);
  t->channel_ = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(t->server_->port()),
                                          grpc::InsecureChannelCredentials(), args);
  t->data_ = v1::DataService::NewStub(t->channel_);
  t->tenants_ = v1::TenantService::NewStub(t->channel_);
  t->migrations_ = v1::MigrationService::NewStub(t->channel_);
  return t;
}

TestServer::~TestServer() {
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
}

void TestServer::CreateTenant(const std::string& id) {
  v1::CreateTenantRequest req;
  req.set_tenant_id(id);
  v1::Tenant resp;
  grpc::Status s = tenants_->CreateTenant(Ctx().get(), req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
}

std::unique_ptr<grpc::ClientContext> Ctx(const std::string& tenant) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!tenant.empty()) ctx->AddMetadata("x-tenant-id", tenant);
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return ctx;
}

std::vector<std::string> AllRows(v1::DataService::Stub& data, const std::string& tenant, const std::string& table,
                                 v1::ReadSource source) {
  std::vector<std::string> out;
  v1::ListRowsRequest req;
  req.set_table(table);
  req.set_page_size(1000);
  req.set_read_source(source);
  while (true) {
    v1::ListRowsResponse resp;
    grpc::Status s = data.ListRows(Ctx(tenant).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (!s.ok()) break;
    for (const v1::Row& r : resp.rows()) {
      // Fields in name order (a Struct's map has none).
      std::map<std::string, std::string> fields;
      for (const auto& [name, value] : r.fields().fields()) fields[name] = ToJson(value);
      std::string line = std::to_string(r.version());
      for (const auto& [name, value] : fields) line += " " + name + "=" + value;
      out.push_back(std::move(line));
    }
    if (resp.next_page_token().empty()) break;
    req.set_page_token(resp.next_page_token());
  }
  return out;
}

}  // namespace datagate::testing
