#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/ids.hpp"
#include "http/http.hpp"
#include "http/internal.hpp"
#include "http/test_support.hpp"

namespace nimbus::http {
namespace {

namespace asio = boost::asio;

constexpr std::string_view kMemberSchema = R"({
  "type": "object",
  "required": ["email", "role"],
  "additionalProperties": false,
  "properties": {
    "email": {"type": "string", "maxLength": 254, "pattern": "^[^@]+@[^@]+$"},
    "role": {"enum": ["owner", "admin", "member", "viewer"]},
    "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
    "note": {"type": ["string", "null"]}
  }
})";

constexpr std::string_view kListQuery = R"({
  "type": "object",
  "properties": {
    "limit": {"type": "integer", "minimum": 1, "maximum": 100, "description": "Page size."},
    "archived": {"type": "boolean"}
  }
})";

constexpr std::string_view kMemberResponse = R"({
  "type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}
})";

/// A router with one validated route, and a way to run requests through the default pipeline.
class ValidationTest : public ::testing::Test {
protected:
    ValidationTest() {
        router_.add(Method::post, "/members", SyncHandler([](Request&, RequestContext& context) {
                        // Handlers get the parsed body from the validate step.
                        EXPECT_TRUE(context.json_body.has_value());
                        std::string id =
                            context.json_body->at("email").as_string() == "bad@x" ? "" : "mem_1";
                        if (id.empty()) return Response::json(201, boost::json::object{{"id", 7}});
                        return Response::json(201, boost::json::object{{"id", id}});
                    }),
                    RouteOptions{.body_schema = std::string(kMemberSchema),
                                 .response_schema = std::string(kMemberResponse),
                                 .success_statuses = {201}});
        // Answers the status the query names, to try the declared-status check.
        router_.add(Method::put, "/members/{id}",
                    SyncHandler([](Request& request, RequestContext&) {
                        int status = std::stoi(request.query_param("status").value_or("200"));
                        if (status == 204) return Response::no_content();
                        if (status == 302) {
                            Response moved;
                            moved.status = status;
                            moved.set_header("location", "/members");
                            return moved;
                        }
                        return Response::json(status, boost::json::object{{"id", "mem_1"}});
                    }),
                    RouteOptions{.response_schema = std::string(kMemberResponse),
                                 .success_statuses = {200, 201, 204}});
        router_.add(Method::get, "/members", SyncHandler([](Request&, RequestContext&) {
                        return Response::json(200, boost::json::object{{"id", "list"}});
                    }),
                    RouteOptions{.query_schema = std::string(kListQuery)});
        PipelineSettings settings;
        settings.access_log = false;
        pipeline_ = default_pipeline(std::move(settings), nullptr);
    }

    Response send(Method method, const std::string& target, std::string body = {},
                  const std::string& content_type = "application/json") {
        std::vector<Header> headers;
        if (!content_type.empty()) headers.push_back({"content-type", content_type});
        EXPECT_NE(router_.match(method, target.substr(0, target.find('?'))).route, nullptr);
        return testing::dispatch(
            *pipeline_, router_,
            testing::make_request(method, target, std::move(headers), std::move(body)));
    }

    static boost::json::array errors_of(const Response& response) {
        return boost::json::parse(response.body).at("errors").as_array();
    }

    Router router_;
    std::unique_ptr<Pipeline> pipeline_;
};

TEST_F(ValidationTest, AValidBodyReachesTheHandlerParsed) {
    Response response =
        send(Method::post, "/members", R"({"email":"o'brien@acme.example","role":"admin"})");
    EXPECT_EQ(response.status, 201) << response.body;
}

TEST_F(ValidationTest, EveryViolationIsListedWithItsPointer) {
    Response response =
        send(Method::post, "/members",
             R"({"email":"not-an-email","role":"god","tags":[1,"a","b","c"],"x":1})");
    ASSERT_EQ(response.status, 400) << response.body;
    EXPECT_EQ(response.header("content-type"), "application/problem+json");
    std::set<std::string> pointers;
    for (const auto& error : errors_of(response)) {
        pointers.insert(std::string(error.at("pointer").as_string()));
        EXPECT_FALSE(error.at("message").as_string().empty());
    }
    EXPECT_TRUE(pointers.count("/email")) << response.body;
    EXPECT_TRUE(pointers.count("/role")) << response.body;
    EXPECT_TRUE(pointers.count("/tags/0")) << response.body;
    EXPECT_TRUE(pointers.count("/tags")) << response.body;  // maxItems
    EXPECT_TRUE(pointers.count("/x")) << response.body;     // additionalProperties: the field
}

TEST_F(ValidationTest, FindingsAreWordedAsHandlersWordThem) {
    Response response =
        send(Method::post, "/members", R"({"role":"god","tags":[1],"x":1,"note":5})");
    ASSERT_EQ(response.status, 400) << response.body;
    std::map<std::string, std::string> messages;
    for (const auto& error : errors_of(response)) {
        messages[std::string(error.at("pointer").as_string())] =
            std::string(error.at("message").as_string());
    }
    EXPECT_EQ(messages["/email"], "is required") << response.body;
    EXPECT_EQ(messages["/role"], "must be one of: owner, admin, member, viewer");
    EXPECT_EQ(messages["/tags/0"], "must be a string");
    EXPECT_EQ(messages["/x"], "is not a field");
    EXPECT_EQ(messages["/note"], "must be a string or null");
    // A body that is not JSON at all: the same problem shape, with the offset.
    Response broken = send(Method::post, "/members", "{\"email\":");
    EXPECT_EQ(broken.status, 400);
    EXPECT_NE(broken.body.find(R"("type":"/problems/invalid-json")"), std::string::npos)
        << broken.body;
    EXPECT_NE(broken.body.find(R"("pointer":"")"), std::string::npos) << broken.body;
}

TEST_F(ValidationTest, MissingFieldsWrongTypesAndNonObjects) {
    for (std::string_view body :
         {R"({})", R"({"email":5,"role":"admin"})", R"([])", R"("text")", R"(null)"}) {
        Response response = send(Method::post, "/members", std::string(body));
        EXPECT_EQ(response.status, 400) << body << " -> " << response.body;
        EXPECT_FALSE(errors_of(response).empty()) << body;
    }
}

TEST_F(ValidationTest, InvalidJsonNamesTheOffsetAndWrongContentTypeIs415) {
    Response broken = send(Method::post, "/members", R"({"email": "a@b",)");
    EXPECT_EQ(broken.status, 400);
    EXPECT_NE(broken.body.find("offset"), std::string::npos) << broken.body;
    Response form =
        send(Method::post, "/members", "email=a@b", "application/x-www-form-urlencoded");
    EXPECT_EQ(form.status, 415) << form.body;
    Response none = send(Method::post, "/members", R"({"email":"a@b","role":"admin"})", "");
    EXPECT_EQ(none.status, 415) << none.body;
}

TEST_F(ValidationTest, QueryParametersAreCoercedAndChecked) {
    EXPECT_EQ(send(Method::get, "/members?limit=10&archived=true").status, 200);
    EXPECT_EQ(send(Method::get, "/members").status, 200);
    for (std::string target : {"/members?limit=0", "/members?limit=ten", "/members?limit=1000",
                               "/members?archived=maybe", "/members?limit=1.5"}) {
        Response response = send(Method::get, target);
        ASSERT_EQ(response.status, 400) << target;
        auto errors = errors_of(response);
        ASSERT_FALSE(errors.empty());
        std::string parameter(errors[0].at("parameter").as_string());
        EXPECT_TRUE(parameter == "limit" || parameter == "archived") << response.body;
    }
}

constexpr std::string_view kMemberPath = R"({
  "type": "object",
  "properties": {
    "org_id": {"type": "string", "pattern": "^org_[0-9A-Z]{4}$", "description": "an org id"},
    "user_id": {"type": "string", "pattern": "^usr_[0-9A-Z]{4}$"},
    "page": {"type": "integer", "minimum": 1}
  }
})";

// A malformed path parameter is a 400 naming it, like a query parameter, and the handler never
// runs; path and query violations come in one answer.
TEST(Validation, PathParametersAreCheckedBeforeTheHandler) {
    int calls = 0;
    Router router;
    router.add(Method::delete_, "/orgs/{org_id}/members/{user_id}/{page}",
               SyncHandler([&](Request&, RequestContext&) {
                   ++calls;
                   return Response::no_content();
               }),
               RouteOptions{.query_schema = std::string(kListQuery),
                            .path_schema = std::string(kMemberPath),
                            .success_statuses = {204}});
    PipelineSettings settings;
    settings.access_log = false;
    auto pipeline = default_pipeline(std::move(settings), nullptr);
    auto send = [&](const std::string& target) {
        return testing::dispatch(*pipeline, router,
                                 testing::make_request(Method::delete_, target, {}, {}));
    };
    EXPECT_EQ(send("/orgs/org_AB12/members/usr_CD34/2").status, 204);
    EXPECT_EQ(calls, 1);
    struct Case {
        std::string target;
        std::set<std::string> parameters;  ///< every parameter errors[] must name
    };
    const std::vector<Case> cases = {
        {"/orgs/org_ab12/members/usr_CD34/2", {"org_id"}},
        {"/orgs/org_AB12/members/x/2", {"user_id"}},
        {"/orgs/nope/members/'%20OR%201=1/2", {"org_id", "user_id"}},
        {"/orgs/org_AB12/members/usr_CD34/0", {"page"}},
        {"/orgs/org_AB12/members/usr_CD34/two", {"page"}},
        {"/orgs/org_AB12/members/usr_CD34/" + std::string(10'000, '9'), {"page"}},
        {"/orgs/x/members/usr_CD34/2?limit=0", {"org_id", "limit"}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.target);
        Response response = send(c.target);
        ASSERT_EQ(response.status, 400) << response.body;
        EXPECT_EQ(response.header("content-type"), "application/problem+json");
        auto body = boost::json::parse(response.body).as_object();
        EXPECT_EQ(body.at("type").as_string(), "/problems/validation-failed");
        std::set<std::string> named;
        for (const auto& error : body.at("errors").as_array()) {
            named.insert(std::string(error.at("parameter").as_string()));
            EXPECT_FALSE(error.as_object().contains("pointer")) << response.body;
            EXPECT_FALSE(error.at("message").as_string().empty());
        }
        EXPECT_EQ(named, c.parameters) << response.body;
    }
    EXPECT_EQ(calls, 1) << "the handler ran";
    // A pattern's violation says what is expected, in the schema's words.
    Response response = send("/orgs/org_ab12/members/usr_CD34/2");
    EXPECT_NE(response.body.find(R"("message":"must be an org id")"), std::string::npos)
        << response.body;
}

TEST(Validation, PathSchemasNamingAbsentParametersAreRefusedAtStart) {
    Router router;
    auto ok = SyncHandler([](Request&, RequestContext&) { return Response::no_content(); });
    // user_id and page are not in this template: a typo that would check nothing.
    EXPECT_THROW(router.add(Method::get, "/orgs/{org_id}", ok,
                            RouteOptions{.path_schema = std::string(kMemberPath)}),
                 std::invalid_argument);
    EXPECT_THROW(router.add(Method::get, "/a/{id}", ok, RouteOptions{.path_schema = "{not json"}),
                 std::invalid_argument);
    EXPECT_THROW(router.add(Method::get, "/b/{id}", ok,
                            RouteOptions{.path_schema = R"({"type": "object"})"}),
                 std::invalid_argument);
    EXPECT_NO_THROW(router.add(Method::get, "/orgs/{org_id}/members/{user_id}/{page}", ok,
                               RouteOptions{.path_schema = std::string(kMemberPath)}));
}

TEST(Validation, IdSchemasTakeWhatNewIdMintsAndNothingElse) {
    Router router;
    int calls = 0;
    router.add(Method::get, "/orgs/{org_id}", SyncHandler([&](Request&, RequestContext&) {
                   ++calls;
                   return Response::no_content();
               }),
               RouteOptions{.path_schema = path_parameters_schema(
                                {{"org_id", id_schema("org", "an organization id")}}),
                            .success_statuses = {204}});
    PipelineSettings settings;
    settings.access_log = false;
    auto pipeline = default_pipeline(std::move(settings), nullptr);
    auto send = [&](const std::string& id) {
        return testing::dispatch(*pipeline, router,
                                 testing::make_request(Method::get, "/orgs/" + id, {}, {}));
    };
    const std::string minted = new_id("org", 1'700'000'000'000);
    EXPECT_EQ(send(minted).status, 204);
    const std::string ulid = minted.substr(4);
    std::string lower = minted;
    for (std::size_t idx = 4; idx < lower.size(); ++idx) {
        lower[idx] = static_cast<char>(std::tolower(static_cast<unsigned char>(lower[idx])));
    }
    for (const std::string& bad :
         {"usr_" + ulid, "org" + ulid, "org_" + ulid.substr(1), minted + "0", lower,
          "org_8" + ulid.substr(1), "org_" + ulid.substr(0, 25) + "U", std::string("me")}) {
        Response response = send(bad);
        EXPECT_EQ(response.status, 400) << bad;
        EXPECT_NE(response.body.find(R"("message":"must be an organization id")"),
                  std::string::npos)
            << response.body;
    }
    EXPECT_EQ(calls, 1);
}

TEST(OpenApi, PublishesEachPathParameterSchema) {
    Router router;
    auto ok = SyncHandler([](Request&, RequestContext&) { return Response::no_content(); });
    router.add(Method::get, "/orgs/{org_id}/members/{user_id}/{page}", ok,
               RouteOptions{.path_schema = R"({"type": "object", "properties": {
                   "org_id": {"type": "string", "pattern": "^org_$", "description": "an org id"}}})"});
    auto document = openapi_document(router, "1").as_object();
    const auto& parameters = document.at("paths")
                                 .at("/orgs/{org_id}/members/{user_id}/{page}")
                                 .at("get")
                                 .at("parameters")
                                 .as_array();
    ASSERT_EQ(parameters.size(), 3U);
    EXPECT_EQ(parameters[0].at("schema").at("pattern").as_string(), "^org_$");
    EXPECT_EQ(parameters[0].at("description").as_string(), "an org id");
    EXPECT_TRUE(parameters[0].at("required").as_bool());
    // Parameters the schema leaves out stay plain strings.
    EXPECT_EQ(parameters[1].at("name").as_string(), "user_id");
    EXPECT_EQ(parameters[1].at("schema").at("type").as_string(), "string");
    EXPECT_EQ(parameters[2].at("in").as_string(), "path");
}

#ifndef NDEBUG
TEST_F(ValidationTest, DebugBuildsRefuseResponsesThatBreakTheirSchema) {
    Response response = send(Method::post, "/members", R"({"email":"bad@x","role":"admin"})");
    EXPECT_EQ(response.status, 500) << response.body;
    EXPECT_NE(response.body.find("response-schema-violation"), std::string::npos);
}
#endif

TEST_F(ValidationTest, DeclaredSuccessStatusesPass) {
    for (int status : {200, 201, 204}) {
        Response response = send(Method::put, "/members/mem_1?status=" + std::to_string(status));
        // 204 carries no content, so the response schema is not asked of it.
        EXPECT_EQ(response.status, status) << response.body;
    }
}

#ifndef NDEBUG
TEST_F(ValidationTest, DebugBuildsRefuseSuccessStatusesTheRouteDoesNotDeclare) {
    for (int status : {202, 206, 302}) {
        Response response = send(Method::put, "/members/mem_1?status=" + std::to_string(status));
        EXPECT_EQ(response.status, 500) << status;
        EXPECT_NE(response.body.find("response-schema-violation"), std::string::npos);
        EXPECT_NE(response.body.find("status " + std::to_string(status) +
                                     " is not declared; the route answers 200, 201, 204"),
                  std::string::npos)
            << response.body;
    }
    // Errors are not successes: a route never declares them, and they pass unchecked.
    EXPECT_EQ(send(Method::put, "/members/mem_1?status=409").status, 409);
}
#endif

TEST(Validation, MalformedSuccessStatusesAreRefusedAtStart) {
    Router router;
    auto ok = SyncHandler([](Request&, RequestContext&) { return Response::no_content(); });
    const std::vector<std::vector<int>> refused{{},    {404},      {199},
                                                {304}, {200, 200}, {201, 204, 201}};
    for (const auto& statuses : refused) {
        EXPECT_THROW(router.add(Method::post, "/a", ok, RouteOptions{.success_statuses = statuses}),
                     std::invalid_argument)
            << statuses.size();
    }
    // A response schema with no status that carries content describes nothing.
    EXPECT_THROW(router.add(Method::post, "/b", ok,
                            RouteOptions{.response_schema = std::string(kMemberResponse),
                                         .success_statuses = {204}}),
                 std::invalid_argument);
    EXPECT_NO_THROW(router.add(Method::post, "/c", ok, RouteOptions{.success_statuses = {204}}));
    EXPECT_NO_THROW(router.add(Method::get, "/d", ok, RouteOptions{.success_statuses = {302}}));
}

TEST(Validation, MalformedSchemasAreRefusedAtStart) {
    Router router;
    auto ok = SyncHandler([](Request&, RequestContext&) { return Response::no_content(); });
    EXPECT_THROW(router.add(Method::post, "/a", ok, RouteOptions{.body_schema = "{not json"}),
                 std::invalid_argument);
    EXPECT_THROW(router.add(Method::post, "/b", ok, RouteOptions{.body_schema = R"({"type": 5})"}),
                 std::invalid_argument);
    EXPECT_THROW(router.add(Method::post, "/c", ok, RouteOptions{.error_schema = "{not json"}),
                 std::invalid_argument);
}

TEST(OpenApi, DescribesRoutesParametersSchemasAndSecurity) {
    Router router;
    auto ok = SyncHandler([](Request&, RequestContext&) { return Response::no_content(); });
    router.add(Method::get, "/api/v1/orgs/{org_id}/members", ok,
               RouteOptions{.permission = "org.members.read",
                            .summary = "List members",
                            .tag = "identity",
                            .query_schema = std::string(kListQuery)});
    router.add(Method::post, "/api/v1/orgs/{org_id}/members", ok,
               RouteOptions{.body_schema = std::string(kMemberSchema), .deprecated = true});
    auto document = openapi_document(router, "1.2.3").as_object();
    EXPECT_EQ(document.at("openapi").as_string(), "3.1.0");
    EXPECT_EQ(document.at("info").at("version").as_string(), "1.2.3");
    const auto& item = document.at("paths").at("/api/v1/orgs/{org_id}/members").as_object();
    const auto& list = item.at("get").as_object();
    EXPECT_EQ(list.at("summary").as_string(), "List members");
    EXPECT_EQ(list.at("operationId").as_string(), "get_api_v1_orgs_org_id_members");
    EXPECT_EQ(list.at("x-nimbus-permission").as_string(), "org.members.read");
    const auto& parameters = list.at("parameters").as_array();
    ASSERT_EQ(parameters.size(), 3U);  // org_id, archived, limit
    EXPECT_EQ(parameters[0].at("name").as_string(), "org_id");
    EXPECT_EQ(parameters[0].at("in").as_string(), "path");
    const auto& create = item.at("post").as_object();
    EXPECT_TRUE(create.at("deprecated").as_bool());
    EXPECT_EQ(create.at("requestBody")
                  .at("content")
                  .at("application/json")
                  .at("schema")
                  .at("type")
                  .as_string(),
              "object");
    EXPECT_TRUE(document.at("components").at("schemas").as_object().contains("Problem"));
    // Undeclared: one 200 answer, without content while no response schema describes it.
    EXPECT_EQ(list.at("responses").at("200").at("description").as_string(), "Success.");
    EXPECT_FALSE(list.at("responses").at("200").as_object().contains("content"));
    EXPECT_EQ(create.at("responses").as_object().size(), 3U);  // 200, 4XX and 5XX
}

TEST(OpenApi, PublishesEachDeclaredSuccessStatus) {
    Router router;
    auto ok = SyncHandler([](Request&, RequestContext&) { return Response::no_content(); });
    router.add(Method::put, "/api/v1/notes/{id}", ok,
               RouteOptions{.response_schema = std::string(kMemberResponse),
                            .success_statuses = {200, 201}});
    router.add(Method::delete_, "/api/v1/notes/{id}", ok, RouteOptions{.success_statuses = {204}});
    router.add(Method::get, "/go", ok, RouteOptions{.success_statuses = {302}});
    router.add(Method::get, "/metrics", ok,
               RouteOptions{.response_schema = R"({"type": "string"})",
                            .response_media_type = "text/plain; version=0.0.4"});
    router.add(Method::post, "/token", ok,
               RouteOptions{.error_schema = R"({"type": "object", "required": ["error"]})"});
    auto document = openapi_document(router, "1").as_object();
    const auto& paths = document.at("paths").as_object();
    const auto& put = paths.at("/api/v1/notes/{id}").at("put").at("responses").as_object();
    for (std::string_view status : {"200", "201"}) {
        EXPECT_EQ(put.at(status)
                      .at("content")
                      .at("application/json")
                      .at("schema")
                      .at("required")
                      .as_array()
                      .at(0)
                      .as_string(),
                  "id")
            << status;
    }
    EXPECT_EQ(put.at("201").at("description").as_string(), "Created.");
    EXPECT_TRUE(put.contains("4XX"));
    const auto& removed = paths.at("/api/v1/notes/{id}").at("delete").at("responses").as_object();
    EXPECT_FALSE(removed.contains("200"));
    EXPECT_FALSE(removed.at("204").as_object().contains("content"));
    const auto& moved = paths.at("/go").at("get").at("responses").as_object();
    EXPECT_FALSE(moved.at("302").as_object().contains("content"));
    EXPECT_TRUE(moved.at("302").at("headers").as_object().contains("Location"));
    // Routes answering their own errors list that shape beside the pipeline's problems.
    EXPECT_EQ(put.at("4XX").at("$ref").as_string(), "#/components/responses/Problem");
    const auto& token = paths.at("/token").at("post").at("responses").as_object();
    for (std::string_view range : {"4XX", "5XX"}) {
        const auto& content = token.at(range).at("content").as_object();
        EXPECT_EQ(content.at("application/json").at("schema").at("required").at(0).as_string(),
                  "error");
        EXPECT_EQ(content.at("application/problem+json").at("schema").at("$ref").as_string(),
                  "#/components/schemas/Problem");
    }
    const auto& metrics = paths.at("/metrics").at("get").at("responses").at("200").as_object();
    EXPECT_EQ(
        metrics.at("content").at("text/plain; version=0.0.4").at("schema").at("type").as_string(),
        "string");
}

// Every kind of schema violation is answered by the validate step: 400 (415 for a body that is
// not JSON by its type) problem+json listing what is wrong, and the handler never runs, so a
// refused request can change nothing.
TEST(Validation, NoKindOfViolationReachesTheHandler) {
    constexpr std::string_view kSchema = R"({
      "type": "object",
      "required": ["name", "count"],
      "additionalProperties": false,
      "properties": {
        "name": {"type": "string", "minLength": 2, "maxLength": 8, "pattern": "^[a-z]+$"},
        "count": {"type": "integer", "minimum": 1, "maximum": 10},
        "kind": {"enum": ["a", "b"]},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2},
        "owner": {"type": "object", "required": ["id"], "additionalProperties": false,
                  "properties": {"id": {"type": "string"}}},
        "flag": {"type": "boolean"}
      }
    })";
    constexpr std::string_view kQuery = R"({
      "type": "object",
      "properties": {"limit": {"type": "integer", "minimum": 1, "maximum": 100},
                     "mode": {"enum": ["fast", "slow"]}}
    })";
    int calls = 0;
    Router router;
    router.add(Method::post, "/things", SyncHandler([&](Request&, RequestContext&) {
                   ++calls;
                   return Response::no_content();
               }),
               RouteOptions{.body_schema = std::string(kSchema),
                            .query_schema = std::string(kQuery),
                            .success_statuses = {204}});
    PipelineSettings settings;
    settings.access_log = false;
    auto pipeline = default_pipeline(std::move(settings), nullptr);
    auto send = [&](const std::string& target, std::string body,
                    const std::string& content_type = "application/json") {
        std::vector<Header> headers;
        if (!content_type.empty()) headers.push_back({"content-type", content_type});
        return testing::dispatch(
            *pipeline, router,
            testing::make_request(Method::post, target, std::move(headers), std::move(body)));
    };
    const std::string valid = R"({"name":"abc","count":3})";
    struct Case {
        std::string name;
        std::string target;
        std::string body;
        std::string content_type;
        int status;
        std::string pointer;  ///< a pointer errors[] must name; empty: none asked
    };
    const std::vector<Case> cases = {
        {"missing required", "/things", R"({"name":"abc"})", "application/json", 400, "/count"},
        {"wrong type", "/things", R"({"name":5,"count":3})", "application/json", 400, "/name"},
        {"null for a string", "/things", R"({"name":null,"count":3})", "application/json", 400,
         "/name"},
        {"too short", "/things", R"({"name":"a","count":3})", "application/json", 400, "/name"},
        {"too long", "/things", R"({"name":"abcdefghi","count":3})", "application/json", 400,
         "/name"},
        {"pattern", "/things", R"({"name":"ab1","count":3})", "application/json", 400, "/name"},
        {"below minimum", "/things", R"({"name":"abc","count":0})", "application/json", 400,
         "/count"},
        {"above maximum", "/things", R"({"name":"abc","count":11})", "application/json", 400,
         "/count"},
        {"fraction for an integer", "/things", R"({"name":"abc","count":2.5})", "application/json",
         400, "/count"},
        {"huge number", "/things", R"({"name":"abc","count":1e300})", "application/json", 400,
         "/count"},
        {"not in the enum", "/things", R"({"name":"abc","count":3,"kind":"c"})", "application/json",
         400, "/kind"},
        {"too few items", "/things", R"({"name":"abc","count":3,"tags":[]})", "application/json",
         400, "/tags"},
        {"too many items", "/things", R"({"name":"abc","count":3,"tags":["a","b","c"]})",
         "application/json", 400, "/tags"},
        {"wrong item type", "/things", R"({"name":"abc","count":3,"tags":[1]})", "application/json",
         400, "/tags/0"},
        {"unknown field", "/things", R"({"name":"abc","count":3,"extra":1})", "application/json",
         400, "/extra"},
        {"nested missing field", "/things", R"({"name":"abc","count":3,"owner":{}})",
         "application/json", 400, "/owner/id"},
        {"nested unknown field", "/things", R"({"name":"abc","count":3,"owner":{"id":"x","y":1}})",
         "application/json", 400, "/owner/y"},
        {"string for a boolean", "/things", R"({"name":"abc","count":3,"flag":"true"})",
         "application/json", 400, "/flag"},
        {"a list, not an object", "/things", "[]", "application/json", 400, ""},
        {"a string, not an object", "/things", R"("abc")", "application/json", 400, ""},
        {"null body", "/things", "null", "application/json", 400, ""},
        {"empty body", "/things", "", "application/json", 400, ""},
        {"not JSON", "/things", R"({"name":)", "application/json", 400, ""},
        {"form body", "/things", "name=abc&count=3", "application/x-www-form-urlencoded", 415, ""},
        {"no content type", "/things", valid, "", 415, ""},
        {"query: not a number", "/things?limit=ten", valid, "application/json", 400, ""},
        {"query: out of range", "/things?limit=1000", valid, "application/json", 400, ""},
        {"query: not in the enum", "/things?mode=warp", valid, "application/json", 400, ""},
        {"query: huge value", "/things?limit=" + std::string(10'000, '9'), valid,
         "application/json", 400, ""},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        Response response = send(c.target, c.body, c.content_type);
        EXPECT_EQ(response.status, c.status) << response.body;
        EXPECT_EQ(response.header("content-type"), "application/problem+json");
        if (c.status == 400) {
            boost::system::error_code ec;
            auto parsed = boost::json::parse(response.body, ec);
            ASSERT_FALSE(ec) << response.body;
            const auto* errors = parsed.as_object().if_contains("errors");
            ASSERT_TRUE(errors != nullptr && !errors->as_array().empty()) << response.body;
            if (!c.pointer.empty()) {
                EXPECT_NE(response.body.find(R"("pointer":")" + c.pointer + "\""),
                          std::string::npos)
                    << response.body;
            }
        }
        EXPECT_EQ(calls, 0) << "the handler ran";
    }
    // The same route takes a valid request, so the refusals above were the schema's.
    EXPECT_EQ(send("/things?limit=5&mode=fast", valid).status, 204);
    EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace nimbus::http
