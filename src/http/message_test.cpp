#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

#include "http/http.hpp"
#include "http/internal.hpp"

namespace nimbus::http {
namespace {

Request with_query(std::string query) {
    Request request;
    request.query = std::move(query);
    return request;
}

TEST(Request, QueryParamDecodesPercentAndPlus) {
    Request request = with_query("q=hello+world&name=O%27Brien&path=%2Fa%2fb&utf=%C3%A9");

    EXPECT_EQ(request.query_param("q"), "hello world");
    EXPECT_EQ(request.query_param("name"), "O'Brien");
    EXPECT_EQ(request.query_param("path"), "/a/b") << "hex digits in either case";
    EXPECT_EQ(request.query_param("utf"), "\xC3\xA9");
}

TEST(Request, QueryParamDecodesKeysToo) {
    EXPECT_EQ(with_query("filter%5Bname%5D=x").query_param("filter[name]"), "x");
}

TEST(Request, QueryParamFirstWinsWhenRepeated) {
    EXPECT_EQ(with_query("tag=a&tag=b").query_param("tag"), "a");
}

TEST(Request, QueryParamWithoutValueIsEmptyAndAbsentIsNullopt) {
    Request request = with_query("flag&empty=&x=1");

    EXPECT_EQ(request.query_param("flag"), "");
    EXPECT_EQ(request.query_param("empty"), "");
    EXPECT_EQ(request.query_param("missing"), std::nullopt);
    EXPECT_EQ(with_query("").query_param("x"), std::nullopt);
}

TEST(Request, QueryParamKeepsMalformedEscapes) {
    Request request = with_query("a=100%&b=%zz&c=%4&d=%%41");

    EXPECT_EQ(request.query_param("a"), "100%");
    EXPECT_EQ(request.query_param("b"), "%zz");
    EXPECT_EQ(request.query_param("c"), "%4");
    EXPECT_EQ(request.query_param("d"), "%A");
}

TEST(Request, QueryParamDecodesAnEscapeAtTheVeryEnd) {
    EXPECT_EQ(with_query("a=%41").query_param("a"), "A");
    EXPECT_EQ(with_query("a=x%20").query_param("a"), "x ");
}

TEST(Request, QueryParamDoesNotSplitOnEncodedSeparators) {
    Request request = with_query("a=1%262%3D3&b=2");

    EXPECT_EQ(request.query_param("a"), "1&2=3");
    EXPECT_EQ(request.query_param("b"), "2");
}

TEST(Request, HeaderLookupIgnoresCase) {
    Request request;
    request.headers = {{"content-type", "application/json"}, {"x-request-id", "abc"}};

    EXPECT_EQ(request.header("Content-Type"), "application/json");
    EXPECT_EQ(request.header("CONTENT-TYPE"), "application/json");
    EXPECT_EQ(request.header("X-Request-ID"), "abc");
    EXPECT_EQ(request.header("accept"), std::nullopt);
}

TEST(Request, HeaderReturnsTheFirstOfRepeatedHeaders) {
    Request request;
    request.headers = {{"accept", "a"}, {"accept", "b"}};

    EXPECT_EQ(request.header("Accept"), "a");
}

TEST(Response, SetHeaderReplacesRegardlessOfCase) {
    Response response = Response::text(200, "hi");
    response.set_header("Content-Type", "text/html");
    response.set_header("X-Custom", "1");
    response.set_header("x-custom", "2");

    EXPECT_EQ(response.header("content-type"), "text/html");
    EXPECT_EQ(response.header("X-CUSTOM"), "2");
    std::size_t custom_count = 0;
    for (const auto& header : response.headers) {
        if (header.name == "X-Custom" || header.name == "x-custom") ++custom_count;
    }
    EXPECT_EQ(custom_count, 1U);
}

TEST(Response, JsonTextAndNoContent) {
    Response json = Response::json(201, boost::json::object{{"id", "org_1"}});
    EXPECT_EQ(json.status, 201);
    EXPECT_EQ(json.header("content-type"), "application/json");
    EXPECT_EQ(json.body, R"({"id":"org_1"})");

    Response text = Response::text(200, "plain");
    EXPECT_EQ(text.header("content-type"), "text/plain; charset=utf-8");
    EXPECT_EQ(text.body_view(), "plain");

    Response empty = Response::no_content();
    EXPECT_EQ(empty.status, 204);
    EXPECT_TRUE(empty.body_view().empty());
}

TEST(Response, SharedBodyWinsOverBody) {
    Response response;
    response.body = "ignored";
    response.shared_body = std::make_shared<const std::string>("shared");

    EXPECT_EQ(response.body_view(), "shared");
}

TEST(Response, MakeProblemFillsTypeAndTitle) {
    Response response = Response::make_problem(422, "invalid-field", "", "Fix the name.",
                                               {{"/name", "must not be empty"}});

    EXPECT_EQ(response.status, 422);
    ASSERT_TRUE(response.problem);
    EXPECT_EQ(response.problem->type, "/problems/invalid-field");
    EXPECT_EQ(response.problem->title, "Unprocessable Content") << "defaults to the reason phrase";
    EXPECT_EQ(response.problem->detail, "Fix the name.");
    ASSERT_EQ(response.problem->errors.size(), 1U);
    EXPECT_EQ(response.problem->errors[0].pointer, "/name");

    EXPECT_EQ(Response::make_problem(400, "", "Bad", "x").problem->type, "about:blank");
}

TEST(Response, FromErrorMapsEveryCodeToItsStatus) {
    struct Case {
        ErrorCode code;
        int status;
        std::string_view type;
    };
    for (const Case& c : {
             Case{ErrorCode::invalid_argument, 400, "/problems/invalid-argument"},
             Case{ErrorCode::unauthenticated, 401, "/problems/unauthenticated"},
             Case{ErrorCode::permission_denied, 403, "/problems/permission-denied"},
             Case{ErrorCode::not_found, 404, "/problems/not-found"},
             Case{ErrorCode::conflict, 409, "/problems/conflict"},
             Case{ErrorCode::precondition_failed, 412, "/problems/precondition-failed"},
             Case{ErrorCode::too_large, 413, "/problems/too-large"},
             Case{ErrorCode::rate_limited, 429, "/problems/rate-limited"},
             Case{ErrorCode::unavailable, 503, "/problems/unavailable"},
             Case{ErrorCode::internal, 500, "/problems/internal"},
         }) {
        EXPECT_EQ(status_for(c.code), c.status) << to_string(c.code);
        Response response = Response::from_error({c.code, "the message"});
        EXPECT_EQ(response.status, c.status) << to_string(c.code);
        ASSERT_TRUE(response.problem);
        EXPECT_EQ(response.problem->type, c.type);
        EXPECT_EQ(response.problem->title, status_text(c.status));
    }
}

TEST(Response, FromErrorPassesExpectedMessagesToTheCaller) {
    Response response = Response::from_error(Error::not_found("organization org_1 not found"));

    EXPECT_EQ(response.problem->detail, "organization org_1 not found");
}

TEST(Response, FromErrorNeverLeaksAnInternalMessage) {
    const std::string secret = "connection to postgres://u:hunter2@db failed at pool.cpp:42";
    Response response = Response::from_error(Error::internal(secret));

    EXPECT_EQ(response.status, 500);
    ASSERT_TRUE(response.problem);
    EXPECT_EQ(response.problem->detail.find("hunter2"), std::string::npos);
    EXPECT_EQ(response.problem->detail.find("pool.cpp"), std::string::npos);
    EXPECT_FALSE(response.problem->detail.empty()) << "still says something happened";

    Request request;
    request.path = "/api/v1/x";
    RequestContext context;
    context.request_id = "req_1";
    write_problem_body(response, request, context);
    EXPECT_EQ(response.body.find("hunter2"), std::string::npos) << response.body;
}

TEST(Response, ProblemBodyCarriesInstanceRequestIdAndFieldErrors) {
    Response response = Response::make_problem(400, "invalid-json", "Invalid JSON", "bad body",
                                               {{"/name", "required"}});
    Request request;
    request.path = "/api/v1/orgs";
    RequestContext context;
    context.request_id = "req_abc";
    write_problem_body(response, request, context);

    EXPECT_EQ(response.header("content-type"), "application/problem+json");
    boost::json::value body = boost::json::parse(response.body);
    EXPECT_EQ(body.at("type"), "/problems/invalid-json");
    EXPECT_EQ(body.at("title"), "Invalid JSON");
    EXPECT_EQ(body.at("status"), 400);
    EXPECT_EQ(body.at("detail"), "bad body");
    EXPECT_EQ(body.at("instance"), "/api/v1/orgs");
    EXPECT_EQ(body.at("request_id"), "req_abc");
    EXPECT_EQ(body.at("errors").at(0).at("pointer"), "/name");
    EXPECT_EQ(body.at("errors").at(0).at("message"), "required");
}

TEST(Response, ProblemBodyIsLeftAloneWithoutAProblem) {
    Response response = Response::text(200, "plain");
    Request request;
    RequestContext context;
    write_problem_body(response, request, context);

    EXPECT_EQ(response.body, "plain");
    EXPECT_EQ(response.header("content-type"), "text/plain; charset=utf-8");
}

TEST(StatusText, KnownAndUnknownCodes) {
    EXPECT_EQ(status_text(404), "Not Found");
    EXPECT_EQ(status_text(431), "Request Header Fields Too Large");
    EXPECT_EQ(status_text(599), "Unknown");
}

}  // namespace
}  // namespace nimbus::http
