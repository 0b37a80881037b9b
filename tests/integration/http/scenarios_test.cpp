// API scenarios as a table (PocketBase's ApiScenario): one request each on a fresh connection to a
// real server, with the expected status, headers and body fragments.
#include <gtest/gtest.h>

#include "test_client.hpp"
#include "test_server.hpp"

namespace nimbus::test {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Scenario {
    std::string name;
    std::string method;
    std::string target;
    Headers headers;
    std::string body;
    int expected_status = 200;
    /// Header -> exact value; an empty value only checks presence.
    Headers expected_headers;
    std::vector<std::string> expected_body;
    std::vector<std::string> unexpected_body;
    std::vector<std::string> absent_headers;
};

void PrintTo(const Scenario& scenario, std::ostream* out) { *out << scenario.name; }

class ApiScenario : public ::testing::TestWithParam<Scenario> {
protected:
    static void SetUpTestSuite() { server_ = new TestServer(); }
    static void TearDownTestSuite() {
        delete server_;
        server_ = nullptr;
    }
    static TestServer* server_;
};

TestServer* ApiScenario::server_ = nullptr;

TEST_P(ApiScenario, Run) {
    const Scenario& scenario = GetParam();
    Connection connection(server_->port());

    HttpResponse response =
        connection.request(scenario.method, scenario.target, scenario.headers, scenario.body);

    EXPECT_EQ(response.status, scenario.expected_status) << response.body;
    for (const auto& [name, value] : scenario.expected_headers) {
        auto actual = response.header(name);
        ASSERT_TRUE(actual) << "missing header " << name;
        if (!value.empty()) {
            EXPECT_EQ(*actual, value) << "header " << name;
        }
    }
    for (const auto& name : scenario.absent_headers) {
        EXPECT_FALSE(response.header(name)) << "unexpected header " << name;
    }
    for (const auto& fragment : scenario.expected_body) {
        EXPECT_NE(response.body.find(fragment), std::string::npos)
            << "body lacks " << fragment << "\nbody: " << response.body;
    }
    for (const auto& fragment : scenario.unexpected_body) {
        EXPECT_EQ(response.body.find(fragment), std::string::npos)
            << "body has " << fragment << "\nbody: " << response.body;
    }
    // Every answer, success or problem, carries the hardening headers and a request id.
    EXPECT_EQ(response.header("x-content-type-options"), "nosniff");
    EXPECT_TRUE(response.header("x-request-id"));
}

const Scenario kScenarios[] = {
    {.name = "plain_get",
     .method = "GET",
     .target = "/hello",
     .expected_status = 200,
     .expected_headers = {{"content-type", "text/plain; charset=utf-8"}, {"content-length", "5"}},
     .expected_body = {"hello"}},
    {.name = "path_parameter",
     .method = "GET",
     .target = "/api/v1/items/item_42?x=1",
     .expected_status = 200,
     .expected_headers = {{"content-type", "application/json"}},
     .expected_body = {R"({"id":"item_42"})"}},
    {.name = "delete_no_content",
     .method = "DELETE",
     .target = "/api/v1/items/item_42",
     .expected_status = 204,
     .absent_headers = {"content-type"}},
    {.name = "unknown_route_is_a_problem",
     .method = "POST",
     .target = "/nowhere",
     .body = "{}",
     .expected_status = 404,
     .expected_headers = {{"content-type", "application/problem+json"}},
     .expected_body = {R"("status":404)", R"("instance":"/nowhere")", R"("request_id":"req_)"}},
    {.name = "unknown_api_path_stays_json_despite_the_static_fallback",
     .method = "GET",
     .target = "/api/v1/nothing-here",
     .headers = {{"Accept", "text/html"}},
     .expected_status = 404,
     .expected_headers = {{"content-type", "application/problem+json"}},
     .expected_body = {R"("status":404)"},
     .unexpected_body = {"<html", "<!doctype"}},
    {.name = "bare_api_path_stays_json",
     .method = "GET",
     .target = "/api",
     .expected_status = 404,
     .expected_headers = {{"content-type", "application/problem+json"}}},
    {.name = "client_route_gets_the_console",
     .method = "GET",
     .target = "/orgs/org_1/settings",
     .expected_status = 200,
     .expected_headers = {{"content-type", "text/html; charset=utf-8"},
                          {"content-security-policy", ""}},
     .expected_body = {"console has not been built"}},
    {.name = "wrong_method_is_405_with_allow",
     .method = "PUT",
     .target = "/api/v1/items/item_1",
     .body = "{}",
     .expected_status = 405,
     .expected_headers = {{"allow", "GET, DELETE, HEAD"},
                          {"content-type", "application/problem+json"}},
     .expected_body = {R"("type":"/problems/method-not-allowed")"}},
    {.name = "post_to_a_get_only_path_is_405",
     .method = "POST",
     .target = "/hello",
     .expected_status = 405,
     .expected_headers = {{"allow", "GET, HEAD"}}},
    {.name = "unknown_method_is_501",
     .method = "BREW",
     .target = "/hello",
     .expected_status = 501,
     .expected_headers = {{"content-type", "application/problem+json"}},
     .expected_body = {R"("status":501)"}},
    {.name = "lower_case_method_is_501",
     .method = "get",
     .target = "/hello",
     .expected_status = 501},
    {.name = "valid_json_is_echoed",
     .method = "POST",
     .target = "/api/v1/echo",
     .headers = {{"Content-Type", "application/json"}},
     .body = R"({"name":"O'Brien","n":[1,2]})",
     .expected_status = 200,
     .expected_body = {R"({"name":"O'Brien","n":[1,2]})"}},
    {.name = "invalid_json_is_400_with_the_offset",
     .method = "POST",
     .target = "/api/v1/echo",
     .headers = {{"Content-Type", "application/json"}},
     .body = R"({"name": "x",})",
     .expected_status = 400,
     .expected_headers = {{"content-type", "application/problem+json"}},
     .expected_body = {R"("type":"/problems/invalid-argument")", "offset 13"}},
    {.name = "empty_json_body_is_400",
     .method = "POST",
     .target = "/api/v1/echo",
     .expected_status = 400,
     .expected_body = {"offset"}},
    {.name = "handler_exception_is_500_without_internals",
     .method = "GET",
     .target = "/boom",
     .expected_status = 500,
     .expected_headers = {{"content-type", "application/problem+json"}},
     .expected_body = {R"("status":500)", R"("request_id":"req_)"},
     .unexpected_body = {"hunter2", "password"}},
    {.name = "per_route_body_limit_accepts_up_to_it",
     .method = "POST",
     .target = "/api/v1/small",
     .body = std::string(16, 'a'),
     .expected_status = 200,
     .expected_body = {R"("bytes":16)"}},
    {.name = "per_route_body_limit_refuses_past_it",
     .method = "POST",
     .target = "/api/v1/small",
     .body = std::string(17, 'a'),
     .expected_status = 413,
     .expected_headers = {{"content-type", "application/problem+json"}},
     .expected_body = {R"("type":"/problems/body-too-large")", "16 bytes"}},
    {.name = "chunked_body_is_read",
     .method = "POST",
     .target = "/upload",
     .headers = {{"Transfer-Encoding", "chunked"}},
     .body = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
     .expected_status = 200,
     .expected_body = {R"("bytes":11)"}},
    {.name = "per_route_body_limit_applies_to_chunked_bodies",
     .method = "POST",
     .target = "/api/v1/small",
     .headers = {{"Transfer-Encoding", "chunked"}},
     .body = "10\r\n0123456789abcdef\r\n1\r\nx\r\n0\r\n\r\n",
     .expected_status = 413},
    {.name = "gzip_when_accepted_and_large",
     .method = "GET",
     .target = "/large",
     .headers = {{"Accept-Encoding", "gzip, br"}},
     .expected_status = 200,
     .expected_headers = {{"content-encoding", "gzip"}, {"vary", "Accept-Encoding"}}},
    {.name = "no_gzip_when_refused",
     .method = "GET",
     .target = "/large",
     .headers = {{"Accept-Encoding", "gzip;q=0"}},
     .expected_status = 200,
     .expected_body = {"zzzz"},
     .absent_headers = {"content-encoding"}},
    {.name = "plain_request_id_is_kept",
     .method = "GET",
     .target = "/hello",
     .headers = {{"X-Request-Id", "lb-1234"}},
     .expected_headers = {{"x-request-id", "lb-1234"}}},
    {.name = "hostile_request_id_is_replaced",
     .method = "GET",
     .target = "/boom",
     .headers = {{"X-Request-Id", "x\"}{\"level\":\"error"}},
     .expected_status = 500,
     .expected_body = {R"("request_id":"req_)"},
     .unexpected_body = {"level"}},
    {.name = "cors_preflight_allowed",
     .method = "OPTIONS",
     .target = "/api/v1/items/item_1",
     .headers = {{"Origin", "https://app.example.com"},
                 {"Access-Control-Request-Method", "DELETE"}},
     .expected_status = 204,
     .expected_headers = {{"access-control-allow-origin", "https://app.example.com"},
                          {"access-control-allow-methods", ""}}},
    {.name = "cors_preflight_denied",
     .method = "OPTIONS",
     .target = "/api/v1/items/item_1",
     .headers = {{"Origin", "https://evil.example.net"},
                 {"Access-Control-Request-Method", "DELETE"}},
     .expected_status = 403,
     .absent_headers = {"access-control-allow-origin"}},
};

INSTANTIATE_TEST_SUITE_P(Http, ApiScenario, ::testing::ValuesIn(kScenarios),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace nimbus::test
