// The firewall on the real binary, over TCP: every attack of the corpus is refused with 403
// problem+json carrying the request id and no rule id, every benign request gets through, and
// detection mode lets both through.
#include <fstream>
#include <regex>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "process.hpp"
#include "test_client.hpp"

namespace nimbus::test {
namespace {

namespace fs = std::filesystem;

const std::string kNimbus = NIMBUS_BINARY;
constexpr int kForbidden = 403;
constexpr int kBadRequest = 400;

struct CorpusRequest {
    std::string name;
    std::string method;
    std::string target;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
};

std::vector<CorpusRequest> corpus(const std::string& file) {
    std::ifstream in(fs::path(NIMBUS_CORPUS_DIR) / file);
    EXPECT_TRUE(in) << file;
    std::vector<CorpusRequest> out;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        auto object = boost::json::parse(line).as_object();
        CorpusRequest request{object.at("name").as_string().c_str(),
                              object.at("method").as_string().c_str(),
                              object.at("target").as_string().c_str(),
                              {},
                              object.at("body").as_string().c_str()};
        for (const auto& [name, value] : object.at("headers").as_object()) {
            request.headers.emplace_back(std::string(name), value.as_string().c_str());
        }
        out.push_back(std::move(request));
    }
    return out;
}

/// Two I/O threads, no console, a budget no test reaches; the firewall as `mode` says.
Environment node_environment(const std::string& mode) {
    return {{"NIMBUS_HTTP_THREADS", "2"},
            {"NIMBUS_CONSOLE_DIR", "/nonexistent/nimbus-console"},
            {"NIMBUS_HTTP_ACCESS_LOG", "false"},
            {"NIMBUS_RATE_LIMIT_ENABLED", "false"},
            {"NIMBUS_FIREWALL_MODE", mode}};
}

HttpResponse send(std::uint16_t port, const CorpusRequest& request) {
    // A connection per request: a refused request must not spoil the next one.
    Connection connection(port);
    return connection.request(request.method, request.target, request.headers, request.body);
}

TEST(FirewallNode, RefusesEveryAttackWithProblemAndRequestIdOnly) {
    TempDir dir;
    BackgroundProcess node(kNimbus, serve_args(dir / "data"), node_environment("blocking"));
    std::uint16_t port = ready_port(node);
    ASSERT_NE(port, 0);
    static const std::regex kRuleId(R"(\b9[0-9]{5}\b)");
    auto attacks = corpus("attacks.jsonl");
    ASSERT_GE(attacks.size(), 40U);
    for (const auto& attack : attacks) {
        HttpResponse response = send(port, attack);
        EXPECT_EQ(response.header("content-type"), "application/problem+json") << attack.name;
        auto body = boost::json::parse(response.body).as_object();
        // A body that does not parse as its Content-Type says is the firewall's 400: its strings
        // would otherwise be hidden from every rule.
        if (body.at("type").as_string() == "/problems/unparseable-body") {
            EXPECT_EQ(response.status, kBadRequest) << attack.name;
        } else {
            EXPECT_EQ(response.status, kForbidden) << attack.name << ": " << response.body;
            EXPECT_EQ(body.at("type").as_string(), "/problems/firewall-blocked") << attack.name;
        }
        ASSERT_TRUE(body.contains("request_id")) << attack.name;
        EXPECT_EQ(response.header("x-request-id"),
                  std::string(body.at("request_id").as_string().c_str()))
            << attack.name;
        EXPECT_FALSE(std::regex_search(response.body, kRuleId))
            << attack.name << ": " << response.body;
    }
    // The log names the rules, for the operator.
    EXPECT_NE(node.err().find("firewall blocked request"), std::string::npos);
}

TEST(FirewallNode, LetsEveryBenignRequestThrough) {
    TempDir dir;
    BackgroundProcess node(kNimbus, serve_args(dir / "data"), node_environment("blocking"));
    std::uint16_t port = ready_port(node);
    ASSERT_NE(port, 0);
    auto benign = corpus("benign.jsonl");
    ASSERT_GE(benign.size(), 40U);
    for (const auto& request : benign) {
        // Most routes of the corpus need credentials it does not have or do not exist, and
        // the preflight's origin is not configured: any answer but the firewall's.
        HttpResponse response = send(port, request);
        EXPECT_EQ(response.body.find("firewall-blocked"), std::string::npos)
            << request.name << ": " << response.body;
        EXPECT_EQ(response.body.find("unparseable-body"), std::string::npos) << request.name;
    }
    EXPECT_EQ(node.err().find("firewall blocked request"), std::string::npos) << node.err();
}

TEST(FirewallNode, DetectionModePassesBothCorporaAndLogsTheAttacks) {
    TempDir dir;
    BackgroundProcess node(kNimbus, serve_args(dir / "data"), node_environment("detection"));
    std::uint16_t port = ready_port(node);
    ASSERT_NE(port, 0);
    for (const char* file : {"attacks.jsonl", "benign.jsonl"}) {
        for (const auto& request : corpus(file)) {
            HttpResponse response = send(port, request);
            EXPECT_EQ(response.body.find("firewall-blocked"), std::string::npos)
                << file << " " << request.name << ": " << response.body;
        }
    }
    EXPECT_NE(node.err().find("firewall would block request (detection only)"), std::string::npos);
}

}  // namespace
}  // namespace nimbus::test
