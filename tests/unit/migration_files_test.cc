#include "migrate/migration_files.h"

#include <fstream>

#include "test_env.h"

namespace datagate::migrate {
namespace {

void Write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

TEST(LoadMigrations, ReadsVersionsNamesAndPrefersTheDialectsFile) {
  testing::TempDir dir;
  Write(dir.path() + "/0002_b.up.sql", "CREATE TABLE b(x);");
  Write(dir.path() + "/0001_a.up.sql", "generic");
  Write(dir.path() + "/0001_a.up.sqlite.sql", "CREATE TABLE a(x);");
  Write(dir.path() + "/0001_a.up.postgres.sql", "postgres only");
  Write(dir.path() + "/0001_a.down.sql", "DROP TABLE a;");
  Write(dir.path() + "/README.md", "not a migration");
  auto files = LoadMigrations(dir.path(), "sqlite");
  ASSERT_TRUE(files.ok()) << files.status();
  ASSERT_EQ(files->size(), 2u);
  EXPECT_EQ((*files)[0].version, 1);
  EXPECT_EQ((*files)[0].name, "a");
  EXPECT_EQ((*files)[0].up_sql, "CREATE TABLE a(x);");
  EXPECT_TRUE((*files)[0].has_down);
  EXPECT_FALSE((*files)[1].has_down);
  EXPECT_EQ((*files)[0].checksum.size(), 64u);
  EXPECT_NE((*files)[0].checksum, (*files)[1].checksum);
}

TEST(LoadMigrations, ChecksumFollowsContent) {
  testing::TempDir dir;
  Write(dir.path() + "/0001_a.up.sql", "CREATE TABLE a(x);");
  const std::string before = (*LoadMigrations(dir.path(), "sqlite"))[0].checksum;
  Write(dir.path() + "/0001_a.up.sql", "CREATE TABLE a(y);");
  EXPECT_NE((*LoadMigrations(dir.path(), "sqlite"))[0].checksum, before);
}

TEST(LoadMigrations, RefusesMalformedSets) {
  for (const auto& [file, other] :
       std::vector<std::pair<std::string, std::string>>{{"abc_x.up.sql", ""},
                                                        {"0001_x.sideways.sql", ""},
                                                        {"0001.up.sql", ""},
                                                        {"0001_x.down.sql", ""},
                                                        {"0001_x.up.sql", "0001_y.up.sql"}}) {
    testing::TempDir dir;
    Write(dir.path() + "/" + file, "SELECT 1;");
    if (!other.empty()) Write(dir.path() + "/" + other, "SELECT 1;");
    EXPECT_EQ(LoadMigrations(dir.path(), "sqlite").status().code(), absl::StatusCode::kInvalidArgument) << file;
  }
}

TEST(LoadMigrations, MissingFolderIsAnEmptySet) {
  auto files = LoadMigrations("/nonexistent/datagate", "sqlite");
  ASSERT_TRUE(files.ok());
  EXPECT_TRUE(files->empty());
}

}  // namespace
}  // namespace datagate::migrate
