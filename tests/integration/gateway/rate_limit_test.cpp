// Rate limits on the real binary: 429 with the standard headers, probes never limited, bad
// configuration, and two nodes sharing one budget through a Redis the test starts itself.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

#include "process.hpp"
#include "test_client.hpp"

namespace nimbus::test {
namespace {

namespace fs = std::filesystem;

const std::string kNimbus = NIMBUS_BINARY;
const std::string kRedisServer = NIMBUS_REDIS_SERVER;
constexpr int kExitUsage = 2;
constexpr auto kRedisStartTimeout = std::chrono::seconds(10);
constexpr auto kPollInterval = std::chrono::milliseconds(20);

/// Few threads (the machine is shared), no console build, a small anonymous budget.
Environment node_environment(int anonymous_per_minute) {
    return {
        {"NIMBUS_HTTP_THREADS", "2"},
        {"NIMBUS_CONSOLE_DIR", "/nonexistent/nimbus-console"},
        {"NIMBUS_HTTP_ACCESS_LOG", "false"},
        {"NIMBUS_RATE_LIMIT_ANONYMOUS_REQUESTS_PER_MINUTE", std::to_string(anonymous_per_minute)}};
}

HttpResponse get(std::uint16_t port, const std::string& target) {
    Connection connection(port);
    return connection.request("GET", target);
}

/// A port nothing listens on right now (the kernel's pick for an ephemeral bind).
std::uint16_t free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) throw std::runtime_error("socket failed");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        ::close(fd);
        throw std::runtime_error("bind failed");
    }
    ::close(fd);
    return ntohs(address.sin_port);
}

/// A throwaway Redis on 127.0.0.1 without persistence; killed and reaped when destroyed.
class TestRedis {
public:
    TestRedis()
        : port_(free_port()),
          process_(kRedisServer, {"--port", std::to_string(port_), "--bind", "127.0.0.1", "--save",
                                  "", "--appendonly", "no"}) {
        auto deadline = std::chrono::steady_clock::now() + kRedisStartTimeout;
        while (Connection::refused(port_)) {
            if (std::chrono::steady_clock::now() > deadline)
                throw std::runtime_error("redis-server did not start");
            std::this_thread::sleep_for(kPollInterval);
        }
    }
    std::uint16_t port() const { return port_; }
    std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
    void stop() { process_.stop(SIGKILL); }

private:
    std::uint16_t port_;
    BackgroundProcess process_;
};

/// The value of a metric line ("name{labels} value"), or -1 when absent.
double metric(const std::string& text, const std::string& series) {
    std::size_t at = text.find("\n" + series + " ");
    if (at == std::string::npos) return -1;
    return std::stod(text.substr(at + series.size() + 2));
}

// ---- One node, in memory ---------------------------------------------------------------------

TEST(RateLimitNode, AnswersTooManyRequestsAfterTheBudgetWithHeaders) {
    constexpr int kBudget = 5;
    TempDir dir;
    BackgroundProcess node(kNimbus, serve_args(dir / "data"), node_environment(kBudget));
    std::uint16_t port = ready_port(node);
    ASSERT_NE(port, 0);

    Connection connection(port);
    for (int idx = 0; idx < kBudget; ++idx) {
        HttpResponse ok = connection.request("GET", "/api/v1/system/info");
        ASSERT_EQ(ok.status, 200) << "request " << idx << ": " << ok.body;
        EXPECT_EQ(ok.header("ratelimit-limit"), std::to_string(kBudget));
        EXPECT_EQ(ok.header("ratelimit-remaining"), std::to_string(kBudget - 1 - idx));
        EXPECT_TRUE(ok.header("ratelimit-reset"));
    }
    HttpResponse refused = connection.request("GET", "/api/v1/system/info");
    EXPECT_EQ(refused.status, 429);
    EXPECT_EQ(refused.header("content-type"), "application/problem+json");
    EXPECT_EQ(refused.header("retry-after"), "12") << "5 per minute: one every 12 s";
    EXPECT_EQ(refused.header("ratelimit-remaining"), "0");
    EXPECT_EQ(refused.header("ratelimit-reset"), "60");
    EXPECT_NE(refused.body.find(R"("type":"/problems/rate-limited")"), std::string::npos)
        << refused.body;
    EXPECT_NE(refused.body.find("request_id"), std::string::npos);

    // Probes and metrics are never limited, and carry no budget headers.
    for (const char* probe : {"/healthz", "/readyz", "/metrics", "/healthz", "/metrics"}) {
        HttpResponse response = connection.request("GET", probe);
        EXPECT_EQ(response.status, 200) << probe;
        EXPECT_FALSE(response.header("ratelimit-limit")) << probe;
    }
    std::string metrics = get(port, "/metrics").body;
    EXPECT_EQ(metric(metrics, R"(nimbus_rate_limit_decisions_total{outcome="allowed"})"), kBudget);
    EXPECT_EQ(metric(metrics, R"(nimbus_rate_limit_decisions_total{outcome="limited"})"), 1);
    EXPECT_EQ(metric(metrics, "nimbus_rate_limit_buckets"), 1);
}

TEST(RateLimitNode, AdminApiNeedsCredentials) {
    TempDir dir;
    BackgroundProcess node(kNimbus, serve_args(dir / "data"), node_environment(100));
    std::uint16_t port = ready_port(node);
    ASSERT_NE(port, 0);
    Connection connection(port);
    HttpResponse put =
        connection.request("PUT", "/api/v1/admin/rate-limits/overrides/user:usr_1",
                           {{"content-type", "application/json"}}, R"({"requests_per_minute":5})");
    EXPECT_EQ(put.status, 401) << put.body;
    EXPECT_EQ(connection.request("GET", "/api/v1/admin/rate-limits/overrides").status, 401);
}

/// A setting the start must refuse: its environment variable, the bad value and the key the
/// error must name.
struct BadSetting {
    std::string variable;
    std::string value;
    std::string key;
};

/// Starts a node with each bad setting in turn: each stops the start with the usage status and
/// an error that names the key in quotes.
void expect_refused_at_start(const std::vector<BadSetting>& cases) {
    for (const auto& c : cases) {
        TempDir dir;
        Environment environment = node_environment(100);
        environment[c.variable] = c.value;
        Finished result = run_process(kNimbus, serve_args(dir / "data"), environment);
        EXPECT_EQ(result.exit_status, kExitUsage) << c.variable << "=" << c.value << "\n"
                                                  << result.err;
        EXPECT_NE(result.err.find("'" + c.key + "'"), std::string::npos) << result.err;
    }
}

TEST(RateLimitNode, MalformedSettingsStopTheStartNamingTheKey) {
    expect_refused_at_start({
        {"NIMBUS_RATE_LIMIT_REQUESTS_PER_MINUTE", "0", "rate_limit.requests_per_minute"},
        {"NIMBUS_RATE_LIMIT_BURST", "-1", "rate_limit.burst"},
        {"NIMBUS_RATE_LIMIT_BACKEND", "memcached", "rate_limit.backend"},
        {"NIMBUS_RATE_LIMIT_FAILURE_MODE", "maybe", "rate_limit.failure_mode"},
        {"NIMBUS_RATE_LIMIT_REDIS_URL", "http://cache:6379", "rate_limit.redis_url"},
        {"NIMBUS_RATE_LIMIT_ROUTE_OVERRIDES", "GET /api/v1/x=lots", "rate_limit.route_overrides"},
        {"NIMBUS_RATE_LIMIT_ROUTE_OVERRIDES", "FETCH /x=1", "rate_limit.route_overrides"},
        {"NIMBUS_RATE_LIMIT_ENABLED", "perhaps", "rate_limit.enabled"},
    });
}

// ---- Bad input the gateway answers ----------------------------------------------------------

TEST(GatewayNode, BrokenRulesFileStopsTheStartNamingFileAndLine) {
    TempDir dir;
    fs::path rules = dir / "extra.conf";
    std::ofstream(rules) << "# our rules\nSecRule ARGS \"@rx x\" \"id:1,phase:2,deny,nonsense\"\n";
    Environment environment = node_environment(100);
    environment["NIMBUS_FIREWALL_EXTRA_RULES_FILE"] = rules.string();
    Finished result = run_process(kNimbus, serve_args(dir / "data"), environment);
    EXPECT_NE(result.exit_status, 0);
    EXPECT_NE(result.err.find(rules.string()), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("firewall rules file " + rules.string() + " line 2: "),
              std::string::npos)
        << result.err;
}

TEST(GatewayNode, MalformedGatewaySettingsStopTheStartNamingTheKey) {
    expect_refused_at_start({
        {"NIMBUS_FIREWALL_TRUSTED_PROXIES", "10.0.0.0/33", "firewall.trusted_proxies"},
        {"NIMBUS_FIREWALL_TRUSTED_PROXIES", "proxy.internal", "firewall.trusted_proxies"},
        {"NIMBUS_RATE_LIMIT_PLANS", "pro=fast", "rate_limit.plans"},
        {"NIMBUS_RATE_LIMIT_DEFAULT_PLAN", "gold", "rate_limit.default_plan"},
        {"NIMBUS_GATEWAY_SYNC_INTERVAL_MS", "0", "gateway.sync_interval_ms"},
        {"NIMBUS_STAGE", "staging", "stage"},
    });
}

TEST(GatewayNode, HugeQueryStringsAndSpoofedForwardedForGetClearAnswers) {
    TempDir dir;
    BackgroundProcess node(kNimbus, serve_args(dir / "data"), node_environment(100));
    std::uint16_t port = ready_port(node);
    ASSERT_NE(port, 0);
    constexpr std::size_t kHugeQuery = 64 * 1024;  // beyond http.max_header_bytes (16 KiB)
    HttpResponse huge = get(port, "/api/v1/system/info?q=" + std::string(kHugeQuery, 'a'));
    EXPECT_EQ(huge.status, 431);
    EXPECT_EQ(huge.header("content-type"), "application/problem+json");
    // From an untrusted peer the header changes nothing: the budget is still the peer's.
    Connection connection(port);
    HttpResponse first =
        connection.request("GET", "/api/v1/system/info", {{"x-forwarded-for", "198.51.100.1"}});
    HttpResponse second =
        connection.request("GET", "/api/v1/system/info", {{"x-forwarded-for", "198.51.100.2"}});
    ASSERT_EQ(first.status, 200);
    ASSERT_EQ(second.status, 200);
    EXPECT_EQ(std::stoi(*second.header("ratelimit-remaining")),
              std::stoi(*first.header("ratelimit-remaining")) - 1)
        << "one bucket (127.0.0.1), not one per forged address";
}

/// How often `text` occurs in `haystack`.
std::size_t occurrences(const std::string& haystack, const std::string& text) {
    std::size_t count = 0;
    for (std::size_t at = haystack.find(text); at != std::string::npos;
         at = haystack.find(text, at + text.size())) {
        ++count;
    }
    return count;
}

/// Waits until the node's stderr holds `text` `times` times; false when it never does.
bool wait_for_count(BackgroundProcess& node, const std::string& text, std::size_t times) {
    constexpr auto kTimeout = std::chrono::seconds(30);
    auto deadline = std::chrono::steady_clock::now() + kTimeout;
    while (occurrences(node.err(), text) < times) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(kPollInterval);
    }
    return true;
}

// SIGHUP with a certificate file that does not load: the node keeps serving HTTPS with the
// pair it had, and says so in an error log line that names the problem and no key material.
TEST(GatewayNode, AnInvalidCertificateOnSighupKeepsTheOldOneAndIsLogged) {
    TempDir dir;
    auto make_pair = [&](const std::string& name, const std::string& common_name) {
        Finished made = run_process(
            "/bin/sh", {"-c",
                        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
                        "-nodes -days 2 -subj /CN=" +
                            common_name + " -keyout " + (dir / (name + ".key")).string() +
                            " -out " + (dir / (name + ".crt")).string()});
        ASSERT_EQ(made.exit_status, 0) << made.err;
    };
    ASSERT_NO_FATAL_FAILURE(make_pair("live", "first.nimbus.test"));
    ASSERT_NO_FATAL_FAILURE(make_pair("second", "second.nimbus.test"));
    const fs::path cert = dir / "live.crt";
    const fs::path key = dir / "live.key";
    Environment environment = node_environment(100);
    environment["NIMBUS_TLS_LISTEN"] = "127.0.0.1:0";
    environment["NIMBUS_TLS_CERT_FILE"] = cert.string();
    environment["NIMBUS_TLS_KEY_FILE"] = key.string();
    BackgroundProcess node(kNimbus, serve_args(dir / "data"), environment);
    ASSERT_NE(ready_port(node), 0);
    const std::string tls_prefix = R"("tls_url":"https://127.0.0.1:)";
    std::string err = node.err();
    std::size_t at = err.find(tls_prefix);
    ASSERT_NE(at, std::string::npos) << err;
    const std::string tls_port = std::to_string(std::stoi(err.substr(at + tls_prefix.size())));
    // The subject of the certificate a new HTTPS connection is served.
    auto served_subject = [&] {
        return run_process("/bin/sh",
                           {"-c", "openssl s_client -connect 127.0.0.1:" + tls_port +
                                      " </dev/null 2>/dev/null | openssl x509 -noout -subject"})
            .out;
    };
    ASSERT_NE(served_subject().find("first.nimbus.test"), std::string::npos);

    const std::string refused = "TLS certificate not reloaded; the previous one stays in use";
    // Not a certificate at all.
    std::ofstream(cert, std::ios::trunc) << "-----BEGIN CERTIFICATE-----\nnot a certificate\n";
    ASSERT_EQ(::kill(node.pid(), SIGHUP), 0);
    ASSERT_TRUE(wait_for_count(node, refused, 1)) << node.err();
    EXPECT_NE(served_subject().find("first.nimbus.test"), std::string::npos);
    // A good certificate with a key that is not its own.
    fs::copy_file(dir / "second.crt", cert, fs::copy_options::overwrite_existing);
    ASSERT_EQ(::kill(node.pid(), SIGHUP), 0);
    ASSERT_TRUE(wait_for_count(node, refused, 2)) << node.err();
    EXPECT_NE(served_subject().find("first.nimbus.test"), std::string::npos);

    err = node.err();
    std::size_t line = err.find(refused);
    std::string logged = err.substr(line, err.find('\n', line) - line);
    EXPECT_NE(logged.find(R"("error":")"), std::string::npos) << logged;
    EXPECT_NE(logged.find("certificate"), std::string::npos) << logged;
    EXPECT_EQ(err.find("PRIVATE KEY"), std::string::npos) << "key material in the log";
    // The node still reloads a good pair afterwards: the refusals left nothing half-applied.
    fs::copy_file(dir / "second.key", key, fs::copy_options::overwrite_existing);
    ASSERT_EQ(::kill(node.pid(), SIGHUP), 0);
    ASSERT_TRUE(wait_for_count(node, "TLS certificate reloaded", 1)) << node.err();
    EXPECT_NE(served_subject().find("second.nimbus.test"), std::string::npos);
}

// ---- Two nodes, one Redis --------------------------------------------------------------------

TEST(RateLimitRedis, TwoNodesTogetherAllowOnlyTheBudgetAndFailOpenOrClosed) {
    constexpr int kBudget = 10;  // per minute: one every 6 s, so no refill during the test
    constexpr int kRequests = 30;
    TestRedis redis;
    TempDir dir;
    auto redis_environment = [&](const std::string& failure_mode) {
        Environment environment = node_environment(kBudget);
        environment["NIMBUS_RATE_LIMIT_BACKEND"] = "redis";
        environment["NIMBUS_RATE_LIMIT_REDIS_URL"] = redis.url();
        environment["NIMBUS_RATE_LIMIT_FAILURE_MODE"] = failure_mode;
        return environment;
    };
    BackgroundProcess open_node(kNimbus, serve_args(dir / "a"), redis_environment("open"));
    BackgroundProcess closed_node(kNimbus, serve_args(dir / "b"), redis_environment("closed"));
    std::uint16_t open_port = ready_port(open_node);
    std::uint16_t closed_port = ready_port(closed_node);
    ASSERT_NE(open_port, 0);
    ASSERT_NE(closed_port, 0);

    Connection to_open(open_port);
    Connection to_closed(closed_port);
    int allowed = 0;
    int limited = 0;
    for (int idx = 0; idx < kRequests; ++idx) {
        Connection& connection = idx % 2 == 0 ? to_open : to_closed;
        HttpResponse response = connection.request("GET", "/api/v1/system/info");
        if (response.status == 200) {
            ++allowed;
            EXPECT_EQ(response.header("ratelimit-limit"), std::to_string(kBudget));
        } else {
            EXPECT_EQ(response.status, 429) << response.body;
            EXPECT_TRUE(response.header("retry-after"));
            ++limited;
        }
    }
    EXPECT_EQ(allowed, kBudget) << "both nodes together, not each";
    EXPECT_EQ(limited, kRequests - kBudget);
    // Once Redis refused a caller, each node refuses it from memory until the retry time:
    // every check is either a round trip or a local refusal, and some were local.
    double round_trips = 0;
    double local_refusals = 0;
    for (std::uint16_t port : {open_port, closed_port}) {
        std::string text = get(port, "/metrics").body;
        round_trips += metric(text, "nimbus_rate_limit_redis_round_trips");
        local_refusals += metric(text, "nimbus_rate_limit_local_refusals");
    }
    EXPECT_EQ(round_trips + local_refusals, kRequests);
    EXPECT_GE(local_refusals, 1);
    EXPECT_LE(local_refusals, limited);

    redis.stop();
    // The refusals this node remembers still answer 429 without Redis (Redis would refuse them
    // too); the failure mode shows once they ended.
    auto after_remembered_refusals = [](Connection& connection) {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (true) {
            HttpResponse response = connection.request("GET", "/api/v1/system/info");
            if (response.status != 429 || std::chrono::steady_clock::now() > deadline) {
                return response;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    };
    HttpResponse passed = after_remembered_refusals(to_open);
    EXPECT_EQ(passed.status, 200) << "fail open: " << passed.body;
    HttpResponse refused = after_remembered_refusals(to_closed);
    EXPECT_EQ(refused.status, 503) << "fail closed: " << refused.body;
    EXPECT_EQ(refused.header("content-type"), "application/problem+json");
    EXPECT_TRUE(refused.header("retry-after"));
    EXPECT_EQ(to_closed.request("GET", "/healthz").status, 200) << "probes stay unlimited";

    std::string open_metrics = get(open_port, "/metrics").body;
    EXPECT_GE(metric(open_metrics, "nimbus_rate_limit_backend_errors_total"), 1) << open_metrics;
    EXPECT_GE(metric(open_metrics, R"(nimbus_rate_limit_decisions_total{outcome="failed_open"})"),
              1);
    std::string closed_metrics = get(closed_port, "/metrics").body;
    EXPECT_GE(
        metric(closed_metrics, R"(nimbus_rate_limit_decisions_total{outcome="failed_closed"})"), 1);
    EXPECT_NE(open_node.err().find("rate limit store failed"), std::string::npos)
        << "the outage is logged";
}

}  // namespace
}  // namespace nimbus::test
