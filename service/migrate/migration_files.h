// Loading versioned migration files from a folder.
#ifndef DATAGATE_MIGRATE_MIGRATION_FILES_H_
#define DATAGATE_MIGRATE_MIGRATION_FILES_H_

#include <cstdint>
#include <string>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace datagate::migrate {

// One migration: version and name come from the file name
// `<version>_<name>.up.sql` (and `.down.sql`). A dialect-specific file
// `<version>_<name>.up.<dialect>.sql` takes the place of the plain one.
struct MigrationFile {
  int64_t version = 0;
  std::string name;
  std::string up_sql;
  std::string down_sql;
  bool has_down = false;
  std::string checksum;  // SHA-256 hex of up and down SQL
  std::string up_file;   // file names, for messages
  std::string down_file;
};

// Reads every migration in `folder` for `dialect` ("sqlite", "postgres"),
// in version order. A missing folder is an empty set. INVALID_ARGUMENT for a
// malformed name, a duplicate version, or a down file without an up file.
absl::StatusOr<std::vector<MigrationFile>> LoadMigrations(const std::string& folder, absl::string_view dialect);

}  // namespace datagate::migrate

#endif  // DATAGATE_MIGRATE_MIGRATION_FILES_H_
