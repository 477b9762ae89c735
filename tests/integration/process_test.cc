// Kills the real datagate process (SIGKILL) while clients write, restarts
// it on the same data folder, and checks that every acknowledged write is
// there.
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <pqxx/pqxx>
#include <thread>

#include "SQLiteCpp/SQLiteCpp.h"
#include "datagate/v1/sync.grpc.pb.h"
#include "migrate/migrator.h"
#include "pg_server.h"
#include "store/sqlite/sqlite_store.h"
#include "test_env.h"

namespace datagate::testing {
namespace {

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// Starts the datagate binary with `args`, and `env` (NAME=value) added to
// the environment, with at most `max_files` open files when non-zero;
// returns its pid.
pid_t Spawn(const std::vector<std::string>& args, const std::vector<std::string>& env, rlim_t max_files = 0) {
  const pid_t pid = fork();
  if (pid == 0) {
    if (max_files != 0) {
      const rlimit limit{max_files, max_files};
      setrlimit(RLIMIT_NOFILE, &limit);
    }
    for (const std::string& e : env) putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> argv{const_cast<char*>("datagate")};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(DATAGATE_BINARY, argv.data());
    _exit(127);
  }
  return pid;
}

// Runs the binary to its end; returns its wait status.
int RunToExit(const std::vector<std::string>& args, const std::vector<std::string>& env, rlim_t max_files = 0) {
  const pid_t pid = Spawn(args, env, max_files);
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

// The datagate binary as a child process serving on a free port.
class Process {
 public:
  Process(const std::string& data_dir, const std::string& synchronous)
      : Process({"--data_dir=" + data_dir, "--migrations_dir=" + ExampleMigrationsDir(), "--synchronous=" + synchronous,
                 "--log_level=warn"},
                {}) {}

  // The port comes from DATAGATE_LISTEN, which `args` may override. Waits
  // up to `start_seconds` for the server to listen.
  Process(std::vector<std::string> args, std::vector<std::string> env, rlim_t max_files = 0, int start_seconds = 20)
      : port_(FreePort()) {
    env.push_back("DATAGATE_LISTEN=127.0.0.1:" + std::to_string(port_));
    pid_ = Spawn(args, env, max_files);
    // Retry the connection often while the server starts (gRPC's default
    // backoff grows to minutes).
    grpc::ChannelArguments retry;
    retry.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    retry.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
    channel_ =
        grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port_), grpc::InsecureChannelCredentials(), retry);
    EXPECT_TRUE(channel_->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(start_seconds)));
  }
  pid_t pid() const { return pid_; }
  ~Process() {
    if (pid_ > 0) Kill(SIGTERM);
  }
  // Sends `sig` and returns the wait status once the process has ended. The
  // channel is dropped first: an idle C++ channel answers the server's
  // shutdown PING only from its 5 s backup poller, which would stall a
  // graceful stop for seconds.
  int Kill(int sig) {
    channel_.reset();
    kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }
  std::shared_ptr<grpc::Channel> channel() { return channel_; }

 private:
  int port_;
  pid_t pid_ = -1;
  std::shared_ptr<grpc::Channel> channel_;
};

// Writes with four clients until `sig` ends the server; then restarts it and
// checks every acknowledged row.
void StopAndCheck(const std::string& synchronous, int sig) {
  TempDir dir;
  std::vector<int64_t> acked;
  std::mutex mu;
  {
    Process p(dir.path(), synchronous);
    auto tenants = v1::TenantService::NewStub(p.channel());
    v1::CreateTenantRequest req;
    req.set_tenant_id("crash");
    v1::Tenant t;
    ASSERT_TRUE(tenants->CreateTenant(Ctx().get(), req, &t).ok());

    std::atomic<bool> stop{false};
    std::vector<std::thread> writers;
    for (int w = 0; w < 4; ++w) {
      writers.emplace_back([&, w] {
        auto data = v1::DataService::NewStub(p.channel());
        for (int64_t i = 1; !stop; ++i) {
          const int64_t id = w * 1'000'000 + i;
          v1::CreateRowRequest create;
          create.set_table("customers");
          auto& f = *create.mutable_row()->mutable_fields();
          f["id"].set_number_value(static_cast<double>(id));
          f["name"].set_string_value("n");
          f["email"].set_string_value("e" + std::to_string(id));
          v1::Row row;
          auto ctx = Ctx("crash");
          ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
          if (data->CreateRow(ctx.get(), create, &row).ok()) {
            std::lock_guard<std::mutex> lock(mu);
            acked.push_back(id);
          } else {
            return;  // the server is gone
          }
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    const int status = p.Kill(sig);  // mid-write
    stop = true;
    for (auto& t : writers) t.join();
    if (sig == SIGTERM) {
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
      // Closing the last connection checkpoints and removes the WAL.
      EXPECT_FALSE(std::filesystem::exists(dir.path() + "/tenants/crash.db-wal"));
      EXPECT_FALSE(std::filesystem::exists(dir.path() + "/master.db-wal"));
    }
  }
  ASSERT_GT(acked.size(), 50u);
  Process again(dir.path(), synchronous);
  auto data = v1::DataService::NewStub(again.channel());
  size_t missing = 0;
  for (int64_t id : acked) {
    v1::GetRowRequest get;
    get.set_table("customers");
    (*get.mutable_key()->mutable_fields())["id"].set_number_value(static_cast<double>(id));
    v1::Row row;
    if (!data->GetRow(Ctx("crash").get(), get, &row).ok()) ++missing;
  }
  EXPECT_EQ(missing, 0u) << "of " << acked.size() << " acknowledged writes";
  std::cout << acked.size() << " acknowledged writes, " << missing << " missing after signal " << sig
            << " (synchronous=" << synchronous << ")\n";
}

TEST(CrashTest, AcknowledgedWritesSurviveSigkillWithFullSync) { StopAndCheck("FULL", SIGKILL); }

// NORMAL may lose writes on power loss, but not on a process crash.
TEST(CrashTest, AcknowledgedWritesSurviveSigkillWithNormalSync) { StopAndCheck("NORMAL", SIGKILL); }

// SIGTERM: calls in flight finish, the files are closed, the exit is clean.
TEST(ShutdownTest, SigtermFinishesCallsAndClosesFiles) { StopAndCheck("FULL", SIGTERM); }

// Calls waiting inside the store (here for a lock another program holds)
// do not see gRPC's cancellation at the end of the grace period: the store
// is closed then, so SIGTERM still ends the process within its grace, not
// after each queued write has waited out the 5 s busy timeout in turn.
TEST(ShutdownTest, GraceEndsCallsWaitingInTheStore) {
  TempDir dir;
  Process p({"--data_dir=" + dir.path(), "--migrations_dir=" + ExampleMigrationsDir(), "--log_level=error",
             "--shutdown_grace_seconds=1"},
            {});
  v1::CreateTenantRequest req;
  req.set_tenant_id("grace");
  v1::Tenant t;
  grpc::Status created = v1::TenantService::NewStub(p.channel())->CreateTenant(Ctx().get(), req, &t);
  ASSERT_TRUE(created.ok()) << created.error_message();
  SQLite::Database outsider(dir.path() + "/tenants/grace.db", SQLite::OPEN_READWRITE);
  outsider.exec("BEGIN IMMEDIATE");
  std::atomic<int> answered{0};
  std::vector<std::thread> writers;
  for (int i = 0; i < 6; ++i) {
    writers.emplace_back([&, i] {
      auto data = v1::DataService::NewStub(p.channel());
      v1::CreateRowRequest create;
      create.set_table("customers");
      auto& f = *create.mutable_row()->mutable_fields();
      f["id"].set_number_value(i + 1);
      f["name"].set_string_value("n");
      f["email"].set_string_value("e" + std::to_string(i));
      v1::Row row;
      auto ctx = Ctx("grace");
      ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
      grpc::Status s = data->CreateRow(ctx.get(), create, &row);
      EXPECT_FALSE(s.ok());  // the lock was never free
      ++answered;
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const auto start = std::chrono::steady_clock::now();
  const int status = p.Kill(SIGTERM);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  EXPECT_LT(seconds, 4.0);
  for (auto& w : writers) w.join();
  EXPECT_EQ(answered.load(), 6);
  outsider.exec("ROLLBACK");
  std::cout << "stopped " << seconds << " s after SIGTERM with 6 writes waiting for a lock (grace 1 s)\n";
}

// A CreateTenant whose migrations run long, and calls waiting to open a
// tenant another program holds exclusively, are not in the store's map of
// open databases: the end of the grace period stops them too.
TEST(ShutdownTest, GraceEndsASlowCreateAndOpensOfALockedTenant) {
  TempDir dir;
  const std::string migrations = dir.path() + "/migrations";
  std::filesystem::copy(ExampleMigrationsDir(), migrations, std::filesystem::copy_options::recursive);
  std::ofstream(migrations + "/tenant/0005_slow.up.sql")
      << "CREATE TABLE slow (id INTEGER PRIMARY KEY); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
         "WHERE i < 100000000) SELECT count(*) FROM n;";
  std::ofstream(migrations + "/tenant/0005_slow.down.sql") << "DROP TABLE slow;";
  const std::string data = dir.path() + "/data";
  {
    // "held" exists.
    Process p({"--data_dir=" + data, "--migrations_dir=" + ExampleMigrationsDir(), "--log_level=error"}, {});
    for (const char* id : {"held", "other"}) {
      v1::CreateTenantRequest req;
      req.set_tenant_id(id);
      v1::Tenant t;
      ASSERT_TRUE(v1::TenantService::NewStub(p.channel())->CreateTenant(Ctx().get(), req, &t).ok());
    }
  }
  // With one tenant kept open, "other" (migrated after it at start) closes "held".
  Process p({"--data_dir=" + data, "--migrations_dir=" + ExampleMigrationsDir(), "--log_level=error",
             "--shutdown_grace_seconds=1", "--max_open_tenants=1"},
            {});
  SQLite::Database outsider(data + "/tenants/held.db", SQLite::OPEN_READWRITE);
  outsider.exec("PRAGMA locking_mode=EXCLUSIVE");
  outsider.exec("BEGIN EXCLUSIVE");
  outsider.exec("CREATE TABLE outside (a)");
  std::vector<std::thread> callers;
  std::atomic<int> answered{0};
  for (int i = 0; i < 6; ++i) {
    callers.emplace_back([&] {
      v1::ListTablesResponse tables;
      auto ctx = Ctx("held");
      ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
      EXPECT_FALSE(v1::DataService::NewStub(p.channel())->ListTables(ctx.get(), {}, &tables).ok());
      ++answered;
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const auto start = std::chrono::steady_clock::now();
  const int status = p.Kill(SIGTERM);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  EXPECT_LT(seconds, 3.5);
  for (auto& c : callers) c.join();
  EXPECT_EQ(answered.load(), 6);
  outsider.exec("ROLLBACK");
  std::cout << "stopped " << seconds << " s after SIGTERM with 6 opens of a locked tenant waiting (grace 1 s)\n";

  // A create whose migration would run for many seconds.
  Process q({"--data_dir=" + dir.path() + "/data2", "--migrations_dir=" + migrations, "--log_level=error",
             "--shutdown_grace_seconds=1"},
            {});
  std::thread creator([&] {
    v1::CreateTenantRequest req;
    req.set_tenant_id("slowly");
    v1::Tenant t;
    EXPECT_FALSE(v1::TenantService::NewStub(q.channel())->CreateTenant(Ctx().get(), req, &t).ok());
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const auto start2 = std::chrono::steady_clock::now();
  const int status2 = q.Kill(SIGTERM);
  const double seconds2 = std::chrono::duration<double>(std::chrono::steady_clock::now() - start2).count();
  creator.join();
  EXPECT_TRUE(WIFEXITED(status2) && WEXITSTATUS(status2) == 0) << "status " << status2;
  EXPECT_LT(seconds2, 3.5);
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/data2/tenants/slowly.db"));
  std::cout << "stopped " << seconds2 << " s after SIGTERM during a long CreateTenant (grace 1 s)\n";
}

TEST(ConfigTest, EnvironmentVariablesSetOptionsAndFlagsWin) {
  TempDir dir;
  Process p({"--log_level=warn"},
            {"DATAGATE_DATA_DIR=" + dir.path() + "/from-env", "DATAGATE_MIGRATIONS_DIR=" + ExampleMigrationsDir(),
             "DATAGATE_CREATE_TENANTS=env-one,env-two", "DATAGATE_SYNCHRONOUS=normal", "DATAGATE_MAX_READERS=2"});
  auto tenants = v1::TenantService::NewStub(p.channel());
  v1::ListTenantsResponse list;
  ASSERT_TRUE(tenants->ListTenants(Ctx().get(), {}, &list).ok());
  ASSERT_EQ(list.tenants_size(), 2);
  EXPECT_EQ(list.tenants(0).tenant_id(), "env-one");
  EXPECT_EQ(list.tenants(1).schema_version(), 4);
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/from-env/tenants/env-two.db"));
  tenants.reset();
  p.Kill(SIGTERM);

  // A flag beats its environment variable.
  Process q({"--data_dir=" + dir.path() + "/from-flag", "--log_level=warn"},
            {"DATAGATE_DATA_DIR=" + dir.path() + "/from-env", "DATAGATE_MIGRATIONS_DIR=" + ExampleMigrationsDir()});
  ASSERT_TRUE(v1::TenantService::NewStub(q.channel())->ListTenants(Ctx().get(), {}, &list).ok());
  EXPECT_EQ(list.tenants_size(), 0);
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/from-flag/master.db"));
}

TEST(ConfigTest, BadSettingsStopTheStartWithAnError) {
  TempDir dir;
  const std::string data = "--data_dir=" + dir.path();
  const std::string migrations = "--migrations_dir=" + ExampleMigrationsDir();
  auto exit_code = [](int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; };
  EXPECT_EQ(exit_code(RunToExit({data, migrations, "--synchronous=SOMETIMES"}, {})), 1);
  EXPECT_EQ(exit_code(RunToExit({data, "--migrations_dir=/nonexistent"}, {})), 1);
  EXPECT_EQ(exit_code(RunToExit({data, migrations, "--create_tenants=Bad_Id"}, {})), 1);
  EXPECT_EQ(exit_code(RunToExit({data, migrations}, {"DATAGATE_MAX_READERS=many"})), 2);
  EXPECT_EQ(exit_code(RunToExit({data, migrations, "--log_level=verbose"}, {})), 2);
  EXPECT_EQ(exit_code(RunToExit({data, migrations}, {"DATAGATE_SHUTDOWN_GRACE_SECONDS=-1"})), 2);
  EXPECT_EQ(exit_code(RunToExit({data, migrations, "--listen=256.0.0.1:1"}, {})), 1);
  EXPECT_EQ(exit_code(RunToExit({data, migrations, "--max_pollers=4", "--max_threads=4"}, {})), 1);
  EXPECT_EQ(exit_code(RunToExit({data, migrations}, {"DATAGATE_MAX_THREADS=lots"})), 2);
  // Too few files for even one tenant (11 with 4 readers, beside gRPC's).
  EXPECT_EQ(exit_code(RunToExit({data, migrations}, {}, /*max_files=*/60)), 1);
}

// With the default --max_open_tenants (256) and a file limit of 200, the
// gateway keeps only as many tenants open as fit, and every call on 60
// tenants, from 8 clients at once, is answered OK (not INTERNAL from a
// file SQLite could not open).
TEST(FileLimitTest, OpenTenantsAreKeptWithinTheProcesssFileLimit) {
  constexpr int kTenants = 60;
  TempDir dir;
  Process p({"--data_dir=" + dir.path(), "--migrations_dir=" + ExampleMigrationsDir(), "--synchronous=NORMAL",
             "--log_level=error"},
            {}, /*max_files=*/200);
  auto tenants = v1::TenantService::NewStub(p.channel());
  for (int i = 0; i < kTenants; ++i) {
    v1::CreateTenantRequest req;
    req.set_tenant_id("f" + std::to_string(i));
    v1::Tenant t;
    grpc::Status s = tenants->CreateTenant(Ctx().get(), req, &t);
    ASSERT_TRUE(s.ok()) << i << ": " << s.error_message();
  }
  std::atomic<int> ok{0};
  std::mutex mu;
  std::vector<std::string> failures;
  std::vector<std::thread> clients;
  for (int c = 0; c < 8; ++c) {
    clients.emplace_back([&, c] {
      auto data = v1::DataService::NewStub(p.channel());
      for (int round = 0; round < 3; ++round) {
        for (int i = 0; i < kTenants; ++i) {
          const std::string tenant = "f" + std::to_string((i + c * 7) % kTenants);
          v1::CreateRowRequest create;
          create.set_table("customers");
          auto& f = *create.mutable_row()->mutable_fields();
          const int64_t id = (c * 10 + round) * 1000 + i;
          f["id"].set_number_value(static_cast<double>(id));
          f["name"].set_string_value("n");
          f["email"].set_string_value("e" + std::to_string(id));
          v1::Row row;
          grpc::Status s = data->CreateRow(Ctx(tenant).get(), create, &row);
          v1::ListRowsRequest list;
          list.set_table("customers");
          v1::ListRowsResponse page;
          if (s.ok()) s = data->ListRows(Ctx(tenant).get(), list, &page);
          if (s.ok()) {
            ++ok;
          } else {
            std::lock_guard<std::mutex> lock(mu);
            failures.push_back(tenant + ": " + std::to_string(s.error_code()) + " " + s.error_message());
          }
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), 8 * 3 * kTenants);
  EXPECT_TRUE(failures.empty()) << failures.size() << " failed calls, the first: " << failures.front();
  int fds = 0;
  for ([[maybe_unused]] const auto& fd :
       std::filesystem::directory_iterator("/proc/" + std::to_string(p.pid()) + "/fd")) {
    ++fds;
  }
  EXPECT_LT(fds, 200);
  std::cout << ok.load() << " calls OK on " << kTenants << " tenants with 200 files allowed, " << fds
            << " open at the end\n";
  tenants.reset();
  EXPECT_EQ(p.Kill(SIGTERM), 0);
}

// Fan-outs (start-up migration, status of every tenant, apply or revert on
// every tenant) hold one tenant database at a time, so 10,000 tenants work
// within a small file limit: 256 descriptors here (--max_open_tenants=16 is
// lowered to the 13 that fit).
TEST(FanOutTest, TenThousandTenantsMigrateWithinTheFileLimit) {
  constexpr int kTenants = 10000;
  TempDir dir;
  const std::string migrations = dir.path() + "/migrations";
  std::filesystem::create_directories(migrations + "/tenant");
  std::filesystem::copy(ExampleMigrationsDir() + "/master", migrations + "/master");
  std::ofstream(migrations + "/tenant/0001_items.up.sql") << "CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT);";
  std::ofstream(migrations + "/tenant/0001_items.down.sql") << "DROP TABLE items;";
  const std::string data = dir.path() + "/data";
  {
    // One tenant made by the store, copied 9,999 times and registered.
    auto store = store::sqlite::SqliteStore::Open(data, {});
    ASSERT_TRUE(store.ok()) << store.status();
    const migrate::Migrator tenant(*migrate::LoadMigrations(migrations + "/tenant", "sqlite"));
    ASSERT_TRUE((*store)
                    ->CreateTenant(
                        store::TenantRecord{"t00000", "t", "", 1, 1},
                        [&](store::Database& db, store::TenantRecord*) { return tenant.ApplyAll("t", db); },
                        absl::InfiniteFuture())
                    .ok());
    (*store)->Close();
    SQLite::Database master(data + "/master.db", SQLite::OPEN_READWRITE);
    SQLite::Transaction tx(master);
    SQLite::Statement insert(master,
                             "INSERT INTO _dg_tenants(id, display_name, request_id, create_us, schema_version) "
                             "VALUES (?, 't', '', 1, 1)");
    for (int i = 1; i < kTenants; ++i) {
      char id[16];
      std::snprintf(id, sizeof id, "t%05d", i);
      std::filesystem::copy_file(data + "/tenants/t00000.db", data + "/tenants/" + id + ".db");
      insert.bind(1, id);
      insert.exec();
      insert.reset();
    }
    tx.commit();
  }
  // A new migration for every tenant, applied at start.
  std::ofstream(migrations + "/tenant/0002_more.up.sql") << "ALTER TABLE items ADD COLUMN w INTEGER;";
  std::ofstream(migrations + "/tenant/0002_more.down.sql") << "ALTER TABLE items DROP COLUMN w;";

  const auto start = std::chrono::steady_clock::now();
  Process p({"--data_dir=" + data, "--migrations_dir=" + migrations, "--synchronous=NORMAL", "--log_level=warn",
             "--max_open_tenants=16"},
            {}, /*max_files=*/256, /*start_seconds=*/240);
  const auto started = std::chrono::steady_clock::now();
  auto stub = v1::MigrationService::NewStub(p.channel());
  auto Long = [] {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(240));
    return ctx;
  };

  // Status of every target, page by page.
  int targets = 0;
  int at_two = 0;
  v1::GetMigrationStatusRequest status_req;
  status_req.set_page_size(1000);
  for (int pages = 0; pages < 20; ++pages) {
    v1::GetMigrationStatusResponse page;
    grpc::Status s = stub->GetMigrationStatus(Long().get(), status_req, &page);
    ASSERT_TRUE(s.ok()) << s.error_message();
    for (const auto& t : page.targets()) {
      ++targets;
      if (t.target() != "master" && t.current_version() == 2 && t.pending_size() == 0) ++at_two;
    }
    if (page.next_page_token().empty()) break;
    status_req.set_page_token(page.next_page_token());
  }
  EXPECT_EQ(targets, kTenants + 1);
  EXPECT_EQ(at_two, kTenants);
  const auto statused = std::chrono::steady_clock::now();

  // Nothing is pending anywhere; a dry-run revert plans a step per tenant.
  v1::MigrationPlanResponse plan;
  grpc::Status s = stub->ApplyMigrations(
      Long().get(), FromJson<v1::ApplyMigrationsRequest>(R"({"target": {"all_tenants": true}})"), &plan);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(plan.steps_size(), 0);
  EXPECT_EQ(plan.errors_size(), 0);
  s = stub->RevertMigrations(Long().get(),
                             FromJson<v1::RevertMigrationsRequest>(R"({"target": {"all_tenants": true}, "to_version": 1,
          "validate_only": true})"),
                             &plan);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(plan.steps_size(), kTenants);
  EXPECT_EQ(plan.errors_size(), 0);
  const auto done = std::chrono::steady_clock::now();

  int fds = 0;
  for ([[maybe_unused]] const auto& fd :
       std::filesystem::directory_iterator("/proc/" + std::to_string(p.pid()) + "/fd")) {
    ++fds;
  }
  EXPECT_LT(fds, 256);
  auto secs = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
  std::cout << kTenants << " tenants: start-up migration " << secs(start, started) << " s, status of all "
            << secs(started, statused) << " s, apply-all and dry-run revert-all " << secs(statused, done) << " s, "
            << fds << " open files at the end\n";
  stub.reset();
  EXPECT_EQ(p.Kill(SIGTERM), 0);
}

// SIGKILL while the sync worker drains a backlog of creates, updates and
// deletes; after a restart and a flush the cloud holds exactly the local
// rows, once each.
TEST(CrashTest, AKillMidDrainLeavesTheCloudEqualToTheLocalStoreAfterAFlush) {
  auto url = PgServer::Shared().CreateDatabase("crash_sync");
  ASSERT_TRUE(url.ok()) << url.status();
  TempDir dir;
  const std::vector<std::string> args = {"--data_dir=" + dir.path(), "--migrations_dir=" + ExampleMigrationsDir(),
                                         "--log_level=warn", "--sync_batch_size=200"};
  const std::vector<std::string> env = {"DATAGATE_CLOUD_URL=" + *url};
  constexpr int kRows = 5000;
  {
    Process p(args, env);
    auto tenants = v1::TenantService::NewStub(p.channel());
    auto data = v1::DataService::NewStub(p.channel());
    auto sync = v1::SyncService::NewStub(p.channel());
    v1::CreateTenantRequest req;
    req.set_tenant_id("kill");
    v1::Tenant t;
    ASSERT_TRUE(tenants->CreateTenant(Ctx().get(), req, &t).ok());
    v1::SyncStats stats;
    ASSERT_TRUE(sync->PauseSync(Ctx().get(), v1::PauseSyncRequest(), &stats).ok());
    for (int b = 0; b < kRows / 100; ++b) {
      v1::BatchWriteRequest batch;
      for (int i = 0; i < 100; ++i) {
        const int n = b * 100 + i;
        auto* c = batch.add_operations()->mutable_create();
        c->set_table("products");
        auto& f = *c->mutable_row()->mutable_fields();
        f["sku"].set_string_value("k" + std::to_string(n));
        f["name"].set_string_value("n" + std::to_string(n));
        f["price_cents"].set_number_value(n);
      }
      v1::BatchWriteResponse resp;
      ASSERT_TRUE(data->BatchWrite(Ctx("kill").get(), batch, &resp).ok());
    }
    // Changes on top: every 10th row updated twice, every 7th deleted.
    for (int n = 0; n < kRows; n += 10) {
      for (int round = 0; round < 2; ++round) {
        v1::UpdateRowRequest u;
        u.set_table("products");
        auto& f = *u.mutable_row()->mutable_fields();
        f["sku"].set_string_value("k" + std::to_string(n));
        f["price_cents"].set_number_value(n + 1000000 + round);
        v1::Row row;
        ASSERT_TRUE(data->UpdateRow(Ctx("kill").get(), u, &row).ok());
      }
    }
    for (int n = 0; n < kRows; n += 7) {
      v1::DeleteRowRequest d;
      d.set_table("products");
      (*d.mutable_key()->mutable_fields())["sku"].set_string_value("k" + std::to_string(n));
      v1::DeleteRowResponse resp;
      ASSERT_TRUE(data->DeleteRow(Ctx("kill").get(), d, &resp).ok());
    }
    ASSERT_TRUE(sync->ResumeSync(Ctx().get(), v1::ResumeSyncRequest(), &stats).ok());
    // Kill once the drain is under way, not done.
    for (int i = 0; i < 2000; ++i) {
      ASSERT_TRUE(sync->GetSyncStats(Ctx().get(), v1::GetSyncStatsRequest(), &stats).ok());
      if (stats.total().applied() > 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_GT(stats.total().depth(), 0) << "the drain ended before the kill";
    std::cout << "killed with " << stats.total().applied() << " applied, " << stats.total().depth() << " queued\n";
    p.Kill(SIGKILL);
  }
  Process again(args, env);
  auto data = v1::DataService::NewStub(again.channel());
  auto sync = v1::SyncService::NewStub(again.channel());
  v1::FlushSyncResponse flushed;
  auto ctx = Ctx();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  grpc::Status s = sync->FlushSync(ctx.get(), v1::FlushSyncRequest(), &flushed);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(flushed.stats().total().dead_lettered(), 0);
  EXPECT_EQ(flushed.stats().total().conflicts(), 0);
  const std::vector<std::string> local = AllRows(*data, "kill", "products", v1::LOCAL);
  EXPECT_EQ(local.size(), static_cast<size_t>(kRows - (kRows + 6) / 7));
  EXPECT_EQ(local, AllRows(*data, "kill", "products", v1::CLOUD));
  // Once each in the cloud: live rows and tombstones together are the keys.
  pqxx::connection c(*url);
  pqxx::work w(c);
  EXPECT_EQ(w.exec1("SELECT count(*) FROM products WHERE tenant_id = 'kill' AND NOT _dg_deleted")[0].as<int64_t>(),
            static_cast<int64_t>(local.size()));
  EXPECT_EQ(w.exec1("SELECT count(DISTINCT sku) FROM products WHERE tenant_id = 'kill'")[0].as<int64_t>(),
            w.exec1("SELECT count(*) FROM products WHERE tenant_id = 'kill'")[0].as<int64_t>());
}

}  // namespace
}  // namespace datagate::testing
