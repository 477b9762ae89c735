// Messages to and from JSON as grpcurl does it, on a test-only message type
// built at run time (as datagate_call builds its types from reflection).
#include "json_codec.h"

#include "gmock/gmock.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/field_mask.pb.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/wrappers.pb.h"
#include "gtest/gtest.h"

namespace datagate::call {
namespace {

using ::testing::HasSubstr;

constexpr char kTestFile[] = R"pb(
  name: "codec_test.proto"
  package: "codectest"
  syntax: "proto3"
  dependency: [
    "google/protobuf/timestamp.proto",
    "google/protobuf/duration.proto",
    "google/protobuf/wrappers.proto",
    "google/protobuf/struct.proto",
    "google/protobuf/field_mask.proto"
  ]
  enum_type {
    name: "Color"
    value { name: "COLOR_UNSPECIFIED" number: 0 }
    value { name: "RED" number: 1 }
    value { name: "GREEN" number: 2 }
  }
  message_type {
    name: "All"
    field { name: "d" number: 1 label: LABEL_OPTIONAL type: TYPE_DOUBLE }
    field { name: "f" number: 2 label: LABEL_OPTIONAL type: TYPE_FLOAT }
    field { name: "big_int" number: 3 label: LABEL_OPTIONAL type: TYPE_INT64 }
    field { name: "big_uint" number: 4 label: LABEL_OPTIONAL type: TYPE_UINT64 }
    field { name: "small_int" number: 5 label: LABEL_OPTIONAL type: TYPE_INT32 }
    field { name: "blob" number: 6 label: LABEL_OPTIONAL type: TYPE_BYTES }
    field { name: "flag" number: 7 label: LABEL_OPTIONAL type: TYPE_BOOL }
    field { name: "color" number: 8 label: LABEL_OPTIONAL type: TYPE_ENUM type_name: ".codectest.Color" }
    field { name: "counts" number: 9 label: LABEL_REPEATED type: TYPE_MESSAGE type_name: ".codectest.All.CountsEntry" }
    field { name: "custom" number: 10 label: LABEL_OPTIONAL type: TYPE_STRING json_name: "customName" }
    field { name: "when" number: 11 label: LABEL_OPTIONAL type: TYPE_MESSAGE type_name: ".google.protobuf.Timestamp" }
    field { name: "took" number: 12 label: LABEL_OPTIONAL type: TYPE_MESSAGE type_name: ".google.protobuf.Duration" }
    field { name: "maybe" number: 13 label: LABEL_OPTIONAL type: TYPE_MESSAGE type_name: ".google.protobuf.Int64Value" }
    field { name: "mask" number: 14 label: LABEL_OPTIONAL type: TYPE_MESSAGE type_name: ".google.protobuf.FieldMask" }
    field { name: "extra" number: 15 label: LABEL_OPTIONAL type: TYPE_MESSAGE type_name: ".google.protobuf.Struct" }
    field { name: "many" number: 16 label: LABEL_REPEATED type: TYPE_INT64 }
    field { name: "child" number: 17 label: LABEL_OPTIONAL type: TYPE_MESSAGE type_name: ".codectest.All" }
    field { name: "text" number: 18 label: LABEL_OPTIONAL type: TYPE_STRING }
    field { name: "any_value" number: 19 label: LABEL_OPTIONAL type: TYPE_MESSAGE type_name: ".google.protobuf.Value" }
    nested_type {
      name: "CountsEntry"
      field { name: "key" number: 1 label: LABEL_OPTIONAL type: TYPE_INT32 }
      field { name: "value" number: 2 label: LABEL_OPTIONAL type: TYPE_STRING }
      options { map_entry: true }
    }
  }
)pb";

class JsonCodecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const google::protobuf::FileDescriptor* wkt :
         {google::protobuf::Timestamp::descriptor()->file(), google::protobuf::Duration::descriptor()->file(),
          google::protobuf::Int64Value::descriptor()->file(), google::protobuf::Struct::descriptor()->file(),
          google::protobuf::FieldMask::descriptor()->file()}) {
      google::protobuf::FileDescriptorProto proto;
      wkt->CopyTo(&proto);
      ASSERT_NE(pool_.BuildFile(proto), nullptr);
    }
    google::protobuf::FileDescriptorProto proto;
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(kTestFile, &proto));
    ASSERT_NE(pool_.BuildFile(proto), nullptr);
    type_ = pool_.FindMessageTypeByName("codectest.All");
  }

  std::unique_ptr<google::protobuf::Message> New() {
    return std::unique_ptr<google::protobuf::Message>(factory_.GetPrototype(type_)->New());
  }

  // Reads `json`; returns the error, if any.
  absl::Status Read(const std::string& json, google::protobuf::Message* m) {
    absl::StatusOr<Json> parsed = ParseJson(json);
    if (!parsed.ok()) return parsed.status();
    return JsonToMessage(*parsed, m);
  }

  // Reads `json` and prints the message again, compact.
  std::string RoundTrip(const std::string& json) {
    std::unique_ptr<google::protobuf::Message> m = New();
    absl::Status s = Read(json, m.get());
    EXPECT_TRUE(s.ok()) << s << " in " << json;
    absl::StatusOr<Json> out = MessageToJson(*m);
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? WriteJson(*out, false) : "";
  }

  std::string ReadError(const std::string& json) {
    std::unique_ptr<google::protobuf::Message> m = New();
    absl::Status s = Read(json, m.get());
    EXPECT_FALSE(s.ok()) << json << " was accepted";
    return std::string(s.message());
  }

  google::protobuf::DescriptorPool pool_;
  google::protobuf::DynamicMessageFactory factory_{&pool_};
  const google::protobuf::Descriptor* type_ = nullptr;
};

TEST_F(JsonCodecTest, FieldMaskIsOnlyAMessage) {
  EXPECT_EQ(RoundTrip(R"({"mask": {"paths": ["status", "note"]}})"), R"({"mask":{"paths":["status","note"]}})");
  EXPECT_EQ(ReadError(R"({"mask": "status"})"), "bad input: expecting start of JSON object: '{' ; instead got status");
  // A single string for the repeated `paths` is a list of one (protoreflect's
  // leniency), not the comma-separated standard form.
  EXPECT_EQ(RoundTrip(R"({"mask": {"paths": "status,note"}})"), R"({"mask":{"paths":["status,note"]}})");
}

TEST_F(JsonCodecTest, PrintsProtoNamesInFieldNumberOrderAndOmitsZeros) {
  EXPECT_EQ(RoundTrip(R"({"text": "t", "small_int": 0, "flag": false, "d": 0, "color": "COLOR_UNSPECIFIED",
                          "big_int": 7, "many": [], "child": {}})"),
            R"({"big_int":"7","child":{},"text":"t"})");
}

TEST_F(JsonCodecTest, AcceptsProtoAndJsonNamesAndHonorsAWrittenJsonName) {
  EXPECT_EQ(RoundTrip(R"({"bigInt": "1", "small_int": 2, "anyValue": 3})"),
            R"({"big_int":"1","small_int":2,"any_value":3})");
  EXPECT_EQ(RoundTrip(R"({"custom": "a"})"), R"({"customName":"a"})");
  EXPECT_EQ(RoundTrip(R"({"customName": "b"})"), R"({"customName":"b"})");
  EXPECT_EQ(ReadError(R"({"nope": 1})"), "message type codectest.All has no known field named nope");
  EXPECT_EQ(ReadError(R"({"child": {"Text": 1}})"), "message type codectest.All has no known field named Text");
}

TEST_F(JsonCodecTest, IntegersAsNumbersOrStrings) {
  EXPECT_EQ(RoundTrip(R"({"big_int": "-9223372036854775808", "big_uint": 18446744073709551615, "small_int": "-5"})"),
            R"({"big_int":"-9223372036854775808","big_uint":"18446744073709551615","small_int":-5})");
  EXPECT_EQ(RoundTrip(R"({"many": [1, "2", -3]})"), R"({"many":["1","2","-3"]})");
  EXPECT_EQ(ReadError(R"({"small_int": 2147483648})"), "numeric value is out of range");
  EXPECT_THAT(ReadError(R"({"big_int": 9223372036854775808})"), HasSubstr("value out of range"));
  EXPECT_THAT(ReadError(R"({"big_int": 1.5})"), HasSubstr("invalid syntax"));
  EXPECT_THAT(ReadError(R"({"big_uint": -1})"), HasSubstr("invalid syntax"));
  EXPECT_EQ(ReadError(R"({"small_int": true})"), "bad input: expecting number ; instead got true");
}

TEST_F(JsonCodecTest, FloatsBoolsBytesAndEnums) {
  EXPECT_EQ(RoundTrip(R"({"d": 1e6, "f": 0.1, "flag": "true", "blob": "aGk/Pz4+", "color": 2})"),
            R"({"d":1e+06,"f":0.1,"blob":"aGk/Pz4+","flag":true,"color":"GREEN"})");
  EXPECT_EQ(RoundTrip(R"({"d": "NaN", "color": "RED"})"), R"({"d":"NaN","color":"RED"})");
  EXPECT_EQ(RoundTrip(R"({"color": 7})"), R"({"color":7})");  // open enum: unknown numbers stay numbers
  EXPECT_EQ(ReadError(R"({"color": "BLUE"})"), "Enum \"codectest.Color\" does not have value named \"BLUE\"");
  EXPECT_THAT(ReadError(R"({"blob": "aGk"})"), HasSubstr("illegal base64 data"));
  EXPECT_EQ(ReadError(R"({"flag": 1})"), "bad input: expecting boolean ; instead got 1");
  EXPECT_EQ(ReadError(R"({"text": 1})"), "bad input: expecting string ; instead got 1");
}

TEST_F(JsonCodecTest, MapsPrintWithSortedKeys) {
  EXPECT_EQ(RoundTrip(R"({"counts": {"10": "ten", "-1": "minus", "2": "two"}})"),
            R"({"counts":{"-1":"minus","2":"two","10":"ten"}})");
}

TEST_F(JsonCodecTest, WellKnownTypes) {
  EXPECT_EQ(RoundTrip(R"({"when": "2026-11-24T21:09:08.5+01:00", "took": "1.5s", "maybe": "12"})"),
            R"({"when":"2026-11-24T20:09:08.500Z","took":"1.500s","maybe":"12"})");
  EXPECT_EQ(RoundTrip(R"({"maybe": 0})"), R"({"maybe":"0"})");  // a set wrapper prints even when zero
  EXPECT_THAT(ReadError(R"({"when": "yesterday"})"), HasSubstr("bad Timestamp"));
  EXPECT_EQ(ReadError(R"({"when": 5})"), "bad input: expecting string ; instead got 5");
}

TEST_F(JsonCodecTest, StructAndValueArePlainJsonWithSortedKeys) {
  EXPECT_EQ(RoundTrip(R"({"extra": {"z": 1, "a": null, "m": [true, "s", 0.03, {"k": []}], "big": 1e21}})"),
            R"({"extra":{"a":null,"big":1e+21,"m":[true,"s",0.03,{"k":[]}],"z":1}})");
  EXPECT_EQ(RoundTrip(R"({"any_value": "x"})"), R"({"any_value":"x"})");
  EXPECT_EQ(RoundTrip(R"({"any_value": null})"), R"({})");  // null leaves a field unset, as in protoreflect
  EXPECT_EQ(ReadError(R"({"extra": "x"})"), "bad input: expecting start of JSON object: '{' ; instead got x");
  EXPECT_EQ(ReadError(R"({"extra": [1]})"), "bad input: expecting start of JSON object: '{' ; instead got 1");
}

TEST_F(JsonCodecTest, ArraysAndSingleValuesAreLenientAsInProtoreflect) {
  EXPECT_EQ(RoundTrip(R"({"many": 5, "text": ["a", "b"]})"), R"({"many":["5"],"text":"b"})");
}

TEST_F(JsonCodecTest, PrintsIndentedAsGrpcurl) {
  std::unique_ptr<google::protobuf::Message> m = New();
  ASSERT_TRUE(Read(R"({"text": "<b>", "many": [1, 2], "child": {}, "extra": {"b": {}, "a": []}})", m.get()).ok());
  absl::StatusOr<std::string> text = FormatMessage(*m);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, R"({
  "extra": {
    "a": [],
    "b": {}
  },
  "many": [
    "1",
    "2"
  ],
  "child": {},
  "text": "\u003cb\u003e"
})");
  EXPECT_EQ(*FormatMessage(*New()), "{}");
}

}  // namespace
}  // namespace datagate::call
