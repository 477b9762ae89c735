// The names of CHECK constraints come from the schema's own SQL, so that a
// refused write can name its constraint without quoting its expression.
#include "store/sqlite/catalog.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datagate::store::sqlite {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(CheckConstraintNames, FindsNamedConstraintsOnly) {
  EXPECT_THAT(CheckConstraintNames("CREATE TABLE t (a INTEGER CHECK (a > 0), b TEXT)"), IsEmpty());
  EXPECT_THAT(CheckConstraintNames("CREATE TABLE t (a INTEGER CONSTRAINT positive CHECK (a > 0),"
                                   " b INT, constraint \"b in range\" check (b BETWEEN 1 AND 5),"
                                   " CONSTRAINT [odd] CHECK (a % 2 = 1), CONSTRAINT `x``y` CHECK (1))"),
              ElementsAre("positive", "b in range", "odd", "x`y"));
}

TEST(CheckConstraintNames, IgnoresCommentsStringsAndOtherConstraints) {
  EXPECT_THAT(CheckConstraintNames("CREATE TABLE t (\n"
                                   "  a TEXT DEFAULT 'CONSTRAINT fake CHECK (1)', -- CONSTRAINT c1 CHECK\n"
                                   "  /* CONSTRAINT c2 CHECK (1) */ b INT CONSTRAINT u UNIQUE,\n"
                                   "  CONSTRAINT pk PRIMARY KEY (a),\n"
                                   "  CONSTRAINT real_one CHECK (b <> 0))"),
              ElementsAre("real_one"));
}

}  // namespace
}  // namespace datagate::store::sqlite
