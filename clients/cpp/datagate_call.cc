// datagate_call: a stand-in for grpcurl (1.8.7) in the forms datagate's
// README uses, so that every walkthrough line runs with either tool:
//
//   datagate_call [flags] ADDRESS list [SERVICE]
//   datagate_call [flags] ADDRESS describe [SYMBOL]
//   datagate_call [flags] ADDRESS SERVICE/METHOD
//
// Flags come before the address, as for grpcurl: -plaintext (required: no
// TLS here), -H 'name: value' (repeatable; also -rpc-header and
// -reflect-header), -d JSON (or -d @ for stdin), -max-time SECONDS,
// -connect-timeout SECONDS.
//
// Like grpcurl it knows no .proto: methods and messages come only from the
// server's reflection service (see reflection_client.h), requests and
// answers are JSON as grpcurl reads and prints it (see json_codec.h), an
// RPC error goes to stderr as "ERROR:\n  Code: NotFound\n  Message: ..."
// with exit status 64 + code, other failures exit 1, usage errors 2.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <iostream>
#include <iterator>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/dynamic_message.h"
#include "json_codec.h"
#include "reflection_client.h"

namespace datagate::call {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::DescriptorPool;
using google::protobuf::MethodDescriptor;

constexpr int kStatusCodeOffset = 64;  // grpcurl's exit status for an RPC error is 64 + code

struct Flags {
  bool plaintext = false;
  std::optional<std::string> data;
  std::vector<std::string> raw_headers, raw_rpc_headers, raw_reflect_headers;  // 'name: value'
  Headers headers, rpc_headers, reflect_headers;                               // split
  std::optional<double> max_time;
  double connect_timeout = 10;
  std::vector<std::string> args;  // ADDRESS and what follows
};

// A failure that ends the program: message to stderr, then exit `code`.
struct Exit {
  int code;
  std::string message;
};

Exit UsageError(const std::string& message) {
  return {2, absl::StrCat(message, "\nTry 'datagate_call -help' for more details.")};
}

constexpr char kUsage[] =
    "Usage: datagate_call [flags] ADDRESS (list [SERVICE] | describe [SYMBOL] | SERVICE/METHOD)\n"
    "Flags (before ADDRESS, as for grpcurl):\n"
    "  -plaintext             use plaintext HTTP/2 (required: datagate_call has no TLS)\n"
    "  -H 'name: value'       request metadata for reflection and the call (repeatable)\n"
    "  -rpc-header, -reflect-header 'name: value'   the same for the call or reflection only\n"
    "  -d JSON                the request(s); '@' reads them from stdin\n"
    "  -max-time SECONDS      deadline for the whole operation\n"
    "  -connect-timeout SECONDS  how long to wait for the connection (default 10)\n";

// Go's flag.Parse: -name or --name, -name=value or -name value, flags end at
// the first argument that is not one (or after "--").
std::optional<Exit> ParseFlags(int argc, char** argv, Flags* flags) {
  int i = 1;
  for (; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') break;
    std::string name = arg.substr(arg[1] == '-' ? 2 : 1);
    std::optional<std::string> value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    if (name == "help" || name == "h") return Exit{0, kUsage};
    if (name == "plaintext") {
      flags->plaintext = !value.has_value() || *value == "true" || *value == "1" || *value == "t";
      continue;
    }
    static const std::set<std::string> kWithValue = {
        "d", "H", "rpc-header", "reflect-header", "max-time", "connect-timeout"};
    if (kWithValue.count(name) == 0) return UsageError(absl::StrCat("flag provided but not defined: -", name));
    if (!value.has_value()) {
      if (i + 1 >= argc) return UsageError(absl::StrCat("flag needs an argument: -", name));
      value = argv[++i];
    }
    if (name == "d") flags->data = *value;
    if (name == "H") flags->raw_headers.push_back(*value);
    if (name == "rpc-header") flags->raw_rpc_headers.push_back(*value);
    if (name == "reflect-header") flags->raw_reflect_headers.push_back(*value);
    if (name == "max-time" || name == "connect-timeout") {
      double seconds;
      if (!absl::SimpleAtod(*value, &seconds) || seconds < 0) {
        return UsageError(absl::StrCat("invalid value \"", *value, "\" for flag -", name));
      }
      if (name == "max-time") {
        flags->max_time = seconds;
      } else {
        flags->connect_timeout = seconds;
      }
    }
  }
  for (; i < argc; ++i) flags->args.push_back(argv[i]);
  return std::nullopt;
}

// grpcurl's "name: value" headers: name lowercased, both sides trimmed,
// "-bin" values base64-decoded when they decode.
std::optional<Exit> SplitHeaders(const std::vector<std::string>& raw, Headers* headers) {
  for (const std::string& text : raw) {
    const size_t colon = text.find(':');
    std::string name = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text.substr(0, colon)));
    std::string value =
        colon == std::string::npos ? "" : std::string(absl::StripAsciiWhitespace(text.substr(colon + 1)));
    if (name.empty() || name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_.") != std::string::npos) {
      return UsageError(absl::StrCat("invalid header '", absl::CHexEscape(text), "': want 'name: value'"));
    }
    std::string decoded;
    if (absl::EndsWith(name, "-bin") && absl::Base64Unescape(value, &decoded)) value = decoded;
    headers->emplace_back(std::move(name), std::move(value));
  }
  return std::nullopt;
}

Headers Concat(const Headers& a, const Headers& b) {
  Headers out = a;
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

// Go's codes.Code names.
std::string CodeName(int code) {
  static const char* kNames[] = {
      "OK",       "Canceled",       "Unknown",          "InvalidArgument",   "DeadlineExceeded",
      "NotFound", "AlreadyExists",  "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
      "Aborted",  "OutOfRange",     "Unimplemented",    "Internal",          "Unavailable",
      "DataLoss", "Unauthenticated"};
  return code >= 0 && code <= 16 ? kNames[code] : absl::StrCat("Code(", code, ")");
}

class Session {
 public:
  Session(const Flags& flags, std::shared_ptr<grpc::Channel> channel)
      : flags_(flags),
        channel_(channel),
        reflection_(channel, Concat(flags.headers, flags.reflect_headers), Deadline()),
        pool_(reflection_.database()) {}

  std::optional<Exit> List(const std::string& service);
  std::optional<Exit> Describe(const std::string& symbol);
  std::optional<Exit> Invoke(const std::string& symbol);

 private:
  std::optional<std::chrono::system_clock::time_point> Deadline() const {
    if (!flags_.max_time.has_value()) return std::nullopt;
    return start_ + std::chrono::microseconds(static_cast<int64_t>(*flags_.max_time * 1e6));
  }
  absl::StatusOr<std::vector<std::string>> SortedServices() {
    absl::StatusOr<std::vector<std::string>> services = reflection_.ListServices();
    if (services.ok()) std::sort(services->begin(), services->end());
    return services;
  }
  std::optional<Exit> CheckExtensions(const Descriptor* type, std::set<std::string>* seen);
  std::optional<Exit> Call(const MethodDescriptor* method, const std::vector<std::string>& requests);

  const Flags& flags_;
  const std::chrono::system_clock::time_point start_ = std::chrono::system_clock::now();
  std::shared_ptr<grpc::Channel> channel_;
  ReflectionClient reflection_;
  DescriptorPool pool_;
  google::protobuf::DynamicMessageFactory factory_{&pool_};
};

std::optional<Exit> Session::List(const std::string& service) {
  if (service.empty()) {
    absl::StatusOr<std::vector<std::string>> services = SortedServices();
    if (!services.ok()) return Exit{1, absl::StrCat("Failed to list services: ", services.status().message())};
    if (services->empty()) std::cout << "(No services)\n";
    for (const std::string& name : *services) std::cout << name << "\n";
    return std::nullopt;
  }
  const google::protobuf::ServiceDescriptor* s = pool_.FindServiceByName(service);
  if (s == nullptr) {
    return Exit{1, absl::StrCat("Failed to list methods for service \"", service, "\": Service not found: ", service)};
  }
  std::vector<std::string> methods;
  for (int i = 0; i < s->method_count(); ++i) methods.push_back(s->method(i)->full_name());
  std::sort(methods.begin(), methods.end());
  for (const std::string& m : methods) std::cout << m << "\n";
  return std::nullopt;
}

std::optional<Exit> Session::Describe(const std::string& symbol) {
  std::vector<std::string> symbols;
  if (!symbol.empty()) {
    symbols.push_back(symbol[0] == '.' ? symbol.substr(1) : symbol);
  } else {
    absl::StatusOr<std::vector<std::string>> services = SortedServices();
    if (!services.ok()) return Exit{1, absl::StrCat("Failed to list services: ", services.status().message())};
    symbols = *services;
  }
  for (const std::string& s : symbols) {
    std::string kind, text;
    if (const auto* d = pool_.FindServiceByName(s)) {
      kind = "a service", text = d->DebugString();
    } else if (const auto* d = pool_.FindMessageTypeByName(s)) {
      kind = "a message", text = d->DebugString();
    } else if (const auto* d = pool_.FindEnumTypeByName(s)) {
      kind = "an enum", text = d->DebugString();
    } else if (const auto* d = pool_.FindMethodByName(s)) {
      kind = "a method", text = d->DebugString();
    } else if (const auto* d = pool_.FindFieldByName(s)) {
      kind = "a field", text = d->DebugString();
    } else if (const auto* d = pool_.FindEnumValueByName(s)) {
      kind = "an enum value", text = d->DebugString();
    } else {
      return Exit{1, absl::StrCat("Failed to resolve symbol \"", s, "\": Symbol not found: ", s)};
    }
    while (!text.empty() && text.back() == '\n') text.pop_back();
    std::cout << s << " is " << kind << ":\n" << text << "\n";
  }
  return std::nullopt;
}

// grpcurl asks the server for the extensions of every message type a call
// uses, and gives up if the server cannot answer.
std::optional<Exit> Session::CheckExtensions(const Descriptor* type, std::set<std::string>* seen) {
  if (!seen->insert(type->full_name()).second) return std::nullopt;
  absl::StatusOr<std::vector<int>> numbers = reflection_.ExtensionNumbers(type->full_name());
  if (!numbers.ok()) {
    return Exit{1, absl::StrCat("error resolving server extensions for message ", type->full_name(), ": ",
                                numbers.status().message())};
  }
  for (int i = 0; i < type->field_count(); ++i) {
    if (const Descriptor* sub = type->field(i)->message_type()) {
      if (std::optional<Exit> e = CheckExtensions(sub, seen)) return e;
    }
  }
  return std::nullopt;
}

std::optional<Exit> Session::Invoke(const std::string& symbol) {
  const auto fail = [&](const std::string& why) {
    return Exit{1, absl::StrCat("Error invoking method \"", symbol, "\": ", why)};
  };
  size_t cut = symbol.rfind('/');
  if (cut == std::string::npos) cut = symbol.rfind('.');
  if (cut == std::string::npos || cut == 0 || cut + 1 == symbol.size()) {
    return fail(absl::StrCat("given method name \"", symbol,
                             "\" is not in expected format: 'service/method' or 'service.method'"));
  }
  const std::string service_name = symbol.substr(0, cut), method_name = symbol.substr(cut + 1);
  const google::protobuf::ServiceDescriptor* service = pool_.FindServiceByName(service_name);
  if (service == nullptr) {
    const absl::Status& why = reflection_.last_error();
    if (why.ok() || why.code() == absl::StatusCode::kNotFound) {
      return fail(absl::StrCat("target server does not expose service \"", service_name, "\""));
    }
    return fail(absl::StrCat("failed to query for service descriptor \"", service_name, "\": ", why.message()));
  }
  const MethodDescriptor* method = service->FindMethodByName(method_name);
  if (method == nullptr) {
    return fail(absl::StrCat("service \"", service_name, "\" does not include a method named \"", method_name, "\""));
  }
  std::set<std::string> seen;
  if (std::optional<Exit> e = CheckExtensions(method->input_type(), &seen)) return fail(e->message);
  if (std::optional<Exit> e = CheckExtensions(method->output_type(), &seen)) return fail(e->message);

  std::string data = flags_.data.value_or("");
  if (data == "@") data.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  absl::StatusOr<std::vector<Json>> values = ParseJsonStream(data);
  if (!values.ok()) return fail(absl::StrCat("error getting request data: ", values.status().message()));
  if (!method->client_streaming() && values->size() > 1) {
    return fail(absl::StrCat("method \"", method->full_name(), "\" is a ",
                             method->server_streaming() ? "server-streaming" : "unary",
                             " RPC, but request data contained more than 1 message"));
  }
  const google::protobuf::Message* prototype = factory_.GetPrototype(method->input_type());
  std::vector<std::string> requests;
  for (const Json& value : *values) {
    std::unique_ptr<google::protobuf::Message> request(prototype->New());
    if (absl::Status s = JsonToMessage(value, request.get()); !s.ok()) {
      return fail(absl::StrCat("error getting request data: ", s.message()));
    }
    requests.push_back(request->SerializeAsString());
  }
  // One request message (an empty one if none was given) unless the client streams.
  if (requests.empty() && !method->client_streaming()) requests.push_back("");
  return Call(method, requests);
}

// Runs the call as a generic stream: the wire is the same for every kind of
// method, so one path serves unary and streaming calls alike.
std::optional<Exit> Session::Call(const MethodDescriptor* method, const std::vector<std::string>& requests) {
  grpc::ClientContext ctx;
  for (const auto& [name, value] : Concat(flags_.headers, flags_.rpc_headers)) ctx.AddMetadata(name, value);
  if (auto deadline = Deadline()) ctx.set_deadline(*deadline);
  grpc::CompletionQueue cq;
  grpc::GenericStub stub(channel_);
  const std::string path = absl::StrCat("/", method->service()->full_name(), "/", method->name());
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call = stub.PrepareCall(&ctx, path, &cq);
  const auto wait = [&cq] {
    void* tag;
    bool ok = false;
    return cq.Next(&tag, &ok) && ok;
  };
  call->StartCall(nullptr);
  bool open = wait();
  for (const std::string& bytes : requests) {
    if (!open) break;
    grpc::Slice slice(bytes);
    grpc::ByteBuffer buffer(&slice, 1);
    call->Write(buffer, nullptr);
    open = wait();
  }
  if (open) {
    call->WritesDone(nullptr);
    wait();
  }
  const google::protobuf::Message* prototype = factory_.GetPrototype(method->output_type());
  for (int n = 1;; ++n) {
    grpc::ByteBuffer buffer;
    call->Read(&buffer, nullptr);
    if (!wait()) break;
    std::vector<grpc::Slice> slices;
    std::string bytes;
    if (buffer.Dump(&slices).ok()) {
      for (const grpc::Slice& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    std::unique_ptr<google::protobuf::Message> response(prototype->New());
    absl::StatusOr<std::string> text = response->ParseFromString(bytes)
                                           ? FormatMessage(*response)
                                           : absl::InvalidArgumentError("cannot parse the response bytes");
    if (text.ok()) {
      std::cout << *text << std::endl;
    } else {
      std::cout << "Failed to format response message " << n << ": " << text.status().message() << std::endl;
    }
  }
  grpc::Status status;
  call->Finish(&status, nullptr);
  wait();
  cq.Shutdown();
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }
  if (status.ok()) return std::nullopt;
  const int code = static_cast<int>(status.error_code());
  return Exit{kStatusCodeOffset + code,
              absl::StrCat("ERROR:\n  Code: ", CodeName(code), "\n  Message: ", status.error_message())};
}

std::optional<Exit> Run(int argc, char** argv) {
  Flags flags;
  if (std::optional<Exit> e = ParseFlags(argc, argv, &flags)) return e;
  for (auto [raw, split] :
       {std::pair(&flags.raw_headers, &flags.headers), std::pair(&flags.raw_rpc_headers, &flags.rpc_headers),
        std::pair(&flags.raw_reflect_headers, &flags.reflect_headers)}) {
    if (std::optional<Exit> e = SplitHeaders(*raw, split)) return e;
  }
  if (flags.args.size() < 2) return UsageError("Too few arguments.");
  const std::string& address = flags.args[0];
  const std::string& verb = flags.args[1];
  const bool is_list = verb == "list", is_describe = verb == "describe";
  if (flags.args.size() > ((is_list || is_describe) ? 3u : 2u)) return UsageError("Too many arguments.");
  const std::string symbol = (is_list || is_describe) ? (flags.args.size() > 2 ? flags.args[2] : "") : verb;
  if ((is_list || is_describe) && flags.data.has_value()) {
    std::cerr << "Warning: The -d argument is not used with 'list' or 'describe' verb.\n";
  }
  if (!flags.plaintext) {
    return UsageError(
        absl::StrCat("datagate_call speaks plaintext only, and without -plaintext grpcurl would try "
                     "TLS (and fail against \"",
                     address, "\"): pass -plaintext"));
  }
  grpc::ChannelArguments args;
  args.SetUserAgentPrefix("datagate_call");
  auto channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  const auto connect_deadline =
      std::chrono::system_clock::now() + std::chrono::microseconds(static_cast<int64_t>(flags.connect_timeout * 1e6));
  if (!channel->WaitForConnected(connect_deadline)) {
    return Exit{1, absl::StrCat("Failed to dial target host \"", address, "\": context deadline exceeded")};
  }
  Session session(flags, channel);
  if (is_list) return session.List(symbol);
  if (is_describe) return session.Describe(symbol);
  return session.Invoke(symbol);
}

}  // namespace
}  // namespace datagate::call

int main(int argc, char** argv) {
  std::optional<datagate::call::Exit> exit = datagate::call::Run(argc, argv);
  if (!exit.has_value()) return 0;
  (exit->code == 0 ? std::cout : std::cerr) << exit->message << (exit->message.back() == '\n' ? "" : "\n");
  return exit->code;
}
