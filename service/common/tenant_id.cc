#include "common/tenant_id.h"

#include "absl/strings/ascii.h"
#include "common/errors.h"

namespace datagate {

absl::Status ValidateTenantId(absl::string_view id) {
  if (id.empty()) return errors::InvalidTenantId(id, "it is empty");
  if (id.size() < 2 || id.size() > kMaxTenantIdLength)
    return errors::InvalidTenantId(id, "it must be 2 to 63 characters long");
  if (!absl::ascii_islower(id.front())) return errors::InvalidTenantId(id, "it must start with a lowercase letter");
  if (id.back() == '-') return errors::InvalidTenantId(id, "it must not end with '-'");
  for (const char c : id) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '-') {
      return errors::InvalidTenantId(id, "only lowercase letters, digits and '-' are allowed");
    }
  }
  return absl::OkStatus();
}

}  // namespace datagate
