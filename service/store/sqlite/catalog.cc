#include "store/sqlite/catalog.h"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace datagate::store::sqlite {
namespace {

// The user's plain tables: not virtual or shadow tables, not SQLite's or
// the gateway's own.
constexpr char kPlainTables[] =
    "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND name NOT LIKE 'sqlite\\_%' "
    "ESCAPE '\\' AND name NOT LIKE '\\_dg\\_%' ESCAPE '\\'";

// SQLite's column affinity rules (its "Datatypes In SQLite" page), plus BOOLEAN.
ColumnType TypeFromDeclared(absl::string_view declared) {
  const std::string t = absl::AsciiStrToUpper(declared);
  if (t.empty()) return ColumnType::kAny;
  if (absl::StrContains(t, "BOOL")) return ColumnType::kBoolean;
  if (absl::StrContains(t, "INT")) return ColumnType::kInteger;
  if (absl::StrContains(t, "CHAR") || absl::StrContains(t, "CLOB") || absl::StrContains(t, "TEXT"))
    return ColumnType::kText;
  if (absl::StrContains(t, "BLOB")) return ColumnType::kBlob;
  if (absl::StrContains(t, "REAL") || absl::StrContains(t, "FLOA") || absl::StrContains(t, "DOUB"))
    return ColumnType::kReal;
  return ColumnType::kNumeric;
}

// The next token of SQL text: a word, a quoted identifier (unquoted), or one
// punctuation character. Skips whitespace, comments and string literals
// (which come back as "'"). Empty at the end.
std::string NextToken(absl::string_view* sql) {
  absl::string_view& s = *sql;
  while (!s.empty()) {
    if (absl::ascii_isspace(s[0])) {
      s.remove_prefix(1);
    } else if (absl::StartsWith(s, "--")) {
      const size_t nl = s.find('\n');
      s.remove_prefix(nl == absl::string_view::npos ? s.size() : nl + 1);
    } else if (absl::StartsWith(s, "/*")) {
      const size_t end = s.find("*/", 2);
      s.remove_prefix(end == absl::string_view::npos ? s.size() : end + 2);
    } else {
      break;
    }
  }
  if (s.empty()) return "";
  const char c = s[0];
  if (c == '"' || c == '`' || c == '[' || c == '\'') {
    const char close = c == '[' ? ']' : c;
    std::string out;
    size_t i = 1;
    for (; i < s.size(); ++i) {
      if (s[i] == close) {
        if (close != ']' && i + 1 < s.size() && s[i + 1] == close) {
          out += close;
          ++i;
          continue;
        }
        break;
      }
      out += s[i];
    }
    s.remove_prefix(std::min(i + 1, s.size()));
    return c == '\'' ? "'" : out;
  }
  if (absl::ascii_isalnum(c) || c == '_' || static_cast<unsigned char>(c) >= 0x80) {
    size_t i = 0;
    while (i < s.size() &&
           (absl::ascii_isalnum(s[i]) || s[i] == '_' || s[i] == '$' || static_cast<unsigned char>(s[i]) >= 0x80)) {
      ++i;
    }
    std::string out(s.substr(0, i));
    s.remove_prefix(i);
    return out;
  }
  s.remove_prefix(1);
  return std::string(1, c);
}

ForeignKeyAction ActionFromText(absl::string_view action) {
  if (absl::EqualsIgnoreCase(action, "CASCADE")) return ForeignKeyAction::kCascade;
  if (absl::EqualsIgnoreCase(action, "SET NULL")) return ForeignKeyAction::kSetNull;
  if (absl::EqualsIgnoreCase(action, "SET DEFAULT")) return ForeignKeyAction::kSetDefault;
  if (absl::EqualsIgnoreCase(action, "RESTRICT")) return ForeignKeyAction::kRestrict;
  return ForeignKeyAction::kNoAction;
}

// The name `table` has in `catalog` (SQLite matches names without regard
// to ASCII case), or `name` itself when it has none.
std::string CatalogName(const Catalog& catalog, const std::string& name) {
  if (catalog.tables.count(name)) return name;
  for (const auto& [known, t] : catalog.tables) {
    if (absl::EqualsIgnoreCase(known, name)) return known;
  }
  return name;
}

std::string ColumnName(const Table* t, const std::string& name) {
  if (t == nullptr) return name;
  for (const Column& c : t->columns) {
    if (absl::EqualsIgnoreCase(c.name, name)) return c.name;
  }
  return name;
}

// Spells the foreign keys' tables and columns as `catalog` does, and fills
// in the parent's primary key where a key names no parent columns.
void ResolveForeignKeys(Catalog* catalog) {
  for (auto& [name, t] : catalog->tables) {
    for (ForeignKey& fk : t.foreign_keys) {
      fk.parent = CatalogName(*catalog, fk.parent);
      const Table* parent = catalog->Find(fk.parent);
      for (std::string& c : fk.columns) c = ColumnName(&t, c);
      for (std::string& c : fk.parent_columns) c = ColumnName(parent, c);
      if (fk.parent_columns.empty() && parent != nullptr) {
        for (const size_t i : parent->primary_key) fk.parent_columns.push_back(parent->columns[i].name);
      }
    }
  }
}

}  // namespace

std::vector<std::string> CheckConstraintNames(absl::string_view sql) {
  std::vector<std::string> names;
  std::vector<std::string> last(2);
  for (std::string token = NextToken(&sql); !token.empty(); token = NextToken(&sql)) {
    if (absl::EqualsIgnoreCase(token, "CHECK") && absl::EqualsIgnoreCase(last[0], "CONSTRAINT")) {
      names.push_back(last[1]);
    }
    last[0] = std::move(last[1]);
    last[1] = std::move(token);
  }
  return names;
}

int64_t SchemaCookie(Connection& conn) {
  SQLite::Statement& q = conn.Prepare("PRAGMA schema_version");
  q.executeStep();
  return q.getColumn(0).getInt64();
}

std::shared_ptr<const Catalog> LoadCatalog(Connection& conn, absl::string_view where, bool warn) {
  auto catalog = std::make_shared<Catalog>();
  catalog->schema_cookie = SchemaCookie(conn);
  SQLite::Statement& version = conn.Prepare("SELECT coalesce(max(version), 0) FROM _dg_migrations");
  if (version.executeStep()) catalog->migration_version = version.getColumn(0).getInt64();
  version.reset();
  // Plain tables only: virtual tables (FTS5, rtree) and their shadow tables
  // hold no gateway columns and are not served.
  SQLite::Statement tables(conn.db(), absl::StrCat("SELECT m.name, m.sql FROM sqlite_master m JOIN (", kPlainTables,
                                                   ") p ON p.name = m.name WHERE m.type = 'table' ORDER BY m.name"));
  SQLite::Statement info(conn.db(),
                         "SELECT name, type, \"notnull\", dflt_value IS NOT NULL, pk FROM pragma_table_info(?) "
                         "ORDER BY cid");
  SQLite::Statement keys(conn.db(),
                         "SELECT id, \"from\", \"table\", \"to\", on_update, on_delete FROM "
                         "pragma_foreign_key_list(?) ORDER BY id, seq");
  while (tables.executeStep()) {
    Table t;
    t.name = tables.getColumn(0).getString();
    t.check_constraints = CheckConstraintNames(tables.getColumn(1).getString());
    info.reset();
    info.bind(1, t.name);
    std::vector<std::pair<int, size_t>> pk;
    while (info.executeStep()) {
      Column c;
      c.name = info.getColumn(0).getString();
      if (absl::StartsWith(c.name, "_dg_")) continue;
      c.declared_type = info.getColumn(1).getString();
      c.type = TypeFromDeclared(c.declared_type);
      c.not_null = info.getColumn(2).getInt() != 0;
      c.has_default = info.getColumn(3).getInt() != 0;
      c.pk_position = info.getColumn(4).getInt();
      if (c.pk_position > 0) pk.emplace_back(c.pk_position, t.columns.size());
      t.columns.push_back(std::move(c));
    }
    if (pk.empty()) {
      if (warn) spdlog::warn("{}: table '{}' has no PRIMARY KEY and is not served", where, t.name);
      continue;
    }
    std::sort(pk.begin(), pk.end());
    for (const auto& [pos, index] : pk) t.primary_key.push_back(index);
    keys.reset();
    keys.bind(1, t.name);
    int64_t id = -1;
    while (keys.executeStep()) {
      if (keys.getColumn(0).getInt64() != id) {
        id = keys.getColumn(0).getInt64();
        ForeignKey fk;
        fk.parent = keys.getColumn(2).getString();
        fk.on_update = ActionFromText(keys.getColumn(4).getString());
        fk.on_delete = ActionFromText(keys.getColumn(5).getString());
        t.foreign_keys.push_back(std::move(fk));
      }
      ForeignKey& fk = t.foreign_keys.back();
      fk.columns.push_back(keys.getColumn(1).getString());
      // NULL: the parent's primary key, filled in below.
      if (!keys.getColumn(3).isNull()) fk.parent_columns.push_back(keys.getColumn(3).getString());
    }
    std::string name = t.name;
    catalog->tables.emplace(std::move(name), std::move(t));
  }
  ResolveForeignKeys(catalog.get());
  return catalog;
}

std::vector<std::string> UserTables(Connection& conn) {
  std::vector<std::string> tables;
  SQLite::Statement q(conn.db(), absl::StrCat(kPlainTables, " ORDER BY name"));
  while (q.executeStep()) tables.push_back(q.getColumn(0).getString());
  return tables;
}

std::vector<std::string> TablesWithoutMetaColumns(Connection& conn) {
  std::vector<std::string> tables;
  SQLite::Statement q(conn.db(),
                      absl::StrCat("SELECT t.name FROM (", kPlainTables,
                                   ") t WHERE (SELECT count(*) FROM pragma_table_info(t.name) c WHERE c.name "
                                   "IN ('_dg_version', '_dg_create_us', '_dg_update_us')) < 3 ORDER BY t.name"));
  while (q.executeStep()) tables.push_back(q.getColumn(0).getString());
  return tables;
}

bool TableHasRows(Connection& conn, const std::string& table) {
  SQLite::Statement q(conn.db(), absl::StrCat("SELECT EXISTS (SELECT 1 FROM ", Quote(table), ")"));
  return q.executeStep() && q.getColumn(0).getInt() != 0;
}

void EnsureMetaColumns(Connection& conn) {
  static constexpr std::pair<const char*, const char*> kColumns[] = {
      {"_dg_version", "INTEGER NOT NULL DEFAULT 1"},
      {"_dg_create_us", "INTEGER NOT NULL DEFAULT 0"},
      {"_dg_update_us", "INTEGER NOT NULL DEFAULT 0"},
  };
  for (const std::string& t : TablesWithoutMetaColumns(conn)) {
    std::set<std::string> has;
    {
      SQLite::Statement q(conn.db(), "SELECT name FROM pragma_table_info(?)");
      q.bind(1, t);
      while (q.executeStep()) has.insert(q.getColumn(0).getString());
    }
    for (const auto& [name, type] : kColumns) {
      if (has.count(name) == 0) conn.db().exec(absl::StrCat("ALTER TABLE ", Quote(t), " ADD COLUMN ", name, " ", type));
    }
  }
}

}  // namespace datagate::store::sqlite
