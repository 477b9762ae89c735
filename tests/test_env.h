// Test helpers: a temporary folder, the real server on 127.0.0.1:0 with the
// shipped example migrations, stubs, and JSON-built messages.
#ifndef DATAGATE_TESTS_TEST_ENV_H_
#define DATAGATE_TESTS_TEST_ENV_H_

#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <memory>
#include <string>

#include "datagate/v1/data.grpc.pb.h"
#include "datagate/v1/migration.grpc.pb.h"
#include "datagate/v1/tenant.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "server/server.h"

namespace datagate::testing {

// A folder removed (with its contents) when this object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The shipped example migrations.
std::string ExampleMigrationsDir();

// Parses JSON into a message; fails the test on bad JSON.
template <typename T>
T FromJson(const std::string& json) {
  T msg;
  auto status = google::protobuf::util::JsonStringToMessage(json, &msg);
  EXPECT_TRUE(status.ok()) << status.ToString() << " in " << json;
  return msg;
}

std::string ToJson(const google::protobuf::Message& msg);

// The real server, in process, on a free port, over a fresh data folder.
class TestServer {
 public:
  // `tweak` may change the options before start.
  static std::unique_ptr<TestServer> Start(server::Options options = {});
  ~TestServer();

  const server::Options& options() const { return options_; }
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  v1::DataService::Stub& data() { return *data_; }
  v1::TenantService::Stub& tenants() { return *tenants_; }
  v1::MigrationService::Stub& migrations() { return *migrations_; }
  server::Server& server() { return *server_; }

  // Creates a tenant or fails the test.
  void CreateTenant(const std::string& id);

 private:
  TempDir dir_;
  server::Options options_;
  std::unique_ptr<server::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::DataService::Stub> data_;
  std::unique_ptr<v1::TenantService::Stub> tenants_;
  std::unique_ptr<v1::MigrationService::Stub> migrations_;
};

// A fixture whose tests share one server, started once per suite.
class SharedServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = TestServer::Start().release(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static TestServer* server_;
};

// A client context carrying `tenant` as x-tenant-id (none when empty).
std::unique_ptr<grpc::ClientContext> Ctx(const std::string& tenant = "");

// Every row of `table` in `tenant` from `source`, paged: one line per row,
// "version field=value ..." with fields in name order, in key order. An
// error fails the test (the lines so far are returned).
std::vector<std::string> AllRows(v1::DataService::Stub& data, const std::string& tenant, const std::string& table,
                                 v1::ReadSource source);

MATCHER_P(EqualsProto, expected, "") {
  if (google::protobuf::util::MessageDifferencer::Equals(arg, expected)) return true;
  *result_listener << ToJson(arg) << " differs from " << ToJson(expected);
  return false;
}

MATCHER_P(IsCode, code, "") {
  if (arg.error_code() == code) return true;
  *result_listener << "status is " << arg.error_code() << ": " << arg.error_message();
  return false;
}

}  // namespace datagate::testing

#endif  // DATAGATE_TESTS_TEST_ENV_H_
