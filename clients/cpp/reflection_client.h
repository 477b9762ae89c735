// Descriptors from a server's reflection service (grpc.reflection.v1alpha),
// the only place grpcurl looks: no descriptor compiled into the client is
// used. A DescriptorPool built on database() loads files on demand.
#ifndef DATAGATE_CLIENTS_CPP_REFLECTION_CLIENT_H_
#define DATAGATE_CLIENTS_CPP_REFLECTION_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/descriptor_database.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"

namespace datagate::call {

using Headers = std::vector<std::pair<std::string, std::string>>;

// One ServerReflectionInfo stream, opened on first use, with every file the
// server sent cached. Not thread-safe.
class ReflectionClient {
 public:
  // `headers` go with the reflection stream; `deadline` bounds it.
  ReflectionClient(std::shared_ptr<grpc::Channel> channel, Headers headers,
                   std::optional<std::chrono::system_clock::time_point> deadline);
  ~ReflectionClient();

  // Service names as the server lists them.
  absl::StatusOr<std::vector<std::string>> ListServices();

  // Extension field numbers the server knows for message `type` (grpcurl asks
  // for every message type a call uses, and fails if the server cannot say).
  absl::StatusOr<std::vector<int>> ExtensionNumbers(const std::string& type);

  // Backs a google::protobuf::DescriptorPool. Lookups ask the server for
  // what is not cached yet.
  google::protobuf::DescriptorDatabase* database() { return &database_; }

  // Why the last lookup through database() failed (NOT_FOUND when the
  // server does not know the name; the stream's status when it broke).
  const absl::Status& last_error() const { return last_error_; }

 private:
  class Database : public google::protobuf::DescriptorDatabase {
   public:
    explicit Database(ReflectionClient* client) : client_(client) {}
    bool FindFileByName(const std::string& filename, google::protobuf::FileDescriptorProto* output) override;
    bool FindFileContainingSymbol(const std::string& symbol_name,
                                  google::protobuf::FileDescriptorProto* output) override;
    bool FindFileContainingExtension(const std::string& containing_type, int field_number,
                                     google::protobuf::FileDescriptorProto* output) override;

   private:
    ReflectionClient* const client_;
  };

  // Sends `request` and reads its answer; an error answer becomes a status.
  absl::StatusOr<grpc::reflection::v1alpha::ServerReflectionResponse> Ask(
      grpc::reflection::v1alpha::ServerReflectionRequest request);
  // Asks for files and caches every one in the answer; true if any came.
  bool Fetch(grpc::reflection::v1alpha::ServerReflectionRequest request);

  std::shared_ptr<grpc::Channel> channel_;
  Headers headers_;
  std::optional<std::chrono::system_clock::time_point> deadline_;
  std::unique_ptr<grpc::reflection::v1alpha::ServerReflection::Stub> stub_;
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<grpc::ClientReaderWriter<grpc::reflection::v1alpha::ServerReflectionRequest,
                                           grpc::reflection::v1alpha::ServerReflectionResponse>>
      stream_;
  google::protobuf::SimpleDescriptorDatabase cache_;
  std::set<std::string> cached_files_;
  Database database_{this};
  absl::Status last_error_;
};

}  // namespace datagate::call

#endif  // DATAGATE_CLIENTS_CPP_REFLECTION_CLIENT_H_
