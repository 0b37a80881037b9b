// Two `nimbus serve` processes on one PostgreSQL database: IP rules and rate-limit overrides
// changed through the admin API apply on both without a restart. The admin API runs in this
// process against the same database (no principal holds the gateway permissions over HTTP yet);
// it is the same handler a node serves, so the change takes the path a real one takes.
#include <thread>

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include "core/clock.hpp"
#include "gateway/gateway.hpp"
#include "process.hpp"
#include "test_client.hpp"
#include "test_database.hpp"

namespace nimbus::test {
namespace {

const std::string kNimbus = NIMBUS_BINARY;
/// Generous: the nodes poll every 100 ms; this only bounds a failing test.
constexpr auto kConvergeTimeout = std::chrono::seconds(20);
constexpr auto kRetryPause = std::chrono::milliseconds(50);

/// The admin API of the gateway, served in this process on the nodes' database.
class AdminApi {
public:
    explicit AdminApi(db::Database& database)
        : ip_rules_(database, gateway::IpRulesSettings{}, nullptr) {
        auto limiter = gateway::make_rate_limiter({}, database, clock_, nullptr);
        if (!limiter) throw std::runtime_error(limiter.error().message);
        ip_rules_.add_routes(router_, clock_);
        gateway::add_rate_limit_routes(router_, *limiter, database, clock_);
        pipeline_ = http::default_pipeline({.access_log = false}, nullptr);
    }

    http::Response call(http::Method method, const std::string& path, std::string body = {}) {
        http::Request request;
        request.method = method;
        request.target = path;
        request.path = path;
        if (!body.empty()) request.headers.push_back({"content-type", "application/json"});
        request.body = std::move(body);
        http::Match match = router_.match(method, path);
        http::RequestContext context;
        context.principal = http::Principal{.id = "usr_operator", .permissions = {"*"}};
        context.path_params = match.path_params;
        if (match.route != nullptr) {
            context.route = match.route->path_template;
            context.matched_permission = match.route->options.permission;
        }
        boost::asio::io_context io;
        http::Response response;
        boost::asio::co_spawn(
            io, pipeline_->run(request, context, match.route, nullptr),
            [&](std::exception_ptr, http::Response answer) { response = std::move(answer); });
        io.run();
        return response;
    }

private:
    SystemClock clock_;
    gateway::IpRules ip_rules_;
    http::Router router_;
    std::unique_ptr<http::Pipeline> pipeline_;
};

/// Asks `port` for the system info until `accept` holds for the answer or the time is up.
template <class Predicate>
HttpResponse wait_for(std::uint16_t port, Predicate accept) {
    auto deadline = std::chrono::steady_clock::now() + kConvergeTimeout;
    while (true) {
        Connection connection(port);
        HttpResponse response = connection.request("GET", "/api/v1/system/info");
        if (accept(response) || std::chrono::steady_clock::now() > deadline) return response;
        std::this_thread::sleep_for(kRetryPause);
    }
}

class ClusterTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (!db::testing::postgres_admin_url()) GTEST_SKIP() << "no PostgreSQL test cluster";
        auto created = db::testing::TestDatabase::create(db::Backend::postgres);
        ASSERT_TRUE(created) << created.error().message;
        database_ = std::move(*created);
        Environment environment = {{"NIMBUS_HTTP_THREADS", "2"},
                                   {"NIMBUS_CONSOLE_DIR", "/nonexistent/nimbus-console"},
                                   {"NIMBUS_HTTP_ACCESS_LOG", "false"},
                                   {"NIMBUS_FIREWALL_ENABLED", "false"},
                                   {"NIMBUS_DATABASE_URL", database_->options().url},
                                   {"NIMBUS_GATEWAY_SYNC_INTERVAL_MS", "100"}};
        node_a_ = std::make_unique<BackgroundProcess>(kNimbus, serve_args(dir_ / "a"), environment);
        port_a_ = ready_port(*node_a_);
        ASSERT_NE(port_a_, 0);
        // The second node starts once the first has applied the migrations: both would wait on
        // the advisory lock anyway, this keeps the start quick.
        // Node b sits behind a proxy on 127.0.0.1 and believes its X-Forwarded-For; node a
        // believes no one.
        environment["NIMBUS_FIREWALL_TRUSTED_PROXIES"] = "127.0.0.1/32";
        // One installation, one master key: the second node uses the one the first created.
        environment["NIMBUS_MASTER_KEY_FILE"] = (dir_ / "a" / "master.key").string();
        node_b_ = std::make_unique<BackgroundProcess>(kNimbus, serve_args(dir_ / "b"), environment);
        port_b_ = ready_port(*node_b_);
        ASSERT_NE(port_b_, 0);
        admin_ = std::make_unique<AdminApi>(database_->db());
    }

    TempDir dir_;
    std::unique_ptr<db::testing::TestDatabase> database_;
    std::unique_ptr<BackgroundProcess> node_a_;
    std::unique_ptr<BackgroundProcess> node_b_;
    std::uint16_t port_a_ = 0;
    std::uint16_t port_b_ = 0;
    std::unique_ptr<AdminApi> admin_;
};

TEST_F(ClusterTest, IpRulesChangedOnceApplyOnEveryNodeWithoutARestart) {
    for (std::uint16_t port : {port_a_, port_b_}) {
        EXPECT_EQ(wait_for(port, [](const HttpResponse&) { return true; }).status, 200);
    }
    // The test's own address: both nodes must start refusing it.
    http::Response added = admin_->call(http::Method::post, "/api/v1/admin/firewall/ip-rules",
                                        R"({"kind":"cidr","action":"deny","value":"127.0.0.1",)"
                                        R"("note":"cluster test"})");
    ASSERT_EQ(added.status, 201) << added.body;
    for (std::uint16_t port : {port_a_, port_b_}) {
        HttpResponse refused =
            wait_for(port, [](const HttpResponse& response) { return response.status == 403; });
        EXPECT_EQ(refused.status, 403) << "port " << port << ": " << refused.body;
        EXPECT_NE(refused.body.find("/problems/ip-denied"), std::string::npos) << refused.body;
    }
    std::string id(boost::json::parse(added.body).as_object().at("id").as_string());
    ASSERT_EQ(admin_->call(http::Method::delete_, "/api/v1/admin/firewall/ip-rules/" + id).status,
              204);
    for (std::uint16_t port : {port_a_, port_b_}) {
        HttpResponse admitted =
            wait_for(port, [](const HttpResponse& response) { return response.status == 200; });
        EXPECT_EQ(admitted.status, 200) << "port " << port << ": " << admitted.body;
    }
    EXPECT_NE(node_b_->err().find("IP rules reloaded after a change on another node"),
              std::string::npos);
}

TEST_F(ClusterTest, ForwardedForCountsOnlyFromTrustedProxies) {
    ASSERT_EQ(admin_
                  ->call(http::Method::post, "/api/v1/admin/firewall/ip-rules",
                         R"({"kind":"cidr","action":"deny","value":"203.0.113.0/24"})")
                  .status,
              201);
    auto from_denied_network = [](std::uint16_t port) {
        Connection connection(port);
        return connection.request("GET", "/api/v1/system/info",
                                  {{"x-forwarded-for", "203.0.113.9"}});
    };
    // Node b (trusting 127.0.0.1) refuses the forwarded client once the rule arrives.
    auto deadline = std::chrono::steady_clock::now() + kConvergeTimeout;
    while (from_denied_network(port_b_).status != 403 &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(kRetryPause);
    }
    EXPECT_EQ(from_denied_network(port_b_).status, 403);
    // Node a has the rule too, but the header comes from an untrusted peer: spoofed, ignored.
    EXPECT_EQ(from_denied_network(port_a_).status, 200);
    EXPECT_EQ(wait_for(port_b_, [](const HttpResponse&) { return true; }).status, 200)
        << "without the header the client is the proxy itself";
}

TEST_F(ClusterTest, RateLimitOverridesReachEveryNode) {
    const std::string path = "/api/v1/admin/rate-limits/overrides/ip:127.0.0.1";
    ASSERT_EQ(
        admin_->call(http::Method::put, path, R"({"requests_per_minute":600,"burst":7})").status,
        200);
    for (std::uint16_t port : {port_a_, port_b_}) {
        HttpResponse limited = wait_for(port, [](const HttpResponse& response) {
            return response.header("ratelimit-limit") == "7";
        });
        EXPECT_EQ(limited.header("ratelimit-limit"), "7") << "port " << port;
    }
    ASSERT_EQ(admin_->call(http::Method::delete_, path).status, 204);
    for (std::uint16_t port : {port_a_, port_b_}) {
        HttpResponse restored = wait_for(port, [](const HttpResponse& response) {
            return response.header("ratelimit-limit") != "7";
        });
        EXPECT_EQ(restored.header("ratelimit-limit"), "300") << "the anonymous default again";
    }
}

}  // namespace
}  // namespace nimbus::test
