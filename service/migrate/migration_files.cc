#include "migrate/migration_files.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/errors.h"
#include "common/hash.h"

namespace datagate::migrate {
namespace {

struct Parts {
  int64_t version = 0;
  std::string name;
  bool up = true;
  bool dialect_specific = false;
};

// "0001_create_things.up.sql" or "0001_create_things.down.sqlite.sql".
absl::StatusOr<std::optional<Parts>> ParseName(const std::string& file, absl::string_view dialect) {
  if (!absl::EndsWith(file, ".sql")) return std::nullopt;
  std::vector<std::string> pieces = absl::StrSplit(file, '.');
  if (pieces.size() != 3 && pieces.size() != 4) {
    return errors::BadMigrationFile(file, "name it <version>_<name>.up.sql or .down.sql");
  }
  Parts p;
  if (pieces.size() == 4) {
    if (pieces[2] != dialect) return std::nullopt;  // another dialect's file
    p.dialect_specific = true;
  }
  if (pieces[1] != "up" && pieces[1] != "down") {
    return errors::BadMigrationFile(file, "expected .up. or .down.");
  }
  p.up = pieces[1] == "up";
  const size_t underscore = pieces[0].find('_');
  if (underscore == std::string::npos || !absl::SimpleAtoi(pieces[0].substr(0, underscore), &p.version) ||
      p.version <= 0 || underscore + 1 == pieces[0].size()) {
    return errors::BadMigrationFile(file, "the name must start with a positive version and '_<name>'");
  }
  p.name = pieces[0].substr(underscore + 1);
  return p;
}

std::string ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

absl::StatusOr<std::vector<MigrationFile>> LoadMigrations(const std::string& folder, absl::string_view dialect) {
  std::error_code ec;
  if (!std::filesystem::is_directory(folder, ec)) return std::vector<MigrationFile>{};
  struct Slot {
    MigrationFile file;
    bool has_up = false;
    bool up_specific = false;
    bool down_specific = false;
  };
  std::map<int64_t, Slot> slots;
  std::vector<std::filesystem::path> paths;
  for (const auto& entry : std::filesystem::directory_iterator(folder, ec)) {
    if (entry.is_regular_file()) paths.push_back(entry.path());
  }
  std::sort(paths.begin(), paths.end());
  for (const auto& path : paths) {
    const std::string file = path.filename().string();
    absl::StatusOr<std::optional<Parts>> parsed = ParseName(file, dialect);
    if (!parsed.ok()) return parsed.status();
    if (!*parsed) continue;
    const Parts& p = **parsed;
    Slot& slot = slots[p.version];
    if (!slot.file.name.empty() && slot.file.name != p.name) {
      return errors::BadMigrationFile(
          file, absl::StrCat("version ", p.version, " is also used by '", slot.file.name, "' in ", folder));
    }
    slot.file.version = p.version;
    slot.file.name = p.name;
    bool& specific = p.up ? slot.up_specific : slot.down_specific;
    if (specific && !p.dialect_specific) continue;  // the dialect's own file wins
    specific = p.dialect_specific;
    (p.up ? slot.file.up_sql : slot.file.down_sql) = ReadAll(path);
    (p.up ? slot.file.up_file : slot.file.down_file) = file;
    if (p.up) {
      slot.has_up = true;
    } else {
      slot.file.has_down = true;
    }
  }
  std::vector<MigrationFile> files;
  for (auto& [version, slot] : slots) {
    if (!slot.has_up) {
      return errors::BadMigrationFile(slot.file.down_file, "there is a down file but no up file for this version");
    }
    slot.file.checksum = Sha256Hex(absl::StrCat(slot.file.up_sql, std::string(1, '\0'), slot.file.down_sql));
    files.push_back(std::move(slot.file));
  }
  return files;
}

}  // namespace datagate::migrate
