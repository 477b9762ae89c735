// The test harness's own PostgreSQL and PgBouncer: they start, serve, stop
// and start again, as the cloud store's tests rely on.
#include <pqxx/pqxx>

#include "gtest/gtest.h"
#include "pg_server.h"

namespace datagate::testing {
namespace {

int64_t SelectOne(const std::string& conninfo) {
  pqxx::connection c(conninfo);
  pqxx::work tx(c);
  return tx.exec1("SELECT 1")[0].as<int64_t>();
}

TEST(PgServerTest, ServesStopsAndStartsAgainOnTheSamePort) {
  PgServer& server = PgServer::Shared();
  auto conninfo = server.CreateDatabase("harness");
  ASSERT_TRUE(conninfo.ok()) << conninfo.status();
  EXPECT_EQ(SelectOne(*conninfo), 1);
  const int port = server.port();
  ASSERT_TRUE(server.Stop().ok());
  EXPECT_THROW(SelectOne(*conninfo), pqxx::broken_connection);
  ASSERT_TRUE(server.Start().ok());
  EXPECT_EQ(server.port(), port);
  EXPECT_EQ(SelectOne(*conninfo), 1);
}

TEST(PgServerTest, BouncerPoolsTransactions) {
  PgServer& server = PgServer::Shared();
  ASSERT_TRUE(server.CreateDatabase("bounced").ok());
  auto bouncer = PgBouncer::Start("bounced", 2);
  ASSERT_TRUE(bouncer.ok()) << bouncer.status();
  EXPECT_EQ(SelectOne((*bouncer)->ConnectionString()), 1);
}

}  // namespace
}  // namespace datagate::testing
