// spdlog, plus formatting of absl::string_view (Debian's abseil has its own
// string_view type, which fmt does not know).
#ifndef DATAGATE_COMMON_LOGGING_H_
#define DATAGATE_COMMON_LOGGING_H_

#include "absl/strings/string_view.h"
#include "spdlog/spdlog.h"

template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<fmt::string_view> {
  template <typename Context>
  auto format(absl::string_view s, Context& ctx) const {
    return fmt::formatter<fmt::string_view>::format(fmt::string_view(s.data(), s.size()), ctx);
  }
};

#endif  // DATAGATE_COMMON_LOGGING_H_
