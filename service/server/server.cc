#include "server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <filesystem>
#include <mutex>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "api/adapters.h"
#include "api/data_service.h"
#include "api/health_service.h"
#include "api/migration_service.h"
#include "api/sync_service.h"
#include "api/tenant_service.h"
#include "common/errors.h"
#include "common/logging.h"
#include "common/reply_size.h"
#include "common/status_macros.h"
#include "core/hybrid.h"
#include "core/tenants.h"
#include "google/protobuf/stubs/logging.h"
#include "migrate/migrations.h"
#include "server/cloud.h"
#include "server/file_budget.h"
#include "store/sqlite/sqlite_store.h"
#include "sync/sync_engine.h"

namespace datagate::server {
namespace {

// The cloud store's health entry: SERVING once the cloud store is connected
// and while the sync engine's breaker lets calls through. Thread-safe.
class CloudHealth {
 public:
  explicit CloudHealth(const CloudLink* cloud) : cloud_(cloud) {}
  // Reports to `health` from now on (once serving).
  void Attach(api::HealthServiceImpl* health) {
    absl::MutexLock lock(&mu_);
    health_ = health;
    PublishLocked();
  }
  // The cloud store connected.
  void Connected() {
    absl::MutexLock lock(&mu_);
    PublishLocked();
  }
  // The sync engine found the cloud reachable again, or not.
  void SetEngine(bool serving) {
    absl::MutexLock lock(&mu_);
    engine_serving_ = serving;
    PublishLocked();
  }

 private:
  void PublishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (health_ != nullptr) health_->SetStatus(kCloudHealthName, cloud_->Connected() && engine_serving_);
  }

  const CloudLink* const cloud_;
  absl::Mutex mu_;
  api::HealthServiceImpl* health_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool engine_serving_ ABSL_GUARDED_BY(mu_) = true;
};

}  // namespace

struct Server::State {
  // The cloud link's thread ends before the parts it calls go.
  ~State() {
    if (cloud) cloud->Stop();
  }

  std::unique_ptr<store::sqlite::SqliteStore> store;
  std::unique_ptr<migrate::Migrator> master_migrations;
  std::unique_ptr<migrate::Migrator> tenant_migrations;
  std::unique_ptr<migrate::Migrator> cloud_migrations;  // tenant set, Postgres dialect
  std::unique_ptr<core::Tenants> tenants;
  std::unique_ptr<CloudLink> cloud;  // null without --cloud_url
  std::unique_ptr<CloudHealth> cloud_health;
  std::unique_ptr<sync::SyncEngine> sync;  // null without a cloud
  std::unique_ptr<core::SyncHook> sync_hook;
  std::unique_ptr<core::Hybrid> hybrid;
  std::unique_ptr<migrate::Migrations> migrations;
  std::unique_ptr<api::DataServiceImpl> data_service;
  std::unique_ptr<api::TenantServiceImpl> tenant_service;
  std::unique_ptr<api::MigrationServiceImpl> migration_service;
  std::unique_ptr<api::SyncServiceImpl> sync_service;
  // What gRPC serves: the services above, with datagate's request parsing.
  std::vector<std::unique_ptr<api::UnaryAdapter>> adapters;
  std::unique_ptr<api::HealthServiceImpl> health_service;
  std::unique_ptr<grpc::Server> grpc_server;
  absl::Mutex mu;
  bool shut_down ABSL_GUARDED_BY(mu) = false;
};

namespace {

// The sync engine as the data path sees it.
class EngineHook final : public core::SyncHook {
 public:
  explicit EngineHook(sync::SyncEngine* engine) : engine_(engine) {}
  void Committed(const std::string& tenant, int64_t last_seq, int64_t count) override {
    engine_->Committed(tenant, last_seq, count);
  }
  std::vector<core::CloudSync> PushNow(const std::string& tenant, const std::vector<int64_t>& seqs,
                                       absl::Time deadline) override {
    std::vector<core::CloudSync> out;
    for (sync::PushState s : engine_->PushNow(tenant, seqs, deadline)) {
      switch (s) {
        case sync::PushState::kQueued:
          out.push_back(core::CloudSync::kQueued);
          break;
        case sync::PushState::kApplied:
          out.push_back(core::CloudSync::kApplied);
          break;
        case sync::PushState::kConflict:
          out.push_back(core::CloudSync::kConflict);
          break;
        case sync::PushState::kDead:
          out.push_back(core::CloudSync::kDead);
          break;
      }
    }
    return out;
  }
  bool CloudUp() const override { return engine_->breaker() != sync::BreakerState::kOpen; }

 private:
  sync::SyncEngine* const engine_;
};

absl::StatusOr<core::WriteMode> WriteModeOf(const Options& o) {
  const bool cloud = !o.cloud_url.empty();
  if (o.default_write_mode.empty()) return cloud ? core::WriteMode::kLocalFirst : core::WriteMode::kLocalOnly;
  for (core::WriteMode m : {core::WriteMode::kLocalOnly, core::WriteMode::kLocalFirst, core::WriteMode::kWriteThrough,
                            core::WriteMode::kCloudOnly}) {
    if (o.default_write_mode != core::WriteModeName(m)) continue;
    if (m != core::WriteMode::kLocalOnly && !cloud) {
      return errors::InvalidOption("default_write_mode",
                                   absl::StrCat(o.default_write_mode, " needs --cloud_url; use LOCAL_ONLY without it"));
    }
    return m;
  }
  return errors::InvalidOption("default_write_mode", "LOCAL_ONLY, LOCAL_FIRST, WRITE_THROUGH or CLOUD_ONLY");
}

absl::Status Validate(const Options& o) {
  if (o.listen.empty()) return errors::InvalidOption("listen", "give host:port, e.g. 127.0.0.1:50051");
  if (o.data_dir.empty()) return errors::InvalidOption("data_dir", "give a folder for the SQLite files");
  if (o.synchronous != "FULL" && o.synchronous != "NORMAL") {
    return errors::InvalidOption("synchronous", absl::StrCat("FULL or NORMAL, not '", o.synchronous, "'"));
  }
  if (o.max_readers < 1 || o.max_readers > 64) return errors::InvalidOption("max_readers", "1 to 64");
  if (o.max_open_tenants < 1) return errors::InvalidOption("max_open_tenants", "at least 1");
  if (o.max_pollers < 1 || o.max_pollers > 256) return errors::InvalidOption("max_pollers", "1 to 256");
  if (o.max_threads <= o.max_pollers || o.max_threads > 100000) {
    return errors::InvalidOption("max_threads", absl::StrCat("more than max_pollers (", o.max_pollers,
                                                             ") and at most 100000, not ", o.max_threads));
  }
  if (o.max_message_bytes < 8192) return errors::InvalidOption("max_message_bytes", "at least 8192");
  if (o.max_row_bytes != 0 && (o.max_row_bytes < 1024 || o.max_row_bytes > o.max_message_bytes - 1024)) {
    return errors::InvalidOption("max_row_bytes",
                                 "0 (automatic), or 1024 to max_message_bytes - 1024 so that a row fits in a reply");
  }
  RETURN_IF_ERROR(WriteModeOf(o).status());
  if (o.cloud_pool_size < 1 || o.cloud_pool_size > 1000) return errors::InvalidOption("cloud_pool_size", "1 to 1000");
  if (o.cloud_start_wait_ms < 0 || o.cloud_start_wait_ms > 600000) {
    return errors::InvalidOption("cloud_start_wait_ms", "0 to 600000");
  }
  if (o.cloud_retry_initial_ms < 1 || o.cloud_retry_max_ms < o.cloud_retry_initial_ms ||
      o.cloud_retry_max_ms > 3600000) {
    return errors::InvalidOption("cloud_retry_initial_ms",
                                 "at least 1, and at most cloud_retry_max_ms (itself at most 3600000)");
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(o.migrations_dir, ec)) {
    return errors::UnusablePath("migrations_dir", o.migrations_dir, "is not a folder (it needs master/ and tenant/)");
  }
  return absl::OkStatus();
}

// Protobuf's own log lines go to spdlog. It logs an ERROR for each request
// string that is not valid UTF-8; the caller gets INVALID_ARGUMENT for that
// (api/request_parsing.h), so it is a per-request line: debug level.
void ProtobufLog(google::protobuf::LogLevel level, const char* file, int line, const std::string& message) {
  spdlog::level::level_enum to = spdlog::level::info;
  if (level == google::protobuf::LOGLEVEL_WARNING) to = spdlog::level::warn;
  if (level == google::protobuf::LOGLEVEL_ERROR) to = spdlog::level::err;
  if (level == google::protobuf::LOGLEVEL_FATAL) to = spdlog::level::critical;
  if (absl::StrContains(message, "invalid UTF-8 data when parsing")) to = spdlog::level::debug;
  spdlog::log(to, "protobuf ({}:{}): {}", file, line, message);
}

core::Limits LimitsOf(const Options& o) {
  core::Limits limits;
  limits.max_reply_bytes = o.max_message_bytes;
  limits.max_row_bytes = o.max_row_bytes != 0
                             ? o.max_row_bytes
                             : o.max_message_bytes - std::min<int64_t>(core::kReplyReserve, o.max_message_bytes / 8);
  limits.cloud_without_deadline = absl::Milliseconds(o.cloud_without_deadline_ms);
  return limits;
}

// Admin listings (plans, status pages, tenant pages) fill the message limit
// less the room their other fields need.
migrate::ListingLimits ListingLimitsOf(const Options& o) {
  migrate::ListingLimits limits;
  limits.max_plan_bytes = o.max_message_bytes - kListReplyReserve;
  limits.max_status_bytes = o.max_message_bytes - kListReplyReserve;
  return limits;
}

core::TenantLimits TenantLimitsOf(const Options& o) {
  core::TenantLimits limits;
  limits.max_page_bytes = o.max_message_bytes - kListReplyReserve;
  return limits;
}

absl::StatusOr<std::unique_ptr<migrate::Migrator>> LoadSet(const Options& o, absl::string_view set,
                                                           absl::string_view dialect = "sqlite") {
  ASSIGN_OR_RETURN(std::vector<migrate::MigrationFile> files,
                   migrate::LoadMigrations(absl::StrCat(o.migrations_dir, "/", set), dialect));
  return std::make_unique<migrate::Migrator>(std::move(files));
}

}  // namespace

Server::Server(std::unique_ptr<State> state) : state_(std::move(state)) {}

Server::~Server() { Shutdown(std::chrono::system_clock::now()); }

absl::StatusOr<std::unique_ptr<Server>> Server::Create(const Options& options) {
  RETURN_IF_ERROR(Validate(options));
  static std::once_flag protobuf_log_once;
  std::call_once(protobuf_log_once, [] { google::protobuf::SetLogHandler(&ProtobufLog); });
  auto s = std::make_unique<State>();
  ASSIGN_OR_RETURN(s->master_migrations, LoadSet(options, "master"));
  ASSIGN_OR_RETURN(s->tenant_migrations, LoadSet(options, "tenant"));
  // ListMigrations is not paged, and one target's status must fit a page:
  // refuse a message limit too small for the folder before anything is opened.
  if (const int64_t need =
          migrate::LargestFolderReplyBytes(*s->master_migrations, *s->tenant_migrations) + kListReplyReserve;
      need > options.max_message_bytes) {
    return errors::InvalidOption(
        "max_message_bytes",
        absl::StrCat("at least ", need, " for the migrations in --migrations_dir (listing ",
                     "them, or one target's status, takes up to that), not ", options.max_message_bytes));
  }
  store::sqlite::StoreOptions store_options;
  store_options.database.synchronous = options.synchronous;
  store_options.database.max_readers = options.max_readers;
  ASSIGN_OR_RETURN(
      const FileBudget files,
      PlanFiles(FileLimit(), store::sqlite::FilesPerDatabase(store_options.database), options.max_open_tenants));
  if (files.max_open_tenants < options.max_open_tenants) {
    spdlog::warn(
        "--max_open_tenants={} needs up to {} files per tenant, but the process may open {} files: keeping at most {} "
        "tenant databases open (raise ulimit -n, or lower --max_readers, for more)",
        options.max_open_tenants, files.files_per_tenant, files.file_limit, files.max_open_tenants);
  }
  store_options.max_open_tenants = static_cast<size_t>(files.max_open_tenants);
  ASSIGN_OR_RETURN(s->store, store::sqlite::SqliteStore::Open(options.data_dir, store_options));
  // A new tenant gets the tenant migrations before anyone can see it.
  const migrate::Migrator* tenant_migrations = s->tenant_migrations.get();
  s->tenants = std::make_unique<core::Tenants>(
      s->store.get(),
      [tenant_migrations](const std::string& id, store::Database& db, absl::Time deadline) {
        return tenant_migrations->ApplyAll(migrate::TenantTarget(id), db, deadline);
      },
      TenantLimitsOf(options));
  if (!options.cloud_url.empty()) {
    ASSIGN_OR_RETURN(s->cloud_migrations, LoadSet(options, "tenant", "postgres"));
    s->cloud = OpenCloud(options, s->cloud_migrations.get());
    s->cloud_health = std::make_unique<CloudHealth>(s->cloud.get());
    sync::Options sync_options;
    sync_options.max_attempts = options.sync_max_attempts;
    sync_options.batch_size = options.sync_batch_size;
    sync_options.workers = options.sync_workers;
    sync_options.call_timeout = absl::Milliseconds(options.sync_call_timeout_ms);
    CloudHealth* health = s->cloud_health.get();
    sync_options.on_cloud_health = [health](bool serving) { health->SetEngine(serving); };
    ASSIGN_OR_RETURN(s->sync, sync::SyncEngine::Create(sync_options, s->store.get(), s->cloud.get()));
    s->sync_hook = std::make_unique<EngineHook>(s->sync.get());
  }
  s->migrations = std::make_unique<migrate::Migrations>(s->store.get(), s->master_migrations.get(),
                                                        s->tenant_migrations.get(), ListingLimitsOf(options));
  if (s->cloud) {
    sync::SyncEngine* engine = s->sync.get();
    s->tenants->SetCloud(
        s->cloud.get(), [engine](const std::string& id, absl::Time deadline) { return engine->Quiesce(id, deadline); },
        [engine](const std::string& id, bool deleted) { engine->Release(id, deleted); });
    s->migrations->SetCloud(s->cloud->Schema().get(), s->cloud_migrations.get(), [engine] { engine->SchemaChanged(); });
    // Connected (and migrated) here unless the cloud cannot be reached now;
    // then queued writes wait for its schema, and go once it connects.
    CloudHealth* health = s->cloud_health.get();
    if (absl::Status cloud = s->cloud->Start([engine, health] {
          engine->SchemaChanged();
          health->Connected();
        });
        !cloud.ok()) {
      return errors::During("cloud_url", cloud);
    }
  }
  RETURN_IF_ERROR(s->migrations->ApplyAllAtStart());
  for (const std::string& id : options.create_tenants) {
    absl::StatusOr<store::TenantRecord> created =
        s->tenants->Create(core::CreateTenantSpec{id, id, "datagate-start-" + id, absl::InfiniteFuture()});
    if (created.ok() || created.status().code() == absl::StatusCode::kAlreadyExists) continue;
    // Left being deleted (a crash or a lost answer during DeleteTenant):
    // not made again under the mark, and no reason to refuse to start,
    // since only a running gateway can finish the delete.
    absl::StatusOr<std::optional<store::TenantRecord>> found = s->store->LookupTenant(id, absl::InfiniteFuture());
    if (!found.ok() || !found->has_value() || !(*found)->deleting) {
      return errors::During("create_tenants", created.status());
    }
    spdlog::error(
        "create_tenants: tenant '{}' is being deleted (a DeleteTenant did not finish): not created; call "
        "DeleteTenant again, then CreateTenant",
        id);
  }

  ASSIGN_OR_RETURN(const core::WriteMode default_mode, WriteModeOf(options));
  s->hybrid = std::make_unique<core::Hybrid>(s->tenants.get(), s->cloud.get(), s->sync_hook.get(), default_mode,
                                             LimitsOf(options));
  s->data_service = std::make_unique<api::DataServiceImpl>(s->hybrid.get(), LimitsOf(options));
  s->sync_service = std::make_unique<api::SyncServiceImpl>(s->hybrid.get(), s->sync.get(), options.max_message_bytes);
  s->tenant_service = std::make_unique<api::TenantServiceImpl>(s->tenants.get());
  s->migration_service = std::make_unique<api::MigrationServiceImpl>(s->migrations.get());
  s->adapters.push_back(api::AdaptDataService(s->data_service.get()));
  s->adapters.push_back(api::AdaptTenantService(s->tenant_service.get()));
  s->adapters.push_back(api::AdaptMigrationService(s->migration_service.get()));
  s->adapters.push_back(api::AdaptSyncService(s->sync_service.get()));
  for (const auto& adapter : s->adapters) RETURN_IF_ERROR(adapter->Check());

  // Our own health service (reflection can describe it, unlike gRPC's
  // built-in one): NOT_SERVING until the server has started.
  const std::vector<std::string> health_names = {
      v1::DataService::service_full_name(), v1::TenantService::service_full_name(),
      v1::MigrationService::service_full_name(), v1::SyncService::service_full_name()};
  s->health_service = std::make_unique<api::HealthServiceImpl>(health_names, api::HealthServiceImpl::Options());
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options.listen, grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  // Without a higher cap, the sync server starts and ends a poller thread
  // around most calls that do real work (measured: ~25 us per write).
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, options.max_pollers);
  // Every sync-server thread (poller or call) takes one from this quota.
  grpc::ResourceQuota quota("datagate-server");
  quota.SetMaxThreads(options.max_threads);
  builder.SetResourceQuota(quota);
  for (const auto& adapter : s->adapters) builder.RegisterService(adapter.get());
  builder.RegisterService(s->health_service.get());
  s->grpc_server = builder.BuildAndStart();
  if (s->grpc_server == nullptr || port == 0) return errors::CannotListen(options.listen);
  s->health_service->SetStatus("", true);
  for (const std::string& name : health_names) s->health_service->SetStatus(name, true);
  if (s->sync) {
    // The cloud has its own entry; the gateway serves without it.
    s->cloud_health->Attach(s->health_service.get());
    s->sync->Start();
  }
  std::unique_ptr<Server> server(new Server(std::move(s)));
  server->port_ = port;
  spdlog::info("datagate serving on {} (port {}), data in {}, synchronous={}", options.listen, port, options.data_dir,
               options.synchronous);
  return server;
}

void Server::Shutdown(std::chrono::system_clock::time_point deadline) {
  {
    absl::MutexLock lock(&state_->mu);
    if (state_->shut_down) return;
    state_->shut_down = true;
  }
  if (state_->sync) state_->sync->Stop();
  if (state_->grpc_server) {
    state_->health_service->Shutdown();
    // At the deadline gRPC cancels the calls still running, but a call
    // waiting inside the store (for a writer's turn, a lock, a long
    // statement) does not look: closing the store then ends those waits
    // (UNAVAILABLE), so the grace period holds.
    absl::Notification stopped;
    std::thread closer([this, &stopped, deadline] {
      if (stopped.WaitForNotificationWithDeadline(absl::FromChrono(deadline))) return;
      spdlog::warn("shutdown: grace period over; stopping calls still in the store");
      if (state_->store) state_->store->StopServing();  // the folder's lock stays until all calls are done
    });
    state_->grpc_server->Shutdown(deadline);
    state_->grpc_server->Wait();
    stopped.Notify();
    closer.join();
  }
  // An attempt to connect under way ends at its connect timeout.
  if (state_->cloud) state_->cloud->Stop();
  if (state_->store) state_->store->Close();
  spdlog::info("datagate stopped");
}

void Server::Wait() {
  if (state_->grpc_server) state_->grpc_server->Wait();
}

}  // namespace datagate::server
