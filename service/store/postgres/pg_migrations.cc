// Migrations of the shared schema: each script in its own transaction under
// the schema's advisory lock, so replicas take turns; a step another
// replica applied meanwhile is not run twice. After the script, the
// gateway's columns are added where missing and the catalog is re-read in
// the same transaction: a table not keyed by tenant_id rolls it back.
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/errors.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "store/postgres/pg_core.h"
#include "store/postgres/pg_database.h"
#include "store/postgres/pg_errors.h"
#include "store/postgres/pg_sql.h"

namespace datagate::store::postgres {
namespace {

// For the migration's author (an admin): the SQLSTATE and the first line of
// the server's words about the script, without its SQL context lines.
std::string EngineSummary(const pqxx::sql_error& e) {
  const absl::string_view what = e.what();
  absl::string_view line = what.substr(0, what.find('\n'));
  if (absl::ConsumePrefix(&line, "ERROR:")) line = absl::StripLeadingAsciiWhitespace(line);
  return absl::StrCat("SQLSTATE ", e.sqlstate(), ": ", line);
}

}  // namespace

absl::Status PgCore::Migrate(const MigrationScript& script, absl::Time deadline) {
  std::shared_ptr<const PgCatalog> next;
  RETURN_IF_ERROR(
      Run("migration", deadline, "", Mode::kWrite, [&](pqxx::transaction_base& tx, const PgCatalog&) -> absl::Status {
        Params lock;
        lock.Exec(tx, absl::StrCat("SELECT pg_advisory_xact_lock(", lock.Add(Value{MigrationLockKey(schema())}), ")"));
        Params seen;
        const std::string seen_sql = absl::StrCat("SELECT checksum FROM ", Table("_dg_migrations"),
                                                  " WHERE version = ", seen.Add(Value{script.record.version}));
        const pqxx::result recorded = seen.Exec(tx, seen_sql);
        const bool applied = !recorded.empty();
        if (script.up && applied) {
          // Applied by another replica while this one waited for the lock.
          if (recorded[0][0].c_str() != script.record.checksum) {
            return errors::ChecksumMismatch(script.target, script.record.version, script.record.name,
                                            recorded[0][0].c_str(), script.file);
          }
        } else if (script.up || applied) {
          Params path;
          path.Exec(tx, absl::StrCat("SELECT set_config('search_path', ", path.AddText(Quote(schema())), ", true)"));
          try {
            tx.exec(script.sql);
          } catch (const pqxx::sql_error& e) {
            if (IsConnectionError(e) || e.sqlstate() == "57014") throw;
            spdlog::warn("cloud migration {} of {} failed: SQLSTATE {}", script.record.version, script.target,
                         e.sqlstate());
            return errors::MigrationFailed(script.target, script.record.version, script.record.name, script.file,
                                           EngineSummary(e));
          }
          EnsureMetaColumns(tx, schema());
          Params rec;
          if (script.up) {
            const std::string sql =
                absl::StrCat("INSERT INTO ", Table("_dg_migrations"), " (version, name, checksum, apply_us) VALUES (",
                             rec.Add(Value{script.record.version}), ", ", rec.AddText(script.record.name), ", ",
                             rec.AddText(script.record.checksum), ", ", rec.Add(Value{NowUs()}), ")");
            rec.Exec(tx, sql);
          } else {
            const std::string sql = absl::StrCat("DELETE FROM ", Table("_dg_migrations"),
                                                 " WHERE version = ", rec.Add(Value{script.record.version}));
            rec.Exec(tx, sql);
          }
          tx.exec(absl::StrCat("UPDATE ", Table("_dg_schema"), " SET generation = generation + 1 WHERE id = 1"));
        }
        ASSIGN_OR_RETURN(next, LoadCatalog(tx, schema()));
        return absl::OkStatus();
      }));
  SetCatalog(next);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<AppliedMigration>> PgCore::ListApplied(absl::Time deadline) {
  std::vector<AppliedMigration> applied;
  RETURN_IF_ERROR(Run(
      "list migrations", deadline, "", Mode::kRead, [&](pqxx::transaction_base& tx, const PgCatalog&) -> absl::Status {
        applied.clear();
        for (const pqxx::row& r : tx.exec(absl::StrCat("SELECT version, name, checksum, apply_us FROM ",
                                                       Table("_dg_migrations"), " ORDER BY version"))) {
          applied.push_back(AppliedMigration{r[0].as<int64_t>(), r[1].c_str(), r[2].c_str(), r[3].as<int64_t>()});
        }
        return absl::OkStatus();
      }));
  return applied;
}

}  // namespace datagate::store::postgres
