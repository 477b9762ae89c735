#include "api/unary_adapter.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/errors.h"

namespace datagate::api {

UnaryAdapter::UnaryAdapter(absl::string_view service)
    : service_(service), descriptor_(google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service_)) {
  if (descriptor_ == nullptr) problems_.push_back(absl::StrCat("no .proto service named ", service_));
}

const char* UnaryAdapter::AddPath(absl::string_view method, const google::protobuf::Descriptor* request,
                                  const google::protobuf::Descriptor* response) {
  methods_added_.emplace_back(method);
  const google::protobuf::MethodDescriptor* m =
      descriptor_ == nullptr ? nullptr : descriptor_->FindMethodByName(std::string(method));
  if (m == nullptr) {
    problems_.push_back(absl::StrCat(service_, " has no method ", method));
  } else if (m->input_type() != request || m->output_type() != response || m->client_streaming() ||
             m->server_streaming()) {
    problems_.push_back(
        absl::StrCat(m->full_name(), " is not unary from ", request->full_name(), " to ", response->full_name()));
  }
  return paths_.emplace_back(absl::StrCat("/", service_, "/", method)).c_str();
}

absl::Status UnaryAdapter::Check() const {
  std::vector<std::string> problems = problems_;
  for (int i = 0; descriptor_ != nullptr && i < descriptor_->method_count(); ++i) {
    const std::string& name = descriptor_->method(i)->name();
    const auto n = std::count(methods_added_.begin(), methods_added_.end(), name);
    if (n != 1) problems.push_back(absl::StrCat(descriptor_->method(i)->full_name(), " is served ", n, " times"));
  }
  if (problems.empty()) return absl::OkStatus();
  return errors::ServiceMisregistered(service_, absl::StrJoin(problems, "; "));
}

}  // namespace datagate::api
