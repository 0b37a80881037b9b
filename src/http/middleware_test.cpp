#include <zlib.h>

#include <exception>
#include <stdexcept>

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>

#include "core/metrics.hpp"
#include "http/http.hpp"
#include "http/internal.hpp"
#include "http/test_support.hpp"

namespace nimbus::http {
namespace {

namespace asio = boost::asio;

constexpr std::string_view kSecret = "secret detail from deep inside: password=hunter2";

/// Runs `pipeline` for one request on a private io_context, as the server would on an I/O thread.
Response run(Pipeline& pipeline, Request& request, RequestContext& context,
             const Route* route = nullptr, const SyncHandler* fallback = nullptr) {
    asio::io_context io;
    std::optional<Response> result;
    std::exception_ptr failure;
    asio::co_spawn(io, pipeline.run(request, context, route, fallback),
                   [&](std::exception_ptr error, Response response) {
                       failure = error;
                       result = std::move(response);
                   });
    io.run();
    if (failure) std::rethrow_exception(failure);
    return std::move(*result);
}

Route sync_route(std::string path_template, SyncHandler handler, RouteOptions options = {}) {
    return Route{Method::get, std::move(path_template), std::move(handler), std::move(options)};
}

Route ok_route(std::string body = "ok") {
    return sync_route("/test",
                      [body](Request&, RequestContext&) { return Response::text(200, body); });
}

Request get(std::string path, std::vector<Header> headers = {}) {
    Request request;
    request.method = Method::get;
    request.path = path;
    request.target = std::move(path);
    request.headers = std::move(headers);
    return request;
}

PipelineSettings quiet_settings() {
    PipelineSettings settings;
    settings.access_log = false;
    settings.cors_origins = {"https://app.example.com"};
    return settings;
}

/// Runs `request` through a fresh default pipeline with quiet_settings() to `route`; `context`
/// shows what the steps recorded.
Response run_default(Request request, const Route& route, RequestContext& context) {
    auto pipeline = default_pipeline(quiet_settings(), nullptr);
    return run(*pipeline, request, context, &route);
}

/// Records every call into a shared journal, and answers early when told to.
class Recorder final : public Middleware {
public:
    Recorder(std::string name, std::vector<std::string>& journal, bool answer = false)
        : name_(std::move(name)), journal_(journal), answer_(answer) {}

    std::string_view name() const override { return name_; }

    std::optional<Response> on_request(Request&, RequestContext&) override {
        journal_.push_back(name_ + ".request");
        if (answer_) return Response::make_problem(403, "denied", "Forbidden", "by " + name_);
        return std::nullopt;
    }

    void on_response(const Request&, RequestContext&, Response& response) override {
        journal_.push_back(name_ + ".response");
        response.set_header("x-seen-by-" + name_, "1");
    }

private:
    std::string name_;
    std::vector<std::string>& journal_;
    bool answer_;
};

class Throwing final : public Middleware {
public:
    std::string_view name() const override { return "throwing"; }
    std::optional<Response> on_request(Request&, RequestContext&) override {
        throw std::runtime_error(std::string(kSecret));
    }
};

std::string gunzip(std::string_view compressed) {
    z_stream stream{};
    constexpr int kGzipOnlyWindowBits = 15 + 16;
    EXPECT_EQ(inflateInit2(&stream, kGzipOnlyWindowBits), Z_OK);
    std::string output(1 << 20, '\0');
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
    stream.avail_in = static_cast<uInt>(compressed.size());
    stream.next_out = reinterpret_cast<Bytef*>(output.data());
    stream.avail_out = static_cast<uInt>(output.size());
    EXPECT_EQ(inflate(&stream, Z_FINISH), Z_STREAM_END);
    output.resize(stream.total_out);
    inflateEnd(&stream);
    return output;
}

// ---- The runner ----------------------------------------------------------------------------

TEST(Pipeline, RunsRequestsInOrderAndResponsesInReverse) {
    std::vector<std::string> journal;
    Pipeline pipeline;
    pipeline.append(std::make_unique<Recorder>("a", journal));
    pipeline.append(std::make_unique<Recorder>("b", journal));
    Route route = ok_route();
    Request request = get("/test");
    RequestContext context;

    Response response = run(pipeline, request, context, &route);

    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.body, "ok");
    EXPECT_EQ(journal,
              (std::vector<std::string>{"a.request", "b.request", "b.response", "a.response"}));
}

TEST(Pipeline, EarlyAnswerSkipsLaterStepsButEarlierOnesSeeTheResponse) {
    std::vector<std::string> journal;
    Pipeline pipeline;
    pipeline.append(std::make_unique<Recorder>("first", journal));
    pipeline.append(std::make_unique<Recorder>("guard", journal, /*answer=*/true));
    pipeline.append(std::make_unique<Recorder>("later", journal));
    bool handler_ran = false;
    Route route = sync_route("/test", [&](Request&, RequestContext&) {
        handler_ran = true;
        return Response::text(200, "ok");
    });
    Request request = get("/test");
    RequestContext context;

    Response response = run(pipeline, request, context, &route);

    EXPECT_FALSE(handler_ran);
    EXPECT_EQ(response.status, 403);
    EXPECT_EQ(journal, (std::vector<std::string>{"first.request", "guard.request", "guard.response",
                                                 "first.response"}));
    EXPECT_TRUE(response.header("x-seen-by-first"));
    EXPECT_FALSE(response.header("x-seen-by-later"));
    EXPECT_EQ(response.header("content-type"), "application/problem+json")
        << "the early problem is serialized before earlier steps see it";
}

TEST(Pipeline, RouteMaySkipStepsByName) {
    std::vector<std::string> journal;
    Pipeline pipeline;
    pipeline.append(std::make_unique<Recorder>("a", journal));
    pipeline.append(std::make_unique<Recorder>("noisy", journal));
    Route route = sync_route(
        "/test", [](Request&, RequestContext&) { return Response::text(200, "ok"); },
        RouteOptions{.skip_steps = {"noisy"}});
    Request request = get("/test");
    RequestContext context;

    run(pipeline, request, context, &route);

    EXPECT_EQ(journal, (std::vector<std::string>{"a.request", "a.response"}));
}

TEST(Pipeline, RunsTheFallbackWithoutARouteAnd404WithoutEither) {
    Pipeline pipeline;
    SyncHandler fallback = [](Request&, RequestContext&) { return Response::text(200, "static"); };
    Request request = get("/somewhere");
    RequestContext context;
    context.request_id = "req_1";

    EXPECT_EQ(run(pipeline, request, context, nullptr, &fallback).body, "static");

    Response missing = run(pipeline, request, context);
    EXPECT_EQ(missing.status, 404);
    EXPECT_EQ(missing.header("content-type"), "application/problem+json");
}

TEST(Pipeline, RunsCoroutineHandlers) {
    Pipeline pipeline;
    Route route{Method::get,
                "/slow",
                Task([](Request&, RequestContext&) -> asio::awaitable<Response> {
                    asio::steady_timer timer(co_await asio::this_coro::executor,
                                             std::chrono::milliseconds(1));
                    co_await timer.async_wait(asio::use_awaitable);
                    co_return Response::text(200, "waited");
                }),
                {}};
    Request request = get("/slow");
    RequestContext context;

    EXPECT_EQ(run(pipeline, request, context, &route).body, "waited");
}

TEST(Pipeline, RunBlockingWithoutAPoolRunsInline) {
    Pipeline pipeline;
    Route route{Method::get,
                "/work",
                Task([](Request&, RequestContext& context) -> asio::awaitable<Response> {
                    int answer = 0;
                    co_await context.run_blocking([&] { answer = 42; });
                    co_await context.run_database([&] { answer += 1; });
                    co_return Response::text(200, std::to_string(answer));
                }),
                {}};
    Request request = get("/work");
    RequestContext context;

    EXPECT_EQ(run(pipeline, request, context, &route).body, "43");
}

// ---- Recover ---------------------------------------------------------------------------------

void expect_hidden_500(const Response& response, std::string_view request_id) {
    EXPECT_EQ(response.status, 500);
    EXPECT_EQ(response.header("content-type"), "application/problem+json");
    EXPECT_EQ(response.body.find("hunter2"), std::string::npos) << response.body;
    EXPECT_EQ(response.body.find("secret detail"), std::string::npos) << response.body;
    boost::json::value body = boost::json::parse(response.body);
    EXPECT_EQ(body.at("status"), 500);
    EXPECT_EQ(body.at("request_id").as_string(), request_id);
}

TEST(Pipeline, SyncHandlerExceptionBecomesA500ProblemWithTheRequestId) {
    Route route = sync_route("/test", [](Request&, RequestContext&) -> Response {
        throw std::runtime_error(std::string(kSecret));
    });
    RequestContext context;

    Response response = run_default(get("/test"), route, context);

    expect_hidden_500(response, context.request_id);
    EXPECT_EQ(response.header("x-request-id"), context.request_id);
    EXPECT_EQ(response.header("x-content-type-options"), "nosniff") << "still hardened";
}

TEST(Pipeline, CoroutineHandlerExceptionBecomesA500Problem) {
    Route route{
        Method::get,
        "/test",
        Task([](Request&, RequestContext& context) -> asio::awaitable<Response> {
            co_await context.run_blocking([] { throw std::runtime_error(std::string(kSecret)); });
            co_return Response::text(200, "unreachable");
        }),
        {}};
    RequestContext context;

    Response response = run_default(get("/test"), route, context);

    expect_hidden_500(response, context.request_id);
}

TEST(Pipeline, StepExceptionBecomesA500AndEarlierStepsStillSeeIt) {
    std::vector<std::string> journal;
    Pipeline pipeline;
    pipeline.append(std::make_unique<Recorder>("outer", journal));
    pipeline.append(std::make_unique<Throwing>());
    Route route = ok_route();
    Request request = get("/test");
    RequestContext context;
    context.request_id = "req_step";

    Response response = run(pipeline, request, context, &route);

    expect_hidden_500(response, "req_step");
    EXPECT_EQ(journal.back(), "outer.response");
}

// ---- Request id ------------------------------------------------------------------------------

TEST(RequestIdStep, GeneratesAnIdWhenNoneIsSent) {
    auto pipeline = default_pipeline(quiet_settings(), nullptr);
    Route route = ok_route();
    Request first = get("/test");
    Request second = get("/test");
    RequestContext first_context;
    RequestContext second_context;

    Response first_response = run(*pipeline, first, first_context, &route);
    Response second_response = run(*pipeline, second, second_context, &route);

    EXPECT_TRUE(first_context.request_id.starts_with("req_")) << first_context.request_id;
    EXPECT_EQ(first_response.header("x-request-id"), first_context.request_id);
    EXPECT_NE(first_context.request_id, second_context.request_id);
}

TEST(RequestIdStep, KeepsAPlainIncomingId) {
    RequestContext context;

    Response response =
        run_default(get("/test", {{"x-request-id", "proxy-abc_123.4"}}), ok_route(), context);

    EXPECT_EQ(context.request_id, "proxy-abc_123.4");
    EXPECT_EQ(response.header("x-request-id"), "proxy-abc_123.4");
}

TEST(RequestIdStep, ReplacesAHostileIncomingId) {
    auto pipeline = default_pipeline(quiet_settings(), nullptr);
    Route route = ok_route();
    for (std::string hostile :
         {std::string("abc\",\"level\":\"error"), std::string("a b"), std::string("line\nbreak"),
          std::string(129, 'a'), std::string("")}) {
        Request request = get("/test", {{"x-request-id", hostile}});
        RequestContext context;

        Response response = run(*pipeline, request, context, &route);

        EXPECT_NE(context.request_id, hostile);
        EXPECT_TRUE(context.request_id.starts_with("req_")) << context.request_id;
        EXPECT_EQ(response.header("x-request-id"), context.request_id);
    }
}

// ---- Compression -----------------------------------------------------------------------------

Response compressed_answer(std::string_view accept_encoding, std::size_t body_bytes,
                           std::string content_type = "application/json") {
    auto pipeline = default_pipeline(quiet_settings(), nullptr);
    std::string body(body_bytes, 'x');
    Route route = sync_route("/test", [body, content_type](Request&, RequestContext&) {
        return Response::text(200, body, content_type);
    });
    Request request = get("/test");
    if (!accept_encoding.empty())
        request.headers.push_back({"accept-encoding", std::string(accept_encoding)});
    RequestContext context;
    return run(*pipeline, request, context, &route);
}

TEST(CompressionStep, GzipsLargeBodiesWhenAccepted) {
    constexpr std::size_t kLarge = 4096;
    Response response = compressed_answer("gzip, deflate, br", kLarge);

    EXPECT_EQ(response.header("content-encoding"), "gzip");
    EXPECT_EQ(response.header("vary"), "Accept-Encoding");
    EXPECT_LT(response.body.size(), kLarge);
    EXPECT_EQ(gunzip(response.body), std::string(kLarge, 'x'));
}

TEST(CompressionStep, HonoursQualityValues) {
    constexpr std::size_t kLarge = 4096;
    EXPECT_EQ(compressed_answer("gzip;q=0.5", kLarge).header("content-encoding"), "gzip");
    EXPECT_EQ(compressed_answer("*", kLarge).header("content-encoding"), "gzip");
    EXPECT_FALSE(compressed_answer("gzip;q=0", kLarge).header("content-encoding"));
    EXPECT_FALSE(compressed_answer("gzip; q=0.0", kLarge).header("content-encoding"));
    EXPECT_FALSE(compressed_answer("br, gzip;q=0", kLarge).header("content-encoding"));
    EXPECT_FALSE(compressed_answer("identity", kLarge).header("content-encoding"));
    EXPECT_FALSE(compressed_answer("", kLarge).header("content-encoding"));
}

TEST(CompressionStep, LeavesSmallBodiesAlone) {
    Response small = compressed_answer("gzip", 100);

    EXPECT_FALSE(small.header("content-encoding"));
    EXPECT_EQ(small.body, std::string(100, 'x'));
}

TEST(CompressionStep, RespectsTheConfiguredThresholdExactly) {
    PipelineSettings settings = quiet_settings();
    settings.gzip_min_bytes = 64;
    auto pipeline = default_pipeline(std::move(settings), nullptr);
    auto answer_of = [&](std::size_t bytes) {
        Route route = sync_route("/test", [bytes](Request&, RequestContext&) {
            return Response::text(200, std::string(bytes, 'y'));
        });
        Request request = get("/test", {{"accept-encoding", "gzip"}});
        RequestContext context;
        return run(*pipeline, request, context, &route);
    };

    EXPECT_FALSE(answer_of(63).header("content-encoding"));
    EXPECT_EQ(answer_of(64).header("content-encoding"), "gzip");
}

TEST(CompressionStep, LeavesIncompressibleTypesAlone) {
    EXPECT_FALSE(compressed_answer("gzip", 4096, "image/png").header("content-encoding"));
}

// A browser accepts gzip, so large answers leave compressed; the response check of test builds
// must still read the body the handler wrote, not the compressed bytes.
TEST(CompressionStep, ResponsesAreCheckedBeforeTheyAreCompressed) {
    Router router;
    std::string name(4096, 'n');
    router.add(Method::get, "/items", SyncHandler([name](Request&, RequestContext&) {
                   return Response::json(200, boost::json::object{{"name", name}});
               }),
               RouteOptions{.response_schema = R"({"type": "object", "required": ["name"],
                                                   "properties": {"name": {"type": "string"}}})"});
    auto pipeline = default_pipeline(quiet_settings(), nullptr);

    Response response = testing::dispatch(
        *pipeline, router,
        testing::make_request(Method::get, "/items", {{"accept-encoding", "gzip"}}));

    ASSERT_EQ(response.status, 200) << response.body;
    EXPECT_EQ(response.header("content-encoding"), "gzip");
    EXPECT_EQ(boost::json::parse(gunzip(response.body)).at("name").as_string(), name);
}

TEST(AcceptsGzip, ParsesAcceptEncoding) {
    EXPECT_TRUE(accepts_gzip("gzip"));
    EXPECT_TRUE(accepts_gzip("deflate, gzip;q=1.0"));
    EXPECT_TRUE(accepts_gzip("gzip;q=0.001"));
    EXPECT_FALSE(accepts_gzip("gzip;q=0"));
    EXPECT_FALSE(accepts_gzip("gzip;q=0.000"));
    EXPECT_FALSE(accepts_gzip("deflate"));
    EXPECT_FALSE(accepts_gzip("xgzip"));
}

// ---- CORS ------------------------------------------------------------------------------------

Request preflight(std::string origin) {
    Request request = get("/api/v1/orgs", {{"origin", std::move(origin)},
                                           {"access-control-request-method", "POST"},
                                           {"access-control-request-headers", "content-type"}});
    request.method = Method::options;
    return request;
}

TEST(CorsStep, AnswersAPreflightFromAnAllowedOrigin) {
    bool handler_ran = false;
    Route route = sync_route("/api/v1/orgs", [&](Request&, RequestContext&) {
        handler_ran = true;
        return Response::text(200, "ok");
    });
    RequestContext context;

    Response response = run_default(preflight("https://app.example.com"), route, context);

    EXPECT_FALSE(handler_ran);
    EXPECT_EQ(response.status, 204);
    EXPECT_EQ(response.header("access-control-allow-origin"), "https://app.example.com");
    EXPECT_NE(response.header("access-control-allow-methods").value_or("").find("POST"),
              std::string_view::npos);
    EXPECT_EQ(response.header("access-control-allow-headers"), "content-type");
    EXPECT_TRUE(response.header("access-control-max-age"));
    EXPECT_EQ(response.header("vary"), "Origin");
}

TEST(CorsStep, RefusesAPreflightFromAnotherOrigin) {
    RequestContext context;

    Response response = run_default(preflight("https://evil.example.net"), ok_route(), context);

    EXPECT_EQ(response.status, 403);
    EXPECT_EQ(response.header("content-type"), "application/problem+json");
    EXPECT_FALSE(response.header("access-control-allow-origin"));
}

TEST(CorsStep, DecoratesSimpleRequestsOnlyForAllowedOrigins) {
    auto pipeline = default_pipeline(quiet_settings(), nullptr);
    Route route = ok_route();

    Request allowed = get("/test", {{"origin", "https://app.example.com"}});
    RequestContext allowed_context;
    Response allowed_response = run(*pipeline, allowed, allowed_context, &route);
    EXPECT_EQ(allowed_response.status, 200);
    EXPECT_EQ(allowed_response.header("access-control-allow-origin"), "https://app.example.com");
    EXPECT_EQ(allowed_response.header("access-control-allow-credentials"), "true");

    Request denied = get("/test", {{"origin", "https://evil.example.net"}});
    RequestContext denied_context;
    Response denied_response = run(*pipeline, denied, denied_context, &route);
    EXPECT_EQ(denied_response.status, 200) << "the browser, not the server, blocks the read";
    EXPECT_FALSE(denied_response.header("access-control-allow-origin"));
}

TEST(CorsStep, WithoutConfiguredOriginsEveryPreflightIsRefused) {
    PipelineSettings settings = quiet_settings();
    settings.cors_origins.clear();
    auto pipeline = default_pipeline(std::move(settings), nullptr);
    Route route = ok_route();
    Request request = preflight("https://app.example.com");
    RequestContext context;

    EXPECT_EQ(run(*pipeline, request, context, &route).status, 403);
}

// ---- Security headers and metrics ------------------------------------------------------------

TEST(SecurityHeadersStep, HardensEveryResponse) {
    auto pipeline = default_pipeline(quiet_settings(), nullptr);
    Route json_route = ok_route();
    Request request = get("/test");
    RequestContext context;

    Response response = run(*pipeline, request, context, &json_route);

    EXPECT_EQ(response.header("x-content-type-options"), "nosniff");
    EXPECT_EQ(response.header("x-frame-options"), "DENY");
    EXPECT_EQ(response.header("referrer-policy"), "no-referrer");
    EXPECT_EQ(response.header("cross-origin-opener-policy"), "same-origin");
    EXPECT_FALSE(response.header("content-security-policy")) << "only HTML needs a CSP";

    Route html_route = sync_route("/test", [](Request&, RequestContext&) {
        return Response::text(200, "<!doctype html>", "text/html; charset=utf-8");
    });
    RequestContext html_context;
    Response html = run(*pipeline, request, html_context, &html_route);
    auto csp = html.header("content-security-policy");
    ASSERT_TRUE(csp);
    EXPECT_NE(csp->find("frame-ancestors 'none'"), std::string_view::npos);
    EXPECT_NE(csp->find("default-src 'self'"), std::string_view::npos);
}

TEST(SecurityHeadersStep, HardensEarlyAnswersToo) {
    RequestContext context;

    Response response = run_default(preflight("https://evil.example.net"), ok_route(), context);

    EXPECT_EQ(response.status, 403);
    EXPECT_EQ(response.header("x-content-type-options"), "nosniff");
    EXPECT_TRUE(response.header("x-request-id"));
}

TEST(MetricsStep, CountsByRouteTemplateAndStatus) {
    metrics::Registry registry;
    auto pipeline = default_pipeline(quiet_settings(), &registry);
    Route route = sync_route("/orgs/{org_id}",
                             [](Request&, RequestContext&) { return Response::text(200, "ok"); });
    Request request = get("/orgs/org_1");
    RequestContext context;
    context.route = route.path_template;

    run(*pipeline, request, context, &route);

    std::string text = registry.render();
    EXPECT_NE(
        text.find(
            R"(nimbus_http_requests_total{method="GET",route="/orgs/{org_id}",status="200"} 1)"),
        std::string::npos)
        << text;
    EXPECT_EQ(text.find("org_1"), std::string::npos) << "raw paths would explode cardinality";
    EXPECT_NE(text.find(R"(nimbus_http_step_duration_seconds_count{step="request_id"})"),
              std::string::npos)
        << "each step is timed";
}

// ---- Authorization and waiting steps ----------------------------------------------------------

TEST(AuthorizeStep, AnswersUnauthenticatedForbiddenOrLetsThrough) {
    auto pipeline = default_pipeline(quiet_settings(), nullptr);
    Route route = sync_route(
        "/members", [](Request&, RequestContext&) { return Response::text(200, "members"); },
        RouteOptions{.permission = "org.members.read"});
    struct Case {
        std::string name;
        std::optional<Principal> principal;
        int status;
    };
    std::vector<Case> cases = {
        {"anonymous", std::nullopt, 401},
        {"without the permission", Principal{.id = "usr_1", .permissions = {"billing.manage"}},
         403},
        {"with the permission", Principal{.id = "usr_1", .permissions = {"org.members.read"}}, 200},
        {"with every permission", Principal{.id = "usr_1", .permissions = {"*"}}, 200},
    };
    for (const auto& c : cases) {
        Request request = get("/members");
        RequestContext context;
        context.principal = c.principal;
        context.matched_permission = route.options.permission;
        Response response = run(*pipeline, request, context, &route);
        EXPECT_EQ(response.status, c.status) << c.name;
        if (c.status == 401) {
            EXPECT_EQ(response.header("www-authenticate"), "Bearer");
            EXPECT_EQ(response.header("content-type"), "application/problem+json");
        }
        if (c.status == 403) {
            EXPECT_NE(response.body.find("org.members.read"), std::string::npos) << response.body;
        }
    }
}

/// A step that waits on a timer before refusing, as a Redis-backed step would wait on Redis.
class WaitingRefusal final : public Middleware {
public:
    std::string_view name() const override { return "waiting_refusal"; }
    bool waits() const override { return true; }
    asio::awaitable<std::optional<Response>> on_request_async(Request&, RequestContext&) override {
        asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(5));
        co_await timer.async_wait(asio::use_awaitable);
        co_return Response::make_problem(429, "rate-limited", "Too Many Requests", "slow down");
    }
};

TEST(Pipeline, AWaitingStepCanAnswerEarly) {
    PipelineSettings settings = quiet_settings();
    settings.rate_limit = std::make_unique<WaitingRefusal>();
    auto pipeline = default_pipeline(std::move(settings), nullptr);
    Route route = ok_route();
    Request request = get("/test");
    RequestContext context;
    Response response = run(*pipeline, request, context, &route);
    EXPECT_EQ(response.status, 429);
    EXPECT_TRUE(response.header("x-request-id"));  // earlier steps still saw the answer
}

TEST(HttpsRedirect, PlainRequestsAreSentToHttpsAndHttpsGetsHsts) {
    PipelineSettings settings = quiet_settings();
    settings.https_redirect_port = 8443;
    settings.hsts_max_age_s = 31536000;
    auto pipeline = default_pipeline(std::move(settings), nullptr);
    Route route = ok_route();
    struct Case {
        std::string host;
        std::string location;
    };
    for (const Case& c :
         std::vector<Case>{{"app.example.com:8080", "https://app.example.com:8443/test?x=1"},
                           {"[::1]:8080", "https://[::1]:8443/test?x=1"},
                           {"evil.example.com/\r\nx: y", "https://localhost:8443/test?x=1"}}) {
        Request plain = get("/test", {{"host", c.host}});
        plain.target = "/test?x=1";
        RequestContext context;
        Response redirect = run(*pipeline, plain, context, &route);
        EXPECT_EQ(redirect.status, 308) << c.host;
        EXPECT_EQ(redirect.header("location"), c.location) << c.host;
        EXPECT_FALSE(redirect.header("strict-transport-security"));
    }
    Request secure = get("/test");
    secure.secure = true;
    RequestContext context;
    Response served = run(*pipeline, secure, context, &route);
    EXPECT_EQ(served.status, 200);
    EXPECT_EQ(served.header("strict-transport-security"), "max-age=31536000");
}

}  // namespace
}  // namespace nimbus::http
