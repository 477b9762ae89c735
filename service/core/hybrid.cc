#include "core/hybrid.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"

namespace datagate::core {

absl::string_view WriteModeName(WriteMode m) {
  switch (m) {
    case WriteMode::kUnspecified:
      return "WRITE_MODE_UNSPECIFIED";
    case WriteMode::kLocalOnly:
      return "LOCAL_ONLY";
    case WriteMode::kLocalFirst:
      return "LOCAL_FIRST";
    case WriteMode::kWriteThrough:
      return "WRITE_THROUGH";
    case WriteMode::kCloudOnly:
      return "CLOUD_ONLY";
  }
  return "unknown";
}

// How long the cloud part of a call without a deadline may take (CLOUD
// reads and CLOUD_ONLY writes: Limits::cloud_without_deadline).
constexpr absl::Duration kOptionalCloudWithoutDeadline = absl::Seconds(5);  // CLOUD_IF_AVAILABLE reads
constexpr absl::Duration kPushWithoutDeadline = absl::Seconds(10);          // WRITE_THROUGH's push

absl::Time AnswerBy(absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) return deadline;
  const absl::Duration left = deadline - absl::Now();
  if (left <= absl::Milliseconds(2500)) return deadline - left / 10;
  return deadline - std::clamp(left / 100, absl::Milliseconds(250), absl::Seconds(2));
}

// How long a cloud call may take. CLOUD (and CLOUD_ONLY): until the
// gateway must answer (AnswerBy), so a slow cloud gets the gateway's own
// DEADLINE_EXCEEDED, not the client's; without a deadline a bounded time
// (`without`) all the same, so that no call waits for the cloud (a row
// locked there, a hung server) forever, and with it a delete of the
// tenant. CLOUD_IF_AVAILABLE: half of that, so a slow cloud leaves time to
// read locally.
absl::Time CloudDeadline(absl::Time deadline, bool leave_time_for_local, absl::Duration without) {
  const absl::Time now = absl::Now();
  if (deadline == absl::InfiniteFuture()) {
    return now + (leave_time_for_local ? std::min(kOptionalCloudWithoutDeadline, without) : without);
  }
  if (!leave_time_for_local) return AnswerBy(deadline);
  const absl::Time by = AnswerBy(deadline);
  return by <= now ? by : now + (by - now) / 2;
}

// A cloud call of a request that set no deadline, out of the time the
// gateway gave it: the error names that time, not a deadline of the call.
absl::Status OutOfGatewayTime(absl::Status status, absl::Time request_deadline, absl::Duration given) {
  if (request_deadline != absl::InfiniteFuture() || status.code() != absl::StatusCode::kDeadlineExceeded) {
    return status;
  }
  return errors::CloudTimeWithoutDeadline(status, given);
}

// Whether a CLOUD_IF_AVAILABLE read that failed this way reads locally: the
// cloud is down or too slow for the call.
bool LocalInstead(const absl::Status& s) {
  return s.code() == absl::StatusCode::kUnavailable || s.code() == absl::StatusCode::kDeadlineExceeded;
}

absl::StatusOr<std::shared_ptr<store::Database>> Hybrid::Cloud(const std::string& tenant, absl::Time deadline) {
  // The tenant must be registered here: the cloud has no registry of its
  // own. It is served through its local schema, as the local store serves it.
  ASSIGN_OR_RETURN(std::shared_ptr<store::Database> local, tenants_->Open(tenant, deadline));
  return cloud_->Tenant(tenant, local->GetCatalog());
}

absl::StatusOr<WriteOutcome> Hybrid::Write(const std::string& tenant, WriteMode mode, const WriteRequest& request) {
  mode = Resolve(mode);
  const bool needs_cloud = mode != WriteMode::kLocalOnly;
  if (needs_cloud && cloud_ == nullptr) {
    return errors::CloudNotConfigured(absl::StrCat("write_mode ", WriteModeName(mode)));
  }
  // PostgreSQL text cannot hold a NUL character (it would be cut there):
  // refused before anything is written. The local store refuses to queue a
  // row holding one (sqlite's Enqueue), be it from this write or not.
  if (mode == WriteMode::kCloudOnly) {
    for (size_t i = 0; i < request.specs.size(); ++i) {
      for (const Field& f : request.specs[i].fields) {
        const std::string* text = std::get_if<std::string>(&f.value);
        if (text == nullptr || text->find('\0') == std::string::npos) continue;
        const absl::Status refused = errors::NulInCloudText(request.specs[i].table, f.column);
        return request.specs.size() > 1 ? errors::InOperation(static_cast<int64_t>(i), refused) : refused;
      }
    }
  }
  WriteOutcome out;
  if (mode == WriteMode::kCloudOnly) {
    ASSIGN_OR_RETURN(std::shared_ptr<store::Database> local, tenants_->Open(tenant, request.deadline));
    // Until the cloud has answered, the tenant's delete waits: the write
    // cannot land after the tenant's cloud rows went.
    ASSIGN_OR_RETURN(const store::DatabaseHold hold, local->Hold());
    ASSIGN_OR_RETURN(std::shared_ptr<store::Database> db, cloud_->Tenant(tenant, local->GetCatalog()));
    WriteRequest cloud_request = request;
    cloud_request.deadline = CloudDeadline(request.deadline, false, limits_.cloud_without_deadline);
    absl::StatusOr<std::vector<StoredRow>> rows = core::Write(*db, cloud_request, limits_);
    if (!rows.ok()) return OutOfGatewayTime(rows.status(), request.deadline, limits_.cloud_without_deadline);
    out.rows = *std::move(rows);
    out.sync.assign(out.rows.size(), CloudSync::kApplied);
    return out;
  }
  ASSIGN_OR_RETURN(std::shared_ptr<store::Database> db, tenants_->Open(tenant, request.deadline));
  WriteRequest local = request;
  std::vector<int64_t> seqs;
  local.enqueue = mode != WriteMode::kLocalOnly;
  local.enqueued = &seqs;
  ASSIGN_OR_RETURN(out.rows, core::Write(*db, local, limits_));
  // Committed: from here on only the answer remains, never an error.
  if (!local.enqueue) {
    out.sync.assign(out.rows.size(), CloudSync::kNone);
    return out;
  }
  out.sync.assign(out.rows.size(), CloudSync::kQueued);
  if (seqs.empty()) return out;  // a replay: its entries were queued the first time
  // Every entry counts, those of rows that triggers and foreign-key actions
  // changed too (they follow the ops' own).
  sync_->Committed(tenant, *std::max_element(seqs.begin(), seqs.end()), static_cast<int64_t>(seqs.size()));
  if (mode == WriteMode::kWriteThrough && sync_->CloudUp()) {
    // Stop in time for the answer to reach the caller.
    const absl::Time now = absl::Now();
    const absl::Time push_deadline =
        request.deadline == absl::InfiniteFuture() ? now + kPushWithoutDeadline : AnswerBy(request.deadline);
    if (push_deadline > now) {
      // The ops' own entries come first, then those of rows that triggers
      // and foreign-key actions changed: they are part of the write, so an
      // op answers APPLIED only once they are applied too. Which op caused
      // which is not known, so in a batch one holds back every APPLIED.
      std::vector<CloudSync> states = sync_->PushNow(tenant, seqs, push_deadline);
      const size_t own = std::min(states.size(), out.rows.size());
      std::copy(states.begin(), states.begin() + static_cast<std::ptrdiff_t>(own), out.sync.begin());
      // The least settled of the caused entries: still queued, then dead,
      // then a conflict.
      auto rank = [](CloudSync c) {
        return c == CloudSync::kQueued ? 3 : c == CloudSync::kDead ? 2 : c == CloudSync::kConflict ? 1 : 0;
      };
      CloudSync caused = CloudSync::kApplied;
      for (size_t i = own; i < states.size(); ++i) {
        if (rank(states[i]) > rank(caused)) caused = states[i];
      }
      for (CloudSync& s : out.sync) {
        if (s == CloudSync::kApplied) s = caused;
      }
    }
  }
  return out;
}

absl::StatusOr<bool> Hybrid::UseCloud(ReadSource source) const {
  switch (source) {
    case ReadSource::kUnspecified:
    case ReadSource::kLocal:
      return false;
    case ReadSource::kCloud:
      if (cloud_ == nullptr) return errors::CloudNotConfigured("read_source CLOUD");
      return true;
    case ReadSource::kCloudIfAvailable:
      return cloud_ != nullptr && sync_->CloudUp();
  }
  return false;
}

absl::StatusOr<StoredRow> Hybrid::Get(const std::string& tenant, ReadSource source, const GetSpec& spec) {
  ASSIGN_OR_RETURN(const bool cloud, UseCloud(source));
  if (cloud) {
    const bool optional = source == ReadSource::kCloudIfAvailable;
    GetSpec cloud_spec = spec;
    cloud_spec.deadline = CloudDeadline(spec.deadline, optional, limits_.cloud_without_deadline);
    absl::StatusOr<std::shared_ptr<store::Database>> db = Cloud(tenant, cloud_spec.deadline);
    absl::StatusOr<StoredRow> row = db.ok() ? GetRow(**db, cloud_spec, limits_) : db.status();
    if (row.ok()) return row;
    if (!optional || !LocalInstead(row.status())) {
      return OutOfGatewayTime(row.status(), spec.deadline, limits_.cloud_without_deadline);
    }
  }
  ASSIGN_OR_RETURN(std::shared_ptr<store::Database> db, tenants_->Open(tenant, spec.deadline));
  return GetRow(*db, spec, limits_);
}

absl::StatusOr<ListPage> Hybrid::List(const std::string& tenant, ReadSource source, ListSpec spec) {
  ASSIGN_OR_RETURN(const bool cloud, UseCloud(source));
  if (cloud) {
    const bool optional = source == ReadSource::kCloudIfAvailable;
    ListSpec cloud_spec = spec;
    cloud_spec.token_scope = "cloud";
    cloud_spec.deadline = CloudDeadline(spec.deadline, optional, limits_.cloud_without_deadline);
    absl::StatusOr<std::shared_ptr<store::Database>> db = Cloud(tenant, cloud_spec.deadline);
    absl::StatusOr<ListPage> page = db.ok() ? ListRows(**db, cloud_spec, limits_) : db.status();
    if (page.ok()) return page;
    if (!optional || !LocalInstead(page.status())) {
      return OutOfGatewayTime(page.status(), spec.deadline, limits_.cloud_without_deadline);
    }
  }
  ASSIGN_OR_RETURN(std::shared_ptr<store::Database> db, tenants_->Open(tenant, spec.deadline));
  return ListRows(*db, spec, limits_);
}

}  // namespace datagate::core
