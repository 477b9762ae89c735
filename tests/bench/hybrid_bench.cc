// Hybrid writes end to end: the gateway (in process, over gRPC) with a
// throwaway PostgreSQL as its cloud, each figure beside a raw baseline
// measured in the same run, and a line per target saying met or missed.
//
//   1 create: CreateRow p50 under LOCAL_FIRST vs LOCAL_ONLY (sync active),
//     plain SQLite insert p50 for reference.
//   2 drain: a 100k-op backlog (queued while paused) through the whole
//     engine, vs raw libpqxx batched upserts and COPY of the same rows.
//   3 latency: commit-to-cloud latency at 1,000 LOCAL_FIRST writes/s, found
//     by polling the cloud directly.
//   4 far: parts 1-2 with the cloud 20 ms away (a TCP relay that holds each
//     chunk 10 ms each way), plus CLOUD_ONLY create p50.
//   5 rss: the process's RSS before and after a 1M-op backlog, and drained.
//
//   ./build/tests/hybrid_bench [seconds per case, default 3] [parts, default
//   12345] [rss rows, default 1000000]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <csignal>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <mutex>
#include <pqxx/pqxx>
#include <sstream>
#include <thread>
#include <tuple>

#include "SQLiteCpp/SQLiteCpp.h"
#include "absl/strings/str_cat.h"
#include "datagate/v1/sync.grpc.pb.h"
#include "measure.h"
#include "pg_server.h"
#include "store/postgres/pg_store.h"
#include "store/sqlite/sqlite_store.h"
#include "test_env.h"

namespace datagate::bench {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds = 3.0;
constexpr int kRounds = 3;

int64_t WallMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double Median(std::vector<double> v) { return Percentile(std::move(v), 0.5); }

// The shared harness (measure.h) for Seconds.
Result Measure(int threads, const std::function<bool(int, int64_t)>& op) {
  return bench::Measure(Seconds, threads, op);
}

void Print(const std::string& name, const Result& r) {
  std::printf("  %-44s %9.0f ops/s   p50 %9.1f us   p99 %9.1f us\n", name.c_str(), r.ops_per_s, r.p50_us, r.p99_us);
  std::fflush(stdout);
}

// The resident set of this process (the gateway runs in it), in MiB.
double RssMiB(const char* field = "VmRSS:") {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::atof(line.c_str() + std::strlen(field)) / 1024.0;
  }
  return 0;
}

// ---- The summary ------------------------------------------------------------

struct Line {
  std::string figure;
  std::string value;
  std::string baseline;
  std::string ratio;
  std::string target;  // empty: reference only
  bool met = false;
};
std::vector<Line> Summary;

std::string Fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

void Target(const std::string& what, bool met, const std::string& detail) {
  std::printf("  target %-52s %-7s (%s)\n", what.c_str(), met ? "MET" : "MISSED", detail.c_str());
  std::fflush(stdout);
}

// ---- A delaying TCP relay -----------------------------------------------------

// Listens on a free loopback port and relays each connection to
// 127.0.0.1:`upstream`, holding every chunk `one_way` before passing it on,
// in both directions (netem's delay, in user space: a round trip costs twice
// `one_way`; bandwidth is not limited, chunks pipeline).
class DelayRelay {
 public:
  DelayRelay(int upstream, std::chrono::microseconds one_way) : upstream_(upstream), delay_(one_way) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(listen_fd_, 64) != 0) {
      std::perror("relay bind");
      std::exit(1);
    }
    socklen_t len = sizeof addr;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }
  ~DelayRelay() {
    stopping_ = true;
    shutdown(listen_fd_, SHUT_RDWR);
    close(listen_fd_);
    accept_thread_.join();
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& p : pipes_) {
      shutdown(p->from, SHUT_RDWR);
      shutdown(p->to, SHUT_RDWR);
      {
        std::lock_guard<std::mutex> l(p->mu);
        p->eof = true;
      }
      p->cv.notify_all();
    }
    for (auto& p : pipes_) {
      p->reader.join();
      p->writer.join();
    }
    for (int fd : fds_) close(fd);
  }
  int port() const { return port_; }

 private:
  // One direction of one connection.
  struct Pipe {
    int from = -1, to = -1;
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::pair<Clock::time_point, std::string>> chunks;
    bool eof = false;
    std::thread reader, writer;
  };

  void AcceptLoop() {
    while (!stopping_) {
      const int client = accept(listen_fd_, nullptr, nullptr);
      if (client < 0) return;
      const int server = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = htons(static_cast<uint16_t>(upstream_));
      if (connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        close(client);
        close(server);
        continue;
      }
      int one = 1;
      setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      std::lock_guard<std::mutex> lock(mu_);
      fds_.push_back(client);
      fds_.push_back(server);
      Start(client, server);
      Start(server, client);
    }
  }

  void Start(int from, int to) {
    auto pipe = std::make_unique<Pipe>();
    Pipe* p = pipe.get();
    p->from = from;
    p->to = to;
    p->reader = std::thread([this, p] {
      std::string buf(64 * 1024, '\0');
      while (true) {
        const ssize_t n = read(p->from, buf.data(), buf.size());
        std::lock_guard<std::mutex> lock(p->mu);
        if (n <= 0) {
          p->eof = true;
          p->cv.notify_all();
          return;
        }
        p->chunks.emplace_back(Clock::now() + delay_, buf.substr(0, static_cast<size_t>(n)));
        p->cv.notify_all();
      }
    });
    p->writer = std::thread([p] {
      while (true) {
        std::pair<Clock::time_point, std::string> chunk;
        {
          std::unique_lock<std::mutex> lock(p->mu);
          p->cv.wait(lock, [p] { return p->eof || !p->chunks.empty(); });
          if (p->chunks.empty()) {
            shutdown(p->to, SHUT_WR);
            return;
          }
          chunk = std::move(p->chunks.front());
          p->chunks.pop_front();
        }
        std::this_thread::sleep_until(chunk.first);
        for (size_t off = 0; off < chunk.second.size();) {
          const ssize_t n = send(p->to, chunk.second.data() + off, chunk.second.size() - off, MSG_NOSIGNAL);
          if (n <= 0) return;
          off += static_cast<size_t>(n);
        }
      }
    });
    pipes_.push_back(std::move(pipe));
  }

  const int upstream_;
  const std::chrono::microseconds delay_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread accept_thread_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Pipe>> pipes_;
  std::vector<int> fds_;
};

// ---- The gateway ----------------------------------------------------------------

// A fresh cloud database (reached at `url`) and a gateway over it.
struct Gateway {
  std::string url;
  std::unique_ptr<testing::TestServer> server;
  std::unique_ptr<v1::DataService::Stub> data;
  std::unique_ptr<v1::SyncService::Stub> sync;

  static Gateway Start(const std::string& url, const std::vector<std::string>& tenants,
                       int sync_batch_size = server::Options().sync_batch_size) {
    Gateway g;
    g.url = url;
    server::Options o;
    o.cloud_url = url;
    o.sync_batch_size = sync_batch_size;
    g.server = testing::TestServer::Start(o);
    if (g.server == nullptr) {
      std::fprintf(stderr, "the gateway did not start\n");
      std::exit(1);
    }
    for (const std::string& t : tenants) g.server->CreateTenant(t);
    g.data = v1::DataService::NewStub(g.server->channel());
    g.sync = v1::SyncService::NewStub(g.server->channel());
    return g;
  }
};

std::unique_ptr<grpc::ClientContext> Ctx(const std::string& tenant, int seconds = 30) {
  auto ctx = testing::Ctx(tenant);
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return ctx;
}

void Fill(google::protobuf::Struct* row, const std::string& sku, int64_t i) {
  auto& f = *row->mutable_fields();
  f["sku"].set_string_value(sku);
  f["name"].set_string_value(absl::StrCat("Product ", i));
  f["price_cents"].set_number_value(static_cast<double>(100 + i % 10000));
  f["weight_kg"].set_number_value(0.25 * static_cast<double>(i % 40));
  f["in_stock"].set_bool_value(i % 3 != 0);
}

grpc::Status Create(Gateway& g, const std::string& tenant, v1::WriteMode mode, const std::string& sku, int64_t i,
                    v1::Row* row) {
  v1::CreateRowRequest req;
  req.set_table("products");
  req.set_write_mode(mode);
  Fill(req.mutable_row(), sku, i);
  return g.data->CreateRow(Ctx(tenant).get(), req, row);
}

// Writes `rows` products LOCAL_FIRST in BatchWrites of 1000 (stopping early
// at `max_seconds`); returns the rows written.
int64_t WriteBacklog(Gateway& g, const std::string& tenant, const std::string& prefix, int64_t rows,
                     double max_seconds = 1e9) {
  const auto start = Clock::now();
  int64_t done = 0;
  while (done < rows) {
    v1::BatchWriteRequest req;
    req.set_write_mode(v1::LOCAL_FIRST);
    const int64_t n = std::min<int64_t>(1000, rows - done);
    for (int64_t i = done; i < done + n; ++i) {
      auto* c = req.add_operations()->mutable_create();
      c->set_table("products");
      Fill(c->mutable_row(), absl::StrCat(prefix, i), i);
    }
    v1::BatchWriteResponse resp;
    grpc::Status s = g.data->BatchWrite(Ctx(tenant, 120).get(), req, &resp);
    if (!s.ok()) {
      std::fprintf(stderr, "BatchWrite failed: %s\n", s.error_message().c_str());
      std::exit(1);
    }
    done += n;
    if (std::chrono::duration<double>(Clock::now() - start).count() > max_seconds) break;
  }
  return done;
}

void Pause(Gateway& g) {
  v1::SyncStats stats;
  if (!g.sync->PauseSync(Ctx("").get(), v1::PauseSyncRequest(), &stats).ok()) std::exit(1);
}

// With HYBRID_BENCH_PERF=<prefix> set, `perf record -a -g` runs while an
// engine drain does, into <prefix>-<name>.data (where the time goes; the
// cloud's backends are other processes, hence -a).
class PerfRecording {
 public:
  explicit PerfRecording(const std::string& name) {
    const char* prefix = std::getenv("HYBRID_BENCH_PERF");
    if (prefix == nullptr) return;
    const std::string out = absl::StrCat(prefix, "-", name, ".data");
    pid_ = fork();
    if (pid_ == 0) {
      execlp("perf", "perf", "record", "-a", "-g", "-F", "499", "-q", "-o", out.c_str(), nullptr);
      _exit(127);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // perf attached
  }
  ~PerfRecording() {
    if (pid_ <= 0) return;
    kill(pid_, SIGINT);
    waitpid(pid_, nullptr, 0);
  }

 private:
  pid_t pid_ = -1;
};

// Resumes sync and flushes `tenant`; the seconds from Resume to the flush.
double ResumeAndFlush(Gateway& g, const std::string& tenant, int64_t* settled) {
  const auto start = Clock::now();
  v1::SyncStats stats;
  if (!g.sync->ResumeSync(Ctx("").get(), v1::ResumeSyncRequest(), &stats).ok()) std::exit(1);
  v1::FlushSyncRequest req;
  req.set_tenant_id(tenant);
  v1::FlushSyncResponse resp;
  grpc::Status s = g.sync->FlushSync(Ctx("", 900).get(), req, &resp);
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  if (!s.ok()) std::fprintf(stderr, "FlushSync: %s\n", s.error_message().c_str());
  *settled = resp.settled();
  if (resp.stats().total().dead_lettered() + resp.stats().total().conflicts() > 0) {
    std::fprintf(stderr, "warning: %lld dead, %lld conflicts\n",
                 static_cast<long long>(resp.stats().total().dead_lettered()),
                 static_cast<long long>(resp.stats().total().conflicts()));
  }
  return secs;
}

int64_t CloudCount(const std::string& url, const std::string& tenant) {
  pqxx::connection c(url);
  pqxx::work w(c);
  return w.exec1("SELECT count(*) FROM products WHERE tenant_id = " + w.quote(tenant))[0].as<int64_t>();
}

// ---- Raw baselines --------------------------------------------------------------

constexpr char kPgProducts[] =
    "CREATE TABLE products (tenant_id TEXT NOT NULL, sku TEXT NOT NULL, name TEXT NOT NULL, price_cents BIGINT NOT "
    "NULL CHECK (price_cents >= 0), weight_kg DOUBLE PRECISION, in_stock BOOLEAN NOT NULL DEFAULT true, image BYTEA, "
    "_dg_deleted BOOLEAN NOT NULL DEFAULT false, _dg_version BIGINT NOT NULL DEFAULT 1, _dg_create_us BIGINT NOT "
    "NULL DEFAULT 0, _dg_update_us BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (tenant_id, sku))";

// A fresh schema `schema` holding the cloud's products table, on `c`.
void RawSchema(pqxx::connection& c, const std::string& schema) {
  pqxx::work tx(c);
  tx.exec(absl::StrCat("DROP SCHEMA IF EXISTS ", schema, " CASCADE; CREATE SCHEMA ", schema,
                       "; SET LOCAL search_path TO ", schema, "; ", kPgProducts));
  tx.commit();
}

// Multi-row INSERT ... ON CONFLICT DO UPDATE ... WHERE newer, `batch` rows
// per statement and transaction; rows/s.
double RawUpsertRate(const std::string& url, int64_t rows, int batch) {
  pqxx::connection c(url);
  // Without JIT, as the gateway's own statements run: the baseline is not
  // to lose by a compilation the gateway avoids.
  pqxx::nontransaction(c).exec("SET jit = off");
  RawSchema(c, "bench_raw");
  const auto start = Clock::now();
  for (int64_t done = 0; done < rows; done += batch) {
    std::vector<std::string> params;
    std::string sql =
        "INSERT INTO bench_raw.products AS t (tenant_id, sku, name, price_cents, weight_kg, in_stock, _dg_version, "
        "_dg_create_us, _dg_update_us) VALUES ";
    int p = 0;
    for (int64_t i = done; i < std::min(rows, done + batch); ++i) {
      absl::StrAppend(&sql, i > done ? ", (" : "(");
      for (int k = 0; k < 9; ++k) absl::StrAppend(&sql, k ? ", $" : "$", ++p);
      sql += ")";
      const int64_t us = 1700000000000000 + i;
      for (std::string v :
           {std::string("bench"), absl::StrCat("raw-", i), absl::StrCat("Product ", i), absl::StrCat(100 + i % 10000),
            absl::StrCat(0.25 * static_cast<double>(i % 40)), std::string(i % 3 != 0 ? "t" : "f"), std::string("1"),
            absl::StrCat(us), absl::StrCat(us)}) {
        params.push_back(std::move(v));
      }
    }
    sql +=
        " ON CONFLICT (tenant_id, sku) DO UPDATE SET name = excluded.name, price_cents = excluded.price_cents, "
        "weight_kg = excluded.weight_kg, in_stock = excluded.in_stock, _dg_version = excluded._dg_version, "
        "_dg_create_us = excluded._dg_create_us, _dg_update_us = excluded._dg_update_us, _dg_deleted = false "
        "WHERE t._dg_version < excluded._dg_version RETURNING sku";
    std::vector<const char*> ptrs;
    for (const std::string& s : params) ptrs.push_back(s.c_str());
    pqxx::work tx(c);
    tx.exec_params(sql, pqxx::prepare::make_dynamic_params(ptrs));
    tx.commit();
  }
  return static_cast<double>(rows) / std::chrono::duration<double>(Clock::now() - start).count();
}

double CopyRate(const std::string& url, int64_t rows) {
  pqxx::connection c(url);
  RawSchema(c, "bench_copy");
  const auto start = Clock::now();
  pqxx::work tx(c);
  pqxx::stream_to copy(tx, "bench_copy.products",
                       std::vector<std::string>{"tenant_id", "sku", "name", "price_cents", "weight_kg", "in_stock",
                                                "_dg_version", "_dg_create_us", "_dg_update_us"});
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t us = 1700000000000000 + i;
    copy << std::make_tuple(std::string("bench"), absl::StrCat("copy-", i), absl::StrCat("Product ", i),
                            int64_t{100 + i % 10000}, 0.25 * static_cast<double>(i % 40), i % 3 != 0, int64_t{1}, us,
                            us);
  }
  copy.complete();
  tx.commit();
  return static_cast<double>(rows) / std::chrono::duration<double>(Clock::now() - start).count();
}

// A single-row INSERT round trip to the cloud (what CLOUD_ONLY pays at least).
Result RawPgInsert(const std::string& url) {
  pqxx::connection c(url);
  RawSchema(c, "bench_one");
  c.prepare("ins",
            "INSERT INTO bench_one.products (tenant_id, sku, name, price_cents, weight_kg, in_stock, _dg_create_us, "
            "_dg_update_us) VALUES ('bench', $1, $2, $3, 1.5, true, $4, $4)");
  std::atomic<int64_t> next{0};
  return Measure(1, [&](int, int64_t) {
    const int64_t i = next++;
    pqxx::work tx(c);
    tx.exec_prepared("ins", absl::StrCat("one-", i), absl::StrCat("Product ", i), 100 + i % 10000, WallMicros());
    tx.commit();
    return true;
  });
}

// Plain SQLiteCpp insert into a products table with the gateway's pragmas.
Result SqliteInsert(const std::string& dir, const std::string& synchronous) {
  SQLite::Database db(dir + "/raw.db", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE, 5000);
  db.exec("PRAGMA journal_mode=WAL");
  db.exec("PRAGMA synchronous=OFF");
  db.exec(
      "CREATE TABLE IF NOT EXISTS products (sku TEXT PRIMARY KEY, name TEXT NOT NULL, price_cents INTEGER NOT NULL "
      "CHECK (price_cents >= 0), weight_kg REAL, in_stock BOOLEAN NOT NULL DEFAULT 1, image BLOB, _dg_version "
      "INTEGER NOT NULL DEFAULT 1, _dg_create_us INTEGER NOT NULL DEFAULT 0, _dg_update_us INTEGER NOT NULL DEFAULT "
      "0)");
  SQLite::Statement insert(db,
                           "INSERT INTO products (sku, name, price_cents, weight_kg, in_stock, _dg_version, "
                           "_dg_create_us, _dg_update_us) VALUES (?, ?, ?, ?, ?, 1, ?, ?)");
  static std::atomic<int64_t> next{0};
  // Warm: the WAL grows to its checkpoint size and wraps once, as a
  // gateway's long-lived file has (a growing file costs a journal commit
  // per fsync that a steady one does not).
  for (int k = 0; k < 3000; ++k) {
    insert.reset();
    insert.bind(1, absl::StrCat("warm-", next++));
    insert.bind(2, "warm");
    insert.bind(3, int64_t{1});
    insert.bind(4, 1.0);
    insert.bind(5, true);
    insert.bind(6, int64_t{0});
    insert.bind(7, int64_t{0});
    insert.exec();
  }
  db.exec("PRAGMA synchronous=" + synchronous);
  return Measure(1, [&](int, int64_t) {
    const int64_t i = next++;
    insert.reset();
    insert.bind(1, absl::StrCat("raw-", i));
    insert.bind(2, absl::StrCat("Product ", i));
    insert.bind(3, static_cast<int64_t>(100 + i % 10000));
    insert.bind(4, 0.25 * static_cast<double>(i % 40));
    insert.bind(5, i % 3 != 0);
    insert.bind(6, WallMicros());
    insert.bind(7, WallMicros());
    return insert.exec() == 1;
  });
}

// ---- Where a drain's time goes ------------------------------------------------

// The engine's steps for one batch, one after the other with a clock on
// each, over a gateway's data folder (the gateway shut down, its outbox
// full) and the cloud at `url`: the same store calls (NextBatch, ApplySync,
// Settle, the head read), so the split is the engine's own. The engine runs
// ApplySync beside the local steps; the sequential sum shows what that
// overlap is worth.
struct Phases {
  double next_batch = 0, build = 0, apply = 0, settle = 0, head = 0, total = 0;
  int64_t rows = 0, batches = 0;
};

Phases TimedDrain(const std::string& data_dir, const std::string& synchronous, const std::string& url,
                  const std::string& tenant, int batch_size) {
  store::sqlite::StoreOptions so;
  so.database.synchronous = synchronous;
  auto local = store::sqlite::SqliteStore::Open(data_dir, so);
  store::postgres::PgCloudStore::Options po;
  po.connection_string = url;
  auto cloud = store::postgres::PgCloudStore::Create(po, absl::Now() + absl::Seconds(30));
  if (!local.ok() || !cloud.ok()) {
    std::fprintf(stderr, "timed drain: %s %s\n", local.status().ToString().c_str(), cloud.status().ToString().c_str());
    std::exit(1);
  }
  auto db = (*local)->OpenTenant(tenant, absl::Now() + absl::Seconds(30));
  if (!db.ok() || (*db)->outbox() == nullptr) std::exit(1);
  store::Outbox* outbox = (*db)->outbox();
  Phases ph;
  auto secs = [](Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); };
  const auto begin = Clock::now();
  while (true) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    const auto t0 = Clock::now();
    auto items =
        outbox->NextBatch(batch_size, int64_t{8} << 20, WallMicros(), (*cloud)->SchemaVersion(), {}, deadline, nullptr);
    const auto t1 = Clock::now();
    if (!items.ok()) std::exit(1);
    if (items->empty()) break;
    std::vector<store::SyncOp> ops;
    ops.reserve(items->size());
    for (const store::OutboxItem& item : *items) {
      const store::OutboxEntry& e = item.entry;
      store::SyncOp op;
      op.seq = e.seq;
      op.table = e.table;
      op.key = e.key;
      op.version = e.version;
      op.values = e.row.fields;
      op.create_time_us = e.row.create_time_us;
      op.update_time_us = e.row.update_time_us;
      ops.push_back(std::move(op));
    }
    const auto t2 = Clock::now();
    auto outcomes = (*cloud)->ApplySync(tenant, ops, deadline);
    const auto t3 = Clock::now();
    if (!outcomes.ok()) {
      std::fprintf(stderr, "timed drain: %s\n", outcomes.status().ToString().c_str());
      std::exit(1);
    }
    std::vector<store::OutboxSettlement> settlements;
    for (const store::OutboxItem& item : *items) {
      store::OutboxSettlement st;
      st.seq = item.entry.seq;
      st.superseded = item.superseded;
      settlements.push_back(std::move(st));
    }
    if (!outbox->Settle(settlements, deadline).ok()) std::exit(1);
    const auto t4 = Clock::now();
    auto head = outbox->ListEntries(store::OutboxState::kPending, 0, 1, deadline);
    const auto t5 = Clock::now();
    ph.next_batch += secs(t0, t1);
    ph.build += secs(t1, t2);
    ph.apply += secs(t2, t3);
    ph.settle += secs(t3, t4);
    ph.head += secs(t4, t5);
    ph.rows += static_cast<int64_t>(items->size());
    ++ph.batches;
  }
  ph.total = secs(begin, Clock::now());
  return ph;
}

void PrintPhases(const Phases& ph) {
  auto row = [&](const char* name, double s) {
    std::printf("    %-34s %8.1f ms/batch  %5.1f%%\n", name, s * 1000 / static_cast<double>(ph.batches),
                100 * s / ph.total);
  };
  std::printf("  where a drain's time goes (the steps one after the other, %lld batches, %lld rows: %.0f rows/s):\n",
              static_cast<long long>(ph.batches), static_cast<long long>(ph.rows),
              static_cast<double>(ph.rows) / ph.total);
  row("outbox NextBatch (SQLite read)", ph.next_batch);
  row("building SyncOps", ph.build);
  row("cloud ApplySync (Postgres)", ph.apply);
  row("outbox Settle (SQLite write+sync)", ph.settle);
  row("outbox head read (ListEntries)", ph.head);
  std::printf("    bound with ApplySync beside the local steps (as the engine runs them): %.0f rows/s\n",
              static_cast<double>(ph.rows) / std::max(ph.apply, ph.total - ph.apply));
}

// ---- Parts ------------------------------------------------------------------------

// LOCAL_ONLY and LOCAL_FIRST (and CLOUD_ONLY when `cloud_only`) create p50,
// medians of rounds, beside a plain SQLite insert. `tag` names the setting.
// CPU seconds (user + system) of the tasks under `dir` (/proc or
// /proc/self/task) whose name is `comm`.
double CpuSeconds(const std::string& dir, const std::string& comm) {
  double ticks = 0;
  for (const auto& task : std::filesystem::directory_iterator(dir)) {
    std::ifstream stat(task.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    const size_t open = line.find('('), close = line.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    if (line.substr(open + 1, close - open - 1) != comm) continue;
    std::istringstream rest(line.substr(close + 2));
    std::vector<std::string> f{std::istream_iterator<std::string>(rest), {}};
    if (f.size() > 12) ticks += std::atof(f[11].c_str()) + std::atof(f[12].c_str());  // utime, stime
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::map<std::string, double> CreateP50(Gateway& g, const std::string& tag, bool cloud_only) {
  std::map<std::string, std::vector<double>> p50s;
  std::atomic<int64_t> next{0};
  for (int round = 1; round <= kRounds; ++round) {
    std::printf(" round %d\n", round);
    testing::TempDir dir;
    Result r = SqliteInsert(dir.path(), g.server->options().synchronous);
    Print("sqlite insert (baseline, " + g.server->options().synchronous + ")", r);
    p50s["sqlite"].push_back(r.p50_us);
    std::vector<std::pair<std::string, v1::WriteMode>> modes = {{"LOCAL_ONLY", v1::LOCAL_ONLY},
                                                                {"LOCAL_FIRST", v1::LOCAL_FIRST}};
    if (round % 2 == 0) std::swap(modes[0], modes[1]);  // neither always goes first
    if (cloud_only) modes.emplace_back("CLOUD_ONLY", v1::CLOUD_ONLY);
    auto run = [&](const std::string& name, v1::WriteMode mode) {
      const int64_t first = next.load();
      const double workers = CpuSeconds("/proc/self/task", "dg-sync-worker");
      const double backends = CpuSeconds("/proc", "postgres");
      r = Measure(1, [&](int, int64_t) {
        const int64_t i = next++;
        v1::Row row;
        grpc::Status s = Create(g, "bench", mode, absl::StrCat(tag, "-", i), i, &row);
        if (!s.ok()) std::fprintf(stderr, "create: %s\n", s.error_message().c_str());
        return s.ok();
      });
      Print("gateway CreateRow " + name, r);
      p50s[name].push_back(r.p50_us);
      if (mode == v1::LOCAL_FIRST) {
        // What pushing them cost, per create: the sync workers' CPU and the
        // cloud's (every postgres process: the cloud runs on this machine).
        const double n = static_cast<double>(std::max<int64_t>(1, next.load() - first));
        std::printf("    CPU per create while it ran: sync workers %.1f us, postgres %.1f us\n",
                    (CpuSeconds("/proc/self/task", "dg-sync-worker") - workers) * 1e6 / n,
                    (CpuSeconds("/proc", "postgres") - backends) * 1e6 / n);
      }
    };
    for (const auto& [name, mode] : modes) run(name, mode);
    // Diagnosis: the same writes with the drain paused (the outbox insert
    // alone, without the drain competing), then drained before going on.
    Pause(g);
    run("LOCAL_FIRST, sync paused", v1::LOCAL_FIRST);
    int64_t settled = 0;
    ResumeAndFlush(g, "bench", &settled);
  }
  std::map<std::string, double> out;
  for (const auto& [k, v] : p50s) out[k] = Median(v);
  return out;
}

void CreateTargets(const std::map<std::string, double>& p50, const std::string& where) {
  const double ratio = p50.at("LOCAL_FIRST") / p50.at("LOCAL_ONLY");
  std::printf(
      " medians of %d rounds: sqlite %.1f us, LOCAL_ONLY %.1f us, LOCAL_FIRST %.1f us (%.1f us with sync "
      "paused); LOCAL_FIRST / LOCAL_ONLY = %.3f (paused: %.3f)\n",
      kRounds, p50.at("sqlite"), p50.at("LOCAL_ONLY"), p50.at("LOCAL_FIRST"), p50.at("LOCAL_FIRST, sync paused"), ratio,
      p50.at("LOCAL_FIRST, sync paused") / p50.at("LOCAL_ONLY"));
  Target("LOCAL_FIRST p50 <= 1.15 x LOCAL_ONLY p50" + where, ratio <= 1.15, Fmt("%.3f x", ratio));
  Summary.push_back({"create p50 LOCAL_FIRST" + where, Fmt("%.0f us", p50.at("LOCAL_FIRST")),
                     Fmt("LOCAL_ONLY %.0f us", p50.at("LOCAL_ONLY")), Fmt("%.3f", ratio), "<= 1.15", ratio <= 1.15});
  Summary.push_back({"  (same, sync paused)" + where, Fmt("%.0f us", p50.at("LOCAL_FIRST, sync paused")),
                     Fmt("LOCAL_ONLY %.0f us", p50.at("LOCAL_ONLY")),
                     Fmt("%.3f", p50.at("LOCAL_FIRST, sync paused") / p50.at("LOCAL_ONLY")), "", false});
  Summary.push_back({"create p50 LOCAL_ONLY" + where, Fmt("%.0f us", p50.at("LOCAL_ONLY")),
                     Fmt("sqlite %.0f us", p50.at("sqlite")), Fmt("%.2f", p50.at("LOCAL_ONLY") / p50.at("sqlite")), "",
                     false});
}

void PartCreate(const std::string& url) {
  std::printf("\n[1] CreateRow p50, LOCAL_FIRST vs LOCAL_ONLY (c=1, %.1f s per case, sync active)\n", Seconds);
  Gateway g = Gateway::Start(url, {"bench"});
  CreateTargets(CreateP50(g, "near", false), "");
}

// The backlog drain through the engine and its raw baselines on `url`.
// The engine at `batch_size` ops per call (the gateway's default unless
// given), and the raw baselines at the same batch size.
void Drain(const std::string& url, int64_t rows, double min_rate, const std::string& where,
           int batch_size = server::Options().sync_batch_size) {
  Gateway g = Gateway::Start(url, {"drain"}, batch_size);
  Pause(g);
  auto start = Clock::now();
  WriteBacklog(g, "drain", "d-", rows);
  const double write_s = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("  queued %lld rows LOCAL_FIRST (paused) in %.1f s: %.0f rows/s\n", static_cast<long long>(rows), write_s,
              static_cast<double>(rows) / write_s);
  int64_t settled = 0;
  double drain_s = 0;
  {
    PerfRecording perf(where.empty() ? "drain" : "drain-far");
    drain_s = ResumeAndFlush(g, "drain", &settled);
  }
  const double rate = static_cast<double>(rows) / drain_s;
  const int64_t in_cloud = CloudCount(url, "drain");
  std::printf("  engine drain: %lld settled, %lld rows in the cloud, %.2f s: %.0f rows/s\n",
              static_cast<long long>(settled), static_cast<long long>(in_cloud), drain_s, rate);
  // The same backlog again, then drained step by step with the gateway
  // shut down (its data folder kept): where the engine's time goes.
  Pause(g);
  WriteBacklog(g, "drain", "e-", rows);
  g.server->server().Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  g.server->server().Wait();
  PrintPhases(TimedDrain(g.server->options().data_dir, g.server->options().synchronous, url, "drain", batch_size));
  g.server.reset();
  const double raw = RawUpsertRate(url, rows, batch_size);
  std::printf("  raw batched upsert (%d/stmt, baseline): %.0f rows/s\n", batch_size, raw);
  const double copy = CopyRate(url, rows);
  std::printf("  COPY (baseline): %.0f rows/s\n", copy);
  Target(Fmt("drain >= %.0f rows/s", min_rate) + where, rate >= min_rate, Fmt("%.0f rows/s", rate));
  Target("drain >= 0.6 x raw batched upsert" + where, rate >= 0.6 * raw, Fmt("%.2f x", rate / raw));
  Summary.push_back({"drain 100k" + where, Fmt("%.0f rows/s", rate), Fmt("upsert %.0f rows/s", raw),
                     Fmt("%.2f", rate / raw), Fmt(">= %.0f/s, >= 0.6", min_rate),
                     rate >= min_rate && rate >= 0.6 * raw && in_cloud == rows});
  Summary.push_back(
      {"  (COPY beside it)" + where, "", Fmt("COPY %.0f rows/s", copy), Fmt("%.2f", rate / copy), "", false});
}

void PartDrain(const std::string& url) {
  std::printf("\n[2] Draining a 100k-op backlog through the engine\n");
  Drain(url, 100000, 50000, "");
}

// Commit-to-cloud latency of LOCAL_FIRST creates paced at `rate`/s.
void PartLatency(const std::string& url, int rate = 1000, double seconds = 5) {
  std::printf("\n[3] Commit-to-cloud latency at %d LOCAL_FIRST writes/s for %.0f s\n", rate, seconds);
  Gateway g = Gateway::Start(url, {"lat"});
  {
    // The poller's probe: rows of a tenant by update time (bench-side index).
    pqxx::connection c(url);
    pqxx::work w(c);
    w.exec("CREATE INDEX IF NOT EXISTS bench_products_update ON products (tenant_id, _dg_update_us)");
    w.commit();
  }
  constexpr int kThreads = 4;
  struct Reply {
    std::string sku;
    int64_t commit_us;  // the row's update time (the gateway's commit)
    int64_t reply_us;   // when its reply arrived
  };
  std::mutex mu;
  std::vector<Reply> replies;                             // guarded by mu
  std::vector<std::atomic<int64_t>> in_flight(kThreads);  // send time of a call under way, 0: none
  for (auto& f : in_flight) f = 0;
  std::atomic<int> writers_left{kThreads};
  std::atomic<int64_t> failures{0}, late{0};
  const int64_t total = static_cast<int64_t>(rate * seconds);
  const auto start = Clock::now() + std::chrono::milliseconds(200);
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int64_t i = t; i < total; i += kThreads) {
        const auto due = start + std::chrono::microseconds(i * 1000000 / rate);
        if (Clock::now() > due + std::chrono::milliseconds(5)) ++late;
        std::this_thread::sleep_until(due);
        in_flight[t] = WallMicros();
        v1::Row row;
        const std::string sku = absl::StrCat("lat-", i);
        grpc::Status s = Create(g, "lat", v1::LOCAL_FIRST, sku, i, &row);
        const int64_t reply_us = WallMicros();
        if (!s.ok()) {
          ++failures;
          in_flight[t] = 0;
          continue;
        }
        const int64_t commit_us = row.update_time().seconds() * 1000000 + row.update_time().nanos() / 1000;
        {
          std::lock_guard<std::mutex> lock(mu);
          replies.push_back({sku, commit_us, reply_us});
        }
        in_flight[t] = 0;
      }
      --writers_left;
    });
  }
  // The poller: first time each row is visible in the cloud. Each query asks
  // only for rows updated at or after the oldest row it still waits for (a
  // replied row not seen yet, or a call still under way).
  std::map<std::string, int64_t> visible_us;
  int64_t polls = 0;
  {
    pqxx::connection c(url);
    c.prepare("poll", "SELECT sku FROM products WHERE tenant_id = 'lat' AND _dg_update_us >= $1");
    std::map<std::string, int64_t> waiting;  // replied, not seen: sku -> commit us
    size_t taken = 0;
    const int64_t give_up = WallMicros() + static_cast<int64_t>((seconds + 30) * 1e6);
    while (WallMicros() < give_up) {
      const bool writing = writers_left > 0;
      int64_t from = WallMicros();
      for (auto& f : in_flight) {
        const int64_t s = f;
        if (s != 0) from = std::min(from, s);
      }
      {
        std::lock_guard<std::mutex> lock(mu);
        for (; taken < replies.size(); ++taken) {
          if (!visible_us.count(replies[taken].sku)) waiting[replies[taken].sku] = replies[taken].commit_us;
        }
      }
      for (const auto& [sku, us] : waiting) from = std::min(from, us);
      if (!writing && waiting.empty()) break;
      const int64_t poll_us = WallMicros();
      pqxx::work w(c);
      pqxx::result res = w.exec_prepared("poll", from - 1000);
      w.commit();
      ++polls;
      for (const auto& r : res) {
        std::string sku = r[0].as<std::string>();
        if (visible_us.emplace(sku, poll_us).second) waiting.erase(sku);
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }
  for (auto& w : writers) w.join();
  const double span_s = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> from_commit, from_reply;
  int64_t never = 0;
  for (const Reply& r : replies) {
    auto it = visible_us.find(r.sku);
    if (it == visible_us.end()) {
      ++never;
      continue;
    }
    from_commit.push_back(static_cast<double>(it->second - r.commit_us) / 1000.0);
    from_reply.push_back(static_cast<double>(it->second - r.reply_us) / 1000.0);
  }
  const double p50 = Percentile(from_commit, 0.5), p99 = Percentile(from_commit, 0.99);
  std::printf("  %zu writes (%lld failed, %lld started >5 ms late), %lld polls (~%.2f ms apart), %lld never seen\n",
              replies.size(), static_cast<long long>(failures.load()), static_cast<long long>(late.load()),
              static_cast<long long>(polls), span_s * 1000.0 / static_cast<double>(std::max<int64_t>(polls, 1)),
              static_cast<long long>(never));
  std::printf("  commit (_dg_update_us) -> visible in the cloud: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", p50, p99,
              Percentile(from_commit, 1.0));
  std::printf("  reply receipt -> visible in the cloud:          p50 %.2f ms, p99 %.2f ms\n",
              Percentile(from_reply, 0.5), Percentile(from_reply, 0.99));
  const bool ok = never == 0 && failures == 0;
  Target("commit->cloud p50 <= 10 ms", ok && p50 <= 10, Fmt("%.2f ms", p50));
  Target("commit->cloud p99 <= 50 ms", ok && p99 <= 50, Fmt("%.2f ms", p99));
  Summary.push_back({"commit->cloud p50 @1k/s", Fmt("%.2f ms", p50), "", "", "<= 10 ms", ok && p50 <= 10});
  Summary.push_back({"commit->cloud p99 @1k/s", Fmt("%.2f ms", p99), "", "", "<= 50 ms", ok && p99 <= 50});
}

void PartFar(const std::string& direct_url) {
  std::printf("\n[4] The cloud 20 ms away (user-space TCP relay: each chunk held 10 ms each way)\n");
  testing::PgServer& pg = testing::PgServer::Shared();
  DelayRelay relay(pg.port(), std::chrono::microseconds(10000));
  (void)direct_url;
  const std::string url =
      absl::StrCat("host=127.0.0.1 port=", relay.port(), " dbname=hb_far user=postgres connect_timeout=10");
  {
    pqxx::connection c(url);
    const auto t0 = Clock::now();
    pqxx::nontransaction w(c);
    w.exec("SELECT 1");
    std::printf("  SELECT 1 through the relay: %.1f ms\n",
                std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  Result one = RawPgInsert(url);
  Print("raw libpqxx insert+commit via relay (baseline)", one);
  {
    Gateway g = Gateway::Start(url, {"bench"});
    auto p50 = CreateP50(g, "far", true);
    CreateTargets(p50, " (20 ms)");
    std::printf("  CLOUD_ONLY p50 %.1f us vs raw insert+commit %.1f us: %.2f x\n", p50.at("CLOUD_ONLY"), one.p50_us,
                p50.at("CLOUD_ONLY") / one.p50_us);
    Summary.push_back({"create p50 CLOUD_ONLY (20 ms)", Fmt("%.0f us", p50.at("CLOUD_ONLY")),
                       Fmt("raw insert %.0f us", one.p50_us), Fmt("%.2f", p50.at("CLOUD_ONLY") / one.p50_us), "",
                       false});
  }
  Drain(url, 100000, 20000, " (20 ms)");
}

// What a setting does far away: the far drain with bigger engine batches
// (fewer round trips per row; not a target, a data point).
void PartFarBatch(int batch_size) {
  std::printf("\n[6] The 20 ms drain with sync_batch_size=%d\n", batch_size);
  testing::PgServer& pg = testing::PgServer::Shared();
  if (!pg.CreateDatabase("hb_far6").ok()) std::exit(1);
  DelayRelay relay(pg.port(), std::chrono::microseconds(10000));
  const std::string url =
      absl::StrCat("host=127.0.0.1 port=", relay.port(), " dbname=hb_far6 user=postgres connect_timeout=10");
  Drain(url, 100000, 20000, absl::StrCat(" (20 ms, batch ", batch_size, ")"), batch_size);
}

void PartRss(const std::string& url, int64_t rows) {
  std::printf("\n[5] RSS before and after a %lld-op backlog (sync paused), and drained\n",
              static_cast<long long>(rows));
  Gateway g = Gateway::Start(url, {"rss"});
  Pause(g);
  WriteBacklog(g, "rss", "warm-", 10000);  // first-touch allocations out of the way
  const double before = RssMiB();
  const auto start = Clock::now();
  const int64_t written = WriteBacklog(g, "rss", "r-", rows, 170);
  const double write_s = std::chrono::duration<double>(Clock::now() - start).count();
  const double after = RssMiB();
  std::printf("  queued %lld rows in %.1f s (%.0f rows/s)%s\n", static_cast<long long>(written), write_s,
              static_cast<double>(written) / write_s, written < rows ? " -- stopped early at the time cap" : "");
  int64_t settled = 0;
  const double drain_s = ResumeAndFlush(g, "rss", &settled);
  const double drained = RssMiB();
  std::printf("  drained %lld ops in %.1f s (%.0f rows/s)\n", static_cast<long long>(settled), drain_s,
              static_cast<double>(settled) / drain_s);
  std::printf(
      "  VmRSS: before %.1f MiB, after backlog %.1f MiB (%+.1f), after drain %.1f MiB (%+.1f); VmHWM %.1f MiB\n",
      before, after, after - before, drained, drained - before, RssMiB("VmHWM:"));
  const bool flat = after - before <= 64 && drained - before <= 64;
  Target(absl::StrCat("RSS flat over a ", written, "-op backlog (+<=64 MiB)"), flat,
         Fmt("%+.1f MiB", std::max(after, drained) - before));
  Summary.push_back({absl::StrCat("RSS, ", written / 1000, "k backlog"), Fmt("%+.1f MiB", after - before),
                     Fmt("before %.0f MiB", before), Fmt("drained %+.1f", drained - before), "flat (<= +64 MiB)",
                     flat});
}

}  // namespace
}  // namespace datagate::bench

int main(int argc, char** argv) {
  using namespace datagate::bench;
  if (argc > 1) Seconds = std::atof(argv[1]);
  const std::string parts = argc > 2 ? argv[2] : "12345";
  const int64_t rss_rows = argc > 3 ? std::atoll(argv[3]) : 1000000;
  // As in main.cc: the gateway binary runs without the mutex deadlock graph.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  std::printf("hybrid benchmark: %.1f s per case, %d rounds (medians), parts %s, %u hardware threads\n", Seconds,
              kRounds, parts.c_str(), std::thread::hardware_concurrency());
  datagate::testing::PgServer& pg = datagate::testing::PgServer::Shared();
  auto db = [&](const std::string& name) {
    absl::StatusOr<std::string> url = pg.CreateDatabase(name);
    if (!url.ok()) {
      std::fprintf(stderr, "%s\n", url.status().ToString().c_str());
      std::exit(1);
    }
    return *url;
  };
  if (parts.find('1') != std::string::npos) PartCreate(db("hb_create"));
  if (parts.find('2') != std::string::npos) PartDrain(db("hb_drain"));
  if (parts.find('3') != std::string::npos) PartLatency(db("hb_latency"));
  if (parts.find('4') != std::string::npos) PartFar(db("hb_far"));
  if (parts.find('5') != std::string::npos) PartRss(db("hb_rss"), rss_rows);
  if (parts.find('6') != std::string::npos) PartFarBatch(5000);

  std::printf("\n%-34s %-16s %-24s %-8s %-18s %s\n", "figure", "value", "raw baseline (same run)", "ratio", "target",
              "");
  for (const Line& l : Summary) {
    std::printf("%-34s %-16s %-24s %-8s %-18s %s\n", l.figure.c_str(), l.value.c_str(), l.baseline.c_str(),
                l.ratio.c_str(), l.target.c_str(), l.target.empty() ? "" : (l.met ? "met" : "MISSED"));
  }
  return 0;
}
