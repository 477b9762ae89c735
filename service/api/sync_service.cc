#include "api/sync_service.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "api/convert.h"
#include "api/status.h"
#include "common/clock.h"
#include "common/errors.h"
#include "common/hash.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "core/data.h"
#include "store/outbox.h"

namespace datagate::api {
namespace {

constexpr int kDefaultPage = 50;
constexpr int kMaxPage = 1000;
constexpr int kMaxSeqs = 1000;
constexpr size_t kMaxTenantsListed = 1000;

absl::StatusOr<std::optional<store::OutboxState>> StateOf(v1::SyncOperation::State s, absl::string_view field) {
  switch (s) {
    case v1::SyncOperation::STATE_UNSPECIFIED:
      return std::nullopt;
    case v1::SyncOperation::PENDING:
      return store::OutboxState::kPending;
    case v1::SyncOperation::DEAD_LETTERED:
      return store::OutboxState::kDead;
    case v1::SyncOperation::CONFLICT:
      return store::OutboxState::kConflict;
    default:
      return errors::UnknownEnumValue(field, static_cast<int>(s));
  }
}

v1::SyncOperation::State ToProto(store::OutboxState s) {
  switch (s) {
    case store::OutboxState::kPending:
      return v1::SyncOperation::PENDING;
    case store::OutboxState::kDead:
      return v1::SyncOperation::DEAD_LETTERED;
    case store::OutboxState::kConflict:
      return v1::SyncOperation::CONFLICT;
  }
  return v1::SyncOperation::STATE_UNSPECIFIED;
}

void SetDuration(int64_t us, google::protobuf::Duration* out) {
  out->set_seconds(us / 1000000);
  out->set_nanos(static_cast<int32_t>((us % 1000000) * 1000));
}

void ToProto(const sync::TenantStats& s, int64_t now, v1::TenantSyncStats* out) {
  out->set_tenant_id(s.tenant);
  out->set_depth(s.pending);
  if (s.oldest_pending_us > 0)
    SetDuration(std::max<int64_t>(0, now - s.oldest_pending_us), out->mutable_oldest_pending_age());
  out->set_in_flight(s.in_flight);
  out->set_retrying(s.retrying);
  out->set_dead_lettered(s.dead);
  out->set_conflicts(s.conflicts);
  out->set_applied(s.applied);
}

// Page tokens: "<state>.<seq>.<tenant hash>", so a token is refused for
// another tenant or state.
std::string TokenOf(const std::string& tenant, int state, int64_t seq) {
  return absl::StrCat(state, ".", seq, ".", absl::Hex(Fnv1a64(tenant)));
}

absl::StatusOr<int64_t> SeqOfToken(const std::string& token, const std::string& tenant, int state) {
  if (token.empty()) return 0;
  std::vector<std::string> parts = absl::StrSplit(token, '.');
  int64_t seq = 0;
  if (parts.size() != 3 || !absl::SimpleAtoi(parts[1], &seq) || seq < 0) {
    return errors::MalformedPageToken("it is not a token this call gave");
  }
  if (parts[0] != std::to_string(state) || parts[2] != absl::StrCat(absl::Hex(Fnv1a64(tenant)))) {
    return errors::MalformedPageToken("it was made for another tenant or state");
  }
  return seq;
}

bool IsAdmin(const grpc::ServerContext& ctx) {
  const auto range = ctx.client_metadata().equal_range("x-datagate-admin");
  for (auto it = range.first; it != range.second; ++it) {
    if (absl::string_view(it->second.data(), it->second.size()) == "true") return true;
  }
  return false;
}

absl::Status CheckSeqs(const google::protobuf::RepeatedField<int64_t>& seqs) {
  if (seqs.size() > kMaxSeqs) return errors::TooLarge("seqs", seqs.size(), kMaxSeqs);
  for (int64_t s : seqs) {
    if (s <= 0) return errors::InvalidField("seqs", "must hold positive seqs from ListSyncOperations");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<store::Database>> SyncServiceImpl::Queue(const std::string& tenant,
                                                                        absl::Time deadline) {
  if (tenant.empty()) return errors::InvalidField("tenant_id", "is required");
  return hybrid_->Local(tenant, deadline);
}

void SyncServiceImpl::FillStats(const std::optional<std::string>& tenant, v1::SyncStats* out) const {
  sync::Stats stats = engine_->GetStats(tenant);
  const int64_t now = NowMicros();
  ToProto(stats.total, now, out->mutable_total());
  // The deepest first; tenants with nothing to show are left out.
  std::vector<const sync::TenantStats*> shown;
  for (const sync::TenantStats& t : stats.tenants) {
    if (t.pending || t.dead || t.conflicts || t.in_flight || tenant) shown.push_back(&t);
  }
  std::sort(shown.begin(), shown.end(), [](auto* a, auto* b) { return a->pending > b->pending; });
  if (shown.size() > kMaxTenantsListed) shown.resize(kMaxTenantsListed);
  for (const sync::TenantStats* t : shown) ToProto(*t, now, out->add_tenants());
  out->set_applied_per_second(stats.applied_per_second);
  switch (stats.breaker) {
    case sync::BreakerState::kClosed:
      out->set_breaker(v1::SyncStats::CLOSED);
      break;
    case sync::BreakerState::kOpen:
      out->set_breaker(v1::SyncStats::OPEN);
      break;
    case sync::BreakerState::kHalfOpen:
      out->set_breaker(v1::SyncStats::HALF_OPEN);
      break;
  }
  out->set_paused(stats.paused);
  out->set_counters_loaded(stats.counters_loaded);
  out->set_cloud_schema_version(stats.cloud_schema_version);
}

grpc::Status SyncServiceImpl::GetSyncStats(grpc::ServerContext* ctx, const v1::GetSyncStatsRequest* req,
                                           v1::SyncStats* resp) {
  if (engine_ == nullptr) return ToGrpcStatus(errors::CloudNotConfigured("SyncService"));
  std::optional<std::string> tenant;
  if (!req->tenant_id().empty()) {
    absl::Status known = Queue(req->tenant_id(), DeadlineOf(*ctx)).status();
    if (!known.ok()) return ToGrpcStatus(known);
    tenant = req->tenant_id();
  }
  FillStats(tenant, resp);
  return grpc::Status::OK;
}

grpc::Status SyncServiceImpl::ListSyncOperations(grpc::ServerContext* ctx, const v1::ListSyncOperationsRequest* req,
                                                 v1::ListSyncOperationsResponse* resp) {
  if (engine_ == nullptr) return ToGrpcStatus(errors::CloudNotConfigured("SyncService"));
  const absl::Time deadline = DeadlineOf(*ctx);
  absl::StatusOr<std::optional<store::OutboxState>> state = StateOf(req->state(), "state");
  if (!state.ok()) return ToGrpcStatus(state.status());
  if (req->page_size() < 0) return ToGrpcStatus(errors::InvalidField("page_size", "must not be negative"));
  if (req->page_size() > kMaxPage) return ToGrpcStatus(errors::TooLarge("page_size", req->page_size(), kMaxPage));
  const int limit = req->page_size() == 0 ? kDefaultPage : req->page_size();
  absl::StatusOr<int64_t> after = SeqOfToken(req->page_token(), req->tenant_id(), static_cast<int>(req->state()));
  if (!after.ok()) return ToGrpcStatus(after.status());
  absl::StatusOr<std::shared_ptr<store::Database>> db = Queue(req->tenant_id(), deadline);
  if (!db.ok()) return ToGrpcStatus(db.status());
  store::Outbox* outbox = (*db)->outbox();
  if (outbox == nullptr) return grpc::Status::OK;
  absl::StatusOr<std::vector<store::OutboxEntry>> entries = outbox->ListEntries(*state, *after, limit + 1, deadline);
  if (!entries.ok()) return ToGrpcStatus(entries.status());
  const bool more = static_cast<int>(entries->size()) > limit;
  if (more) entries->pop_back();
  // The page ends early rather than past the reply limit.
  const int64_t budget = max_reply_bytes_ - core::kReplyReserve;
  int64_t last_seq = 0;
  bool cut = false;
  for (const store::OutboxEntry& e : *entries) {
    v1::SyncOperation op;
    op.set_tenant_id(req->tenant_id());
    op.set_seq(e.seq);
    op.set_table(e.table);
    for (const Field& f : e.key) api::ToProto(f.value, &(*op.mutable_key()->mutable_fields())[f.column]);
    op.set_delete_(e.deleted);
    op.set_version(e.version);
    op.set_schema_version(e.schema_version);
    op.set_state(ToProto(e.state));
    op.set_attempts(e.attempts);
    SetTimestamp(e.create_us, op.mutable_create_time());
    if (e.next_attempt_us > 0) SetTimestamp(e.next_attempt_us, op.mutable_next_attempt_time());
    op.set_last_error(e.last_error);
    op.set_cloud_version(e.cloud_version);
    if (last_seq != 0 && static_cast<int64_t>(resp->ByteSizeLong() + op.ByteSizeLong()) + 64 > budget) {
      cut = true;
      break;
    }
    *resp->add_operations() = std::move(op);
    last_seq = e.seq;
  }
  if ((more || cut) && last_seq != 0) {
    resp->set_next_page_token(TokenOf(req->tenant_id(), static_cast<int>(req->state()), last_seq));
  }
  return grpc::Status::OK;
}

grpc::Status SyncServiceImpl::RetrySyncOperations(grpc::ServerContext* ctx, const v1::RetrySyncOperationsRequest* req,
                                                  v1::RetrySyncOperationsResponse* resp) {
  if (engine_ == nullptr) return ToGrpcStatus(errors::CloudNotConfigured("SyncService"));
  const absl::Time deadline = DeadlineOf(*ctx);
  if (absl::Status s = CheckSeqs(req->seqs()); !s.ok()) return ToGrpcStatus(s);
  absl::StatusOr<std::shared_ptr<store::Database>> db = Queue(req->tenant_id(), deadline);
  if (!db.ok()) return ToGrpcStatus(db.status());
  if ((*db)->outbox() == nullptr) return grpc::Status::OK;
  const std::vector<int64_t> seqs(req->seqs().begin(), req->seqs().end());
  absl::StatusOr<int64_t> n = (*db)->outbox()->RetryDead(seqs, deadline);
  if (!n.ok()) return ToGrpcStatus(n.status());
  engine_->Reload(req->tenant_id(), deadline);
  resp->set_retried(*n);
  return grpc::Status::OK;
}

grpc::Status SyncServiceImpl::PurgeSyncOperations(grpc::ServerContext* ctx, const v1::PurgeSyncOperationsRequest* req,
                                                  v1::PurgeSyncOperationsResponse* resp) {
  if (engine_ == nullptr) return ToGrpcStatus(errors::CloudNotConfigured("SyncService"));
  if (!IsAdmin(*ctx)) return ToGrpcStatus(errors::AdminOnly("PurgeSyncOperations"));
  const absl::Time deadline = DeadlineOf(*ctx);
  absl::StatusOr<std::optional<store::OutboxState>> state = StateOf(req->state(), "state");
  if (!state.ok()) return ToGrpcStatus(state.status());
  if (!*state) {
    return ToGrpcStatus(errors::InvalidField("state", "is required: PENDING, DEAD_LETTERED or CONFLICT"));
  }
  if (absl::Status s = CheckSeqs(req->seqs()); !s.ok()) return ToGrpcStatus(s);
  absl::StatusOr<std::shared_ptr<store::Database>> db = Queue(req->tenant_id(), deadline);
  if (!db.ok()) return ToGrpcStatus(db.status());
  if ((*db)->outbox() == nullptr) return grpc::Status::OK;
  const std::vector<int64_t> seqs(req->seqs().begin(), req->seqs().end());
  absl::StatusOr<int64_t> n = (*db)->outbox()->Purge(**state, seqs, deadline);
  if (!n.ok()) return ToGrpcStatus(n.status());
  engine_->Reload(req->tenant_id(), deadline);
  resp->set_purged(*n);
  return grpc::Status::OK;
}

grpc::Status SyncServiceImpl::FlushSync(grpc::ServerContext* ctx, const v1::FlushSyncRequest* req,
                                        v1::FlushSyncResponse* resp) {
  if (engine_ == nullptr) return ToGrpcStatus(errors::CloudNotConfigured("SyncService"));
  const absl::Time deadline = DeadlineOf(*ctx);
  std::optional<std::string> tenant;
  if (!req->tenant_id().empty()) {
    absl::Status known = Queue(req->tenant_id(), deadline).status();
    if (!known.ok()) return ToGrpcStatus(known);
    tenant = req->tenant_id();
  }
  // Answer DEADLINE_EXCEEDED ourselves, before the caller's deadline, so
  // the caller gets the progress.
  const absl::Time wait_until = core::AnswerBy(deadline);
  int64_t settled = 0;
  absl::Status status = engine_->Flush(tenant, wait_until, &settled);
  if (!status.ok()) return ToGrpcStatus(status);
  resp->set_settled(settled);
  FillStats(tenant, resp->mutable_stats());
  return grpc::Status::OK;
}

grpc::Status SyncServiceImpl::PauseSync(grpc::ServerContext* ctx, const v1::PauseSyncRequest*, v1::SyncStats* resp) {
  if (engine_ == nullptr) return ToGrpcStatus(errors::CloudNotConfigured("SyncService"));
  // Paused at once; answers OK once the calls out have ended (each ends at
  // its own timeout), or DEADLINE_EXCEEDED (still paused) in time for the
  // caller's deadline if they have not.
  const absl::Status quiet =
      engine_->Pause(std::min(core::AnswerBy(DeadlineOf(*ctx)), absl::Now() + absl::Seconds(30)));
  if (!quiet.ok()) return ToGrpcStatus(quiet);
  FillStats(std::nullopt, resp);
  return grpc::Status::OK;
}

grpc::Status SyncServiceImpl::ResumeSync(grpc::ServerContext*, const v1::ResumeSyncRequest*, v1::SyncStats* resp) {
  if (engine_ == nullptr) return ToGrpcStatus(errors::CloudNotConfigured("SyncService"));
  engine_->Resume();
  FillStats(std::nullopt, resp);
  return grpc::Status::OK;
}

}  // namespace datagate::api
