// Admin calls honour their deadlines: a CreateTenant, ApplyMigrations or
// RevertMigrations whose deadline passes stops and rolls back, instead of
// finishing on a gRPC thread after its caller gave up.
#include <fstream>
#include <thread>

#include "SQLiteCpp/SQLiteCpp.h"
#include "test_env.h"

namespace datagate::testing {
namespace {

using Clock = std::chrono::steady_clock;

// Example migrations plus a tenant migration 5 whose up and down each take
// about half a second (on the 2-core CI machine).
std::string SlowMigrations(const TempDir& dir) {
  const std::string root = dir.path() + "/migrations";
  std::filesystem::copy(ExampleMigrationsDir(), root, std::filesystem::copy_options::recursive);
  const char* busy =
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500000) "
      "SELECT count(*) FROM n;";
  std::ofstream(root + "/tenant/0005_slow.up.sql") << "CREATE TABLE slow (id INTEGER PRIMARY KEY);" << busy;
  std::ofstream(root + "/tenant/0005_slow.down.sql") << busy << "DROP TABLE slow;";
  return root;
}

std::unique_ptr<grpc::ClientContext> Within(int ms) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(ms));
  return ctx;
}

int64_t CurrentVersion(TestServer& server, const std::string& tenant) {
  v1::GetMigrationStatusResponse status;
  auto req = FromJson<v1::GetMigrationStatusRequest>(R"({"target": {"tenant_id": ")" + tenant + R"("}})");
  EXPECT_TRUE(server.migrations().GetMigrationStatus(Ctx().get(), req, &status).ok());
  return status.targets_size() == 1 ? status.targets(0).current_version() : -1;
}

class DeadlineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server::Options o;
    o.synchronous = "NORMAL";
    o.migrations_dir = SlowMigrations(dir_);
    server_ = TestServer::Start(o);
  }
  // Waits longer than the slow step takes, so a server that went on working
  // after the deadline would have finished (and committed) by now.
  void Settle() { std::this_thread::sleep_for(std::chrono::milliseconds(1500)); }

  TempDir dir_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(DeadlineTest, CreateTenantStopsAtItsDeadlineAndLeavesNothing) {
  v1::CreateTenantRequest req;
  req.set_tenant_id("late");
  v1::Tenant t;
  EXPECT_THAT(server_->tenants().CreateTenant(Within(150).get(), req, &t), IsCode(grpc::DEADLINE_EXCEEDED));
  Settle();
  v1::GetTenantRequest get;
  get.set_tenant_id("late");
  EXPECT_THAT(server_->tenants().GetTenant(Ctx().get(), get, &t), IsCode(grpc::NOT_FOUND));
  EXPECT_FALSE(std::filesystem::exists(server_->options().data_dir + "/tenants/late.db"));
  // Nothing half-made is in the way of a patient retry.
  ASSERT_TRUE(server_->tenants().CreateTenant(Ctx().get(), req, &t).ok());
  EXPECT_EQ(t.schema_version(), 5);
}

TEST_F(DeadlineTest, ApplyAndRevertStopAtTheirDeadlinesAndRollBack) {
  server_->CreateTenant("mig");
  ASSERT_EQ(CurrentVersion(*server_, "mig"), 5);
  v1::MigrationPlanResponse plan;
  auto revert = FromJson<v1::RevertMigrationsRequest>(R"({"target": {"tenant_id": "mig"}, "to_version": 4})");
  EXPECT_THAT(server_->migrations().RevertMigrations(Within(150).get(), revert, &plan),
              IsCode(grpc::DEADLINE_EXCEEDED));
  Settle();
  EXPECT_EQ(CurrentVersion(*server_, "mig"), 5);  // the down step rolled back
  ASSERT_TRUE(server_->migrations().RevertMigrations(Ctx().get(), revert, &plan).ok());
  EXPECT_EQ(CurrentVersion(*server_, "mig"), 4);

  auto apply = FromJson<v1::ApplyMigrationsRequest>(R"({"target": {"tenant_id": "mig"}})");
  EXPECT_THAT(server_->migrations().ApplyMigrations(Within(150).get(), apply, &plan), IsCode(grpc::DEADLINE_EXCEEDED));
  Settle();
  EXPECT_EQ(CurrentVersion(*server_, "mig"), 4);  // the up step rolled back
  // The registry agrees with the database.
  v1::Tenant t;
  v1::GetTenantRequest get;
  get.set_tenant_id("mig");
  ASSERT_TRUE(server_->tenants().GetTenant(Ctx().get(), get, &t).ok());
  EXPECT_EQ(t.schema_version(), 4);
}

TEST_F(DeadlineTest, AMigrationCallWaitingForAnotherOnTheSameTargetStopsAtItsDeadline) {
  server_->CreateTenant("queue");
  // The first call holds the target's turn for as long as another program
  // holds the file's write lock (not for as long as a CPU-bound step
  // happens to take, which varies with the machine's load).
  SQLite::Database outsider(server_->options().data_dir + "/tenants/queue.db", SQLite::OPEN_READWRITE);
  outsider.exec("BEGIN IMMEDIATE");
  auto revert = FromJson<v1::RevertMigrationsRequest>(R"({"target": {"tenant_id": "queue"}, "to_version": 4})");
  std::thread slow([&] {
    v1::MigrationPlanResponse plan;
    grpc::Status s = server_->migrations().RevertMigrations(Ctx().get(), revert, &plan);
    EXPECT_TRUE(s.ok()) << s.error_message();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto start = Clock::now();
  v1::MigrationPlanResponse plan;
  auto dry_run = FromJson<v1::ApplyMigrationsRequest>(R"({"target": {"tenant_id": "queue"}, "validate_only": true})");
  EXPECT_THAT(server_->migrations().ApplyMigrations(Within(200).get(), dry_run, &plan),
              IsCode(grpc::DEADLINE_EXCEEDED));
  EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count(), 600);
  outsider.exec("ROLLBACK");  // well within the 5 s the first call waits for it
  slow.join();
  // After its turn, the plan reflects what the first call left.
  ASSERT_TRUE(server_->migrations().ApplyMigrations(Ctx().get(), dry_run, &plan).ok());
  ASSERT_EQ(plan.steps_size(), 1);
  EXPECT_EQ(plan.steps(0).version(), 5);
}

// The registry's copy of a tenant's schema version is bookkeeping: when the
// master database is locked by another program, a revert that ran still
// answers OK (not "retry later" for rows already dropped), at once.
TEST_F(DeadlineTest, ARevertThatRanIsAnsweredOkWhenTheRegistryCannotRecordIt) {
  server_->CreateTenant("rec");
  SQLite::Database outsider(server_->options().data_dir + "/master.db", SQLite::OPEN_READWRITE);
  outsider.exec("BEGIN IMMEDIATE");
  auto revert = FromJson<v1::RevertMigrationsRequest>(R"({"target": {"tenant_id": "rec"}, "to_version": 4})");
  v1::MigrationPlanResponse plan;
  const auto start = Clock::now();
  grpc::Status s = server_->migrations().RevertMigrations(Within(8000).get(), revert, &plan);
  EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count(), 3000);
  ASSERT_EQ(plan.steps_size(), 1);
  EXPECT_TRUE(plan.steps(0).done());
  outsider.exec("ROLLBACK");
  EXPECT_EQ(CurrentVersion(*server_, "rec"), 4);
  // The next call records it.
  ASSERT_TRUE(server_->migrations().RevertMigrations(Ctx().get(), revert, &plan).ok());
  v1::Tenant t;
  v1::GetTenantRequest get;
  get.set_tenant_id("rec");
  ASSERT_TRUE(server_->tenants().GetTenant(Ctx().get(), get, &t).ok());
  EXPECT_EQ(t.schema_version(), 4);
}

}  // namespace
}  // namespace datagate::testing
