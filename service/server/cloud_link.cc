#include "server/cloud_link.h"

#include <algorithm>

#include "common/errors.h"
#include "common/logging.h"

namespace datagate::server {
namespace {

// Failures a later attempt can fix: the cloud is down, starting,
// overloaded, slow, or lost a race with another replica's bootstrap.
bool Transient(absl::StatusCode code) {
  return code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kDeadlineExceeded ||
         code == absl::StatusCode::kAborted || code == absl::StatusCode::kUnknown;
}

}  // namespace

// The shared schema as a migration target: the connected store's, or the
// reason there is none yet.
class CloudLink::SchemaView final : public store::Database {
 public:
  explicit SchemaView(CloudLink* link) : link_(link) {}

  std::shared_ptr<const store::Catalog> GetCatalog() const override {
    if (store::CloudStore* c = link_->ready_.load(std::memory_order_acquire)) return c->Schema()->GetCatalog();
    static const auto* const kEmpty = new std::shared_ptr<const store::Catalog>(std::make_shared<store::Catalog>());
    return *kEmpty;
  }
  absl::StatusOr<std::optional<StoredRow>> Get(store::Planner<store::RowRead> plan, absl::Time deadline) override {
    if (store::CloudStore* c = Ready()) return c->Schema()->Get(plan, deadline);
    return link_->NotConnected(kWhat);
  }
  absl::StatusOr<store::QueryResult> List(store::Planner<store::Query> plan, absl::Time deadline) override {
    if (store::CloudStore* c = Ready()) return c->Schema()->List(plan, deadline);
    return link_->NotConnected(kWhat);
  }
  absl::StatusOr<std::vector<StoredRow>> Write(store::Planner<std::vector<store::WriteOp>> plan,
                                               const store::WriteOptions& options) override {
    if (store::CloudStore* c = Ready()) return c->Schema()->Write(plan, options);
    return link_->NotConnected(kWhat);
  }
  absl::StatusOr<int64_t> SaveCursor(const store::SavedCursor& cursor, absl::Time deadline) override {
    if (store::CloudStore* c = Ready()) return c->Schema()->SaveCursor(cursor, deadline);
    return link_->NotConnected(kWhat);
  }
  absl::StatusOr<std::optional<store::SavedCursor>> LoadCursor(int64_t id, absl::Time deadline) override {
    if (store::CloudStore* c = Ready()) return c->Schema()->LoadCursor(id, deadline);
    return link_->NotConnected(kWhat);
  }
  absl::StatusOr<std::vector<store::AppliedMigration>> ListApplied(absl::Time deadline) override {
    if (store::CloudStore* c = Ready()) return c->Schema()->ListApplied(deadline);
    return link_->NotConnected(kWhat);
  }
  absl::Status Migrate(const store::MigrationScript& script, absl::Time deadline) override {
    if (store::CloudStore* c = Ready()) return c->Schema()->Migrate(script, deadline);
    return link_->NotConnected(kWhat);
  }
  using Database::Get;
  using Database::List;
  using Database::Write;

 private:
  static constexpr char kWhat[] = "the migration target 'cloud'";
  store::CloudStore* Ready() const { return link_->ready_.load(std::memory_order_acquire); }
  CloudLink* const link_;
};

CloudLink::CloudLink(Options options, Connect connect, Prepare prepare)
    : options_(options),
      connect_(std::move(connect)),
      prepare_(std::move(prepare)),
      schema_(std::make_shared<SchemaView>(this)) {}

CloudLink::~CloudLink() { Stop(); }

absl::Status CloudLink::Start(std::function<void()> on_ready) {
  on_ready_ = std::move(on_ready);
  const absl::Time give_up = absl::Now() + options_.start_wait;
  thread_ = std::thread([this] { Loop(); });
  absl::Status failed;
  {
    absl::MutexLock lock(&mu_);
    struct FirstEnded {
      CloudLink* link;
      bool operator()() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(link->mu_) { return link->attempts_ > 0; }
    } first_ended{this};
    // A cloud that answered is waited for to the end (schema checks and
    // migrations, as before serving); one that does not, only so long.
    if (!mu_.AwaitWithDeadline(absl::Condition(&first_ended), give_up) && phase_ == Phase::kPreparing) {
      mu_.Await(absl::Condition(&first_ended));
    }
    start_returned_ = true;
    if (attempts_ == 0) {
      spdlog::warn(
          "cloud store: no answer within {} at start; serving without it (writes queue locally, cloud reads and "
          "writes answer UNAVAILABLE) and connecting in the background",
          absl::FormatDuration(options_.start_wait));
      return absl::OkStatus();
    }
    if (phase_ == Phase::kDone) return absl::OkStatus();
    if (error_.ok()) {
      spdlog::warn(
          "cloud store: cannot be reached at start; serving without it (writes queue locally, cloud reads and "
          "writes answer UNAVAILABLE) and connecting in the background, at most {} apart",
          absl::FormatDuration(options_.max_backoff));
      return absl::OkStatus();
    }
    failed = error_;
  }
  Stop();
  return failed;
}

void CloudLink::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void CloudLink::Loop() {
  absl::Duration backoff = options_.initial_backoff;
  while (true) {
    const absl::Status status = Attempt();
    if (status.ok()) {
      if (on_ready_) on_ready_();
      return;
    }
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    const bool transient = Transient(status.code());
    // An attempt that found the cloud unusable waits the longest: it takes
    // an operator to fix it.
    const absl::Duration next = transient ? backoff : options_.max_backoff;
    backoff = transient ? std::min(backoff * 2, options_.max_backoff) : options_.initial_backoff;
    error_ = transient ? absl::OkStatus() : status;
    ++attempts_;
    if (start_returned_) Report(status, next);
    struct Stopping {
      CloudLink* link;
      bool operator()() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(link->mu_) { return link->stopping_; }
    } stopping{this};
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping), next)) return;
  }
}

absl::Status CloudLink::Attempt() {
  absl::StatusOr<std::unique_ptr<store::CloudStore>> store = connect_();
  if (!store.ok()) return store.status();
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return errors::ShuttingDown();
    phase_ = Phase::kPreparing;
  }
  absl::Status prepared = prepare_(**store);
  absl::MutexLock lock(&mu_);
  if (!prepared.ok()) {
    phase_ = Phase::kConnecting;
    return prepared;
  }
  const bool late = start_returned_;
  store_ = *std::move(store);
  error_ = absl::OkStatus();
  phase_ = Phase::kDone;
  ++attempts_;
  ready_.store(store_.get(), std::memory_order_release);
  if (late) {
    spdlog::info(
        "cloud store: connected after start-up ({} failed attempt(s) before), schema version {}; queued "
        "writes sync now",
        attempts_ - 1, store_->SchemaVersion());
  } else {
    spdlog::info("cloud store: connected, schema version {}", store_->SchemaVersion());
  }
  return absl::OkStatus();
}

void CloudLink::Report(const absl::Status& status, absl::Duration next) {
  if (Transient(status.code())) {
    last_logged_.clear();
    spdlog::debug("cloud store: attempt {} to connect failed ({}); next in {}", attempts_, status.message(),
                  absl::FormatDuration(next));
    return;
  }
  const std::string text = status.ToString();
  if (text == last_logged_) {
    spdlog::debug("cloud store: still unusable ({}); next attempt in {}", text, absl::FormatDuration(next));
    return;
  }
  last_logged_ = text;
  spdlog::error(
      "cloud store: it answers but cannot be used: {}; it stays NOT_SERVING and cloud calls fail with this until "
      "it is fixed (next attempt in {})",
      text, absl::FormatDuration(next));
}

absl::Status CloudLink::NotConnected(absl::string_view what, absl::string_view instead) const {
  absl::MutexLock lock(&mu_);
  if (!error_.ok()) return error_;
  return errors::CloudNotConnectedYet(what, instead);
}

absl::StatusOr<std::shared_ptr<store::Database>> CloudLink::Tenant(const std::string& tenant_id,
                                                                   std::shared_ptr<const store::Catalog> local) {
  if (store::CloudStore* c = ready_.load(std::memory_order_acquire)) return c->Tenant(tenant_id, std::move(local));
  return NotConnected("cloud reads and writes", "use a local write mode or read source");
}

int64_t CloudLink::SchemaVersion() const {
  store::CloudStore* c = ready_.load(std::memory_order_acquire);
  return c != nullptr ? c->SchemaVersion() : -1;
}

absl::StatusOr<std::vector<store::SyncOutcome>> CloudLink::ApplySync(const std::string& tenant_id,
                                                                     const std::vector<store::SyncOp>& ops,
                                                                     absl::Time deadline) {
  if (store::CloudStore* c = ready_.load(std::memory_order_acquire)) return c->ApplySync(tenant_id, ops, deadline);
  return errors::CloudNotConnectedYet("pushing queued writes");
}

absl::Status CloudLink::DeleteTenantData(const std::string& tenant_id, absl::Time deadline) {
  if (store::CloudStore* c = ready_.load(std::memory_order_acquire)) return c->DeleteTenantData(tenant_id, deadline);
  return NotConnected("deleting a tenant (its cloud rows go with it)");
}

absl::Status CloudLink::Ping(absl::Time deadline) {
  if (store::CloudStore* c = ready_.load(std::memory_order_acquire)) return c->Ping(deadline);
  return errors::CloudNotConnectedYet("a ping");
}

}  // namespace datagate::server
