// The cloud link's own logic, against a stand-in cloud that fails on cue:
// which failures stop the start, the background attempts and their
// back-off, what calls answer before the cloud connects, and prompt stops.
// tests/cloud/late_cloud_test.cc runs the gateway with a real PostgreSQL.
#include "server/cloud_link.h"

#include <atomic>

#include "absl/synchronization/notification.h"
#include "common/errors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sync/fake_cloud.h"

namespace datagate::server {
namespace {

using ::testing::HasSubstr;

// What the next attempt to connect finds.
enum class Cloud { kAway, kUnusable, kThere };

class CloudLinkTest : public ::testing::Test {
 protected:
  std::unique_ptr<CloudLink> Link(CloudLink::Options options = Fast()) {
    return std::make_unique<CloudLink>(
        options,
        [this]() -> absl::StatusOr<std::unique_ptr<store::CloudStore>> {
          ++connects_;
          if (hold_ != nullptr) hold_->WaitForNotification();
          switch (cloud_.load()) {
            case Cloud::kAway:
              return errors::StoreUnavailable("the cloud database cannot be reached");
            case Cloud::kUnusable:
              return errors::CloudTableNotTenantKeyed("public", "loose");
            case Cloud::kThere:
              break;
          }
          return std::unique_ptr<store::CloudStore>(std::make_unique<testing::FakeCloud>());
        },
        [this](store::CloudStore&) -> absl::Status {
          ++prepares_;
          if (prepare_for_ > absl::ZeroDuration()) absl::SleepFor(prepare_for_);
          return prepare_;
        });
  }
  static CloudLink::Options Fast() {
    CloudLink::Options o;
    o.initial_backoff = absl::Milliseconds(10);
    o.max_backoff = absl::Milliseconds(40);
    o.start_wait = absl::Seconds(5);
    return o;
  }

  std::atomic<Cloud> cloud_{Cloud::kAway};
  std::atomic<int> connects_{0};
  std::atomic<int> prepares_{0};
  absl::Status prepare_;
  absl::Duration prepare_for_;
  absl::Notification* hold_ = nullptr;  // a connect waits for it
};

TEST_F(CloudLinkTest, AnUnreachableCloudDoesNotStopTheStartAndConnectsLater) {
  auto link = Link();
  absl::Notification ready;
  ASSERT_TRUE(link->Start([&] { ready.Notify(); }).ok());
  EXPECT_FALSE(link->Connected());
  EXPECT_EQ(link->SchemaVersion(), -1);
  absl::Status tenant = link->Tenant("acme", nullptr).status();
  EXPECT_EQ(tenant.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(tenant.message()), HasSubstr("not reachable yet"));
  EXPECT_EQ(link->Schema()->ListApplied(absl::InfiniteFuture()).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(link->Schema()->GetCatalog()->tables.size(), 0u);
  EXPECT_EQ(link->DeleteTenantData("acme", absl::InfiniteFuture()).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(link->Ping(absl::InfiniteFuture()).code(), absl::StatusCode::kUnavailable);
  // It keeps trying, backing off, and serves the store once it is there.
  absl::SleepFor(absl::Milliseconds(150));
  EXPECT_GE(connects_.load(), 3);
  EXPECT_LE(connects_.load(), 10) << "10, 20, 40, 40 ms apart";
  EXPECT_EQ(prepares_.load(), 0);
  cloud_ = Cloud::kThere;
  ASSERT_TRUE(ready.WaitForNotificationWithTimeout(absl::Seconds(5)));
  EXPECT_TRUE(link->Connected());
  EXPECT_EQ(link->SchemaVersion(), int64_t{1} << 20);
  EXPECT_TRUE(link->Ping(absl::InfiniteFuture()).ok());
  EXPECT_EQ(link->Tenant("acme", nullptr).status().code(), absl::StatusCode::kUnimplemented) << "the fake's own answer";
  EXPECT_EQ(prepares_.load(), 1);
  const int connects = connects_.load();
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(connects_.load(), connects) << "no attempts once connected";
}

TEST_F(CloudLinkTest, AReachableCloudIsConnectedAndPreparedBeforeStartReturns) {
  cloud_ = Cloud::kThere;
  prepare_for_ = absl::Milliseconds(300);  // migrations
  CloudLink::Options o = Fast();
  o.start_wait = absl::Milliseconds(50);  // bounds the connect only
  auto link = Link(o);
  std::atomic<bool> ready{false};
  ASSERT_TRUE(link->Start([&] { ready = true; }).ok());
  EXPECT_TRUE(link->Connected());
  EXPECT_EQ(prepares_.load(), 1);
}

TEST_F(CloudLinkTest, ACloudThatAnswersAndCannotBeUsedStopsTheStart) {
  cloud_ = Cloud::kUnusable;
  auto link = Link();
  absl::Status started = link->Start([] {});
  EXPECT_EQ(started.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(started.message()), HasSubstr("'loose'"));
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(connects_.load(), 1) << "no attempts after a refused start";
  EXPECT_FALSE(link->Connected());

  // A failing preparation (a migration) too.
  cloud_ = Cloud::kThere;
  prepare_ = errors::MigrationFailed("cloud", 2, "orders", "0002_orders.up.postgres.sql", "SQLSTATE 42601: syntax");
  auto other = Link();
  EXPECT_EQ(other->Start([] {}).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(other->Connected());
}

TEST_F(CloudLinkTest, StartWaitsOnlySoLongForACloudThatDoesNotAnswer) {
  absl::Notification answer;
  hold_ = &answer;
  CloudLink::Options o = Fast();
  o.start_wait = absl::Milliseconds(100);
  auto link = Link(o);
  absl::Notification ready;
  const absl::Time start = absl::Now();
  ASSERT_TRUE(link->Start([&] { ready.Notify(); }).ok());
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  EXPECT_FALSE(link->Connected());
  // The cloud answers at last (and later attempts find it there).
  cloud_ = Cloud::kThere;
  answer.Notify();
  ASSERT_TRUE(ready.WaitForNotificationWithTimeout(absl::Seconds(5)));
  EXPECT_TRUE(link->Connected());
}

TEST_F(CloudLinkTest, ACloudFoundUnusableLaterAnswersWhyAndIsTriedAgain) {
  auto link = Link();
  absl::Notification ready;
  ASSERT_TRUE(link->Start([&] { ready.Notify(); }).ok());
  cloud_ = Cloud::kUnusable;
  absl::Status why;
  for (int i = 0; i < 200 && why.code() != absl::StatusCode::kFailedPrecondition; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
    why = link->Tenant("acme", nullptr).status();
  }
  EXPECT_EQ(why.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(why.message()), HasSubstr("'loose'"));
  EXPECT_EQ(link->Schema()->ListApplied(absl::InfiniteFuture()).status().code(), absl::StatusCode::kFailedPrecondition);
  // The sync queue is only ever told to wait: its ops must not be blamed.
  EXPECT_EQ(link->ApplySync("acme", {}, absl::InfiniteFuture()).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(link->Connected());
  // Fixed by an operator: the next attempt connects.
  cloud_ = Cloud::kThere;
  ASSERT_TRUE(ready.WaitForNotificationWithTimeout(absl::Seconds(5)));
  EXPECT_TRUE(link->Connected());
}

TEST_F(CloudLinkTest, StopIsPromptWhileWaitingToTryAgain) {
  CloudLink::Options o = Fast();
  o.initial_backoff = absl::Seconds(30);
  o.max_backoff = absl::Seconds(30);
  auto link = Link(o);
  ASSERT_TRUE(link->Start([] {}).ok());
  absl::SleepFor(absl::Milliseconds(50));
  const absl::Time start = absl::Now();
  link->Stop();
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(500));
  EXPECT_EQ(connects_.load(), 1);
  link->Stop();  // idempotent
}

}  // namespace
}  // namespace datagate::server
