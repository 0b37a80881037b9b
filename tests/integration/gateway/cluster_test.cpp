// Two `nimbus serve` processes on one PostgreSQL database: IP rules and rate-limit overrides
// changed through the admin API apply on both without a restart. The changes are made over HTTP
// by a real operator: an account signed up on a node, verified through its dev mailbox, made an
// operator with `nimbus operators add` on the shared database, and signed in.
#include <thread>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "process.hpp"
#include "test_client.hpp"
#include "test_database.hpp"

namespace nimbus::test {
namespace {

const std::string kNimbus = NIMBUS_BINARY;
/// Generous: the nodes poll every 100 ms; this only bounds a failing test.
constexpr auto kConvergeTimeout = std::chrono::seconds(20);
constexpr auto kRetryPause = std::chrono::milliseconds(50);
constexpr std::string_view kOperatorEmail = "ops@example.com";
constexpr std::string_view kPassword = "correct-Horse-battery-9";

boost::json::object parse_object(const std::string& body) {
    boost::system::error_code ec;
    auto value = boost::json::parse(body, ec);
    if (ec || !value.is_object()) return {};
    return value.as_object();
}

/// An operator calling the nodes' admin API over HTTP.
class Operator {
public:
    /// Signs up on `port`, verifies the address with the link in the dev mailbox, becomes an
    /// operator through the CLI (with `environment`, so on the same database) and signs in.
    Operator(std::uint16_t port, Environment environment, const std::filesystem::path& cli_dir) {
        std::string credentials = boost::json::serialize(
            boost::json::object{{"email", kOperatorEmail}, {"password", kPassword}});
        auto signed_up = call(port, "POST", "/api/v1/auth/signup", credentials);
        if (signed_up.status != 202) throw std::runtime_error("signup: " + signed_up.body);
        std::string token = verification_token(port);
        auto verified = call(port, "POST", "/api/v1/auth/verify-email",
                             boost::json::serialize(boost::json::object{{"token", token}}));
        if (verified.status != 204) throw std::runtime_error("verify: " + verified.body);
        Finished made = run_process(
            kNimbus,
            {"operators", "add", std::string(kOperatorEmail), "--data-dir", cli_dir.string()},
            environment);
        if (made.exit_status != 0) throw std::runtime_error("operators add: " + made.err);
        auto login = call(port, "POST", "/api/v1/auth/login", credentials);
        if (login.status != 200) throw std::runtime_error("login: " + login.body);
        access_token_ = std::string(parse_object(login.body)["access_token"].as_string());
        id_ = std::string(parse_object(call(port, "GET", "/api/v1/me").body)["id"].as_string());
    }

    /// One request with the operator's token; `forwarded_for` sets X-Forwarded-For.
    HttpResponse call(std::uint16_t port, std::string_view method, std::string_view target,
                      std::string_view body = {}, const std::string& forwarded_for = {}) const {
        std::vector<std::pair<std::string, std::string>> headers;
        if (!body.empty()) headers.emplace_back("content-type", "application/json");
        if (!access_token_.empty())
            headers.emplace_back("authorization", "Bearer " + access_token_);
        if (!forwarded_for.empty()) headers.emplace_back("x-forwarded-for", forwarded_for);
        Connection connection(port);
        return connection.request(method, target, headers, body);
    }

    const std::string& id() const { return id_; }

private:
    /// The token of the verification link mailed to the operator (the mail may lag the answer).
    std::string verification_token(std::uint16_t port) const {
        auto deadline = std::chrono::steady_clock::now() + kConvergeTimeout;
        const std::string marker = "verify-email?token=";
        while (std::chrono::steady_clock::now() < deadline) {
            auto mailbox =
                parse_object(call(port, "GET", "/api/v1/dev/mailbox?to=ops%40example.com").body);
            const boost::json::array* messages = mailbox["data"].if_array();
            for (const auto& message : messages != nullptr ? *messages : boost::json::array()) {
                std::string text(message.at("text").as_string());
                std::size_t at = text.find(marker);
                if (at == std::string::npos) continue;
                std::size_t begin = at + marker.size();
                std::size_t end = begin;
                while (end < text.size() && (std::isalnum(static_cast<unsigned char>(text[end])) ||
                                             text[end] == '_' || text[end] == '-')) {
                    ++end;
                }
                return text.substr(begin, end - begin);
            }
            std::this_thread::sleep_for(kRetryPause);
        }
        throw std::runtime_error("no verification mail");
    }

    std::string access_token_;
    std::string id_;
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
                                   {"NIMBUS_GATEWAY_SYNC_INTERVAL_MS", "100"},
                                   {"NIMBUS_MAIL_DEV_MAILBOX", "true"}};
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
        operator_ = std::make_unique<Operator>(port_a_, environment, dir_ / "cli");
    }

    TempDir dir_;
    std::unique_ptr<db::testing::TestDatabase> database_;
    std::unique_ptr<BackgroundProcess> node_a_;
    std::unique_ptr<BackgroundProcess> node_b_;
    std::uint16_t port_a_ = 0;
    std::uint16_t port_b_ = 0;
    std::unique_ptr<Operator> operator_;
};

TEST_F(ClusterTest, IpRulesChangedOnceApplyOnEveryNodeWithoutARestart) {
    for (std::uint16_t port : {port_a_, port_b_}) {
        EXPECT_EQ(wait_for(port, [](const HttpResponse&) { return true; }).status, 200);
    }
    // The test's own address: both nodes must start refusing it.
    HttpResponse added = operator_->call(port_a_, "POST", "/api/v1/admin/firewall/ip-rules",
                                         R"({"kind":"cidr","action":"deny","value":"127.0.0.1",)"
                                         R"("note":"cluster test"})");
    ASSERT_EQ(added.status, 201) << added.body;
    for (std::uint16_t port : {port_a_, port_b_}) {
        HttpResponse refused =
            wait_for(port, [](const HttpResponse& response) { return response.status == 403; });
        EXPECT_EQ(refused.status, 403) << "port " << port << ": " << refused.body;
        EXPECT_NE(refused.body.find("/problems/ip-denied"), std::string::npos) << refused.body;
    }
    std::string id(parse_object(added.body)["id"].as_string());
    // The operator is refused too now, except through node b, which believes its proxy
    // (127.0.0.1) that the client is elsewhere.
    ASSERT_EQ(
        operator_
            ->call(port_b_, "DELETE", "/api/v1/admin/firewall/ip-rules/" + id, {}, "192.0.2.10")
            .status,
        204);
    for (std::uint16_t port : {port_a_, port_b_}) {
        HttpResponse admitted =
            wait_for(port, [](const HttpResponse& response) { return response.status == 200; });
        EXPECT_EQ(admitted.status, 200) << "port " << port << ": " << admitted.body;
    }
    // Log lines reach stderr in batches (at most a second late): wait for them.
    EXPECT_TRUE(node_b_->wait_for_output("IP rules reloaded after a change on another node",
                                         kConvergeTimeout));
    EXPECT_TRUE(node_a_->wait_for_output("IP rules reloaded after a change on another node",
                                         kConvergeTimeout));

    // Both changes are in the audit log, with the operator and the address each came from.
    auto entries = [&](const std::string& action) {
        auto page = operator_->call(port_a_, "GET",
                                    "/api/v1/admin/audit?action=" + action + "&target=" + id);
        EXPECT_EQ(page.status, 200) << page.body;
        auto body = parse_object(page.body);
        const boost::json::array* data = body["data"].if_array();
        return data != nullptr ? *data : boost::json::array();
    };
    auto deadline = std::chrono::steady_clock::now() + kConvergeTimeout;
    while (entries("nimbus.gateway.ip_rule.deleted").empty() &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(kRetryPause);
    }
    auto created = entries("nimbus.gateway.ip_rule.created");
    auto deleted = entries("nimbus.gateway.ip_rule.deleted");
    ASSERT_EQ(created.size(), 1U);
    ASSERT_EQ(deleted.size(), 1U);
    EXPECT_EQ(created[0].at("actor_id"), boost::json::value(operator_->id()));
    EXPECT_EQ(created[0].at("ip"), boost::json::value("127.0.0.1"));
    EXPECT_EQ(deleted[0].at("actor_id"), boost::json::value(operator_->id()));
    EXPECT_EQ(deleted[0].at("ip"), boost::json::value("192.0.2.10"));
}

TEST_F(ClusterTest, ForwardedForCountsOnlyFromTrustedProxies) {
    ASSERT_EQ(operator_
                  ->call(port_a_, "POST", "/api/v1/admin/firewall/ip-rules",
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
        operator_->call(port_b_, "PUT", path, R"({"requests_per_minute":600,"burst":7})").status,
        200);
    for (std::uint16_t port : {port_a_, port_b_}) {
        HttpResponse limited = wait_for(port, [](const HttpResponse& response) {
            return response.header("ratelimit-limit") == "7";
        });
        EXPECT_EQ(limited.header("ratelimit-limit"), "7") << "port " << port;
    }
    ASSERT_EQ(operator_->call(port_a_, "DELETE", path).status, 204);
    for (std::uint16_t port : {port_a_, port_b_}) {
        HttpResponse restored = wait_for(port, [](const HttpResponse& response) {
            return response.header("ratelimit-limit") != "7";
        });
        EXPECT_EQ(restored.header("ratelimit-limit"), "300") << "the anonymous default again";
    }
}

}  // namespace
}  // namespace nimbus::test
