// Micro-benchmarks of the per-request building blocks (Google Benchmark).
#include <benchmark/benchmark.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "core/ids.hpp"
#include "core/json.hpp"
#include "core/metrics.hpp"
#include "http/http.hpp"

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

}  // namespace

BENCHMARK_MAIN();
