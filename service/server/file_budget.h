// How many tenant databases the process's open-file limit can hold, so that
// --max_open_tenants never promises more files than the kernel will give.
#ifndef DATAGATE_SERVER_FILE_BUDGET_H_
#define DATAGATE_SERVER_FILE_BUDGET_H_

#include <cstdint>

#include "absl/status/statusor.h"

namespace datagate::server {

struct FileBudget {
  int64_t file_limit = 0;        // RLIMIT_NOFILE (soft)
  int64_t files_per_tenant = 0;  // an open database with every reader open
  int64_t reserved = 0;          // master database, gRPC, client connections
  int max_open_tenants = 0;      // what fits, at most what was asked for
};

// The soft RLIMIT_NOFILE now in force.
int64_t FileLimit();

// Raises the soft RLIMIT_NOFILE to the hard limit (as far as the kernel
// allows) and returns the soft limit now in force.
int64_t RaiseFileLimit();

// The budget for `file_limit` descriptors. Each open database takes
// `files_per_database`; the master database and a share for gRPC's sockets
// (a quarter of the limit, at least 32, plus 32 of its own) are kept aside.
// FAILED_PRECONDITION, saying what to raise, if not even one tenant fits.
absl::StatusOr<FileBudget> PlanFiles(int64_t file_limit, int64_t files_per_database, int max_open_tenants);

}  // namespace datagate::server

#endif  // DATAGATE_SERVER_FILE_BUDGET_H_
