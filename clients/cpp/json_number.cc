// Go's float formatting (strconv %g and encoding/json) for json.h.
#include <charconv>
#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "json.h"

namespace datagate::call {
namespace {

// The shortest decimal digits of |f| (as float when bits is 32) and the
// exponent of the first: |f| = 0.d1d2...dn * 10^point.
void ShortestDigits(double f, int bits, std::string* digits, int* point) {
  char buf[64];
  const double a = std::fabs(f);
  std::to_chars_result r =
      bits == 32 ? std::to_chars(buf, buf + sizeof(buf), static_cast<float>(a), std::chars_format::scientific)
                 : std::to_chars(buf, buf + sizeof(buf), a, std::chars_format::scientific);
  const std::string s(buf, r.ptr);
  const size_t e = s.find('e');
  digits->clear();
  for (size_t i = 0; i < e; ++i) {
    if (s[i] != '.') digits->push_back(s[i]);
  }
  *point = std::stoi(s.substr(e + 1)) + 1;
  if (*digits == "0") *point = 1;
}

// Go's %e with the shortest digits: d[.ddd]e±XX (at least two exponent digits).
std::string FormatE(bool neg, const std::string& d, int point) {
  std::string out = neg ? "-" : "";
  out.push_back(d[0]);
  if (d.size() > 1) absl::StrAppend(&out, ".", d.substr(1));
  int exp = d == "0" ? 0 : point - 1;
  out.push_back('e');
  out.push_back(exp < 0 ? '-' : '+');
  if (exp < 0) exp = -exp;
  if (exp < 10) out.push_back('0');
  absl::StrAppend(&out, exp);
  return out;
}

// Go's %f with the shortest digits: no exponent, no trailing zeros.
std::string FormatF(bool neg, const std::string& d, int point) {
  std::string out = neg ? "-" : "";
  const int n = static_cast<int>(d.size());
  if (point > 0) {
    for (int i = 0; i < point; ++i) out.push_back(i < n ? d[i] : '0');
  } else {
    out.push_back('0');
  }
  const int frac = std::max(n - point, 0);
  if (frac > 0) {
    out.push_back('.');
    for (int i = 0; i < frac; ++i) {
      const int j = point + i;
      out.push_back(j >= 0 && j < n ? d[j] : '0');
    }
  }
  return out;
}

}  // namespace

std::string FormatFloatG(double f, int bits) {
  if (std::isnan(f)) return "NaN";
  if (std::isinf(f)) return f > 0 ? "+Inf" : "-Inf";
  std::string d;
  int point;
  ShortestDigits(f, bits, &d, &point);
  const int exp = point - 1;
  const bool neg = std::signbit(f);
  if (d != "0" && (exp < -4 || exp >= 6)) return FormatE(neg, d, point);
  return FormatF(neg, d, point);
}

std::string FormatFloatJson(double f, int bits) {
  if (std::isnan(f)) return "NaN";
  if (std::isinf(f)) return f > 0 ? "+Inf" : "-Inf";
  std::string d;
  int point;
  ShortestDigits(f, bits, &d, &point);
  const bool neg = std::signbit(f);
  const double a = bits == 32 ? static_cast<double>(static_cast<float>(std::fabs(f))) : std::fabs(f);
  if (a != 0 && (a < 1e-6 || a >= 1e21)) {
    std::string out = FormatE(neg, d, point);
    // Go trims one leading zero of a negative exponent: 1e-07 -> 1e-7.
    const size_t n = out.size();
    if (n >= 4 && out[n - 4] == 'e' && out[n - 3] == '-' && out[n - 2] == '0') out.erase(n - 2, 1);
    return out;
  }
  return FormatF(neg, d, point);
}

}  // namespace datagate::call
