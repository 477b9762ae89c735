#include "common/tenant_id.h"

#include "gtest/gtest.h"

namespace datagate {
namespace {

TEST(TenantId, AcceptsDnsLabelLikeIds) {
  for (const char* id : {"acme", "a1", "shop-42", "x-y-z"}) EXPECT_TRUE(ValidateTenantId(id).ok()) << id;
}

TEST(TenantId, RefusesOthersWithAReason) {
  for (const char* id : {"", "a", "Acme", "1abc", "acme-", "ac_me", "a b", "../etc", "acme.db",
                         "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcd"}) {
    absl::Status s = ValidateTenantId(id);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << id;
    EXPECT_NE(s.message().find("invalid tenant id"), absl::string_view::npos);
  }
}

}  // namespace
}  // namespace datagate
