// PgCloudStore::ApplySync: set-based, newer-only application of sync ops.
#include "common/errors.h"
#include "store/postgres/pg_store.h"

namespace datagate::store::postgres {

absl::StatusOr<std::vector<SyncOutcome>> PgCloudStore::ApplySync(const std::string&, const std::vector<SyncOp>&,
                                                                 absl::Time) {
  return errors::StoreInternal();
}

}  // namespace datagate::store::postgres
