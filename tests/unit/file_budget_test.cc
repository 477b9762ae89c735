#include "server/file_budget.h"

#include "test_env.h"

namespace datagate::server {
namespace {

TEST(FileBudgetTest, KeepsWhatFitsBesideAReserveForGrpc) {
  // 1024 files, 11 per tenant: 32 + 11 (master) + 256 (a quarter) reserved.
  auto b = PlanFiles(1024, 11, 256);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->reserved, 299);
  EXPECT_EQ(b->max_open_tenants, (1024 - 299) / 11);
  // What was asked for, when it fits.
  b = PlanFiles(1 << 20, 11, 256);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->max_open_tenants, 256);
  b = PlanFiles(INT64_MAX, 11, 256);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->max_open_tenants, 256);
}

TEST(FileBudgetTest, RefusesALimitWithoutRoomForOneTenant) {
  auto b = PlanFiles(80, 11, 256);  // 32 + 11 + 32 reserved: 5 left
  EXPECT_EQ(b.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(b.status().message()), ::testing::HasSubstr("ulimit -n"));
  EXPECT_THAT(std::string(b.status().message()), ::testing::HasSubstr("may open 80 files"));
  EXPECT_TRUE(PlanFiles(86, 11, 256).ok());  // 75 reserved + 11
}

}  // namespace
}  // namespace datagate::server
