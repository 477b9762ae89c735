#include "api/request_parsing.h"

#include <grpc/byte_buffer_reader.h>
#include <grpc/slice.h>

#include <climits>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "api/status.h"
#include "common/errors.h"
#include "common/text.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/stubs/common.h"

namespace datagate::api {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

// gRPC's received bytes as a protobuf input stream, without copying: the
// same reading grpc::ProtoBufferReader does for generated handlers.
class ByteBufferStream final : public google::protobuf::io::ZeroCopyInputStream {
 public:
  explicit ByteBufferStream(grpc_byte_buffer* buffer) : ok_(grpc_byte_buffer_reader_init(&reader_, buffer) != 0) {}
  ~ByteBufferStream() override {
    if (ok_) grpc_byte_buffer_reader_destroy(&reader_);
  }
  ByteBufferStream(const ByteBufferStream&) = delete;
  ByteBufferStream& operator=(const ByteBufferStream&) = delete;

  bool ok() const { return ok_; }

  bool Next(const void** data, int* size) override {
    if (!ok_) return false;
    if (backup_ > 0) {
      *data = GRPC_SLICE_END_PTR(*slice_) - backup_;
      *size = backup_;
      backup_ = 0;
      return true;
    }
    if (!grpc_byte_buffer_reader_peek(&reader_, &slice_)) return false;
    if (GRPC_SLICE_LENGTH(*slice_) > INT_MAX) return false;
    *data = GRPC_SLICE_START_PTR(*slice_);
    *size = static_cast<int>(GRPC_SLICE_LENGTH(*slice_));
    count_ += *size;
    return true;
  }
  void BackUp(int count) override { backup_ = count; }
  bool Skip(int count) override {
    const void* data;
    int size;
    while (Next(&data, &size)) {
      if (size >= count) {
        BackUp(size - count);
        return true;
      }
      count -= size;
    }
    return false;
  }
  int64_t ByteCount() const override { return count_ - backup_; }

 private:
  grpc_byte_buffer_reader reader_;
  const bool ok_;
  grpc_slice* slice_ = nullptr;
  int backup_ = 0;
  int64_t count_ = 0;
};

// All of `buffer`'s bytes in one string (only on the failure path).
std::string Flatten(grpc_byte_buffer* buffer) {
  grpc_byte_buffer_reader reader;
  if (!grpc_byte_buffer_reader_init(&reader, buffer)) return "";
  grpc_slice all = grpc_byte_buffer_reader_readall(&reader);
  std::string out(reinterpret_cast<const char*>(GRPC_SLICE_START_PTR(all)), GRPC_SLICE_LENGTH(all));
  grpc_slice_unref(all);
  grpc_byte_buffer_reader_destroy(&reader);
  return out;
}

enum WireType { kVarint = 0, kFixed64 = 1, kLength = 2, kStartGroup = 3, kEndGroup = 4, kFixed32 = 5 };

bool ReadVarint(const char*& p, const char* end, int max_bytes, uint64_t* value) {
  uint64_t v = 0;
  for (int i = 0; i < max_bytes && p < end; ++i) {
    const uint8_t byte = static_cast<uint8_t>(*p++);
    v |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
    if (byte < 0x80) {
      *value = v;
      return true;
    }
  }
  return false;
}

// Whether protobuf parses a field of `f`'s type sent with `wire` as that
// field (otherwise it keeps it as an unknown field).
bool WireTypeFits(const FieldDescriptor& f, int wire) {
  switch (f.type()) {
    case FieldDescriptor::TYPE_STRING:
    case FieldDescriptor::TYPE_BYTES:
    case FieldDescriptor::TYPE_MESSAGE:
      return wire == kLength;
    case FieldDescriptor::TYPE_GROUP:
      return wire == kStartGroup;
    default:
      break;
  }
  if (f.is_packable() && wire == kLength) return true;
  switch (f.cpp_type()) {
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return wire == kFixed64;
    case FieldDescriptor::CPPTYPE_FLOAT:
      return wire == kFixed32;
    default:
      break;
  }
  if (f.type() == FieldDescriptor::TYPE_FIXED64 || f.type() == FieldDescriptor::TYPE_SFIXED64) return wire == kFixed64;
  if (f.type() == FieldDescriptor::TYPE_FIXED32 || f.type() == FieldDescriptor::TYPE_SFIXED32) return wire == kFixed32;
  return wire == kVarint;
}

// Protobuf's own UTF-8 check, so the walk agrees with the parser.
bool ValidUtf8(absl::string_view s) {
  return google::protobuf::internal::IsStructurallyValidUTF8(s.data(), static_cast<int>(s.size()));
}
size_t ValidUtf8Prefix(absl::string_view s) {
  return static_cast<size_t>(
      google::protobuf::internal::UTF8SpnStructurallyValid(google::protobuf::StringPiece(s.data(), s.size())));
}

bool RequiresUtf8(const FieldDescriptor& f) {
  return f.type() == FieldDescriptor::TYPE_STRING &&
         f.file()->syntax() == google::protobuf::FileDescriptor::SYNTAX_PROTO3;
}

// Cuts `s` to at most `max` bytes on a UTF-8 character boundary.
std::string Bounded(std::string s, size_t max = 300) {
  if (s.size() <= max) return s;
  size_t n = max;
  while (n > 0 && (static_cast<uint8_t>(s[n]) & 0xc0) == 0x80) --n;
  s.resize(n);
  return s + "...";
}

// Walks a message's wire format in the order protobuf's parser reads it and
// stops at the first thing that parser refuses.
class Walker {
 public:
  Walker(const Descriptor& type, absl::string_view bytes)
      : type_(type),
        begin_(bytes.data()),
        end_(bytes.data() + bytes.size()),
        limit_(google::protobuf::io::CodedInputStream::GetDefaultRecursionLimit()) {}

  absl::Status Run() {
    const char* p = begin_;
    if (Message(&type_, p, end_, 0, 0)) return errors::RequestMalformed(type_.full_name(), "");
    return problem_;
  }

 private:
  // Appends a path component for its lifetime.
  class Push {
   public:
    Push(std::string& path, absl::string_view part) : path_(path), size_(path.size()) {
      if (!path_.empty() && part[0] != '[') path_ += '.';
      path_.append(part.data(), part.size());
    }
    ~Push() { path_.resize(size_); }

   private:
    std::string& path_;
    const size_t size_;
  };

  bool Malformed(const char* at) {
    std::string where = absl::StrCat("at byte ", at - begin_);
    if (!path_.empty()) absl::StrAppend(&where, " in field '", Bounded(path_), "'");
    problem_ = errors::RequestMalformed(type_.full_name(), where);
    return false;
  }
  bool TooDeep() {
    problem_ = errors::RequestTooDeep(type_.full_name(), Bounded(anchor_.empty() ? path_ : anchor_), limit_);
    return false;
  }

  // Walks fields in [p, end) as `type` (null: all unknown) at nesting
  // `depth`. Inside a group, stops after the group's end tag.
  bool Message(const Descriptor* type, const char*& p, const char* end, int depth, uint32_t group) {
    const bool anchors = anchor_.empty() && type == google::protobuf::Value::descriptor();
    if (anchors) anchor_ = path_;
    std::map<int, int> seen;  // occurrences of repeated fields so far
    bool closed = false;
    while (p < end) {
      const char* start = p;
      uint64_t tag;
      if (!ReadVarint(p, end, 5, &tag) || tag > UINT32_MAX) return Malformed(start);
      const uint32_t number = static_cast<uint32_t>(tag >> 3);
      const int wire = static_cast<int>(tag & 7);
      if (wire == kEndGroup) {
        if (group == 0 || number != group) return Malformed(start);
        closed = true;
        break;
      }
      if (number == 0 || wire > kFixed32) return Malformed(start);
      const FieldDescriptor* f = type == nullptr ? nullptr : type->FindFieldByNumber(static_cast<int>(number));
      if (f != nullptr && WireTypeFits(*f, wire)) {
        const int index = f->is_repeated() && !f->is_map() ? seen[f->number()]++ : -1;
        if (!Field(*f, wire, p, end, depth, index)) return false;
      } else if (!Unknown(number, wire, p, end, depth)) {
        return false;
      }
    }
    if (group != 0 && !closed) return Malformed(p);
    if (anchors) anchor_.clear();
    return true;
  }

  bool Unknown(uint32_t number, int wire, const char*& p, const char* end, int depth) {
    const char* start = p;
    uint64_t v;
    switch (wire) {
      case kVarint:
        return ReadVarint(p, end, 10, &v) || Malformed(start);
      case kFixed64:
      case kFixed32: {
        const int size = wire == kFixed64 ? 8 : 4;
        if (end - p < size) return Malformed(start);
        p += size;
        return true;
      }
      case kLength:
        if (!ReadVarint(p, end, 5, &v) || v > static_cast<uint64_t>(end - p)) return Malformed(start);
        p += v;
        return true;
      default:  // kStartGroup
        if (depth >= limit_) return TooDeep();
        return Message(nullptr, p, end, depth + 1, number);
    }
  }

  bool Field(const FieldDescriptor& f, int wire, const char*& p, const char* end, int depth, int index) {
    const bool map_value = f.containing_type()->map_value() == &f;
    std::string part = map_value ? "" : f.name();
    if (index >= 0) absl::StrAppend(&part, "[", index, "]");
    std::optional<Push> push;
    if (!part.empty()) push.emplace(path_, part);
    if (wire == kStartGroup) {
      if (depth >= limit_) return TooDeep();
      return Message(f.message_type(), p, end, depth + 1, static_cast<uint32_t>(f.number()));
    }
    if (wire != kLength) return Unknown(static_cast<uint32_t>(f.number()), wire, p, end, depth);
    const char* start = p;
    uint64_t size;
    if (!ReadVarint(p, end, 5, &size) || size > static_cast<uint64_t>(end - p)) return Malformed(start);
    const char* body = p;
    p += size;
    const absl::string_view bytes(body, size);
    if (RequiresUtf8(f) && !ValidUtf8(bytes)) {
      problem_ = errors::RequestNotUtf8(type_.full_name(), Bounded(path_), ValidUtf8Prefix(bytes));
      return false;
    }
    if (f.type() == FieldDescriptor::TYPE_MESSAGE) {
      if (depth >= limit_) return TooDeep();
      if (f.is_map() && !MapKey(f, bytes)) return false;
      const char* q = body;
      return Message(f.message_type(), q, p, depth + 1, 0);
    }
    if (f.type() == FieldDescriptor::TYPE_STRING || f.type() == FieldDescriptor::TYPE_BYTES) return true;
    return Packed(f, body, p);
  }

  // Checks a map entry's key and, when fine, names the entry in the path
  // (`fields["name"]`); the caller walks the entry itself.
  bool MapKey(const FieldDescriptor& map, absl::string_view entry) {
    const FieldDescriptor& key = *map.message_type()->map_key();
    std::string text = "\"\"";
    const char* p = entry.data();
    const char* end = p + entry.size();
    while (p < end) {  // the last key wins, as in protobuf
      uint64_t tag, v;
      if (!ReadVarint(p, end, 5, &tag)) break;
      const int wire = static_cast<int>(tag & 7);
      if (wire == kLength) {
        if (!ReadVarint(p, end, 5, &v) || v > static_cast<uint64_t>(end - p)) break;
        const absl::string_view bytes(p, v);
        p += v;
        if ((tag >> 3) != 1 || !WireTypeFits(key, wire)) continue;
        if (RequiresUtf8(key) && !ValidUtf8(bytes)) {
          problem_ = errors::RequestMapKeyNotUtf8(type_.full_name(), Bounded(path_), bytes);
          return false;
        }
        text = absl::StrCat("\"", datagate::EscapeText(bytes, 64), "\"");
      } else if (wire == kVarint) {
        if (!ReadVarint(p, end, 10, &v)) break;
        if ((tag >> 3) == 1 && WireTypeFits(key, wire)) {
          text = key.type() == FieldDescriptor::TYPE_BOOL ? (v != 0 ? "true" : "false") : absl::StrCat(v);
        }
      } else {
        break;  // fixed-size keys and anything odd: the walk of the entry reports problems
      }
    }
    path_ += absl::StrCat("[", text, "]");
    return true;
  }

  // A packed repeated scalar: whole varints or whole fixed-size values.
  bool Packed(const FieldDescriptor& f, const char* p, const char* end) {
    const char* start = p;
    if (WireTypeFits(f, kFixed64) || WireTypeFits(f, kFixed32)) {
      const int size = WireTypeFits(f, kFixed64) ? 8 : 4;
      return (end - p) % size == 0 || Malformed(start);
    }
    uint64_t v;
    while (p < end) {
      if (!ReadVarint(p, end, 10, &v)) return Malformed(start);
    }
    return true;
  }

  const Descriptor& type_;
  const char* const begin_;
  const char* const end_;
  const int limit_;
  std::string path_;    // the field being read
  std::string anchor_;  // the outermost google.protobuf.Value on the way to it
  absl::Status problem_;
};

}  // namespace

absl::Status DiagnoseParseFailure(const Descriptor& type, absl::string_view bytes) { return Walker(type, bytes).Run(); }

grpc::Status ParseRequest(grpc_byte_buffer* buffer, google::protobuf::Message* request) {
  const Descriptor& type = *request->GetDescriptor();
  if (buffer == nullptr) return ToGrpcStatus(errors::RequestMissing(type.full_name()));
  bool parsed;
  {
    ByteBufferStream stream(buffer);
    parsed = stream.ok() && request->ParseFromZeroCopyStream(&stream);
  }
  absl::Status status;
  if (!parsed) status = DiagnoseParseFailure(type, Flatten(buffer));
  grpc_byte_buffer_destroy(buffer);
  return ToGrpcStatus(status);
}

}  // namespace datagate::api
