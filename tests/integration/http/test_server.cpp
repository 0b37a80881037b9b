#include "test_server.hpp"

#include <stdexcept>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>

#include "core/json.hpp"
#include "core/log.hpp"

namespace nimbus::test {
namespace {

namespace asio = boost::asio;

constexpr auto kPollInterval = std::chrono::milliseconds(5);
constexpr auto kShortTimeout = std::chrono::milliseconds(300);
constexpr auto kSlowSafetyLimit = std::chrono::seconds(10);
constexpr std::size_t kSmallBodyLimit = 16;
constexpr std::size_t kLargeBodyLimit = 2 * 1024 * 1024;
constexpr std::size_t kLargeBodyBytes = 8 * 1024;

}  // namespace

http::ServerOptions fast_options() {
    http::ServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.threads = 2;
    options.blocking_threads = 2;
    options.header_timeout = kShortTimeout;
    options.body_timeout = kShortTimeout;
    options.shutdown_grace = std::chrono::seconds(5);
    return options;
}

void add_test_routes(http::Router& router, RouteState& state) {
    using http::Method;
    using http::Request;
    using http::RequestContext;
    using http::Response;

    router.add(Method::get, "/hello", http::SyncHandler([](Request&, RequestContext&) {
                   return Response::text(200, "hello");
               }));

    router.add(Method::get, "/api/v1/items/{id}",
               http::SyncHandler([](Request&, RequestContext& context) {
                   return Response::json(
                       200, boost::json::object{{"id", std::string(context.path_param("id"))}});
               }));
    router.add(Method::delete_, "/api/v1/items/{id}",
               http::SyncHandler([](Request&, RequestContext&) { return Response::no_content(); }),
               http::RouteOptions{.success_statuses = {204}});

    router.add(Method::post, "/api/v1/echo",
               http::SyncHandler([](Request& request, RequestContext&) {
                   auto value = json::parse(request.body);
                   if (!value) return Response::from_error(value.error());
                   return Response::json(200, *value);
               }));

    router.add(Method::post, "/api/v1/small",
               http::SyncHandler([](Request& request, RequestContext&) {
                   return Response::json(200, boost::json::object{{"bytes", request.body.size()}});
               }),
               http::RouteOptions{.max_body_bytes = kSmallBodyLimit});

    router.add(Method::post, "/api/v1/large",
               http::SyncHandler([](Request& request, RequestContext&) {
                   return Response::json(200, boost::json::object{{"bytes", request.body.size()}});
               }),
               http::RouteOptions{.max_body_bytes = kLargeBodyLimit});

    router.add(Method::post, "/upload", http::SyncHandler([](Request& request, RequestContext&) {
                   return Response::json(200, boost::json::object{{"bytes", request.body.size()}});
               }));

    router.add(Method::get, "/large", http::SyncHandler([](Request&, RequestContext&) {
                   return Response::json(
                       200, boost::json::object{{"data", std::string(kLargeBodyBytes, 'z')}});
               }));

    router.add(Method::get, "/slow",
               http::Task([&state](Request&, RequestContext&) -> asio::awaitable<Response> {
                   state.slow_started = true;
                   // Waits on a timer, never blocking the I/O thread, until the test lets it go.
                   asio::steady_timer timer(co_await asio::this_coro::executor);
                   auto give_up = std::chrono::steady_clock::now() + kSlowSafetyLimit;
                   while (!state.slow_release && std::chrono::steady_clock::now() < give_up) {
                       timer.expires_after(kPollInterval);
                       co_await timer.async_wait(asio::use_awaitable);
                   }
                   co_return Response::text(200, "slow done");
               }));

    router.add(
        Method::get, "/threads",
        http::Task([&state](Request&, RequestContext& context) -> asio::awaitable<Response> {
            std::thread::id before = std::this_thread::get_id();
            std::thread::id inside;
            co_await context.run_blocking([&inside] { inside = std::this_thread::get_id(); });
            std::thread::id after = std::this_thread::get_id();
            {
                std::lock_guard lock(state.threads_mutex);
                state.before_blocking = before;
                state.inside_blocking = inside;
                state.after_blocking = after;
            }
            co_return Response::text(200, "threads");
        }));

    router.add(Method::get, "/boom", http::SyncHandler([](Request&, RequestContext&) -> Response {
                   throw std::runtime_error("database password is hunter2");
               }));

    auto console = http::StaticFiles::load("");
    router.set_fallback(
        [console](Request& request, RequestContext&) { return console->serve(request); });
}

TestServer::TestServer(http::ServerOptions options) {
    // Warnings and errors only: the access log of thousands of requests would bury a failure.
    log::init(log::Level::warn);
    add_test_routes(router_, state_);
    pipeline_ = http::default_pipeline({.cors_origins = {"https://app.example.com"}}, &registry_);
    server_ = std::make_unique<http::Server>(std::move(options), router_, *pipeline_, &registry_);
    if (auto started = server_->start(); !started) {
        throw std::runtime_error("server did not start: " + started.error().message);
    }
}

TestServer::~TestServer() {
    // Unblocks a /slow request a test left waiting, so shutdown does not wait for the grace period.
    state_.slow_release = true;
    server_->stop();
    server_->wait();
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!condition()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(kPollInterval);
    }
    return true;
}

}  // namespace nimbus::test
