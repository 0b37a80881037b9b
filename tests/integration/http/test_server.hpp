#pragma once
// A real http::Server on 127.0.0.1 and a free port, with the default pipeline and a handful of
// routes that exercise what the tests need (a slow handler, run_blocking, JSON parsing, a small
// body limit, a handler that throws).

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "core/metrics.hpp"
#include "http/http.hpp"

namespace nimbus::test {

/// Limits short enough that timeout tests finish quickly.
http::ServerOptions fast_options();

/// What the test routes share with the test body.
struct RouteState {
    /// GET /slow: set when the handler has started.
    std::atomic<bool> slow_started{false};
    /// GET /slow: the handler answers once this is set (or after a safety limit).
    std::atomic<bool> slow_release{false};
    /// GET /threads: where the handler ran before, inside and after run_blocking.
    std::mutex threads_mutex;
    std::thread::id before_blocking;
    std::thread::id inside_blocking;
    std::thread::id after_blocking;
};

/// Routes:
///   GET  /hello                 -> 200 text "hello"
///   GET  /api/v1/items/{id}     -> 200 {"id": ...}
///   DELETE /api/v1/items/{id}   -> 204
///   POST /api/v1/echo           -> the JSON body back, or 400 via nimbus::json::parse
///   POST /api/v1/small          -> body limit of 16 bytes
///   POST /api/v1/large          -> body limit of 2 MiB, above the server default
///   POST /upload                -> 200 {"bytes": n}
///   GET  /large                 -> 200 JSON of 8 KiB (compressible)
///   GET  /slow                  -> waits for RouteState::slow_release, then 200
///   GET  /threads               -> records thread ids around run_blocking
///   GET  /boom                  -> throws
///   fallback                    -> the console's static files (a missing dir: the "not built"
///                                  page)
void add_test_routes(http::Router& router, RouteState& state);

class TestServer {
public:
    explicit TestServer(http::ServerOptions options = fast_options());
    ~TestServer();

    std::uint16_t port() const { return server_->port(); }
    http::Server& server() { return *server_; }
    RouteState& state() { return state_; }
    metrics::Registry& registry() { return registry_; }

private:
    RouteState state_;
    metrics::Registry registry_;
    http::Router router_;
    std::unique_ptr<http::Pipeline> pipeline_;
    std::unique_ptr<http::Server> server_;
};

/// Polls `condition` every few milliseconds until it holds or `timeout` passes.
bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace nimbus::test
