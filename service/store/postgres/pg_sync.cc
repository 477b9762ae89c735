// PgCloudStore::ApplySync: one transaction per call, set-based. Ops are
// grouped by table and kind (upsert, delete) and applied one chunk per
// statement, each newer-only (`WHERE t._dg_version < excluded._dg_version`);
// the statement itself answers, per op, whether it applied and, when not,
// the version the cloud kept. A delete of a row the cloud has marks it
// deleted; a delete of a row it never had is kept in _dg_tombstones, which
// upserts consult, so no older upsert replayed later creates the row.
//
// Round trips: one. The transaction (BEGIN, its settings, one statement per
// table and kind (a chunk is up to sync_chunk_rows ops, which no batch the
// engine sends exceeds), COMMIT) goes out as one query with its values as
// quoted literals (PgCore::RunInOneTrip). A far cloud costs a call its
// distance once, not three times.
//
// A value that its cloud column would store changed (a narrower type cuts,
// pads or rounds it: ChangedWhenStored) is not written: the statement
// leaves its op out and names the column, and the op is kRejected
// (INVALID_ARGUMENT, for good).
//
// Bad data is rare, so statements run without savepoints. When one fails on
// an op's data (a constraint, a type), or the schema moved on, the call is
// run again carefully, the usual way (PgCore::Run, which reloads the
// catalog): each chunk under a savepoint and, when it fails, split in
// halves until each bad op fails alone, so exactly the bad ops are
// kRejected and the others applied.
//
// Constraints the schema defers (DEFERRABLE INITIALLY DEFERRED) are checked
// at COMMIT, over the call as a whole: rows that swap unique values travel
// in one call and pass together, though each alone would not. When the
// COMMIT refuses, the careful run checks them before its end instead (SET
// CONSTRAINTS ALL IMMEDIATE): a unique value that is taken rejects exactly
// the ops whose rows hold a value another row also holds, found by a query
// per such constraint, and the rest is applied again without them. Other
// deferred constraints (a foreign key) fail the call whole, for the caller
// to split.
//
// A row another transaction holds locked must not hold back the call's
// other rows until the call runs out of time (then every op of the call
// would be tried again, and counted as failing). Statements wait for a lock
// only a while (lock_timeout, LockTimeout): a lock that outlasts it sends
// the call the careful way, where it is one op's fault, found by splitting
// with a shorter wait, and that op alone is kRejected (ABORTED, retried).
#include <algorithm>
#include <map>
#include <memory>

#include "absl/functional/function_ref.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/errors.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/tenant_id.h"
#include "store/postgres/pg_core.h"
#include "store/postgres/pg_errors.h"
#include "store/postgres/pg_sql.h"
#include "store/postgres/pg_store.h"

namespace datagate::store::postgres {
namespace {

// Whether `sqlstate` is a refusal one op can cause: its data (IsDataError),
// or its row locked by another transaction.
bool OpsFault(absl::string_view sqlstate) { return IsDataError(sqlstate) || sqlstate == kLockNotAvailable; }

// `SET LOCAL lock_timeout` for a call ending at `deadline`: a fifth of the
// time left (at most 1 s) on the first run; a fiftieth (at most 100 ms) on
// the careful one, which may wait once per split.
std::string LockTimeout(absl::Time deadline, bool careful) {
  const absl::Duration most = careful ? absl::Milliseconds(100) : absl::Seconds(1);
  const absl::Duration left = deadline == absl::InfiniteFuture() ? most : deadline - absl::Now();
  const absl::Duration wait = std::clamp(left / (careful ? 50 : 5), absl::Milliseconds(10), most);
  return absl::StrCat("SET LOCAL lock_timeout = ", absl::ToInt64Milliseconds(wait));
}

// Ops of one table and kind with the same columns: one statement per chunk.
struct Group {
  const Table* table = nullptr;
  const PgTableExtra* extra = nullptr;
  bool deleted = false;
  std::vector<std::string> columns;  // upserts: the row's columns, in catalog order
  std::vector<size_t> ops;           // indexes into the call's ops
};

const Value* Find(const std::vector<Field>& fields, absl::string_view column) {
  for (const Field& f : fields) {
    if (f.column == column) return &f.value;
  }
  return nullptr;
}

// The type `g`'s values of column `c` are stored as.
const std::string& StoredType(const Group& g, absl::string_view c) { return StoredType(g.extra, *g.table->Find(c)); }

// For the statement's row `v` of an upsert: the index in `g.columns` of
// the first column whose value the cloud would store changed (FirstChanged);
// "" when no column of `g` can change a value.
std::string FirstChangedColumn(const Group& g) {
  std::vector<std::pair<std::string, std::string>> columns;
  for (const std::string& c : g.columns) columns.emplace_back(StoredType(g, c), "v." + Quote(c));
  return FirstChanged(columns);
}

// `"k1" = v."k1" AND ...` between `a` and `b` on the table's key.
std::string KeyJoin(const Table& t, absl::string_view a, absl::string_view b) {
  std::vector<std::string> parts;
  for (const size_t i : t.primary_key) {
    const std::string c = Quote(t.columns[i].name);
    parts.push_back(absl::StrCat(a, ".", c, " = ", b, ".", c));
  }
  return absl::StrJoin(parts, " AND ");
}

// `g`'s table as its ops write it, for messages: only the columns they
// give. They give every column of the tenant's row, so a NOT NULL column
// of the cloud table they lack is one the tenant's schema does not have.
Table AsGiven(const Group& g) {
  if (g.deleted) return *g.table;
  Table t;
  t.name = g.table->name;
  t.check_constraints = g.table->check_constraints;
  for (const std::string& c : g.columns) t.columns.push_back(*g.table->Find(c));
  return t;
}

// Ops that can run, grouped (in first-appearance order) against `catalog`;
// the others are kRejected in `out` here, alone.
std::vector<Group> Plan(const PgCatalog& catalog, const std::vector<SyncOp>& ops, std::vector<SyncOutcome>* out) {
  std::vector<Group> groups;
  std::map<std::string, size_t> by_id;
  for (size_t i = 0; i < ops.size(); ++i) {
    const SyncOp& op = ops[i];
    const Table* t = catalog.catalog->Find(op.table);
    absl::Status bad;
    std::vector<std::string> columns;
    if (t == nullptr) bad = errors::CloudSchemaMismatch(op.table);
    for (size_t k = 0; bad.ok() && t != nullptr && k < t->primary_key.size(); ++k) {
      const std::string& c = t->columns[t->primary_key[k]].name;
      if (Find(op.key, c) == nullptr) bad = errors::MissingKeyColumn(t->name, c);
    }
    if (bad.ok() && !op.deleted) {
      for (const Field& f : op.values) {
        if (t->Find(f.column) == nullptr) bad = errors::CloudSchemaMismatch(t->name);
      }
      for (const Column& c : t->columns) {
        if (Find(op.values, c.name) != nullptr || Find(op.key, c.name) != nullptr) columns.push_back(c.name);
      }
    }
    if (!bad.ok()) {
      (*out)[i].kind = SyncOutcome::kRejected;
      (*out)[i].error = bad;
      continue;
    }
    const std::string id = absl::StrCat(op.table, op.deleted ? "\1" : "\2", absl::StrJoin(columns, "\1"));
    auto [it, inserted] = by_id.try_emplace(id, groups.size());
    if (inserted) {
      Group g;
      g.table = t;
      g.extra = catalog.Extra(t->name);
      g.deleted = op.deleted;
      g.columns = std::move(columns);
      groups.push_back(std::move(g));
    }
    groups[it->second].ops.push_back(i);
  }
  return groups;
}

class SyncApplier {
 public:
  SyncApplier(PgCore& core, const std::string& tenant, const std::vector<SyncOp>& ops, std::vector<SyncOutcome>* out)
      : core_(core), tenant_(tenant), ops_(ops), out_(*out) {}

  // The statement applying `group`'s ops `[begin, end)`. It answers a row
  // per op: its index in the group, whether it applied, (when not) the
  // version the cloud kept, its row's or its tombstone's, and the index of
  // a column whose value the cloud would store changed (FirstChangedColumn),
  // for an op not written for it.
  std::string Statement(const Group& g, size_t begin, size_t end, Params* p) {
    const Table& t = *g.table;
    const std::string table = core_.Table(t.name);
    const std::string tombs = core_.Table("_dg_tombstones");
    const std::string tenant = p->AddText(tenant_);
    const std::string tbl = p->AddText(t.name);
    std::vector<std::string> key_names, key_cols;
    for (const size_t i : t.primary_key) {
      key_names.push_back(t.columns[i].name);
      key_cols.push_back(Quote(t.columns[i].name));
    }
    const std::vector<std::string>& cols = g.deleted ? key_names : g.columns;
    std::string sql = absl::StrCat("WITH v AS (");
    AppendUnnest(g, cols, begin, end, p, &sql);
    sql += "), ";
    // What the cloud kept, for an op not applied: read in the statement's
    // snapshot, which its own changes are not part of.
    const std::string kept =
        absl::StrCat("coalesce(GREATEST((SELECT cur._dg_version FROM ", table, " cur WHERE cur.tenant_id = ", tenant,
                     " AND ", KeyJoin(t, "cur", "v"), "), (SELECT tk.version FROM ", tombs,
                     " tk WHERE tk.tenant_id = ", tenant, " AND tk.tbl = ", tbl, " AND tk.key_text = v._dg_k)), 0)");
    if (!g.deleted) {
      const std::string changed = FirstChangedColumn(g);
      std::string quoted, sets;
      for (const std::string& c : cols) {
        absl::StrAppend(&quoted, Quote(c), ", ");
        if (t.Find(c)->pk_position == 0) absl::StrAppend(&sets, Quote(c), " = excluded.", Quote(c), ", ");
      }
      absl::StrAppend(&sql, "w AS (INSERT INTO ", table, " AS t (tenant_id, ", quoted, kMetaColumns,
                      ", _dg_deleted) SELECT ", tenant, ", ", quoted, "_dg_v, _dg_c, _dg_u, false FROM v WHERE ",
                      changed.empty() ? "" : absl::StrCat(changed, " IS NULL AND "));
      // The tombstones of rows the cloud never had: looked up per op only
      // when the tenant has any in the table (an InitPlan, run once, which
      // the OR evaluates first).
      absl::StrAppend(&sql, "((SELECT NOT EXISTS (SELECT 1 FROM ", tombs, " tb0 WHERE tb0.tenant_id = ", tenant,
                      " AND tb0.tbl = ", tbl, ")) OR NOT EXISTS (SELECT 1 FROM ", tombs,
                      " tb WHERE tb.tenant_id = ", tenant, " AND tb.tbl = ", tbl,
                      " AND tb.key_text = v._dg_k AND tb.version >= v._dg_v))");
      absl::StrAppend(&sql, " ON CONFLICT (tenant_id, ", absl::StrJoin(key_cols, ", "), ") DO UPDATE SET ", sets,
                      "_dg_version = excluded._dg_version, _dg_create_us = excluded._dg_create_us, "
                      "_dg_update_us = excluded._dg_update_us, _dg_deleted = false "
                      "WHERE t._dg_version < excluded._dg_version RETURNING ",
                      absl::StrJoin(key_cols, ", "), ") SELECT v._dg_i, w.", key_cols[0], " IS NOT NULL, CASE WHEN w.",
                      key_cols[0], " IS NULL THEN ", kept, " END, ", changed.empty() ? "NULL::int" : changed,
                      " FROM v LEFT JOIN w ON ", KeyJoin(t, "w", "v"));
    } else {
      absl::StrAppend(&sql, "d AS (UPDATE ", table,
                      " t SET _dg_deleted = true, _dg_version = v._dg_v, _dg_update_us = v._dg_u FROM v WHERE "
                      "t.tenant_id = ",
                      tenant, " AND ", KeyJoin(t, "t", "v"), " AND t._dg_version < v._dg_v RETURNING v._dg_i), ",
                      "n AS (INSERT INTO ", tombs, " AS tb (tenant_id, tbl, key_text, version) SELECT ", tenant, ", ",
                      tbl, ", v._dg_k, v._dg_v FROM v WHERE NOT EXISTS (SELECT 1 FROM ", table,
                      " t WHERE t.tenant_id = ", tenant, " AND ", KeyJoin(t, "t", "v"),
                      ") ON CONFLICT (tenant_id, tbl, key_text) DO UPDATE SET version = excluded.version "
                      "WHERE tb.version < excluded.version RETURNING key_text) ",
                      "SELECT v._dg_i, d._dg_i IS NOT NULL OR n.key_text IS NOT NULL, CASE WHEN d._dg_i IS NULL AND "
                      "n.key_text IS NULL THEN ",
                      kept,
                      " END, NULL::int FROM v LEFT JOIN d ON d._dg_i = v._dg_i LEFT JOIN n ON n.key_text = v._dg_k");
    }
    return sql;
  }

  // Records the answer of `Statement(g, begin, end)`.
  void Record(const pqxx::result& r, const Group& g, size_t begin, size_t end) {
    for (const pqxx::row& row : r) {
      const size_t i = row[0].as<size_t>();
      if (i < begin || i >= end) continue;
      SyncOutcome& o = out_[g.ops[i]];
      const int64_t version = ops_[g.ops[i]].version;
      if (!row[3].is_null()) {
        // Not written: the cloud would have stored a value changed.
        const std::string& column = g.columns.at(row[3].as<size_t>());
        o.kind = SyncOutcome::kRejected;
        o.error = errors::CloudValueChanged(g.table->name, column, StoredType(g, column));
      } else if (row[1].as<bool>()) {
        o.kind = SyncOutcome::kApplied;
        o.cloud_version = version;
      } else if (const int64_t kept = row[2].as<int64_t>(); kept >= version) {
        o.kind = SyncOutcome::kStale;
        o.cloud_version = kept;
      } else {
        // Not applied, yet the cloud is older in the statement's snapshot:
        // a transaction that committed meanwhile wrote the row. Retried.
        o.kind = SyncOutcome::kRejected;
        o.error = errors::CloudTransactionConflict();
      }
    }
  }

  // The careful run of `groups` (see the file comment): OK once every op is
  // applied, stale or kRejected and what the server checks at COMMIT holds.
  // An op rejected for a taken value leaves its row the value it had, which
  // may be the one another op takes: rounds go on while they reject an op,
  // so a chain of any length ends (each round has fewer ops). Throws what
  // fails the call: a deferred constraint other than a unique one, or the
  // store's errors. With `locks_first` (the first run met a lock), the ops
  // whose rows another transaction holds are rejected before anything runs.
  void ApplyCarefully(pqxx::transaction_base& tx, const PgCatalog& catalog, std::vector<Group>& groups, size_t chunk,
                      bool locks_first) {
    if (locks_first && RejectLocked(tx, groups) > 0) DropRejected(groups);
    tx.exec("SAVEPOINT dg_call");
    for (;;) {
      for (const Group& g : groups) {
        for (size_t begin = 0; begin < g.ops.size(); begin += chunk) {
          ApplyChunkCarefully(tx, catalog, g, begin, std::min(g.ops.size(), begin + chunk));
        }
      }
      const std::unique_ptr<pqxx::sql_error> refused = Savepoint(tx, [&] { tx.exec("SET CONSTRAINTS ALL IMMEDIATE"); });
      if (refused == nullptr) return;
      const std::string state = refused->sqlstate();
      const size_t taken = state != "23505" && state != "23P01" ? 0 : RejectTakenValues(tx, catalog, groups);
      if (taken == 0) throw *refused;
      spdlog::info(
          "cloud store: sync apply for tenant '{}': SQLSTATE {} at commit; {} op(s) hold unique values "
          "another row holds, applying the rest without them",
          tenant_, state, taken);
      // Again without the ops just rejected (and those refused on their own
      // data).
      tx.exec("ROLLBACK TO SAVEPOINT dg_call");
      DropRejected(groups);
    }
  }

  // Leaves in `groups` the ops not kRejected, their outcomes to be made anew.
  void DropRejected(std::vector<Group>& groups) {
    for (Group& g : groups) {
      std::vector<size_t> kept;
      for (const size_t i : g.ops) {
        if (out_[i].kind == SyncOutcome::kRejected) continue;
        out_[i] = SyncOutcome();
        kept.push_back(i);
      }
      g.ops = std::move(kept);
    }
  }

  // Rejects (ABORTED, CloudRowLocked) each op whose cloud row, or a row
  // its foreign keys refer to, another transaction holds, found in one
  // statement per group and key (SKIP LOCKED), where splitting would wait
  // lock_timeout per try and each held row would cost a wait per halving.
  // Locks the other ops' rows (and the rows they refer to) for this
  // transaction. Returns how many it rejected.
  size_t RejectLocked(pqxx::transaction_base& tx, const std::vector<Group>& groups) {
    size_t rejected = 0;
    for (const Group& g : groups) {
      if (g.ops.empty()) continue;
      const Table& t = *g.table;
      std::vector<std::string> key;
      for (const size_t i : t.primary_key) key.push_back(t.columns[i].name);
      // What the upsert (or the delete's UPDATE) takes, its key unchanged.
      rejected += RejectHeld(tx, g, core_.Table(t.name), key, key, "tenant_id", "NO KEY UPDATE");
      if (g.deleted) continue;
      for (const Reference& r : References(tx, t.name)) {
        const bool given = std::all_of(r.columns.begin(), r.columns.end(), [&](const std::string& c) {
          return std::find(g.columns.begin(), g.columns.end(), c) != g.columns.end();
        });
        if (given) rejected += RejectHeld(tx, g, r.parent, r.columns, r.parent_columns, r.parent_tenant, "KEY SHARE");
      }
    }
    if (rejected > 0) {
      spdlog::info("cloud store: sync apply for tenant '{}': {} op(s) wait for rows another transaction holds", tenant_,
                   rejected);
    }
    return rejected;
  }

  // A foreign key of a cloud table, as RejectLocked follows it.
  struct Reference {
    std::string parent;                       // the table referred to, as SQL
    std::vector<std::string> columns;         // the child's, but tenant_id
    std::vector<std::string> parent_columns;  // the parent's, in the same order
    std::string parent_tenant;                // the parent's column tenant_id refers to ("" if none)
  };

  // The foreign keys of the cloud table `table`, read from the server's
  // catalog (the gateway's own keeps only the local schema's).
  std::vector<Reference> References(pqxx::transaction_base& tx, const std::string& table) {
    Params p;
    const std::string sql = absl::StrCat(
        "SELECT c.oid, c.confrelid::regclass::text, a.attname, f.attname FROM pg_constraint c CROSS JOIN LATERAL "
        "unnest(c.conkey, c.confkey) AS k(child, parent) JOIN pg_attribute a ON a.attrelid = c.conrelid AND "
        "a.attnum = k.child JOIN pg_attribute f ON f.attrelid = c.confrelid AND f.attnum = k.parent WHERE "
        "c.contype = 'f' AND c.conrelid = to_regclass(",
        p.AddText(core_.Table(table)), ") ORDER BY c.oid");
    std::vector<Reference> refs;
    int64_t last = -1;
    for (const pqxx::row& r : p.Exec(tx, sql)) {
      if (r[0].as<int64_t>() != last) {
        last = r[0].as<int64_t>();
        refs.emplace_back();
        refs.back().parent = r[1].as<std::string>();
      }
      Reference& ref = refs.back();
      if (r[2].as<std::string>() == "tenant_id") {
        ref.parent_tenant = r[3].as<std::string>();
      } else {
        ref.columns.push_back(r[2].as<std::string>());
        ref.parent_columns.push_back(r[3].as<std::string>());
      }
    }
    return refs;
  }

  // Rejects each op of `g` not rejected yet whose row of `target` another
  // transaction holds, so that `lock` (NO KEY UPDATE, KEY SHARE) cannot be
  // had at once: the row whose `columns` equal the op's `own` ones (and
  // whose `tenant_column` is the tenant, when named; with no `own` columns,
  // the tenant's row: a foreign key of tenant_id alone). Takes that lock on
  // the others' rows. Returns how many it rejected.
  size_t RejectHeld(pqxx::transaction_base& tx, const Group& g, const std::string& target,
                    const std::vector<std::string>& own, const std::vector<std::string>& columns,
                    const std::string& tenant_column, absl::string_view lock) {
    if (own.empty() && tenant_column.empty()) return 0;
    Params p;
    std::vector<std::string> same, picked;
    for (size_t i = 0; i < own.size(); ++i) {
      same.push_back(absl::StrCat("r.", Quote(columns[i]), " = u.", Quote(own[i])));
      picked.push_back("r." + Quote(columns[i]));
    }
    if (same.empty()) {
      same.push_back("true");
      picked.push_back("1");
    }
    const std::string match = absl::StrJoin(same, " AND ");
    const std::string tenant =
        tenant_column.empty() ? "" : absl::StrCat(" AND r.", Quote(tenant_column), " = ", p.AddText(tenant_));
    std::string sql = "WITH u AS (";
    AppendUnnest(g, own, 0, g.ops.size(), &p, &sql);
    absl::StrAppend(&sql, "), mine AS MATERIALIZED (SELECT ", absl::StrJoin(picked, ", "), " FROM ", target,
                    " r JOIN u ON ", match, tenant, " FOR ", lock,
                    " OF r SKIP LOCKED) SELECT u._dg_i FROM u WHERE "
                    "EXISTS (SELECT 1 FROM ",
                    target, " r WHERE ", match, tenant, ") AND NOT EXISTS (SELECT 1 FROM mine r WHERE ", match, ")");
    size_t rejected = 0;
    for (const pqxx::row& r : p.Exec(tx, sql)) {
      SyncOutcome& o = out_[g.ops[r[0].as<size_t>()]];
      if (o.kind == SyncOutcome::kRejected) continue;
      o.kind = SyncOutcome::kRejected;
      o.error = errors::CloudRowLocked();
      ++rejected;
    }
    return rejected;
  }

  // With `groups` applied: rejects each applied upsert whose row now holds
  // values that one of its table's deferred unique constraints allows once
  // (PgDeferredUnique) and another row holds too, be that row in the call
  // or not. Returns how many it rejected.
  size_t RejectTakenValues(pqxx::transaction_base& tx, const PgCatalog& catalog, const std::vector<Group>& groups) {
    size_t rejected = 0;
    for (const Group& g : groups) {
      const PgTableExtra* extra = catalog.Extra(g.table->name);
      if (g.deleted || extra == nullptr || extra->deferred_uniques.empty()) continue;
      Group applied = g;
      applied.ops.clear();
      for (const size_t i : g.ops) {
        if (out_[i].kind == SyncOutcome::kApplied) applied.ops.push_back(i);
      }
      if (applied.ops.empty()) continue;
      const Table& t = *g.table;
      const std::string table = core_.Table(t.name);
      std::vector<std::string> key_names;
      for (const size_t i : t.primary_key) key_names.push_back(t.columns[i].name);
      for (const PgDeferredUnique& unique : extra->deferred_uniques) {
        if (unique.columns.empty()) continue;
        // The predicate names columns unqualified: each use sits where only
        // the row it is about (t, then o) is in scope at the innermost level.
        const std::string where = unique.predicate.empty() ? "" : absl::StrCat(" AND (", unique.predicate, ")");
        std::vector<std::string> same;
        for (const std::string& c : unique.columns) same.push_back(absl::StrCat("o.", Quote(c), " = t.", Quote(c)));
        Params p;
        const std::string tenant = p.AddText(tenant_);
        std::string sql = "SELECT u._dg_i FROM (";
        AppendUnnest(applied, key_names, 0, applied.ops.size(), &p, &sql);
        absl::StrAppend(&sql, ") u WHERE EXISTS (SELECT 1 FROM ", table, " t WHERE t.tenant_id = ", tenant, " AND ",
                        KeyJoin(t, "t", "u"), where, " AND EXISTS (SELECT 1 FROM ", table, " o WHERE ",
                        absl::StrJoin(same, " AND "), " AND NOT (o.tenant_id = t.tenant_id AND ", KeyJoin(t, "o", "t"),
                        ")", where, "))");
        const std::string columns =
            extra->unique_columns.count(unique.name) ? extra->unique_columns.at(unique.name) : "";
        for (const pqxx::row& r : p.Exec(tx, sql)) {
          SyncOutcome& o = out_[applied.ops[r[0].as<size_t>()]];
          if (o.kind == SyncOutcome::kRejected) continue;
          o.kind = SyncOutcome::kRejected;
          o.cloud_version = 0;
          o.error = errors::DuplicateRow(t.name, columns);
          ++rejected;
        }
      }
    }
    return rejected;
  }

  // Applies `group`'s ops `[begin, end)` under a savepoint, with bound
  // parameters; when the statement fails on its own data, the halves are
  // applied the same way, down to single ops, which are then kRejected.
  // Throws the errors that fail the call.
  void ApplyChunkCarefully(pqxx::transaction_base& tx, const PgCatalog& catalog, const Group& g, size_t begin,
                           size_t end) {
    auto failed = Savepoint(tx, [&] {
      Params p;
      const std::string sql = Statement(g, begin, end, &p);
      Record(p.Exec(tx, sql), g, begin, end);
    });
    if (failed == nullptr) return;
    if (end - begin == 1) {
      SyncOutcome& o = out_[g.ops[begin]];
      o.kind = SyncOutcome::kRejected;
      const Table given = AsGiven(g);
      o.error = MapPgError(*failed, "sync apply", &given, catalog.Extra(g.table->name));
      return;
    }
    const size_t mid = begin + (end - begin) / 2;
    ApplyChunkCarefully(tx, catalog, g, begin, mid);
    ApplyChunkCarefully(tx, catalog, g, mid, end);
  }

 private:
  // Runs `fn` under a savepoint: null when it succeeded, else the error
  // (rolled back to the savepoint) when one op's data can cause it. Other
  // errors are thrown: they fail the call.
  static std::unique_ptr<pqxx::sql_error> Savepoint(pqxx::transaction_base& tx, absl::FunctionRef<void()> fn) {
    tx.exec("SAVEPOINT dg_sync");
    try {
      fn();
    } catch (const pqxx::sql_error& e) {
      if (!OpsFault(e.sqlstate())) throw;  // not the ops': fails the call
      tx.exec("ROLLBACK TO SAVEPOINT dg_sync");
      return std::make_unique<pqxx::sql_error>(e);
    }
    tx.exec("RELEASE SAVEPOINT dg_sync");
    return nullptr;
  }

  // `SELECT _dg_i, "c", ..., _dg_v, _dg_c, _dg_u, _dg_k FROM
  // unnest($i::bigint[], $c::<type>[], ...) AS u(the same)` over ops
  // [begin, end): one array parameter per column, so a chunk is a handful
  // of parameters however many rows it has.
  void AppendUnnest(const Group& g, const std::vector<std::string>& cols, size_t begin, size_t end, Params* p,
                    std::string* sql) {
    std::vector<std::optional<std::string>> column;
    column.reserve(end - begin);
    auto add = [&](absl::string_view type) {
      absl::StrAppend(sql, sql->back() == '(' ? "" : ", ", p->AddText(ArrayLiteral(column)), ArrayCast(type));
      column.clear();
    };
    // An array column comes as the text of each array (ArrayCast).
    *sql += "SELECT _dg_i";
    for (const std::string& c : cols) {
      const std::string& type = StoredType(g, c);
      absl::StrAppend(sql, ", ", Quote(c));
      if (IsArrayType(type)) absl::StrAppend(sql, "::", UnboundedType(type), " AS ", Quote(c));
    }
    *sql += ", _dg_v, _dg_c, _dg_u, _dg_k FROM unnest(";
    for (size_t i = begin; i < end; ++i) column.push_back(absl::StrCat(i));
    add("bigint");
    for (const std::string& c : cols) {
      for (size_t i = begin; i < end; ++i) {
        const SyncOp& op = ops_[g.ops[i]];
        const Value* v = Find(op.key, c);
        if (v == nullptr) v = Find(op.values, c);
        column.push_back(v ? ToText(*v) : std::nullopt);
      }
      add(StoredType(g, c));
    }
    for (int m = 0; m < 4; ++m) {
      for (size_t i = begin; i < end; ++i) {
        const SyncOp& op = ops_[g.ops[i]];
        column.push_back(m == 0   ? absl::StrCat(op.version)
                         : m == 1 ? absl::StrCat(op.create_time_us)
                         : m == 2 ? absl::StrCat(op.update_time_us)
                                  : KeyText(op.key));
      }
      add(m == 3 ? "text" : "bigint");
    }
    *sql += ") AS u(_dg_i";
    for (const std::string& c : cols) absl::StrAppend(sql, ", ", Quote(c));
    *sql += ", _dg_v, _dg_c, _dg_u, _dg_k)";
  }

  PgCore& core_;
  const std::string& tenant_;
  const std::vector<SyncOp>& ops_;
  std::vector<SyncOutcome>& out_;
};

}  // namespace

absl::StatusOr<std::vector<SyncOutcome>> PgCloudStore::ApplySync(const std::string& tenant_id,
                                                                 const std::vector<SyncOp>& ops, absl::Time deadline) {
  RETURN_IF_ERROR(ValidateTenantId(tenant_id));
  std::vector<SyncOutcome> out(ops.size());
  if (ops.empty()) return out;
  SyncApplier applier(*core_, tenant_id, ops, &out);
  const size_t chunk = static_cast<size_t>(core_->options().sync_chunk_rows);
  std::vector<Group> groups;
  struct Chunk {
    size_t group, begin, end;
  };
  std::vector<Chunk> chunks;
  std::string failed;
  absl::StatusOr<std::vector<pqxx::result>> results = core_->RunInOneTrip(
      "sync apply", deadline, tenant_id,
      [&](const pqxx::transaction_base& tx, const PgCatalog& catalog) {
        out.assign(ops.size(), SyncOutcome());
        groups = Plan(catalog, ops, &out);
        chunks.clear();
        std::vector<std::string> statements = {LockTimeout(deadline, false)};
        for (size_t g = 0; g < groups.size(); ++g) {
          for (size_t begin = 0; begin < groups[g].ops.size(); begin += chunk) {
            chunks.push_back(Chunk{g, begin, std::min(groups[g].ops.size(), begin + chunk)});
            Params literals(tx);
            statements.push_back(applier.Statement(groups[g], begin, chunks.back().end, &literals));
          }
        }
        return statements;
      },
      &failed);
  // The first result is LockTimeout's.
  if (results.ok() && results->size() == chunks.size() + 1) {
    for (size_t i = 0; i < chunks.size(); ++i) {
      applier.Record((*results)[i + 1], groups[chunks[i].group], chunks[i].begin, chunks[i].end);
    }
    return out;
  }
  if (results.ok()) return errors::StoreInternal();
  if (!OpsFault(failed)) return results.status();
  // An op failed the call (or the schema moved on): again, carefully.
  RETURN_IF_ERROR(core_->Run("sync apply", deadline, tenant_id, PgCore::Mode::kWrite,
                             [&](pqxx::transaction_base& tx, const PgCatalog& catalog) -> absl::Status {
                               tx.exec(LockTimeout(deadline, true));
                               out.assign(ops.size(), SyncOutcome());
                               groups = Plan(catalog, ops, &out);
                               applier.ApplyCarefully(tx, catalog, groups, chunk, failed == kLockNotAvailable);
                               return absl::OkStatus();
                             }));
  return out;
}

}  // namespace datagate::store::postgres
