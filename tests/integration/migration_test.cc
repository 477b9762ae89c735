// MigrationService through real stubs, and checksum refusal at start-up.
#include <fstream>
#include <map>

#include "SQLiteCpp/SQLiteCpp.h"

#include "test_env.h"

namespace datagate::testing {
namespace {

using ::testing::HasSubstr;

TEST(MigrationServiceTest, ListsStatusRevertsAndReapplies) {
  auto server = TestServer::Start();
  server->CreateTenant("m1");
  server->CreateTenant("m2");
  auto& stub = server->migrations();

  v1::ListMigrationsResponse list;
  ASSERT_TRUE(stub.ListMigrations(Ctx().get(), {}, &list).ok());
  ASSERT_EQ(list.migrations_size(), 5);
  EXPECT_EQ(list.migrations(0).set(), v1::MASTER);
  EXPECT_EQ(list.migrations(3).name(), "orders");
  EXPECT_TRUE(list.migrations(3).reversible());
  EXPECT_EQ(list.migrations(4).name(), "customers_email_at_commit");
  EXPECT_TRUE(list.migrations(4).reversible());

  v1::GetMigrationStatusResponse status;
  ASSERT_TRUE(stub.GetMigrationStatus(Ctx().get(), {}, &status).ok());
  ASSERT_EQ(status.targets_size(), 3);
  EXPECT_EQ(status.targets(0).target(), "master");
  EXPECT_EQ(status.targets(1).target(), "tenant/m1");
  EXPECT_EQ(status.targets(2).current_version(), 4);
  EXPECT_EQ(status.targets(2).pending_size(), 0);

  // A dry run plans and changes nothing.
  auto revert = FromJson<v1::RevertMigrationsRequest>(
      R"({"target": {"tenant_id": "m1"}, "to_version": 1, "validate_only": true})");
  v1::MigrationPlanResponse plan;
  ASSERT_TRUE(stub.RevertMigrations(Ctx().get(), revert, &plan).ok());
  ASSERT_EQ(plan.steps_size(), 3);
  EXPECT_EQ(plan.steps(0).version(), 4);
  EXPECT_EQ(plan.steps(0).direction(), "down");
  EXPECT_FALSE(plan.steps(0).done());
  v1::Row row;
  auto get_order = FromJson<v1::GetRowRequest>(R"({"table": "orders", "key": {"id": 1}})");
  EXPECT_THAT(server->data().GetRow(Ctx("m1").get(), get_order, &row), IsCode(grpc::NOT_FOUND));

  revert.set_validate_only(false);
  ASSERT_TRUE(stub.RevertMigrations(Ctx().get(), revert, &plan).ok());
  EXPECT_TRUE(plan.steps(2).done());
  grpc::Status gone = server->data().GetRow(Ctx("m1").get(), get_order, &row);
  EXPECT_THAT(gone, IsCode(grpc::INVALID_ARGUMENT));
  EXPECT_THAT(gone.error_message(), HasSubstr("unknown table 'orders'"));
  EXPECT_THAT(server->data().GetRow(Ctx("m2").get(), get_order, &row), IsCode(grpc::NOT_FOUND));

  v1::GetMigrationStatusRequest one = FromJson<v1::GetMigrationStatusRequest>(R"({"target": {"tenant_id": "m1"}})");
  ASSERT_TRUE(stub.GetMigrationStatus(Ctx().get(), one, &status).ok());
  ASSERT_EQ(status.targets_size(), 1);
  EXPECT_EQ(status.targets(0).current_version(), 1);
  EXPECT_EQ(status.targets(0).pending_size(), 3);
  v1::GetTenantRequest get_tenant;
  get_tenant.set_tenant_id("m1");
  v1::Tenant tenant;
  ASSERT_TRUE(server->tenants().GetTenant(Ctx().get(), get_tenant, &tenant).ok());
  EXPECT_EQ(tenant.schema_version(), 1);  // the registry follows reverts
  v1::ListTablesResponse tables;
  ASSERT_TRUE(server->data().ListTables(Ctx("m1").get(), {}, &tables).ok());
  ASSERT_EQ(tables.tables_size(), 1);  // the catalog follows too
  EXPECT_EQ(tables.tables(0).name(), "customers");

  auto apply = FromJson<v1::ApplyMigrationsRequest>(R"({"target": {"all_tenants": true}})");
  ASSERT_TRUE(stub.ApplyMigrations(Ctx().get(), apply, &plan).ok());
  EXPECT_EQ(plan.steps_size(), 3);  // only m1 was behind
  EXPECT_EQ(plan.errors_size(), 0);
  EXPECT_THAT(server->data().GetRow(Ctx("m1").get(), get_order, &row), IsCode(grpc::NOT_FOUND));
}

TEST(MigrationServiceTest, BadRequestsAreRefused) {
  auto server = TestServer::Start();
  auto& stub = server->migrations();
  v1::MigrationPlanResponse plan;
  EXPECT_THAT(stub.ApplyMigrations(Ctx().get(), {}, &plan), IsCode(grpc::INVALID_ARGUMENT));
  EXPECT_THAT(stub.ApplyMigrations(Ctx().get(), FromJson<v1::ApplyMigrationsRequest>(R"({"target": {"master": true},
                                                                            "to_version": 99})"),
                                   &plan),
              IsCode(grpc::INVALID_ARGUMENT));
  EXPECT_THAT(stub.ApplyMigrations(
                  Ctx().get(), FromJson<v1::ApplyMigrationsRequest>(R"({"target": {"tenant_id": "ghost"}})"), &plan),
              IsCode(grpc::NOT_FOUND));
  // Master migration 1 has down SQL; reverting it and re-applying works.
  ASSERT_TRUE(stub.RevertMigrations(Ctx().get(),
                                    FromJson<v1::RevertMigrationsRequest>(R"({"target": {"master": true}})"), &plan)
                  .ok());
  EXPECT_EQ(plan.steps_size(), 1);
  ASSERT_TRUE(
      stub.ApplyMigrations(Ctx().get(), FromJson<v1::ApplyMigrationsRequest>(R"({"target": {"master": true}})"), &plan)
          .ok());
  EXPECT_EQ(plan.steps_size(), 1);
}

// Options over a private copy of the example migrations, with `tenant`
// created by a first run of the server.
server::Options WithEditableMigrations(const TempDir& dir, const std::string& tenant) {
  std::filesystem::copy(ExampleMigrationsDir(), dir.path() + "/migrations", std::filesystem::copy_options::recursive);
  server::Options o;
  o.data_dir = dir.path() + "/data";
  o.migrations_dir = dir.path() + "/migrations";
  auto server = TestServer::Start(o);
  server->CreateTenant(tenant);
  return o;
}

// Each migration commits on its own: when a later step of one call fails,
// the error says which earlier steps of the call were applied and stay, so
// no caller takes it for "nothing changed".
TEST(MigrationServiceTest, AFailedStepSaysWhatTheCallAppliedBeforeIt) {
  TempDir dir;
  server::Options o = WithEditableMigrations(dir, "part");
  std::ofstream(dir.path() + "/migrations/tenant/0005_reviews.up.sql")
      << "CREATE TABLE reviews (id INTEGER PRIMARY KEY, stars INTEGER NOT NULL);";
  std::ofstream(dir.path() + "/migrations/tenant/0005_reviews.down.sql") << "DROP TABLE reviews;";
  auto server = TestServer::Start(o);
  auto& stub = server->migrations();
  v1::MigrationPlanResponse plan;
  ASSERT_TRUE(stub.RevertMigrations(
                      Ctx().get(),
                      FromJson<v1::RevertMigrationsRequest>(R"({"target": {"tenant_id": "part"}, "to_version": 2})"),
                      &plan)
                  .ok());
  ASSERT_EQ(plan.steps_size(), 3);
  // Migration 5 cannot be applied again: a clashing table appeared.
  {
    SQLite::Database db(o.data_dir + "/tenants/part.db", SQLite::OPEN_READWRITE);
    db.exec("CREATE TABLE reviews (x TEXT)");
  }
  grpc::Status s = stub.ApplyMigrations(
      Ctx().get(), FromJson<v1::ApplyMigrationsRequest>(R"({"target": {"tenant_id": "part"}})"), &plan);
  EXPECT_EQ(s.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("tenant/part: migration 5 'reviews' (0005_reviews.up.sql) failed"));
  EXPECT_THAT(s.error_message(),
              HasSubstr("(this call applied 2 migration(s) before it, the last being version 4; they stay applied)"));
  v1::GetMigrationStatusResponse status;
  ASSERT_TRUE(stub.GetMigrationStatus(Ctx().get(),
                                      FromJson<v1::GetMigrationStatusRequest>(R"({"target": {"tenant_id": "part"}})"),
                                      &status)
                  .ok());
  ASSERT_EQ(status.targets_size(), 1);
  EXPECT_EQ(status.targets(0).current_version(), 4);
}

TEST(MigrationStartTest, AChangedAppliedFileStopsStartUpLoudly) {
  TempDir dir;
  server::Options o = WithEditableMigrations(dir, "acme");
  std::ofstream(dir.path() + "/migrations/tenant/0002_products.up.sql", std::ios::app) << "\n-- edited\n";
  o.listen = "127.0.0.1:0";
  auto again = server::Server::Create(o);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(again.status().message()),
              HasSubstr("tenant/acme: migration 2 'products' changed after it was applied"));
}

TEST(MigrationStartTest, NewMigrationsReachEveryTenantAtStart) {
  TempDir dir;
  server::Options o = WithEditableMigrations(dir, "t1");
  std::ofstream(dir.path() + "/migrations/tenant/0005_reviews.up.sql")
      << "CREATE TABLE reviews (id INTEGER PRIMARY KEY, stars INTEGER NOT NULL);";
  auto server = TestServer::Start(o);
  v1::Row row;
  ASSERT_TRUE(server->data()
                  .CreateRow(Ctx("t1").get(),
                             FromJson<v1::CreateRowRequest>(R"({"table": "reviews", "row": {"stars": 5}})"), &row)
                  .ok());
  EXPECT_EQ(row.version(), 1);
}

}  // namespace
}  // namespace datagate::testing

namespace datagate::testing {
namespace {

TEST(MigrationFanOutTest, OneFailingTenantDoesNotStopTheOthers) {
  TempDir dir;
  server::Options o = WithEditableMigrations(dir, "good");
  std::ofstream(dir.path() + "/migrations/tenant/0005_reviews.up.sql")
      << "CREATE TABLE reviews (id INTEGER PRIMARY KEY, stars INTEGER NOT NULL);";
  std::ofstream(dir.path() + "/migrations/tenant/0005_reviews.down.sql") << "DROP TABLE reviews;";
  auto server = TestServer::Start(o);
  server->CreateTenant("bad");
  auto& stub = server->migrations();
  v1::MigrationPlanResponse plan;
  ASSERT_TRUE(stub.RevertMigrations(
                      Ctx().get(),
                      FromJson<v1::RevertMigrationsRequest>(R"({"target": {"all_tenants": true}, "to_version": 4})"),
                      &plan)
                  .ok());
  ASSERT_EQ(plan.steps_size(), 2);
  // Someone creates a clashing table in one tenant's file behind the gateway's back.
  {
    SQLite::Database db(o.data_dir + "/tenants/bad.db", SQLite::OPEN_READWRITE);
    db.exec("CREATE TABLE reviews (x TEXT)");
  }
  ASSERT_TRUE(stub.ApplyMigrations(Ctx().get(),
                                   FromJson<v1::ApplyMigrationsRequest>(R"({"target": {"all_tenants": true}})"), &plan)
                  .ok());
  ASSERT_EQ(plan.errors_size(), 1);
  EXPECT_THAT(
      plan.errors(0),
      HasSubstr("tenant/bad: migration 5 'reviews' (0005_reviews.up.sql) failed: table reviews already exists"));
  EXPECT_THAT(plan.errors(0), HasSubstr("already exists"));
  ASSERT_EQ(plan.steps_size(), 2);
  for (const auto& step : plan.steps()) EXPECT_EQ(step.done(), step.target() == "tenant/good") << step.target();

  v1::GetMigrationStatusResponse status;
  ASSERT_TRUE(stub.GetMigrationStatus(Ctx().get(), {}, &status).ok());
  std::map<std::string, int64_t> versions;
  for (const auto& t : status.targets()) versions[t.target()] = t.current_version();
  EXPECT_EQ(versions["tenant/good"], 5);
  EXPECT_EQ(versions["tenant/bad"], 4);
  v1::Row row;
  EXPECT_TRUE(server->data()
                  .CreateRow(Ctx("good").get(),
                             FromJson<v1::CreateRowRequest>(R"({"table": "reviews", "row": {"stars": 4}})"), &row)
                  .ok());
}

// In a status listing of every target, a tenant that cannot be read now is
// listed with its error; the call and the other targets are not lost.
TEST(MigrationFanOutTest, AStatusListingShowsATenantThatCannotBeReadWithItsError) {
  TempDir dir;
  server::Options o;
  o.data_dir = dir.path() + "/data";
  o.max_open_tenants = 1;
  auto server = TestServer::Start(o);
  server->CreateTenant("gone");
  server->CreateTenant("here");  // closes "gone": one tenant kept open
  std::filesystem::remove(o.data_dir + "/tenants/gone.db");
  v1::GetMigrationStatusResponse status;
  grpc::Status s = server->migrations().GetMigrationStatus(Ctx().get(), {}, &status);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  std::map<std::string, std::string> errors;
  std::map<std::string, int64_t> versions;
  for (const auto& t : status.targets()) {
    errors[t.target()] = t.error();
    versions[t.target()] = t.current_version();
  }
  ASSERT_EQ(errors.size(), 3u);  // master, gone, here
  EXPECT_THAT(errors["tenant/gone"], HasSubstr("'gone'"));
  EXPECT_EQ(errors["tenant/here"], "");
  EXPECT_EQ(versions["tenant/here"], 4);
}

}  // namespace
}  // namespace datagate::testing
