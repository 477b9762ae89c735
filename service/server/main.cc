// datagate: flags and DATAGATE_* environment variables become
// server::Options here and nowhere else.
#include <signal.h>

#include <cstdlib>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "common/logging.h"
#include "server/file_budget.h"
#include "server/server.h"

namespace {
const datagate::server::Options kDefaults;
}  // namespace

ABSL_FLAG(std::string, listen, kDefaults.listen, "host:port to serve gRPC on (env DATAGATE_LISTEN)");
ABSL_FLAG(std::string, data_dir, kDefaults.data_dir, "folder for the SQLite files (env DATAGATE_DATA_DIR)");
ABSL_FLAG(std::string, migrations_dir, kDefaults.migrations_dir,
          "folder holding master/ and tenant/ migrations (env DATAGATE_MIGRATIONS_DIR)");
ABSL_FLAG(std::string, synchronous, kDefaults.synchronous,
          "SQLite durability: FULL (acknowledged writes are on disk) or NORMAL (env DATAGATE_SYNCHRONOUS)");
ABSL_FLAG(int, max_readers, kDefaults.max_readers, "read connections per database (env DATAGATE_MAX_READERS)");
ABSL_FLAG(int, max_open_tenants, kDefaults.max_open_tenants,
          "tenant databases kept open; idle ones beyond close (env DATAGATE_MAX_OPEN_TENANTS)");
ABSL_FLAG(int, max_pollers, kDefaults.max_pollers,
          "gRPC poller threads kept ready for new calls (env DATAGATE_MAX_POLLERS)");
ABSL_FLAG(int, max_threads, kDefaults.max_threads,
          "gRPC threads for calls and pollers; calls beyond get RESOURCE_EXHAUSTED (env DATAGATE_MAX_THREADS)");
ABSL_FLAG(int, max_message_bytes, kDefaults.max_message_bytes,
          "largest request/response message in bytes (env DATAGATE_MAX_MESSAGE_BYTES)");
ABSL_FLAG(int, max_row_bytes, kDefaults.max_row_bytes,
          "largest row a write may leave, as a reply carries it; 0: max_message_bytes less a reserve "
          "(env DATAGATE_MAX_ROW_BYTES)");
ABSL_FLAG(int, shutdown_grace_seconds, 10,
          "on SIGTERM/SIGINT, how long calls in flight may finish (env DATAGATE_SHUTDOWN_GRACE_SECONDS)");
ABSL_FLAG(std::vector<std::string>, create_tenants, {},
          "comma-separated tenant ids to create at start if missing (env DATAGATE_CREATE_TENANTS)");
ABSL_FLAG(std::string, cloud_url, "",
          "the cloud store: a libpq connection string for PostgreSQL; empty: none (env DATAGATE_CLOUD_URL)");
ABSL_FLAG(std::string, cloud_schema, kDefaults.cloud_schema,
          "the Postgres schema of the tenants' cloud tables (env DATAGATE_CLOUD_SCHEMA)");
ABSL_FLAG(int, cloud_pool_size, kDefaults.cloud_pool_size, "pooled cloud connections (env DATAGATE_CLOUD_POOL_SIZE)");
ABSL_FLAG(std::string, default_write_mode, "",
          "write mode of requests that name none: LOCAL_ONLY, LOCAL_FIRST, WRITE_THROUGH, CLOUD_ONLY; default "
          "LOCAL_FIRST with a cloud store, else LOCAL_ONLY (env DATAGATE_DEFAULT_WRITE_MODE)");
ABSL_FLAG(int, sync_max_attempts, kDefaults.sync_max_attempts,
          "attempts before a sync operation is dead-lettered (one that waits for a cloud row another "
          "transaction holds is not) (env DATAGATE_SYNC_MAX_ATTEMPTS)");
ABSL_FLAG(int, sync_batch_size, kDefaults.sync_batch_size, "operations per cloud call (env DATAGATE_SYNC_BATCH_SIZE)");
ABSL_FLAG(int, sync_workers, kDefaults.sync_workers, "tenants synced at once (env DATAGATE_SYNC_WORKERS)");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn, error (env DATAGATE_LOG_LEVEL)");

namespace {

// An environment variable sets a flag's default; the command line wins.
template <typename T>
void FromEnv(absl::Flag<T>& flag, const char* env) {
  const char* value = std::getenv(env);
  if (value == nullptr) return;
  if constexpr (std::is_same_v<T, int>) {
    int n;
    if (!absl::SimpleAtoi(value, &n)) {
      std::cerr << env << "=" << value << " is not an integer\n";
      std::exit(2);
    }
    absl::SetFlag(&flag, n);
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    absl::SetFlag(&flag, std::vector<std::string>(absl::StrSplit(value, ',', absl::SkipEmpty())));
  } else {
    absl::SetFlag(&flag, std::string(value));
  }
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("datagate: a gRPC data gateway over SQLite and PostgreSQL (see README.md)");
  // --help lists the gateway's own flags (those of this file), not only
  // --helpfull's everything.
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) { return absl::EndsWith(file, "server/main.cc"); };
  absl::SetFlagsUsageConfig(usage);
  FromEnv(FLAGS_listen, "DATAGATE_LISTEN");
  FromEnv(FLAGS_data_dir, "DATAGATE_DATA_DIR");
  FromEnv(FLAGS_migrations_dir, "DATAGATE_MIGRATIONS_DIR");
  FromEnv(FLAGS_synchronous, "DATAGATE_SYNCHRONOUS");
  FromEnv(FLAGS_max_readers, "DATAGATE_MAX_READERS");
  FromEnv(FLAGS_max_open_tenants, "DATAGATE_MAX_OPEN_TENANTS");
  FromEnv(FLAGS_max_pollers, "DATAGATE_MAX_POLLERS");
  FromEnv(FLAGS_max_threads, "DATAGATE_MAX_THREADS");
  FromEnv(FLAGS_max_message_bytes, "DATAGATE_MAX_MESSAGE_BYTES");
  FromEnv(FLAGS_max_row_bytes, "DATAGATE_MAX_ROW_BYTES");
  FromEnv(FLAGS_shutdown_grace_seconds, "DATAGATE_SHUTDOWN_GRACE_SECONDS");
  FromEnv(FLAGS_create_tenants, "DATAGATE_CREATE_TENANTS");
  FromEnv(FLAGS_log_level, "DATAGATE_LOG_LEVEL");
  FromEnv(FLAGS_cloud_url, "DATAGATE_CLOUD_URL");
  FromEnv(FLAGS_cloud_schema, "DATAGATE_CLOUD_SCHEMA");
  FromEnv(FLAGS_cloud_pool_size, "DATAGATE_CLOUD_POOL_SIZE");
  FromEnv(FLAGS_default_write_mode, "DATAGATE_DEFAULT_WRITE_MODE");
  FromEnv(FLAGS_sync_max_attempts, "DATAGATE_SYNC_MAX_ATTEMPTS");
  FromEnv(FLAGS_sync_batch_size, "DATAGATE_SYNC_BATCH_SIZE");
  FromEnv(FLAGS_sync_workers, "DATAGATE_SYNC_WORKERS");
  absl::ParseCommandLine(argc, argv);

  // spdlog reads an unknown level as "off": refuse it instead of going silent.
  const std::string level = absl::GetFlag(FLAGS_log_level);
  if (level != "trace" && level != "debug" && level != "info" && level != "warn" && level != "error") {
    std::cerr << "--log_level: trace, debug, info, warn or error, not '" << level << "'\n";
    return 2;
  }
  if (absl::GetFlag(FLAGS_shutdown_grace_seconds) < 0) {
    std::cerr << "--shutdown_grace_seconds: must not be negative\n";
    return 2;
  }
  spdlog::set_level(spdlog::level::from_str(level));
  // Debian's abseil tracks every mutex acquisition in a deadlock graph; the
  // lock order here is fixed and tested, so skip that cost on hot paths.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  // Signals are taken by sigwait below; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // SQLite keeps a few files per open tenant: use all the kernel allows
  // (the server lowers --max_open_tenants to what fits, with a warning).
  datagate::server::RaiseFileLimit();

  datagate::server::Options options;
  options.listen = absl::GetFlag(FLAGS_listen);
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  options.migrations_dir = absl::GetFlag(FLAGS_migrations_dir);
  options.synchronous = absl::AsciiStrToUpper(absl::GetFlag(FLAGS_synchronous));
  options.max_readers = absl::GetFlag(FLAGS_max_readers);
  options.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  options.max_pollers = absl::GetFlag(FLAGS_max_pollers);
  options.max_row_bytes = absl::GetFlag(FLAGS_max_row_bytes);
  options.max_threads = absl::GetFlag(FLAGS_max_threads);
  options.max_open_tenants = absl::GetFlag(FLAGS_max_open_tenants);
  options.create_tenants = absl::GetFlag(FLAGS_create_tenants);
  options.cloud_url = absl::GetFlag(FLAGS_cloud_url);
  options.cloud_schema = absl::GetFlag(FLAGS_cloud_schema);
  options.cloud_pool_size = absl::GetFlag(FLAGS_cloud_pool_size);
  options.default_write_mode = absl::AsciiStrToUpper(absl::GetFlag(FLAGS_default_write_mode));
  options.sync_max_attempts = absl::GetFlag(FLAGS_sync_max_attempts);
  options.sync_batch_size = absl::GetFlag(FLAGS_sync_batch_size);
  options.sync_workers = absl::GetFlag(FLAGS_sync_workers);

  auto server = datagate::server::Server::Create(options);
  if (!server.ok()) {
    spdlog::critical("cannot start: {}", server.status().ToString());
    return 1;
  }
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("signal {} received: finishing calls in flight", sig);
  (*server)->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::seconds(absl::GetFlag(FLAGS_shutdown_grace_seconds)));
  return 0;
}
