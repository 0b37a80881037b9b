#include "core/metrics.hpp"

#include <thread>

#include <gtest/gtest.h>

namespace nimbus::metrics {
namespace {

TEST(Metrics, RendersCountersWithLabels) {
    Registry registry;
    auto& requests = registry.counter("http_requests_total", "Requests.", {"method", "route"});
    requests.with({"GET", "/healthz"}).inc();
    requests.with({"GET", "/healthz"}).inc(2);
    requests.with({"POST", "/a\"b"}).inc();
    std::string text = registry.render();
    EXPECT_NE(text.find("# TYPE http_requests_total counter"), std::string::npos);
    EXPECT_NE(text.find("http_requests_total{method=\"GET\",route=\"/healthz\"} 3\n"),
              std::string::npos);
    EXPECT_NE(text.find("route=\"/a\\\"b\""), std::string::npos);
}

TEST(Metrics, HistogramBucketsAreCumulative) {
    Registry registry;
    auto& latency = registry.histogram("latency_seconds", "Latency.", {}, {0.1, 1});
    auto& series = latency.with({});
    series.observe(0.05);
    series.observe(0.5);
    series.observe(5);
    std::string text = registry.render();
    EXPECT_NE(text.find("latency_seconds_bucket{le=\"0.1\"} 1\n"), std::string::npos) << text;
    EXPECT_NE(text.find("latency_seconds_bucket{le=\"1\"} 2\n"), std::string::npos);
    EXPECT_NE(text.find("latency_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos);
    EXPECT_NE(text.find("latency_seconds_count 3\n"), std::string::npos);
    EXPECT_NE(text.find("latency_seconds_sum 5.55\n"), std::string::npos);
}

TEST(Metrics, CallbackGaugesAreReadAtRenderTime) {
    Registry registry;
    double value = 1;
    registry.gauge_callback("open_connections", "Open.", [&value] { return value; });
    value = 7;
    EXPECT_NE(registry.render().find("open_connections 7\n"), std::string::npos);
}

TEST(Metrics, CountsFromManyThreadsAddUp) {
    Registry registry;
    auto& family = registry.counter("c", "C.", {"k"});
    constexpr int kThreads = 4;
    constexpr int kPerThread = 10'000;
    std::vector<std::thread> threads;
    for (int thread_idx = 0; thread_idx < kThreads; ++thread_idx) {
        threads.emplace_back([&family, thread_idx] {
            for (int round = 0; round < kPerThread; ++round)
                family.with({std::to_string(thread_idx % 2)}).inc();
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(family.with({"0"}).value() + family.with({"1"}).value(), kThreads * kPerThread);
}

}  // namespace
}  // namespace nimbus::metrics
