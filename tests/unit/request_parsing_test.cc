#include "api/request_parsing.h"
#include "common/text.h"

#include "api/unary_adapter.h"

#include <random>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "common/errors.h"
#include "datagate/v1/data.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/stubs/logging.h"
#include "gtest/gtest.h"

namespace datagate::api {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

google::protobuf::Value Nested(int objects, int lists) {
  google::protobuf::Value v;
  v.set_string_value("deep");
  for (int i = 0; i < lists; ++i) {
    google::protobuf::Value outer;
    *outer.mutable_list_value()->add_values() = std::move(v);
    v = std::move(outer);
  }
  for (int i = 0; i < objects; ++i) {
    google::protobuf::Value outer;
    (*outer.mutable_struct_value()->mutable_fields())["k"] = std::move(v);
    v = std::move(outer);
  }
  return v;
}

std::string CreateRowBytes(const google::protobuf::Value& value) {
  v1::CreateRowRequest req;
  req.set_table("t");
  (*req.mutable_row()->mutable_fields())["col"] = value;
  return req.SerializeAsString();  // protobuf writes what it cannot read back
}

// The diagnosis a client would get for `bytes`, or "" when protobuf parses them.
std::string Verdict(const google::protobuf::Descriptor& type, const std::string& bytes,
                    std::unique_ptr<google::protobuf::Message> msg) {
  if (msg->ParseFromString(bytes)) return "";
  absl::Status s = DiagnoseParseFailure(type, bytes);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  return std::string(s.message());
}

TEST(RequestParsing, DepthLimitIsExactlyProtobufs) {
  google::protobuf::LogSilencer quiet;
  const auto& type = *v1::CreateRowRequest::descriptor();
  // Request -> Struct -> entry -> Value is 3 levels; each object adds 3, each
  // list 2: the parser allows 100 levels below the request.
  for (int objects = 28; objects <= 36; ++objects) {
    for (int lists = 0; lists <= 3; ++lists) {
      const int levels = 3 + 3 * objects + 2 * lists;
      std::string bytes = CreateRowBytes(Nested(objects, lists));
      v1::CreateRowRequest parsed;
      EXPECT_EQ(parsed.ParseFromString(bytes), levels <= 100) << levels;
      if (levels <= 100) continue;
      EXPECT_EQ(DiagnoseParseFailure(type, bytes).message(),
                "request is not a valid datagate.v1.CreateRowRequest: field 'row.fields[\"col\"]' nests values more "
                "than 100 levels deep (an object counts as 3 levels, a list as 2)")
          << levels;
    }
  }
}

TEST(RequestParsing, AWalkThatFindsNothingSaysMalformed) {
  const auto& type = *v1::CreateRowRequest::descriptor();
  EXPECT_EQ(DiagnoseParseFailure(type, "").message(),
            "request is not a valid datagate.v1.CreateRowRequest: malformed protobuf bytes: the message is "
            "truncated or was not serialized from this type");
  // Cut short: the first length that runs past the end is row's.
  v1::CreateRowRequest req;
  req.set_table("t");
  (*req.mutable_row()->mutable_fields())["col"].set_string_value("abcdef");
  std::string bytes = req.SerializeAsString();
  bytes.pop_back();
  EXPECT_THAT(std::string(DiagnoseParseFailure(type, bytes).message()),
              HasSubstr("malformed protobuf bytes at byte 4 in field 'row': the message is truncated"));
  // A bad varint deep inside: the path names the innermost field.
  v1::CreateRowRequest del;
  del.set_table("t");
  (*del.mutable_row()->mutable_fields())["col"].set_number_value(1);
  (*del.mutable_row()->mutable_fields())["col"].set_null_value({});
  bytes = del.SerializeAsString();  // ...\x08\x00: null_value = 0, last
  bytes.back() = '\x80';
  EXPECT_THAT(std::string(DiagnoseParseFailure(type, bytes).message()),
              HasSubstr("in field 'row.fields[\"col\"].null_value'"));
}

TEST(RequestParsing, UnknownGroupsCountTowardsTheDepth) {
  google::protobuf::LogSilencer quiet;
  const auto& type = *v1::CreateRowRequest::descriptor();
  for (int groups : {99, 100, 101, 150}) {
    std::string bytes;
    for (int i = 0; i < groups; ++i) bytes += "\x7b";  // field 15, start group
    for (int i = 0; i < groups; ++i) bytes += "\x7c";  // field 15, end group
    const std::string verdict = Verdict(type, bytes, std::make_unique<v1::CreateRowRequest>());
    if (groups <= 100) {
      EXPECT_EQ(verdict, "") << groups;
    } else {
      EXPECT_THAT(verdict, HasSubstr("nests values more than 100 levels deep")) << groups;
    }
  }
}

// Random damage to real requests: the walk blames something exactly when
// protobuf refuses the bytes, and every message is valid UTF-8 text.
TEST(RequestParsing, AgreesWithProtobufOnDamagedRequests) {
  google::protobuf::LogSilencer quiet;
  v1::BatchWriteRequest batch;
  batch.set_request_id("r-1");
  for (int i = 0; i < 3; ++i) {
    v1::CreateRowRequest* c = batch.add_operations()->mutable_create();
    c->set_table("customers");
    auto& f = *c->mutable_row()->mutable_fields();
    f["name"].set_string_value("Zoë " + std::to_string(i));
    f["id"].set_number_value(i);
    f["tags"] = Nested(2, 1);
    f["vip"].set_bool_value(true);
  }
  v1::UpdateRowRequest* u = batch.add_operations()->mutable_update();
  u->set_table("orders");
  u->mutable_update_mask()->add_paths("status");
  u->set_expected_version(-1);
  const std::string good = batch.SerializeAsString();
  const auto& type = *v1::BatchWriteRequest::descriptor();
  std::mt19937 rng(42);
  int refused = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string bytes = good;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      const size_t at = rng() % bytes.size();
      switch (rng() % 4) {
        case 0:
          bytes[at] = static_cast<char>(rng());
          break;
        case 1:
          bytes[at] = static_cast<char>(0x80 | (rng() & 0x7f));  // a likely UTF-8 breaker
          break;
        case 2:
          bytes.resize(at);
          break;
        default:
          bytes.insert(at, 1, static_cast<char>(rng()));
      }
      if (bytes.empty()) bytes = good;
    }
    v1::BatchWriteRequest parsed;
    const bool ok = parsed.ParseFromString(bytes);
    const std::string msg(DiagnoseParseFailure(type, bytes).message());
    ASSERT_THAT(msg, StartsWith("request is not a valid datagate.v1.BatchWriteRequest: ")) << absl::CHexEscape(bytes);
    EXPECT_TRUE(IsValidUtf8(msg)) << "not valid UTF-8: " << msg;
    EXPECT_EQ(msg.find_first_of("\n\r\x1b"), std::string::npos) << msg;
    const bool blamed = !absl::StrContains(msg, "malformed protobuf bytes: the message is truncated");
    EXPECT_EQ(blamed, !ok) << msg << " for " << absl::CHexEscape(bytes);
    refused += !ok;
  }
  EXPECT_GT(refused, 1000);
}

TEST(UnaryAdapter, CheckNamesMissingAndUnknownMethods) {
  v1::DataService::Service impl;  // the generated base: every method UNIMPLEMENTED
  using S = v1::DataService::Service;
  UnaryAdapter adapter(v1::DataService::service_full_name());
  adapter.Add("CreateRow", &impl, &S::CreateRow).Add("GetRows", &impl, &S::GetRow).Add("ListRows", &impl, &S::GetRow);
  absl::Status s = adapter.Check();
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(s.message()),
              testing::AllOf(HasSubstr("datagate.v1.DataService has no method GetRows"),
                             HasSubstr("datagate.v1.DataService.ListRows is not unary from datagate.v1.GetRowRequest"),
                             HasSubstr("datagate.v1.DataService.GetRow is served 0 times")));
  EXPECT_EQ(UnaryAdapter("datagate.v1.NoService").Check().code(), absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace datagate::api
