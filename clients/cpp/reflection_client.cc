#include "reflection_client.h"

#include "absl/strings/str_cat.h"

namespace datagate::call {

using grpc::reflection::v1alpha::ServerReflectionRequest;
using grpc::reflection::v1alpha::ServerReflectionResponse;

ReflectionClient::ReflectionClient(std::shared_ptr<grpc::Channel> channel, Headers headers,
                                   std::optional<std::chrono::system_clock::time_point> deadline)
    : channel_(std::move(channel)), headers_(std::move(headers)), deadline_(deadline) {}

ReflectionClient::~ReflectionClient() {
  if (stream_ != nullptr) {
    stream_->WritesDone();
    context_->TryCancel();
    (void)stream_->Finish();
  }
}

absl::StatusOr<ServerReflectionResponse> ReflectionClient::Ask(ServerReflectionRequest request) {
  if (stream_ == nullptr) {
    stub_ = grpc::reflection::v1alpha::ServerReflection::NewStub(channel_);
    context_ = std::make_unique<grpc::ClientContext>();
    for (const auto& [name, value] : headers_) context_->AddMetadata(name, value);
    if (deadline_.has_value()) context_->set_deadline(*deadline_);
    stream_ = stub_->ServerReflectionInfo(context_.get());
  }
  ServerReflectionResponse response;
  if (!stream_->Write(request) || !stream_->Read(&response)) {
    grpc::Status status = stream_->Finish();
    stream_.reset();
    if (status.ok()) status = grpc::Status(grpc::StatusCode::UNKNOWN, "the reflection stream ended");
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  }
  if (response.has_error_response()) {
    return absl::Status(static_cast<absl::StatusCode>(response.error_response().error_code()),
                        response.error_response().error_message());
  }
  return response;
}

bool ReflectionClient::Fetch(ServerReflectionRequest request) {
  absl::StatusOr<ServerReflectionResponse> response = Ask(std::move(request));
  if (!response.ok()) {
    last_error_ = response.status();
    return false;
  }
  bool any = false;
  for (const std::string& bytes : response->file_descriptor_response().file_descriptor_proto()) {
    google::protobuf::FileDescriptorProto file;
    if (!file.ParseFromString(bytes)) continue;
    any = true;
    if (cached_files_.insert(file.name()).second) cache_.AddAndOwn(new google::protobuf::FileDescriptorProto(file));
  }
  if (!any) last_error_ = absl::InternalError("the server sent no file descriptors");
  return any;
}

absl::StatusOr<std::vector<std::string>> ReflectionClient::ListServices() {
  ServerReflectionRequest request;
  request.set_list_services("");
  absl::StatusOr<ServerReflectionResponse> response = Ask(std::move(request));
  if (!response.ok()) return response.status();
  std::vector<std::string> names;
  for (const auto& service : response->list_services_response().service()) names.push_back(service.name());
  return names;
}

absl::StatusOr<std::vector<int>> ReflectionClient::ExtensionNumbers(const std::string& type) {
  ServerReflectionRequest request;
  request.set_all_extension_numbers_of_type(type);
  absl::StatusOr<ServerReflectionResponse> response = Ask(std::move(request));
  if (!response.ok()) return response.status();
  const auto& numbers = response->all_extension_numbers_response().extension_number();
  return std::vector<int>(numbers.begin(), numbers.end());
}

bool ReflectionClient::Database::FindFileByName(const std::string& filename,
                                                google::protobuf::FileDescriptorProto* output) {
  if (client_->cache_.FindFileByName(filename, output)) return true;
  ServerReflectionRequest request;
  request.set_file_by_filename(filename);
  return client_->Fetch(std::move(request)) && client_->cache_.FindFileByName(filename, output);
}

bool ReflectionClient::Database::FindFileContainingSymbol(const std::string& symbol_name,
                                                          google::protobuf::FileDescriptorProto* output) {
  if (client_->cache_.FindFileContainingSymbol(symbol_name, output)) return true;
  ServerReflectionRequest request;
  request.set_file_containing_symbol(symbol_name);
  if (!client_->Fetch(std::move(request))) return false;
  if (client_->cache_.FindFileContainingSymbol(symbol_name, output)) return true;
  client_->last_error_ = absl::NotFoundError(absl::StrCat("Symbol not found: ", symbol_name));
  return false;
}

bool ReflectionClient::Database::FindFileContainingExtension(const std::string& containing_type, int field_number,
                                                             google::protobuf::FileDescriptorProto* output) {
  if (client_->cache_.FindFileContainingExtension(containing_type, field_number, output)) return true;
  ServerReflectionRequest request;
  request.mutable_file_containing_extension()->set_containing_type(containing_type);
  request.mutable_file_containing_extension()->set_extension_number(field_number);
  return client_->Fetch(std::move(request)) &&
         client_->cache_.FindFileContainingExtension(containing_type, field_number, output);
}

}  // namespace datagate::call
