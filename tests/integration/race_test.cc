// Races a careful client would hit: calls during a tenant's creation and
// deletion, data calls during migrations, and migration calls racing each
// other. Each call must get its normal answer or the documented code for
// the state it met (NOT_FOUND, INVALID_ARGUMENT) — never INTERNAL.
#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "test_env.h"

namespace datagate::testing {
namespace {

using ::testing::HasSubstr;

// Codes seen by concurrent callers, with one message per code.
class Tally {
 public:
  void Add(const grpc::Status& s) {
    std::lock_guard<std::mutex> lock(mu_);
    ++counts_[s.error_code()];
    messages_.emplace(s.error_code(), s.error_message());
  }
  int Count(grpc::StatusCode code) {
    std::lock_guard<std::mutex> lock(mu_);
    return counts_[code];
  }
  int Total() {
    std::lock_guard<std::mutex> lock(mu_);
    int n = 0;
    for (const auto& [code, count] : counts_) n += count;
    return n;
  }
  // Fails the test for any code outside `allowed`.
  void ExpectOnly(std::initializer_list<grpc::StatusCode> allowed) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [code, count] : counts_) {
      if (std::find(allowed.begin(), allowed.end(), code) == allowed.end()) {
        ADD_FAILURE() << count << " call(s) got code " << code << ", e.g. '" << messages_[code] << "'";
      }
    }
  }
  std::string Message(grpc::StatusCode code) {
    std::lock_guard<std::mutex> lock(mu_);
    return messages_[code];
  }

 private:
  std::mutex mu_;
  std::map<grpc::StatusCode, int> counts_;
  std::map<grpc::StatusCode, std::string> messages_;
};

server::Options Fast() {
  server::Options o;
  o.synchronous = "NORMAL";  // these tests race, they do not test durability
  return o;
}

// A copy of the example migrations plus extra tenant migrations.
std::string MigrationsWith(const TempDir& dir, const std::map<std::string, std::string>& extra) {
  const std::string root = dir.path() + "/migrations";
  std::filesystem::copy(ExampleMigrationsDir(), root, std::filesystem::copy_options::recursive);
  for (const auto& [name, sql] : extra) std::ofstream(root + "/tenant/" + name) << sql;
  return root;
}

grpc::Status CreateCustomer(TestServer& s, const std::string& tenant, int n) {
  v1::CreateRowRequest req = FromJson<v1::CreateRowRequest>(R"({"table": "customers"})");
  auto& f = *req.mutable_row()->mutable_fields();
  f["name"].set_string_value("C");
  f["email"].set_string_value("c" + std::to_string(n) + "@x");
  v1::Row row;
  return s.data().CreateRow(Ctx(tenant).get(), req, &row);
}

grpc::Status GetTenant(TestServer& s, const std::string& id) {
  v1::GetTenantRequest req;
  req.set_tenant_id(id);
  v1::Tenant t;
  return s.tenants().GetTenant(Ctx().get(), req, &t);
}

TEST(TenantLifecycleTest, AFailedCreateLeavesNothingToServe) {
  TempDir dir;
  server::Options o = Fast();
  o.migrations_dir = MigrationsWith(dir, {{"0005_broken.up.sql", "CREATE TABLE broken(;"}});
  auto server = TestServer::Start(o);
  v1::CreateTenantRequest req;
  req.set_tenant_id("broken");
  v1::Tenant t;
  grpc::Status s = server->tenants().CreateTenant(Ctx().get(), req, &t);
  EXPECT_THAT(s, IsCode(grpc::FAILED_PRECONDITION));
  EXPECT_THAT(s.error_message(), HasSubstr("tenant/broken: migration 5 'broken' (0005_broken.up.sql) failed"));
  // The tables of migrations 1-4 were made, but the tenant never existed.
  EXPECT_THAT(CreateCustomer(*server, "broken", 1), IsCode(grpc::NOT_FOUND));
  EXPECT_THAT(GetTenant(*server, "broken"), IsCode(grpc::NOT_FOUND));
  EXPECT_FALSE(std::filesystem::exists(server->options().data_dir + "/tenants/broken.db"));
}

TEST(TenantLifecycleTest, ATenantIsNotServedWhileItIsBeingProvisioned) {
  TempDir dir;
  server::Options o = Fast();
  // A last migration slow enough to call the tenant while it runs.
  o.migrations_dir =
      MigrationsWith(dir, {{"0005_slow.up.sql",
                            "CREATE TABLE filler (id INTEGER PRIMARY KEY, s TEXT);"
                            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400000) "
                            "INSERT INTO filler (id, s) SELECT i, hex(randomblob(8)) FROM n;"}});
  auto server = TestServer::Start(o);
  std::atomic<bool> created{false};
  Tally tally;
  int served_unregistered = 0;
  std::thread caller([&] {
    for (int n = 0; !created; ++n) {
      grpc::Status s = CreateCustomer(*server, "slow", n);
      tally.Add(s);
      // A write answered OK must have gone to a registered tenant.
      if (s.ok() && !GetTenant(*server, "slow").ok()) ++served_unregistered;
    }
  });
  v1::CreateTenantRequest req;
  req.set_tenant_id("slow");
  v1::Tenant t;
  grpc::Status s = server->tenants().CreateTenant(Ctx().get(), req, &t);
  created = true;
  caller.join();
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(served_unregistered, 0);
  tally.ExpectOnly({grpc::OK, grpc::NOT_FOUND});
  EXPECT_GT(tally.Count(grpc::NOT_FOUND), 10);  // the race really happened
  EXPECT_TRUE(CreateCustomer(*server, "slow", -1).ok());
}

TEST(TenantLifecycleTest, CallsRacingDeleteGetTheirAnswerOrNotFound) {
  auto server = TestServer::Start(Fast());
  server->CreateTenant("churn");
  std::atomic<bool> stop{false};
  Tally tally;
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([&, c] {
      for (int n = 0; !stop; ++n) {
        const int kind = (n + c) % 4;
        if (kind == 0) {
          tally.Add(CreateCustomer(*server, "churn", c * 1000000 + n));
        } else if (kind == 1) {
          v1::Row row;
          tally.Add(server->data().GetRow(
              Ctx("churn").get(), FromJson<v1::GetRowRequest>(R"({"table": "customers", "key": {"id": 1}})"), &row));
        } else if (kind == 2) {
          v1::ListRowsResponse resp;
          tally.Add(server->data().ListRows(
              Ctx("churn").get(),
              FromJson<v1::ListRowsRequest>(R"({"table": "customers", "include_total_size": true})"), &resp));
        } else {
          v1::ListTablesResponse resp;
          tally.Add(server->data().ListTables(Ctx("churn").get(), {}, &resp));
        }
      }
    });
  }
  v1::DeleteTenantRequest del;
  del.set_tenant_id("churn");
  v1::CreateTenantRequest create;
  create.set_tenant_id("churn");
  for (int cycle = 0; cycle < 100 || (tally.Total() < 3000 && cycle < 1000); ++cycle) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    v1::DeleteTenantResponse dresp;
    grpc::Status d = server->tenants().DeleteTenant(Ctx().get(), del, &dresp);
    ASSERT_TRUE(d.ok()) << d.error_message();
    v1::Tenant t;
    grpc::Status c = server->tenants().CreateTenant(Ctx().get(), create, &t);
    ASSERT_TRUE(c.ok()) << c.error_message();
  }
  stop = true;
  for (auto& t : callers) t.join();
  tally.ExpectOnly({grpc::OK, grpc::NOT_FOUND});
  EXPECT_GE(tally.Total(), 3000);
  EXPECT_GT(tally.Count(grpc::NOT_FOUND), 0);
  EXPECT_GT(tally.Count(grpc::OK), 0);
  // Deleted for good: no file is left, and none comes back.
  v1::DeleteTenantResponse dresp;
  ASSERT_TRUE(server->tenants().DeleteTenant(Ctx().get(), del, &dresp).ok());
  EXPECT_THAT(CreateCustomer(*server, "churn", -1), IsCode(grpc::NOT_FOUND));
  for (const char* suffix : {".db", ".db-wal", ".db-shm"}) {
    EXPECT_FALSE(std::filesystem::exists(server->options().data_dir + "/tenants/churn" + suffix)) << suffix;
  }
}

TEST(SchemaRaceTest, DataCallsDuringMigrationsSeeOneSchema) {
  auto server = TestServer::Start(Fast());
  server->CreateTenant("mig");
  ASSERT_TRUE(CreateCustomer(*server, "mig", 0).ok());  // customer 1, which orders refer to
  std::atomic<bool> stop{false};
  Tally tally;
  std::vector<std::thread> callers;
  for (int c = 0; c < 3; ++c) {
    callers.emplace_back([&, c] {
      for (int n = 0; !stop; ++n) {
        const int kind = (n + c) % 4;
        if (kind == 0) {
          v1::Row row;
          tally.Add(server->data().CreateRow(
              Ctx("mig").get(),
              FromJson<v1::CreateRowRequest>(R"({"table": "orders", "row": {"customer_id": 1, "note": "n"}})"), &row));
        } else if (kind == 1) {
          v1::Row row;
          tally.Add(server->data().GetRow(
              Ctx("mig").get(), FromJson<v1::GetRowRequest>(R"({"table": "orders", "key": {"id": 1}})"), &row));
        } else if (kind == 2) {
          v1::ListRowsResponse resp;
          tally.Add(server->data().ListRows(
              Ctx("mig").get(),
              FromJson<v1::ListRowsRequest>(R"({"table": "orders", "filters": [{"column": "status", "op": "EQUAL",
                  "value": "open"}], "order_by": [{"column": "note"}], "include_total_size": true})"),
              &resp));
        } else {
          v1::Row row;
          tally.Add(server->data().UpdateRow(
              Ctx("mig").get(),
              FromJson<v1::UpdateRowRequest>(R"({"table": "orders", "row": {"id": 1, "note": "changed"}})"), &row));
        }
      }
    });
  }
  auto revert = FromJson<v1::RevertMigrationsRequest>(R"({"target": {"tenant_id": "mig"}, "to_version": 2})");
  auto apply = FromJson<v1::ApplyMigrationsRequest>(R"({"target": {"tenant_id": "mig"}})");
  // At least 100 schema changes and 3000 racing calls.
  for (int cycle = 0; cycle < 100 || (tally.Total() < 3000 && cycle < 2000); ++cycle) {
    v1::MigrationPlanResponse plan;
    ASSERT_TRUE(server->migrations().RevertMigrations(Ctx().get(), revert, &plan).ok());
    ASSERT_TRUE(server->migrations().ApplyMigrations(Ctx().get(), apply, &plan).ok());
  }
  stop = true;
  for (auto& t : callers) t.join();
  tally.ExpectOnly({grpc::OK, grpc::NOT_FOUND, grpc::INVALID_ARGUMENT});
  EXPECT_THAT(tally.Message(grpc::INVALID_ARGUMENT), HasSubstr("unknown table 'orders'"));
  EXPECT_GE(tally.Total(), 3000);
  EXPECT_GT(tally.Count(grpc::INVALID_ARGUMENT), 0);
  EXPECT_GT(tally.Count(grpc::OK), 0);
}

TEST(SchemaRaceTest, MigrationCallsOnOneTargetTakeTurns) {
  auto server = TestServer::Start(Fast());
  server->CreateTenant("turns");
  Tally tally;
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([&] {
      auto revert = FromJson<v1::RevertMigrationsRequest>(R"({"target": {"tenant_id": "turns"}, "to_version": 1})");
      auto apply = FromJson<v1::ApplyMigrationsRequest>(R"({"target": {"tenant_id": "turns"}})");
      for (int n = 0; n < 25; ++n) {
        v1::MigrationPlanResponse plan;
        tally.Add(server->migrations().RevertMigrations(Ctx().get(), revert, &plan));
        tally.Add(server->migrations().ApplyMigrations(Ctx().get(), apply, &plan));
      }
    });
  }
  for (auto& t : callers) t.join();
  // Each call planned and ran on the schema the previous one left.
  tally.ExpectOnly({grpc::OK});
  v1::GetMigrationStatusResponse status;
  ASSERT_TRUE(server->migrations()
                  .GetMigrationStatus(Ctx().get(),
                                      FromJson<v1::GetMigrationStatusRequest>(R"({"target": {"tenant_id": "turns"}})"),
                                      &status)
                  .ok());
  EXPECT_EQ(status.targets(0).current_version(), 4);
  v1::Tenant t;
  v1::GetTenantRequest get;
  get.set_tenant_id("turns");
  ASSERT_TRUE(server->tenants().GetTenant(Ctx().get(), get, &t).ok());
  EXPECT_EQ(t.schema_version(), 4);
}

}  // namespace
}  // namespace datagate::testing
