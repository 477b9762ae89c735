// A gateway that starts while its cloud PostgreSQL is down (or does not
// answer) serves its local data at once, answers what needs the cloud with
// UNAVAILABLE, and catches up when the cloud comes: it connects, migrates
// the cloud schema and drains the queue. A cloud that answers and cannot be
// used stops the start, or, found later, keeps the cloud out and says why.
// Over gRPC, with a real PostgreSQL (tests/pg_server.h).
#include <unistd.h>

#include <pqxx/pqxx>

#include "datagate/v1/sync.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "pg_server.h"
#include "test_env.h"

namespace datagate::testing {
namespace {

using ::grpc::health::v1::HealthCheckResponse;
using ::testing::HasSubstr;
using ::testing::Not;

// Fast background attempts, so a test sees the cloud soon after it comes.
server::Options LateOptions(const std::string& url) {
  server::Options o;
  o.cloud_url = url;
  o.cloud_retry_initial_ms = 100;
  o.cloud_retry_max_ms = 400;
  return o;
}

// The gateway's calls a test makes, on one tenant.
class Client {
 public:
  Client(TestServer& server, std::string tenant)
      : server_(server),
        tenant_(std::move(tenant)),
        sync_(v1::SyncService::NewStub(server.channel())),
        health_(grpc::health::v1::Health::NewStub(server.channel())) {}

  grpc::Status Create(const std::string& json, v1::WriteMode mode, v1::Row* row) {
    auto req = FromJson<v1::CreateRowRequest>(json);
    req.set_write_mode(mode);
    return server_.data().CreateRow(Ctx(tenant_).get(), req, row);
  }
  grpc::Status Get(const std::string& table, const std::string& key, v1::ReadSource source, v1::Row* row) {
    auto req = FromJson<v1::GetRowRequest>(R"({"table": ")" + table + R"(", "key": )" + key + "}");
    req.set_read_source(source);
    return server_.data().GetRow(Ctx(tenant_).get(), req, row);
  }
  grpc::Status ListCloud(const std::string& table) {
    v1::ListRowsRequest req;
    req.set_table(table);
    req.set_read_source(v1::CLOUD);
    v1::ListRowsResponse resp;
    return server_.data().ListRows(Ctx(tenant_).get(), req, &resp);
  }
  HealthCheckResponse::ServingStatus Health(const std::string& service) {
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(service);
    HealthCheckResponse resp;
    grpc::Status s = health_->Check(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.status();
  }
  // Waits (up to `limit`) for the cloud's health entry to read `want`.
  bool AwaitCloudHealth(HealthCheckResponse::ServingStatus want, absl::Duration limit = absl::Seconds(20)) {
    const absl::Time until = absl::Now() + limit;
    while (Health("datagate.v1.CloudStore") != want) {
      if (absl::Now() > until) return false;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return true;
  }
  v1::SyncStats Stats() {
    v1::GetSyncStatsRequest req;
    req.set_tenant_id(tenant_);
    v1::SyncStats stats;
    grpc::Status s = sync_->GetSyncStats(Ctx().get(), req, &stats);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return stats;
  }
  grpc::Status Flush(absl::Duration within) {
    v1::FlushSyncResponse resp;
    auto ctx = Ctx();
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + within));
    return sync_->FlushSync(ctx.get(), v1::FlushSyncRequest(), &resp);
  }
  // The cloud target's status, apply, revert and dry run: their codes.
  std::vector<grpc::StatusCode> CloudMigrationCodes() {
    const auto target = FromJson<v1::MigrationTarget>(R"({"cloud": true})");
    std::vector<grpc::StatusCode> codes;
    v1::GetMigrationStatusRequest status_req;
    *status_req.mutable_target() = target;
    v1::GetMigrationStatusResponse status;
    codes.push_back(server_.migrations().GetMigrationStatus(Ctx().get(), status_req, &status).error_code());
    for (bool dry : {false, true}) {
      v1::ApplyMigrationsRequest apply;
      *apply.mutable_target() = target;
      apply.set_validate_only(dry);
      v1::MigrationPlanResponse plan;
      codes.push_back(server_.migrations().ApplyMigrations(Ctx().get(), apply, &plan).error_code());
    }
    v1::RevertMigrationsRequest revert;
    *revert.mutable_target() = target;
    revert.set_to_version(2);
    revert.set_validate_only(true);
    v1::MigrationPlanResponse plan;
    codes.push_back(server_.migrations().RevertMigrations(Ctx().get(), revert, &plan).error_code());
    revert.set_validate_only(false);
    codes.push_back(server_.migrations().RevertMigrations(Ctx().get(), revert, &plan).error_code());
    return codes;
  }
  int64_t CloudVersion() {
    v1::GetMigrationStatusRequest req;
    *req.mutable_target() = FromJson<v1::MigrationTarget>(R"({"cloud": true})");
    v1::GetMigrationStatusResponse resp;
    grpc::Status s = server_.migrations().GetMigrationStatus(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.targets_size() == 1 ? resp.targets(0).current_version() : -1;
  }

 private:
  TestServer& server_;
  const std::string tenant_;
  std::unique_ptr<v1::SyncService::Stub> sync_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
};

int64_t CloudRows(const std::string& url, const std::string& table, const std::string& tenant) {
  pqxx::connection c(url);
  pqxx::work w(c);
  return w.exec1("SELECT count(*) FROM " + table + " WHERE tenant_id = " + w.quote(tenant) + " AND NOT _dg_deleted")[0]
      .as<int64_t>();
}

void Exec(const std::string& url, const std::string& sql) {
  pqxx::connection c(url);
  pqxx::work w(c);
  w.exec(sql);
  w.commit();
}

TEST(LateCloudTest, StartsWithoutTheCloudServesLocallyAndCatchesUpWhenItComes) {
  PgServer& pg = PgServer::Shared();
  auto url = pg.CreateDatabase("late");
  ASSERT_TRUE(url.ok()) << url.status();
  ASSERT_TRUE(pg.Stop().ok());

  const absl::Time start = absl::Now();
  auto server = TestServer::Start(LateOptions(*url));
  ASSERT_NE(server, nullptr);
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  server->CreateTenant("late");
  Client c(*server, "late");
  EXPECT_EQ(c.Health(""), HealthCheckResponse::SERVING);
  EXPECT_EQ(c.Health("datagate.v1.DataService"), HealthCheckResponse::SERVING);
  EXPECT_EQ(c.Health("datagate.v1.CloudStore"), HealthCheckResponse::NOT_SERVING);

  // Local writes work; those bound for the cloud queue.
  v1::Row row;
  ASSERT_TRUE(
      c.Create(R"({"table": "customers", "row": {"name": "Ann", "email": "ann@x"}})", v1::LOCAL_FIRST, &row).ok());
  EXPECT_EQ(row.cloud_sync(), v1::CLOUD_SYNC_QUEUED);
  ASSERT_TRUE(c.Create(R"({"table": "customers", "row": {"name": "Lo", "email": "lo@x"}})", v1::LOCAL_ONLY, &row).ok());
  EXPECT_EQ(row.cloud_sync(), v1::CLOUD_SYNC_NONE);
  const absl::Time through = absl::Now();
  ASSERT_TRUE(
      c.Create(R"({"table": "customers", "row": {"name": "Tom", "email": "tom@x"}})", v1::WRITE_THROUGH, &row).ok());
  EXPECT_EQ(row.cloud_sync(), v1::CLOUD_SYNC_QUEUED);
  EXPECT_LT(absl::Now() - through, absl::Milliseconds(500)) << "no push is tried";

  // What needs the cloud says it is not reachable yet.
  grpc::Status cloud_only =
      c.Create(R"({"table": "customers", "row": {"id": 50, "name": "C", "email": "c@x"}})", v1::CLOUD_ONLY, &row);
  EXPECT_EQ(cloud_only.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(cloud_only.error_message(),
            "the cloud store is not reachable yet (the gateway started without it and keeps trying to connect), so "
            "cloud reads and writes cannot run now: retry later, or use a local write mode or read source");
  grpc::Status cloud_read = c.Get("customers", R"({"id": 1})", v1::CLOUD, &row);
  EXPECT_EQ(cloud_read.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(cloud_read.error_message(), HasSubstr("not reachable yet"));
  EXPECT_EQ(c.ListCloud("customers").error_code(), grpc::StatusCode::UNAVAILABLE);
  ASSERT_TRUE(c.Get("customers", R"({"id": 1})", v1::CLOUD_IF_AVAILABLE, &row).ok());
  EXPECT_EQ(row.fields().fields().at("name").string_value(), "Ann");
  for (grpc::StatusCode code : c.CloudMigrationCodes()) EXPECT_EQ(code, grpc::StatusCode::UNAVAILABLE);
  // A tenant's delete takes its cloud rows too: it waits for the cloud.
  server->CreateTenant("doomed");
  v1::DeleteTenantRequest del;
  del.set_tenant_id("doomed");
  v1::DeleteTenantResponse deleted;
  EXPECT_EQ(server->tenants().DeleteTenant(Ctx().get(), del, &deleted).error_code(), grpc::StatusCode::UNAVAILABLE);

  // The queue waits for the cloud's schema, which is not known: waiting is
  // not failing.
  v1::SyncStats stats = c.Stats();
  EXPECT_EQ(stats.breaker(), v1::SyncStats::OPEN);
  EXPECT_EQ(stats.cloud_schema_version(), -1);
  EXPECT_EQ(stats.total().depth(), 2);
  EXPECT_EQ(c.Flush(absl::Milliseconds(300)).error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  v1::BatchWriteRequest batch;
  batch.set_write_mode(v1::LOCAL_FIRST);
  for (int i = 0; i < 200; ++i) {
    *batch.add_operations()->mutable_create() =
        FromJson<v1::CreateRowRequest>(R"({"table": "products", "row": {"sku": "s)" + std::to_string(i) +
                                       R"(", "name": "n", "price_cents": )" + std::to_string(i) + "}}");
  }
  v1::BatchWriteResponse written;
  ASSERT_TRUE(server->data().BatchWrite(Ctx("late").get(), batch, &written).ok());
  stats = c.Stats();
  EXPECT_EQ(stats.total().depth(), 202);
  EXPECT_EQ(stats.total().retrying(), 0);
  EXPECT_EQ(stats.total().dead_lettered(), 0);

  // The cloud comes: the gateway connects, migrates it, and the queue drains.
  ASSERT_TRUE(pg.Start().ok());
  grpc::Status flushed = c.Flush(absl::Seconds(60));
  ASSERT_TRUE(flushed.ok()) << flushed.error_message();
  EXPECT_TRUE(c.AwaitCloudHealth(HealthCheckResponse::SERVING, absl::Seconds(5)));
  stats = c.Stats();
  EXPECT_EQ(stats.breaker(), v1::SyncStats::CLOSED);
  EXPECT_EQ(stats.cloud_schema_version(), 4);
  EXPECT_EQ(stats.total().depth(), 0);
  EXPECT_EQ(stats.total().dead_lettered(), 0);
  EXPECT_EQ(stats.total().conflicts(), 0);
  EXPECT_EQ(c.CloudVersion(), 4);
  // The cloud holds exactly the local rows that were bound for it.
  EXPECT_EQ(CloudRows(*url, "customers", "late"), 2);  // not the LOCAL_ONLY one
  EXPECT_EQ(CloudRows(*url, "products", "late"), 200);
  EXPECT_EQ(AllRows(server->data(), "late", "products", v1::LOCAL),
            AllRows(server->data(), "late", "products", v1::CLOUD));
  std::vector<std::string> local = AllRows(server->data(), "late", "customers", v1::LOCAL);
  ASSERT_EQ(local.size(), 3u);
  local.erase(local.begin() + 1);  // "Lo", LOCAL_ONLY
  EXPECT_EQ(local, AllRows(server->data(), "late", "customers", v1::CLOUD));
  // And the cloud serves what needs it.
  ASSERT_TRUE(
      c.Create(R"({"table": "customers", "row": {"id": 50, "name": "C", "email": "c@x"}})", v1::CLOUD_ONLY, &row).ok());
  ASSERT_TRUE(c.Get("customers", R"({"id": 50})", v1::CLOUD, &row).ok());
  EXPECT_EQ(server->tenants().DeleteTenant(Ctx().get(), del, &deleted).error_code(), grpc::StatusCode::OK);
}

// A cloud host that accepts the TCP connection and never answers holds a
// connect for its whole connect_timeout (5 s): the start does not wait for it.
TEST(LateCloudTest, StartsWithinSecondsWhenTheCloudDoesNotAnswer) {
  const absl::StatusOr<SilentHost> silent = ListenSilently();
  ASSERT_TRUE(silent.ok()) << silent.status();
  server::Options o = LateOptions("host=127.0.0.1 port=" + std::to_string(silent->port) +
                                  " dbname=late user=postgres password=S3cretPW");
  o.cloud_retry_initial_ms = 1000;  // the defaults
  o.cloud_retry_max_ms = 30000;

  const absl::Time start = absl::Now();
  auto server = TestServer::Start(o);
  ASSERT_NE(server, nullptr);
  const absl::Duration took = absl::Now() - start;
  EXPECT_GE(took, absl::Milliseconds(1900)) << "it waits --cloud_start_wait_ms (2 s) for an answer";
  EXPECT_LT(took, absl::Milliseconds(4000)) << "not the connect timeout (5 s)";
  server->CreateTenant("quick");
  Client c(*server, "quick");
  EXPECT_EQ(c.Health(""), HealthCheckResponse::SERVING);
  EXPECT_EQ(c.Health("datagate.v1.CloudStore"), HealthCheckResponse::NOT_SERVING);
  v1::Row row;
  ASSERT_TRUE(c.Create(R"({"table": "customers", "row": {"name": "Q", "email": "q@x"}})", v1::LOCAL_FIRST, &row).ok());
  grpc::Status cloud_read = c.Get("customers", R"({"id": 1})", v1::CLOUD, &row);
  EXPECT_EQ(cloud_read.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(cloud_read.error_message(), Not(HasSubstr("S3cretPW")));
  // The host goes away (its pending connections are reset); the gateway
  // then waits to try again, and stops at once.
  close(silent->fd);
  absl::SleepFor(absl::Milliseconds(200));
  const absl::Time stop = absl::Now();
  server.reset();
  EXPECT_LT(absl::Now() - stop, absl::Seconds(1));
}

// A cloud that answers and cannot be used as configured stops the start.
TEST(LateCloudTest, ACloudThatAnswersAndCannotBeUsedStopsTheStart) {
  PgServer& pg = PgServer::Shared();
  auto url = pg.CreateDatabase("late_refused");
  ASSERT_TRUE(url.ok()) << url.status();
  Exec(*url, "CREATE TABLE loose (id BIGINT PRIMARY KEY, v TEXT)");
  auto start = [](const std::string& cloud_url) {
    TempDir dir;
    server::Options o = LateOptions(cloud_url);
    o.listen = "127.0.0.1:0";
    o.data_dir = dir.path() + "/data";
    o.migrations_dir = ExampleMigrationsDir();
    return server::Server::Create(o).status();
  };
  absl::Status loose = start(*url);
  EXPECT_EQ(loose.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(loose.message()), HasSubstr("'loose'"));
  const std::string port = std::to_string(pg.port());
  absl::Status missing = start("postgresql://postgres:S3cretPW@127.0.0.1:" + port + "/no_such_db");
  EXPECT_EQ(missing.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(missing.message()), HasSubstr("does not exist"));
  EXPECT_THAT(std::string(missing.message()), Not(HasSubstr("S3cretPW")));
  absl::Status malformed = start("postgresql://postgres:S3cretPW@[::1/late_refused");
  EXPECT_EQ(malformed.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(malformed.message()), Not(HasSubstr("S3cretPW")));
}

// Found when the cloud comes, such a cloud is kept out (NOT_SERVING, cloud
// calls FAILED_PRECONDITION naming the table, the queue waiting) until it is
// fixed; then the gateway connects on its own.
TEST(LateCloudTest, ABadTableFoundLateKeepsTheCloudOutAndSaysWhich) {
  PgServer& pg = PgServer::Shared();
  auto url = pg.CreateDatabase("late_bad");
  ASSERT_TRUE(url.ok()) << url.status();
  Exec(*url, "CREATE TABLE loose (id BIGINT PRIMARY KEY, v TEXT)");
  ASSERT_TRUE(pg.Stop().ok());
  auto server = TestServer::Start(LateOptions(*url));
  ASSERT_NE(server, nullptr);
  server->CreateTenant("bad");
  Client c(*server, "bad");
  v1::Row row;
  ASSERT_TRUE(c.Create(R"({"table": "customers", "row": {"name": "B", "email": "b@x"}})", v1::LOCAL_FIRST, &row).ok());

  ASSERT_TRUE(pg.Start().ok());
  grpc::Status read;
  for (int i = 0; i < 200 && read.error_code() != grpc::StatusCode::FAILED_PRECONDITION; ++i) {
    absl::SleepFor(absl::Milliseconds(50));
    read = c.Get("customers", R"({"id": 1})", v1::CLOUD, &row);
  }
  EXPECT_EQ(read.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(read.error_message(), HasSubstr("'loose'"));
  grpc::Status write =
      c.Create(R"({"table": "customers", "row": {"id": 9, "name": "C", "email": "c@x"}})", v1::CLOUD_ONLY, &row);
  EXPECT_EQ(write.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(write.error_message(), HasSubstr("'loose'"));
  for (grpc::StatusCode code : c.CloudMigrationCodes()) EXPECT_EQ(code, grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(c.Health("datagate.v1.CloudStore"), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(c.Health(""), HealthCheckResponse::SERVING);
  ASSERT_TRUE(c.Get("customers", R"({"id": 1})", v1::CLOUD_IF_AVAILABLE, &row).ok());
  v1::SyncStats stats = c.Stats();
  EXPECT_EQ(stats.breaker(), v1::SyncStats::OPEN);
  EXPECT_EQ(stats.total().depth(), 1);
  EXPECT_EQ(stats.total().retrying(), 0);
  EXPECT_EQ(stats.total().dead_lettered(), 0);
  {
    pqxx::connection conn(*url);
    pqxx::work w(conn);
    EXPECT_TRUE(w.exec1("SELECT to_regclass('customers') IS NULL")[0].as<bool>()) << "no migration ran";
  }

  // An operator fixes the table: the gateway connects on its next attempt.
  Exec(*url,
       "ALTER TABLE loose ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'x'; ALTER TABLE loose DROP CONSTRAINT "
       "loose_pkey; ALTER TABLE loose ADD PRIMARY KEY (tenant_id, id)");
  EXPECT_TRUE(c.AwaitCloudHealth(HealthCheckResponse::SERVING));
  grpc::Status flushed = c.Flush(absl::Seconds(30));
  ASSERT_TRUE(flushed.ok()) << flushed.error_message();
  EXPECT_EQ(CloudRows(*url, "customers", "bad"), 1);
  EXPECT_EQ(AllRows(server->data(), "bad", "customers", v1::LOCAL),
            AllRows(server->data(), "bad", "customers", v1::CLOUD));
}

}  // namespace
}  // namespace datagate::testing
