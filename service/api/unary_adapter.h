// Serves the unary methods of a generated sync service with datagate's own
// request parsing (api/request_parsing.h): a request protobuf refuses gets
// INVALID_ARGUMENT naming what to fix instead of gRPC's empty INTERNAL.
//
// The service classes keep deriving from the generated v1::*::Service (so
// `override` still checks every handler against the .proto) but are not
// registered themselves: an adapter holding a pointer to one is, under the
// same method names, so clients and server reflection see no difference.
#ifndef DATAGATE_API_UNARY_ADAPTER_H_
#define DATAGATE_API_UNARY_ADAPTER_H_

#include <grpcpp/impl/rpc_service_method.h>
#include <grpcpp/impl/service_type.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/method_handler.h>

#include <deque>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "api/request_parsing.h"
#include "google/protobuf/descriptor.h"

namespace datagate::api {

// gRPC's RpcMethodHandler for one sync unary method, with Deserialize
// replaced by ParseRequest. Thread-safe: gRPC calls it from any thread.
template <class Service, class Request, class Response>
class UnaryHandler final : public grpc::internal::MethodHandler {
 public:
  using Method = grpc::Status (Service::*)(grpc::ServerContext*, const Request*, Response*);
  UnaryHandler(Service* service, Method method) : service_(service), method_(method) {}

  void RunHandler(const HandlerParameter& param) final {
    Response response;
    grpc::Status status = param.status;
    if (status.ok()) {
      auto* request = static_cast<Request*>(param.request);
      status = grpc::internal::CatchingFunctionHandler([&] {
        return (service_->*method_)(static_cast<grpc::ServerContext*>(param.server_context), request, &response);
      });
      request->~Request();
    }
    grpc::internal::UnaryRunHandlerHelper(param, &response, status);
  }

  // Takes ownership of `buffer`. On failure the request is destroyed here
  // and RunHandler only sends `*status`.
  void* Deserialize(grpc_call* call, grpc_byte_buffer* buffer, grpc::Status* status, void** /*handler_data*/) final {
    auto* request = new (grpc::g_core_codegen_interface->grpc_call_arena_alloc(call, sizeof(Request))) Request;
    *status = ParseRequest(buffer, request);
    if (status->ok()) return request;
    request->~Request();
    return nullptr;
  }

 private:
  Service* const service_;
  const Method method_;
};

// A grpc::Service whose methods are added one by one from an implementation
// of a .proto service. Register the adapter, not the implementation; both
// must outlive the grpc::Server. Building is single-threaded; serving is
// thread-safe.
class UnaryAdapter final : public grpc::Service {
 public:
  // `service` is the .proto service's full name, e.g. "datagate.v1.DataService".
  explicit UnaryAdapter(absl::string_view service);

  // Serves `/service/method` by calling `(impl->*handler)(...)`.
  template <class Service, class Request, class Response>
  UnaryAdapter& Add(absl::string_view method, Service* impl,
                    grpc::Status (Service::*handler)(grpc::ServerContext*, const Request*, Response*)) {
    const char* path = AddPath(method, Request::descriptor(), Response::descriptor());
    AddMethod(new grpc::internal::RpcServiceMethod(path, grpc::internal::RpcMethod::NORMAL_RPC,
                                                   new UnaryHandler<Service, Request, Response>(impl, handler)));
    return *this;
  }

  // OK when the adapter serves every method of the .proto service, each with
  // its request and response types, and nothing else; INTERNAL naming the
  // first difference otherwise (a programming error, found at start-up).
  absl::Status Check() const;

 private:
  // Records `method` and returns its "/package.Service/Method" path, which
  // lives as long as the adapter (gRPC keeps the pointer).
  const char* AddPath(absl::string_view method, const google::protobuf::Descriptor* request,
                      const google::protobuf::Descriptor* response);

  const std::string service_;
  const google::protobuf::ServiceDescriptor* const descriptor_;
  std::deque<std::string> paths_;
  std::vector<std::string> methods_added_;
  std::vector<std::string> problems_;
};

}  // namespace datagate::api

#endif  // DATAGATE_API_UNARY_ADAPTER_H_
