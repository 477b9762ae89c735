// Wall-clock time as the gateway stores it.
#ifndef DATAGATE_COMMON_CLOCK_H_
#define DATAGATE_COMMON_CLOCK_H_

#include <chrono>
#include <cstdint>

namespace datagate {

// Microseconds since the Unix epoch.
inline int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace datagate

#endif  // DATAGATE_COMMON_CLOCK_H_
