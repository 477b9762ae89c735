// The rule for tenant ids, checked at every layer that uses one (the store
// builds file names from them).
#ifndef DATAGATE_COMMON_TENANT_ID_H_
#define DATAGATE_COMMON_TENANT_ID_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace datagate {

inline constexpr size_t kMaxTenantIdLength = 63;

// OK for 2 to 63 characters of lowercase letters, digits and '-', starting
// with a letter and not ending with '-'; else INVALID_ARGUMENT saying why.
absl::Status ValidateTenantId(absl::string_view id);

}  // namespace datagate

#endif  // DATAGATE_COMMON_TENANT_ID_H_
