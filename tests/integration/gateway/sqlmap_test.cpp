// Debian's sqlmap against a route that filters rows by a query parameter in SQL: the dev
// mailbox (GET /api/v1/dev/mailbox?to=...&limit=..., loopback clients only). The firewall and
// the rate limits are off, so what is tested is the query itself: sqlmap must find no
// injection. Labelled `sqlmap` (ctest -L sqlmap).
#include <gtest/gtest.h>

#include "process.hpp"
#include "test_client.hpp"

namespace nimbus::test {
namespace {

const std::string kNimbus = NIMBUS_BINARY;
const std::string kSqlmap = NIMBUS_SQLMAP;
/// sqlmap at level 1, risk 1 without the time-based techniques takes well under a minute here;
/// the limit only stops a hung run.
constexpr auto kSqlmapTimeout = std::chrono::minutes(4);

TEST(Sqlmap, FindsNoInjectionInTheMailboxFilter) {
    TempDir dir;
    BackgroundProcess node(kNimbus, serve_args(dir / "data"),
                           {{"NIMBUS_HTTP_THREADS", "2"},
                            {"NIMBUS_CONSOLE_DIR", "/nonexistent/nimbus-console"},
                            {"NIMBUS_HTTP_ACCESS_LOG", "false"},
                            {"NIMBUS_FIREWALL_ENABLED", "false"},
                            {"NIMBUS_RATE_LIMIT_ENABLED", "false"},
                            {"NIMBUS_MAIL_DEV_MAILBOX", "true"}});
    std::uint16_t port = ready_port(node);
    ASSERT_NE(port, 0);
    std::string url = "http://127.0.0.1:" + std::to_string(port) +
                      "/api/v1/dev/mailbox?to=ada%40example.com&limit=10";
    {
        Connection connection(port);
        ASSERT_EQ(connection.request("GET", "/api/v1/dev/mailbox?to=ada%40example.com").status,
                  200);
    }
    Finished run =
        run_process(kSqlmap,
                    {"-u", url, "-p", "to,limit", "--batch", "--level", "1", "--risk", "1",
                     "--technique", "BEUQ", "--output-dir", (dir / "sqlmap").string(),
                     "--disable-coloring", "--flush-session", "--threads", "2"},
                    {{"HOME", dir.path().string()}}, kSqlmapTimeout);
    std::string output = run.out + run.err;
    // It ran its tests against both parameters ...
    EXPECT_NE(output.find("testing 'AND boolean-based blind"), std::string::npos) << output;
    EXPECT_NE(output.find("parameter 'to'"), std::string::npos) << output;
    // ... and found nothing.
    EXPECT_NE(output.find("all tested parameters do not appear to be injectable"),
              std::string::npos)
        << output;
    EXPECT_EQ(output.find("is vulnerable"), std::string::npos) << output;
    EXPECT_EQ(output.find("sqlmap identified the following injection point"), std::string::npos)
        << output;
    // The server stayed healthy throughout.
    Connection connection(port);
    EXPECT_EQ(connection.request("GET", "/healthz").status, 200);
}

}  // namespace
}  // namespace nimbus::test
