// datagate benchmark: Create, Get and List(50) through the gateway at
// concurrency 1 and 16, beside the raw baselines measured in the same run
// (plain SQLiteCpp running the same statements with the same settings, and a
// plain gRPC echo on loopback with the same server type). A GetRow-shaped
// echo (the API's messages, no store) shows what the message shape costs.
//
//   ./build/tests/datagate_bench [seconds per case, default 2] [rounds, default 3]
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <map>
#include <thread>

#include "SQLiteCpp/SQLiteCpp.h"
#include "echo.grpc.pb.h"
#include "measure.h"
#include "test_env.h"

namespace datagate::bench {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds = 2.0;

// The shared harness (measure.h) for Seconds.
Result Measure(int threads, const std::function<bool(int, int64_t)>& op) {
  return bench::Measure(Seconds, threads, op);
}

void Print(const char* name, int conc, const Result& r) {
  std::printf("%-40s c=%-3d %10.0f ops/s   p50 %8.1f us   p99 %8.1f us\n", name, conc, r.ops_per_s, r.p50_us, r.p99_us);
  std::fflush(stdout);
}

// Summary line: keys name the operation and concurrency (get16 = Get at 16).
void PrintKey(const std::string& label, const Result& r) {
  std::printf("  %-34s %10.0f ops/s   p50 %8.1f us   p99 %8.1f us\n", label.c_str(), r.ops_per_s, r.p50_us, r.p99_us);
}

class EchoService final : public Echo::Service {
  grpc::Status Echo(grpc::ServerContext*, const EchoMessage* req, EchoMessage* resp) override {
    *resp = *req;
    return grpc::Status::OK;
  }
};

// GetRow with the gateway's message shapes but no store behind it: a canned
// Row (the same fields, version and times a real one has). Separates what
// the API's shape costs in gRPC from what the gateway's work costs.
class CannedDataService final : public v1::DataService::Service {
 public:
  CannedDataService() {
    row_.set_table("customers");
    auto& f = *row_.mutable_fields()->mutable_fields();
    f["id"].set_number_value(12345);
    f["name"].set_string_value("Customer");
    f["email"].set_string_value("c12345@example.com");
    f["vip"].set_bool_value(false);
    row_.set_version(1);
    row_.mutable_create_time()->set_seconds(1'700'000'000);
    row_.mutable_update_time()->set_seconds(1'700'000'000);
  }
  grpc::Status GetRow(grpc::ServerContext* ctx, const v1::GetRowRequest*, v1::Row* resp) override {
    if (ctx->client_metadata().count("x-tenant-id") == 0) return grpc::Status(grpc::UNAUTHENTICATED, "");
    *resp = row_;
    return grpc::Status::OK;
  }

 private:
  v1::Row row_;
};

v1::GetRowRequest GetRequest(int64_t id) {
  v1::GetRowRequest req;
  req.set_table("customers");
  (*req.mutable_key()->mutable_fields())["id"].set_number_value(static_cast<double>(id));
  return req;
}

struct Channels {
  std::vector<std::shared_ptr<grpc::Channel>> per_thread;
  explicit Channels(int port, int n) {
    for (int i = 0; i < n; ++i) {
      grpc::ChannelArguments args;
      args.SetInt("datagate.bench.channel", i);  // distinct connections
      per_thread.push_back(
          grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials(), args));
    }
  }
};

// --- baselines -------------------------------------------------------------

std::map<std::string, Result> EchoBaseline() {
  EchoService service;
  CannedDataService canned;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  builder.RegisterService(&canned);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, server::Options().max_pollers);
  auto server = builder.BuildAndStart();
  std::map<std::string, Result> out;
  for (int conc : {1, 16}) {
    Channels ch(port, conc);
    std::vector<std::unique_ptr<Echo::Stub>> stubs;
    for (auto& c : ch.per_thread) stubs.push_back(Echo::NewStub(c));
    EchoMessage msg;
    msg.set_payload(std::string(100, 'x'));
    Result r = Measure(conc, [&](int t, int64_t) {
      grpc::ClientContext ctx;
      EchoMessage resp;
      return stubs[t]->Echo(&ctx, msg, &resp).ok();
    });
    Print("grpc echo (baseline)", conc, r);
    out["echo" + std::to_string(conc)] = r;
    std::vector<std::unique_ptr<v1::DataService::Stub>> shaped;
    for (auto& c : ch.per_thread) shaped.push_back(v1::DataService::NewStub(c));
    r = Measure(conc, [&](int t, int64_t i) {
      grpc::ClientContext ctx;
      ctx.AddMetadata("x-tenant-id", "bench");
      v1::Row row;
      return shaped[t]->GetRow(&ctx, GetRequest(1 + i % 1000), &row).ok();
    });
    Print("grpc GetRow-shaped echo (no store)", conc, r);
    out["shaped" + std::to_string(conc)] = r;
  }
  server->Shutdown();
  return out;
}

// The gateway's own statements, on a file with the gateway's pragmas.
std::map<std::string, Result> SqliteBaseline(const std::string& dir) {
  std::map<std::string, Result> out;
  for (const char* sync : {"FULL", "NORMAL"}) {
    SQLite::Database db(dir + "/raw-" + sync + ".db", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE, 5000);
    db.exec("PRAGMA journal_mode=WAL");
    db.exec(std::string("PRAGMA synchronous=") + sync);
    db.exec(
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL UNIQUE, "
        "vip BOOLEAN NOT NULL DEFAULT 0, _dg_version INTEGER NOT NULL DEFAULT 1, _dg_create_us INTEGER NOT NULL "
        "DEFAULT 0, _dg_update_us INTEGER NOT NULL DEFAULT 0)");
    SQLite::Statement insert(db,
                             "INSERT INTO customers (id, name, email, _dg_version, _dg_create_us, _dg_update_us) "
                             "VALUES (?, ?, ?, 1, ?, ?)");
    Result r = Measure(1, [&](int, int64_t i) {
      insert.reset();
      insert.bind(1, i + 1);
      insert.bind(2, "Customer");
      insert.bind(3, "c" + std::to_string(i) + "@example.com");
      insert.bind(4, i);
      insert.bind(5, i);
      return insert.exec() == 1;
    });
    Print((std::string("sqlite insert (baseline) ") + sync).c_str(), 1, r);
    out[std::string("insert_") + sync] = r;
    if (std::string(sync) == "FULL") {
      const int64_t rows = static_cast<int64_t>(r.ops_per_s * Seconds);
      SQLite::Statement get(db,
                            "SELECT id, name, email, vip, _dg_version, _dg_create_us, _dg_update_us FROM "
                            "customers WHERE id = ?");
      r = Measure(1, [&](int, int64_t i) {
        get.reset();
        get.bind(1, 1 + (i * 7919) % std::max<int64_t>(rows, 1));
        return get.executeStep();
      });
      Print("sqlite point select (baseline)", 1, r);
      out["select"] = r;
      SQLite::Statement list(db,
                             "SELECT id, name, email, vip, _dg_version, _dg_create_us, _dg_update_us, id FROM "
                             "customers WHERE id > ? ORDER BY id ASC LIMIT 51");
      r = Measure(1, [&](int, int64_t i) {
        list.reset();
        list.bind(1, (i * 7919) % std::max<int64_t>(rows - 60, 1));
        int n = 0;
        while (list.executeStep()) ++n;
        return n == 51;
      });
      Print("sqlite list 50 (baseline)", 1, r);
      out["list"] = r;
    }
  }
  return out;
}

// --- gateway ---------------------------------------------------------------

std::map<std::string, Result> Gateway(const std::string& sync) {
  server::Options options;
  options.synchronous = sync;
  auto server = testing::TestServer::Start(options);
  server->CreateTenant("bench");
  std::map<std::string, Result> out;
  std::atomic<int64_t> next_id{1};
  for (int conc : {1, 16}) {
    Channels ch(server->server().port(), conc);
    std::vector<std::unique_ptr<v1::DataService::Stub>> stubs;
    for (auto& c : ch.per_thread) stubs.push_back(v1::DataService::NewStub(c));
    Result r = Measure(conc, [&](int t, int64_t) {
      grpc::ClientContext ctx;
      ctx.AddMetadata("x-tenant-id", "bench");
      v1::CreateRowRequest req;
      req.set_table("customers");
      const int64_t id = next_id++;
      auto& f = *req.mutable_row()->mutable_fields();
      f["id"].set_number_value(static_cast<double>(id));
      f["name"].set_string_value("Customer");
      f["email"].set_string_value("c" + std::to_string(id) + "@example.com");
      v1::Row row;
      return stubs[t]->CreateRow(&ctx, req, &row).ok();
    });
    Print(("gateway CreateRow " + sync).c_str(), conc, r);
    out["create" + std::to_string(conc)] = r;
    if (sync != "FULL") continue;
    const int64_t rows = next_id - 1;
    r = Measure(conc, [&](int t, int64_t i) {
      grpc::ClientContext ctx;
      ctx.AddMetadata("x-tenant-id", "bench");
      v1::Row row;
      return stubs[t]->GetRow(&ctx, GetRequest(1 + (i * 7919 + t * 104729) % rows), &row).ok();
    });
    Print("gateway GetRow", conc, r);
    out["get" + std::to_string(conc)] = r;
    r = Measure(conc, [&](int t, int64_t i) {
      grpc::ClientContext ctx;
      ctx.AddMetadata("x-tenant-id", "bench");
      v1::ListRowsRequest req;
      req.set_table("customers");
      req.set_page_size(50);
      auto* f = req.add_filters();
      f->set_column("id");
      f->set_op(v1::Filter::GREATER_THAN);
      f->mutable_value()->set_number_value(
          static_cast<double>((i * 7919 + t * 104729) % std::max<int64_t>(rows - 60, 1)));
      v1::ListRowsResponse resp;
      return stubs[t]->ListRows(&ctx, req, &resp).ok() && resp.rows_size() == 50;
    });
    Print("gateway ListRows(50)", conc, r);
    out["list" + std::to_string(conc)] = r;
  }
  return out;
}

// Per key, the median of each figure over rounds.
std::map<std::string, Result> Median(const std::vector<std::map<std::string, Result>>& rounds) {
  std::map<std::string, Result> out;
  for (const auto& [key, unused] : rounds.front()) {
    auto median = [&](double Result::*field) {
      std::vector<double> v;
      for (const auto& r : rounds) v.push_back(r.at(key).*field);
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    out[key] = Result{median(&Result::ops_per_s), median(&Result::p50_us), median(&Result::p99_us)};
  }
  return out;
}

void Target(const char* what, double ours, double limit, bool lower_is_better) {
  const bool met = lower_is_better ? ours <= limit : ours >= limit;
  std::printf("  %-64s %9.1f vs %9.1f  %s\n", what, ours, limit, met ? "MET" : "MISSED");
}

}  // namespace
}  // namespace datagate::bench

int main(int argc, char** argv) {
  using namespace datagate::bench;
  if (argc > 1) Seconds = std::atof(argv[1]);
  // As in main.cc: the gateway binary runs without the mutex deadlock graph.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 3;
  std::printf("datagate benchmark: %.1f s per case, %d rounds (medians reported), %u hardware threads\n", Seconds,
              rounds, std::thread::hardware_concurrency());
  // Each round measures every baseline and gateway case afresh; the medians
  // over rounds damp the drift of a shared machine.
  std::vector<std::map<std::string, Result>> echos, raws, fulls, normals;
  for (int round = 1; round <= rounds; ++round) {
    std::printf("\nround %d\n", round);
    datagate::testing::TempDir dir;
    echos.push_back(EchoBaseline());
    raws.push_back(SqliteBaseline(dir.path()));
    fulls.push_back(Gateway("FULL"));
    normals.push_back(Gateway("NORMAL"));
  }
  auto echo = Median(echos);
  auto raw = Median(raws);
  auto full = Median(fulls);
  auto normal = Median(normals);
  std::printf("\nmedians over %d rounds:\n", rounds);
  for (const auto& [k, r] : echo) PrintKey("baseline grpc " + k, r);
  for (const auto& [k, r] : raw) PrintKey("baseline sqlite " + k + " (c=1)", r);
  for (const auto& [k, r] : full) PrintKey("gateway FULL " + k, r);
  for (const auto& [k, r] : normal) PrintKey("gateway NORMAL " + k, r);
  std::printf("\nratios (gateway / baseline):\n");
  std::printf("  Get p50 / (echo p50 + select p50)            %.2f\n",
              full["get1"].p50_us / (echo["echo1"].p50_us + raw["select"].p50_us));
  std::printf("  List(50) p50 / (echo p50 + list p50)         %.2f\n",
              full["list1"].p50_us / (echo["echo1"].p50_us + raw["list"].p50_us));
  std::printf("  Create FULL p50 / (echo p50 + insert p50)    %.2f\n",
              full["create1"].p50_us / (echo["echo1"].p50_us + raw["insert_FULL"].p50_us));
  std::printf("  Create NORMAL p50 / (echo p50 + insert p50)  %.2f\n",
              normal["create1"].p50_us / (echo["echo1"].p50_us + raw["insert_NORMAL"].p50_us));
  std::printf("  Get p50 / GetRow-shaped echo p50             %.2f\n", full["get1"].p50_us / echo["shaped1"].p50_us);
  std::printf("  Get ops/s c=16 / shaped echo ops/s c=16      %.2f\n",
              full["get16"].ops_per_s / echo["shaped16"].ops_per_s);
  std::printf("  Get ops/s c=16 / echo ops/s c=16             %.2f\n",
              full["get16"].ops_per_s / echo["echo16"].ops_per_s);
  std::printf("  List ops/s c=16 / echo ops/s c=16            %.2f\n",
              full["list16"].ops_per_s / echo["echo16"].ops_per_s);
  std::printf("\ntargets:\n");
  Target("Get p50 <= 1.3 x (echo p50 + select p50) [us]", full["get1"].p50_us,
         1.3 * (echo["echo1"].p50_us + raw["select"].p50_us), true);
  Target("Create NORMAL p50 <= 1.3 x (echo p50 + insert p50) [us]", normal["create1"].p50_us,
         1.3 * (echo["echo1"].p50_us + raw["insert_NORMAL"].p50_us), true);
  Target("Get ops/s at c=16 >= 0.7 x echo ops/s at c=16", full["get16"].ops_per_s, 0.7 * echo["echo16"].ops_per_s,
         false);
  return 0;
}
