#include "proto_time.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace datagate::call {
namespace {

constexpr int64_t kMinSeconds = -62135596800;  // 0001-01-01T00:00:00Z
constexpr int64_t kMaxSeconds = 253402300799;  // 9999-12-31T23:59:59Z
constexpr int64_t kMaxDurationSeconds = 315576000000;

// ".000000123" style fraction for 0 < nanos < 1e9: 3, 6 or 9 digits.
std::string Fraction(int32_t nanos) {
  if (nanos == 0) return "";
  if (nanos % 1000000 == 0) return absl::StrFormat(".%03d", nanos / 1000000);
  if (nanos % 1000 == 0) return absl::StrFormat(".%06d", nanos / 1000);
  return absl::StrFormat(".%09d", nanos);
}

// Reads exactly `n` digits at text[*pos].
bool Digits(absl::string_view text, size_t* pos, int n, int* value) {
  *value = 0;
  for (int i = 0; i < n; ++i, ++*pos) {
    if (*pos >= text.size() || !absl::ascii_isdigit(static_cast<unsigned char>(text[*pos]))) return false;
    *value = *value * 10 + (text[*pos] - '0');
  }
  return true;
}

bool Expect(absl::string_view text, size_t* pos, char c) {
  if (*pos >= text.size() || text[*pos] != c) return false;
  ++*pos;
  return true;
}

// An optional '.' and 1 to 9 digits, as nanoseconds.
bool ReadFraction(absl::string_view text, size_t* pos, int32_t* nanos) {
  *nanos = 0;
  if (*pos >= text.size() || text[*pos] != '.') return true;
  ++*pos;
  int digits = 0;
  while (*pos < text.size() && absl::ascii_isdigit(static_cast<unsigned char>(text[*pos]))) {
    if (++digits > 9) return false;
    *nanos = *nanos * 10 + (text[(*pos)++] - '0');
  }
  if (digits == 0) return false;
  for (int i = digits; i < 9; ++i) *nanos *= 10;
  return true;
}

}  // namespace

absl::StatusOr<std::string> FormatTimestamp(SecondsNanos t) {
  if (t.seconds < kMinSeconds || t.seconds > kMaxSeconds || t.nanos < 0 || t.nanos >= 1000000000) {
    return absl::InvalidArgumentError(
        absl::StrCat("timestamp seconds:", t.seconds, " nanos:", t.nanos, " is outside 0001-01-01 .. 9999-12-31"));
  }
  const absl::CivilSecond c = absl::ToCivilSecond(absl::FromUnixSeconds(t.seconds), absl::UTCTimeZone());
  return absl::StrFormat("%04d-%02d-%02dT%02d:%02d:%02d%sZ", c.year(), c.month(), c.day(), c.hour(), c.minute(),
                         c.second(), Fraction(t.nanos));
}

absl::StatusOr<SecondsNanos> ParseTimestamp(absl::string_view text) {
  const auto bad = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("bad Timestamp \"", text, "\": want RFC 3339, e.g. \"2026-01-02T03:04:05.678Z\""));
  };
  size_t pos = 0;
  int year, month, day, hour, minute, second;
  if (!Digits(text, &pos, 4, &year) || !Expect(text, &pos, '-') || !Digits(text, &pos, 2, &month) ||
      !Expect(text, &pos, '-') || !Digits(text, &pos, 2, &day) || !Expect(text, &pos, 'T') ||
      !Digits(text, &pos, 2, &hour) || !Expect(text, &pos, ':') || !Digits(text, &pos, 2, &minute) ||
      !Expect(text, &pos, ':') || !Digits(text, &pos, 2, &second)) {
    return bad();
  }
  int32_t nanos;
  if (!ReadFraction(text, &pos, &nanos)) return bad();
  int offset_minutes = 0;
  if (Expect(text, &pos, 'Z')) {
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const int sign = text[pos++] == '-' ? -1 : 1;
    int oh, om;
    if (!Digits(text, &pos, 2, &oh) || !Expect(text, &pos, ':') || !Digits(text, &pos, 2, &om) || oh > 23 || om > 59) {
      return bad();
    }
    offset_minutes = sign * (oh * 60 + om);
  } else {
    return bad();
  }
  if (pos != text.size()) return bad();
  const absl::CivilSecond c(year, month, day, hour, minute, second);
  // CivilSecond normalizes (Feb 30 -> Mar 2): a changed field was invalid.
  if (c.year() != year || c.month() != month || c.day() != day || c.hour() != hour || c.minute() != minute ||
      c.second() != second) {
    return bad();
  }
  const int64_t seconds = absl::ToUnixSeconds(absl::FromCivil(c, absl::UTCTimeZone())) - offset_minutes * 60;
  if (seconds < kMinSeconds || seconds > kMaxSeconds) return bad();
  return SecondsNanos{seconds, nanos};
}

absl::StatusOr<std::string> FormatDuration(SecondsNanos d) {
  if (d.seconds < -kMaxDurationSeconds || d.seconds > kMaxDurationSeconds || d.nanos <= -1000000000 ||
      d.nanos >= 1000000000 || (d.seconds > 0 && d.nanos < 0) || (d.seconds < 0 && d.nanos > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("duration seconds:", d.seconds, " nanos:", d.nanos, " is out of range or has mixed signs"));
  }
  const bool negative = d.seconds < 0 || d.nanos < 0;
  return absl::StrCat(negative ? "-" : "", d.seconds < 0 ? -d.seconds : d.seconds,
                      Fraction(d.nanos < 0 ? -d.nanos : d.nanos), "s");
}

absl::StatusOr<SecondsNanos> ParseDuration(absl::string_view text) {
  const auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat("bad Duration \"", text, "\": want e.g. \"1.5s\""));
  };
  size_t pos = 0;
  const bool negative = Expect(text, &pos, '-');
  int64_t seconds = 0;
  const size_t start = pos;
  while (pos < text.size() && absl::ascii_isdigit(static_cast<unsigned char>(text[pos]))) {
    if (seconds > kMaxDurationSeconds) return bad();
    seconds = seconds * 10 + (text[pos++] - '0');
  }
  int32_t nanos;
  if (pos == start || !ReadFraction(text, &pos, &nanos) || !Expect(text, &pos, 's') || pos != text.size() ||
      seconds > kMaxDurationSeconds) {
    return bad();
  }
  return negative ? SecondsNanos{-seconds, -nanos} : SecondsNanos{seconds, nanos};
}

}  // namespace datagate::call
