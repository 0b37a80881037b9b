// Bad and hostile input over real sockets: malformed requests, size limits and slow clients.
#include <thread>

#include <gtest/gtest.h>

#include "test_client.hpp"
#include "test_server.hpp"

namespace nimbus::test {
namespace {

constexpr std::size_t kDefaultBodyLimit = 1024 * 1024;
constexpr auto kSlowByteInterval = std::chrono::milliseconds(100);

class Limits : public ::testing::Test {
protected:
    TestServer server_;
};

void expect_problem(const HttpResponse& response, int status, std::string_view type) {
    EXPECT_EQ(response.status, status) << response.body;
    EXPECT_EQ(response.header("content-type"), "application/problem+json");
    EXPECT_NE(response.body.find(std::string(R"("type":")") + std::string(type) + "\""),
              std::string::npos)
        << response.body;
}

TEST_F(Limits, MalformedRequestLineIs400AndTheConnectionCloses) {
    for (std::string_view garbage :
         {"GARBAGE\r\n\r\n", "GET /hello HTTP/9.9\r\n\r\n", "GET  HTTP/1.1\r\n\r\n",
          "GET /hello\r\n\r\n", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"}) {
        Connection connection(server_.port());
        connection.send(garbage);

        HttpResponse response = connection.read_response();

        expect_problem(response, 400, "/problems/malformed-request");
        EXPECT_EQ(response.header("connection"), "close");
        EXPECT_TRUE(connection.wait_closed()) << garbage;
    }
}

TEST_F(Limits, RequestTargetMustBeAnAbsolutePath) {
    Connection connection(server_.port());

    HttpResponse response = connection.request("GET", "http://example.com/hello");

    expect_problem(response, 400, "/problems/malformed-request");
    EXPECT_TRUE(connection.wait_closed());
}

TEST_F(Limits, MalformedHeaderLineIs400) {
    Connection connection(server_.port());
    connection.send("GET /hello HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n");

    expect_problem(connection.read_response(), 400, "/problems/malformed-request");
    EXPECT_TRUE(connection.wait_closed());
}

TEST_F(Limits, OversizedHeadersAre431) {
    Connection connection(server_.port());
    constexpr std::size_t kHugeHeader = 20 * 1024;  // over the default 16 KiB

    connection.send(format_request("GET", "/hello", {{"X-Big", std::string(kHugeHeader, 'a')}}));
    HttpResponse response = connection.read_response();

    expect_problem(response, 431, "/problems/headers-too-large");
    EXPECT_TRUE(connection.wait_closed());
}

TEST_F(Limits, ManySmallHeadersAddingUpAre431) {
    Connection connection(server_.port());
    std::vector<std::pair<std::string, std::string>> headers;
    for (int idx = 0; idx < 400; ++idx) {
        headers.emplace_back("X-Header-" + std::to_string(idx), std::string(64, 'v'));
    }

    connection.send(format_request("GET", "/hello", headers));

    expect_problem(connection.read_response(), 431, "/problems/headers-too-large");
}

TEST_F(Limits, BodyOverTheDefaultLimitWithContentLengthIs413) {
    Connection connection(server_.port());
    // Only the headers: the server must answer from the declared length without reading a byte.
    connection.send(format_request("POST", "/upload",
                                   {{"Content-Length", std::to_string(kDefaultBodyLimit + 1)}}));

    HttpResponse response = connection.read_response();

    expect_problem(response, 413, "/problems/body-too-large");
    EXPECT_TRUE(connection.wait_closed());
}

TEST_F(Limits, BodyAtTheDefaultLimitIsAccepted) {
    Connection connection(server_.port());

    HttpResponse response =
        connection.request("POST", "/upload", {}, std::string(kDefaultBodyLimit, 'b'));

    EXPECT_EQ(response.status, 200) << response.body;
    EXPECT_NE(response.body.find(R"("bytes":1048576)"), std::string::npos) << response.body;
}

TEST_F(Limits, BodyOverTheDefaultLimitWithContentLengthIs413EvenWhileSending) {
    Connection connection(server_.port());
    std::string request =
        format_request("POST", "/upload", {}, std::string(kDefaultBodyLimit + 4096, 'c'));
    // The server may answer before the body is all sent; send from another thread so neither
    // side waits on the other.
    std::thread sender([&] { connection.try_send(request); });

    HttpResponse response = connection.read_response();
    sender.join();

    expect_problem(response, 413, "/problems/body-too-large");
}

TEST_F(Limits, PerRouteLimitMayBeLargerThanTheDefault) {
    Connection connection(server_.port());
    constexpr std::size_t kBody = kDefaultBodyLimit + kDefaultBodyLimit / 2;

    HttpResponse response =
        connection.request("POST", "/api/v1/large", {}, std::string(kBody, 'l'));

    EXPECT_EQ(response.status, 200) << response.body;
    EXPECT_NE(response.body.find(std::to_string(kBody)), std::string::npos) << response.body;
}

TEST_F(Limits, ChunkedBodyOverTheDefaultLimitIs413) {
    Connection connection(server_.port());
    constexpr std::size_t kChunk = 64 * 1024;
    std::string request = format_request("POST", "/upload", {{"Transfer-Encoding", "chunked"}});
    std::string chunk(kChunk, 'd');
    char size_line[32];
    std::snprintf(size_line, sizeof(size_line), "%zx\r\n", kChunk);
    for (std::size_t sent = 0; sent <= kDefaultBodyLimit; sent += kChunk) {
        request += size_line + chunk + "\r\n";
    }
    request += "0\r\n\r\n";
    std::thread sender([&] { connection.try_send(request); });

    HttpResponse response = connection.read_response();
    sender.join();

    expect_problem(response, 413, "/problems/body-too-large");
}

TEST_F(Limits, PerRouteLimitWithExpectContinueIsRefusedBeforeTheBody) {
    Connection connection(server_.port());
    connection.send(format_request("POST", "/api/v1/small",
                                   {{"Content-Length", "1000"}, {"Expect", "100-continue"}}));

    HttpResponse response = connection.read_response();

    EXPECT_EQ(response.status, 413) << "no 100 Continue for a body that would be refused";
}

TEST_F(Limits, ClientSendingOneByteAtATimeIsDroppedAfterTheHeaderTimeout) {
    Connection connection(server_.port());
    const std::string request = format_request("GET", "/hello", {{"X-Pad", std::string(64, 'p')}});

    std::size_t sent = 0;
    bool dropped = false;
    for (; sent < request.size() && !dropped; ++sent) {
        dropped = !connection.try_send(request.substr(sent, 1)) ||
                  connection.wait_closed(kSlowByteInterval);
    }

    // At 100 ms a byte the request needs seconds; the 300 ms header timeout must cut it short.
    EXPECT_TRUE(dropped);
    EXPECT_LT(sent, request.size());
    EXPECT_EQ(connection.pending().find("HTTP/1.1 200"), std::string::npos)
        << "dropped, not served";
}

TEST_F(Limits, ClientThatStopsSendingItsBodyIsDroppedAfterTheBodyTimeout) {
    Connection connection(server_.port());
    connection.send(format_request("POST", "/upload", {{"Content-Length", "100"}}) +
                    std::string(10, 'e'));

    EXPECT_TRUE(connection.wait_closed(std::chrono::seconds(5)));
    EXPECT_EQ(connection.pending().find("HTTP/1.1 200"), std::string::npos)
        << "dropped, not served";
}

TEST_F(Limits, HalfSentHeadersThenCloseDoNotHurtTheServer) {
    {
        Connection connection(server_.port());
        connection.send("GET /hello HTTP/1.1\r\nHost: x\r\n");
        connection.shutdown_write();
        EXPECT_TRUE(connection.wait_closed());
    }
    Connection next(server_.port());
    EXPECT_EQ(next.request("GET", "/hello").status, 200);
}

TEST_F(Limits, ConnectionsAreCountedAndReleased) {
    {
        Connection first(server_.port());
        Connection second(server_.port());
        EXPECT_EQ(first.request("GET", "/hello").status, 200);
        EXPECT_EQ(second.request("GET", "/hello").status, 200);
        EXPECT_EQ(server_.server().open_connections(), 2);
    }
    EXPECT_TRUE(eventually([&] { return server_.server().open_connections() == 0; }));
}

}  // namespace
}  // namespace nimbus::test
