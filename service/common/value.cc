#include "common/value.h"

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/text.h"

namespace datagate {
namespace {

enum Tag : char { kNull = 'n', kInt = 'i', kReal = 'r', kText = 't', kBlob = 'b', kBool = 'o' };

void PutVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

absl::Status Truncated() { return errors::CorruptEncoding("it is truncated"); }

absl::StatusOr<uint64_t> GetVarint(absl::string_view* in) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in->empty()) return Truncated();
    const auto byte = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    v |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return v;
  }
  return errors::CorruptEncoding("an integer is too long");
}

absl::StatusOr<std::string> GetBytes(absl::string_view* in) {
  ASSIGN_OR_RETURN(const uint64_t n, GetVarint(in));
  if (n > in->size()) return Truncated();
  std::string s(in->substr(0, n));
  in->remove_prefix(n);
  return s;
}

uint64_t ZigZag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
int64_t UnZigZag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

void PutInt(int64_t v, std::string* out) { PutVarint(ZigZag(v), out); }
absl::StatusOr<int64_t> GetInt(absl::string_view* in) {
  ASSIGN_OR_RETURN(const uint64_t v, GetVarint(in));
  return UnZigZag(v);
}

}  // namespace

void EncodeValue(const Value& v, std::string* out) {
  std::visit(
      [out](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          out->push_back(kNull);
        } else if constexpr (std::is_same_v<T, int64_t>) {
          out->push_back(kInt);
          PutInt(x, out);
        } else if constexpr (std::is_same_v<T, double>) {
          out->push_back(kReal);
          char buf[sizeof(double)];
          std::memcpy(buf, &x, sizeof buf);
          out->append(buf, sizeof buf);
        } else if constexpr (std::is_same_v<T, std::string>) {
          out->push_back(kText);
          PutVarint(x.size(), out);
          out->append(x);
        } else if constexpr (std::is_same_v<T, Blob>) {
          out->push_back(kBlob);
          PutVarint(x.bytes.size(), out);
          out->append(x.bytes);
        } else {
          out->push_back(kBool);
          out->push_back(x ? 1 : 0);
        }
      },
      v);
}

absl::StatusOr<Value> DecodeValue(absl::string_view* in) {
  if (in->empty()) return Truncated();
  const char tag = in->front();
  in->remove_prefix(1);
  switch (tag) {
    case kNull:
      return Value{};
    case kInt: {
      ASSIGN_OR_RETURN(const int64_t v, GetInt(in));
      return Value{v};
    }
    case kReal: {
      if (in->size() < sizeof(double)) return Truncated();
      double d;
      std::memcpy(&d, in->data(), sizeof d);
      in->remove_prefix(sizeof d);
      return Value{d};
    }
    case kText: {
      ASSIGN_OR_RETURN(std::string s, GetBytes(in));
      return Value{std::move(s)};
    }
    case kBlob: {
      ASSIGN_OR_RETURN(std::string s, GetBytes(in));
      return Value{Blob{std::move(s)}};
    }
    case kBool: {
      if (in->empty()) return Truncated();
      const bool b = in->front() != 0;
      in->remove_prefix(1);
      return Value{b};
    }
    default:
      return errors::CorruptEncoding("unknown value tag");
  }
}

std::string EncodeRows(const std::vector<StoredRow>& rows) {
  std::string out;
  PutVarint(rows.size(), &out);
  for (const StoredRow& r : rows) {
    PutVarint(r.table.size(), &out);
    out.append(r.table);
    PutInt(r.version, &out);
    PutInt(r.create_time_us, &out);
    PutInt(r.update_time_us, &out);
    PutVarint(r.fields.size(), &out);
    for (const Field& f : r.fields) {
      PutVarint(f.column.size(), &out);
      out.append(f.column);
      EncodeValue(f.value, &out);
    }
  }
  return out;
}

absl::StatusOr<std::vector<StoredRow>> DecodeRows(absl::string_view in) {
  ASSIGN_OR_RETURN(const uint64_t n, GetVarint(&in));
  if (n > in.size()) return Truncated();
  std::vector<StoredRow> rows(n);
  for (StoredRow& r : rows) {
    ASSIGN_OR_RETURN(r.table, GetBytes(&in));
    ASSIGN_OR_RETURN(r.version, GetInt(&in));
    ASSIGN_OR_RETURN(r.create_time_us, GetInt(&in));
    ASSIGN_OR_RETURN(r.update_time_us, GetInt(&in));
    ASSIGN_OR_RETURN(const uint64_t nf, GetVarint(&in));
    if (nf > in.size()) return Truncated();
    r.fields.resize(nf);
    for (Field& f : r.fields) {
      ASSIGN_OR_RETURN(f.column, GetBytes(&in));
      ASSIGN_OR_RETURN(f.value, DecodeValue(&in));
    }
  }
  if (!in.empty()) return errors::CorruptEncoding("trailing bytes");
  return rows;
}

std::string DebugString(const Value& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::monostate>)
          return "NULL";
        else if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, double>)
          return absl::StrCat(x);
        else if constexpr (std::is_same_v<T, std::string>)
          return absl::StrCat("'", EscapeText(x, 40), "'");  // safe to echo: escaped, cut
        else if constexpr (std::is_same_v<T, Blob>)
          return absl::StrCat("<blob of ", x.bytes.size(), " bytes>");
        else
          return x ? "true" : "false";
      },
      v);
}

std::string DescribeFields(const std::vector<Field>& fields) {
  return absl::StrCat("(",
                      absl::StrJoin(fields, ", ",
                                    [](std::string* out, const Field& f) {
                                      absl::StrAppend(out, EscapeText(f.column), "=", DebugString(f.value));
                                    }),
                      ")");
}

}  // namespace datagate
