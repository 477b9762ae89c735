#include "store/postgres/pg_errors.h"

#include <algorithm>
#include <pqxx/pqxx>
#include <typeinfo>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/logging.h"
#include "common/text.h"

namespace datagate::store::postgres {
namespace {

// The name quoted after `after` in a server message ("... constraint
// \"items_tag_key\""); empty when absent. Only compared with names the
// catalog knows, never passed on as it is.
std::string QuotedAfter(absl::string_view message, absl::string_view after) {
  const size_t at = message.find(after);
  if (at == absl::string_view::npos) return "";
  const size_t open = at + after.size();
  const size_t close = message.find('"', open);
  if (close == absl::string_view::npos) return "";
  return std::string(message.substr(open, close - open));
}

const char* Kind(const std::exception& e) {
  if (dynamic_cast<const pqxx::broken_connection*>(&e)) return "broken_connection";
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e)) return "in_doubt";
  if (dynamic_cast<const pqxx::serialization_failure*>(&e)) return "serialization_failure";
  if (dynamic_cast<const pqxx::deadlock_detected*>(&e)) return "deadlock";
  if (dynamic_cast<const pqxx::statement_completion_unknown*>(&e)) return "statement_completion_unknown";
  if (dynamic_cast<const pqxx::sql_error*>(&e)) return "sql_error";
  if (dynamic_cast<const pqxx::failure*>(&e)) return "failure";
  return "exception";
}

}  // namespace

std::string SqlState(const std::exception& e) {
  if (const auto* se = dynamic_cast<const pqxx::sql_error*>(&e)) return se->sqlstate();
  if (dynamic_cast<const pqxx::serialization_failure*>(&e)) return "40001";
  if (dynamic_cast<const pqxx::deadlock_detected*>(&e)) return "40P01";
  return "";
}

bool IsConnectionError(const std::exception& e) {
  if (dynamic_cast<const pqxx::broken_connection*>(&e) || dynamic_cast<const pqxx::in_doubt_error*>(&e)) return true;
  const std::string state = SqlState(e);
  return absl::StartsWith(state, "08") || absl::StartsWith(state, "57P0");
}

bool IsDataError(absl::string_view sqlstate) {
  return absl::StartsWith(sqlstate, "22") || absl::StartsWith(sqlstate, "23") || absl::StartsWith(sqlstate, "42");
}

absl::Status MapPgError(const std::exception& e, absl::string_view context, const Table* table,
                        const PgTableExtra* extra) {
  const std::string state = SqlState(e);
  const absl::string_view message = e.what();
  const std::string table_name = table ? table->name : "";
  auto log = [&](absl::string_view level_note) {
    spdlog::warn("cloud store: {} failed: SQLSTATE {} ({}){}", context, state.empty() ? "none" : state, Kind(e),
                 level_note);
  };
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e)) {
    log("; commit outcome unknown");
    return errors::CloudCommitInDoubt();
  }
  if (dynamic_cast<const pqxx::statement_completion_unknown*>(&e)) {
    log("");
    return errors::CloudCommitInDoubt();
  }
  if (IsConnectionError(e) || absl::StartsWith(state, "53")) {
    log("");
    return errors::StoreUnavailable("the cloud database cannot be reached or is overloaded");
  }
  if (state == "40001" || state == "40P01") {
    log("");
    return errors::CloudTransactionConflict();
  }
  if (state == kLockNotAvailable) {
    log("; a lock another transaction holds");
    return errors::CloudRowLocked();
  }
  if (state == "57014") {
    log("; statement_timeout");
    return errors::DeadlineWhileWorking();
  }
  if (absl::StartsWith(state, "23") && table != nullptr) {
    const std::string constraint = QuotedAfter(message, "constraint \"");
    const bool known = extra != nullptr && extra->constraints.count(constraint) > 0;
    // The name as the cloud gives it, for the operator (the caller's
    // message names only the constraints the gateway's schema knows).
    spdlog::info("cloud store: {}: SQLSTATE {} on table '{}' (constraint '{}')", context, state, table_name,
                 constraint.empty() ? "?" : EscapeText(constraint));
    if (state == "23505" || state == "23P01") {
      // An exclusion constraint by `=` only is a unique one (its columns
      // are known); one by another operator (overlapping ranges) is not.
      const std::string* columns = nullptr;
      if (extra != nullptr) {
        auto it = extra->unique_columns.find(constraint);
        if (it != extra->unique_columns.end()) columns = &it->second;
      }
      if (state == "23P01" && columns == nullptr) return errors::ConflictingRow(table_name, known ? constraint : "");
      return errors::DuplicateRow(table_name, columns != nullptr ? *columns : "");
    }
    if (state == "23502") {
      const std::string column = QuotedAfter(message, "column \"");
      const Column* c = table->Find(column);
      if (c != nullptr) return errors::NullNotAllowed(table_name, c->name, c->has_default);
      // A column of the cloud table that `table` (as the tenant is served) lacks.
      if (extra != nullptr && extra->columns.count(column) > 0) return errors::CloudColumnNotServed(table_name, column);
      return errors::ConstraintViolated(table_name);
    }
    if (state == "23503") return errors::ForeignKeyViolated(table_name);
    if (state == "23514") {
      const auto& names = table->check_constraints;
      const bool named = std::find(names.begin(), names.end(), constraint) != names.end();
      return errors::CheckViolated(table_name, named ? constraint : "");
    }
    return known ? errors::NamedConstraintViolated(table_name, constraint) : errors::ConstraintViolated(table_name);
  }
  if (absl::StartsWith(state, "23")) {
    // No table known: checked at commit (a deferred foreign key or unique
    // value). The server refused the commit: nothing is in doubt.
    log("; a constraint checked at commit");
    if (state == "23505" || state == "23P01") return errors::CloudDuplicateAtCommit();
    return errors::CloudConstraintAtCommit();
  }
  if (absl::StartsWith(state, "22") && table != nullptr) {
    log("; a value was refused");
    return errors::CloudValueRejected(table_name);
  }
  if ((state == "42P01" || state == "42703") && table != nullptr) {
    log("; the table or a column is missing");
    return errors::CloudSchemaMismatch(table_name);
  }
  log("");
  return errors::StoreInternal();
}

absl::Status MapPgCommitError(const std::exception& e, absl::string_view context, const PgCatalog* catalog) {
  const std::string state = SqlState(e);
  if (catalog != nullptr && (state == "23505" || state == "23P01")) {
    // Such a constraint is an index, named uniquely in the schema.
    const std::string table = catalog->TableWithConstraint(QuotedAfter(e.what(), "constraint \""));
    const Table* t = table.empty() ? nullptr : catalog->catalog->Find(table);
    if (t != nullptr) return MapPgError(e, context, t, catalog->Extra(table));
  }
  return MapPgError(e, context);
}

}  // namespace datagate::store::postgres
