#include <gtest/gtest.h>

#include "http/internal.hpp"

namespace nimbus::http {
namespace {

TEST(Wire, HeadHasStatusHeadersDateAndLength) {
    Response response = Response::text(200, "hello");
    std::string head = serialize_head(response, 5, /*keep_alive=*/true);
    EXPECT_TRUE(head.starts_with("HTTP/1.1 200 OK\r\n")) << head;
    EXPECT_NE(head.find("content-type: text/plain; charset=utf-8\r\n"), std::string::npos);
    EXPECT_NE(head.find("content-length: 5\r\n"), std::string::npos);
    EXPECT_NE(head.find("date: "), std::string::npos);
    EXPECT_NE(head.find(" GMT\r\n"), std::string::npos);
    EXPECT_EQ(head.find("connection:"), std::string::npos);
    EXPECT_TRUE(head.ends_with("\r\n\r\n"));
}

TEST(Wire, ClosingConnectionsSayConnectionClose) {
    std::string head = serialize_head(Response::text(200, ""), 0, /*keep_alive=*/false);
    EXPECT_NE(head.find("connection: close\r\n"), std::string::npos) << head;
    EXPECT_NE(head.find("content-length: 0\r\n"), std::string::npos) << head;
}

TEST(Wire, NoContentAndNotModifiedCarryNoLength) {
    Response not_modified;
    not_modified.status = 304;
    EXPECT_EQ(serialize_head(Response::no_content(), 0, true).find("content-length"),
              std::string::npos);
    EXPECT_EQ(serialize_head(not_modified, 0, true).find("content-length"), std::string::npos);
}

TEST(Wire, LineBreaksInHeadersCannotSplitTheResponse) {
    Response response = Response::text(200, "ok");
    response.set_header("x-echo", "value\r\nset-cookie: stolen=1\r\n\r\nHTTP/1.1 200 OK");
    response.set_header("x-bad\r\nname", "v");
    std::string head = serialize_head(response, 2, true);
    EXPECT_EQ(head.find("\r\nset-cookie"), std::string::npos) << head;
    EXPECT_NE(head.find("x-echo: valueset-cookie: stolen=1HTTP/1.1 200 OK\r\n"), std::string::npos)
        << head;
    EXPECT_NE(head.find("x-badname: v\r\n"), std::string::npos) << head;
}

}  // namespace
}  // namespace nimbus::http
