#include "pg_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <pqxx/pqxx>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"

namespace datagate::testing {
namespace {

namespace fs = std::filesystem;
constexpr char kBin[] = "/usr/lib/postgresql/15/bin/";

// The postgres user's ids (the server refuses to run as root).
bool PostgresUser(uid_t* uid, gid_t* gid) {
  const passwd* pw = getpwnam("postgres");
  if (pw == nullptr) return false;
  *uid = pw->pw_uid;
  *gid = pw->pw_gid;
  return true;
}

// Makes `path` (recursively) the postgres user's, when we are root.
void GiveToPostgres(const std::string& path) {
  uid_t uid;
  gid_t gid;
  if (geteuid() != 0 || !PostgresUser(&uid, &gid)) return;
  if (chown(path.c_str(), uid, gid) != 0) return;
  if (!fs::is_directory(path)) return;
  for (const auto& e : fs::recursive_directory_iterator(path)) {
    if (lchown(e.path().c_str(), uid, gid) != 0) return;
  }
}

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

bool Accepts(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

std::string MakeTempDir(const char* prefix) {
  std::string tmpl = absl::StrCat(fs::temp_directory_path().string(), "/", prefix, "XXXXXX");
  if (mkdtemp(tmpl.data()) == nullptr) return "";
  chmod(tmpl.c_str(), 0755);
  GiveToPostgres(tmpl);
  return tmpl;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A cluster made by initdb once per machine and user, copied for each
// server: initdb is the slow part of starting.
absl::StatusOr<std::string> Template() {
  const std::string path = absl::StrCat(fs::temp_directory_path().string(), "/datagate-pg15-template-", geteuid());
  if (fs::exists(path + "/data/PG_VERSION")) return path;
  const std::string dir = MakeTempDir("datagate-pg-initdb-");
  if (dir.empty()) return absl::InternalError("cannot make a temporary directory");
  const absl::Status s = RunAsPostgres({absl::StrCat(kBin, "initdb"), "-D", dir + "/data", "-A", "trust", "-U",
                                        "postgres", "-E", "UTF8", "--locale=C", "-N"},
                                       dir + "/initdb.log");
  if (!s.ok()) {
    std::cerr << ReadFile(dir + "/initdb.log");
    fs::remove_all(dir);
    return s;
  }
  // Another process may have won the race: then its template is used.
  if (rename(dir.c_str(), path.c_str()) != 0) fs::remove_all(dir);
  return path;
}

void StopSharedAtExit() { delete &PgServer::Shared(); }

// Marks `dir` as this process's, so a later process can tell it is orphaned.
void ClaimDir(const std::string& dir) { std::ofstream(dir + "/owner.pid") << getpid() << "\n"; }

// Stops servers and bouncers whose test process died without stopping them
// (killed, crashed) and removes their directories.
void ReapOrphans() {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fs::temp_directory_path(), ec)) {
    const std::string name = e.path().filename().string();
    const bool server = name.rfind("datagate-pg-", 0) == 0 && name.find("initdb") == std::string::npos;
    const bool bouncer = name.rfind("datagate-pgbouncer-", 0) == 0;
    if (!server && !bouncer) continue;
    const int owner = std::atoi(ReadFile(e.path().string() + "/owner.pid").c_str());
    if (owner <= 0 || kill(owner, 0) == 0 || errno != ESRCH) continue;
    if (server && fs::exists(e.path() / "data" / "postmaster.pid")) {
      (void)RunAsPostgres({absl::StrCat(kBin, "pg_ctl"), "stop", "-m", "immediate", "-D", e.path().string() + "/data"},
                          "/dev/null");
    }
    if (bouncer) {
      const int pid = std::atoi(ReadFile(e.path().string() + "/pgbouncer.pid").c_str());
      if (pid > 0) kill(pid, SIGTERM);
    }
    fs::remove_all(e.path(), ec);
  }
}

}  // namespace

absl::Status RunAsPostgres(const std::vector<std::string>& argv, const std::string& log) {
  std::vector<std::string> full;
  if (geteuid() == 0) full = {"runuser", "-u", "postgres", "--"};
  full.insert(full.end(), argv.begin(), argv.end());
  std::vector<char*> args;
  for (std::string& a : full) args.push_back(a.data());
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0666);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    // The child must not keep the test's descriptors (a daemonized server
    // would hold them open past the test).
    for (int i = 3; i < 1024; ++i) close(i);
    execvp(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return absl::InternalError("waitpid failed");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat(argv[0], " failed (status ", status, "); see ", log));
  }
  return absl::OkStatus();
}

PgServer& PgServer::Shared() {
  static PgServer* server = [] {
    auto* s = new PgServer();
    if (absl::Status status = s->Init(); !status.ok()) {
      std::cerr << "cannot start the test PostgreSQL: " << status << "\n" << ReadFile(s->dir_ + "/server.log");
      std::abort();
    }
    std::atexit(&StopSharedAtExit);
    return s;
  }();
  return *server;
}

absl::Status PgServer::Init() {
  ReapOrphans();
  auto tmpl = Template();
  if (!tmpl.ok()) return tmpl.status();
  dir_ = MakeTempDir("datagate-pg-");
  if (dir_.empty()) return absl::InternalError("cannot make a temporary directory");
  ClaimDir(dir_);
  std::error_code ec;
  fs::copy(*tmpl + "/data", dir_ + "/data", fs::copy_options::recursive, ec);
  if (ec) return absl::InternalError(absl::StrCat("copying the template cluster: ", ec.message()));
  GiveToPostgres(dir_);
  chmod((dir_ + "/data").c_str(), 0700);
  port_ = FreePort();
  return Start();
}

absl::Status PgServer::Start() {
  if (running_) return absl::OkStatus();
  const std::string options = absl::StrCat("-p ", port_, " -k ", dir_,
                                           " -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
                                           " -c shared_buffers=32MB -c max_connections=200 -c lc_messages=C");
  absl::Status s = RunAsPostgres({absl::StrCat(kBin, "pg_ctl"), "start", "-w", "-t", "60", "-D", dir_ + "/data", "-l",
                                  dir_ + "/server.log", "-o", options},
                                 dir_ + "/pg_ctl.log");
  if (s.ok()) running_ = true;
  return s;
}

absl::Status PgServer::Stop() {
  if (!running_) return absl::OkStatus();
  running_ = false;
  return RunAsPostgres({absl::StrCat(kBin, "pg_ctl"), "stop", "-w", "-m", "immediate", "-D", dir_ + "/data"},
                       dir_ + "/pg_ctl.log");
}

PgServer::~PgServer() {
  if (dir_.empty()) return;
  (void)Stop();
  std::error_code ec;
  fs::remove_all(dir_, ec);
  dir_.clear();
}

std::string PgServer::ConnectionString(const std::string& dbname) const {
  return absl::StrCat("host=", dir_, " port=", port_, " dbname=", dbname, " user=postgres connect_timeout=5");
}

absl::StatusOr<std::string> PgServer::CreateDatabase(const std::string& name) {
  try {
    pqxx::connection c(ConnectionString("postgres"));
    pqxx::nontransaction tx(c);
    tx.exec(absl::StrCat("DROP DATABASE IF EXISTS ", tx.quote_name(name), " WITH (FORCE)"));
    tx.exec(absl::StrCat("CREATE DATABASE ", tx.quote_name(name)));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("creating database ", name, ": ", e.what()));
  }
  return ConnectionString(name);
}

absl::StatusOr<std::unique_ptr<PgBouncer>> PgBouncer::Start(const std::string& dbname, int pool_size) {
  PgServer& server = PgServer::Shared();
  std::unique_ptr<PgBouncer> b(new PgBouncer());
  b->dir_ = MakeTempDir("datagate-pgbouncer-");
  if (b->dir_.empty()) return absl::InternalError("cannot make a temporary directory");
  ClaimDir(b->dir_);
  b->dbname_ = dbname;
  b->port_ = FreePort();
  const std::string ini = b->dir_ + "/pgbouncer.ini";
  {
    std::ofstream out(ini);
    out << "[databases]\n"
        << dbname << " = host=" << server.dir() << " port=" << server.port() << " dbname=" << dbname << "\n"
        << "[pgbouncer]\n"
        << "listen_addr = 127.0.0.1\nlisten_port = " << b->port_ << "\nunix_socket_dir = " << b->dir_ << "\n"
        << "auth_type = trust\nauth_file = " << b->dir_ << "/users.txt\n"
        << "pool_mode = transaction\ndefault_pool_size = " << pool_size << "\nmax_client_conn = 500\n"
        << "pidfile = " << b->dir_ << "/pgbouncer.pid\nlogfile = " << b->dir_ << "/pgbouncer.log\n"
        << "ignore_startup_parameters = extra_float_digits,options\n"
        << "server_reset_query =\nserver_login_retry = 1\n";
    std::ofstream users(b->dir_ + "/users.txt");
    users << "\"postgres\" \"\"\n";
  }
  GiveToPostgres(b->dir_);
  if (absl::Status s = RunAsPostgres({"pgbouncer", "-d", ini}, b->dir_ + "/start.log"); !s.ok()) {
    std::cerr << ReadFile(b->dir_ + "/start.log") << ReadFile(b->dir_ + "/pgbouncer.log");
    return s;
  }
  for (int i = 0; i < 500 && (b->pid_ == 0 || !Accepts(b->port_)); ++i) {
    b->pid_ = std::atoi(ReadFile(b->dir_ + "/pgbouncer.pid").c_str());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (b->pid_ == 0 || !Accepts(b->port_)) {
    std::cerr << ReadFile(b->dir_ + "/pgbouncer.log");
    return absl::InternalError("pgbouncer did not start");
  }
  return b;
}

PgBouncer::~PgBouncer() {
  if (pid_ > 0) {
    kill(pid_, SIGINT);
    for (int i = 0; i < 300 && kill(pid_, 0) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill(pid_, SIGKILL);
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

absl::StatusOr<SilentHost> ListenSilently() {
  SilentHost host;
  host.fd = socket(AF_INET, SOCK_STREAM, 0);
  if (host.fd < 0) return absl::InternalError("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(host.fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(host.fd, 16) != 0 ||
      getsockname(host.fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(host.fd);
    return absl::InternalError("cannot listen on a loopback port");
  }
  host.port = ntohs(addr.sin_port);
  return host;
}

std::string PgBouncer::ConnectionString() const {
  return absl::StrCat("host=", dir_, " port=", port_, " dbname=", dbname_, " user=postgres connect_timeout=5");
}

}  // namespace datagate::testing
