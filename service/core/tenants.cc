#include "core/tenants.h"

#include "common/clock.h"
#include "common/errors.h"
#include "common/logging.h"
#include "common/page_token.h"
#include "common/reply_size.h"
#include "common/status_macros.h"
#include "common/tenant_id.h"
#include "core/data.h"
#include "core/hybrid.h"

namespace datagate::core {
namespace {

constexpr uint64_t kTenantListFingerprint = 0x7465'6e61'6e74'7321ull;

}  // namespace

absl::StatusOr<store::TenantRecord> Tenants::AnswerExisting(const CreateTenantSpec& spec,
                                                            const store::TenantRecord& existing) {
  if (existing.deleting) return errors::TenantBeingDeleted(spec.id, /*creating=*/true);
  if (spec.request_id.empty() || existing.request_id != spec.request_id) return errors::TenantExists(spec.id);
  if (existing.display_name != spec.display_name) return errors::RequestIdReused(spec.request_id);
  return existing;
}

absl::StatusOr<store::TenantRecord> Tenants::Create(const CreateTenantSpec& spec) {
  RETURN_IF_ERROR(ValidateTenantId(spec.id));
  RETURN_IF_ERROR(ValidateRequestId(spec.request_id));
  if (spec.display_name.size() > kMaxDisplayName) {
    return errors::TooLong("display_name", static_cast<int64_t>(spec.display_name.size()), kMaxDisplayName);
  }
  ASSIGN_OR_RETURN(std::optional<store::TenantRecord> existing, store_->LookupTenant(spec.id, spec.deadline));
  if (existing) return AnswerExisting(spec, *existing);
  ASSIGN_OR_RETURN(std::optional<store::TenantRecord> same_request,
                   store_->LookupTenantByRequestId(spec.request_id, spec.deadline));
  if (same_request) return errors::RequestIdReused(spec.request_id);

  store::TenantRecord record{spec.id, spec.display_name, spec.request_id, NowMicros(), 0};
  absl::StatusOr<store::TenantRecord> created = store_->CreateTenant(
      record,
      [&](store::Database& db, store::TenantRecord* r) -> absl::Status {
        RETURN_IF_ERROR(provision_(spec.id, db, spec.deadline));
        ASSIGN_OR_RETURN(const std::vector<store::AppliedMigration> applied, db.ListApplied(spec.deadline));
        r->schema_version = applied.empty() ? 0 : applied.back().version;
        return absl::OkStatus();
      },
      spec.deadline);
  if (created.status().code() == absl::StatusCode::kAlreadyExists) {
    // Created by a concurrent call meanwhile: answer as if it came first.
    ASSIGN_OR_RETURN(existing, store_->LookupTenant(spec.id, spec.deadline));
    if (existing) return AnswerExisting(spec, *existing);
  }
  if (created.ok()) spdlog::info("tenant '{}' created", spec.id);
  return created;
}

absl::StatusOr<store::TenantRecord> Tenants::Get(const std::string& id, absl::Time deadline) {
  RETURN_IF_ERROR(ValidateTenantId(id));
  ASSIGN_OR_RETURN(std::optional<store::TenantRecord> record, store_->LookupTenant(id, deadline));
  if (!record) return errors::UnknownTenant(id);
  if (record->deleting) return errors::TenantBeingDeleted(id, /*creating=*/false);
  return *std::move(record);
}

absl::StatusOr<TenantPage> Tenants::List(int page_size, const std::string& page_token, absl::Time deadline) {
  if (page_size < 0) return errors::InvalidField("page_size", "must not be negative");
  if (page_size > kMaxPageSize) return errors::TooLarge("page_size", page_size, kMaxPageSize);
  const int limit = page_size == 0 ? kDefaultPageSize : page_size;
  std::string after;
  if (!page_token.empty()) {
    ASSIGN_OR_RETURN(after, DecodeIdPageToken(page_token, kTenantListFingerprint));
  }
  ASSIGN_OR_RETURN(std::vector<store::TenantRecord> records, store_->ListTenants(after, limit + 1, deadline));
  TenantPage page;
  int64_t bytes = 0;
  for (store::TenantRecord& record : records) {
    bytes += FieldBytes(TenantReplyBytes(record.id, record.display_name));
    const bool fits = page.tenants.empty() || bytes <= limits_.max_page_bytes;
    if (static_cast<int>(page.tenants.size()) == limit || !fits) {
      page.next_page_token = EncodeIdPageToken(kTenantListFingerprint, page.tenants.back().id);
      break;
    }
    page.tenants.push_back(std::move(record));
  }
  return page;
}

absl::Status Tenants::Delete(const std::string& id, absl::Time deadline) {
  RETURN_IF_ERROR(ValidateTenantId(id));
  if (cloud_ == nullptr) {
    RETURN_IF_ERROR(store_->DeleteTenant(id, deadline));
    spdlog::info("tenant '{}' deleted", id);
    return absl::OkStatus();
  }
  // The answer must reach the caller in time: a cloud delete that ends past
  // the deadline has deleted, and the caller would not know.
  const absl::Time by = AnswerBy(deadline);
  ASSIGN_OR_RETURN(const std::optional<store::TenantRecord> record, store_->LookupTenant(id, by));
  if (!record) return errors::UnknownTenant(id);
  // Nothing of the tenant is pushed from here on (a push under way ends,
  // and is recorded locally, first), so no row reaches the cloud after its
  // rows there went. The
  // cloud's rows go before the local data; if they cannot, the delete fails
  // whole and sync goes on. If the cloud's answer is lost, the tenant stays
  // unserved until a delete called again finishes (the store's mark).
  if (hold_sync_) RETURN_IF_ERROR(hold_sync_(id, by));
  const absl::Status deleted = store_->DeleteTenant(id, by, [&] {
    const absl::Status cloud = cloud_->DeleteTenantData(id, by);
    return cloud.code() == absl::StatusCode::kUnknown ? errors::TenantDeleteInDoubt(id) : cloud;
  });
  if (release_sync_) release_sync_(id, deleted.ok());
  RETURN_IF_ERROR(deleted);
  spdlog::info("tenant '{}' deleted", id);
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<store::Database>> Tenants::Open(const std::string& id, absl::Time deadline) {
  return store_->OpenTenant(id, deadline);
}

}  // namespace datagate::core
