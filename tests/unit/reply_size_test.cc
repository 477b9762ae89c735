// common/reply_size bounds the bytes the API's real messages take; the
// gateway relies on them to refuse, before commit, what it could not send.
#include "common/reply_size.h"

#include <limits>
#include <random>

#include "api/convert.h"
#include "common/page_token.h"
#include "common/tenant_id.h"
#include "core/tenants.h"
#include "gtest/gtest.h"

namespace datagate {
namespace {

Value RandomValue(std::mt19937_64& rng) {
  switch (rng() % 8) {
    case 0:
      return Value{};
    case 1:
      return Value{static_cast<int64_t>(rng())};  // often beyond 2^53: a decimal string
    case 2:
      return Value{static_cast<int64_t>(rng() % 1000) - 500};
    case 3:
      return Value{static_cast<double>(rng()) / 7.0};
    case 4:
      return Value{std::string(rng() % 300, 'x')};
    case 5:
      return Value{Blob{std::string(rng() % 300, '\xff')}};
    case 6:
      return Value{rng() % 2 == 0};
    default:
      return Value{std::string(rng() % 70000, 'y')};  // a length needing a 3-byte varint
  }
}

TEST(ReplySize, BoundsTheRowMessageTightly) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 2000; ++i) {
    StoredRow row;
    row.table = std::string(1 + rng() % 40, 't');
    const int fields = static_cast<int>(rng() % 12);
    for (int f = 0; f < fields; ++f) row.fields.push_back(Field{"c" + std::to_string(f), RandomValue(rng)});
    row.version = static_cast<int64_t>(rng() % 1000000) + 1;
    row.create_time_us = static_cast<int64_t>(rng() % 4000000000000000);
    row.update_time_us = row.create_time_us + 1;
    v1::Row proto;
    api::ToProto(row, &proto);
    const int64_t actual = static_cast<int64_t>(proto.ByteSizeLong());
    const int64_t bound = RowReplyBytes(row);
    ASSERT_LE(actual, bound) << "row " << i;
    // Tight enough to be useful: a few dozen bytes per field at most.
    EXPECT_LE(bound - actual, 64 + 24 * fields) << "row " << i;
  }
}

std::string RandomText(std::mt19937_64& rng, size_t max) {
  std::string s(rng() % (max + 1), 'a');
  for (char& c : s) c = static_cast<char>('a' + rng() % 26);
  return s;
}

// Admin records: each bound holds for the real message and is within a few
// bytes per field of it (length prefixes of 5 bytes, varints of 10).
TEST(ReplySize, BoundsTheMigrationStepMessage) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) {
    migrate::Step step{migrate::TenantTarget(RandomText(rng, 63)), static_cast<int64_t>(rng() % 100000),
                       RandomText(rng, i % 10 == 0 ? 70000 : 250), rng() % 2 == 0, rng() % 2 == 0};
    v1::MigrationStep proto;
    api::ToProto(step, &proto);
    const int64_t actual = static_cast<int64_t>(proto.ByteSizeLong());
    const int64_t bound = MigrationStepReplyBytes(step.target, step.name);
    ASSERT_LE(actual, bound) << i;
    EXPECT_LE(bound - actual, 32) << i;
  }
}

TEST(ReplySize, BoundsTheTargetStatusMessage) {
  std::mt19937_64 rng(8);
  for (int i = 0; i < 500; ++i) {
    migrate::TargetState state;
    state.target = rng() % 5 == 0 ? "master" : migrate::TenantTarget(RandomText(rng, 63));
    state.current_version = static_cast<int64_t>(rng() % 1000);
    state.latest_version = static_cast<int64_t>(rng());
    int64_t applied = 0;
    const int count = static_cast<int>(rng() % 40);
    for (int a = 0; a < count; ++a) {
      migrate::AppliedState s;
      s.record.version = static_cast<int64_t>(rng() % 100000) + 1;
      s.record.name = RandomText(rng, 250);
      s.record.checksum = RandomText(rng, 64);
      s.record.apply_time_us = static_cast<int64_t>(rng() % 4000000000000000);
      s.checksum_mismatch = rng() % 2 == 0;
      applied += FieldBytes(AppliedMigrationReplyBytes(s.record.name, s.record.checksum));
      state.applied.push_back(std::move(s));
    }
    const int pending = static_cast<int>(rng() % 40);
    for (int p = 0; p < pending; ++p) state.pending.push_back(static_cast<int64_t>(rng() >> (rng() % 64)));
    state.error = RandomText(rng, kMaxListedErrorBytes);
    v1::TargetStatus proto;
    api::ToProto(state, &proto);
    const int64_t actual = static_cast<int64_t>(proto.ByteSizeLong());
    const int64_t bound = TargetStatusReplyBytes(state.target, state.error, applied, pending);
    ASSERT_LE(actual, bound) << i;
    EXPECT_LE(bound - actual, 64 + 48 * count + 10 * pending) << i;
  }
}

TEST(ReplySize, BoundsTheMigrationAndTenantMessages) {
  std::mt19937_64 rng(9);
  for (int i = 0; i < 2000; ++i) {
    migrate::MigrationFile file;
    file.version = static_cast<int64_t>(rng());
    file.name = RandomText(rng, 250);
    file.checksum = RandomText(rng, 64);
    file.has_down = rng() % 2 == 0;
    v1::Migration migration;
    api::ToProto(rng() % 2 == 0 ? v1::MASTER : v1::TENANT, file, &migration);
    const int64_t migration_bound = MigrationFileReplyBytes(file.name, file.checksum);
    ASSERT_LE(static_cast<int64_t>(migration.ByteSizeLong()), migration_bound) << i;
    EXPECT_LE(migration_bound - static_cast<int64_t>(migration.ByteSizeLong()), 40) << i;

    store::TenantRecord record{RandomText(rng, 63), RandomText(rng, 200), "request",
                               static_cast<int64_t>(rng() % 4000000000000000), static_cast<int64_t>(rng() % 1000)};
    v1::Tenant tenant;
    api::ToProto(record, &tenant);
    const int64_t tenant_bound = TenantReplyBytes(record.id, record.display_name);
    ASSERT_LE(static_cast<int64_t>(tenant.ByteSizeLong()), tenant_bound) << i;
    EXPECT_LE(tenant_bound - static_cast<int64_t>(tenant.ByteSizeLong()), 48) << i;
  }
}

// What a listing reply holds beside its items fits kListReplyReserve: the
// longest page token of a tenant id, or both omitted counts at their largest.
TEST(ReplySize, TheListReserveHoldsTheFixedFields) {
  const std::string token = EncodeIdPageToken(~uint64_t{0}, std::string(kMaxTenantIdLength, 'z'));
  v1::GetMigrationStatusResponse status;
  status.set_next_page_token(token);
  EXPECT_LE(static_cast<int64_t>(status.ByteSizeLong()), kListReplyReserve);
  v1::ListTenantsResponse tenants;
  tenants.set_next_page_token(token);
  EXPECT_LE(static_cast<int64_t>(tenants.ByteSizeLong()), kListReplyReserve);
  v1::MigrationPlanResponse plan;
  plan.set_omitted_steps(std::numeric_limits<int64_t>::max());
  plan.set_omitted_errors(std::numeric_limits<int64_t>::max());
  EXPECT_LE(static_cast<int64_t>(plan.ByteSizeLong()), kListReplyReserve);
}

// At the smallest message limit (8192), the first item of every listing
// fits its budget, so a listing always makes progress: the largest step (a
// file name is at most 255 bytes), the longest listed error (errors take
// half of a plan's budget) and the largest tenant.
TEST(ReplySize, TheFirstItemOfEveryListingFitsTheSmallestMessage) {
  const int64_t budget = 8192 - kListReplyReserve;
  const std::string target = migrate::TenantTarget(std::string(kMaxTenantIdLength, 'z'));
  EXPECT_LE(FieldBytes(MigrationStepReplyBytes(target, std::string(255, 'n'))), budget);
  EXPECT_LE(FieldBytes(static_cast<int64_t>(kMaxListedErrorBytes)), budget / 2);
  EXPECT_LE(FieldBytes(TenantReplyBytes(std::string(kMaxTenantIdLength, 'z'), std::string(core::kMaxDisplayName, 'd'))),
            budget);
}

}  // namespace
}  // namespace datagate
