// google.protobuf.Timestamp and Duration as JSON strings, as golang/protobuf's
// jsonpb (and so grpcurl) writes and reads them.
#ifndef DATAGATE_CLIENTS_CPP_PROTO_TIME_H_
#define DATAGATE_CLIENTS_CPP_PROTO_TIME_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace datagate::call {

struct SecondsNanos {
  int64_t seconds = 0;
  int32_t nanos = 0;
};

// RFC 3339 in UTC: "2026-11-23T20:09:08.193768Z", with 0, 3, 6 or 9 fraction
// digits (the fewest that show every nonzero digit). INVALID_ARGUMENT outside
// 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999999Z or for bad nanos.
absl::StatusOr<std::string> FormatTimestamp(SecondsNanos t);

// RFC 3339 with 'T', seconds, an optional fraction of 1 to 9 digits and 'Z' or
// a "+hh:mm"/"-hh:mm" offset. INVALID_ARGUMENT otherwise or out of range.
absl::StatusOr<SecondsNanos> ParseTimestamp(absl::string_view text);

// "1.5s", "-0.001s", "3s": 0, 3, 6 or 9 fraction digits. INVALID_ARGUMENT
// beyond +-10000 years or when seconds and nanos disagree in sign.
absl::StatusOr<std::string> FormatDuration(SecondsNanos d);

// "-12.5s": an optional '-', digits, an optional fraction of 1 to 9 digits, 's'.
absl::StatusOr<SecondsNanos> ParseDuration(absl::string_view text);

}  // namespace datagate::call

#endif  // DATAGATE_CLIENTS_CPP_PROTO_TIME_H_
