#include "server/file_budget.h"

#include <sys/resource.h>

#include <algorithm>

#include "common/errors.h"

namespace datagate::server {

namespace {

int64_t Soft(const rlimit& limit) {
  return limit.rlim_cur == RLIM_INFINITY ? INT64_MAX : static_cast<int64_t>(limit.rlim_cur);
}

}  // namespace

int64_t FileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  return Soft(limit);
}

int64_t RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return FileLimit();
  if (limit.rlim_cur != limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return Soft(limit);
}

absl::StatusOr<FileBudget> PlanFiles(int64_t file_limit, int64_t files_per_database, int max_open_tenants) {
  FileBudget b;
  b.file_limit = file_limit;
  b.files_per_tenant = files_per_database;
  b.reserved = 32 + files_per_database + std::max<int64_t>(32, file_limit / 4);
  const int64_t fit = (file_limit - b.reserved) / files_per_database;
  if (fit < 1) {
    return errors::TooFewFiles(file_limit, b.reserved + files_per_database);
  }
  b.max_open_tenants = static_cast<int>(std::min<int64_t>(fit, max_open_tenants));
  return b;
}

}  // namespace datagate::server
