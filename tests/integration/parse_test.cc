// Requests the server cannot parse, sent as hand-made bytes through a generic
// stub: what a client in any language (or a broken proxy) can put on the wire.
#include <grpcpp/generic/generic_stub.h>

#include <cstring>
#include <future>

#include "absl/strings/escaping.h"

#include "test_env.h"

namespace datagate::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// Protobuf wire format, by hand, so tests can send what no generated
// serializer would produce.
std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}
std::string Bytes(int field, const std::string& bytes) { return Varint(field << 3 | 2) + Varint(bytes.size()) + bytes; }
std::string Number(int field, uint64_t v) { return Varint(field << 3) + Varint(v); }
std::string Double(int field, double d) {
  std::string bits(sizeof d, '\0');
  std::memcpy(bits.data(), &d, sizeof d);  // little-endian, as on the wire
  return Varint(field << 3 | 1) + bits;
}

// google.protobuf.Value / Struct / ListValue.
std::string StringValue(const std::string& s) { return Bytes(3, s); }
std::string StructValue(const std::string& fields) { return Bytes(5, fields); }
std::string Entry(const std::string& key, const std::string& value) {
  return Bytes(1, Bytes(1, key) + Bytes(2, value));
}

// A Value holding `levels` objects inside each other around a string.
std::string NestedValue(int levels) {
  std::string v = StringValue("deep");
  for (int i = 0; i < levels; ++i) v = StructValue(Entry("a", v));
  return v;
}

// CreateRowRequest{table, row}.
std::string CreateRow(const std::string& table, const std::string& row_fields) {
  return Bytes(1, table) + Bytes(2, row_fields);
}

class ParseTest : public SharedServerTest {
 protected:
  static void SetUpTestSuite() {
    SharedServerTest::SetUpTestSuite();
    server_->CreateTenant("parse");
  }

  // One unary call with `bytes` as the request message.
  static grpc::Status Call(const std::string& method, const std::string& bytes, std::string* reply = nullptr) {
    grpc::GenericStub stub(server_->channel());
    auto ctx = Ctx("parse");
    grpc::Slice slice(bytes);
    grpc::ByteBuffer request(&slice, 1), response;
    std::promise<grpc::Status> done;
    stub.UnaryCall(ctx.get(), method, grpc::StubOptions(), &request, &response,
                   [&done](grpc::Status s) { done.set_value(std::move(s)); });
    grpc::Status status = done.get_future().get();
    if (reply != nullptr) {
      std::vector<grpc::Slice> slices;
      (void)response.Dump(&slices);
      reply->clear();
      for (const grpc::Slice& s : slices) reply->append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    return status;
  }

  // A call to a unary method sending `messages` (any number) on a stream.
  static grpc::Status Stream(const std::string& method, const std::vector<std::string>& messages) {
    grpc::GenericStub stub(server_->channel());
    grpc::CompletionQueue cq;
    auto ctx = Ctx("parse");
    auto wait = [&cq] {
      void* tag;
      bool ok = false;
      EXPECT_TRUE(cq.Next(&tag, &ok));
      return ok;
    };
    auto call = stub.PrepareCall(ctx.get(), method, &cq);
    call->StartCall(nullptr);
    wait();
    for (const std::string& m : messages) {
      grpc::Slice slice(m);
      grpc::ByteBuffer buf(&slice, 1);
      call->Write(buf, nullptr);
      wait();
    }
    call->WritesDone(nullptr);
    wait();
    grpc::ByteBuffer response;
    call->Read(&response, nullptr);
    wait();
    grpc::Status status;
    call->Finish(&status, nullptr);
    wait();
    return status;
  }
};

constexpr char kCreateRow[] = "/datagate.v1.DataService/CreateRow";

TEST_F(ParseTest, WellFormedBytesReachTheHandler) {
  std::string reply;
  grpc::Status s =
      Call(kCreateRow,
           CreateRow("customers", Entry("name", StringValue("Zoë")) + Entry("email", StringValue("zoe@example.com"))),
           &reply);
  ASSERT_TRUE(s.ok()) << s.error_message();
  v1::Row row;
  ASSERT_TRUE(row.ParseFromString(reply));
  EXPECT_EQ(row.fields().fields().at("name").string_value(), "Zoë");
}

TEST_F(ParseTest, InvalidUtf8InATopLevelStringNamesTheField) {
  grpc::Status s = Call(kCreateRow, CreateRow("custo\xff\xfemers", Entry("name", StringValue("x"))));
  EXPECT_THAT(s, IsCode(grpc::INVALID_ARGUMENT));
  EXPECT_THAT(s.error_message(), HasSubstr("request is not a valid datagate.v1.CreateRowRequest: field 'table' is "
                                           "not valid UTF-8"));
}

TEST_F(ParseTest, InvalidUtf8InAStructValueNamesItsPath) {
  grpc::Status s = Call(kCreateRow, CreateRow("customers", Entry("email", StringValue("a@b")) +
                                                               Entry("name", StringValue("Ad\xc3\x28"))));
  EXPECT_THAT(s, IsCode(grpc::INVALID_ARGUMENT));
  EXPECT_THAT(s.error_message(), HasSubstr("request is not a valid datagate.v1.CreateRowRequest: field "
                                           "'row.fields[\"name\"].string_value' is not valid UTF-8"));
}

TEST_F(ParseTest, InvalidUtf8InAMapKeyIsEscapedNotEchoed) {
  grpc::Status s = Call(kCreateRow, CreateRow("customers", Entry("na\xffme", StringValue("x"))));
  EXPECT_THAT(s, IsCode(grpc::INVALID_ARGUMENT));
  EXPECT_THAT(s.error_message(), AllOf(HasSubstr("field 'row.fields' has a key that is not valid UTF-8"),
                                       HasSubstr("na\\xffme"), Not(HasSubstr("\xff"))));
}

TEST_F(ParseTest, InvalidUtf8DeepInsideABatchNamesTheOperation) {
  std::string op0 = Bytes(1, CreateRow("customers", Entry("name", StringValue("ok"))));
  std::string op1 =
      Bytes(3, CreateRow("customers", Entry("name", StringValue("ok")) + Entry("email", StringValue("\x80"))));
  grpc::Status s = Call("/datagate.v1.DataService/BatchWrite", Bytes(1, op0) + Bytes(1, op1));
  EXPECT_THAT(s, IsCode(grpc::INVALID_ARGUMENT));
  EXPECT_THAT(s.error_message(), HasSubstr("request is not a valid datagate.v1.BatchWriteRequest: field "
                                           "'operations[1].upsert.row.fields[\"email\"].string_value' is not "
                                           "valid UTF-8"));
}

TEST_F(ParseTest, InvalidUtf8InARepeatedValueNamesItsIndex) {
  std::string filter = Bytes(1, "name") + Number(2, 7) + Bytes(4, StringValue("a")) + Bytes(4, StringValue("b")) +
                       Bytes(4, StringValue("\xed\xa0\x80"));
  grpc::Status s = Call("/datagate.v1.DataService/ListRows", Bytes(1, "customers") + Bytes(2, filter));
  EXPECT_THAT(s, IsCode(grpc::INVALID_ARGUMENT));
  EXPECT_THAT(s.error_message(), HasSubstr("field 'filters[0].values[2].string_value' is not valid UTF-8"));
}

TEST_F(ParseTest, InvalidUtf8InOtherServicesToo) {
  grpc::Status s = Call("/datagate.v1.TenantService/CreateTenant", Bytes(1, "ok") + Bytes(2, "Caf\xe9"));
  EXPECT_THAT(s, IsCode(grpc::INVALID_ARGUMENT));
  EXPECT_THAT(s.error_message(), HasSubstr("request is not a valid datagate.v1.CreateTenantRequest: field "
                                           "'display_name' is not valid UTF-8"));
  std::string update = Bytes(1, "customers") + Bytes(2, Entry("id", StringValue("1"))) +
                       Bytes(3, Bytes(1, "name") + Bytes(1, "n\xc0\xafme"));
  s = Call("/datagate.v1.DataService/UpdateRow", update);
  EXPECT_THAT(s, IsCode(grpc::INVALID_ARGUMENT));
  EXPECT_THAT(s.error_message(), HasSubstr("field 'update_mask.paths[1]' is not valid UTF-8"));
}

TEST_F(ParseTest, NestingDeeperThanTheLimitIsRefusedClearly) {
  // Each object level is three messages deep (Value, Struct, map entry).
  grpc::Status s = Call(kCreateRow, CreateRow("customers", Entry("name", NestedValue(40))));
  EXPECT_THAT(s, IsCode(grpc::INVALID_ARGUMENT));
  EXPECT_THAT(s.error_message(), HasSubstr("request is not a valid datagate.v1.CreateRowRequest: field "
                                           "'row.fields[\"name\"]' nests values more than 100 levels deep"));
}

TEST_F(ParseTest, NestingWithinTheLimitReachesTheHandler) {
  // 32 object levels: 3 + 32 * 3 = 99 messages below the request.
  grpc::Status s = Call(kCreateRow, CreateRow("customers", Entry("name", NestedValue(32))));
  EXPECT_THAT(s, IsCode(grpc::INVALID_ARGUMENT));
  EXPECT_THAT(s.error_message(), AllOf(HasSubstr("row.name"), Not(HasSubstr("nests"))));
}

TEST_F(ParseTest, MalformedBytesAreInvalidArgument) {
  const std::string valid = CreateRow("customers", Entry("name", StringValue("x")));
  for (const std::string& bytes : {valid.substr(0, valid.size() - 1),  // truncated inside the row
                                   std::string("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11),  // bad varint
                                   std::string("\x0a\x05"
                                               "ab",
                                               4),                 // length past the end
                                   std::string("\x00\x01", 2)}) {  // field number 0
    grpc::Status s = Call(kCreateRow, bytes);
    EXPECT_THAT(s, IsCode(grpc::INVALID_ARGUMENT)) << absl::CHexEscape(bytes);
    EXPECT_THAT(s.error_message(), HasSubstr("request is not a valid datagate.v1.CreateRowRequest: malformed "
                                             "protobuf bytes"))
        << absl::CHexEscape(bytes);
  }
}

TEST_F(ParseTest, UnknownFieldsAndWrongWireTypesAreIgnoredAsProtobufDoes) {
  // Field 99 is unknown; field 1 (table) sent as a varint is an unknown field
  // to protobuf too; the handler then sees an empty table name.
  grpc::Status s = Call(kCreateRow, Number(99, 5) + Number(1, 7) + Bytes(2, Entry("name", StringValue("x"))));
  EXPECT_THAT(s, IsCode(grpc::INVALID_ARGUMENT));
  EXPECT_THAT(s.error_message(), Not(HasSubstr("request is not a valid")));
}

TEST_F(ParseTest, AUnaryCallWithoutItsMessage) {
  grpc::Status s = Stream(kCreateRow, {});
  EXPECT_THAT(s, IsCode(grpc::INVALID_ARGUMENT));
  EXPECT_THAT(s.error_message(), HasSubstr("no request message"));
}

TEST_F(ParseTest, AUnaryCallWithTwoMessagesIsServedTheFirst) {
  // gRPC's sync server reads one message for a unary method and never looks
  // at the rest (not even garbage).
  grpc::Status s =
      Stream(kCreateRow, {CreateRow("customers", Entry("id", Double(2, 500)) + Entry("name", StringValue("Two")) +
                                                     Entry("email", StringValue("two@example.com"))),
                          "\xff\xff"});
  EXPECT_TRUE(s.ok()) << s.error_message();
}

// These never reach datagate's code: gRPC answers them itself.
TEST_F(ParseTest, GrpcItselfAnswersUnknownMethodsAndOversizedMessages) {
  grpc::Status s = Call("/datagate.v1.DataService/DropTable", "");
  EXPECT_THAT(s, IsCode(grpc::UNIMPLEMENTED));
  EXPECT_EQ(s.error_message(), "");
  s = Call(kCreateRow, CreateRow("customers", Entry("name", StringValue(std::string(5 << 20, 'x')))));
  EXPECT_THAT(s, IsCode(grpc::RESOURCE_EXHAUSTED));
  EXPECT_THAT(s.error_message(), HasSubstr("Received message larger than max"));
}

// The health service runs on gRPC's callback API with generated code: gRPC
// parses its requests and answers one it cannot parse itself, before any
// datagate code runs (documented in the README).
TEST_F(ParseTest, GrpcAnswersAHealthRequestItCannotParse) {
  EXPECT_TRUE(Call("/grpc.health.v1.Health/Check", "").ok());
  for (const std::string& bytes : {Bytes(1, std::string("bad\xff")), std::string("\x0a\x05"
                                                                                 "ab")}) {
    grpc::Status s = Call("/grpc.health.v1.Health/Check", bytes);
    EXPECT_THAT(s, IsCode(grpc::UNIMPLEMENTED));
    EXPECT_EQ(s.error_message(), "");
  }
}

}  // namespace
}  // namespace datagate::testing
