#include "store/postgres/pg_foreign_keys.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "store/postgres/pg_errors.h"
#include "store/postgres/pg_sql.h"

namespace datagate::store::postgres {
namespace {

// As SQLite's default limit on nested trigger and foreign-key actions
// (SQLITE_MAX_TRIGGER_DEPTH).
constexpr int kMaxDepth = 1000;

bool AnyNull(const RowText& row) {
  return std::any_of(row.begin(), row.end(), [](const std::optional<std::string>& v) { return !v.has_value(); });
}

RowText Pick(const RowText& row, const std::vector<size_t>& at) {
  RowText out;
  out.reserve(at.size());
  for (const size_t i : at) out.push_back(row[i]);
  return out;
}

// `unnest($a::t[], ...) AS m(_dg_o0, ..., _dg_n0, ...)`: `keys` (and
// `moved_to`, when given) as one array per column of `child` in `columns`.
std::string Unnest(const Table& child, const std::vector<std::string>& columns, const std::vector<RowText>& keys,
                   const std::vector<RowText>& moved_to, Params* p) {
  std::vector<std::string> arrays, names;
  auto add = [&](const std::vector<RowText>& rows, absl::string_view prefix) {
    for (size_t i = 0; i < columns.size(); ++i) {
      RowText column;
      column.reserve(rows.size());
      for (const RowText& r : rows) column.push_back(r[i]);
      arrays.push_back(
          absl::StrCat(p->AddText(ArrayLiteral(column)), ArrayCast(child.Find(columns[i])->declared_type)));
      names.push_back(absl::StrCat(prefix, i));
    }
  };
  add(keys, "_dg_o");
  if (!moved_to.empty()) add(moved_to, "_dg_n");
  return absl::StrCat("unnest(", absl::StrJoin(arrays, ", "), ") AS m(", absl::StrJoin(names, ", "), ")");
}

// `c."k0" = m._dg_o0 AND ...`.
std::string Matches(const std::vector<std::string>& columns) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < columns.size(); ++i) parts.push_back(absl::StrCat("c.", Quote(columns[i]), " = m._dg_o", i));
  return absl::StrJoin(parts, " AND ");
}

}  // namespace

RowText TextOf(const pqxx::row& r, int first, size_t n) {
  RowText out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const pqxx::field f = r[static_cast<pqxx::row::size_type>(first + static_cast<int>(i))];
    out.push_back(f.is_null() ? std::nullopt : std::optional<std::string>(std::string(f.c_str(), f.size())));
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> ReferencedColumns(const Catalog& served, const Table& table) {
  std::vector<std::string> out;
  for (const auto& [name, t] : served.tables) {
    for (const ForeignKey& fk : t.foreign_keys) {
      if (fk.parent != table.name) continue;
      for (const std::string& c : fk.parent_columns) {
        if (std::find(out.begin(), out.end(), c) != out.end()) continue;
        if (table.Find(c) == nullptr) return errors::CloudSchemaMismatch(table.name);
        out.push_back(c);
      }
    }
  }
  return out;
}

absl::Status ForeignKeyActions::Apply(const Table& table, const RowText& key, const std::vector<RowText>& before,
                                      const std::vector<RowText>& after) {
  top_table_ = table.name;
  touched_.clear();
  touched_[table.name].insert(key);
  return Level(table, before, after, 0);
}

absl::Status ForeignKeyActions::Level(const Table& parent, const std::vector<RowText>& before,
                                      const std::vector<RowText>& after, int depth) {
  if (before.empty()) return absl::OkStatus();
  const bool deleted = after.empty();
  ASSIGN_OR_RETURN(const std::vector<std::string> columns, ReferencedColumns(served_, parent));
  // One step per foreign key referring to `parent`: the keys its rows may
  // refer to (each once; none with a NULL, which refers to nothing), and
  // for an update the keys they change to (only keys that change).
  struct Step {
    const Table* child;
    const ForeignKey* fk;
    ForeignKeyAction action;
    std::vector<RowText> keys, moved_to;
  };
  std::vector<Step> steps;
  for (const auto& [name, child] : served_.tables) {
    for (const ForeignKey& fk : child.foreign_keys) {
      // (A key whose two sides differ in length: SQLite refuses it itself.)
      if (fk.parent != parent.name || fk.columns.size() != fk.parent_columns.size()) continue;
      for (const std::string& c : fk.columns) {
        if (child.Find(c) == nullptr) return errors::CloudSchemaMismatch(child.name);
      }
      std::vector<size_t> at;
      for (const std::string& c : fk.parent_columns) {
        at.push_back(static_cast<size_t>(std::find(columns.begin(), columns.end(), c) - columns.begin()));
      }
      Step step{&child, &fk, deleted ? fk.on_delete : fk.on_update, {}, {}};
      std::set<RowText> seen;
      for (size_t r = 0; r < before.size(); ++r) {
        RowText key = Pick(before[r], at);
        if (AnyNull(key)) continue;
        RowText to;
        if (!deleted) {
          to = Pick(after[r], at);
          if (to == key) continue;
        }
        if (!seen.insert(key).second) continue;
        step.keys.push_back(std::move(key));
        if (!deleted) step.moved_to.push_back(std::move(to));
      }
      if (!step.keys.empty()) steps.push_back(std::move(step));
    }
  }
  if (steps.empty()) return absl::OkStatus();
  if (depth >= kMaxDepth) return errors::ForeignKeyActionsTooDeep(top_table_, kMaxDepth);
  // SQLite's order: RESTRICT at once, then the actions, then NO ACTION on
  // what is left.
  for (const Step& s : steps) {
    if (s.action == ForeignKeyAction::kRestrict && Referred(*s.child, *s.fk, s.keys)) {
      return errors::ForeignKeyViolated(top_table_);
    }
  }
  for (const Step& s : steps) {
    switch (s.action) {
      case ForeignKeyAction::kCascade:
      case ForeignKeyAction::kSetNull:
        RETURN_IF_ERROR(Act(*s.child, *s.fk, s.action, deleted, s.keys, s.moved_to, depth));
        break;
      case ForeignKeyAction::kSetDefault:
        if (Referred(*s.child, *s.fk, s.keys)) return errors::CloudSetDefaultNotDone(top_table_, s.child->name);
        break;
      case ForeignKeyAction::kNoAction:
      case ForeignKeyAction::kRestrict:
        break;
    }
  }
  for (const Step& s : steps) {
    if (s.action == ForeignKeyAction::kNoAction && Referred(*s.child, *s.fk, s.keys)) {
      return errors::ForeignKeyViolated(top_table_);
    }
  }
  return absl::OkStatus();
}

bool ForeignKeyActions::Referred(const Table& child, const ForeignKey& fk, const std::vector<RowText>& keys) {
  Params p;
  const std::string tenant = p.AddText(tenant_);
  const std::string sql =
      absl::StrCat("SELECT 1 FROM ", Qualified(schema_, child.name), " c, ", Unnest(child, fk.columns, keys, {}, &p),
                   " WHERE c.tenant_id = ", tenant, " AND NOT c._dg_deleted AND ", Matches(fk.columns), " LIMIT 1");
  return !p.Exec(tx_, sql).empty();
}

absl::Status ForeignKeyActions::Act(const Table& child, const ForeignKey& fk, ForeignKeyAction action, bool deleted,
                                    const std::vector<RowText>& keys, const std::vector<RowText>& moved_to, int depth) {
  ASSIGN_OR_RETURN(const std::vector<std::string> referenced, ReferencedColumns(served_, child));
  const bool remove = deleted && action == ForeignKeyAction::kCascade;
  const bool move = !deleted && action == ForeignKeyAction::kCascade;
  std::vector<std::string> key_columns;
  for (const size_t i : child.primary_key) key_columns.push_back(child.columns[i].name);
  Params p;
  const std::string tenant = p.AddText(tenant_);
  const std::string table = Qualified(schema_, child.name);
  // The rows to change, locked: their key, their referenced columns as they
  // were, and (moving) where they go.
  std::vector<std::string> picked, key_match, sets, returned;
  for (size_t i = 0; i < key_columns.size(); ++i) {
    picked.push_back(absl::StrCat("c.", Quote(key_columns[i]), " AS _dg_p", i));
    key_match.push_back(absl::StrCat("c.", Quote(key_columns[i]), " = hit._dg_p", i));
    returned.push_back(absl::StrCat("hit._dg_p", i));
  }
  for (size_t i = 0; i < referenced.size(); ++i) {
    picked.push_back(absl::StrCat("c.", Quote(referenced[i]), " AS _dg_r", i));
    returned.push_back(absl::StrCat("hit._dg_r", i));
  }
  for (size_t i = 0; !remove && i < referenced.size(); ++i)
    returned.push_back(absl::StrCat("c.", Quote(referenced[i])));
  for (size_t i = 0; move && i < fk.columns.size(); ++i) picked.push_back(absl::StrCat("m._dg_n", i));
  if (remove) sets.push_back("_dg_deleted = true");
  for (size_t i = 0; !remove && i < fk.columns.size(); ++i) {
    sets.push_back(absl::StrCat(Quote(fk.columns[i]), " = ", move ? absl::StrCat("hit._dg_n", i) : "NULL"));
  }
  // A row gets one new version per op, as locally, however many of the
  // op's actions change it.
  std::string bump = "1";
  const std::set<RowText>& seen = touched_[child.name];
  if (!seen.empty()) {
    std::vector<std::string> key_refs;
    for (const std::string& c : key_columns) key_refs.push_back(absl::StrCat("c.", Quote(c)));
    bump = absl::StrCat("CASE WHEN (", absl::StrJoin(key_refs, ", "), ") IN (SELECT * FROM ",
                        Unnest(child, key_columns, std::vector<RowText>(seen.begin(), seen.end()), {}, &p),
                        ") THEN 0 ELSE 1 END");
  }
  sets.push_back(absl::StrCat("_dg_version = c._dg_version + ", bump, ", _dg_update_us = ", p.Add(Value{now_us_})));
  const std::string sql = absl::StrCat("WITH hit AS (SELECT ", absl::StrJoin(picked, ", "), " FROM ", table, " c, ",
                                       Unnest(child, fk.columns, keys, move ? moved_to : std::vector<RowText>(), &p),
                                       " WHERE c.tenant_id = ", tenant, " AND NOT c._dg_deleted AND ",
                                       Matches(fk.columns), " FOR UPDATE OF c) UPDATE ", table, " AS c SET ",
                                       absl::StrJoin(sets, ", "), " FROM hit WHERE c.tenant_id = ", tenant, " AND ",
                                       absl::StrJoin(key_match, " AND "), " RETURNING ", absl::StrJoin(returned, ", "));
  pqxx::result changed;
  try {
    changed = p.Exec(tx_, sql);
  } catch (const pqxx::sql_error& e) {
    if (IsConnectionError(e)) throw;
    return MapPgError(e, "write", &child, cloud_.Extra(child.name));
  }
  // What the changed rows' own referrers need: their referenced columns
  // before, and after unless they were deleted.
  const int n = static_cast<int>(key_columns.size()), r = static_cast<int>(referenced.size());
  std::vector<RowText> before, after;
  for (const pqxx::row& row : changed) {
    touched_[child.name].insert(TextOf(row, 0, key_columns.size()));
    before.push_back(TextOf(row, n, referenced.size()));
    if (!remove) after.push_back(TextOf(row, n + r, referenced.size()));
  }
  if (referenced.empty()) return absl::OkStatus();
  return Level(child, before, after, depth + 1);
}

}  // namespace datagate::store::postgres
