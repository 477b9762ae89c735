// Hybrid writes end to end: the real gateway over gRPC, with a real
// PostgreSQL as its cloud store (started by the test). Every write mode and
// read source, the sync queue through SyncService, a poison write, an
// outage while writing, and health.
#include <pqxx/pqxx>

#include "absl/strings/match.h"
#include "datagate/v1/sync.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "pg_server.h"
#include "test_env.h"

namespace datagate::testing {
namespace {

using ::testing::HasSubstr;

// Runs each case twice: straight to PostgreSQL, and through PgBouncer in
// transaction pooling mode (no session state may outlive a transaction).
class HybridTest : public ::testing::TestWithParam<bool> {
 protected:
  static void SetUpTestSuite() {
    auto url = PgServer::Shared().CreateDatabase("hybrid");
    ASSERT_TRUE(url.ok()) << url.status();
    url_ = new std::string(*url);
  }
  static void TearDownTestSuite() { delete url_; }

  void StartGateway(int max_attempts = 10, int call_timeout_ms = 5000) {
    server::Options o;
    o.cloud_url = *url_;
    if (GetParam()) {
      auto bouncer = PgBouncer::Start("hybrid", 4);
      ASSERT_TRUE(bouncer.ok()) << bouncer.status();
      bouncer_ = *std::move(bouncer);
      o.cloud_url = bouncer_->ConnectionString();
    }
    o.sync_max_attempts = max_attempts;
    o.sync_call_timeout_ms = call_timeout_ms;
    o.cloud_without_deadline_ms = cloud_without_deadline_ms_;
    server_ = TestServer::Start(o);
    ASSERT_NE(server_, nullptr);
    sync_ = v1::SyncService::NewStub(server_->channel());
    server_->CreateTenant(tenant_);
  }

  v1::Row Create(const std::string& json, v1::WriteMode mode, grpc::StatusCode want = grpc::StatusCode::OK) {
    auto req = FromJson<v1::CreateRowRequest>(json);
    req.set_write_mode(mode);
    v1::Row row;
    grpc::Status s = server_->data().CreateRow(Ctx(tenant_).get(), req, &row);
    EXPECT_EQ(s.error_code(), want) << s.error_message();
    return row;
  }
  grpc::Status Get(const std::string& table, const std::string& key, v1::ReadSource source, v1::Row* row) {
    auto req = FromJson<v1::GetRowRequest>(R"({"table": ")" + table + R"(", "key": )" + key + "}");
    req.set_read_source(source);
    return server_->data().GetRow(Ctx(tenant_).get(), req, row);
  }
  // Sets customer `id`'s email in `mode`.
  grpc::Status SetEmail(int id, const std::string& email, v1::WriteMode mode = v1::LOCAL_FIRST) {
    auto req =
        FromJson<v1::UpdateRowRequest>(R"({"table": "customers", "row": {"id": )" + std::to_string(id) +
                                       R"(, "email": ")" + email + R"("}, "update_mask": {"paths": ["email"]}})");
    req.set_write_mode(mode);
    v1::Row row;
    return server_->data().UpdateRow(Ctx(tenant_).get(), req, &row);
  }
  std::string CloudEmail(int id) {
    v1::Row row;
    grpc::Status s = Get("customers", R"({"id": )" + std::to_string(id) + "}", v1::CLOUD, &row);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return s.ok() ? row.fields().fields().at("email").string_value() : "";
  }
  void Pause() {
    v1::SyncStats stats;
    ASSERT_TRUE(sync_->PauseSync(Ctx().get(), v1::PauseSyncRequest(), &stats).ok());
  }
  void Resume() {
    v1::SyncStats stats;
    ASSERT_TRUE(sync_->ResumeSync(Ctx().get(), v1::ResumeSyncRequest(), &stats).ok());
  }
  void Flush() {
    v1::FlushSyncResponse resp;
    auto ctx = Ctx();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    grpc::Status s = sync_->FlushSync(ctx.get(), v1::FlushSyncRequest(), &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  // Every row of `table` from `source`, paged, as "key:version:fields" lines.
  std::vector<std::string> All(const std::string& table, v1::ReadSource source) {
    return AllRows(server_->data(), tenant_, table, source);
  }
  int64_t CloudCount(const std::string& table) {
    pqxx::connection c(*url_);
    pqxx::work w(c);
    return w
        .exec1("SELECT count(*) FROM " + table + " WHERE tenant_id = " + w.quote(tenant_) + " AND NOT _dg_deleted")[0]
        .as<int64_t>();
  }
  // A new gateway (with a new local data folder) in place of the running one.
  void RestartGateway(int max_attempts = 10) {
    server_.reset();
    bouncer_.reset();
    StartGateway(max_attempts);
  }
  // Runs `sql` on the cloud database directly, as someone outside the gateway.
  void CloudSql(const std::string& sql) {
    pqxx::connection c(*url_);
    pqxx::work w(c);
    w.exec(sql);
    w.commit();
  }
  // Products s<from> to s<to - 1>, LOCAL_FIRST.
  void CreateProducts(int from, int to) {
    for (int i = from; i < to; ++i) {
      Create(R"({"table": "products", "row": {"sku": "s)" + std::to_string(i) + R"(", "name": "n", "price_cents": 1}})",
             v1::LOCAL_FIRST);
    }
  }
  // Queues products s0-s9 while paused, makes every insert statement on the
  // cloud's products take `seconds` (trigger slow_products), resumes, and
  // returns while their push is under way.
  void PushTenProductsIntoASlowCloud(int seconds) {
    SlowProducts(seconds);
    v1::SyncStats stats;
    ASSERT_TRUE(sync_->PauseSync(Ctx().get(), v1::PauseSyncRequest(), &stats).ok());
    CreateProducts(0, 10);
    ASSERT_TRUE(sync_->ResumeSync(Ctx().get(), v1::ResumeSyncRequest(), &stats).ok());
    absl::SleepFor(absl::Milliseconds(300));  // the push is under way, held by the trigger
  }
  // Makes every insert statement on the cloud's products take `seconds`.
  void SlowProducts(int seconds) {
    CloudSql(absl::StrCat(
        "CREATE FUNCTION slow_products() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(", seconds,
        "); RETURN NULL; END $$; CREATE TRIGGER slow_products BEFORE INSERT ON products FOR EACH STATEMENT "
        "EXECUTE FUNCTION slow_products()"));
  }
  // Ends SlowProducts' slow inserts.
  void EndSlowProducts() { CloudSql("DROP TRIGGER slow_products ON products; DROP FUNCTION slow_products()"); }
  // DeleteTenant of the test's tenant, with `timeout` (none when zero).
  grpc::Status DeleteTenant(std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) {
    v1::DeleteTenantRequest del;
    del.set_tenant_id(tenant_);
    v1::DeleteTenantResponse deleted;
    auto ctx = Ctx();
    if (timeout.count() > 0) ctx->set_deadline(std::chrono::system_clock::now() + timeout);
    return server_->tenants().DeleteTenant(ctx.get(), del, &deleted);
  }
  // The tenant's queued operations in `state` (first page).
  v1::ListSyncOperationsResponse Listed(v1::SyncOperation::State state) {
    v1::ListSyncOperationsRequest list;
    list.set_tenant_id(tenant_);
    list.set_state(state);
    v1::ListSyncOperationsResponse ops;
    grpc::Status s = sync_->ListSyncOperations(Ctx().get(), list, &ops);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return ops;
  }
  v1::SyncStats Stats() {
    v1::GetSyncStatsRequest req;
    req.set_tenant_id(tenant_);
    v1::SyncStats stats;
    EXPECT_TRUE(sync_->GetSyncStats(Ctx().get(), req, &stats).ok());
    return stats;
  }

  void EveryWriteModeAndReadSource();

  void TearDown() override {
    server_.reset();  // before the bouncer goes
    bouncer_.reset();
  }

  static std::string* url_;
  std::unique_ptr<PgBouncer> bouncer_;
  std::string tenant_ = "acme";
  int cloud_without_deadline_ms_ = 30000;  // set before StartGateway
  std::unique_ptr<TestServer> server_;
  std::unique_ptr<v1::SyncService::Stub> sync_;
};
std::string* HybridTest::url_ = nullptr;

TEST(HybridWithoutCloudTest, ModesThatNeedTheCloudAreRefusedAndSaySo) {
  auto server = TestServer::Start();
  server->CreateTenant("solo");
  for (v1::WriteMode mode : {v1::LOCAL_FIRST, v1::WRITE_THROUGH, v1::CLOUD_ONLY}) {
    auto req = FromJson<v1::CreateRowRequest>(R"({"table": "customers", "row": {"name": "a", "email": "a@x"}})");
    req.set_write_mode(mode);
    v1::Row row;
    grpc::Status s = server->data().CreateRow(Ctx("solo").get(), req, &row);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_THAT(s.error_message(), HasSubstr("--cloud_url"));
  }
  auto get = FromJson<v1::GetRowRequest>(R"({"table": "customers", "key": {"id": 1}})");
  get.set_read_source(v1::CLOUD);
  v1::Row row;
  EXPECT_EQ(server->data().GetRow(Ctx("solo").get(), get, &row).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  // Nothing was written by the refused calls; a plain write works and says
  // nothing about a cloud.
  auto req = FromJson<v1::CreateRowRequest>(R"({"table": "customers", "row": {"name": "a", "email": "a@x"}})");
  ASSERT_TRUE(server->data().CreateRow(Ctx("solo").get(), req, &row).ok());
  EXPECT_EQ(row.fields().fields().at("id").number_value(), 1);
  EXPECT_EQ(row.cloud_sync(), v1::CLOUD_SYNC_UNSPECIFIED);
  auto sync = v1::SyncService::NewStub(server->channel());
  v1::SyncStats stats;
  EXPECT_EQ(sync->GetSyncStats(Ctx().get(), v1::GetSyncStatsRequest(), &stats).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_P(HybridTest, EveryWriteModeAndReadSource) {
  tenant_ = "modes";
  StartGateway();
  EveryWriteModeAndReadSource();
}

void HybridTest::EveryWriteModeAndReadSource() {
  // LOCAL_FIRST (the default with a cloud): queued, then in the cloud.
  v1::Row a = Create(R"({"table": "customers", "row": {"name": "Ann", "email": "ann@x"}})", v1::WRITE_MODE_UNSPECIFIED);
  EXPECT_EQ(a.cloud_sync(), v1::CLOUD_SYNC_QUEUED);
  Flush();
  v1::Row got;
  ASSERT_TRUE(Get("customers", R"({"id": 1})", v1::CLOUD, &got).ok());
  EXPECT_EQ(got.version(), a.version());
  EXPECT_EQ(got.fields().fields().at("name").string_value(), "Ann");
  // WRITE_THROUGH: in the cloud when answered.
  auto upd = FromJson<v1::UpdateRowRequest>(
      R"({"table": "customers", "row": {"id": 1, "vip": true}, "update_mask": {"paths": ["vip"]}})");
  upd.set_write_mode(v1::WRITE_THROUGH);
  v1::Row updated;
  ASSERT_TRUE(server_->data().UpdateRow(Ctx(tenant_).get(), upd, &updated).ok());
  EXPECT_EQ(updated.cloud_sync(), v1::CLOUD_SYNC_APPLIED);
  ASSERT_TRUE(Get("customers", R"({"id": 1})", v1::CLOUD, &got).ok());
  EXPECT_TRUE(got.fields().fields().at("vip").bool_value());
  EXPECT_EQ(got.version(), 2);
  // LOCAL_ONLY: never queued.
  v1::Row local = Create(R"({"table": "customers", "row": {"name": "Lo", "email": "lo@x"}})", v1::LOCAL_ONLY);
  EXPECT_EQ(local.cloud_sync(), v1::CLOUD_SYNC_NONE);
  Flush();
  EXPECT_EQ(Get("customers", R"({"id": 2})", v1::CLOUD, &got).error_code(), grpc::StatusCode::NOT_FOUND);
  // CLOUD_ONLY: the cloud only, and it needs the key the local store would assign.
  Create(R"({"table": "customers", "row": {"name": "Cl", "email": "cl@x"}})", v1::CLOUD_ONLY,
         grpc::StatusCode::INVALID_ARGUMENT);
  v1::Row cloud =
      Create(R"({"table": "customers", "row": {"id": 100, "name": "Cl", "email": "cl@x"}})", v1::CLOUD_ONLY);
  EXPECT_EQ(cloud.cloud_sync(), v1::CLOUD_SYNC_APPLIED);
  EXPECT_EQ(Get("customers", R"({"id": 100})", v1::LOCAL, &got).error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(Get("customers", R"({"id": 100})", v1::CLOUD, &got).ok());
  ASSERT_TRUE(Get("customers", R"({"id": 100})", v1::CLOUD_IF_AVAILABLE, &got).ok());
  // A delete reaches the cloud as a tombstone.
  auto del = FromJson<v1::DeleteRowRequest>(R"({"table": "customers", "key": {"id": 1}})");
  v1::DeleteRowResponse deleted;
  ASSERT_TRUE(server_->data().DeleteRow(Ctx(tenant_).get(), del, &deleted).ok());
  EXPECT_EQ(deleted.cloud_sync(), v1::CLOUD_SYNC_QUEUED);
  Flush();
  EXPECT_EQ(Get("customers", R"({"id": 1})", v1::CLOUD, &got).error_code(), grpc::StatusCode::NOT_FOUND);
  // A page token is bound to the source that made it.
  for (int i = 0; i < 3; ++i) {
    Create(R"({"table": "products", "row": {"sku": "s)" + std::to_string(i) + R"(", "name": "n", "price_cents": 1}})",
           v1::LOCAL_FIRST);
  }
  Flush();
  v1::ListRowsRequest list;
  list.set_table("products");
  list.set_page_size(1);
  v1::ListRowsResponse page;
  ASSERT_TRUE(server_->data().ListRows(Ctx(tenant_).get(), list, &page).ok());
  ASSERT_FALSE(page.next_page_token().empty());
  list.set_page_token(page.next_page_token());
  list.set_read_source(v1::CLOUD);
  EXPECT_EQ(server_->data().ListRows(Ctx(tenant_).get(), list, &page).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(All("products", v1::LOCAL), All("products", v1::CLOUD));
  // Text with a NUL character cannot go to the cloud: refused before any write.
  Create(R"({"table": "products", "row": {"sku": "nul", "name": "a\u0000b", "price_cents": 1}})", v1::CLOUD_ONLY,
         grpc::StatusCode::INVALID_ARGUMENT);
  Create(R"({"table": "products", "row": {"sku": "nul", "name": "a\u0000b", "price_cents": 1}})", v1::LOCAL_FIRST,
         grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Get("products", R"({"sku": "nul"})", v1::LOCAL, &got).error_code(), grpc::StatusCode::NOT_FOUND);
  Create(R"({"table": "products", "row": {"sku": "nul", "name": "a\u0000b", "price_cents": 1}})", v1::LOCAL_ONLY);
  // A later write that would queue that row is refused (it could only be
  // dead-lettered) and changes nothing; one that replaces the text goes.
  auto update = [&](const std::string& row, const std::string& path) {
    auto req = FromJson<v1::UpdateRowRequest>(R"({"table": "products", "row": )" + row +
                                              R"(, "update_mask": {"paths": [")" + path + R"("]}})");
    req.set_write_mode(v1::LOCAL_FIRST);
    v1::Row updated;
    return server_->data().UpdateRow(Ctx(tenant_).get(), req, &updated);
  };
  grpc::Status s = update(R"({"sku": "nul", "price_cents": 2})", "price_cents");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(),
            "column 'name' of table 'products' holds a NUL character, which the cloud database cannot store: "
            "remove it, or write with LOCAL_ONLY");
  ASSERT_TRUE(Get("products", R"({"sku": "nul"})", v1::LOCAL, &got).ok());
  EXPECT_EQ(got.fields().fields().at("price_cents").number_value(), 1);
  EXPECT_EQ(got.version(), 1);
  s = update(R"({"sku": "nul", "name": "ab"})", "name");
  ASSERT_TRUE(s.ok()) << s.error_message();
  Flush();
  ASSERT_TRUE(Get("products", R"({"sku": "nul"})", v1::CLOUD, &got).ok());
  EXPECT_EQ(got.fields().fields().at("name").string_value(), "ab");
  // A batch's inner operations take the batch's mode.
  auto batch = FromJson<v1::BatchWriteRequest>(
      R"({"operations": [{"create": {"table": "products", "row": {"sku": "b", "name": "n", "price_cents": 1},
          "write_mode": "CLOUD_ONLY"}}]})");
  v1::BatchWriteResponse br;
  EXPECT_EQ(server_->data().BatchWrite(Ctx(tenant_).get(), batch, &br).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_P(HybridTest, ANewerCloudRowWinsAndTheLocalWriteIsAListedConflict) {
  tenant_ = "conflicts";
  StartGateway();
  Create(R"({"table": "customers", "row": {"id": 7, "name": "Cloud", "email": "c@x"}})", v1::CLOUD_ONLY);
  auto upd = FromJson<v1::UpdateRowRequest>(R"({"table": "customers", "row": {"id": 7, "name": "Cloud2"}})");
  upd.set_write_mode(v1::CLOUD_ONLY);
  v1::Row row;
  ASSERT_TRUE(server_->data().UpdateRow(Ctx(tenant_).get(), upd, &row).ok());
  EXPECT_EQ(row.version(), 2);
  // The same key made locally (version 1) loses to the cloud's version 2.
  Create(R"({"table": "customers", "row": {"id": 7, "name": "Local", "email": "l@x"}})", v1::LOCAL_FIRST);
  Flush();
  EXPECT_EQ(Stats().total().conflicts(), 1);
  v1::Row got;
  ASSERT_TRUE(Get("customers", R"({"id": 7})", v1::CLOUD, &got).ok());
  EXPECT_EQ(got.fields().fields().at("name").string_value(), "Cloud2");
  const v1::ListSyncOperationsResponse ops = Listed(v1::SyncOperation::CONFLICT);
  ASSERT_EQ(ops.operations_size(), 1);
  EXPECT_EQ(ops.operations(0).cloud_version(), 2);
  EXPECT_EQ(ops.operations(0).key().fields().at("id").number_value(), 7);
}

TEST_P(HybridTest, APoisonWriteIsDeadLetteredListedAndRetriedWhileOthersFlow) {
  tenant_ = "poison";
  StartGateway(/*max_attempts=*/2);
  {
    pqxx::connection c(*url_);
    pqxx::work w(c);
    w.exec("ALTER TABLE products ADD CONSTRAINT cloud_only_no_poison CHECK (name <> 'poison')");
    w.commit();
  }
  Create(R"({"table": "products", "row": {"sku": "p", "name": "poison", "price_cents": 1}})", v1::LOCAL_FIRST);
  for (int i = 0; i < 20; ++i) {
    Create(R"({"table": "products", "row": {"sku": "ok)" + std::to_string(i) + R"(", "name": "fine",
               "price_cents": 1}})",
           v1::LOCAL_FIRST);
  }
  Flush();
  EXPECT_EQ(CloudCount("products"), 20);
  EXPECT_EQ(Stats().total().dead_lettered(), 1);
  const v1::ListSyncOperationsResponse ops = Listed(v1::SyncOperation::DEAD_LETTERED);
  ASSERT_EQ(ops.operations_size(), 1);
  EXPECT_EQ(ops.operations(0).attempts(), 2);
  EXPECT_EQ(ops.operations(0).key().fields().at("sku").string_value(), "p");
  EXPECT_THAT(ops.operations(0).last_error(), HasSubstr("CHECK constraint of table 'products'"));
  EXPECT_THAT(ops.operations(0).last_error(), ::testing::Not(HasSubstr("INSERT")));
  // Purging needs the admin flag.
  v1::PurgeSyncOperationsRequest purge;
  purge.set_tenant_id(tenant_);
  purge.set_state(v1::SyncOperation::DEAD_LETTERED);
  v1::PurgeSyncOperationsResponse purged;
  EXPECT_EQ(sync_->PurgeSyncOperations(Ctx().get(), purge, &purged).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // The cloud is fixed; the dead letter is retried and arrives.
  {
    pqxx::connection c(*url_);
    pqxx::work w(c);
    w.exec("ALTER TABLE products DROP CONSTRAINT cloud_only_no_poison");
    w.commit();
  }
  v1::RetrySyncOperationsRequest retry;
  retry.set_tenant_id(tenant_);
  v1::RetrySyncOperationsResponse retried;
  ASSERT_TRUE(sync_->RetrySyncOperations(Ctx().get(), retry, &retried).ok());
  EXPECT_EQ(retried.retried(), 1);
  Flush();
  EXPECT_EQ(CloudCount("products"), 21);
  EXPECT_EQ(Stats().total().dead_lettered(), 0);

  // A dead letter older than a delete of its row: the delete waits behind
  // it, and once it is retried the row ends deleted in the cloud, never
  // brought back by the older write.
  {
    pqxx::connection c(*url_);
    pqxx::work w(c);
    w.exec("ALTER TABLE products ADD CONSTRAINT cloud_only_no_poison CHECK (name <> 'poison 2')");
    w.commit();
  }
  Create(R"({"table": "products", "row": {"sku": "q", "name": "poison 2", "price_cents": 1}})", v1::LOCAL_FIRST);
  Flush();
  ASSERT_EQ(Stats().total().dead_lettered(), 1);
  auto del = FromJson<v1::DeleteRowRequest>(R"({"table": "products", "key": {"sku": "q"}})");
  v1::DeleteRowResponse deleted;
  ASSERT_TRUE(server_->data().DeleteRow(Ctx(tenant_).get(), del, &deleted).ok());
  auto ctx = Ctx();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
  v1::FlushSyncResponse flushed;
  EXPECT_EQ(sync_->FlushSync(ctx.get(), v1::FlushSyncRequest(), &flushed).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);  // the delete is held behind the dead letter
  {
    pqxx::connection c(*url_);
    pqxx::work w(c);
    w.exec("ALTER TABLE products DROP CONSTRAINT cloud_only_no_poison");
    w.commit();
  }
  ASSERT_TRUE(sync_->RetrySyncOperations(Ctx().get(), retry, &retried).ok());
  Flush();
  v1::Row got;
  EXPECT_EQ(Get("products", R"({"sku": "q"})", v1::CLOUD, &got).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(CloudCount("products"), 21);
  EXPECT_EQ(Stats().total().dead_lettered(), 0);
}

// A cloud too slow for the call (a table locked there): CLOUD_IF_AVAILABLE
// reads locally in time; CLOUD and CLOUD_ONLY get the gateway's own
// DEADLINE_EXCEEDED before the caller's deadline, not gRPC's.
TEST_P(HybridTest, ASlowCloudLeavesTimeToReadLocallyAndAnswersInTime) {
  StartGateway();
  Create(R"({"table": "customers", "row": {"name": "Ann", "email": "ann@x"}})", v1::LOCAL_FIRST);
  Flush();
  pqxx::connection locker(*url_);
  pqxx::work lock(locker);
  lock.exec("LOCK TABLE customers IN ACCESS EXCLUSIVE MODE");
  auto call = [&](const std::function<grpc::Status(grpc::ClientContext*)>& fn, absl::Duration* took) {
    auto ctx = Ctx(tenant_);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(1000));
    const absl::Time start = absl::Now();
    grpc::Status s = fn(ctx.get());
    *took = absl::Now() - start;
    return s;
  };
  absl::Duration took;
  v1::Row row;
  auto get = FromJson<v1::GetRowRequest>(R"({"table": "customers", "key": {"id": 1}})");
  get.set_read_source(v1::CLOUD_IF_AVAILABLE);
  grpc::Status s = call([&](grpc::ClientContext* c) { return server_->data().GetRow(c, get, &row); }, &took);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(row.fields().fields().at("name").string_value(), "Ann");
  EXPECT_LT(took, absl::Milliseconds(1000));
  get.set_read_source(v1::CLOUD);
  s = call([&](grpc::ClientContext* c) { return server_->data().GetRow(c, get, &row); }, &took);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_NE(s.error_message(), "Deadline Exceeded") << "the gateway's own answer";
  EXPECT_LT(took, absl::Milliseconds(1000));
  auto create =
      FromJson<v1::CreateRowRequest>(R"({"table": "customers", "row": {"id": 9, "name": "B", "email": "b@x"}})");
  create.set_write_mode(v1::CLOUD_ONLY);
  s = call([&](grpc::ClientContext* c) { return server_->data().CreateRow(c, create, &row); }, &took);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_NE(s.error_message(), "Deadline Exceeded");
  EXPECT_LT(took, absl::Milliseconds(1000));
  lock.abort();
  EXPECT_EQ(CloudCount("customers"), 1) << "the timed-out CLOUD_ONLY create wrote nothing";
}

TEST_P(HybridTest, AnOutageLosesNoAcknowledgedWrite) {
  tenant_ = "outage";
  StartGateway();
  auto health = grpc::health::v1::Health::NewStub(server_->channel());
  ASSERT_TRUE(PgServer::Shared().Stop().ok());
  constexpr int kBatches = 50, kPerBatch = 100;  // 5,000 rows
  for (int b = 0; b < kBatches; ++b) {
    v1::BatchWriteRequest req;
    req.set_write_mode(v1::LOCAL_FIRST);
    for (int i = 0; i < kPerBatch; ++i) {
      const int n = b * kPerBatch + i;
      *req.add_operations()->mutable_create() = FromJson<v1::CreateRowRequest>(
          R"({"table": "products", "row": {"sku": "k)" + std::to_string(n) + R"(", "name": "n)" + std::to_string(n) +
          R"(", "price_cents": )" + std::to_string(n) + "}}");
    }
    v1::BatchWriteResponse resp;
    grpc::Status s = server_->data().BatchWrite(Ctx(tenant_).get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  // Served locally; the cloud's entry says it is down once the breaker
  // opens (three failed calls: refused at once directly, but through
  // PgBouncer a call waits for its 5 s timeout, the bouncer holding it).
  grpc::health::v1::HealthCheckRequest hreq;
  grpc::health::v1::HealthCheckResponse hresp;
  hreq.set_service("datagate.v1.CloudStore");
  const absl::Time stopped = absl::Now();
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(health->Check(Ctx().get(), hreq, &hresp).ok());
    if (hresp.status() == grpc::health::v1::HealthCheckResponse::NOT_SERVING) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(hresp.status(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  std::cout << "cloud reported down " << absl::FormatDuration(absl::Now() - stopped) << " after the stop\n";
  hreq.set_service("");
  ASSERT_TRUE(health->Check(Ctx().get(), hreq, &hresp).ok());
  EXPECT_EQ(hresp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  EXPECT_EQ(Stats().breaker(), v1::SyncStats::OPEN);
  EXPECT_EQ(Stats().total().depth(), kBatches * kPerBatch);
  ASSERT_TRUE(PgServer::Shared().Start().ok());
  Flush();
  EXPECT_EQ(CloudCount("products"), kBatches * kPerBatch);
  std::vector<std::string> local = All("products", v1::LOCAL);
  EXPECT_EQ(local.size(), static_cast<size_t>(kBatches * kPerBatch));
  EXPECT_EQ(local, All("products", v1::CLOUD));
  hreq.set_service("datagate.v1.CloudStore");
  ASSERT_TRUE(health->Check(Ctx().get(), hreq, &hresp).ok());
  EXPECT_EQ(hresp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

// The cloud as a migration target, and schema first: a write made under a
// migration the cloud does not have yet waits (without failing) until the
// cloud schema reaches it.
TEST_P(HybridTest, TheCloudIsAMigrationTargetAndWritesWaitForItsSchema) {
  tenant_ = "schema";
  StartGateway();
  auto plan_of = [&](bool up, int64_t to, bool dry, v1::MigrationPlanResponse* plan) {
    auto target = FromJson<v1::MigrationTarget>(R"({"cloud": true})");
    if (up) {
      v1::ApplyMigrationsRequest req;
      *req.mutable_target() = target;
      req.set_to_version(to);
      req.set_validate_only(dry);
      return server_->migrations().ApplyMigrations(Ctx().get(), req, plan);
    }
    v1::RevertMigrationsRequest req;
    *req.mutable_target() = target;
    req.set_to_version(to);
    req.set_validate_only(dry);
    return server_->migrations().RevertMigrations(Ctx().get(), req, plan);
  };
  v1::MigrationPlanResponse plan;
  ASSERT_TRUE(plan_of(false, 0, /*dry=*/true, &plan).ok());
  ASSERT_EQ(plan.steps_size(), 4);
  EXPECT_EQ(plan.steps(0).target(), "cloud");
  EXPECT_EQ(plan.steps(0).version(), 4);
  EXPECT_FALSE(plan.steps(0).done());
  plan.Clear();
  ASSERT_TRUE(plan_of(false, 2, /*dry=*/false, &plan).ok());  // the cloud loses orders
  ASSERT_EQ(plan.steps_size(), 2);
  EXPECT_TRUE(plan.steps(1).done());

  Create(R"({"table": "customers", "row": {"id": 1, "name": "A", "email": "a@x"}})", v1::LOCAL_FIRST);
  Create(R"({"table": "orders", "row": {"id": 1, "customer_id": 1}})", v1::LOCAL_FIRST);  // written under 4
  auto ctx = Ctx();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
  v1::FlushSyncResponse flushed;
  EXPECT_EQ(sync_->FlushSync(ctx.get(), v1::FlushSyncRequest(), &flushed).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(Stats().total().retrying(), 0);  // waiting is not failing
  EXPECT_EQ(Stats().total().dead_lettered(), 0);
  // Both were written under migration 4 (the tenant's version then): both wait.
  EXPECT_EQ(CloudCount("customers"), 0);

  plan.Clear();
  ASSERT_TRUE(plan_of(true, 0, /*dry=*/false, &plan).ok());
  ASSERT_EQ(plan.steps_size(), 2);
  Flush();
  EXPECT_EQ(CloudCount("customers"), 1);
  EXPECT_EQ(CloudCount("orders"), 1);
  v1::GetMigrationStatusRequest status_req;
  *status_req.mutable_target() = FromJson<v1::MigrationTarget>(R"({"cloud": true})");
  v1::GetMigrationStatusResponse status;
  ASSERT_TRUE(server_->migrations().GetMigrationStatus(Ctx().get(), status_req, &status).ok());
  ASSERT_EQ(status.targets_size(), 1);
  EXPECT_EQ(status.targets(0).current_version(), 4);
}

// A CLOUD_ONLY write and a local one can reach the same version with
// different content: a conflict, never taken for a replay.
TEST_P(HybridTest, TheSameVersionWithOtherContentIsAConflict) {
  tenant_ = "same-version";
  StartGateway();
  Create(R"({"table": "customers", "row": {"id": 2, "name": "Eve", "email": "eve@x"}})", v1::CLOUD_ONLY);
  Create(R"({"table": "customers", "row": {"id": 2, "name": "Frank", "email": "frank@x"}})", v1::LOCAL_FIRST);
  Flush();
  EXPECT_EQ(Stats().total().conflicts(), 1);
  v1::Row got;
  ASSERT_TRUE(Get("customers", R"({"id": 2})", v1::CLOUD, &got).ok());
  EXPECT_EQ(got.fields().fields().at("name").string_value(), "Eve");
  // A true replay (the same write pushed again) is not a conflict.
  Create(R"({"table": "customers", "row": {"id": 3, "name": "Gus", "email": "gus@x"}})", v1::WRITE_THROUGH);
  Flush();
  EXPECT_EQ(Stats().total().conflicts(), 1);
  // Nor is the same content with a REAL -0: both stores keep it as 0 (SQLite
  // cannot keep the sign), a REAL on both sides (SQLite stores a whole one
  // as an integer).
  const std::string zero = R"({"table": "products", "row": {"sku": "z", "name": "n", "price_cents": 1,
                                "weight_kg": -0.0}})";
  Create(zero, v1::CLOUD_ONLY);
  Create(zero, v1::WRITE_THROUGH);
  Flush();
  EXPECT_EQ(Stats().total().conflicts(), 1);
  pqxx::connection c(*url_);
  pqxx::work w(c);
  EXPECT_EQ(w.exec1("SELECT weight_kg::text FROM products WHERE tenant_id = " + w.quote(tenant_) + " AND sku = 'z'")[0]
                .as<std::string>(),
            "0");
}

// A foreign key the cloud checks at commit refuses the whole call: only the
// op at fault is held back; the rest of the batch arrives.
TEST_P(HybridTest, AForeignKeyCheckedAtCommitHoldsBackOnlyItsRow) {
  tenant_ = "fk";
  StartGateway(/*max_attempts=*/2);
  Create(R"({"table": "customers", "row": {"id": 5, "name": "Lo", "email": "lo@x"}})", v1::LOCAL_ONLY);
  v1::SyncStats stats;
  ASSERT_TRUE(sync_->PauseSync(Ctx().get(), v1::PauseSyncRequest(), &stats).ok());
  Create(R"({"table": "orders", "row": {"id": 1, "customer_id": 5}})", v1::LOCAL_FIRST);  // no customer 5 there
  for (int i = 0; i < 20; ++i) {
    Create(R"({"table": "products", "row": {"sku": "f)" + std::to_string(i) + R"(", "name": "n", "price_cents": 1}})",
           v1::LOCAL_FIRST);
  }
  ASSERT_TRUE(sync_->ResumeSync(Ctx().get(), v1::ResumeSyncRequest(), &stats).ok());
  Flush();
  EXPECT_EQ(CloudCount("products"), 20);
  EXPECT_EQ(CloudCount("orders"), 0);
  EXPECT_EQ(Stats().total().dead_lettered(), 1);
  const v1::ListSyncOperationsResponse ops = Listed(v1::SyncOperation::DEAD_LETTERED);
  ASSERT_EQ(ops.operations_size(), 1);
  EXPECT_EQ(ops.operations(0).table(), "orders");
  EXPECT_THAT(ops.operations(0).last_error(), HasSubstr("FAILED_PRECONDITION"));
  // The same written straight to the cloud is refused with the same code.
  Create(R"({"table": "orders", "row": {"id": 2, "customer_id": 999}})", v1::CLOUD_ONLY,
         grpc::StatusCode::FAILED_PRECONDITION);
}

// Rows that swap emails while sync is paused reach the cloud as their
// newest states only (a: y, b: x), each of which the other's old email
// refuses; the example cloud schema checks emails at commit, so the two
// arrive together.
TEST_P(HybridTest, RowsThatSwapEmailsWhileTheQueueIsBehindArriveTogether) {
  tenant_ = "swap";
  StartGateway(/*max_attempts=*/2);
  Create(R"({"table": "customers", "row": {"id": 1, "name": "A", "email": "x@swap"}})", v1::LOCAL_FIRST);
  Create(R"({"table": "customers", "row": {"id": 2, "name": "B", "email": "y@swap"}})", v1::LOCAL_FIRST);
  Flush();
  Pause();
  ASSERT_TRUE(SetEmail(1, "tmp@swap").ok());
  ASSERT_TRUE(SetEmail(2, "x@swap").ok());
  ASSERT_TRUE(SetEmail(1, "y@swap").ok());
  Resume();
  Flush();
  EXPECT_EQ(CloudEmail(1), "y@swap");
  EXPECT_EQ(CloudEmail(2), "x@swap");
  EXPECT_EQ(All("customers", v1::LOCAL), All("customers", v1::CLOUD));
  EXPECT_EQ(Stats().total().dead_lettered(), 0);
  EXPECT_EQ(Stats().total().retrying(), 0);
  EXPECT_EQ(Stats().total().applied(), 5);
}

// A cloud row locked by another session holds back only its own row's
// sync: a swap of two other rows' emails arrives meanwhile, and the locked
// row and the one swapping with it arrive once the lock is gone, none
// dead-lettered.
TEST_P(HybridTest, ACloudRowLockedElsewhereHoldsBackOnlyItsOwnRow) {
  tenant_ = "locked";
  StartGateway();
  for (int id = 1; id <= 4; ++id) {
    Create(R"({"table": "customers", "row": {"id": )" + std::to_string(id) + R"(, "name": "N", "email": ")" +
               std::to_string(id) + R"(@lock"}})",
           v1::LOCAL_FIRST);
  }
  Flush();
  pqxx::connection other(*url_);
  pqxx::work locker(other);
  locker.exec("SELECT 1 FROM customers WHERE tenant_id = " + locker.quote(tenant_) + " AND id = 1 FOR UPDATE");
  Pause();
  for (const auto& [a, b] : {std::pair{1, 2}, std::pair{3, 4}}) {
    ASSERT_TRUE(SetEmail(a, "tmp@lock").ok());
    ASSERT_TRUE(SetEmail(b, std::to_string(a) + "@lock").ok());
    ASSERT_TRUE(SetEmail(a, std::to_string(b) + "@lock").ok());
  }
  Resume();
  const absl::Time give_up = absl::Now() + absl::Seconds(20);
  while (CloudEmail(3) != "4@lock" && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(CloudEmail(3), "4@lock");
  EXPECT_EQ(CloudEmail(4), "3@lock");
  EXPECT_EQ(CloudEmail(1), "1@lock");  // still locked, and so 2 waits too
  EXPECT_EQ(CloudEmail(2), "2@lock");
  locker.abort();
  Flush();
  EXPECT_EQ(CloudEmail(1), "2@lock");
  EXPECT_EQ(CloudEmail(2), "1@lock");
  EXPECT_EQ(Stats().total().dead_lettered(), 0);
  EXPECT_EQ(All("customers", v1::LOCAL), All("customers", v1::CLOUD));
}

// A cloud row held by another transaction longer than the op's tries: the
// op is not dead-lettered for it (no fault of its own); it keeps waiting,
// visible as pending with its last error, and arrives once the lock goes.
TEST_P(HybridTest, AnOpWaitsForALockedCloudRowPastMaxAttempts) {
  tenant_ = "locked-long";
  StartGateway(/*max_attempts=*/2);
  Create(R"({"table": "customers", "row": {"id": 1, "name": "N", "email": "1@long"}})", v1::LOCAL_FIRST);
  Flush();
  pqxx::connection other(*url_);
  pqxx::work locker(other);
  locker.exec("SELECT 1 FROM customers WHERE tenant_id = " + locker.quote(tenant_) + " AND id = 1 FOR UPDATE");
  ASSERT_TRUE(SetEmail(1, "one@long").ok());
  Create(R"({"table": "customers", "row": {"id": 2, "name": "M", "email": "2@long"}})", v1::LOCAL_FIRST);
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  int64_t attempts = 0;
  while (attempts < 3 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(200));
    const v1::ListSyncOperationsResponse pending = Listed(v1::SyncOperation::PENDING);
    ASSERT_GE(pending.operations_size(), 1);
    attempts = pending.operations(0).attempts();  // the held row's: committed first
    if (attempts > 0) {
      EXPECT_THAT(pending.operations(0).last_error(), ::testing::HasSubstr("held by another"));
    }
  }
  EXPECT_GE(attempts, 3);  // past max_attempts
  EXPECT_EQ(Listed(v1::SyncOperation::PENDING).operations_size(), 1) << "only the held row's op waits";
  EXPECT_EQ(Stats().total().dead_lettered(), 0);
  EXPECT_EQ(CloudEmail(2), "2@long");
  locker.abort();
  Flush();
  EXPECT_EQ(CloudEmail(1), "one@long");
  EXPECT_EQ(Stats().total().dead_lettered(), 0);
}

// A CLOUD_ONLY write or CLOUD read that set no deadline does not wait for
// a locked cloud row forever: it ends at the gateway's limit for such
// calls, and the error names that limit, not a deadline the call never set.
TEST_P(HybridTest, ACloudCallWithoutDeadlineEndsAtTheGatewaysLimitAndSaysSo) {
  tenant_ = "no-deadline";
  cloud_without_deadline_ms_ = 1000;
  StartGateway();
  Create(R"({"table": "customers", "row": {"id": 1, "name": "N", "email": "1@nd"}})", v1::CLOUD_ONLY);
  pqxx::connection other(*url_);
  pqxx::work locker(other);
  locker.exec("SELECT 1 FROM customers WHERE tenant_id = " + locker.quote(tenant_) + " AND id = 1 FOR UPDATE");
  auto update = FromJson<v1::UpdateRowRequest>(
      R"({"table": "customers", "row": {"id": 1, "email": "new@nd"}, "update_mask": {"paths": ["email"]}})");
  update.set_write_mode(v1::CLOUD_ONLY);
  grpc::ClientContext no_deadline;
  no_deadline.AddMetadata("x-tenant-id", tenant_);
  v1::Row row;
  const absl::Time start = absl::Now();
  const grpc::Status s = server_->data().UpdateRow(&no_deadline, update, &row);
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << s.error_message();
  EXPECT_EQ(s.error_message(),
            "the call set no deadline, and the 1s the gateway gives the cloud part of such a call passed while the "
            "store was working on it; whatever it had begun to write was rolled back");
  EXPECT_GE(took, absl::Milliseconds(900));
  EXPECT_LT(took, absl::Seconds(5));
  // A read waits for no row lock; a table lock holds it.
  locker.exec("LOCK TABLE customers IN ACCESS EXCLUSIVE MODE");
  auto get = FromJson<v1::GetRowRequest>(R"({"table": "customers", "key": {"id": 1}})");
  get.set_read_source(v1::CLOUD);
  grpc::ClientContext read_without_deadline;
  read_without_deadline.AddMetadata("x-tenant-id", tenant_);
  const grpc::Status read = server_->data().GetRow(&read_without_deadline, get, &row);
  EXPECT_EQ(read.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << read.error_message();
  EXPECT_THAT(read.error_message(), ::testing::StartsWith("the call set no deadline, and the 1s the gateway gives"));
  locker.abort();
  EXPECT_EQ(CloudEmail(1), "1@nd");
}

// Ops each quick enough but together slower than a sync call (a cloud
// trigger takes 0.3 s a row, a call 1 s) go again in smaller calls, none
// charged for it, and arrive; one slower than a call even alone is
// dead-lettered by itself.
TEST_P(HybridTest, ABatchTooSlowForOneSyncCallIsSplitAndOnlyTheOpTooSlowAloneFails) {
  tenant_ = "slow-batch";
  StartGateway(/*max_attempts=*/2, /*call_timeout_ms=*/1000);
  pqxx::connection admin_connection(*url_);
  pqxx::nontransaction admin(admin_connection);
  admin.exec(R"(CREATE OR REPLACE FUNCTION dg_test_slow() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.tenant_id = 'slow-batch' THEN
          PERFORM pg_sleep(CASE NEW.name WHEN 'slowest' THEN 1.5 WHEN 'slow' THEN 0.3 ELSE 0 END);
        END IF;
        RETURN NEW;
      END $$;
      DROP TRIGGER IF EXISTS dg_test_slow ON customers;
      CREATE TRIGGER dg_test_slow BEFORE INSERT OR UPDATE ON customers
        FOR EACH ROW EXECUTE FUNCTION dg_test_slow())");
  Pause();
  auto customer = [&](int id, const std::string& name) {
    Create(R"({"table": "customers", "row": {"id": )" + std::to_string(id) + R"(, "name": ")" + name +
               R"(", "email": ")" + std::to_string(id) + R"(@slow"}})",
           v1::LOCAL_FIRST);
  };
  customer(1, "slowest");
  for (int id = 2; id <= 9; ++id) customer(id, "slow");  // 2.4 s together
  for (int id = 10; id <= 29; ++id) customer(id, "quick");
  Resume();
  Flush();
  admin.exec("DROP TRIGGER dg_test_slow ON customers; DROP FUNCTION dg_test_slow()");
  EXPECT_EQ(Stats().total().dead_lettered(), 1);
  const v1::ListSyncOperationsResponse dead = Listed(v1::SyncOperation::DEAD_LETTERED);
  ASSERT_EQ(dead.operations_size(), 1);
  EXPECT_EQ(dead.operations(0).attempts(), 2);
  EXPECT_THAT(dead.operations(0).last_error(), ::testing::HasSubstr("DEADLINE_EXCEEDED"));
  EXPECT_EQ(CloudCount("customers"), 28);
  std::vector<std::string> local = All("customers", v1::LOCAL);
  local.erase(local.begin());  // the slowest, dead-lettered
  EXPECT_EQ(local, All("customers", v1::CLOUD));
}

// CLOUD_ONLY: an email another row has is ALREADY_EXISTS naming the column
// and, in a batch, the operation. The cloud's rule is checked at commit
// (for the sync's swaps), yet a write checks it at each operation, as the
// local store does: a batch that swaps two rows' emails is refused.
TEST_P(HybridTest, ACloudOnlyDuplicateEmailIsAlreadyExistsNamingTheOperation) {
  tenant_ = "cloud-dup";
  StartGateway();
  Create(R"({"table": "customers", "row": {"id": 1, "name": "A", "email": "a@dup"}})", v1::CLOUD_ONLY);
  Create(R"({"table": "customers", "row": {"id": 2, "name": "B", "email": "b@dup"}})", v1::CLOUD_ONLY);
  auto create = FromJson<v1::CreateRowRequest>(R"({"table": "customers", "row": {"id": 3, "name": "C",
                                                  "email": "a@dup"}})");
  create.set_write_mode(v1::CLOUD_ONLY);
  v1::Row row;
  grpc::Status s = server_->data().CreateRow(Ctx(tenant_).get(), create, &row);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << s.error_message();
  EXPECT_EQ(s.error_message(), "table 'customers' already has a row with the same email");
  s = SetEmail(2, "a@dup", v1::CLOUD_ONLY);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << s.error_message();
  EXPECT_EQ(s.error_message(), "table 'customers' already has a row with the same email");
  EXPECT_EQ(CloudCount("customers"), 2);
  // A deleted row's email is free again (its tombstone holds none).
  auto del = FromJson<v1::DeleteRowRequest>(R"({"table": "customers", "key": {"id": 2}})");
  del.set_write_mode(v1::CLOUD_ONLY);
  v1::DeleteRowResponse deleted;
  ASSERT_TRUE(server_->data().DeleteRow(Ctx(tenant_).get(), del, &deleted).ok());
  Create(R"({"table": "customers", "row": {"id": 3, "name": "C", "email": "b@dup"}})", v1::CLOUD_ONLY);
  auto batch = FromJson<v1::BatchWriteRequest>(R"({"operations": [
      {"create": {"table": "customers", "row": {"id": 4, "name": "D", "email": "d@dup"}}},
      {"update": {"table": "customers", "row": {"id": 1, "email": "b@dup"}, "update_mask": {"paths": ["email"]}}}]})");
  batch.set_write_mode(v1::CLOUD_ONLY);
  v1::BatchWriteResponse written;
  s = server_->data().BatchWrite(Ctx(tenant_).get(), batch, &written);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << s.error_message();
  EXPECT_EQ(s.error_message(), "operations[1]: table 'customers' already has a row with the same email");
  EXPECT_EQ(CloudCount("customers"), 2) << "nothing of the refused batch stays";
  auto swap = FromJson<v1::BatchWriteRequest>(R"({"operations": [
      {"update": {"table": "customers", "row": {"id": 1, "email": "b@dup"}, "update_mask": {"paths": ["email"]}}},
      {"update": {"table": "customers", "row": {"id": 3, "email": "a@dup"}, "update_mask": {"paths": ["email"]}}}]})");
  swap.set_write_mode(v1::CLOUD_ONLY);
  s = server_->data().BatchWrite(Ctx(tenant_).get(), swap, &written);
  EXPECT_EQ(s.error_message(), "operations[0]: table 'customers' already has a row with the same email");
  EXPECT_EQ(CloudEmail(1), "a@dup");
  EXPECT_EQ(CloudEmail(3), "b@dup");
}

// A real duplicate pushed LOCAL_FIRST (the cloud has the email on a row
// written there directly) is retried, then dead-lettered, naming the
// column; it holds back nothing else, not even rows that swap emails in the
// same batch.
TEST_P(HybridTest, AnEmailTakenInTheCloudIsDeadLetteredAloneAndASwapBesideItArrives) {
  tenant_ = "taken";
  StartGateway(/*max_attempts=*/2);
  Create(R"({"table": "customers", "row": {"id": 100, "name": "Cloud", "email": "taken@x"}})", v1::CLOUD_ONLY);
  Create(R"({"table": "customers", "row": {"id": 1, "name": "A", "email": "x@taken"}})", v1::LOCAL_FIRST);
  Create(R"({"table": "customers", "row": {"id": 2, "name": "B", "email": "y@taken"}})", v1::LOCAL_FIRST);
  Flush();
  Pause();
  ASSERT_TRUE(SetEmail(1, "tmp@taken").ok());
  Create(R"({"table": "customers", "row": {"id": 3, "name": "Dup", "email": "taken@x"}})", v1::LOCAL_FIRST);
  ASSERT_TRUE(SetEmail(2, "x@taken").ok());
  ASSERT_TRUE(SetEmail(1, "y@taken").ok());
  for (int i = 0; i < 20; ++i) {
    Create(R"({"table": "customers", "row": {"id": )" + std::to_string(10 + i) + R"(, "name": "n", "email": "e)" +
               std::to_string(i) + R"(@taken"}})",
           v1::LOCAL_FIRST);
  }
  Resume();
  Flush();
  EXPECT_EQ(CloudEmail(1), "y@taken");
  EXPECT_EQ(CloudEmail(2), "x@taken");
  EXPECT_EQ(CloudCount("customers"), 23);  // 100, 1, 2 and the 20; not 3
  v1::Row got;
  EXPECT_EQ(Get("customers", R"({"id": 3})", v1::CLOUD, &got).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Stats().total().dead_lettered(), 1);
  const v1::ListSyncOperationsResponse ops = Listed(v1::SyncOperation::DEAD_LETTERED);
  ASSERT_EQ(ops.operations_size(), 1);
  EXPECT_EQ(ops.operations(0).key().fields().at("id").number_value(), 3);
  EXPECT_EQ(ops.operations(0).attempts(), 2);
  EXPECT_EQ(ops.operations(0).last_error(), "ALREADY_EXISTS: table 'customers' already has a row with the same email");
}

// PauseSync answers once the cloud call under way has ended: after it,
// nothing more reaches the cloud.
TEST_P(HybridTest, PauseSyncAnswersOnceTheCallsOutHaveEnded) {
  tenant_ = "pausemid";
  StartGateway();
  v1::SyncStats stats;
  PushTenProductsIntoASlowCloud(1);
  ASSERT_TRUE(sync_->PauseSync(Ctx().get(), v1::PauseSyncRequest(), &stats).ok());
  EXPECT_EQ(stats.total().in_flight(), 0);
  const int64_t at_pause = CloudCount("products");
  EndSlowProducts();
  CreateProducts(10, 15);
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_EQ(CloudCount("products"), at_pause);  // nothing pushed while paused
  ASSERT_TRUE(sync_->ResumeSync(Ctx().get(), v1::ResumeSyncRequest(), &stats).ok());
  Flush();
  EXPECT_EQ(CloudCount("products"), 15);
}

// A PauseSync whose deadline comes before the cloud call under way ends
// says so (DEADLINE_EXCEEDED, not OK): sync is paused all the same, and a
// PauseSync called again waits for that call; after it nothing arrives.
TEST_P(HybridTest, APauseSyncThatCannotWaitForTheCallOutSaysSoAndStaysPaused) {
  tenant_ = "pausedl";
  StartGateway();
  PushTenProductsIntoASlowCloud(3);
  auto ctx = Ctx();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
  v1::SyncStats stats;
  const grpc::Status early = sync_->PauseSync(ctx.get(), v1::PauseSyncRequest(), &stats);
  EXPECT_EQ(early.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_THAT(early.error_message(), HasSubstr("sync is paused"));
  EXPECT_THAT(early.error_message(), HasSubstr("call PauseSync again"));
  EXPECT_TRUE(Stats().paused());
  ASSERT_TRUE(sync_->PauseSync(Ctx().get(), v1::PauseSyncRequest(), &stats).ok());
  EXPECT_EQ(stats.total().in_flight(), 0);
  EXPECT_EQ(CloudCount("products"), 10);  // the call that was out, and nothing after it
  EndSlowProducts();
  CreateProducts(10, 15);
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_EQ(CloudCount("products"), 10);
  ASSERT_TRUE(sync_->ResumeSync(Ctx().get(), v1::ResumeSyncRequest(), &stats).ok());
  Flush();
  EXPECT_EQ(CloudCount("products"), 15);
}

// A delete stops the tenant's sync before its cloud rows go: when a push
// under way does not end within the call's deadline, nothing is deleted
// (and no row reaches the cloud after the delete).
TEST_P(HybridTest, ADeleteThatCannotStopTheTenantsSyncInTimeDeletesNothing) {
  tenant_ = "slowdel";
  StartGateway();
  PushTenProductsIntoASlowCloud(2);
  EXPECT_EQ(DeleteTenant(std::chrono::milliseconds(800)).error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EndSlowProducts();
  Flush();
  EXPECT_EQ(All("products", v1::LOCAL).size(), 10u);  // still there, and synced
  EXPECT_EQ(CloudCount("products"), 10);
  ASSERT_TRUE(DeleteTenant().ok());
  EXPECT_EQ(CloudCount("products"), 0);
}

// A cloud too slow to delete the tenant's rows in time: the gateway's own
// DEADLINE_EXCEEDED, in time, and nothing deleted: the tenant is served
// again with its rows, here and in the cloud.
TEST_P(HybridTest, ADeleteWhoseCloudPartRunsOutOfTimeDeletesNothingAndAnswersInTime) {
  tenant_ = "slowclouddel";
  StartGateway();
  CreateProducts(0, 5);
  Flush();
  CloudSql(
      "CREATE FUNCTION slow_deletes() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(3); RETURN "
      "NULL; END $$; CREATE TRIGGER slow_deletes BEFORE DELETE ON products FOR EACH STATEMENT EXECUTE FUNCTION "
      "slow_deletes()");
  const auto start = std::chrono::system_clock::now();
  const grpc::Status s = DeleteTenant(std::chrono::seconds(1));
  EXPECT_LT(std::chrono::system_clock::now(), start + std::chrono::seconds(1));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << s.error_message();
  CloudSql("DROP TRIGGER slow_deletes ON products; DROP FUNCTION slow_deletes()");
  EXPECT_EQ(All("products", v1::LOCAL).size(), 5u);
  EXPECT_EQ(CloudCount("products"), 5);
  CreateProducts(5, 6);  // and writes still sync
  Flush();
  EXPECT_EQ(CloudCount("products"), 6);
  ASSERT_TRUE(DeleteTenant().ok());
  EXPECT_EQ(CloudCount("products"), 0);
}

// A CLOUD_ONLY write under way when a delete begins is waited for, so it
// cannot land in the cloud after the tenant's rows there went. A delete
// that cannot wait long enough deletes nothing and says why, and a call
// that came meanwhile is served.
TEST_P(HybridTest, ADeleteWaitsForTheTenantsCloudOnlyWriteUnderWay) {
  tenant_ = "cloudonlydel";
  StartGateway();
  CreateProducts(0, 2);
  Flush();
  SlowProducts(2);
  std::thread writer([&] {
    Create(R"({"table": "products", "row": {"sku": "late", "name": "n", "price_cents": 1}})", v1::CLOUD_ONLY);
  });
  absl::SleepFor(absl::Milliseconds(300));  // the write is under way, held by the trigger
  std::thread reader([&] {
    absl::SleepFor(absl::Milliseconds(200));
    // Arrives while the delete waits: waits too, and is served once it fails.
    EXPECT_EQ(All("products", v1::LOCAL).size(), 2u);
  });
  const grpc::Status early = DeleteTenant(std::chrono::milliseconds(600));
  reader.join();
  EXPECT_EQ(early.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_THAT(early.error_message(), HasSubstr("CLOUD_ONLY write"));
  EXPECT_EQ(All("products", v1::LOCAL).size(), 2u);  // served again, whole
  ASSERT_TRUE(DeleteTenant().ok());
  writer.join();
  EndSlowProducts();
  EXPECT_EQ(CloudCount("products"), 0);
}

// A deleted tenant leaves no counters behind, and flushing everything
// still finishes.
TEST_P(HybridTest, DeletingATenantWhileItsQueueDrainsLeavesNoCounters) {
  tenant_ = "doomed";
  StartGateway();
  v1::SyncStats stats;
  ASSERT_TRUE(sync_->PauseSync(Ctx().get(), v1::PauseSyncRequest(), &stats).ok());
  for (int b = 0; b < 20; ++b) {
    v1::BatchWriteRequest req;
    for (int i = 0; i < 100; ++i) {
      *req.add_operations()->mutable_create() =
          FromJson<v1::CreateRowRequest>(R"({"table": "products", "row": {"sku": "d)" + std::to_string(b * 100 + i) +
                                         R"(", "name": "n", "price_cents": 1}})");
    }
    v1::BatchWriteResponse resp;
    ASSERT_TRUE(server_->data().BatchWrite(Ctx(tenant_).get(), req, &resp).ok());
  }
  ASSERT_TRUE(sync_->ResumeSync(Ctx().get(), v1::ResumeSyncRequest(), &stats).ok());
  ASSERT_TRUE(DeleteTenant().ok());
  Flush();
  ASSERT_TRUE(sync_->GetSyncStats(Ctx().get(), v1::GetSyncStatsRequest(), &stats).ok());
  EXPECT_EQ(stats.total().depth(), 0);
  for (const v1::TenantSyncStats& t : stats.tenants()) EXPECT_NE(t.tenant_id(), tenant_);
  // Its cloud rows went with it: a tenant made again with the id starts empty.
  EXPECT_EQ(CloudCount("products"), 0);
  server_->CreateTenant(tenant_);
  EXPECT_TRUE(All("products", v1::CLOUD).empty());
  Create(R"({"table": "products", "row": {"sku": "d0", "name": "new", "price_cents": 2}})", v1::LOCAL_FIRST);
  Flush();
  v1::Row got;
  ASSERT_TRUE(Get("products", R"({"sku": "d0"})", v1::CLOUD, &got).ok());
  EXPECT_EQ(got.fields().fields().at("name").string_value(), "new");
}

// The example schema's order_items cascade when their order is deleted
// (ON DELETE CASCADE, locally): the items' deletes reach the cloud with the
// order's, and an item made again with the same key continues past its
// tombstone there instead of losing to the cloud's older version.
TEST_P(HybridTest, ACascadedDeleteReachesTheCloudAndAnItemMadeAgainFollows) {
  tenant_ = "cascade";
  StartGateway();
  auto item = [&](int order, int line, int quantity, v1::WriteMode mode) {
    return Create(R"({"table": "order_items", "row": {"order_id": )" + std::to_string(order) + R"(, "line": )" +
                      std::to_string(line) + R"(, "sku": "s1", "quantity": )" + std::to_string(quantity) +
                      R"(, "price_cents": 100}})",
                  mode);
  };
  auto del_order = [&](int order, v1::WriteMode mode) {
    auto del = FromJson<v1::DeleteRowRequest>(R"({"table": "orders", "key": {"id": )" + std::to_string(order) + "}}");
    del.set_write_mode(mode);
    v1::DeleteRowResponse deleted;
    grpc::Status s = server_->data().DeleteRow(Ctx(tenant_).get(), del, &deleted);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return deleted;
  };
  const std::vector<std::string> tables = {"customers", "products", "orders", "order_items"};
  Create(R"({"table": "customers", "row": {"id": 1, "name": "Ann", "email": "ann@x"}})", v1::LOCAL_FIRST);
  Create(R"({"table": "products", "row": {"sku": "s1", "name": "n", "price_cents": 100}})", v1::LOCAL_FIRST);
  for (int order : {1, 2}) {
    Create(R"({"table": "orders", "row": {"id": )" + std::to_string(order) + R"(, "customer_id": 1}})",
           v1::LOCAL_FIRST);
    for (int line = 1; line <= 3; ++line) item(order, line, 1, v1::LOCAL_FIRST);
  }
  Flush();
  ASSERT_EQ(CloudCount("order_items"), 6);
  // The order's delete and its three items' are all counted in the queue.
  v1::SyncStats paused;
  ASSERT_TRUE(sync_->PauseSync(Ctx().get(), v1::PauseSyncRequest(), &paused).ok());
  EXPECT_EQ(del_order(1, v1::LOCAL_FIRST).cloud_sync(), v1::CLOUD_SYNC_QUEUED);
  EXPECT_EQ(Stats().total().depth(), 4);
  ASSERT_TRUE(sync_->ResumeSync(Ctx().get(), v1::ResumeSyncRequest(), &paused).ok());
  Flush();
  EXPECT_EQ(CloudCount("orders"), 1);
  EXPECT_EQ(CloudCount("order_items"), 3);  // only order 2's
  for (const std::string& t : tables) EXPECT_EQ(All(t, v1::LOCAL), All(t, v1::CLOUD)) << t;
  // WRITE_THROUGH pushes the cascaded deletes before it answers.
  EXPECT_EQ(del_order(2, v1::WRITE_THROUGH).cloud_sync(), v1::CLOUD_SYNC_APPLIED);
  EXPECT_EQ(CloudCount("order_items"), 0);
  // Made again (other content): past the tombstone, so the cloud takes it.
  Create(R"({"table": "orders", "row": {"id": 1, "customer_id": 1}})", v1::LOCAL_FIRST);
  v1::Row again = item(1, 2, 5, v1::LOCAL_FIRST);
  EXPECT_EQ(again.version(), 3);  // made at 1, deleted at 2
  Flush();
  v1::Row got;
  ASSERT_TRUE(Get("order_items", R"({"order_id": 1, "line": 2})", v1::CLOUD, &got).ok());
  EXPECT_EQ(got.version(), 3);
  EXPECT_EQ(got.fields().fields().at("quantity").number_value(), 5);
  EXPECT_EQ(Stats().total().conflicts(), 0);
  EXPECT_EQ(Stats().total().dead_lettered(), 0);
  for (const std::string& t : tables) EXPECT_EQ(All(t, v1::LOCAL), All(t, v1::CLOUD)) << t;

  // The cascaded deletes are part of the write: while the cloud refuses
  // them, WRITE_THROUGH answers QUEUED though the order's own delete went.
  Create(R"({"table": "orders", "row": {"id": 3, "customer_id": 1}})", v1::LOCAL_FIRST);
  for (int line = 1; line <= 2; ++line) item(3, line, 1, v1::LOCAL_FIRST);
  Flush();
  CloudSql(
      "CREATE FUNCTION keep_items() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
      "IF NEW._dg_deleted THEN RAISE EXCEPTION 'items stay' USING ERRCODE = '23514'; END IF; RETURN NEW; END $$; "
      "CREATE TRIGGER keep_items BEFORE UPDATE ON order_items FOR EACH ROW EXECUTE FUNCTION keep_items()");
  EXPECT_EQ(del_order(3, v1::WRITE_THROUGH).cloud_sync(), v1::CLOUD_SYNC_QUEUED);
  EXPECT_EQ(CloudCount("orders"), 1);       // the order's delete went
  EXPECT_EQ(CloudCount("order_items"), 3);  // its items' did not (yet)
  CloudSql("DROP TRIGGER keep_items ON order_items; DROP FUNCTION keep_items()");
  Flush();
  for (const std::string& t : tables) EXPECT_EQ(All(t, v1::LOCAL), All(t, v1::CLOUD)) << t;
}

// A CLOUD_ONLY delete does in the cloud what a delete does locally to the
// rows that refer to it: the example's ON DELETE CASCADE marks an order's
// items deleted there too (new versions, in the same transaction), and its
// plain key from orders to customers refuses to delete a customer who has
// orders. The same writes made LOCAL_ONLY and CLOUD_ONLY end with the same
// rows and versions in both stores.
TEST_P(HybridTest, ACloudOnlyDeleteActsOnTheRowsReferringToItAsLocally) {
  tenant_ = "cloud-cascade";
  StartGateway();
  const std::vector<std::string> tables = {"customers", "products", "orders", "order_items"};
  auto del = [&](const std::string& table, const std::string& key, v1::WriteMode mode) {
    auto req = FromJson<v1::DeleteRowRequest>(R"({"table": ")" + table + R"(", "key": )" + key + "}");
    req.set_write_mode(mode);
    v1::DeleteRowResponse deleted;
    return server_->data().DeleteRow(Ctx(tenant_).get(), req, &deleted);
  };
  auto item = [&](int order, int line, v1::WriteMode mode) {
    Create(R"({"table": "order_items", "row": {"order_id": )" + std::to_string(order) + R"(, "line": )" +
               std::to_string(line) + R"(, "sku": "s1", "quantity": 1, "price_cents": 100}})",
           mode);
  };
  std::vector<std::string> refusals;
  for (v1::WriteMode mode : {v1::LOCAL_ONLY, v1::CLOUD_ONLY}) {
    Create(R"({"table": "customers", "row": {"id": 1, "name": "Ann", "email": "ann@x"}})", mode);
    Create(R"({"table": "products", "row": {"sku": "s1", "name": "n", "price_cents": 100}})", mode);
    for (int order : {1, 2}) {
      Create(R"({"table": "orders", "row": {"id": )" + std::to_string(order) + R"(, "customer_id": 1}})", mode);
    }
    for (int line = 1; line <= 3; ++line) item(1, line, mode);
    item(2, 1, mode);
    const grpc::Status deleted = del("orders", R"({"id": 1})", mode);
    EXPECT_TRUE(deleted.ok()) << deleted.error_message();
    const grpc::Status refused = del("customers", R"({"id": 1})", mode);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << v1::WriteMode_Name(mode);
    refusals.push_back(refused.error_message());
  }
  EXPECT_EQ(refusals[1], refusals[0]) << "the same words in the cloud";
  EXPECT_EQ(CloudCount("order_items"), 1);
  v1::Row got;
  EXPECT_EQ(Get("order_items", R"({"order_id": 1, "line": 2})", v1::CLOUD, &got).error_code(),
            grpc::StatusCode::NOT_FOUND);
  for (const std::string& t : tables) EXPECT_EQ(All(t, v1::CLOUD), All(t, v1::LOCAL)) << t;
  {
    // Tombstones at the items' version + 1, as locally.
    pqxx::connection c(*url_);
    pqxx::work w(c);
    const pqxx::result r = w.exec(
        "SELECT _dg_version, _dg_deleted, _dg_update_us > _dg_create_us FROM order_items WHERE tenant_id = "
        "'cloud-cascade' AND order_id = 1");
    ASSERT_EQ(r.size(), 3u);
    for (const pqxx::row& row : r) {
      EXPECT_EQ(row[0].as<int64_t>(), 2);
      EXPECT_TRUE(row[1].as<bool>());
      EXPECT_TRUE(row[2].as<bool>());
    }
  }
  // Made again, an item continues past its tombstone in both stores.
  for (v1::WriteMode mode : {v1::LOCAL_ONLY, v1::CLOUD_ONLY}) {
    Create(R"({"table": "orders", "row": {"id": 1, "customer_id": 1}})", mode);
    item(1, 2, mode);
  }
  ASSERT_TRUE(Get("order_items", R"({"order_id": 1, "line": 2})", v1::CLOUD, &got).ok());
  EXPECT_EQ(got.version(), 3);
  for (const std::string& t : tables) EXPECT_EQ(All(t, v1::CLOUD), All(t, v1::LOCAL)) << t;
}

// A column added to a cloud table from outside (not by the gateway's
// migrations) stays out of cloud reads: CLOUD answers with the columns of
// the tenant's local schema, in its order, and a filter, an order or a
// projection naming that column (or one of the gateway's own) is refused
// exactly as locally. Pushes still arrive while the column is nullable.
TEST_P(HybridTest, AColumnAddedToTheCloudFromOutsideStaysOutOfCloudReads) {
  tenant_ = "outside";
  StartGateway();  // makes the cloud schema
  CloudSql("ALTER TABLE customers ADD COLUMN secret TEXT");
  RestartGateway();  // it reads the cloud's catalog at start
  Create(R"({"table": "customers", "row": {"id": 1, "name": "Ann", "email": "ann@x"}})", v1::LOCAL_FIRST);
  Create(R"({"table": "customers", "row": {"id": 2, "name": "Bob", "email": "bob@x"}})", v1::LOCAL_FIRST);
  Flush();
  EXPECT_EQ(Stats().total().dead_lettered(), 0);
  EXPECT_EQ(CloudCount("customers"), 2);
  CloudSql("UPDATE customers SET secret = 'classified'");

  v1::Row local, cloud;
  ASSERT_TRUE(Get("customers", R"({"id": 1})", v1::LOCAL, &local).ok());
  ASSERT_TRUE(Get("customers", R"({"id": 1})", v1::CLOUD, &cloud).ok());
  std::vector<std::string> local_columns, cloud_columns;
  for (const auto& [name, value] : local.fields().fields()) local_columns.push_back(name);
  for (const auto& [name, value] : cloud.fields().fields()) cloud_columns.push_back(name);
  std::sort(local_columns.begin(), local_columns.end());
  std::sort(cloud_columns.begin(), cloud_columns.end());
  EXPECT_EQ(cloud_columns, local_columns);
  EXPECT_EQ(cloud_columns, (std::vector<std::string>{"email", "id", "name", "vip"}));
  EXPECT_EQ(All("customers", v1::CLOUD), All("customers", v1::LOCAL));

  // Named anywhere, the column is unknown, in the cloud as locally; so are
  // the gateway's own columns.
  for (const char* json : {
           R"({"table": "customers", "filters": [{"column": "secret", "op": "EQUAL", "value": "classified"}]})",
           R"({"table": "customers", "filters": [{"column": "secret", "op": "IS_NOT_NULL"}]})",
           R"({"table": "customers", "order_by": [{"column": "secret"}]})",
           R"({"table": "customers", "read_mask": "name,secret"})",
           R"({"table": "customers", "filters": [{"column": "_dg_deleted", "op": "EQUAL", "value": true}]})",
           R"({"table": "customers", "filters": [{"column": "tenant_id", "op": "EQUAL", "value": "outside"}]})",
       }) {
    auto req = FromJson<v1::ListRowsRequest>(json);
    v1::ListRowsResponse page;
    req.set_read_source(v1::LOCAL);
    const grpc::Status want = server_->data().ListRows(Ctx(tenant_).get(), req, &page);
    EXPECT_EQ(want.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << json;
    EXPECT_THAT(want.error_message(), HasSubstr("unknown column")) << json;
    req.set_read_source(v1::CLOUD);
    const grpc::Status got = server_->data().ListRows(Ctx(tenant_).get(), req, &page);
    EXPECT_EQ(got.error_code(), want.error_code()) << json;
    EXPECT_EQ(got.error_message(), want.error_message()) << json;
  }
  auto get = FromJson<v1::GetRowRequest>(R"({"table": "customers", "key": {"id": 1}, "read_mask": "secret"})");
  get.set_read_source(v1::CLOUD);
  v1::Row row;
  const grpc::Status masked = server_->data().GetRow(Ctx(tenant_).get(), get, &row);
  EXPECT_EQ(masked.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(masked.error_message(), HasSubstr("unknown column 'secret'"));
  // Nor can a CLOUD_ONLY write reach it.
  Create(R"({"table": "customers", "row": {"id": 3, "name": "Cy", "email": "cy@x", "secret": "x"}})", v1::CLOUD_ONLY,
         grpc::StatusCode::INVALID_ARGUMENT);
  // A local update still arrives and leaves the cloud's own column alone.
  auto upd = FromJson<v1::UpdateRowRequest>(R"({"table": "customers", "row": {"id": 1, "name": "Ann B"}})");
  v1::Row updated;
  ASSERT_TRUE(server_->data().UpdateRow(Ctx(tenant_).get(), upd, &updated).ok());
  Flush();
  EXPECT_EQ(All("customers", v1::CLOUD), All("customers", v1::LOCAL));
  pqxx::connection c(*url_);
  pqxx::work w(c);
  EXPECT_EQ(w.exec1("SELECT secret FROM customers WHERE tenant_id = 'outside' AND id = 1")[0].as<std::string>(),
            "classified");
}

// A NOT NULL column without a default, added to the cloud from outside,
// makes every push of a new row fail there: dead-lettered, saying which
// column of which table and what to do; a CLOUD_ONLY create says the same.
TEST_P(HybridTest, ANotNullColumnAddedToTheCloudFromOutsideDeadLettersPushesClearly) {
  tenant_ = "outside-nn";
  StartGateway();
  CloudSql(
      "ALTER TABLE customers ADD COLUMN region TEXT NOT NULL DEFAULT 'eu'; "
      "ALTER TABLE customers ALTER COLUMN region DROP DEFAULT");
  RestartGateway(/*max_attempts=*/2);
  Create(R"({"table": "customers", "row": {"id": 1, "name": "Ann", "email": "ann@x"}})", v1::LOCAL_FIRST);
  Flush();
  EXPECT_EQ(CloudCount("customers"), 0);
  const v1::ListSyncOperationsResponse ops = Listed(v1::SyncOperation::DEAD_LETTERED);
  ASSERT_EQ(ops.operations_size(), 1);
  EXPECT_THAT(ops.operations(0).last_error(), HasSubstr("FAILED_PRECONDITION"));
  EXPECT_THAT(ops.operations(0).last_error(), HasSubstr("'region'"));
  EXPECT_THAT(ops.operations(0).last_error(), HasSubstr("'customers'"));
  EXPECT_THAT(ops.operations(0).last_error(), HasSubstr("migrations"));
  auto req =
      FromJson<v1::CreateRowRequest>(R"({"table": "customers", "row": {"id": 2, "name": "Bob", "email": "bob@x"}})");
  req.set_write_mode(v1::CLOUD_ONLY);
  v1::Row row;
  const grpc::Status s = server_->data().CreateRow(Ctx(tenant_).get(), req, &row);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ops.operations(0).last_error(), "FAILED_PRECONDITION: " + s.error_message()) << "the same words";
}

// Cloud columns narrower than the local ones (a length, a scale) refuse a
// value they would store changed, in every write mode, saying which column
// and why; a value they hold as it is arrives as it was.
TEST_P(HybridTest, AValueANarrowerCloudColumnWouldChangeIsRefusedInEveryMode) {
  tenant_ = "narrow";
  StartGateway();
  CloudSql("ALTER TABLE products ALTER COLUMN name TYPE VARCHAR(5), ALTER COLUMN weight_kg TYPE NUMERIC(6,2)");
  RestartGateway(/*max_attempts=*/10);  // it reads the cloud's catalog at start
  const std::string too_fine =
      R"(column 'weight_kg' of the cloud table 'products' is numeric(6,2), which would )"
      R"(store the value given changed (cut, padded or rounded to fit), so it was not written)";
  const std::string spaced = "column 'name' of the cloud table 'products' is character varying(5)";
  Create(R"({"table": "products", "row": {"sku": "a", "name": "Ann", "price_cents": 1, "weight_kg": 1.005}})",
         v1::LOCAL_FIRST);
  Create(R"({"table": "products", "row": {"sku": "b", "name": "Bob", "price_cents": 1, "weight_kg": 1.5}})",
         v1::LOCAL_FIRST);
  const v1::Row through =
      Create(R"({"table": "products", "row": {"sku": "c", "name": "Cy   ", "price_cents": 1, "weight_kg": 2}})",
             v1::WRITE_THROUGH);
  EXPECT_EQ(through.cloud_sync(), v1::CLOUD_SYNC_APPLIED);
  const v1::Row refused =
      Create(R"({"table": "products", "row": {"sku": "d", "name": "Dee    ", "price_cents": 1}})", v1::WRITE_THROUGH);
  EXPECT_EQ(refused.cloud_sync(), v1::CLOUD_SYNC_DEAD_LETTERED);
  Flush();
  // Dead-lettered at the first try: no retry can make the value fit.
  const v1::ListSyncOperationsResponse dead = Listed(v1::SyncOperation::DEAD_LETTERED);
  ASSERT_EQ(dead.operations_size(), 2);
  for (const auto& op : dead.operations()) {
    EXPECT_EQ(op.attempts(), 1);
    const std::string sku = op.key().fields().at("sku").string_value();
    EXPECT_THAT(op.last_error(), HasSubstr(sku == "a" ? too_fine : spaced)) << sku;
    EXPECT_THAT(op.last_error(), HasSubstr("INVALID_ARGUMENT")) << sku;
  }
  v1::Row row;
  EXPECT_EQ(Get("products", R"({"sku": "a"})", v1::CLOUD, &row).error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(Get("products", R"({"sku": "b"})", v1::CLOUD, &row).ok());
  EXPECT_EQ(row.fields().fields().at("weight_kg").number_value(), 1.5);
  ASSERT_TRUE(Get("products", R"({"sku": "c"})", v1::CLOUD, &row).ok());
  EXPECT_EQ(row.fields().fields().at("name").string_value(), "Cy   ");

  // CLOUD_ONLY: the caller hears it and nothing is written.
  for (const char* json : {
           R"({"table": "products", "row": {"sku": "e", "name": "Eve", "price_cents": 1, "weight_kg": 0.125}})",
           R"({"table": "products", "row": {"sku": "e", "name": "Eve      ", "price_cents": 1}})",
       }) {
    auto req = FromJson<v1::CreateRowRequest>(json);
    req.set_write_mode(v1::CLOUD_ONLY);
    const grpc::Status s = server_->data().CreateRow(Ctx(tenant_).get(), req, &row);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << json;
    EXPECT_THAT(s.error_message(), HasSubstr(absl::StrContains(json, "0.125") ? too_fine : spaced)) << json;
  }
  auto update = FromJson<v1::UpdateRowRequest>(R"({"table": "products", "row": {"sku": "b", "weight_kg": 3.333}})");
  update.set_write_mode(v1::CLOUD_ONLY);
  const grpc::Status s = server_->data().UpdateRow(Ctx(tenant_).get(), update, &row);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr(too_fine));
  EXPECT_EQ(CloudCount("products"), 2);
  ASSERT_TRUE(Get("products", R"({"sku": "b"})", v1::CLOUD, &row).ok());
  EXPECT_EQ(row.fields().fields().at("weight_kg").number_value(), 1.5);
  EXPECT_EQ(row.version(), 1);
}

// A backlog where rows have several queued writes drains without pauses
// (coalesced batches still count as full).
TEST_P(HybridTest, ABacklogOfRepeatedRowsDrainsWithoutPauses) {
  tenant_ = "repeats";
  StartGateway();
  v1::SyncStats stats;
  ASSERT_TRUE(sync_->PauseSync(Ctx().get(), v1::PauseSyncRequest(), &stats).ok());
  for (int b = 0; b < 40; ++b) {
    v1::BatchWriteRequest req;
    for (int i = 0; i < 100; ++i) {
      // 50 rows, each written 80 times.
      *req.add_operations()->mutable_upsert() =
          FromJson<v1::UpsertRowRequest>(R"({"table": "products", "row": {"sku": "r)" + std::to_string(i % 50) +
                                         R"(", "name": "n)" + std::to_string(b) + R"(", "price_cents": 1}})");
    }
    v1::BatchWriteResponse resp;
    ASSERT_TRUE(server_->data().BatchWrite(Ctx(tenant_).get(), req, &resp).ok());
  }
  ASSERT_TRUE(sync_->ResumeSync(Ctx().get(), v1::ResumeSyncRequest(), &stats).ok());
  const absl::Time start = absl::Now();
  Flush();
  EXPECT_LT(absl::Now() - start, absl::Seconds(1.5)) << "4,000 entries in 4 batches; a sweep waits 2 s";
  EXPECT_EQ(All("products", v1::LOCAL), All("products", v1::CLOUD));
}

// FlushSync answers its own DEADLINE_EXCEEDED, with the progress, before
// the caller's deadline, also for long deadlines (gRPC hands the server a
// deadline rounded up: 10 s arrived as 10.1 s and gRPC's bare answer won).
// (Direct only: the store is not involved.)
class HybridFlushTest : public HybridTest {};
TEST_P(HybridFlushTest, FlushSyncSaysHowFarItGotBeforeTheCallersDeadline) {
  tenant_ = "long-flush";
  StartGateway();
  v1::SyncStats stats;
  ASSERT_TRUE(sync_->PauseSync(Ctx().get(), v1::PauseSyncRequest(), &stats).ok());
  Create(R"({"table": "products", "row": {"sku": "a", "name": "n", "price_cents": 1}})", v1::LOCAL_FIRST);
  for (int seconds : {1, 10}) {
    auto ctx = Ctx();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
    v1::FlushSyncResponse flushed;
    grpc::Status s = sync_->FlushSync(ctx.get(), v1::FlushSyncRequest(), &flushed);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
    EXPECT_THAT(s.error_message(), HasSubstr("0 of 1 operations")) << seconds << " s";
  }
}

INSTANTIATE_TEST_SUITE_P(Direct, HybridTest, ::testing::Values(false));
INSTANTIATE_TEST_SUITE_P(ThroughPgBouncer, HybridTest, ::testing::Values(true));
INSTANTIATE_TEST_SUITE_P(Direct, HybridFlushTest, ::testing::Values(false));

}  // namespace
}  // namespace datagate::testing
