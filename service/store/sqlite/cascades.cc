// Debian's libsqlite3 is built with the pre-update hook; sqlite3.h declares
// it only when asked.
#define SQLITE_ENABLE_PREUPDATE_HOOK 1
#include "store/sqlite/cascades.h"

#include <sqlite3.h>

#include <cstring>

#include "absl/strings/match.h"
#include "common/errors.h"
#include "common/logging.h"
#include "store/sqlite/sql.h"

namespace datagate::store::sqlite {
namespace {

// A value as SQLite holds it (its storage class).
Value ToValue(sqlite3_value* v) {
  switch (sqlite3_value_type(v)) {
    case SQLITE_INTEGER:
      return int64_t{sqlite3_value_int64(v)};
    case SQLITE_FLOAT:
      return sqlite3_value_double(v);
    case SQLITE_TEXT: {
      const auto* text = reinterpret_cast<const char*>(sqlite3_value_text(v));
      return std::string(text, static_cast<size_t>(sqlite3_value_bytes(v)));
    }
    case SQLITE_BLOB: {
      const auto* bytes = static_cast<const char*>(sqlite3_value_blob(v));
      return Blob{std::string(bytes, static_cast<size_t>(sqlite3_value_bytes(v)))};
    }
    default:
      return Value{};
  }
}

int64_t IntAt(const std::vector<Value>& values, int index) {
  if (index < 0 || static_cast<size_t>(index) >= values.size()) return 0;
  const auto* n = std::get_if<int64_t>(&values[index]);
  return n ? *n : 0;
}

constexpr char kNullKey[] = "it left a primary key column NULL, and the cloud keys rows by their primary key";

}  // namespace

Cascades::Cascades(Connection& conn, const Catalog& catalog) : conn_(conn), catalog_(catalog) {
  sqlite3_preupdate_hook(conn_.db().getHandle(), &Cascades::OnPreUpdate, this);
}

Cascades::~Cascades() { sqlite3_preupdate_hook(conn_.db().getHandle(), nullptr, nullptr); }

void Cascades::OnPreUpdate(void* self, ::sqlite3* db, int op, const char* database, const char* table, long long,
                           long long) {  // NOLINT(runtime/int)
  // The write's own statements run at depth 0: the hot path ends here.
  auto* c = static_cast<Cascades*>(self);
  const bool top_level = sqlite3_preupdate_depth(db) < 1;
  if (top_level && !(op == SQLITE_DELETE && c->replace_deletes_)) return;
  if (std::strcmp(database, "main") != 0) return;
  const Table* t = c->catalog_.Find(table);  // none for _dg_* and sqlite_* tables
  if (t == nullptr) return;
  try {
    Change change;
    change.op = op;
    change.top_level = top_level;
    change.table = t;
    const int n = sqlite3_preupdate_count(db);
    auto read = [&](int (*get)(::sqlite3*, int, sqlite3_value**), std::vector<Value>* out) {
      out->reserve(static_cast<size_t>(n));
      for (int i = 0; i < n; ++i) {
        sqlite3_value* v = nullptr;
        out->push_back(get(db, i, &v) == SQLITE_OK && v != nullptr ? ToValue(v) : Value{});
      }
    };
    if (op != SQLITE_INSERT) read(&sqlite3_preupdate_old, &change.before);
    if (op != SQLITE_DELETE) read(&sqlite3_preupdate_new, &change.after);
    c->changes_.push_back(std::move(change));
  } catch (...) {              // out of memory: nothing may leave a C callback
    c->out_of_memory_ = true;  // Collect fails the write
  }
}

const Cascades::Layout& Cascades::LayoutOf(const Table& t) {
  auto it = layouts_.find(t.name);
  if (it != layouts_.end()) return it->second;
  Layout layout;
  layout.key.assign(t.primary_key.size(), -1);
  // Record positions skip VIRTUAL generated columns (hidden = 2); SQLite
  // versions differ on whether the pre-update hook counts them, so a
  // position after one cannot be trusted.
  SQLite::Statement& info = conn_.Prepare("SELECT name, hidden FROM pragma_table_xinfo(?) ORDER BY cid");
  info.bind(1, t.name);
  int position = 0;
  bool after_virtual = false;
  while (info.executeStep()) {
    const std::string name = info.getColumn(0).getString();
    if (info.getColumn(1).getInt() == 2) {
      after_virtual = true;
      continue;
    }
    int* slot = nullptr;
    if (name == "_dg_version") slot = &layout.version;
    if (name == "_dg_create_us") slot = &layout.create_us;
    for (size_t k = 0; k < t.primary_key.size(); ++k) {
      if (t.columns[t.primary_key[k]].name == name) slot = &layout.key[k];
    }
    if (slot != nullptr) {
      *slot = position;
      if (after_virtual) layout.unusable = "its VIRTUAL generated columns hide where SQLite keeps the row's key";
    }
    ++position;
  }
  if (layout.version < 0 || layout.create_us < 0) layout.unusable = "it lacks the gateway's bookkeeping columns";
  for (int k : layout.key) {
    if (k < 0) layout.unusable = "its primary key columns were not found";
  }
  return layouts_.emplace(t.name, std::move(layout)).first->second;
}

CascadedRow& Cascades::Touch(const Table& t, std::vector<Field> key, bool existed, int64_t old_version,
                             int64_t old_create_us) {
  std::string encoded = EncodeKey(key);
  auto [it, made] = index_.try_emplace(std::make_pair(t.name, encoded), rows_.size());
  if (!made) return rows_[it->second];
  CascadedRow& row = rows_.emplace_back();
  row.table = &t;
  row.key = std::move(key);
  row.encoded_key = std::move(encoded);
  row.existed = existed;
  row.old_version = old_version;
  row.old_create_us = old_create_us;
  return row;
}

absl::Status Cascades::Collect() {
  if (out_of_memory_) {
    out_of_memory_ = false;
    changes_.clear();
    spdlog::error("out of memory capturing the rows a write's triggers and foreign-key actions changed");
    return errors::StoreInternal();
  }
  std::vector<Change> changes = std::move(changes_);
  changes_.clear();
  for (const Change& c : changes) {
    const Table& t = *c.table;
    const Layout& layout = LayoutOf(t);
    if (!layout.unusable.empty()) return errors::CascadeNotSynced(t.name, layout.unusable);
    // The key from a record's values, typed as rows are read; false when a
    // key column is NULL (such a row cannot have reached the cloud).
    auto key_of = [&](const std::vector<Value>& values, std::vector<Field>* key) {
      for (size_t k = 0; k < layout.key.size(); ++k) {
        const Column& column = t.columns[t.primary_key[k]];
        const size_t at = static_cast<size_t>(layout.key[k]);
        if (at >= values.size() || IsNull(values[at])) return false;
        Value v = values[at];
        if (column.type == ColumnType::kBoolean) {
          if (const auto* n = std::get_if<int64_t>(&v)) v = *n != 0;
        }
        key->push_back(Field{column.name, std::move(v)});
      }
      return true;
    };
    std::vector<Field> before, after;
    const bool has_before = c.op != SQLITE_INSERT && key_of(c.before, &before);
    if (c.op != SQLITE_DELETE && !key_of(c.after, &after)) return errors::CascadeNotSynced(t.name, kNullKey);
    const int64_t old_version = IntAt(c.before, layout.version);
    const int64_t old_create_us = IntAt(c.before, layout.create_us);
    if (c.op == SQLITE_UPDATE && has_before && EncodeKey(before) == EncodeKey(after)) {
      Touch(t, std::move(after), true, old_version, old_create_us).gone = false;
      continue;
    }
    // A delete, an insert, or an update that moved the row to another key
    // (the old key is gone, the new one made).
    if (has_before) {
      CascadedRow& row = Touch(t, std::move(before), true, old_version, old_create_us);
      if (c.top_level && row.existed && !row.gone) row.replaced = true;
      row.gone = true;
    }
    if (c.op != SQLITE_DELETE) Touch(t, std::move(after), false, 0, 0).gone = false;
  }
  return absl::OkStatus();
}

CascadedRow* Cascades::Find(const std::string& table, const std::string& encoded_key) {
  auto it = index_.find(std::make_pair(table, encoded_key));
  return it == index_.end() ? nullptr : &rows_[it->second];
}

void Cascades::Forget(const std::string& table, const std::string& encoded_key) {
  auto it = index_.find(std::make_pair(table, encoded_key));
  if (it == index_.end()) return;
  rows_[it->second].skip = true;
  index_.erase(it);
}

void Cascades::Clear() {
  rows_.clear();
  index_.clear();
}

TriggersOff::TriggersOff(Connection& conn) : conn_(conn) {
  int now = 0;
  sqlite3_db_config(conn_.db().getHandle(), SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, &now);
}

TriggersOff::~TriggersOff() {
  int now = 0;
  sqlite3_db_config(conn_.db().getHandle(), SQLITE_DBCONFIG_ENABLE_TRIGGER, 1, &now);
}

}  // namespace datagate::store::sqlite
