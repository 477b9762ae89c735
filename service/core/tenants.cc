#include "core/tenants.h"

#include <chrono>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/errors.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "core/data.h"
#include "core/page_token.h"

namespace datagate::core {
namespace {

constexpr size_t kMaxDisplayName = 200;
constexpr uint64_t kTenantListFingerprint = 0x7465'6e61'6e74'7321ull;

}  // namespace

absl::Status Tenants::ValidateId(absl::string_view id) {
  if (id.empty()) return errors::InvalidTenantId(id, "it is empty");
  if (id.size() < 2 || id.size() > 63) return errors::InvalidTenantId(id, "it must be 2 to 63 characters long");
  if (!absl::ascii_islower(id.front())) return errors::InvalidTenantId(id, "it must start with a lowercase letter");
  if (id.back() == '-') return errors::InvalidTenantId(id, "it must not end with '-'");
  for (const char c : id) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '-') {
      return errors::InvalidTenantId(id, "only lowercase letters, digits and '-' are allowed");
    }
  }
  return absl::OkStatus();
}

TenantInfo Tenants::Describe(store::TenantRecord record) {
  TenantInfo info;
  info.schema_version = record.schema_version;
  info.record = std::move(record);
  return info;
}

namespace {
absl::StatusOr<int64_t> CurrentVersion(store::Database& db) {
  ASSIGN_OR_RETURN(const std::vector<store::AppliedMigration> applied, db.ListApplied());
  return applied.empty() ? 0 : applied.back().version;
}
}  // namespace

absl::Status Tenants::RecordSchemaVersion(const std::string& id, store::Database& db) {
  ASSIGN_OR_RETURN(const int64_t version, CurrentVersion(db));
  // Every start records every tenant: skip the master write (an fsync under
  // FULL) when nothing changed.
  ASSIGN_OR_RETURN(const std::optional<store::TenantRecord> record, store_->LookupTenant(id));
  if (record && record->schema_version == version) return absl::OkStatus();
  return store_->SetTenantSchemaVersion(id, version);
}

absl::StatusOr<TenantInfo> Tenants::Create(const std::string& id, const std::string& display_name,
                                           const std::string& request_id) {
  RETURN_IF_ERROR(ValidateId(id));
  RETURN_IF_ERROR(ValidateRequestId(request_id));
  if (display_name.size() > kMaxDisplayName) {
    return errors::InvalidField("display_name", absl::StrCat("is ", display_name.size(), " characters; at most ",
                                                             kMaxDisplayName, " are allowed"));
  }
  absl::MutexLock lock(&admin_mu_);
  ASSIGN_OR_RETURN(std::optional<store::TenantRecord> existing, store_->LookupTenant(id));
  if (existing) {
    if (!request_id.empty() && existing->request_id == request_id) return Describe(*std::move(existing));
    return errors::TenantExists(id);
  }
  ASSIGN_OR_RETURN(std::shared_ptr<store::Database> db, store_->CreateTenantDatabase(id));
  RETURN_IF_ERROR(migrator_->ApplyAll(TargetName(id), *db));
  ASSIGN_OR_RETURN(const int64_t version, CurrentVersion(*db));
  store::TenantRecord record{id, display_name, request_id, NowMicros(), version};
  RETURN_IF_ERROR(store_->RegisterTenant(record));
  spdlog::info("tenant '{}' created", id);
  return Describe(std::move(record));
}

absl::StatusOr<TenantInfo> Tenants::Get(const std::string& id) {
  RETURN_IF_ERROR(ValidateId(id));
  ASSIGN_OR_RETURN(std::optional<store::TenantRecord> record, store_->LookupTenant(id));
  if (!record) return errors::UnknownTenant(id);
  return Describe(*std::move(record));
}

absl::StatusOr<TenantPage> Tenants::List(int page_size, const std::string& page_token) {
  if (page_size < 0) return errors::InvalidField("page_size", "must not be negative");
  if (page_size > kMaxPageSize) return errors::TooLarge("page_size", page_size, kMaxPageSize);
  const int limit = page_size == 0 ? kDefaultPageSize : page_size;
  std::string after;
  if (!page_token.empty()) {
    ASSIGN_OR_RETURN(std::vector<Value> cursor, DecodePageToken(page_token, kTenantListFingerprint));
    if (cursor.size() != 1 || !std::holds_alternative<std::string>(cursor[0])) {
      return errors::MalformedPageToken("it does not fit this list");
    }
    after = std::get<std::string>(cursor[0]);
  }
  ASSIGN_OR_RETURN(std::vector<store::TenantRecord> records, store_->ListTenants(after, limit + 1));
  TenantPage page;
  if (static_cast<int>(records.size()) > limit) {
    records.resize(limit);
    page.next_page_token = EncodePageToken(kTenantListFingerprint, {Value{records.back().id}});
  }
  for (store::TenantRecord& r : records) page.tenants.push_back(Describe(std::move(r)));
  return page;
}

absl::Status Tenants::Delete(const std::string& id) {
  RETURN_IF_ERROR(ValidateId(id));
  absl::MutexLock lock(&admin_mu_);
  RETURN_IF_ERROR(store_->DeleteTenant(id));
  spdlog::info("tenant '{}' deleted", id);
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<store::Database>> Tenants::Open(const std::string& id) {
  RETURN_IF_ERROR(ValidateId(id));
  return store_->TenantDatabase(id);
}

absl::StatusOr<std::vector<std::string>> Tenants::AllIds() {
  std::vector<std::string> ids;
  std::string after;
  while (true) {
    ASSIGN_OR_RETURN(std::vector<store::TenantRecord> batch, store_->ListTenants(after, 500));
    for (const auto& r : batch) ids.push_back(r.id);
    if (batch.size() < 500) return ids;
    after = batch.back().id;
  }
}

}  // namespace datagate::core
