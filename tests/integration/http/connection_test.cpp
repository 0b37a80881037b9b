// Connection behaviour over real sockets: keep-alive, pipelining, 100-continue, HEAD, the blocking
// pool, and many clients at once.
#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "test_client.hpp"
#include "test_server.hpp"

namespace nimbus::test {
namespace {

class Connections : public ::testing::Test {
protected:
    TestServer server_;
};

TEST_F(Connections, KeepAliveServesSeveralRequestsOnOneConnection) {
    Connection connection(server_.port());
    for (int idx = 0; idx < 5; ++idx) {
        HttpResponse response = connection.request("GET", "/api/v1/items/i" + std::to_string(idx));
        EXPECT_EQ(response.status, 200);
        EXPECT_NE(response.body.find("\"i" + std::to_string(idx) + "\""), std::string::npos);
        EXPECT_NE(response.header("connection"), "close");
    }
    EXPECT_EQ(server_.server().open_connections(), 1);
}

TEST_F(Connections, ErrorAnswersKeepTheConnectionAlive) {
    Connection connection(server_.port());

    EXPECT_EQ(connection.request("GET", "/api/v1/nowhere").status, 404);
    EXPECT_EQ(connection.request("PUT", "/hello", {}, "x").status, 405);
    EXPECT_EQ(connection.request("GET", "/boom").status, 500);
    EXPECT_EQ(connection.request("POST", "/api/v1/echo", {}, "{").status, 400);
    EXPECT_EQ(connection.request("GET", "/hello").status, 200);
}

TEST_F(Connections, ConnectionCloseIsHonoured) {
    Connection connection(server_.port());

    HttpResponse response = connection.request("GET", "/hello", {{"Connection", "close"}});

    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.header("connection"), "close");
    EXPECT_TRUE(connection.wait_closed());
}

TEST_F(Connections, Http10ClosesByDefault) {
    Connection connection(server_.port());
    connection.send("GET /hello HTTP/1.0\r\n\r\n");

    HttpResponse response = connection.read_response();

    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.body, "hello");
    EXPECT_TRUE(connection.wait_closed());
}

TEST_F(Connections, PipelinedRequestsAreAnsweredInOrder) {
    Connection connection(server_.port());
    connection.send(format_request("GET", "/api/v1/items/first") +
                    format_request("POST", "/api/v1/echo", {}, R"({"second":2})") +
                    format_request("GET", "/api/v1/nowhere") + format_request("GET", "/hello"));

    HttpResponse first = connection.read_response();
    HttpResponse second = connection.read_response();
    HttpResponse third = connection.read_response();
    HttpResponse fourth = connection.read_response();

    EXPECT_EQ(first.status, 200);
    EXPECT_NE(first.body.find("first"), std::string::npos);
    EXPECT_EQ(second.status, 200);
    EXPECT_EQ(second.body, R"({"second":2})");
    EXPECT_EQ(third.status, 404);
    EXPECT_EQ(fourth.status, 200);
    EXPECT_EQ(fourth.body, "hello");
}

TEST_F(Connections, ExpectContinueGetsAnInterimResponseThenTheAnswer) {
    Connection connection(server_.port());
    const std::string body = R"({"hello":"world"})";
    connection.send(format_request(
        "POST", "/api/v1/echo",
        {{"Content-Length", std::to_string(body.size())}, {"Expect", "100-continue"}}));

    HttpResponse interim = connection.read_response();
    ASSERT_EQ(interim.status, 100);
    connection.send(body);
    HttpResponse response = connection.read_response();

    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.body, body);
}

TEST_F(Connections, HeadHasAContentLengthButNoBody) {
    Connection connection(server_.port());

    HttpResponse get = connection.request("GET", "/hello");
    HttpResponse head = connection.request("HEAD", "/hello");
    // If HEAD had sent a body, its bytes would now sit in front of this response.
    HttpResponse after = connection.request("GET", "/api/v1/items/after");

    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.header("content-length"), get.header("content-length"));
    EXPECT_EQ(head.header("content-length"), "5");
    EXPECT_EQ(head.header("content-type"), get.header("content-type"));
    EXPECT_EQ(after.status, 200);
    EXPECT_NE(after.body.find("after"), std::string::npos);
}

TEST_F(Connections, HeadOfAnUnknownPathHasNoBodyEither) {
    Connection connection(server_.port());

    HttpResponse head = connection.request("HEAD", "/api/v1/nothing");
    HttpResponse after = connection.request("GET", "/hello");

    EXPECT_EQ(head.status, 404);
    EXPECT_TRUE(head.header("content-length"));
    EXPECT_EQ(after.status, 200);
    EXPECT_EQ(after.body, "hello");
}

TEST_F(Connections, RunBlockingRunsOffTheIoThreadAndResumesOnIt) {
    Connection connection(server_.port());

    HttpResponse response = connection.request("GET", "/threads");

    ASSERT_EQ(response.status, 200);
    RouteState& state = server_.state();
    std::lock_guard lock(state.threads_mutex);
    EXPECT_NE(state.before_blocking, std::thread::id());
    EXPECT_NE(state.inside_blocking, state.before_blocking) << "blocking work left the I/O thread";
    EXPECT_EQ(state.after_blocking, state.before_blocking) << "and came back to it";
    EXPECT_NE(state.inside_blocking, std::this_thread::get_id());
}

TEST_F(Connections, ManyClientsAtOnceAllSucceed) {
    constexpr int kThreads = 8;
    constexpr int kRequestsPerThread = 200;
    std::atomic<int> succeeded{0};
    std::atomic<int> failed{0};
    std::vector<std::thread> clients;
    for (int thread_idx = 0; thread_idx < kThreads; ++thread_idx) {
        clients.emplace_back([&, thread_idx] {
            try {
                // Half the clients keep one connection; the other half open one per request.
                bool keep_alive = thread_idx % 2 == 0;
                std::unique_ptr<Connection> connection;
                for (int idx = 0; idx < kRequestsPerThread; ++idx) {
                    if (!keep_alive || !connection)
                        connection = std::make_unique<Connection>(server_.port());
                    std::string id = std::to_string(thread_idx) + "-" + std::to_string(idx);
                    HttpResponse response = idx % 3 == 0
                                                ? connection->request("POST", "/api/v1/echo", {},
                                                                      "{\"id\":\"" + id + "\"}")
                                                : connection->request("GET", "/api/v1/items/" + id);
                    bool ok = response.status == 200 &&
                              response.body.find("\"" + id + "\"") != std::string::npos;
                    (ok ? succeeded : failed)++;
                }
            } catch (const std::exception&) {
                failed++;
            }
        });
    }
    for (auto& client : clients) client.join();

    EXPECT_EQ(failed.load(), 0);
    EXPECT_EQ(succeeded.load(), kThreads * kRequestsPerThread);
    EXPECT_TRUE(eventually([&] { return server_.server().open_connections() == 0; }));
}

TEST_F(Connections, MetricsUseRouteTemplatesNotRawPaths) {
    Connection connection(server_.port());
    connection.request("GET", "/api/v1/items/alpha");
    connection.request("GET", "/api/v1/items/beta");
    connection.request("GET", "/api/v1/raw-unknown");

    std::string text = server_.registry().render();

    EXPECT_NE(text.find(R"(nimbus_http_requests_total{method="GET",route="/api/v1/items/{id}",)"
                        R"(status="200"} 2)"),
              std::string::npos)
        << text;
    EXPECT_NE(
        text.find(R"(nimbus_http_requests_total{method="GET",route="unmatched",status="404"} 1)"),
        std::string::npos)
        << text;
    EXPECT_EQ(text.find("alpha"), std::string::npos);
    EXPECT_EQ(text.find("raw-unknown"), std::string::npos);
}

}  // namespace
}  // namespace nimbus::test
