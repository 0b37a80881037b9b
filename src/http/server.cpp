// The HTTP/1.1 server on Boost.Beast with C++20 coroutines.
#include <array>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_set>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "core/clock.hpp"
#include "core/ids.hpp"
#include "core/log.hpp"
#include "http/http.hpp"
#include "http/internal.hpp"

namespace nimbus::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
namespace ssl = asio::ssl;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

constexpr std::size_t kReadChunk = 8192;
constexpr auto kLingerTimeout = std::chrono::milliseconds(500);
constexpr std::size_t kLingerMaxBytes = 1024 * 1024;
constexpr auto kStopPollInterval = std::chrono::milliseconds(10);
constexpr int kHttp11 = 11;

/// Completes on the caller's executor after running `work` on `pool`; an exception thrown by
/// `work` is rethrown in the awaiting coroutine.
template <class Token>
auto async_run_on(asio::thread_pool& pool, std::function<void()> work, Token&& token) {
    return asio::async_initiate<Token, void(std::exception_ptr)>(
        [&pool](auto handler, std::function<void()> job) {
            auto home = asio::get_associated_executor(handler);
            asio::post(pool, [handler = std::move(handler), job = std::move(job), home]() mutable {
                std::exception_ptr error;
                try {
                    job();
                } catch (...) {
                    error = std::current_exception();
                }
                asio::post(home,
                           [handler = std::move(handler), error]() mutable { handler(error); });
            });
        },
        token, std::move(work));
}

std::string endpoint_text(const tcp::socket& socket) {
    boost::system::error_code ec;
    auto endpoint = socket.remote_endpoint(ec);
    if (ec) return "";
    return endpoint.address().to_string();
}

/// A problem answer written outside the pipeline (the request could not even be parsed).
bhttp::response<bhttp::string_body> bare_problem(int status, std::string_view slug,
                                                 std::string detail) {
    boost::json::object body{{"type", "/problems/" + std::string(slug)},
                             {"title", std::string(status_text(status))},
                             {"status", status},
                             {"detail", std::move(detail)},
                             {"request_id", new_id("req", SystemClock().now_ms())}};
    bhttp::response<bhttp::string_body> response{static_cast<bhttp::status>(status), kHttp11};
    response.set(bhttp::field::content_type, "application/problem+json");
    response.set(bhttp::field::connection, "close");
    response.body() = boost::json::serialize(body);
    response.prepare_payload();
    return response;
}

}  // namespace

struct RequestContext::Executors {
    asio::any_io_executor io;
    asio::thread_pool* pool = nullptr;
    bool database_inline = true;
};

asio::awaitable<void> RequestContext::run_blocking(std::function<void()> work) {
    if (!executors || executors->pool == nullptr) {
        work();
        co_return;
    }
    co_await async_run_on(*executors->pool, std::move(work), asio::use_awaitable);
}

asio::awaitable<void> RequestContext::run_database(std::function<void()> work) {
    if (!executors || executors->database_inline) {
        work();
        co_return;
    }
    co_await run_blocking(std::move(work));
}

/// One open connection, known to the server so shutdown can close it when idle.
struct Connection {
    virtual ~Connection() = default;
    /// The TCP layer: timeouts, the socket, cancellation.
    virtual beast::tcp_stream& tcp() = 0;
    bool idle = true;     // touched only on the connection's own I/O thread
    bool closed = false;  // no usable session: nothing more to read or write
};

struct PlainConnection final : Connection {
    static constexpr bool kSecure = false;
    explicit PlainConnection(tcp::socket socket) : stream(std::move(socket)) {}
    beast::tcp_stream& tcp() override { return stream; }
    beast::tcp_stream stream;
};

struct TlsConnection final : Connection {
    static constexpr bool kSecure = true;
    TlsConnection(tcp::socket socket, std::shared_ptr<ssl::context> tls_context)
        : context(std::move(tls_context)), stream(std::move(socket), *context) {}
    beast::tcp_stream& tcp() override { return beast::get_lowest_layer(stream); }
    std::shared_ptr<ssl::context> context;  // kept alive for this connection across reloads
    beast::ssl_stream<beast::tcp_stream> stream;
};

/// A TLS context from PEM files: TLS 1.3 only unless 1.2 is allowed, and then only AEAD
/// ciphers with forward secrecy.
Result<std::shared_ptr<ssl::context>> make_tls_context(const ServerOptions::TlsOptions& tls) {
    auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
    boost::system::error_code ec;
    context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                             ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                             ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                         ec);
    SSL_CTX* native = context->native_handle();
    SSL_CTX_set_min_proto_version(native, tls.allow_tls12 ? TLS1_2_VERSION : TLS1_3_VERSION);
    SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (tls.allow_tls12 &&
        SSL_CTX_set_cipher_list(native,
                                "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                                "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                                "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305") != 1) {
        return Error::internal("cannot set the TLS 1.2 cipher list");
    }
    context->use_certificate_chain_file(tls.cert_file, ec);
    if (ec) {
        return Error::invalid("cannot load the TLS certificate " + tls.cert_file + ": " +
                              ec.message());
    }
    context->use_private_key_file(tls.key_file, ssl::context::pem, ec);
    if (ec) {
        return Error::invalid("cannot load the TLS key " + tls.key_file + ": " + ec.message());
    }
    if (SSL_CTX_check_private_key(native) != 1) {
        return Error::invalid("the TLS key " + tls.key_file + " does not match the certificate " +
                              tls.cert_file);
    }
    return context;
}

struct Server::Impl {
    Impl(ServerOptions opts, const Router& r, Pipeline& p)
        : options(std::move(opts)),
          router(r),
          pipeline(p),
          blocking_pool(static_cast<std::size_t>(std::max(1, options.blocking_threads))) {}

    ServerOptions options;
    const Router& router;
    Pipeline& pipeline;
    std::vector<std::unique_ptr<asio::io_context>> contexts;
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
    std::unique_ptr<tcp::acceptor> acceptor;
    std::vector<std::thread> threads;
    std::thread stopper;
    asio::thread_pool blocking_pool;
    std::atomic<bool> stopping{false};
    std::atomic<bool> acceptor_closed{false};
    std::atomic<std::int64_t> open_connections{0};
    std::uint16_t port = 0;
    std::mutex connections_mutex;
    std::unordered_set<std::shared_ptr<Connection>> connections;
    std::mutex tls_mutex;
    std::shared_ptr<ssl::context> tls_context;  // null: plain HTTP
    std::mutex done_mutex;
    std::condition_variable done_cv;
    bool done = false;

    asio::awaitable<void> accept_loop();
    template <class Conn>
    asio::awaitable<void> serve(std::shared_ptr<Conn> connection);
    asio::awaitable<void> linger_close(Connection& connection);
    void close_idle_connections();
};

asio::awaitable<void> Server::Impl::accept_loop() {
    std::size_t next_context = 0;
    while (!stopping) {
        // Each connection lives on one event loop for its whole life; loops take turns.
        auto& context = *contexts[next_context++ % contexts.size()];
        auto [ec, socket] = co_await acceptor->async_accept(context.get_executor(), kTuple);
        if (ec) {
            if (stopping || ec == asio::error::operation_aborted) break;
            log::warn("accept failed", {{"error", ec.message()}});
            continue;
        }
        socket.set_option(tcp::no_delay(true), ec);
        std::shared_ptr<ssl::context> tls;
        {
            std::lock_guard lock(tls_mutex);
            tls = tls_context;
        }
        std::shared_ptr<Connection> connection;
        if (tls) {
            auto secure = std::make_shared<TlsConnection>(std::move(socket), std::move(tls));
            connection = secure;
            asio::co_spawn(context, serve(secure), asio::detached);
        } else {
            auto plain = std::make_shared<PlainConnection>(std::move(socket));
            connection = plain;
            asio::co_spawn(context, serve(plain), asio::detached);
        }
        {
            std::lock_guard lock(connections_mutex);
            connections.insert(connection);
        }
        ++open_connections;
    }
}

asio::awaitable<void> Server::Impl::linger_close(Connection& connection) {
    // Closing right after an early answer (413, 400) while the client is still sending makes the
    // kernel reset the connection, and the client may never read the answer. Stop sending, then
    // drain what arrives for a moment.
    boost::system::error_code ec;
    beast::tcp_stream& tcp_layer = connection.tcp();
    tcp_layer.socket().shutdown(tcp::socket::shutdown_send, ec);
    std::vector<char> sink(kReadChunk);
    std::size_t drained = 0;
    tcp_layer.expires_after(kLingerTimeout);
    while (drained < kLingerMaxBytes) {
        auto [read_ec, n] = co_await tcp_layer.async_read_some(asio::buffer(sink), kTuple);
        if (read_ec) break;
        drained += n;
    }
}

template <class Conn>
asio::awaitable<void> Server::Impl::serve(std::shared_ptr<Conn> connection) {
    auto& stream = connection->stream;
    beast::tcp_stream& tcp_layer = connection->tcp();
    beast::flat_buffer buffer;
    std::string remote = endpoint_text(tcp_layer.socket());
    auto executors = std::make_shared<RequestContext::Executors>();
    executors->io = co_await asio::this_coro::executor;
    executors->pool = &blocking_pool;
    executors->database_inline = options.database_inline;
    bool linger = false;

    if constexpr (Conn::kSecure) {
        tcp_layer.expires_after(options.header_timeout);
        auto [handshake_ec] = co_await stream.async_handshake(ssl::stream_base::server, kTuple);
        if (handshake_ec) connection->closed = true;  // not TLS, or a failed handshake
    }

    while (!stopping && !connection->closed) {
        connection->idle = true;
        if (buffer.size() == 0) {
            tcp_layer.expires_after(options.idle_timeout);
            auto [ec, n] = co_await stream.async_read_some(buffer.prepare(kReadChunk), kTuple);
            if (ec) break;  // closed by the client, idle timeout, or shutdown
            buffer.commit(n);
        }
        connection->idle = false;

        bhttp::request_parser<bhttp::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
        // No body limit yet: it depends on the route, known only once the headers are in, and
        // Beast would otherwise fail the header read on a large Content-Length (its default limit
        // is 1 MiB), turning a 413 into a 400. The declared length is checked after routing.
        parser.body_limit(boost::none);
        tcp_layer.expires_after(options.header_timeout);
        auto [header_ec, header_bytes] =
            co_await bhttp::async_read_header(stream, buffer, parser, kTuple);
        if (header_ec) {
            if (header_ec == bhttp::error::header_limit) {
                auto answer = bare_problem(431, "headers-too-large",
                                           "The request line and headers are too large.");
                co_await bhttp::async_write(stream, answer, kTuple);
                linger = true;
            } else if (header_ec != beast::error::timeout &&
                       header_ec != bhttp::error::end_of_stream && header_ec != asio::error::eof &&
                       header_ec != asio::error::operation_aborted) {
                auto answer =
                    bare_problem(400, "malformed-request", "The request is not valid HTTP/1.1.");
                co_await bhttp::async_write(stream, answer, kTuple);
                linger = true;
            }
            break;
        }

        const auto& head = parser.get();
        std::string_view target = head.target();
        auto method = parse_method(head.method_string());
        if (target.empty() || target.front() != '/') {
            auto answer = bare_problem(400, "malformed-request",
                                       "The request target must be an absolute path.");
            co_await bhttp::async_write(stream, answer, kTuple);
            linger = true;
            break;
        }

        Request request;
        request.secure = Conn::kSecure;
        request.method = method.value_or(Method::get);
        request.target = std::string(target);
        std::size_t question = target.find('?');
        request.path = std::string(target.substr(0, question));
        if (question != std::string_view::npos)
            request.query = std::string(target.substr(question + 1));
        request.remote_address = remote;
        request.keep_alive = head.keep_alive();
        request.headers.reserve(std::distance(head.begin(), head.end()));
        for (const auto& field : head) {
            std::string name(field.name_string());
            for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            request.headers.push_back({std::move(name), std::string(field.value())});
        }

        RequestContext context;
        context.executors = executors;
        context.client_address = remote;
        Match match;
        if (method) match = router.match(*method, request.path);
        std::size_t body_limit = options.max_body_bytes;
        if (match.route != nullptr && match.route->options.max_body_bytes) {
            body_limit = *match.route->options.max_body_bytes;
        }

        SyncHandler unrouted;
        bool close_after = false;
        auto declared_length = parser.content_length();
        if (!method) {
            unrouted = [](Request&, RequestContext&) {
                return Response::make_problem(501, "method-not-implemented", "Not Implemented",
                                              "This method is not supported.");
            };
            close_after = !parser.is_done();
        } else if (declared_length && *declared_length > body_limit) {
            unrouted = [body_limit](Request&, RequestContext&) {
                return Response::make_problem(
                    413, "body-too-large", "Content Too Large",
                    "The request body exceeds " + std::to_string(body_limit) + " bytes.");
            };
            close_after = true;
        } else if (!parser.is_done()) {
            parser.body_limit(body_limit);
            if (auto expect = request.header("expect");
                expect && beast::iequals(*expect, "100-continue")) {
                bhttp::response<bhttp::empty_body> go_on{bhttp::status::continue_, kHttp11};
                co_await bhttp::async_write(stream, go_on, kTuple);
            }
            tcp_layer.expires_after(options.body_timeout);
            auto [body_ec, body_bytes] = co_await bhttp::async_read(stream, buffer, parser, kTuple);
            if (body_ec == bhttp::error::body_limit) {
                unrouted = [body_limit](Request&, RequestContext&) {
                    return Response::make_problem(
                        413, "body-too-large", "Content Too Large",
                        "The request body exceeds " + std::to_string(body_limit) + " bytes.");
                };
                close_after = true;
            } else if (body_ec) {
                if (body_ec == beast::error::timeout || body_ec == bhttp::error::partial_message ||
                    body_ec == asio::error::eof) {
                    break;  // the client stopped sending: nobody is left to answer
                }
                auto answer = bare_problem(400, "malformed-request",
                                           "The request body is not valid HTTP/1.1.");
                co_await bhttp::async_write(stream, answer, kTuple);
                linger = true;
                break;
            }
        }
        if (!close_after) request.body = std::move(parser.get().body());

        const Route* route = nullptr;
        if (unrouted) {
            context.route = "unmatched";
            match = {};
        } else if (match.route != nullptr) {
            route = match.route;
            context.route = route->path_template;
            context.matched_permission = route->options.permission;
            context.path_params = std::move(match.path_params);
        } else if (!match.allowed.empty()) {
            context.route = "unmatched";
            std::string allow;
            for (Method allowed : match.allowed) {
                if (!allow.empty()) allow += ", ";
                allow += to_string(allowed);
            }
            unrouted = [allow](Request&, RequestContext&) {
                Response response =
                    Response::make_problem(405, "method-not-allowed", "Method Not Allowed",
                                           "This path does not accept this method.");
                response.set_header("allow", allow);
                return response;
            };
        } else if (!request.path.starts_with("/api/") && request.path != "/api" &&
                   (request.method == Method::get || request.method == Method::head) &&
                   router.fallback()) {
            context.route = "static";
            unrouted = router.fallback();
        } else {
            context.route = "unmatched";
        }

        Response response =
            co_await pipeline.run(request, context, route, unrouted ? &unrouted : nullptr);

        bool keep_alive = request.keep_alive && !close_after && !stopping;
        std::string_view body = response.body_view();
        bool bodyless = response.status == 204 || response.status == 304;
        std::string response_head = serialize_head(response, body.size(), keep_alive);
        // HEAD gets the length of the body it would have had, but not the body.
        bool send_body = request.method != Method::head && !bodyless && !body.empty();
        std::array<asio::const_buffer, 2> wire{
            asio::buffer(response_head), asio::buffer(body.data(), send_body ? body.size() : 0)};
        tcp_layer.expires_after(options.body_timeout);
        auto [write_ec, written] = co_await asio::async_write(stream, wire, kTuple);
        if (write_ec) break;
        if (close_after) {
            linger = true;
            break;
        }
        if (!keep_alive) break;
    }

    if constexpr (Conn::kSecure) {
        if (!connection->closed && !linger) {
            // close_notify, so the client can tell a complete response from a cut connection.
            tcp_layer.expires_after(kLingerTimeout);
            co_await stream.async_shutdown(kTuple);
        }
    }
    if (linger) co_await linger_close(*connection);
    boost::system::error_code ec;
    tcp_layer.socket().shutdown(tcp::socket::shutdown_both, ec);
    tcp_layer.socket().close(ec);
    {
        std::lock_guard lock(connections_mutex);
        connections.erase(connection);
    }
    --open_connections;
}

void Server::Impl::close_idle_connections() {
    std::lock_guard lock(connections_mutex);
    for (const auto& connection : connections) {
        // Runs on the connection's own thread, so `idle` cannot change underneath; a connection
        // busy with a request finishes it and then sees `stopping`.
        asio::post(connection->tcp().get_executor(), [connection] {
            if (connection->idle) connection->tcp().cancel();
        });
    }
}

Server::Server(ServerOptions options, const Router& router, Pipeline& pipeline, metrics::Registry*)
    : impl_(std::make_unique<Impl>(std::move(options), router, pipeline)) {}

Server::~Server() {
    stop();
    wait();
}

Result<void> Server::start() {
    auto& impl = *impl_;
    int thread_count = impl.options.threads > 0
                           ? impl.options.threads
                           : static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
    for (int idx = 0; idx < thread_count; ++idx) {
        impl.contexts.push_back(std::make_unique<asio::io_context>(1));
        impl.guards.push_back(asio::make_work_guard(*impl.contexts.back()));
    }
    boost::system::error_code ec;
    auto address = asio::ip::make_address(impl.options.host, ec);
    if (ec)
        return Error::invalid("cannot listen on '" + impl.options.host + "': not an IP address");
    tcp::endpoint endpoint(address, impl.options.port);
    impl.acceptor = std::make_unique<tcp::acceptor>(*impl.contexts.front());
    impl.acceptor->open(endpoint.protocol(), ec);
    if (!ec) impl.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) impl.acceptor->bind(endpoint, ec);
    if (!ec) impl.acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        return Error::unavailable("cannot listen on " + impl.options.host + ":" +
                                  std::to_string(impl.options.port) + ": " + ec.message());
    }
    impl.port = impl.acceptor->local_endpoint().port();
    if (impl.options.tls) {
        auto context = make_tls_context(*impl.options.tls);
        if (!context) return context.error();
        impl.tls_context = std::move(*context);
    }
    asio::co_spawn(*impl.contexts.front(), impl.accept_loop(), asio::detached);
    for (auto& context : impl.contexts) {
        impl.threads.emplace_back([&context] { context->run(); });
    }
    return {};
}

std::uint16_t Server::port() const { return impl_->port; }

Result<void> Server::reload_tls() {
    auto& impl = *impl_;
    if (!impl.options.tls) return Error::invalid("this server does not serve TLS");
    auto context = make_tls_context(*impl.options.tls);
    if (!context) return context.error();
    std::lock_guard lock(impl.tls_mutex);
    impl.tls_context = std::move(*context);  // open connections keep the context they began with
    return {};
}

std::int64_t Server::open_connections() const { return impl_->open_connections.load(); }

void Server::stop() {
    auto& impl = *impl_;
    if (impl.stopping.exchange(true)) return;
    if (impl.contexts.empty()) {
        std::lock_guard lock(impl.done_mutex);
        impl.done = true;
        impl.done_cv.notify_all();
        return;
    }
    asio::post(*impl.contexts.front(), [&impl] {
        boost::system::error_code ec;
        impl.acceptor->close(ec);
        impl.acceptor_closed = true;
    });
    impl.close_idle_connections();
    impl.stopper = std::thread([&impl] {
        auto deadline = std::chrono::steady_clock::now() + impl.options.shutdown_grace;
        // Also wait for the close posted above: stopping the loops before it ran would leave the
        // port listening, and the kernel would keep accepting connections nobody serves.
        while ((impl.open_connections.load() > 0 || !impl.acceptor_closed.load()) &&
               std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(kStopPollInterval);
            impl.close_idle_connections();
        }
        if (impl.open_connections.load() > 0) {
            log::warn("shutdown grace period over; closing busy connections",
                      {{"open_connections", impl.open_connections.load()}});
        }
        for (auto& context : impl.contexts) context->stop();
        impl.blocking_pool.join();
        std::lock_guard lock(impl.done_mutex);
        impl.done = true;
        impl.done_cv.notify_all();
    });
}

void Server::wait() {
    auto& impl = *impl_;
    {
        std::unique_lock lock(impl.done_mutex);
        impl.done_cv.wait(lock, [&impl] { return impl.done; });
    }
    for (auto& thread : impl.threads) {
        if (thread.joinable()) thread.join();
    }
    if (impl.stopper.joinable()) impl.stopper.join();
}

}  // namespace nimbus::http
