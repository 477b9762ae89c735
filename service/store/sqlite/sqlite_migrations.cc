// SqliteDatabase migrations: a script and its record in one transaction,
// under the writer's turn; the new catalog is served from the moment the
// transaction commits, before the next writer runs.
#include <sqlite3.h>

#include <algorithm>
#include <set>

#include "SQLiteCpp/Exception.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "store/sqlite/catalog.h"
#include "store/sqlite/sqlite_database.h"

namespace datagate::store::sqlite {

absl::Status SqliteDatabase::Migrate(const MigrationScript& script, absl::Time deadline) {
  RETURN_IF_ERROR(AcquireWriter(deadline));
  std::shared_ptr<const Catalog> next;
  const absl::Status status = RunTransaction(
      "migration", deadline,
      [&](Connection& conn, const Catalog&) -> absl::Status {
        // Tables whose rows carry versions now (all three gateway columns).
        std::vector<std::string> lacking = TablesWithoutMetaColumns(conn);
        std::set<std::string> versioned_rows;
        for (const std::string& t : UserTables(conn)) {
          if (!std::binary_search(lacking.begin(), lacking.end(), t) && TableHasRows(conn, t)) versioned_rows.insert(t);
        }
        try {
          conn.db().exec(script.sql);
        } catch (const SQLite::Exception& e) {
          // Stopped by the deadline or by closing: mapped like any statement.
          if (e.getErrorCode() == SQLITE_INTERRUPT || e.getErrorCode() == SQLITE_BUSY) throw;
          // The migration's author needs SQLite's own words to fix the file.
          return errors::MigrationFailed(script.target, script.record.version, script.record.name, script.file,
                                         e.what());
        }
        try {
          // A table rebuilt without the gateway's columns (made anew, rows
          // copied, the old one dropped, in one migration or over several)
          // would restart every row at version 1, and stale expected_versions
          // could match again. Refused when a table whose rows had versions
          // is gone or lost a column while a table without them holds rows.
          lacking = TablesWithoutMetaColumns(conn);
          const std::vector<std::string> now = UserTables(conn);
          bool lost = false;
          for (const std::string& t : versioned_rows) {
            if (!std::binary_search(now.begin(), now.end(), t) ||
                std::binary_search(lacking.begin(), lacking.end(), t)) {
              lost = true;
            }
          }
          for (const std::string& t : lacking) {
            if (lost && TableHasRows(conn, t)) {
              return errors::MigrationDropsVersions(script.target, script.record.version, script.record.name,
                                                    script.file, t);
            }
          }
          EnsureMetaColumns(conn);
        } catch (const SQLite::Exception& e) {
          if (e.getErrorCode() == SQLITE_INTERRUPT || e.getErrorCode() == SQLITE_BUSY) throw;
          return errors::MigrationFailed(script.target, script.record.version, script.record.name, script.file,
                                         e.what());
        }
        if (script.up) {
          SQLite::Statement& ins =
              conn.Prepare("INSERT INTO _dg_migrations(version, name, checksum, apply_us) VALUES (?, ?, ?, ?)");
          ins.bind(1, script.record.version);
          ins.bind(2, script.record.name);
          ins.bind(3, script.record.checksum);
          ins.bind(4, NowUs());
          ins.exec();
        } else {
          SQLite::Statement& del = conn.Prepare("DELETE FROM _dg_migrations WHERE version = ?");
          del.bind(1, script.record.version);
          del.exec();
        }
        conn.ClearCache();
        next = LoadCatalog(conn, path_, /*warn=*/true);
        return absl::OkStatus();
      },
      [&] {
        SetCatalog(next);
        schema_generation_.fetch_add(1);
      });
  // Statements cached while the failed script ran may describe its schema.
  if (!status.ok()) writer_->ClearCache();
  ReleaseWriter();
  return status;
}

}  // namespace datagate::store::sqlite
