// grpc.health.v1.Health: the standard protocol, served so that reflection
// (and so grpcurl) can describe and call it.
#include <grpcpp/server_builder.h>

#include <thread>

#include "api/health_service.h"
#include "google/protobuf/descriptor.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "test_env.h"

namespace datagate::testing {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;
namespace refl = grpc::reflection::v1alpha;

HealthCheckRequest Service(const std::string& name) {
  HealthCheckRequest req;
  req.set_service(name);
  return req;
}

class HealthTest : public SharedServerTest {};

TEST_F(HealthTest, ReflectionDescribesHealthAndItsMessages) {
  auto stub = refl::ServerReflection::NewStub(server_->channel());
  auto ctx = Ctx();
  auto stream = stub->ServerReflectionInfo(ctx.get());
  for (const char* symbol : {"grpc.health.v1.Health", "grpc.health.v1.HealthCheckResponse"}) {
    refl::ServerReflectionRequest req;
    req.set_file_containing_symbol(symbol);
    ASSERT_TRUE(stream->Write(req));
    refl::ServerReflectionResponse resp;
    ASSERT_TRUE(stream->Read(&resp));
    ASSERT_TRUE(resp.has_file_descriptor_response())
        << symbol << ": " << resp.error_response().error_code() << " " << resp.error_response().error_message();
    // health.proto imports nothing, so that is all the server sends (gRPC
    // 1.51 sends it twice for a message symbol; clients cope).
    ASSERT_GE(resp.file_descriptor_response().file_descriptor_proto_size(), 1);
    google::protobuf::FileDescriptorProto file;
    for (const std::string& bytes : resp.file_descriptor_response().file_descriptor_proto()) {
      ASSERT_TRUE(file.ParseFromString(bytes));
      EXPECT_EQ(file.name(), "grpc/health/v1/health.proto");
    }
    EXPECT_EQ(file.package(), "grpc.health.v1");
    ASSERT_EQ(file.service_size(), 1);
    EXPECT_EQ(file.service(0).name(), "Health");
    ASSERT_EQ(file.service(0).method_size(), 2);
    EXPECT_EQ(file.service(0).method(0).name(), "Check");
    EXPECT_EQ(file.service(0).method(1).name(), "Watch");
    EXPECT_TRUE(file.service(0).method(1).server_streaming());
  }
  stream->WritesDone();
}

// Kubernetes' gRPC probe asks for "" and needs SERVING.
TEST_F(HealthTest, CheckAnswersOverallAndPerServiceAndRefusesUnknownNames) {
  auto stub = Health::NewStub(server_->channel());
  for (const char* name :
       {"", "datagate.v1.DataService", "datagate.v1.TenantService", "datagate.v1.MigrationService"}) {
    HealthCheckResponse resp;
    ASSERT_THAT(stub->Check(Ctx().get(), Service(name), &resp), IsCode(grpc::OK)) << name;
    EXPECT_EQ(resp.status(), HealthCheckResponse::SERVING) << name;
  }
  HealthCheckResponse resp;
  grpc::Status unknown = stub->Check(Ctx().get(), Service("datagate.v1.NoSuchService"), &resp);
  EXPECT_THAT(unknown, IsCode(grpc::NOT_FOUND));
  EXPECT_THAT(unknown.error_message(), ::testing::HasSubstr("datagate.v1.NoSuchService"));
}

TEST_F(HealthTest, WatchOfAnUnknownServiceSaysServiceUnknownAndStaysOpen) {
  auto stub = Health::NewStub(server_->channel());
  auto ctx = Ctx();
  auto reader = stub->Watch(ctx.get(), Service("datagate.v1.NoSuchService"));
  HealthCheckResponse resp;
  ASSERT_TRUE(reader->Read(&resp));
  EXPECT_EQ(resp.status(), HealthCheckResponse::SERVICE_UNKNOWN);
  ctx->TryCancel();
  EXPECT_FALSE(reader->Read(&resp));
  EXPECT_THAT(reader->Finish(), IsCode(grpc::CANCELLED));
}

// Watches run on the callback API: many open ones leave the sync threads to
// the other services.
TEST_F(HealthTest, OpenWatchesDoNotHoldUpOtherCalls) {
  auto stub = Health::NewStub(server_->channel());
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<HealthCheckResponse>>> readers;
  for (int i = 0; i < 64; ++i) {
    contexts.push_back(Ctx());
    readers.push_back(stub->Watch(contexts.back().get(), Service("")));
    HealthCheckResponse resp;
    ASSERT_TRUE(readers.back()->Read(&resp));
    EXPECT_EQ(resp.status(), HealthCheckResponse::SERVING);
  }
  v1::ListTenantsResponse tenants;
  EXPECT_THAT(server_->tenants().ListTenants(Ctx().get(), v1::ListTenantsRequest(), &tenants), IsCode(grpc::OK));
  for (size_t i = 0; i < readers.size(); ++i) {
    contexts[i]->TryCancel();
    EXPECT_THAT(readers[i]->Finish(), IsCode(grpc::CANCELLED));
  }
}

TEST(HealthShutdownTest, WatchSeesNotServingAndEndsWhenTheServerShutsDown) {
  auto server = TestServer::Start();
  auto stub = Health::NewStub(server->channel());
  auto ctx = Ctx();
  auto reader = stub->Watch(ctx.get(), Service(""));
  HealthCheckResponse resp;
  ASSERT_TRUE(reader->Read(&resp));
  EXPECT_EQ(resp.status(), HealthCheckResponse::SERVING);

  const auto start = std::chrono::steady_clock::now();
  std::thread stopper([&] { server->server().Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(20)); });
  ASSERT_TRUE(reader->Read(&resp));
  EXPECT_EQ(resp.status(), HealthCheckResponse::NOT_SERVING);
  EXPECT_FALSE(reader->Read(&resp));
  EXPECT_THAT(reader->Finish(), IsCode(grpc::UNAVAILABLE));
  stopper.join();
  // An open watch must not keep the server waiting out its grace period.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

// The service on its own, in a bare callback-only server: status changes,
// the watcher cap, and what Shutdown leaves behind.
class HealthServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    api::HealthServiceImpl::Options options;
    options.max_watchers = 2;
    health_ = std::make_unique<api::HealthServiceImpl>(std::vector<std::string>{"svc"}, options);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(health_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ =
        Health::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    health_->Shutdown();
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  }

  HealthCheckResponse::ServingStatus Check(const std::string& name) {
    HealthCheckResponse resp;
    grpc::Status status = stub_->Check(Ctx().get(), Service(name), &resp);
    EXPECT_THAT(status, IsCode(grpc::OK));
    return resp.status();
  }

  std::unique_ptr<api::HealthServiceImpl> health_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<Health::Stub> stub_;
};

TEST_F(HealthServiceTest, StartsNotServingAndWatchersSeeEveryChange) {
  EXPECT_EQ(Check(""), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(Check("svc"), HealthCheckResponse::NOT_SERVING);
  auto ctx = Ctx();
  auto reader = stub_->Watch(ctx.get(), Service("svc"));
  HealthCheckResponse resp;
  ASSERT_TRUE(reader->Read(&resp));
  EXPECT_EQ(resp.status(), HealthCheckResponse::NOT_SERVING);
  health_->SetStatus("svc", true);
  ASSERT_TRUE(reader->Read(&resp));
  EXPECT_EQ(resp.status(), HealthCheckResponse::SERVING);
  health_->SetStatus("", true);     // another name: no message for this watcher
  health_->SetStatus("svc", true);  // no change: no message
  health_->SetStatus("svc", false);
  ASSERT_TRUE(reader->Read(&resp));
  EXPECT_EQ(resp.status(), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(Check(""), HealthCheckResponse::SERVING);
  ctx->TryCancel();
  EXPECT_THAT(reader->Finish(), IsCode(grpc::CANCELLED));
}

TEST_F(HealthServiceTest, AWatchedUnknownNameReportsOnceItBecomesKnown) {
  auto ctx = Ctx();
  auto reader = stub_->Watch(ctx.get(), Service("later"));
  HealthCheckResponse resp;
  ASSERT_TRUE(reader->Read(&resp));
  EXPECT_EQ(resp.status(), HealthCheckResponse::SERVICE_UNKNOWN);
  health_->SetStatus("later", true);
  ASSERT_TRUE(reader->Read(&resp));
  EXPECT_EQ(resp.status(), HealthCheckResponse::SERVING);
  ctx->TryCancel();
  EXPECT_THAT(reader->Finish(), IsCode(grpc::CANCELLED));
}

TEST_F(HealthServiceTest, WatchesBeyondTheCapAreResourceExhausted) {
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<HealthCheckResponse>>> readers;
  for (int i = 0; i < 2; ++i) {
    contexts.push_back(Ctx());
    readers.push_back(stub_->Watch(contexts.back().get(), Service("")));
    HealthCheckResponse resp;
    ASSERT_TRUE(readers.back()->Read(&resp));
  }
  auto ctx = Ctx();
  auto refused = stub_->Watch(ctx.get(), Service(""));
  HealthCheckResponse resp;
  EXPECT_FALSE(refused->Read(&resp));
  EXPECT_THAT(refused->Finish(), IsCode(grpc::RESOURCE_EXHAUSTED));
  // A closed watch frees its place (once the server has seen it end).
  contexts[0]->TryCancel();
  EXPECT_THAT(readers[0]->Finish(), IsCode(grpc::CANCELLED));
  bool admitted = false;
  for (int attempt = 0; attempt < 200 && !admitted; ++attempt) {
    auto again_ctx = Ctx();
    auto again = stub_->Watch(again_ctx.get(), Service(""));
    admitted = again->Read(&resp);
    if (admitted) again_ctx->TryCancel();
    grpc::Status status = again->Finish();
    EXPECT_THAT(status, IsCode(admitted ? grpc::CANCELLED : grpc::RESOURCE_EXHAUSTED));
    if (!admitted) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(admitted);
  contexts[1]->TryCancel();
  EXPECT_THAT(readers[1]->Finish(), IsCode(grpc::CANCELLED));
}

TEST_F(HealthServiceTest, AfterShutdownEverythingStaysNotServing) {
  health_->SetStatus("", true);
  health_->SetStatus("svc", true);
  health_->Shutdown();
  EXPECT_EQ(Check(""), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(Check("svc"), HealthCheckResponse::NOT_SERVING);
  health_->SetStatus("svc", true);
  EXPECT_EQ(Check("svc"), HealthCheckResponse::NOT_SERVING);
  // A watch opened now gets the final status and ends.
  auto ctx = Ctx();
  auto reader = stub_->Watch(ctx.get(), Service("svc"));
  HealthCheckResponse resp;
  ASSERT_TRUE(reader->Read(&resp));
  EXPECT_EQ(resp.status(), HealthCheckResponse::NOT_SERVING);
  EXPECT_FALSE(reader->Read(&resp));
  EXPECT_THAT(reader->Finish(), IsCode(grpc::UNAVAILABLE));
}

}  // namespace
}  // namespace datagate::testing
