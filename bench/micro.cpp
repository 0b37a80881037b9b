// Micro-benchmarks of the per-request building blocks (Google Benchmark).
#include <benchmark/benchmark.h>

#include <malloc.h>
#include <sodium.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "core/clock.hpp"
#include "core/ids.hpp"
#include "core/json.hpp"
#include "core/metrics.hpp"
#include "gateway/rate_limit_internal.hpp"
#include "http/http.hpp"
#include "identity/identity.hpp"
#include "identity/jwt.hpp"

namespace {

using namespace nimbus;

void BM_RouterMatch(benchmark::State& state) {
    http::Router router;
    auto ok = http::SyncHandler(
        [](http::Request&, http::RequestContext&) { return http::Response::no_content(); });
    for (const char* path :
         {"/healthz", "/readyz", "/metrics", "/api/v1/system/info", "/api/v1/orgs",
          "/api/v1/orgs/{org_id}", "/api/v1/orgs/{org_id}/members",
          "/api/v1/orgs/{org_id}/members/{id}", "/api/v1/orgs/{org_id}/api-keys/{id}"}) {
        router.add(http::Method::get, path, ok);
    }
    for (auto _ : state) {
        benchmark::DoNotOptimize(
            router.match(http::Method::get, "/api/v1/orgs/org_01J/members/usr_01J"));
    }
}
BENCHMARK(BM_RouterMatch);

void BM_NewId(benchmark::State& state) {
    for (auto _ : state) benchmark::DoNotOptimize(new_id("req", 1'795'000'000'000));
}
BENCHMARK(BM_NewId);

void BM_CounterWithLabels(benchmark::State& state) {
    metrics::Registry registry;
    auto& family = registry.counter("requests_total", "Requests.", {"method", "route", "status"});
    for (auto _ : state) family.with({"GET", "/api/v1/orgs/{org_id}", "200"}).inc();
}
BENCHMARK(BM_CounterWithLabels);

void BM_JsonParse(benchmark::State& state) {
    std::string body =
        R"({"name":"Acme O'Brien","email":"ops@acme.example","tags":["a","b"],"seats":12})";
    for (auto _ : state) benchmark::DoNotOptimize(json::parse(body));
}
BENCHMARK(BM_JsonParse);

/// The default pipeline around a trivial handler, without the access log (measured apart).
void BM_Pipeline(benchmark::State& state) {
    metrics::Registry registry;
    auto pipeline = http::default_pipeline({.access_log = false}, &registry);
    http::Route route{http::Method::get,
                      "/healthz",
                      http::SyncHandler([](http::Request&, http::RequestContext&) {
                          return http::Response::text(200, "ok");
                      }),
                      {}};
    boost::asio::io_context io;
    for (auto _ : state) {
        http::Request request;
        request.path = "/healthz";
        http::RequestContext context;
        boost::asio::co_spawn(
            io,
            [&]() -> boost::asio::awaitable<void> {
                auto response = co_await pipeline->run(request, context, &route, nullptr);
                benchmark::DoNotOptimize(response);
            },
            boost::asio::detached);
        io.run();
        io.restart();
    }
}
BENCHMARK(BM_Pipeline);

/// One in-memory rate-limit check of a hot key (the common case: a caller making requests).
void BM_RateLimitCheck(benchmark::State& state) {
    SystemClock clock;
    gateway::MemoryBuckets buckets(clock, 1'000'000);
    // A budget so large that every check is allowed, as for a caller well within its limit.
    gateway::BucketCheck check{.key = "user:usr_01JD7Q5N3W8X2Y4Z6A8B0C2D4E",
                               .params = gateway::GcraParams::from(
                                   {.requests_per_minute = 1'000'000'000, .burst = 1'000'000'000})};
    for (auto _ : state) {
        benchmark::DoNotOptimize(buckets.check(std::span<const gateway::BucketCheck>(&check, 1)));
    }
}
BENCHMARK(BM_RateLimitCheck)->Threads(1)->Threads(2);

/// The whole step's work for an authenticated request in an org: the principal's and the org's
/// bucket keys built, both charged, the answer and its status set (headers are written later).
void BM_RateLimitStep(benchmark::State& state) {
    SystemClock clock;
    gateway::RateLimitSettings settings;
    settings.principal = {.requests_per_minute = 1'000'000'000};
    settings.org = {.requests_per_minute = 1'000'000'000};
    gateway::RateLimiter limiter(
        settings, std::make_unique<gateway::MemoryBuckets>(clock, 1'000'000), nullptr);
    http::Request request;
    http::RequestContext context;
    context.route = "/api/v1/orgs/{org_id}/members";
    context.principal = http::Principal{.kind = http::Principal::Kind::user,
                                        .id = "usr_01JD7Q5N3W8X2Y4Z6A8B0C2D4E",
                                        .org_id = "org_01JD7Q5N3W8X2Y4Z6A8B0C2D4E"};
    for (auto _ : state) {
        auto checks = limiter.buckets_for(request, context);
        benchmark::DoNotOptimize(limiter.answer(limiter.buckets().check(checks), context));
    }
}
BENCHMARK(BM_RateLimitStep);

/// Memory per bucket: a million distinct anonymous callers, measured with mallinfo2 (heap bytes
/// in use), reported as the counter bytes_per_bucket.
void BM_RateLimitMemoryPerBucket(benchmark::State& state) {
    constexpr std::size_t kKeys = 1'000'000;
    SystemClock clock;
    double bytes_per_bucket = 0;
    for (auto _ : state) {
        std::size_t before = mallinfo2().uordblks;
        {
            // Twice the keys as the cap: shards fill unevenly, and none may evict here.
            gateway::MemoryBuckets buckets(clock, 2 * kKeys);
            gateway::BucketCheck check{
                .key = "", .params = gateway::GcraParams::from({.requests_per_minute = 60})};
            for (std::size_t idx = 0; idx < kKeys; ++idx) {
                check.key = "ip:10." + std::to_string(idx >> 16U) + "." +
                            std::to_string((idx >> 8U) & 0xffU) + "." + std::to_string(idx & 0xffU);
                benchmark::DoNotOptimize(
                    buckets.check(std::span<const gateway::BucketCheck>(&check, 1)));
            }
            std::size_t after = mallinfo2().uordblks;
            bytes_per_bucket = static_cast<double>(after - before) / static_cast<double>(kKeys);
            if (buckets.size() != kKeys) state.SkipWithError("buckets were dropped");
        }
    }
    state.counters["bytes_per_bucket"] = bytes_per_bucket;
}
BENCHMARK(BM_RateLimitMemoryPerBucket)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

// Bare Argon2id at the parameters sign-in uses (identity::PasswordHashing defaults, the OWASP
// recommendation): the ceiling for password sign-ins per second. Run on 1 and 2 threads; the
// items/s of the 2-thread run is the machine's hash rate that bench/run.py compares sign-in to.
void BM_Argon2idHash(benchmark::State& state) {
    if (sodium_init() < 0) state.SkipWithError("sodium_init failed");
    const identity::PasswordHashing params;
    constexpr std::string_view kPassword = "correct-Horse-battery-9";
    char hash[crypto_pwhash_STRBYTES];
    for (auto _ : state) {
        int failed = crypto_pwhash_str(hash, kPassword.data(), kPassword.size(), params.ops_limit,
                                       params.mem_limit_kib * 1024);
        if (failed != 0) state.SkipWithError("out of memory");
        benchmark::DoNotOptimize(hash);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Argon2idHash)->Threads(1)->Threads(2)->UseRealTime()->Unit(benchmark::kMillisecond);

// One access token as login and refresh sign it (ES256, the claims of
// Service::Impl::sign_access_token): the per-refresh CPU cost outside the database.
void BM_Es256SignAccessToken(benchmark::State& state) {
    auto key = identity::jwt::SigningKey::generate();
    if (!key) {
        state.SkipWithError("no key");
        return;
    }
    boost::json::object claims{{"iss", "http://127.0.0.1:8080"},
                               {"aud", "nimbus"},
                               {"sub", "usr_01M87N4DRJ9760CAEEZYPZR6W3"},
                               {"sid", "ses_01M87N4DRJ9760CAEEZYPZR6W4"},
                               {"iat", 1'800'000'000},
                               {"exp", 1'800'000'900},
                               {"jti", "c2VjcmV0LWlkLWJ5dGVz"},
                               {"scope", "account.self"}};
    for (auto _ : state) {
        auto token = identity::jwt::encode(claims, *key, "key_1");
        benchmark::DoNotOptimize(token);
    }
}
BENCHMARK(BM_Es256SignAccessToken);

/// What the shared limiter (rate_limit.backend = "redis") adds to a request: one EVALSHA of the
/// GCRA script for a user in an org (two buckets) against the redis-server named by
/// NIMBUS_BENCH_REDIS_URL, e.g. `redis-server --port 6390 --save ''` and
/// NIMBUS_BENCH_REDIS_URL=redis://127.0.0.1:6390; skipped without it. Wall time, since the caller
/// waits on the network; with 4 threads, as many as the worker pool runs these calls on.
void BM_RateLimitRedisCheck(benchmark::State& state) {
    const char* url = std::getenv("NIMBUS_BENCH_REDIS_URL");
    if (url == nullptr) {
        state.SkipWithError("NIMBUS_BENCH_REDIS_URL is not set");
        return;
    }
    auto address = gateway::parse_redis_url(url);
    if (!address) {
        state.SkipWithError(address.error().message.c_str());
        return;
    }
    static const SystemClock kClock;
    // One store for every thread, as in a node: the connection pool is shared.
    static gateway::RedisBuckets buckets(*address, std::chrono::milliseconds(100), kClock);
    const auto params =
        gateway::GcraParams::from({.requests_per_minute = 1'000'000'000, .burst = 1'000'000'000});
    std::vector<gateway::BucketCheck> checks = {
        {.key = "user:usr_bench_" + std::to_string(state.thread_index()), .params = params},
        {.key = "org:org_bench", .params = params}};
    for (auto _ : state) {
        auto decision = buckets.check(checks);
        if (!decision) {
            state.SkipWithError(decision.error().message.c_str());
            break;
        }
        benchmark::DoNotOptimize(decision);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RateLimitRedisCheck)->Threads(1)->Threads(4)->UseRealTime();

BENCHMARK_MAIN();
