// Graceful shutdown of a real server: in-flight requests finish, new connections are refused,
// idle keep-alive connections are closed, and stop() + wait() respect the grace period.
#include <gtest/gtest.h>

#include "test_client.hpp"
#include "test_server.hpp"

namespace nimbus::test {
namespace {

TEST(Shutdown, InFlightRequestCompletesWhileNewConnectionsAreRefused) {
    TestServer server;
    const std::uint16_t port = server.port();
    Connection idle(port);
    ASSERT_EQ(idle.request("GET", "/hello").status, 200);  // now an idle keep-alive connection
    Connection busy(port);
    busy.send(format_request("GET", "/slow"));
    ASSERT_TRUE(eventually([&] { return server.state().slow_started.load(); }));

    auto stop_called = std::chrono::steady_clock::now();
    server.server().stop();

    EXPECT_TRUE(eventually([&] { return Connection::refused(port); }))
        << "no new connections once stopping";
    EXPECT_TRUE(idle.wait_closed(std::chrono::seconds(5))) << "idle keep-alive connection closed";
    EXPECT_EQ(idle.pending(), "");
    EXPECT_FALSE(server.state().slow_release) << "the slow request was still in flight";

    server.state().slow_release = true;
    HttpResponse response = busy.read_response();
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.body, "slow done");
    EXPECT_EQ(response.header("connection"), "close") << "no keep-alive while stopping";
    EXPECT_TRUE(busy.wait_closed());

    server.server().wait();
    EXPECT_LT(std::chrono::steady_clock::now() - stop_called, fast_options().shutdown_grace)
        << "finished well within the grace period once the last request was done";
    EXPECT_EQ(server.server().open_connections(), 0);
}

TEST(Shutdown, GracePeriodBoundsAHungRequest) {
    http::ServerOptions options = fast_options();
    options.shutdown_grace = std::chrono::milliseconds(200);
    TestServer server(options);
    Connection busy(server.port());
    busy.send(format_request("GET", "/slow"));
    ASSERT_TRUE(eventually([&] { return server.state().slow_started.load(); }));

    auto stop_called = std::chrono::steady_clock::now();
    server.server().stop();
    server.server().wait();

    // The handler never got its release: wait() must not have waited for it (10 s).
    EXPECT_LT(std::chrono::steady_clock::now() - stop_called, std::chrono::seconds(5));
}

TEST(Shutdown, StopIsIdempotentAndSafeFromManyThreads) {
    TestServer server;
    Connection connection(server.port());
    ASSERT_EQ(connection.request("GET", "/hello").status, 200);

    std::vector<std::thread> stoppers;
    for (int idx = 0; idx < 4; ++idx) stoppers.emplace_back([&] { server.server().stop(); });
    for (auto& stopper : stoppers) stopper.join();
    server.server().wait();
    server.server().stop();
    server.server().wait();

    EXPECT_TRUE(connection.wait_closed());
}

TEST(Shutdown, StopWithoutAnyConnection) {
    TestServer server;
    const std::uint16_t port = server.port();

    server.server().stop();
    server.server().wait();

    EXPECT_TRUE(Connection::refused(port));
}

TEST(Server, StartFailsCleanlyWhenThePortIsTaken) {
    TestServer first;
    http::ServerOptions options = fast_options();
    options.port = first.port();
    http::Router router;
    http::Pipeline pipeline;
    http::Server second(options, router, pipeline, nullptr);

    auto started = second.start();

    ASSERT_FALSE(started);
    EXPECT_NE(started.error().message.find(std::to_string(first.port())), std::string::npos)
        << started.error().message;
    // The first server keeps serving.
    Connection connection(first.port());
    EXPECT_EQ(connection.request("GET", "/hello").status, 200);
}

TEST(Server, StartFailsOnAnAddressThatIsNotAnIp) {
    http::ServerOptions options = fast_options();
    options.host = "localhost.invalid";
    http::Router router;
    http::Pipeline pipeline;
    http::Server server(options, router, pipeline, nullptr);

    auto started = server.start();

    ASSERT_FALSE(started);
    EXPECT_NE(started.error().message.find("localhost.invalid"), std::string::npos);
}

}  // namespace
}  // namespace nimbus::test
