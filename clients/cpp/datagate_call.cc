// datagate_call: calls any datagate.v1 method with a JSON request and prints
// the JSON answer, much as grpcurl does. Also a worked example of a C++
// client built from the generated code.
//
//   datagate_call -H x-tenant-id:demo 127.0.0.1:50051 datagate.v1.DataService/GetRow
//       '{"table": "customers", "key": {"id": 1}}'
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <future>
#include <iostream>
#include <string>
#include <vector>

#include "datagate/v1/data.pb.h"
#include "datagate/v1/migration.pb.h"
#include "datagate/v1/tenant.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/util/json_util.h"
#include "grpc/health/v1/health.pb.h"

namespace {

int Usage() {
  std::cerr << "usage: datagate_call [-H name:value]... ADDRESS SERVICE/METHOD [JSON]\n";
  return 2;
}

// grpcurl names codes in CamelCase ("NotFound").
const char* CodeName(grpc::StatusCode code) {
  static const char* kNames[] = {
      "OK",       "Canceled",       "Unknown",          "InvalidArgument",   "DeadlineExceeded",
      "NotFound", "AlreadyExists",  "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
      "Aborted",  "OutOfRange",     "Unimplemented",    "Internal",          "Unavailable",
      "DataLoss", "Unauthenticated"};
  const int i = static_cast<int>(code);
  return i >= 0 && i <= 16 ? kNames[i] : "Unknown";
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-H" && i + 1 < argc) {
      const std::string h = argv[++i];
      const size_t colon = h.find(':');
      if (colon == std::string::npos) return Usage();
      std::string value = h.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      headers.emplace_back(h.substr(0, colon), value);
    } else {
      args.push_back(a);
    }
  }
  if (args.size() < 2 || args.size() > 3) return Usage();
  std::string full = args[1];
  const size_t slash = full.rfind('/');
  if (slash == std::string::npos) return Usage();
  full[slash] = '.';
  // Touch one message per file so the linker keeps their descriptors.
  (void)datagate::v1::Row::descriptor();
  (void)datagate::v1::Tenant::descriptor();
  (void)datagate::v1::Migration::descriptor();
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  const google::protobuf::MethodDescriptor* method =
      google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(full);
  if (method == nullptr) {
    std::cerr << "unknown method " << args[1] << "\n";
    return 2;
  }
  google::protobuf::DynamicMessageFactory factory;
  std::unique_ptr<google::protobuf::Message> request(factory.GetPrototype(method->input_type())->New());
  std::unique_ptr<google::protobuf::Message> response(factory.GetPrototype(method->output_type())->New());
  if (args.size() == 3) {
    auto parsed = google::protobuf::util::JsonStringToMessage(args[2], request.get());
    if (!parsed.ok()) {
      std::cerr << "bad request JSON: " << parsed.ToString() << "\n";
      return 2;
    }
  }
  std::string bytes;
  request->SerializeToString(&bytes);
  grpc::Slice slice(bytes);
  grpc::ByteBuffer send(&slice, 1), received;

  auto channel = grpc::CreateChannel(args[0], grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  for (const auto& [name, value] : headers) ctx.AddMetadata(name, value);
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, "/" + args[1], grpc::StubOptions(), &send, &received,
                 [&done](grpc::Status s) { done.set_value(std::move(s)); });
  const grpc::Status status = done.get_future().get();
  if (!status.ok()) {
    std::cout << "ERROR:\n  Code: " << CodeName(status.error_code()) << "\n  Message: " << status.error_message()
              << "\n";
    return 1;
  }
  std::vector<grpc::Slice> slices;
  (void)received.Dump(&slices);
  std::string out_bytes;
  for (const auto& s : slices) out_bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  response->ParseFromString(out_bytes);
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(*response, &json, options);
  std::cout << json;
  return 0;
}
