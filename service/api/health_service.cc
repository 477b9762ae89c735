#include "api/health_service.h"

#include <atomic>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "api/status.h"
#include "common/errors.h"

namespace datagate::api {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// One open Watch stream. gRPC owns it until OnDone; the service holds extra
// references while it hands the watcher an update outside its own lock, so
// the watcher is deleted only when both are done with it.
//
// At most one write is in flight. An update that arrives meanwhile is kept
// as `pending_` and written when the write completes, unless it equals what
// was sent last. gRPC operations (StartWrite, Finish) are started with mu_
// released, since their reactions may run on the calling thread.
class HealthServiceImpl::Watcher final : public grpc::ServerWriteReactor<HealthCheckResponse> {
 public:
  Watcher(HealthServiceImpl* service, std::string service_name)
      : service_(service), service_name_(std::move(service_name)) {}

  const std::string& service_name() const { return service_name_; }
  void Ref() { refs_.fetch_add(1, std::memory_order_relaxed); }
  void Unref() {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  // Takes the status as of change number `change`; an older change than one
  // already taken is dropped. With `last`, the stream ends once it is sent.
  void Update(Status status, uint64_t change, bool last) {
    Action action;
    {
      absl::MutexLock lock(&mu_);
      if (change >= pending_change_) {
        pending_ = status;
        pending_change_ = change;
        has_pending_ = true;
      }
      if (last) end_ = ToGrpcStatus(errors::ShuttingDown());
      action = NextLocked();
    }
    Run(action);
  }

  // Ends the stream at once with `status` (a refused Watch).
  void Refuse(grpc::Status status) {
    {
      absl::MutexLock lock(&mu_);
      finished_ = true;
    }
    Finish(std::move(status));
  }

  void OnWriteDone(bool ok) override {
    Action action;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok && !end_.has_value()) end_ = ToGrpcStatus(errors::StreamBroken());
      action = NextLocked();
    }
    Run(action);
  }

  void OnCancel() override {
    Action action;
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
      action = NextLocked();
    }
    Run(action);
  }

  void OnDone() override {
    service_->RemoveWatcher(this);
    Unref();
  }

 private:
  enum class Action { kNone, kWrite, kFinish };

  Action NextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || finished_) return Action::kNone;
    if (cancelled_) {
      finished_ = true;
      finish_status_ = grpc::Status::CANCELLED;
      return Action::kFinish;
    }
    if (has_pending_ && (!has_sent_ || pending_ != sent_)) {
      sent_ = pending_;
      has_sent_ = true;
      response_.set_status(sent_);
      writing_ = true;
      return Action::kWrite;
    }
    if (end_.has_value()) {
      finished_ = true;
      finish_status_ = *end_;
      return Action::kFinish;
    }
    return Action::kNone;
  }

  // response_ and finish_status_ are not touched again once NextLocked has
  // handed them to gRPC: writing_ and finished_ guard them.
  void Run(Action action) {
    if (action == Action::kWrite) StartWrite(&response_);
    if (action == Action::kFinish) Finish(finish_status_);
  }

  HealthServiceImpl* const service_;
  const std::string service_name_;
  std::atomic<int> refs_{1};  // gRPC's, dropped in OnDone

  absl::Mutex mu_;
  Status pending_ ABSL_GUARDED_BY(mu_) = HealthCheckResponse::UNKNOWN;
  uint64_t pending_change_ ABSL_GUARDED_BY(mu_) = 0;
  bool has_pending_ ABSL_GUARDED_BY(mu_) = false;
  Status sent_ ABSL_GUARDED_BY(mu_) = HealthCheckResponse::UNKNOWN;
  bool has_sent_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> end_ ABSL_GUARDED_BY(mu_);
  HealthCheckResponse response_;
  grpc::Status finish_status_;
};

HealthServiceImpl::HealthServiceImpl(const std::vector<std::string>& services, Options options) : options_(options) {
  absl::MutexLock lock(&mu_);
  statuses_[""] = HealthCheckResponse::NOT_SERVING;
  for (const std::string& name : services) statuses_[name] = HealthCheckResponse::NOT_SERVING;
}

HealthServiceImpl::~HealthServiceImpl() = default;

HealthServiceImpl::Status HealthServiceImpl::StatusOfLocked(const std::string& service) const {
  auto it = statuses_.find(service);
  return it == statuses_.end() ? HealthCheckResponse::SERVICE_UNKNOWN : it->second;
}

void HealthServiceImpl::SetStatus(absl::string_view service, bool serving) {
  const Status status = serving ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING;
  std::vector<Watcher*> watchers;
  uint64_t change;
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_) return;
    auto [it, added] = statuses_.try_emplace(std::string(service), status);
    if (!added && it->second == status) return;
    it->second = status;
    change = ++changes_;
    for (Watcher* w : watchers_) {
      if (w->service_name() != service) continue;
      w->Ref();
      watchers.push_back(w);
    }
  }
  for (Watcher* w : watchers) {
    w->Update(status, change, /*last=*/false);
    w->Unref();
  }
}

void HealthServiceImpl::Shutdown() {
  std::vector<std::pair<Watcher*, Status>> watchers;
  uint64_t change;
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_) return;
    shut_down_ = true;
    for (auto& [name, status] : statuses_) status = HealthCheckResponse::NOT_SERVING;
    change = ++changes_;
    for (Watcher* w : watchers_) {
      w->Ref();
      watchers.emplace_back(w, StatusOfLocked(w->service_name()));
    }
  }
  for (auto& [w, status] : watchers) {
    w->Update(status, change, /*last=*/true);
    w->Unref();
  }
}

void HealthServiceImpl::RemoveWatcher(Watcher* watcher) {
  absl::MutexLock lock(&mu_);
  watchers_.erase(watcher);
}

grpc::ServerUnaryReactor* HealthServiceImpl::Check(grpc::CallbackServerContext* ctx, const HealthCheckRequest* req,
                                                   HealthCheckResponse* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  grpc::Status status;
  {
    absl::MutexLock lock(&mu_);
    auto it = statuses_.find(req->service());
    if (it == statuses_.end()) {
      status = ToGrpcStatus(errors::UnknownHealthService(req->service()));
    } else {
      resp->set_status(it->second);
    }
  }
  reactor->Finish(status);
  return reactor;
}

grpc::ServerWriteReactor<HealthCheckResponse>* HealthServiceImpl::Watch(grpc::CallbackServerContext* /*ctx*/,
                                                                        const HealthCheckRequest* req) {
  auto* watcher = new Watcher(this, req->service());
  Status status = HealthCheckResponse::UNKNOWN;
  uint64_t change = 0;
  bool last = false;
  bool refuse = false;
  {
    absl::MutexLock lock(&mu_);
    refuse = watchers_.size() >= static_cast<size_t>(options_.max_watchers);
    if (!refuse) {
      watchers_.insert(watcher);
      watcher->Ref();
      status = StatusOfLocked(req->service());
      change = changes_;
      last = shut_down_;
    }
  }
  if (refuse) {
    watcher->Refuse(ToGrpcStatus(errors::TooManyWatches(options_.max_watchers)));
    return watcher;
  }
  watcher->Update(status, change, last);
  watcher->Unref();
  return watcher;
}

}  // namespace datagate::api
