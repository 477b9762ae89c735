#include "server/cloud.h"

#include "common/errors.h"

namespace datagate::server {

absl::StatusOr<std::unique_ptr<store::CloudStore>> OpenCloud(const Options&) {
  return errors::InvalidOption("cloud_url", "the Postgres store is not linked into this build yet");
}

}  // namespace datagate::server
