// Admin replies fit --max_message_bytes: a migration plan that ran is
// answered OK (counting what it does not list), and status and tenant pages
// end early instead of growing past the limit. Run at the smallest limit
// (8192 bytes) with a few hundred tenants.
#include <fstream>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "spdlog/spdlog.h"
#include "test_env.h"

namespace datagate::testing {
namespace {

using ::testing::HasSubstr;

constexpr int kMessageLimit = 8192;
constexpr int kTenants = 300;

std::string TenantId(int i) { return absl::StrFormat("tenant-%04d-with-a-long-id-to-fill-pages", i); }

server::Options SmallMessages() {
  server::Options options;
  options.max_message_bytes = kMessageLimit;
  options.synchronous = "NORMAL";  // fast set-up; durability is not under test
  return options;
}

void CreateTenant(TestServer& server, const std::string& id, const std::string& display_name) {
  v1::CreateTenantRequest req;
  req.set_tenant_id(id);
  req.set_display_name(display_name);
  v1::Tenant resp;
  grpc::Status s = server.tenants().CreateTenant(Ctx().get(), req, &resp);
  ASSERT_TRUE(s.ok()) << id << ": " << s.error_message();
}

// Every target of the paged status listing (of every tenant, or of the
// master and every tenant), checking that each page is OK and fits.
std::vector<v1::TargetStatus> StatusOfAll(TestServer& server, bool only_tenants, int page_size, int* pages) {
  std::vector<v1::TargetStatus> all;
  v1::GetMigrationStatusRequest req;
  if (only_tenants) req.mutable_target()->set_all_tenants(true);
  req.set_page_size(page_size);
  *pages = 0;
  do {
    v1::GetMigrationStatusResponse resp;
    grpc::Status s = server.migrations().GetMigrationStatus(Ctx().get(), req, &resp);
    EXPECT_THAT(s, IsCode(grpc::OK)) << "page " << *pages;
    if (!s.ok()) break;
    EXPECT_LE(resp.ByteSizeLong(), static_cast<size_t>(kMessageLimit));
    EXPECT_GT(resp.targets_size(), 0) << "page " << *pages;
    ++*pages;
    all.insert(all.end(), resp.targets().begin(), resp.targets().end());
    req.set_page_token(resp.next_page_token());
  } while (!req.page_token().empty());
  return all;
}

// The current version of every tenant, from the paged status; fails the
// test unless each tenant is listed exactly once, in id order.
std::map<std::string, int64_t> TenantVersions(TestServer& server) {
  int pages = 0;
  std::map<std::string, int64_t> versions;
  std::string previous;
  for (const v1::TargetStatus& t : StatusOfAll(server, true, 1000, &pages)) {
    EXPECT_LT(previous, t.target());
    previous = t.target();
    EXPECT_TRUE(versions.emplace(t.target(), t.current_version()).second) << t.target() << " listed twice";
  }
  return versions;
}

class AdminLimitsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = TestServer::Start(SmallMessages()).release();
    ASSERT_NE(server_, nullptr);
    // Display names of 200 bytes (100 two-byte characters): the longest allowed.
    std::string name;
    for (int i = 0; i < 100; ++i) name += "\xc3\xa9";
    for (int i = 0; i < kTenants; ++i) CreateTenant(*server_, TenantId(i), name);
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static TestServer* server_;
};

TestServer* AdminLimitsTest::server_ = nullptr;

TEST_F(AdminLimitsTest, ListTenantsPagesEndEarlyAndListEveryTenantOnce) {
  for (const int page_size : {0, 1000}) {
    v1::ListTenantsRequest req;
    req.set_page_size(page_size);
    std::vector<std::string> ids;
    int pages = 0;
    bool shorter = false;  // a page cut short by the message limit
    do {
      v1::ListTenantsResponse resp;
      ASSERT_THAT(server_->tenants().ListTenants(Ctx().get(), req, &resp), IsCode(grpc::OK))
          << "page " << pages << " of size " << page_size;
      ASSERT_GT(resp.tenants_size(), 0);
      EXPECT_LE(resp.ByteSizeLong(), static_cast<size_t>(kMessageLimit));
      if (!resp.next_page_token().empty() && resp.tenants_size() < (page_size == 0 ? 50 : page_size)) shorter = true;
      for (const v1::Tenant& t : resp.tenants()) ids.push_back(t.tenant_id());
      req.set_page_token(resp.next_page_token());
      ++pages;
    } while (!req.page_token().empty());
    EXPECT_TRUE(shorter) << "page size " << page_size;
    ASSERT_EQ(ids.size(), static_cast<size_t>(kTenants)) << "page size " << page_size;
    for (int i = 0; i < kTenants; ++i) EXPECT_EQ(ids[i], TenantId(i));  // each once, in id order
    EXPECT_GT(pages, kTenants / 50);
  }
}

TEST_F(AdminLimitsTest, StatusPagesEndEarlyAndListEveryTargetOnce) {
  for (const int page_size : {0, 1000}) {
    int pages = 0;
    std::vector<v1::TargetStatus> all = StatusOfAll(*server_, false, page_size, &pages);
    ASSERT_EQ(all.size(), static_cast<size_t>(kTenants + 1)) << "page size " << page_size;
    EXPECT_EQ(all[0].target(), "master");
    for (int i = 0; i < kTenants; ++i) {
      EXPECT_EQ(all[i + 1].target(), "tenant/" + TenantId(i));
      EXPECT_EQ(all[i + 1].current_version(), 4);
      EXPECT_EQ(all[i + 1].applied_size(), 4);
    }
    EXPECT_GT(pages, page_size == 0 ? kTenants / 100 : 1);
  }
}

TEST_F(AdminLimitsTest, AllTenantRevertsAndAppliesThatRunAreAnsweredOk) {
  auto& stub = server_->migrations();
  constexpr int64_t kSteps = 4 * kTenants;  // four tenant migrations each

  // The dry run lists what fits and counts the rest; nothing changes.
  auto revert = FromJson<v1::RevertMigrationsRequest>(
      R"({"target": {"all_tenants": true}, "to_version": 0, "validate_only": true})");
  v1::MigrationPlanResponse plan;
  ASSERT_THAT(stub.RevertMigrations(Ctx().get(), revert, &plan), IsCode(grpc::OK));
  EXPECT_GT(plan.omitted_steps(), 0);
  EXPECT_EQ(plan.steps_size() + plan.omitted_steps(), kSteps);
  EXPECT_EQ(plan.errors_size() + plan.omitted_errors(), 0);
  for (const auto& [target, version] : TenantVersions(*server_)) EXPECT_EQ(version, 4) << target;

  revert.set_validate_only(false);
  plan.Clear();
  ASSERT_THAT(stub.RevertMigrations(Ctx().get(), revert, &plan), IsCode(grpc::OK));
  EXPECT_LE(plan.ByteSizeLong(), static_cast<size_t>(kMessageLimit));
  EXPECT_GT(plan.omitted_steps(), 0);
  EXPECT_EQ(plan.steps_size() + plan.omitted_steps(), kSteps);
  EXPECT_EQ(plan.errors_size() + plan.omitted_errors(), 0);
  ASSERT_GT(plan.steps_size(), 0);
  EXPECT_EQ(plan.steps(0).target(), "tenant/" + TenantId(0));  // listed in execution order
  EXPECT_EQ(plan.steps(0).version(), 4);
  for (const v1::MigrationStep& step : plan.steps()) EXPECT_TRUE(step.done()) << step.target();
  std::map<std::string, int64_t> versions = TenantVersions(*server_);
  EXPECT_EQ(versions.size(), static_cast<size_t>(kTenants));
  for (const auto& [target, version] : versions) EXPECT_EQ(version, 0) << target;

  auto apply = FromJson<v1::ApplyMigrationsRequest>(R"({"target": {"all_tenants": true}})");
  plan.Clear();
  ASSERT_THAT(stub.ApplyMigrations(Ctx().get(), apply, &plan), IsCode(grpc::OK));
  EXPECT_LE(plan.ByteSizeLong(), static_cast<size_t>(kMessageLimit));
  EXPECT_GT(plan.omitted_steps(), 0);
  EXPECT_EQ(plan.steps_size() + plan.omitted_steps(), kSteps);
  EXPECT_EQ(plan.errors_size() + plan.omitted_errors(), 0);
  for (const v1::MigrationStep& step : plan.steps()) EXPECT_TRUE(step.done()) << step.target();
  versions = TenantVersions(*server_);
  EXPECT_EQ(versions.size(), static_cast<size_t>(kTenants));
  for (const auto& [target, version] : versions) EXPECT_EQ(version, 4) << target;
  v1::GetTenantRequest get;
  get.set_tenant_id(TenantId(kTenants - 1));
  v1::Tenant tenant;
  ASSERT_THAT(server_->tenants().GetTenant(Ctx().get(), get, &tenant), IsCode(grpc::OK));
  EXPECT_EQ(tenant.schema_version(), 4);  // the registry followed
}

// A migrations folder whose second tenant migration cannot be reverted while
// its table holds a row.
class FailingRevertTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string m = dir_.path() + "/migrations";
    std::filesystem::create_directories(m + "/master");
    std::filesystem::create_directories(m + "/tenant");
    Write(m + "/tenant/0001_items.up.sql", "CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT);");
    Write(m + "/tenant/0001_items.down.sql", "DROP TABLE items;");
    Write(m + "/tenant/0002_flags.up.sql", "CREATE TABLE flags (id INTEGER PRIMARY KEY);");
    Write(m + "/tenant/0002_flags.down.sql",
          "CREATE TABLE guard (n INTEGER PRIMARY KEY CHECK (n = 0));\n"
          "INSERT INTO guard SELECT count(*) FROM flags;\n"
          "DROP TABLE guard;\nDROP TABLE flags;");
    server::Options options = SmallMessages();
    options.migrations_dir = m;
    server_ = TestServer::Start(options);
    ASSERT_NE(server_, nullptr);
    spdlog::set_level(spdlog::level::critical);  // each failing revert logs an error
  }
  void TearDown() override { spdlog::set_level(spdlog::level::warn); }
  static void Write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

  TempDir dir_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(FailingRevertTest, PerTenantErrorsAreListedWithinTheLimitAndTheRestCounted) {
  constexpr int kFlagged = 100;  // every other tenant of 200 cannot revert
  for (int i = 0; i < 2 * kFlagged; ++i) {
    ASSERT_NO_FATAL_FAILURE(CreateTenant(*server_, TenantId(i), ""));
    if (i % 2 == 1) continue;
    v1::Row row;
    auto create = FromJson<v1::CreateRowRequest>(R"({"table": "flags", "row": {"id": 1}})");
    ASSERT_THAT(server_->data().CreateRow(Ctx(TenantId(i)).get(), create, &row), IsCode(grpc::OK));
  }
  auto revert = FromJson<v1::RevertMigrationsRequest>(R"({"target": {"all_tenants": true}, "to_version": 0})");
  v1::MigrationPlanResponse plan;
  ASSERT_THAT(server_->migrations().RevertMigrations(Ctx().get(), revert, &plan), IsCode(grpc::OK));
  EXPECT_LE(plan.ByteSizeLong(), static_cast<size_t>(kMessageLimit));
  EXPECT_GT(plan.omitted_errors(), 0);
  EXPECT_EQ(plan.errors_size() + plan.omitted_errors(), kFlagged);
  ASSERT_GT(plan.errors_size(), 0);
  EXPECT_THAT(plan.errors(0), HasSubstr("tenant/" + TenantId(0) + ": migration 2 'flags'"));
  EXPECT_GT(plan.steps_size(), 0);  // errors leave room for steps
  EXPECT_GT(plan.omitted_steps(), 0);
  // Each flagged tenant planned two steps and ran none; each other ran two.
  EXPECT_EQ(plan.steps_size() + plan.omitted_steps(), 4 * kFlagged);
  std::map<std::string, int64_t> versions = TenantVersions(*server_);
  ASSERT_EQ(versions.size(), static_cast<size_t>(2 * kFlagged));
  for (int i = 0; i < 2 * kFlagged; ++i) EXPECT_EQ(versions["tenant/" + TenantId(i)], i % 2 == 0 ? 2 : 0) << i;
}

// ListMigrations is not paged and a target's status must fit one page: a
// folder whose answers could not fit the message limit stops the start.
TEST(AdminLimitsStartTest, AMessageLimitTooSmallForTheMigrationsFolderIsRefusedAtStart) {
  TempDir dir;
  const std::string m = dir.path() + "/migrations";
  std::filesystem::create_directories(m + "/master");
  std::filesystem::create_directories(m + "/tenant");
  const std::string long_name(200, 'n');
  for (int v = 1; v <= 40; ++v) {
    const std::string table = absl::StrCat("t", v);
    std::ofstream(absl::StrFormat("%s/tenant/%04d_%s.up.sql", m, v, long_name))
        << "CREATE TABLE " << table << " (id INTEGER PRIMARY KEY);";
    std::ofstream(absl::StrFormat("%s/tenant/%04d_%s.down.sql", m, v, long_name)) << "DROP TABLE " << table << ";";
  }
  server::Options options = SmallMessages();
  options.migrations_dir = m;
  options.data_dir = dir.path() + "/data";
  absl::StatusOr<std::unique_ptr<server::Server>> refused = server::Server::Create(options);
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), HasSubstr("max_message_bytes"));
  EXPECT_FALSE(std::filesystem::exists(options.data_dir));  // refused before the store was opened

  options.max_message_bytes = 64 << 10;
  auto server = TestServer::Start(options);
  ASSERT_NE(server, nullptr);
  server->CreateTenant("acme");
  v1::ListMigrationsResponse list;
  ASSERT_THAT(server->migrations().ListMigrations(Ctx().get(), {}, &list), IsCode(grpc::OK));
  EXPECT_EQ(list.migrations_size(), 40);
  v1::GetMigrationStatusResponse status;
  auto one = FromJson<v1::GetMigrationStatusRequest>(R"({"target": {"tenant_id": "acme"}})");
  ASSERT_THAT(server->migrations().GetMigrationStatus(Ctx().get(), one, &status), IsCode(grpc::OK));
  EXPECT_EQ(status.targets(0).applied_size(), 40);
}

// The other fixed-size answers fit the smallest limit too: reflection of
// each service with its imports (a new stream each, so every file is sent)
// and health checks.
TEST(AdminLimitsStartTest, ReflectionAndHealthAnswersFitTheSmallestMessage) {
  auto server = TestServer::Start(SmallMessages());
  ASSERT_NE(server, nullptr);
  namespace refl = grpc::reflection::v1alpha;
  auto reflection = refl::ServerReflection::NewStub(server->channel());
  std::vector<std::string> services;
  {
    auto ctx = Ctx();
    auto stream = reflection->ServerReflectionInfo(ctx.get());
    refl::ServerReflectionRequest req;
    req.set_list_services("");
    ASSERT_TRUE(stream->Write(req));
    refl::ServerReflectionResponse resp;
    ASSERT_TRUE(stream->Read(&resp));
    for (const auto& s : resp.list_services_response().service()) services.push_back(s.name());
    stream->WritesDone();
    EXPECT_THAT(stream->Finish(), IsCode(grpc::OK));
  }
  EXPECT_GE(services.size(), 5u);
  for (const std::string& service : services) {
    auto ctx = Ctx();
    auto stream = reflection->ServerReflectionInfo(ctx.get());
    refl::ServerReflectionRequest req;
    req.set_file_containing_symbol(service);
    ASSERT_TRUE(stream->Write(req));
    refl::ServerReflectionResponse resp;
    ASSERT_TRUE(stream->Read(&resp)) << service;
    EXPECT_TRUE(resp.has_file_descriptor_response()) << service;
    stream->WritesDone();
    EXPECT_THAT(stream->Finish(), IsCode(grpc::OK)) << service;
  }
  auto health = grpc::health::v1::Health::NewStub(server->channel());
  grpc::health::v1::HealthCheckResponse status;
  EXPECT_THAT(health->Check(Ctx().get(), {}, &status), IsCode(grpc::OK));
}

}  // namespace
}  // namespace datagate::testing
