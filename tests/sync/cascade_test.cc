// Rows SQLite changes by itself inside a write (foreign-key actions and
// triggers) are versioned, tombstoned and queued like an op's own rows, in
// the same transaction; what cannot be tracked fails the write cleanly.
#include "SQLiteCpp/SQLiteCpp.h"
#include "absl/strings/str_cat.h"
#include "store/outbox.h"
#include "store/sqlite/sqlite_database.h"
#include "test_env.h"

namespace datagate::store {
namespace {

using ::testing::HasSubstr;

const absl::Time kForever = absl::InfiniteFuture();

constexpr char kSchema[] = R"sql(
CREATE TABLE parents (id INTEGER PRIMARY KEY, code TEXT UNIQUE, name TEXT);
CREATE TABLE children (
  parent_id INTEGER NOT NULL REFERENCES parents (id) ON DELETE CASCADE,
  line INTEGER NOT NULL, note TEXT, PRIMARY KEY (parent_id, line));
CREATE TABLE tagged (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parents (id) ON DELETE SET NULL);
CREATE TABLE coded (
  code TEXT NOT NULL REFERENCES parents (code) ON UPDATE CASCADE, n INTEGER NOT NULL,
  PRIMARY KEY (code, n)) WITHOUT ROWID;
CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, edits INTEGER NOT NULL DEFAULT 0);
CREATE TABLE audit (id INTEGER PRIMARY KEY, what TEXT NOT NULL);
CREATE TRIGGER notes_made AFTER INSERT ON notes BEGIN
  INSERT INTO audit (what) VALUES ('made ' || new.id);
END;
CREATE TRIGGER notes_edited AFTER UPDATE OF body ON notes BEGIN
  UPDATE notes SET edits = edits + 1 WHERE id = new.id;
END;
)sql";

Value I(int64_t n) { return Value{n}; }
Value S(std::string s) { return Value{std::move(s)}; }

class CascadeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.path() + "/t.db";
    auto db = sqlite::SqliteDatabase::Open(path_, {});
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *db;
    Migrate(1, kSchema);
  }
  void Migrate(int64_t version, const std::string& sql) {
    absl::Status s =
        db_->Migrate(MigrationScript{AppliedMigration{version, "m", "c", 0}, sql, true, "t", "m.sql"}, kForever);
    ASSERT_TRUE(s.ok()) << s;
  }
  static WriteOp Insert(std::string table, std::vector<Field> values) {
    return WriteOp{WriteKind::kInsert, std::move(table), {}, std::move(values), 0};
  }
  static WriteOp Update(std::string table, std::vector<Field> key, std::vector<Field> values) {
    return WriteOp{WriteKind::kUpdate, std::move(table), std::move(key), std::move(values), 0};
  }
  static WriteOp Delete(std::string table, std::vector<Field> key) {
    return WriteOp{WriteKind::kDelete, std::move(table), std::move(key), {}, 0};
  }
  static WriteOp Parent(int64_t id) {
    return Insert("parents", {{"id", I(id)}, {"code", S(absl::StrCat("c", id))}, {"name", S("p")}});
  }
  static WriteOp Child(int64_t parent, int64_t line) {
    return Insert("children", {{"parent_id", I(parent)}, {"line", I(line)}, {"note", S("n")}});
  }
  // A LOCAL_FIRST-style write (queued) unless `enqueue` is false.
  absl::StatusOr<std::vector<StoredRow>> Write(std::vector<WriteOp> ops, bool enqueue = true,
                                               std::vector<int64_t>* seqs = nullptr) {
    WriteOptions o;
    o.enqueue = enqueue;
    o.enqueued = seqs;
    return db_->Write(ops, o);
  }
  // The outbox entries after `after_seq`, in seq order.
  std::vector<OutboxEntry> Entries(int64_t after_seq = 0) {
    auto all = db_->ListEntries(std::nullopt, after_seq, 1000, kForever);
    EXPECT_TRUE(all.ok()) << all.status();
    return all.ok() ? *all : std::vector<OutboxEntry>{};
  }
  int64_t LastSeq() {
    auto c = db_->Counts(kForever);
    EXPECT_TRUE(c.ok());
    return c.ok() ? c->last_seq : -1;
  }
  // A number SQLite computes from the file (read apart from the store).
  int64_t Count(const std::string& sql) {
    SQLite::Database file(path_, SQLite::OPEN_READONLY);
    return file.execAndGet(sql).getInt64();
  }
  std::optional<StoredRow> Get(const std::string& table, std::vector<Field> key) {
    auto row = db_->Get(RowRead{table, std::move(key), {}});
    EXPECT_TRUE(row.ok()) << row.status();
    return row.ok() ? *row : std::nullopt;
  }
  // Parent 1 with children lines 1..3, queued.
  void MakeFamily() { ASSERT_TRUE(Write({Parent(1), Child(1, 1), Child(1, 2), Child(1, 3)}).ok()); }

  testing::TempDir dir_;
  std::string path_;
  std::shared_ptr<sqlite::SqliteDatabase> db_;
};

TEST_F(CascadeTest, ACascadeDeleteQueuesEveryChildAndLeavesTheirTombstones) {
  MakeFamily();
  const int64_t before = LastSeq();
  std::vector<int64_t> seqs;
  ASSERT_TRUE(Write({Delete("parents", {{"id", I(1)}})}, true, &seqs).ok());
  // The op's entry first, then one per child: all reported, consecutive.
  EXPECT_EQ(seqs, (std::vector<int64_t>{before + 1, before + 2, before + 3, before + 4}));
  std::vector<OutboxEntry> entries = Entries(before);
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries[0].table, "parents");
  EXPECT_EQ(entries[0].key, (std::vector<Field>{{"id", I(1)}}));
  for (int line = 1; line <= 3; ++line) {
    const OutboxEntry& e = entries[line];
    EXPECT_EQ(e.table, "children");
    EXPECT_TRUE(e.deleted);
    EXPECT_EQ(e.version, 2);  // made at 1; a delete's version is one past it
    EXPECT_EQ(e.key, (std::vector<Field>{{"parent_id", I(1)}, {"line", I(line)}}));
  }
  EXPECT_TRUE(entries[0].deleted);
  EXPECT_EQ(entries[0].version, 2);
  EXPECT_EQ(Count("SELECT count(*) FROM children"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM _dg_tombstones WHERE tbl = 'children' AND version = 2"), 3);
  EXPECT_EQ(Count("SELECT count(*) FROM _dg_tombstones WHERE tbl = 'parents'"), 1);
}

TEST_F(CascadeTest, AChildMadeAgainContinuesPastItsTombstone) {
  MakeFamily();
  ASSERT_TRUE(Write({Update("children", {{"parent_id", I(1)}, {"line", I(2)}}, {{"note", S("x")}})}).ok());
  ASSERT_TRUE(Write({Delete("parents", {{"id", I(1)}})}).ok());
  EXPECT_EQ(Count("SELECT max(version) FROM _dg_tombstones WHERE tbl = 'children'"), 3);  // line 2: v2, deleted
  const int64_t before = LastSeq();
  auto again = Write({Parent(1), Child(1, 2)});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)[0].version, 3);
  EXPECT_EQ((*again)[1].version, 4);  // the tombstone's 3, plus one
  std::vector<OutboxEntry> entries = Entries(before);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[1].version, 4);
  EXPECT_EQ(Count("SELECT count(*) FROM _dg_tombstones WHERE tbl = 'children'"), 2);
}

TEST_F(CascadeTest, SetNullQueuesTheChangedRowWithABumpedVersion) {
  ASSERT_TRUE(Write({Parent(1), Insert("tagged", {{"id", I(10)}, {"parent_id", I(1)}})}).ok());
  const int64_t before = LastSeq();
  std::vector<int64_t> seqs;
  ASSERT_TRUE(Write({Delete("parents", {{"id", I(1)}})}, true, &seqs).ok());
  EXPECT_EQ(seqs.size(), 2u);
  std::vector<OutboxEntry> entries = Entries(before);
  ASSERT_EQ(entries.size(), 2u);
  const OutboxEntry& e = entries[1];
  EXPECT_EQ(e.table, "tagged");
  EXPECT_FALSE(e.deleted);
  EXPECT_EQ(e.version, 2);
  EXPECT_EQ(e.row.version, 2);
  EXPECT_EQ(e.row.fields, (std::vector<Field>{{"id", I(10)}, {"parent_id", Value{}}}));
  std::optional<StoredRow> stored = Get("tagged", {{"id", I(10)}});
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->version, 2);
  EXPECT_GT(stored->update_time_us, 0);
}

TEST_F(CascadeTest, ARowATriggerMakesIsQueuedAsStored) {
  const int64_t before = LastSeq();
  std::vector<int64_t> seqs;
  ASSERT_TRUE(Write({Insert("notes", {{"id", I(1)}, {"body", S("hi")}})}, true, &seqs).ok());
  EXPECT_EQ(seqs.size(), 2u);
  std::vector<OutboxEntry> entries = Entries(before);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].table, "notes");
  EXPECT_EQ(entries[1].table, "audit");
  EXPECT_EQ(entries[1].version, 1);
  EXPECT_EQ(entries[1].row.fields, (std::vector<Field>{{"id", I(1)}, {"what", S("made 1")}}));
  std::optional<StoredRow> audit = Get("audit", {{"id", I(1)}});
  ASSERT_TRUE(audit.has_value());
  EXPECT_EQ(audit->version, 1);
  EXPECT_GT(audit->create_time_us, 0);  // not the column default, 0
}

// A trigger that changes the row its own op wrote: the answer and the op's
// one entry carry the row as stored, at the op's version.
TEST_F(CascadeTest, AnOpsOwnRowChangedByItsTriggerIsQueuedOnceAsStored) {
  ASSERT_TRUE(Write({Insert("notes", {{"id", I(1)}, {"body", S("a")}})}).ok());
  const int64_t before = LastSeq();
  auto updated = Write({Update("notes", {{"id", I(1)}}, {{"body", S("b")}})});
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ((*updated)[0].version, 2);
  EXPECT_EQ((*updated)[0].fields[2], (Field{"edits", I(1)}));
  std::vector<OutboxEntry> entries = Entries(before);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].version, 2);
  EXPECT_EQ(entries[0].row.fields[2], (Field{"edits", I(1)}));
  EXPECT_EQ(Get("notes", {{"id", I(1)}})->version, 2);
}

// ON UPDATE CASCADE that changes a child's key: the old key is deleted (a
// tombstone), the new one made.
TEST_F(CascadeTest, AKeyMovedByOnUpdateCascadeIsADeleteAndACreate) {
  ASSERT_TRUE(Write({Parent(1), Insert("coded", {{"code", S("c1")}, {"n", I(1)}})}).ok());
  const int64_t before = LastSeq();
  ASSERT_TRUE(Write({Update("parents", {{"id", I(1)}}, {{"code", S("c9")}})}).ok());
  std::vector<OutboxEntry> entries = Entries(before);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[1].key, (std::vector<Field>{{"code", S("c1")}, {"n", I(1)}}));
  EXPECT_TRUE(entries[1].deleted);
  EXPECT_EQ(entries[1].version, 2);
  EXPECT_EQ(entries[2].key, (std::vector<Field>{{"code", S("c9")}, {"n", I(1)}}));
  EXPECT_FALSE(entries[2].deleted);
  EXPECT_EQ(entries[2].version, 1);
  EXPECT_EQ(Count("SELECT count(*) FROM _dg_tombstones WHERE tbl = 'coded'"), 1);
}

// A constraint's ON CONFLICT REPLACE deletes rows in the op's own statement:
// a row replaced under its own key continues from its version; another row
// replaced (by a UNIQUE column) is deleted, with a tombstone and an entry.
TEST_F(CascadeTest, RowsThatReplaceDeletesAreTrackedToo) {
  Migrate(2, R"sql(
CREATE TABLE slots (k TEXT PRIMARY KEY ON CONFLICT REPLACE, v TEXT, tag TEXT UNIQUE ON CONFLICT REPLACE);
)sql");
  auto slot = [](std::string k, std::string v, std::string tag) {
    return Insert("slots", {{"k", S(std::move(k))}, {"v", S(std::move(v))}, {"tag", S(std::move(tag))}});
  };
  ASSERT_TRUE(Write({slot("a", "1", "t1")}).ok());
  const int64_t before = LastSeq();
  auto again = Write({slot("a", "2", "t2")});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)[0].version, 2);  // not 1 again: the cloud has 1
  std::vector<OutboxEntry> entries = Entries(before);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].version, 2);
  EXPECT_FALSE(entries[0].deleted);
  // "b" takes tag t2 from "a": "a" goes.
  std::vector<int64_t> seqs;
  ASSERT_TRUE(Write({slot("b", "3", "t2")}, true, &seqs).ok());
  EXPECT_EQ(seqs.size(), 2u);
  entries = Entries(before + 1);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].key, (std::vector<Field>{{"k", S("b")}}));
  EXPECT_EQ(entries[1].key, (std::vector<Field>{{"k", S("a")}}));
  EXPECT_TRUE(entries[1].deleted);
  EXPECT_EQ(entries[1].version, 3);
  EXPECT_EQ(Count("SELECT version FROM _dg_tombstones WHERE tbl = 'slots'"), 3);
}

TEST_F(CascadeTest, LocalOnlyWritesKeepVersionsAndTombstonesButQueueNothing) {
  ASSERT_TRUE(
      Write({Parent(1), Child(1, 1), Child(1, 2), Child(1, 3), Insert("tagged", {{"id", I(10)}, {"parent_id", I(1)}})},
            /*enqueue=*/false)
          .ok());
  std::vector<int64_t> seqs;
  ASSERT_TRUE(Write({Delete("parents", {{"id", I(1)}})}, /*enqueue=*/false, &seqs).ok());
  ASSERT_TRUE(Write({Insert("notes", {{"id", I(1)}, {"body", S("hi")}})}, /*enqueue=*/false, &seqs).ok());
  EXPECT_TRUE(seqs.empty());
  EXPECT_EQ(LastSeq(), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM _dg_tombstones WHERE tbl = 'children' AND version = 2"), 3);
  EXPECT_EQ(Get("tagged", {{"id", I(10)}})->version, 2);
  EXPECT_GT(Get("audit", {{"id", I(1)}})->create_time_us, 0);
}

TEST_F(CascadeTest, AFailingOpRollsBackTheCascadesOfTheOpsBeforeIt) {
  MakeFamily();
  const int64_t before = LastSeq();
  std::vector<int64_t> seqs;
  // The delete cascades; then the next op breaks a foreign key.
  auto failed = Write({Delete("parents", {{"id", I(1)}}), Child(7, 1)}, true, &seqs);
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(seqs.empty());
  EXPECT_EQ(LastSeq(), before);
  EXPECT_EQ(Count("SELECT count(*) FROM children"), 3);
  EXPECT_EQ(Count("SELECT count(*) FROM _dg_tombstones"), 0);
  // The next write is clean: nothing captured before carries over.
  ASSERT_TRUE(Write({Insert("notes", {{"id", I(1)}, {"body", S("hi")}})}, true, &seqs).ok());
  EXPECT_EQ(seqs.size(), 2u);
  EXPECT_EQ(Entries(before).size(), 2u);
}

// What cannot be tracked fails the write (and says why), never silently.
TEST_F(CascadeTest, WhatCannotBeTrackedFailsTheWholeWrite) {
  Migrate(2, R"sql(
CREATE TABLE lines (
  parent_id INTEGER REFERENCES parents (id) ON DELETE SET NULL, n INTEGER NOT NULL, PRIMARY KEY (parent_id, n));
CREATE TABLE doomed (id INTEGER PRIMARY KEY);
CREATE TRIGGER doomed_made AFTER INSERT ON doomed BEGIN DELETE FROM doomed WHERE id = new.id; END;
CREATE TABLE twice (
  id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parents (id) ON DELETE CASCADE,
  double_id INTEGER GENERATED ALWAYS AS (id * 2) VIRTUAL);
)sql");
  ASSERT_TRUE(Write({Parent(1), Parent(2), Parent(3), Insert("lines", {{"parent_id", I(1)}, {"n", I(1)}}),
                     Insert("twice", {{"id", I(5)}, {"parent_id", I(3)}})})
                  .ok());
  const int64_t before = LastSeq();
  // SET NULL on a key column: the cloud could not key the row.
  auto nulled = Write({Delete("parents", {{"id", I(2)}}), Delete("parents", {{"id", I(1)}})});
  EXPECT_EQ(nulled.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(nulled.status().message(), HasSubstr("operations[1]"));
  EXPECT_THAT(nulled.status().message(), HasSubstr("table 'lines'"));
  EXPECT_THAT(nulled.status().message(), HasSubstr("primary key column NULL"));
  // A trigger that deletes the row its op writes.
  auto doomed = Write({Insert("doomed", {{"id", I(1)}})});
  EXPECT_EQ(doomed.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(doomed.status().message(), HasSubstr("deleted the row the operation wrote"));
  // A cascade into a table whose record positions SQLite may report differently.
  auto twice = Write({Delete("parents", {{"id", I(3)}})});
  EXPECT_EQ(twice.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(twice.status().message(), HasSubstr("table 'twice'"));
  // Nothing of any of them was written.
  EXPECT_EQ(LastSeq(), before);
  EXPECT_EQ(Count("SELECT count(*) FROM parents"), 3);
  EXPECT_EQ(Count("SELECT count(*) FROM lines WHERE parent_id = 1"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM _dg_tombstones"), 0);
}

}  // namespace
}  // namespace datagate::store
