#include <stdexcept>

#include <gtest/gtest.h>

#include "http/http.hpp"

namespace nimbus::http {
namespace {

/// A handler that answers with its route's name, so a test can tell which route matched.
SyncHandler answer(std::string name) {
    return [name](Request&, RequestContext&) { return Response::text(200, name); };
}

/// The body the matched route's handler produces; "" when nothing matched.
std::string matched(const Router& router, Method method, std::string_view path) {
    Match match = router.match(method, path);
    if (match.route == nullptr) return "";
    Request request;
    RequestContext context;
    return std::get<SyncHandler>(match.route->handler)(request, context).body;
}

TEST(Router, LiteralSegmentBeatsParameter) {
    Router router;
    router.add(Method::get, "/orgs/{org_id}", answer("by-id"));
    router.add(Method::get, "/orgs/new", answer("new"));

    EXPECT_EQ(matched(router, Method::get, "/orgs/new"), "new");
    EXPECT_EQ(matched(router, Method::get, "/orgs/org_42"), "by-id");
}

TEST(Router, LiteralDeadEndFallsBackToParameter) {
    // "/orgs/new/members" has no literal route, but "/orgs/{org_id}/members" must still match.
    Router router;
    router.add(Method::get, "/orgs/new", answer("new"));
    router.add(Method::get, "/orgs/{org_id}/members", answer("members"));

    Match match = router.match(Method::get, "/orgs/new/members");
    ASSERT_NE(match.route, nullptr);
    EXPECT_EQ(match.route->path_template, "/orgs/{org_id}/members");
    ASSERT_EQ(match.path_params.size(), 1U);
    EXPECT_EQ(match.path_params[0].second, "new");
}

TEST(Router, ExtractsPathParameters) {
    Router router;
    router.add(Method::get, "/api/v1/orgs/{org_id}/members/{id}", answer("member"));

    Match match = router.match(Method::get, "/api/v1/orgs/org_1/members/usr_2");
    ASSERT_NE(match.route, nullptr);
    EXPECT_EQ(match.route->path_template, "/api/v1/orgs/{org_id}/members/{id}");
    ASSERT_EQ(match.path_params.size(), 2U);
    EXPECT_EQ(match.path_params[0], (std::pair<std::string, std::string>{"org_id", "org_1"}));
    EXPECT_EQ(match.path_params[1], (std::pair<std::string, std::string>{"id", "usr_2"}));

    RequestContext context;
    context.path_params = match.path_params;
    EXPECT_EQ(context.path_param("org_id"), "org_1");
    EXPECT_EQ(context.path_param("id"), "usr_2");
    EXPECT_EQ(context.path_param("absent"), "");
}

TEST(Router, ParameterNeverMatchesAnEmptySegment) {
    Router router;
    router.add(Method::get, "/orgs/{org_id}", answer("by-id"));

    EXPECT_EQ(router.match(Method::get, "/orgs/").route, nullptr);
    EXPECT_EQ(router.match(Method::get, "/orgs//").route, nullptr);
}

TEST(Router, TrailingSlashIsADistinctPath) {
    Router router;
    router.add(Method::get, "/orgs", answer("no-slash"));

    EXPECT_EQ(matched(router, Method::get, "/orgs"), "no-slash");
    Match with_slash = router.match(Method::get, "/orgs/");
    EXPECT_EQ(with_slash.route, nullptr);
    EXPECT_TRUE(with_slash.allowed.empty()) << "a 404, not a 405";

    router.add(Method::get, "/orgs/", answer("slash"));
    EXPECT_EQ(matched(router, Method::get, "/orgs/"), "slash");
    EXPECT_EQ(matched(router, Method::get, "/orgs"), "no-slash");
}

TEST(Router, RootPath) {
    Router router;
    router.add(Method::get, "/", answer("root"));

    EXPECT_EQ(matched(router, Method::get, "/"), "root");
    EXPECT_EQ(router.match(Method::get, "/x").route, nullptr);
}

TEST(Router, UnknownPathHasNoRouteAndNoAllowedMethods) {
    Router router;
    router.add(Method::get, "/healthz", answer("health"));

    Match match = router.match(Method::get, "/nope");
    EXPECT_EQ(match.route, nullptr);
    EXPECT_TRUE(match.allowed.empty());
    EXPECT_EQ(router.match(Method::get, "").route, nullptr);
    EXPECT_EQ(router.match(Method::get, "healthz").route, nullptr) << "not an absolute path";
}

TEST(Router, WrongMethodListsTheAllowedOnesIncludingHeadViaGet) {
    Router router;
    router.add(Method::get, "/orgs/{org_id}", answer("get"));
    router.add(Method::delete_, "/orgs/{org_id}", answer("delete"));

    Match match = router.match(Method::post, "/orgs/org_1");
    EXPECT_EQ(match.route, nullptr);
    EXPECT_EQ(match.allowed, (std::vector<Method>{Method::get, Method::delete_, Method::head}));
}

TEST(Router, AllowedMethodsListHeadOnceWhenDeclared) {
    Router router;
    router.add(Method::get, "/files", answer("get"));
    router.add(Method::head, "/files", answer("head"));

    Match match = router.match(Method::put, "/files");
    EXPECT_EQ(match.allowed, (std::vector<Method>{Method::get, Method::head}));
}

TEST(Router, AllowedMethodsWithoutGetHaveNoHead) {
    Router router;
    router.add(Method::post, "/orgs", answer("post"));

    EXPECT_EQ(router.match(Method::get, "/orgs").allowed, (std::vector<Method>{Method::post}));
}

TEST(Router, HeadFallsBackToGetButPrefersItsOwnRoute) {
    Router router;
    router.add(Method::get, "/a", answer("get-a"));
    router.add(Method::get, "/b", answer("get-b"));
    router.add(Method::head, "/b", answer("head-b"));

    EXPECT_EQ(matched(router, Method::head, "/a"), "get-a");
    EXPECT_EQ(matched(router, Method::head, "/b"), "head-b");
}

TEST(Router, EachMethodHasItsOwnRoute) {
    Router router;
    router.add(Method::get, "/orgs", answer("list"));
    router.add(Method::post, "/orgs", answer("create"));

    EXPECT_EQ(matched(router, Method::get, "/orgs"), "list");
    EXPECT_EQ(matched(router, Method::post, "/orgs"), "create");
}

TEST(Router, KeepsRouteOptions) {
    Router router;
    router.add(Method::post, "/upload", answer("upload"),
               RouteOptions{.max_body_bytes = 10, .skip_steps = {"access_log"}});

    Match match = router.match(Method::post, "/upload");
    ASSERT_NE(match.route, nullptr);
    EXPECT_EQ(match.route->options.max_body_bytes, 10U);
    EXPECT_EQ(match.route->options.skip_steps, std::vector<std::string>{"access_log"});
    EXPECT_EQ(router.routes().size(), 1U);
}

TEST(Router, AcceptsCoroutineHandlers) {
    Router router;
    router.add(Method::get, "/slow",
               Task([](Request&, RequestContext&) -> boost::asio::awaitable<Response> {
                   co_return Response::no_content();
               }));

    Match match = router.match(Method::get, "/slow");
    ASSERT_NE(match.route, nullptr);
    EXPECT_TRUE(std::holds_alternative<Task>(match.route->handler));
}

TEST(Router, DuplicateRouteThrows) {
    Router router;
    router.add(Method::get, "/orgs/{org_id}", answer("a"));

    EXPECT_THROW(router.add(Method::get, "/orgs/{org_id}", answer("b")), std::invalid_argument);
    // The same shape with another parameter name is ambiguous, so it is refused too.
    EXPECT_THROW(router.add(Method::post, "/orgs/{id}", answer("c")), std::invalid_argument);
    // Another method on the same template is fine.
    EXPECT_NO_THROW(router.add(Method::post, "/orgs/{org_id}", answer("d")));
}

TEST(Router, MalformedTemplatesThrow) {
    for (std::string_view bad : {"", "orgs", "/orgs/{}", "/orgs/{id", "/orgs/id}", "/orgs/x{id}",
                                 "/orgs/{a{b}}", "/orgs/{id}x"}) {
        Router router;
        EXPECT_THROW(router.add(Method::get, bad, answer("bad")), std::invalid_argument)
            << "template: '" << bad << "'";
        EXPECT_TRUE(router.routes().empty()) << "template: '" << bad << "'";
    }
}

TEST(Router, ParsesAndPrintsMethods) {
    for (Method method : {Method::get, Method::head, Method::post, Method::put, Method::patch,
                          Method::delete_, Method::options}) {
        EXPECT_EQ(parse_method(to_string(method)), method);
    }
    EXPECT_EQ(to_string(Method::delete_), "DELETE");
    EXPECT_EQ(parse_method("get"), std::nullopt) << "methods are case-sensitive";
    EXPECT_EQ(parse_method("BREW"), std::nullopt);
    EXPECT_EQ(parse_method(""), std::nullopt);
}

}  // namespace
}  // namespace nimbus::http
