// RETURN_IF_ERROR / ASSIGN_OR_RETURN: Debian's abseil (20220623) has none.
#ifndef DATAGATE_COMMON_STATUS_MACROS_H_
#define DATAGATE_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define DG_CONCAT_INNER_(a, b) a##b
#define DG_CONCAT_(a, b) DG_CONCAT_INNER_(a, b)

// Returns the status of `expr` from the calling function when it is not OK.
#define RETURN_IF_ERROR(expr)                                                  \
  do {                                                                         \
    if (absl::Status dg_status_ = (expr); !dg_status_.ok()) return dg_status_; \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, F())` declares x from an OK StatusOr, or returns
// its status from the calling function.
#define ASSIGN_OR_RETURN(lhs, expr) ASSIGN_OR_RETURN_IMPL_(DG_CONCAT_(dg_statusor_, __LINE__), lhs, expr)

#define ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr)   \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return std::move(tmp).status(); \
  lhs = std::move(tmp).value()

#endif  // DATAGATE_COMMON_STATUS_MACROS_H_
