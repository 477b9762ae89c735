// Checking requests against a catalog: names exist, values are coerced to
// their columns' types, keys are complete, required columns are given.
// Internal to core; every function is pure (no store access).
#ifndef DATAGATE_CORE_VALIDATE_H_
#define DATAGATE_CORE_VALIDATE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/data.h"
#include "store/store.h"

namespace datagate::core {

// The table named `name`. INVALID_ARGUMENT if empty or unknown.
absl::StatusOr<const store::Table*> FindTable(const store::Catalog& catalog, absl::string_view name);
// The column named `name` of `t`. INVALID_ARGUMENT if unknown.
absl::StatusOr<const store::Column*> FindColumn(const store::Table& t, absl::string_view name);

// `fields` with known columns, coerced, in the table's column order.
absl::StatusOr<std::vector<Field>> Normalize(const store::Table& t, const std::vector<Field>& fields);

// The key fields of `fields` in key order; every key column must be there
// and non-null. With `only_key`, other columns are refused (`field` names
// the request field in the message).
absl::StatusOr<std::vector<Field>> ExtractKey(const store::Table& t, const std::vector<Field>& fields, bool only_key,
                                              absl::string_view field);

// One write, checked against `catalog`.
absl::StatusOr<store::WriteOp> PlanWrite(const store::Catalog& catalog, const WriteSpec& spec);

// Filter number `index`, checked against table `t`.
absl::StatusOr<store::Condition> PlanFilter(const store::Table& t, const FilterSpec& f, int index);

}  // namespace datagate::core

#endif  // DATAGATE_CORE_VALIDATE_H_
