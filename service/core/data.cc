#include "core/data.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/hash.h"
#include "common/page_token.h"
#include "common/reply_size.h"
#include "common/status_macros.h"
#include "core/validate.h"

namespace datagate::core {
namespace {

using store::Column;
using store::Table;

// Identifies the query's table, filters and order, for page tokens.
uint64_t QueryFingerprint(const store::Query& q, const std::string& scope) {
  std::string s = scope.empty() ? q.table : absl::StrCat(scope, "/", q.table);
  for (const store::Condition& c : q.conditions) {
    absl::StrAppend(&s, "|", c.column, ":", static_cast<int>(c.op), ":");
    for (const Value& v : c.values) EncodeValue(v, &s);
  }
  for (const store::Order& o : q.order) absl::StrAppend(&s, "|", o.column, o.descending ? "-" : "+");
  return Fnv1a64(s);
}

absl::StatusOr<store::RowRead> PlanRead(const store::Catalog& catalog, const GetSpec& spec) {
  ASSIGN_OR_RETURN(const Table* t, FindTable(catalog, spec.table));
  ASSIGN_OR_RETURN(std::vector<Field> fields, Normalize(*t, spec.key));
  store::RowRead read;
  read.table = t->name;
  ASSIGN_OR_RETURN(read.key, ExtractKey(*t, fields, /*only_key=*/true, "key"));
  for (const std::string& c : spec.columns) RETURN_IF_ERROR(FindColumn(*t, c).status());
  read.columns = spec.columns;
  return read;
}

// The page token's size for `cursor`: inline up to kMaxInlinePageTokenSize,
// else a stored cursor's token.
int64_t TokenSize(const std::vector<Value>& cursor) {
  const int64_t inline_size = PageTokenSize(cursor);
  return inline_size > kMaxInlinePageTokenSize ? kStoredPageTokenSize : inline_size;
}

// Reads the page token of `spec` into `token`, loading a stored cursor from
// `db` (a read). Returns the store's errors; the token's own
// INVALID_ARGUMENT goes into `token`, for the planner to report after the
// names it checks.
absl::Status ReadToken(store::Database& db, const ListSpec& spec, absl::StatusOr<PageToken>* token) {
  *token = ParsePageToken(spec.page_token);
  if (!token->ok() || !(*token)->stored) return absl::OkStatus();
  const StoredCursorRef ref = *std::move((*token)->stored);
  ASSIGN_OR_RETURN(std::optional<store::SavedCursor> saved, db.LoadCursor(ref.id, spec.deadline));
  // A wrong secret tells the caller no more than a missing cursor does.
  if (!saved || !SameSecret(saved->secret, ref.secret)) {
    *token = errors::PageTokenExpired();
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<Value>> cursor = DecodeCursor(saved->data, (*token)->fingerprint);
  if (!cursor.ok()) {
    *token = cursor.status();
    return absl::OkStatus();
  }
  (*token)->cursor = *std::move(cursor);
  (*token)->stored.reset();
  return absl::OkStatus();
}

// The next page's token for `cursor`: inline when it is small and fits
// beside the page, else a reference to a copy saved in `db` (a write).
absl::StatusOr<std::string> NextToken(store::Database& db, uint64_t fingerprint, const std::vector<Value>& cursor,
                                      int64_t room, absl::Time deadline) {
  const int64_t inline_size = PageTokenSize(cursor);
  if (inline_size <= kMaxInlinePageTokenSize && FieldBytes(inline_size) <= room) {
    return EncodePageToken(fingerprint, cursor);
  }
  StoredCursorRef ref;
  ref.secret = NewCursorSecret();
  ASSIGN_OR_RETURN(ref.id, db.SaveCursor(store::SavedCursor{ref.secret, EncodeCursor(fingerprint, cursor)}, deadline));
  return EncodeStoredPageToken(fingerprint, ref);
}

// The query for `spec` against `catalog`, without its size budget. `token`
// is the page token read beforehand (ignored when spec has none).
absl::StatusOr<store::Query> PlanQuery(const store::Catalog& catalog, const ListSpec& spec,
                                       const absl::StatusOr<PageToken>& token) {
  ASSIGN_OR_RETURN(const Table* t, FindTable(catalog, spec.table));
  if (spec.page_size < 0) return errors::InvalidField("page_size", "must not be negative");
  if (spec.page_size > kMaxPageSize) return errors::TooLarge("page_size", spec.page_size, kMaxPageSize);
  store::Query q;
  q.table = t->name;
  q.limit = spec.page_size == 0 ? kDefaultPageSize : spec.page_size;
  q.count_total = spec.include_total;
  if (spec.filters.size() > kMaxFilters) return errors::TooLarge("filters", spec.filters.size(), kMaxFilters);
  for (size_t i = 0; i < spec.filters.size(); ++i) {
    ASSIGN_OR_RETURN(store::Condition c, PlanFilter(*t, spec.filters[i], static_cast<int>(i)));
    q.conditions.push_back(std::move(c));
  }
  if (spec.order.size() > kMaxOrderTerms) return errors::TooLarge("order_by", spec.order.size(), kMaxOrderTerms);
  std::set<std::string, std::less<>> ordered;
  for (const store::Order& o : spec.order) {
    ASSIGN_OR_RETURN(const Column* c, FindColumn(*t, o.column));
    if (!ordered.insert(c->name).second) return errors::OrderColumnRepeated(c->name);
    q.order.push_back(store::Order{c->name, o.descending});
  }
  for (size_t index : t->primary_key) {  // tie-breaker: a total order
    if (ordered.insert(t->columns[index].name).second) q.order.push_back(store::Order{t->columns[index].name, false});
  }
  std::set<std::string, std::less<>> projected;
  for (const std::string& c : spec.columns) {
    ASSIGN_OR_RETURN(const Column* col, FindColumn(*t, c));
    if (projected.insert(col->name).second) q.columns.push_back(col->name);
  }
  if (!spec.page_token.empty()) {
    RETURN_IF_ERROR(token.status());
    if (token->fingerprint != QueryFingerprint(q, spec.token_scope)) {
      return errors::MalformedPageToken("it was made for a different table, filter, order or read source");
    }
    if (token->cursor.size() != q.order.size()) return errors::MalformedPageToken("it does not fit this query");
    q.after = token->cursor;
  }
  return q;
}

// Bytes a row takes as an element of a reply's repeated field.
int64_t ListedRowBytes(const StoredRow& row) { return FieldBytes(RowReplyBytes(row)); }

// A ListRowsResponse holds the rows, then maybe a token and a total.
constexpr int64_t kListFixedBytes = 1 + 10 + 16;

}  // namespace

absl::Status ValidateRequestId(absl::string_view id) {
  if (id.size() > kMaxRequestIdLength) {
    return errors::TooLong("request_id", static_cast<int64_t>(id.size()), kMaxRequestIdLength);
  }
  return absl::OkStatus();
}

absl::StatusOr<StoredRow> GetRow(store::Database& db, const GetSpec& spec, const Limits& limits) {
  std::string table;
  std::string key;
  ASSIGN_OR_RETURN(std::optional<StoredRow> row, db.Get(
                                                     [&](const store::Catalog& catalog) {
                                                       absl::StatusOr<store::RowRead> read = PlanRead(catalog, spec);
                                                       if (read.ok()) {
                                                         table = read->table;
                                                         key = DescribeFields(read->key);
                                                       }
                                                       return read;
                                                     },
                                                     spec.deadline));
  if (!row) return errors::RowNotFound(table, key);
  if (const int64_t bytes = RowReplyBytes(*row); bytes > limits.max_reply_bytes) {
    return errors::RowTooLargeToRead(row->table, bytes, limits.max_reply_bytes);
  }
  return *std::move(row);
}

absl::StatusOr<ListPage> ListRows(store::Database& db, const ListSpec& spec, const Limits& limits) {
  absl::StatusOr<PageToken> token = PageToken{};
  if (!spec.page_token.empty()) RETURN_IF_ERROR(ReadToken(db, spec, &token));
  uint64_t fingerprint = 0;
  ASSIGN_OR_RETURN(store::QueryResult result, db.List(
                                                  [&](const store::Catalog& catalog) -> absl::StatusOr<store::Query> {
                                                    ASSIGN_OR_RETURN(store::Query q, PlanQuery(catalog, spec, token));
                                                    fingerprint = QueryFingerprint(q, spec.token_scope);
                                                    q.max_bytes = limits.max_reply_bytes - kListFixedBytes;
                                                    q.row_bytes = ListedRowBytes;
                                                    q.cursor_bytes = [](const std::vector<Value>& cursor) {
                                                      return FieldBytes(TokenSize(cursor));
                                                    };
                                                    return q;
                                                  },
                                                  spec.deadline));
  int64_t rows_bytes = kListFixedBytes;
  for (const StoredRow& row : result.rows) rows_bytes += ListedRowBytes(row);
  // A page of one row may be over budget (the first row always joins): a
  // row stored before the limits. Checked with the shortest token it could
  // have, before any cursor is saved.
  if (result.rows.size() == 1) {
    const int64_t token_bytes =
        result.more ? FieldBytes(std::min(PageTokenSize(result.last_cursor), kStoredPageTokenSize)) : 0;
    if (rows_bytes + token_bytes > limits.max_reply_bytes) {
      return errors::RowTooLargeToRead(result.rows[0].table, rows_bytes + token_bytes, limits.max_reply_bytes);
    }
  }
  ListPage page;
  page.total = result.total < 0 ? 0 : result.total;
  if (result.more) {
    ASSIGN_OR_RETURN(page.next_page_token, NextToken(db, fingerprint, result.last_cursor,
                                                     limits.max_reply_bytes - rows_bytes, spec.deadline));
  }
  page.rows = std::move(result.rows);
  return page;
}

absl::StatusOr<std::vector<StoredRow>> Write(store::Database& db, const WriteRequest& request, const Limits& limits) {
  RETURN_IF_ERROR(ValidateRequestId(request.request_id));
  const std::vector<WriteSpec>& specs = request.specs;
  if (specs.empty()) return errors::InvalidField("operations", "is empty: give at least one");
  if (specs.size() > kMaxBatchOperations) return errors::TooLarge("operations", specs.size(), kMaxBatchOperations);
  store::WriteOptions options;
  options.request_id = request.request_id;
  options.fingerprint = request.fingerprint;
  options.deadline = request.deadline;
  options.enqueue = request.enqueue;
  options.enqueued = request.enqueued;
  // Checked before the commit, so a write the answer could not carry is
  // refused instead of committed and then answered with an error.
  int64_t reply_bytes = 0;
  options.check_row = [&](size_t index, const StoredRow& row) -> absl::Status {
    if (index == 0) reply_bytes = 0;  // a fresh attempt
    const int64_t bytes = RowReplyBytes(row);
    if (bytes > limits.max_row_bytes) return errors::RowTooLarge(row.table, bytes, limits.max_row_bytes);
    reply_bytes += FieldBytes(FieldBytes(bytes));  // a BatchWriteResponse's WriteResult
    if (reply_bytes > limits.max_reply_bytes) return errors::ReplyTooLarge(reply_bytes, limits.max_reply_bytes);
    return absl::OkStatus();
  };
  return db.Write(
      [&](const store::Catalog& catalog) -> absl::StatusOr<std::vector<store::WriteOp>> {
        std::vector<store::WriteOp> ops;
        ops.reserve(specs.size());
        for (size_t i = 0; i < specs.size(); ++i) {
          absl::StatusOr<store::WriteOp> op = PlanWrite(catalog, specs[i]);
          if (!op.ok()) return specs.size() == 1 ? op.status() : errors::InOperation(i, op.status());
          ops.push_back(*std::move(op));
        }
        return ops;
      },
      options);
}

}  // namespace datagate::core
