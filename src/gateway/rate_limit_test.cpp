// Rate limits without a network: GCRA arithmetic, the in-memory buckets under a ManualClock,
// the step's headers and answers, and the admin API over a real SQLite database.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>

#include <filesystem>
#include <fstream>
#include <random>

#include <gtest/gtest.h>

#include "core/metrics.hpp"
#include "db/db.hpp"
#include "events/events.hpp"
#include "gateway/rate_limit_internal.hpp"

namespace nimbus::gateway {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;

constexpr std::int64_t kStartMs = 1'795'000'000'000;
constexpr std::int64_t kMsPerMinute = 60'000;

BucketCheck bucket(std::string key, std::int64_t per_minute, std::int64_t burst = 0) {
    return {.key = std::move(key),
            .params = GcraParams::from({.requests_per_minute = per_minute, .burst = burst})};
}

Result<Decision> check_one(Buckets& buckets, const BucketCheck& check) {
    return buckets.check(std::span<const BucketCheck>(&check, 1));
}

// ---- GCRA -------------------------------------------------------------------------------------

TEST(Gcra, AllowsTheBurstAtOnceThenOneRequestPerInterval) {
    GcraParams params = GcraParams::from({.requests_per_minute = 60, .burst = 3});
    ASSERT_EQ(params.interval_us, kMicrosPerSecond);
    std::int64_t now = 0;
    std::int64_t tat = now;
    for (std::int64_t expected_remaining : {2, 1, 0}) {
        GcraOutcome outcome = gcra(tat, now, params);
        ASSERT_TRUE(outcome.allowed);
        EXPECT_EQ(outcome.remaining, expected_remaining);
        tat = outcome.tat_us;
    }
    EXPECT_EQ(tat, 3 * kMicrosPerSecond) << "three intervals until full again";
    GcraOutcome refused = gcra(tat, now, params);
    EXPECT_FALSE(refused.allowed);
    EXPECT_EQ(refused.retry_after_us, kMicrosPerSecond);
    EXPECT_EQ(refused.reset_us, 3 * kMicrosPerSecond);
    // One interval later exactly one more request fits.
    GcraOutcome later = gcra(tat, now + kMicrosPerSecond, params);
    EXPECT_TRUE(later.allowed);
    EXPECT_EQ(later.remaining, 0);
}

TEST(Gcra, BurstDefaultsToTheRate) {
    GcraParams params = GcraParams::from({.requests_per_minute = 1000});
    EXPECT_EQ(params.burst, 1000);
    EXPECT_EQ(params.interval_us, 60'000);
}

// ---- In-memory buckets --------------------------------------------------------------------------

TEST(MemoryBuckets, AllowsExactlyTheBudgetAndRefillsWithTime) {
    ManualClock clock(kStartMs);
    MemoryBuckets buckets(clock, 1000);
    BucketCheck user = bucket("user:usr_1", 10);
    for (int idx = 0; idx < 10; ++idx) {
        auto decision = check_one(buckets, user);
        ASSERT_TRUE(decision && decision->allowed) << "request " << idx;
        EXPECT_EQ(decision->limit, 10);
        EXPECT_EQ(decision->remaining, 9 - idx);
    }
    auto refused = check_one(buckets, user);
    ASSERT_TRUE(refused);
    EXPECT_FALSE(refused->allowed);
    EXPECT_EQ(refused->remaining, 0);
    EXPECT_EQ(refused->retry_after_us, 6 * kMicrosPerSecond) << "one request per 6 s";
    EXPECT_EQ(refused->reset_us, kMsPerMinute * kMicrosPerMilli) << "full again after a minute";

    clock.advance_ms(6'000);
    auto after_interval = check_one(buckets, user);
    EXPECT_TRUE(after_interval->allowed);
    EXPECT_FALSE(check_one(buckets, user)->allowed);

    // Another key has its own budget.
    EXPECT_TRUE(check_one(buckets, bucket("user:usr_2", 10))->allowed);
}

TEST(MemoryBuckets, ChargesAllBucketsOrNone) {
    ManualClock clock(kStartMs);
    MemoryBuckets buckets(clock, 1000);
    std::vector<BucketCheck> first{bucket("user:usr_1", 100), bucket("org:org_1", 2)};
    std::vector<BucketCheck> second{bucket("user:usr_2", 100), bucket("org:org_1", 2)};
    EXPECT_TRUE(buckets.check(first)->allowed);
    auto decision = buckets.check(second);
    ASSERT_TRUE(decision->allowed);
    EXPECT_EQ(decision->limit, 2) << "headers show the most restrictive bucket";
    EXPECT_EQ(decision->remaining, 0);
    auto refused = buckets.check(first);
    EXPECT_FALSE(refused->allowed) << "the org budget is spent";
    // The refused request did not charge usr_1: it still has 99 of 100.
    auto alone = check_one(buckets, bucket("user:usr_1", 100));
    EXPECT_EQ(alone->remaining, 98);
}

TEST(MemoryBuckets, IdleBucketsExpireOnceFull) {
    ManualClock clock(kStartMs);
    MemoryBuckets buckets(clock, 1000, /*shard_count=*/1);
    for (int idx = 0; idx < 50; ++idx) {
        ASSERT_TRUE(check_one(buckets, bucket("ip:10.0.0." + std::to_string(idx), 60))->allowed);
    }
    EXPECT_EQ(buckets.size(), 50U);
    // One request at 60/min refills in one second, but sweeps run only every sweep interval.
    clock.advance_ms(MemoryBuckets::kSweepIntervalUs / kMicrosPerMilli);
    ASSERT_TRUE(check_one(buckets, bucket("ip:10.0.1.1", 60))->allowed);
    EXPECT_EQ(buckets.size(), 1U) << "full buckets carry no state and are dropped";
    EXPECT_EQ(buckets.evictions(), 0U);
}

TEST(MemoryBuckets, NeverHoldsMoreThanTheCap) {
    ManualClock clock(kStartMs);
    constexpr std::size_t kCap = 64;
    MemoryBuckets buckets(clock, kCap, /*shard_count=*/4);
    for (int idx = 0; idx < 1000; ++idx) {
        ASSERT_TRUE(check_one(buckets, bucket("ip:flood-" + std::to_string(idx), 1))->allowed);
        ASSERT_LE(buckets.size(), kCap);
    }
    EXPECT_GT(buckets.evictions(), 0U) << "live buckets had to go";
}

// ---- Keys, budgets and the step ---------------------------------------------------------------

RateLimitSettings small_settings() {
    RateLimitSettings settings;
    settings.principal = {.requests_per_minute = 5};
    settings.anonymous = {.requests_per_minute = 2};
    settings.org = {.requests_per_minute = 7};
    settings.routes = {*parse_route_rate_limit("POST /login=1")};
    return settings;
}

TEST(RateLimiter, ChargesPrincipalOrgRouteOrAddress) {
    ManualClock clock(kStartMs);
    RateLimiter limiter(small_settings(), std::make_unique<MemoryBuckets>(clock, 100), nullptr);
    http::Request request;
    http::RequestContext context;
    context.route = "/things";
    context.client_address = "203.0.113.9";

    auto anonymous = limiter.buckets_for(request, context);
    ASSERT_EQ(anonymous.size(), 1U);
    EXPECT_EQ(anonymous[0].key, "ip:203.0.113.9");
    EXPECT_EQ(anonymous[0].params.burst, 2);

    struct Case {
        http::Principal::Kind kind;
        std::string id;
        std::string expected;
    };
    for (const auto& c :
         std::vector<Case>{{http::Principal::Kind::user, "usr_1", "user:usr_1"},
                           {http::Principal::Kind::api_key, "key_1", "key:key_1"},
                           {http::Principal::Kind::oauth_client, "cli_1", "client:cli_1"}}) {
        context.principal = http::Principal{.kind = c.kind, .id = c.id, .org_id = "org_1"};
        auto checks = limiter.buckets_for(request, context);
        ASSERT_EQ(checks.size(), 2U);
        EXPECT_EQ(checks[0].key, c.expected);
        EXPECT_EQ(checks[0].params.burst, 5);
        EXPECT_EQ(checks[1].key, "org:org_1");
        EXPECT_EQ(checks[1].params.burst, 7);
    }

    request.method = http::Method::post;
    context.route = "/login";
    auto route = limiter.buckets_for(request, context);
    EXPECT_EQ(route[0].key, "route:POST /login:client:cli_1");
    EXPECT_EQ(route[0].params.burst, 1);

    limiter.overrides().set("client:cli_1", {.requests_per_minute = 600, .burst = 20});
    context.route = "/things";
    request.method = http::Method::get;
    auto overridden = limiter.buckets_for(request, context);
    EXPECT_EQ(overridden[0].params.burst, 20);
    EXPECT_EQ(overridden[0].params.interval_us, 100'000);
}

std::unique_ptr<http::Pipeline> pipeline_with(std::shared_ptr<RateLimiter> limiter,
                                              std::optional<http::Principal> principal,
                                              metrics::Registry* registry = nullptr,
                                              db::Database* database = nullptr,
                                              const Clock* clock = nullptr) {
    static const SystemClock kSystemClock;
    /// Stands in for identity's authenticate step.
    class FixedPrincipal final : public http::Middleware {
    public:
        explicit FixedPrincipal(std::optional<http::Principal> principal)
            : principal_(std::move(principal)) {}
        std::string_view name() const override { return "authenticate"; }
        std::optional<http::Response> on_request(http::Request&,
                                                 http::RequestContext& context) override {
            context.principal = principal_;
            return std::nullopt;
        }

    private:
        std::optional<http::Principal> principal_;
    };
    http::PipelineSettings settings{.access_log = false};
    settings.authenticate = std::make_unique<FixedPrincipal>(std::move(principal));
    settings.rate_limit = make_rate_limit_step(std::move(limiter), database,
                                               clock != nullptr ? *clock : kSystemClock);
    return http::default_pipeline(std::move(settings), registry);
}

http::Response run(http::Pipeline& pipeline, http::Request& request, const http::Route* route,
                   http::RequestContext context = {}) {
    asio::io_context io;
    http::Response response;
    if (route != nullptr) {
        context.route = route->path_template;
        context.matched_permission = route->options.permission;
    }
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            response = co_await pipeline.run(request, context, route, nullptr);
        },
        asio::detached);
    io.run();
    return response;
}

http::Route ok_route() {
    return {http::Method::get,
            "/things",
            http::SyncHandler([](http::Request&, http::RequestContext&) {
                return http::Response::text(200, "ok");
            }),
            {}};
}

TEST(RateLimiter, PrincipalsAreBudgetedByTheirPlan) {
    ManualClock clock{kStartMs};
    RateLimitSettings settings;
    settings.principal = {.requests_per_minute = 1000};
    settings.plans = {{"free", {.requests_per_minute = 60}},
                      {"pro", {.requests_per_minute = 600, .burst = 50}}};
    settings.default_plan = "free";
    // Stands in for billing: org_2 pays for pro, org_3 for a plan the config does not know.
    settings.plan_lookup = [](const http::Principal& principal) -> std::string {
        if (principal.org_id == "org_2") return "pro";
        if (principal.org_id == "org_3") return "gold";
        return "";
    };
    RateLimiter limiter(settings, std::make_unique<MemoryBuckets>(clock, 1000), nullptr);
    http::Request request;
    http::RequestContext context;
    context.route = "/things";
    auto own_bucket = [&](std::string org_id) {
        context.principal = http::Principal{.id = "usr_1", .org_id = std::move(org_id)};
        return limiter.buckets_for(request, context).front().params;
    };
    EXPECT_EQ(own_bucket("org_1").interval_us, kMicrosPerSecond) << "default plan: 60/min";
    EXPECT_EQ(own_bucket("org_1").burst, 60);
    EXPECT_EQ(own_bucket("org_2").interval_us, kMicrosPerSecond / 10) << "pro: 600/min";
    EXPECT_EQ(own_bucket("org_2").burst, 50);
    EXPECT_EQ(own_bucket("org_3").burst, 1000) << "an unknown plan: the general budget";

    // A runtime override of the plan (the admin API's "plan:pro") replaces the configured one,
    // and a per-key override beats the plan.
    limiter.overrides().set("plan:pro", {.requests_per_minute = 6000, .burst = 5});
    EXPECT_EQ(own_bucket("org_2").burst, 5);
    limiter.overrides().set("user:usr_1", {.requests_per_minute = 1, .burst = 1});
    EXPECT_EQ(own_bucket("org_2").burst, 1);

    // Anonymous callers have no plan.
    context.principal.reset();
    context.client_address = "192.0.2.7";
    EXPECT_EQ(limiter.buckets_for(request, context).front().params.burst,
              settings.anonymous.requests_per_minute);
}

TEST(RateLimitStep, HeadersOnEveryResponseAnd429WithRetryAfter) {
    ManualClock clock(kStartMs);
    metrics::Registry registry;
    auto limiter = std::make_shared<RateLimiter>(
        small_settings(), std::make_unique<MemoryBuckets>(clock, 100), &registry);
    auto pipeline = pipeline_with(limiter, std::nullopt, &registry);
    http::Route route = ok_route();
    http::RequestContext context;
    context.client_address = "198.51.100.4";

    http::Request first;
    first.path = "/things";
    http::Response ok = run(*pipeline, first, &route, context);
    EXPECT_EQ(ok.status, 200);
    EXPECT_EQ(ok.header("ratelimit-limit"), "2");
    EXPECT_EQ(ok.header("ratelimit-remaining"), "1");
    EXPECT_EQ(ok.header("ratelimit-reset"), "30") << "one request at 2/min is 30 s of budget";

    http::Request second = first;
    EXPECT_EQ(run(*pipeline, second, &route, context).status, 200);
    http::Request third = first;
    http::Response refused = run(*pipeline, third, &route, context);
    EXPECT_EQ(refused.status, 429);
    EXPECT_EQ(refused.header("content-type"), "application/problem+json");
    EXPECT_EQ(refused.header("retry-after"), "30");
    EXPECT_EQ(refused.header("ratelimit-remaining"), "0");
    EXPECT_EQ(refused.header("ratelimit-reset"), "60");
    EXPECT_NE(refused.body.find("/problems/rate-limited"), std::string::npos) << refused.body;

    clock.advance_ms(30'000);
    http::Request later = first;
    EXPECT_EQ(run(*pipeline, later, &route, context).status, 200);

    std::string text = registry.render();
    EXPECT_NE(text.find(R"(nimbus_rate_limit_decisions_total{outcome="allowed"} 3)"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find(R"(nimbus_rate_limit_decisions_total{outcome="limited"} 1)"),
              std::string::npos);
}

TEST(RateLimitStep, RoutesCanSkipIt) {
    ManualClock clock(kStartMs);
    auto limiter = std::make_shared<RateLimiter>(
        small_settings(), std::make_unique<MemoryBuckets>(clock, 100), nullptr);
    auto pipeline = pipeline_with(limiter, std::nullopt);
    http::Route probe = ok_route();
    probe.options.skip_steps = {"rate_limit"};
    for (int idx = 0; idx < 5; ++idx) {
        http::Request request;
        http::Response response = run(*pipeline, request, &probe);
        EXPECT_EQ(response.status, 200);
        EXPECT_FALSE(response.header("ratelimit-limit"));
    }
}

/// A store that always fails, as Redis does when it is down.
class FailingBuckets final : public Buckets {
public:
    Result<Decision> check(std::span<const BucketCheck>) override {
        return Error::unavailable("redis: Connection refused");
    }
    bool blocking() const override { return true; }
};

TEST(RateLimitStep, StoreFailureFailsOpenOrClosedAndIsCounted) {
    for (bool fail_open : {true, false}) {
        metrics::Registry registry;
        RateLimitSettings settings = small_settings();
        settings.fail_open = fail_open;
        auto limiter =
            std::make_shared<RateLimiter>(settings, std::make_unique<FailingBuckets>(), &registry);
        auto pipeline = pipeline_with(limiter, std::nullopt, &registry);
        http::Route route = ok_route();
        http::Request request;
        http::Response response = run(*pipeline, request, &route);
        EXPECT_EQ(response.status, fail_open ? 200 : 503);
        std::string text = registry.render();
        EXPECT_NE(text.find("nimbus_rate_limit_backend_errors_total 1"), std::string::npos) << text;
        EXPECT_NE(text.find(fail_open ? R"({outcome="failed_open"} 1)"
                                      : R"({outcome="failed_closed"} 1)"),
                  std::string::npos);
    }
}

// ---- Parsing ----------------------------------------------------------------------------------

TEST(RateLimitParsing, RouteOverrides) {
    auto parsed = parse_route_rate_limit("POST /api/v1/auth/login=10");
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->method, http::Method::post);
    EXPECT_EQ(parsed->path_template, "/api/v1/auth/login");
    EXPECT_EQ(parsed->limit.requests_per_minute, 10);
    for (const char* bad : {"", "POST", "/x=1", "FETCH /x=1", "GET x=1", "GET /x=", "GET /x=0",
                            "GET /x=-3", "GET /x=ten", "GET /x=99999999999"}) {
        EXPECT_FALSE(parse_route_rate_limit(bad)) << bad;
    }
}

TEST(RateLimitParsing, OverrideKeys) {
    for (const char* good : {"user:usr_01J", "key:key_1", "client:cli_1", "org:org_1",
                             "ip:203.0.113.9", "ip:2001:db8::1", "plan:pro"}) {
        EXPECT_TRUE(validate_override_key(good)) << good;
    }
    for (const std::string& bad :
         {std::string("usr_1"), std::string("user:"), std::string("team:x"),
          std::string("user:a b"), std::string("ip:1.2.3.4;drop"),
          "user:" + std::string(kMaxOverrideKeyLength, 'a')}) {
        EXPECT_FALSE(validate_override_key(bad)) << bad;
    }
}

TEST(RateLimitParsing, RedisUrls) {
    auto plain = parse_redis_url("redis://127.0.0.1:6380");
    ASSERT_TRUE(plain);
    EXPECT_EQ(plain->host, "127.0.0.1");
    EXPECT_EQ(plain->port, 6380);
    auto full = parse_redis_url("redis://:s3cret@cache.internal/2");
    ASSERT_TRUE(full);
    EXPECT_EQ(full->host, "cache.internal");
    EXPECT_EQ(full->port, 6379);
    EXPECT_EQ(full->password, "s3cret");
    EXPECT_EQ(full->database, 2);
    auto v6 = parse_redis_url("redis://[::1]:7000");
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->host, "::1");
    EXPECT_EQ(v6->port, 7000);
    for (const char* bad : {"http://x", "redis://", "redis://h:0", "redis://h:x", "redis://h/x"}) {
        auto parsed = parse_redis_url(bad);
        EXPECT_FALSE(parsed) << bad;
    }
    auto secret = parse_redis_url("redis://:hunter2@h:bad");
    ASSERT_FALSE(secret);
    EXPECT_EQ(secret.error().message.find("hunter2"), std::string::npos);
}

// ---- The admin API ----------------------------------------------------------------------------

class OverridesApi : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("nimbus-rl-" + std::to_string(std::random_device()()));
        fs::create_directories(dir_);
        auto opened = db::open({.sqlite_path = (dir_ / "test.db").string()});
        ASSERT_TRUE(opened) << opened.error().message;
        database_ = std::move(*opened);
        // Overrides emit audit events into the outbox.
        std::vector<db::ModuleMigrations> outbox = {{"events", &events::migrations()}};
        auto outbox_ready = db::migrate_up(*database_, outbox, kStartMs);
        ASSERT_TRUE(outbox_ready) << outbox_ready.error().message;
        // The SQL file itself: this test links the rate-limit library, not the whole gateway
        // (whose generated migrations() lives with the firewall).
        for (const char* file : {"002_rate_limit_overrides.sql", "004_cluster_sync.sql"}) {
            std::ifstream sql(fs::path(NIMBUS_GATEWAY_MIGRATIONS_DIR) / file);
            std::string script(std::istreambuf_iterator<char>(sql), {});
            ASSERT_FALSE(script.empty()) << file;
            auto migrated = database_->transact(
                [&](db::Transaction& tx) -> Result<void> { return tx.execute_script(script); });
            ASSERT_TRUE(migrated) << file << ": " << migrated.error().message;
        }
        // The defaults: these tests are about the API, not about running out of budget.
        auto limiter = make_rate_limiter(RateLimitSettings{}, *database_, clock_, nullptr);
        ASSERT_TRUE(limiter) << limiter.error().message;
        limiter_ = *limiter;
        add_rate_limit_routes(router_, limiter_, *database_, clock_);
        pipeline_ =
            pipeline_with(limiter_, http::Principal{.id = "usr_admin", .permissions = {"*"}});
    }
    void TearDown() override {
        database_.reset();
        fs::remove_all(dir_);
    }

    http::Response call(http::Method method, const std::string& path, std::string body = {}) {
        http::Request request;
        request.method = method;
        request.path = path;
        if (!body.empty()) request.headers.push_back({"content-type", "application/json"});
        request.body = std::move(body);
        http::Match match = router_.match(method, path);
        if (match.route == nullptr) return http::Response::text(404, "no route");
        http::RequestContext context;
        context.path_params = match.path_params;
        return run(*pipeline_, request, match.route, std::move(context));
    }

    ManualClock clock_{kStartMs};
    fs::path dir_;
    std::unique_ptr<db::Database> database_;
    std::shared_ptr<RateLimiter> limiter_;
    http::Router router_;
    std::unique_ptr<http::Pipeline> pipeline_;
};

TEST_F(OverridesApi, PutGetListDeleteAndTheLimiterFollows) {
    const std::string path = "/api/v1/admin/rate-limits/overrides/user:usr_7";
    EXPECT_EQ(call(http::Method::get, path).status, 404);

    http::Response put =
        call(http::Method::put, path, R"({"requests_per_minute": 120, "burst": 4})");
    ASSERT_EQ(put.status, 200) << put.body;
    auto body = boost::json::parse(put.body).as_object();
    EXPECT_EQ(body.at("key").as_string(), "user:usr_7");
    EXPECT_EQ(body.at("requests_per_minute").as_int64(), 120);
    EXPECT_EQ(body.at("burst").as_int64(), 4);
    ASSERT_TRUE(limiter_->overrides().find("user:usr_7"));
    EXPECT_EQ(limiter_->overrides().find("user:usr_7")->burst, 4);

    EXPECT_EQ(call(http::Method::get, path).status, 200);
    http::Response list = call(http::Method::get, "/api/v1/admin/rate-limits/overrides");
    EXPECT_NE(list.body.find("user:usr_7"), std::string::npos) << list.body;

    // Stored: a limiter built afresh from the database knows it.
    auto reloaded = make_rate_limiter(small_settings(), *database_, clock_, nullptr);
    ASSERT_TRUE(reloaded);
    EXPECT_TRUE((*reloaded)->overrides().find("user:usr_7"));

    EXPECT_EQ(call(http::Method::delete_, path).status, 204);
    EXPECT_FALSE(limiter_->overrides().find("user:usr_7"));
    EXPECT_EQ(call(http::Method::delete_, path).status, 404);

    // A plan's budget, set at runtime.
    http::Response plan = call(http::Method::put, "/api/v1/admin/rate-limits/overrides/plan:pro",
                               R"({"requests_per_minute": 20000})");
    EXPECT_EQ(plan.status, 200) << plan.body;
    EXPECT_EQ(limiter_->overrides().find("plan:pro")->requests_per_minute, 20000);
}

TEST_F(OverridesApi, ChangesBumpTheVersionOtherNodesPoll) {
    auto version = [&] {
        return database_
            ->query("SELECT version FROM gateway_versions WHERE name = 'rate_limit_overrides'")
            ->front()
            .get_int(0);
    };
    const std::string path = "/api/v1/admin/rate-limits/overrides/org:org_1";
    std::int64_t before = version();
    ASSERT_EQ(call(http::Method::put, path, R"({"requests_per_minute": 5})").status, 200);
    EXPECT_EQ(version(), before + 1);
    EXPECT_EQ(call(http::Method::put, path, R"({"requests_per_minute": 0})").status, 400);
    EXPECT_EQ(call(http::Method::delete_, "/api/v1/admin/rate-limits/overrides/org:none").status,
              404);
    EXPECT_EQ(version(), before + 1) << "refused changes bump nothing";
    ASSERT_EQ(call(http::Method::delete_, path).status, 204);
    EXPECT_EQ(version(), before + 2);
}

TEST_F(OverridesApi, ChangesEmitAuditEventsInTheirTransaction) {
    auto events = [&](const std::string& type) {
        return database_->query("SELECT subject, data FROM outbox_events WHERE type = ?", {type})
            .value();
    };
    const std::string path = "/api/v1/admin/rate-limits/overrides/ip:203.0.113.9";
    ASSERT_EQ(call(http::Method::put, path, R"({"requests_per_minute": 30, "burst": 2})").status,
              200);
    ASSERT_EQ(call(http::Method::delete_, path).status, 204);
    // Refused changes emit nothing.
    EXPECT_EQ(call(http::Method::put, path, R"({"requests_per_minute": -1})").status, 400);
    EXPECT_EQ(call(http::Method::delete_, path).status, 404);

    auto set = events("nimbus.gateway.rate_limit_override.set");
    ASSERT_EQ(set.size(), 1U);
    EXPECT_EQ(set[0].get_text(0), "rate_limit_override:ip:203.0.113.9");
    auto data = boost::json::parse(set[0].get_text(1)).as_object();
    EXPECT_EQ(data.at("actor_id").as_string(), "usr_admin");
    EXPECT_EQ(data.at("target_id").as_string(), "ip:203.0.113.9");
    EXPECT_EQ(data.at("requests_per_minute").as_int64(), 30);
    EXPECT_EQ(data.at("burst").as_int64(), 2);
    auto deleted = events("nimbus.gateway.rate_limit_override.deleted");
    ASSERT_EQ(deleted.size(), 1U);
    EXPECT_EQ(boost::json::parse(deleted[0].get_text(1)).at("target_id").as_string(),
              "ip:203.0.113.9");
}

TEST(RefusalCache, RefusesUntilTheRetryTimeWithShortenedTimes) {
    RefusalCache cache;
    std::vector<BucketCheck> checks = {
        {.key = "user:usr_1", .params = GcraParams::from({.requests_per_minute = 60})},
        {.key = "org:org_1", .params = GcraParams::from({.requests_per_minute = 600})}};
    std::string signature = RefusalCache::signature(checks);
    EXPECT_FALSE(cache.find(signature, kStartMs));
    cache.remember(signature,
                   {.allowed = false,
                    .limit = 60,
                    .remaining = 0,
                    .reset_us = 30 * kMicrosPerSecond,
                    .retry_after_us = 2'500 * kMicrosPerMilli + 999},  // rounded down to 2.5 s
                   kStartMs);
    auto refused = cache.find(signature, kStartMs + 1'000);
    ASSERT_TRUE(refused);
    EXPECT_FALSE(refused->allowed);
    EXPECT_EQ(refused->limit, 60);
    EXPECT_EQ(refused->retry_after_us, 1'500 * kMicrosPerMilli);
    EXPECT_EQ(refused->reset_us, 29 * kMicrosPerSecond);
    EXPECT_TRUE(cache.find(signature, kStartMs + 2'499));
    EXPECT_FALSE(cache.find(signature, kStartMs + 2'500)) << "Redis may allow it from here on";
    EXPECT_EQ(cache.size(), 0U) << "an ended refusal is forgotten";

    // Another budget for the same keys (an override changed) is another set of buckets.
    cache.remember(signature, {.allowed = false, .retry_after_us = kMicrosPerSecond}, kStartMs);
    checks[0].params = GcraParams::from({.requests_per_minute = 120});
    EXPECT_FALSE(cache.find(RefusalCache::signature(checks), kStartMs));
    EXPECT_FALSE(cache.find(RefusalCache::signature(std::span(checks).first(1)), kStartMs));
    // Allowed answers and refusals under a millisecond are not kept.
    cache.remember("a", {.allowed = true, .retry_after_us = kMicrosPerSecond}, kStartMs);
    cache.remember("b", {.allowed = false, .retry_after_us = 999}, kStartMs);
    EXPECT_FALSE(cache.find("a", kStartMs));
    EXPECT_FALSE(cache.find("b", kStartMs));
}

TEST(RefusalCache, StaysWithinItsBound) {
    RefusalCache cache(2);
    cache.remember("a", {.allowed = false, .retry_after_us = kMicrosPerSecond}, kStartMs);
    cache.remember("b", {.allowed = false, .retry_after_us = 3 * kMicrosPerSecond}, kStartMs);
    cache.remember("c", {.allowed = false, .retry_after_us = kMicrosPerSecond}, kStartMs);
    EXPECT_EQ(cache.size(), 2U);
    EXPECT_FALSE(cache.find("c", kStartMs)) << "full of live refusals: not kept";
    // Once "a" ended, a new refusal takes its place.
    cache.remember("c", {.allowed = false, .retry_after_us = kMicrosPerSecond}, kStartMs + 1'000);
    EXPECT_TRUE(cache.find("c", kStartMs + 1'000));
    EXPECT_TRUE(cache.find("b", kStartMs + 1'000));
    EXPECT_EQ(cache.size(), 2U);
}

TEST_F(OverridesApi, BadInputIs400WithErrorsAndChangesNothing) {
    struct Case {
        std::string name;
        std::string key;
        std::string body;
        std::string pointer;
    };
    std::vector<Case> cases = {
        {"unknown key kind", "team:x", R"({"requests_per_minute": 5})", ""},
        {"empty id", "user:", R"({"requests_per_minute": 5})", ""},
        {"odd characters", "user:a%20b", R"({"requests_per_minute": 5})", ""},
        {"not json", "user:usr_1", "{", ""},
        {"not an object", "user:usr_1", "[5]", ""},
        {"missing rate", "user:usr_1", R"({"burst": 5})", "/requests_per_minute"},
        {"zero rate", "user:usr_1", R"({"requests_per_minute": 0})", "/requests_per_minute"},
        {"negative burst", "user:usr_1", R"({"requests_per_minute": 5, "burst": -1})", "/burst"},
        {"text rate", "user:usr_1", R"({"requests_per_minute": "5"})", "/requests_per_minute"},
        {"fractional rate", "user:usr_1", R"({"requests_per_minute": 2.5})",
         "/requests_per_minute"},
        {"huge rate", "user:usr_1", R"({"requests_per_minute": 1e30})", "/requests_per_minute"},
        {"unknown field", "user:usr_1", R"({"requests_per_minute": 5, "rpm": 5})", "/rpm"},
    };
    for (const auto& c : cases) {
        http::Response response =
            call(http::Method::put, "/api/v1/admin/rate-limits/overrides/" + c.key, c.body);
        EXPECT_EQ(response.status, 400) << c.name << ": " << response.body;
        EXPECT_EQ(response.header("content-type"), "application/problem+json") << c.name;
        auto body = boost::json::parse(response.body).as_object();
        ASSERT_TRUE(body.contains("errors")) << c.name;
        EXPECT_EQ(body.at("errors").as_array().at(0).as_object().at("pointer").as_string(),
                  c.pointer)
            << c.name;
    }
    http::Response list = call(http::Method::get, "/api/v1/admin/rate-limits/overrides");
    EXPECT_EQ(list.body, R"({"data":[]})");
}

/// A shared store stand-in: allows everything and remembers the budgets it was asked about.
class RecordingBuckets final : public Buckets {
public:
    Result<Decision> check(std::span<const BucketCheck> checks) override {
        last_burst = checks.front().params.burst;
        return Decision{.allowed = true, .limit = last_burst, .remaining = last_burst - 1};
    }
    bool blocking() const override { return true; }
    std::int64_t last_burst = 0;
};

TEST_F(OverridesApi, ASharedStoreRereadsOverridesStoredByAnotherNode) {
    auto buckets = std::make_unique<RecordingBuckets>();
    RecordingBuckets* recorded = buckets.get();
    auto limiter = std::make_shared<RateLimiter>(small_settings(), std::move(buckets), nullptr);
    auto pipeline = pipeline_with(limiter, std::nullopt, nullptr, database_.get(), &clock_);
    auto store = [&](std::int64_t burst) {
        auto stored = database_->transact([&](db::Transaction& tx) -> Result<void> {
            auto done = tx.execute(
                "INSERT INTO gateway_rate_limit_overrides VALUES (?, ?, ?, ?) ON CONFLICT (key) "
                "DO UPDATE SET burst = excluded.burst",
                {"ip:192.0.2.1", 60, burst, kStartMs});
            if (!done) return done.error();
            return {};
        });
        ASSERT_TRUE(stored) << stored.error().message;
    };
    auto request_burst = [&] {
        http::Route route = ok_route();
        http::Request request;
        http::RequestContext context;
        context.client_address = "192.0.2.1";
        EXPECT_EQ(run(*pipeline, request, &route, std::move(context)).status, 200);
        return recorded->last_burst;
    };
    store(11);  // as another node's admin API would
    EXPECT_EQ(request_burst(), 11) << "the first request loads the table";
    store(22);
    EXPECT_EQ(request_burst(), 11) << "not before the refresh interval";
    clock_.advance_ms(RateLimiter::kOverrideRefreshMs);
    EXPECT_EQ(request_burst(), 22);
}

TEST_F(OverridesApi, NeedsThePermission) {
    pipeline_ = pipeline_with(limiter_, http::Principal{.id = "usr_x", .permissions = {"other"}});
    EXPECT_EQ(call(http::Method::put, "/api/v1/admin/rate-limits/overrides/user:usr_1",
                   R"({"requests_per_minute": 5})")
                  .status,
              403);
    pipeline_ = pipeline_with(limiter_, std::nullopt);
    EXPECT_EQ(call(http::Method::get, "/api/v1/admin/rate-limits/overrides").status, 401);
    EXPECT_FALSE(limiter_->overrides().find("user:usr_1"));
}

}  // namespace
}  // namespace nimbus::gateway
