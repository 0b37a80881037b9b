#pragma once
/// The HTTP layer: requests and responses, the router, the middleware pipeline and the server.
///
/// A request's path through this module (docs/architecture.md tells it in full):
///   accept -> read headers (size and time limits) -> match route (404/405, per-route body limit)
///   -> read body -> Pipeline: each Middleware's on_request in order (any may answer early)
///   -> handler -> each on_response in reverse order -> write.
///
/// Handlers are C++20 coroutines (`Task`) or plain functions (`SyncHandler`). Blocking work —
/// libpq calls, password hashing, outbound HTTP — goes through `RequestContext::run_blocking`,
/// which runs it on the bounded worker pool so I/O threads never stall.
///
///     router.add(Method::get, "/api/v1/orgs/{org_id}", [&](Request& req, RequestContext& ctx) {
///         auto org = orgs.find(ctx.path_param("org_id"));
///         if (!org) return Response::from_error(org.error());
///         return Response::json(200, to_json(*org));
///     });
///
/// Beast and Asio stay out of this header on purpose: modules that declare routes compile fast.

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>

#include "core/result.hpp"

namespace nimbus::metrics {
class Registry;
}

namespace nimbus::http {

struct Route;
class ResponseCacheStep;

enum class Method { get, head, post, put, patch, delete_, options };

/// "GET", "POST", ...
std::string_view to_string(Method method);
/// Parses an upper-case method name.
std::optional<Method> parse_method(std::string_view text);

/// A header; names are stored lower-case.
struct Header {
    std::string name;
    std::string value;
};

/// The reason phrase of a status code ("Not Found").
std::string_view status_text(int status);

/// An incoming request, fully read (headers and body).
struct Request {
    Method method = Method::get;
    std::string target;  ///< as sent: path plus query
    std::string path;    ///< the path, percent-decoding not applied
    std::string query;   ///< without the '?'
    std::vector<Header> headers;
    std::string body;
    std::string remote_address;
    bool keep_alive = true;
    bool secure = false;  ///< arrived over TLS

    /// The first header with this name (case-insensitive), if any.
    std::optional<std::string_view> header(std::string_view name) const;
    /// A query parameter, percent-decoded; the first when repeated.
    std::optional<std::string> query_param(std::string_view name) const;
};

/// An RFC 9457 problem. Serialized as application/problem+json when the response is written, so
/// the server can add `instance` and `request_id`.
struct Problem {
    /// A validation failure: a JSON Pointer into the request and what is wrong there.
    struct FieldError {
        std::string pointer;  ///< JSON Pointer into the body ("/email"); empty for parameters
        std::string message;
        std::string parameter;  ///< the query or path parameter at fault, when it is one
    };
    std::string type = "about:blank";  ///< "/problems/<slug>" for Nimbus-specific problems
    std::string title;
    std::string detail;
    std::vector<FieldError> errors;
};

/// An outgoing response.
struct Response {
    int status = 200;
    std::vector<Header> headers;
    std::string body;
    /// Shared, immutable body (static assets); used instead of `body` when set.
    std::shared_ptr<const std::string> shared_body;
    /// Set for error answers; becomes the body when written.
    std::optional<Problem> problem;

    /// Replaces (or adds) a header.
    void set_header(std::string_view name, std::string_view value);
    std::optional<std::string_view> header(std::string_view name) const;
    /// The body bytes to send.
    std::string_view body_view() const {
        return shared_body ? std::string_view(*shared_body) : std::string_view(body);
    }

    static Response json(int status, const boost::json::value& value);
    static Response text(int status, std::string body,
                         std::string_view content_type = "text/plain; charset=utf-8");
    static Response no_content();
    /// A problem response. `slug` names a Nimbus problem type ("invalid-json" -> type
    /// "/problems/invalid-json"); empty gives "about:blank".
    static Response make_problem(int status, std::string_view slug, std::string title,
                                 std::string detail, std::vector<Problem::FieldError> errors = {});
    /// Maps an Error to its status (invalid_argument -> 400, not_found -> 404, ...).
    static Response from_error(const Error& error);
};

/// Maps an ErrorCode to an HTTP status.
int status_for(ErrorCode code);

/// Who is calling, as established by the authentication step.
struct Principal {
    enum class Kind { user, api_key, oauth_client };
    Kind kind = Kind::user;
    std::string id;      ///< "usr_...", "key_...", "cli_..."
    std::string org_id;  ///< the organization the credentials act in; empty when none
    std::vector<std::string> permissions;  ///< e.g. "org.members.invite"; "*" grants all

    /// True when `permission` (or "*") is among the granted permissions.
    bool has(std::string_view permission) const;
};

/// Per-request state shared by the middleware and the handler.
class RequestContext {
public:
    std::string request_id;
    std::string route;  ///< the matched template ("/api/v1/orgs/{org_id}"), "static" or "unmatched"
    std::vector<std::pair<std::string, std::string>> path_params;
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
    /// Set by the authentication step when the request carries valid credentials.
    std::optional<Principal> principal;
    /// The client's address: the peer, or the first untrusted hop of X-Forwarded-For when the
    /// peer is a configured trusted proxy. Set by the server; steps may refine it.
    std::string client_address;
    /// The matched route's permission (RouteOptions::permission); empty for public routes.
    std::string matched_permission;
    /// The caller's budget after this request, set by the rate-limit step when it decides
    /// before the response exists; the same step writes it as RateLimit-* headers.
    struct RateLimitStatus {
        std::int64_t limit = 0;          ///< requests the bucket holds when full
        std::int64_t remaining = 0;      ///< requests that may follow at once
        std::int64_t reset_seconds = 0;  ///< until the bucket is full again
    };
    std::optional<RateLimitStatus> rate_limit;
    /// The matched route, or null; set by Pipeline::run.
    const Route* matched = nullptr;
    /// The request body parsed as JSON, when the route declares a body schema (the validate step
    /// parsed and checked it, so handlers need not parse again).
    std::optional<boost::json::value> json_body;

    /// A path parameter by name; empty when absent.
    std::string_view path_param(std::string_view name) const;

    /// Runs `work` on the blocking worker pool and resumes on this request's I/O thread.
    /// Without a pool (unit tests) it runs inline.
    boost::asio::awaitable<void> run_blocking(std::function<void()> work);

    /// Runs database work: inline with SQLite (its calls are short and run on the calling thread
    /// by design), on the worker pool with PostgreSQL (a network round trip must not stall an
    /// I/O thread). See ServerOptions::database_inline.
    boost::asio::awaitable<void> run_database(std::function<void()> work);

    /// Set by the server; opaque to handlers.
    struct Executors;
    std::shared_ptr<Executors> executors;
};

/// A coroutine handler.
using Task = std::function<boost::asio::awaitable<Response>(Request&, RequestContext&)>;
/// A handler that never waits; cheaper (no coroutine frame).
using SyncHandler = std::function<Response(Request&, RequestContext&)>;

/// Per-route settings.
struct RouteOptions {
    /// Largest accepted body; nullopt uses the server default (`http.max_body_bytes`).
    std::optional<std::size_t> max_body_bytes;
    /// Middleware steps (by name) switched off for this route, e.g. {"access_log"} for /healthz.
    std::vector<std::string> skip_steps;
    /// The permission a caller needs ("org.members.invite"); checked by the authorize step:
    /// 401 without credentials, 403 without the permission. Empty: public route.
    std::string permission;
    /// For the OpenAPI document: a one-line summary and the tag that groups the route.
    std::string summary;
    std::string tag;
    /// JSON Schemas (draft 7, as JSON text), checked by the validate step before the handler:
    /// the request body (which must then be application/json), and the query parameters (an
    /// object schema whose properties name them; values are coerced to the declared integer,
    /// number or boolean type). `response_schema` describes 2xx bodies: the OpenAPI document
    /// shows it and debug builds check every response against it. Compiled when the route is
    /// added; a malformed schema throws std::invalid_argument at start.
    std::string body_schema;
    std::string query_schema;
    /// The path parameters, as an object schema whose properties name the template's `{params}`
    /// (values are coerced like the query's). Checked with the query: a violation is a 400
    /// whose errors[] entry names the parameter (`parameter`, empty `pointer`), so a malformed id
    /// never reaches the handler; the OpenAPI document publishes each parameter's schema. A
    /// property naming a parameter the template lacks throws std::invalid_argument at start.
    std::string path_schema;
    std::string response_schema;
    /// The statuses the route answers when it succeeds: 2xx, or a 3xx redirect. Declare more
    /// than one only when the route really answers with each (200 for a replaced resource, 201
    /// for a new one). The OpenAPI document lists each (204 and 3xx without content, the others
    /// with `response_schema`), and debug builds answer 500 to a 2xx or 3xx (304 aside: any
    /// cached GET may revalidate) not listed here. Checked when the route is added: a status
    /// outside 200-399, 304, a repeat, an empty list, or a `response_schema` with only 204 and
    /// 3xx to describe throws std::invalid_argument at start.
    std::vector<int> success_statuses{200};
    /// The media type of the success answers that carry content, for the OpenAPI document;
    /// debug builds check `response_schema` only against `application/json` (and `+json`) bodies.
    std::string response_media_type = "application/json";
    /// For the OpenAPI document: the JSON Schema of the errors the handler answers itself when
    /// they are not RFC 9457 problems (the OAuth endpoints answer RFC 6749 `error` objects as
    /// application/json). The document then lists both shapes for 4XX and 5XX, since the
    /// pipeline's own refusals (413, 429, ...) stay problems. Empty: problems only.
    std::string error_schema;
    /// GET only: keep 200 answers in the response cache this long (0: never). The cache key is
    /// the path, the query and the caller (principal or anonymous); a successful write to the
    /// same resource, a sub-resource or its collection drops the entries on this node.
    std::chrono::seconds cache_ttl{0};
    /// Marks the route deprecated: responses carry `Deprecation: true` and, when set, `Sunset`
    /// (an HTTP date) so clients learn before it goes.
    bool deprecated = false;
    std::string sunset;
};

/// The JSON Schema (as JSON text) of an id minted by `nimbus::new_id(prefix, ...)`: the prefix,
/// "_" and a ULID (26 Crockford base-32 capitals, the first 0-7). `description` says what the id
/// names ("an organization id"); a violation answers "must be <description>".
std::string id_schema(std::string_view prefix, std::string_view description);

/// A RouteOptions::path_schema from (parameter name, JSON Schema text) pairs, each required.
///
///     options.path_schema = http::path_parameters_schema({{"org_id", http::id_schema("org",
///         "an organization id (org_ and a ULID)")}});
std::string path_parameters_schema(
    const std::vector<std::pair<std::string, std::string>>& parameters);

/// A route's schemas in compiled form; opaque outside http/.
struct CompiledSchemas;

/// A declared route.
struct Route {
    Method method;
    std::string path_template;
    std::variant<Task, SyncHandler> handler;
    RouteOptions options;
    std::shared_ptr<const CompiledSchemas> schemas;  ///< set by Router::add when any schema is
};

/// The outcome of matching a method and path.
struct Match {
    const Route* route = nullptr;  ///< set when found
    std::vector<std::pair<std::string, std::string>> path_params;
    std::vector<Method> allowed;  ///< set when the path exists but not the method (405)
};

/// Method + path-template routing: `/api/v1/orgs/{org_id}/members/{id}`. A `{name}` segment matches
/// one non-empty path segment. Literal segments win over parameters. HEAD falls back to GET.
/// Not thread safe while adding; matching is thread safe once serving starts.
class Router {
public:
    Router();
    ~Router();
    Router(const Router&) = delete;
    Router& operator=(const Router&) = delete;

    /// Adds a route. Throws std::invalid_argument on a malformed template or a duplicate, which is
    /// a programming error found at start.
    void add(Method method, std::string_view path_template, Task handler,
             RouteOptions options = {});
    void add(Method method, std::string_view path_template, SyncHandler handler,
             RouteOptions options = {});

    /// The handler for paths no route matches (the console's static files); optional.
    void set_fallback(SyncHandler handler) { fallback_ = std::move(handler); }
    const SyncHandler& fallback() const { return fallback_; }

    Match match(Method method, std::string_view path) const;
    const std::vector<std::unique_ptr<Route>>& routes() const { return routes_; }

private:
    struct Node;
    void insert(std::unique_ptr<Route> route);
    std::unique_ptr<Node> root_;
    std::vector<std::unique_ptr<Route>> routes_;
    SyncHandler fallback_;
};

/// One step of the pipeline (the Envoy filter idea): it sees every request before the handler and
/// every response after it, and may answer early. Settings are parsed once at construction; steps
/// must be thread safe because all I/O threads share them.
///
///     class Deny final : public Middleware {
///     public:
///         std::string_view name() const override { return "deny"; }
///         std::optional<Response> on_request(Request& req, RequestContext&) override {
///             if (req.header("x-evil")) return Response::make_problem(403, "", "Forbidden", "no");
///             return std::nullopt;
///         }
///     };
class Middleware {
public:
    virtual ~Middleware() = default;
    /// A stable name, used to switch the step off per route and to label its timing metric.
    virtual std::string_view name() const = 0;
    /// Before the handler. Returning a response answers early: later steps and the handler are
    /// skipped, but every earlier step's on_response still runs.
    virtual std::optional<Response> on_request(Request& request, RequestContext& context) {
        return std::nullopt;
    }
    /// True for a step that must wait on I/O before deciding (a Redis round trip); the pipeline
    /// then calls on_request_async instead of on_request. Most steps never wait, and skipping
    /// the coroutine frame keeps them cheap.
    virtual bool waits() const { return false; }
    /// The waiting variant of on_request; by default it calls on_request.
    virtual boost::asio::awaitable<std::optional<Response>> on_request_async(
        Request& request, RequestContext& context);
    /// After the handler (or an early answer), in reverse order.
    virtual void on_response(const Request& request, RequestContext& context, Response& response) {}
};

/// Settings of the standard steps, and the steps other modules provide. A step left null is
/// not in the pipeline.
struct PipelineSettings {
    std::vector<std::string> cors_origins;
    bool access_log = true;
    std::size_t gzip_min_bytes = 1024;
    std::unique_ptr<Middleware> ip_rules;      ///< gateway: IP and country allow/deny lists
    std::unique_ptr<Middleware> firewall;      ///< gateway: the web application firewall
    std::unique_ptr<Middleware> authenticate;  ///< identity: sets RequestContext::principal
    std::unique_ptr<Middleware> rate_limit;    ///< gateway: per-principal request budgets
    std::size_t response_cache_bytes = 64 * 1024 * 1024;  ///< 0 switches the cache off
    /// Non-zero: plain-HTTP requests are redirected (308) to HTTPS on this port.
    std::uint16_t https_redirect_port = 0;
    /// Non-zero: HTTPS responses carry Strict-Transport-Security with this max-age.
    std::int64_t hsts_max_age_s = 0;
    /// Optional: hears the path of each successful write (POST/PUT/PATCH/DELETE with a 2xx) after
    /// this node's cached entries for it were dropped; the gateway shares it with the other
    /// nodes, which call Pipeline::invalidate_cached. Runs on an I/O thread: must not block.
    std::function<void(const std::string& path)> on_cache_write;
};

/// The ordered steps. Runs them around a handler, times each one, and turns an exception from a
/// step or the handler into a 500 problem that carries the request id and nothing internal.
class Pipeline {
public:
    explicit Pipeline(metrics::Registry* registry = nullptr);
    ~Pipeline();

    void append(std::unique_ptr<Middleware> step);
    const std::vector<std::unique_ptr<Middleware>>& steps() const { return steps_; }

    /// Runs the steps and `route`'s handler (or `fallback` when there is no route).
    boost::asio::awaitable<Response> run(Request& request, RequestContext& context,
                                         const Route* route, const SyncHandler* fallback);

    /// Drops the cached responses a successful write to `path` would drop (the path, what is
    /// below it and its collection), for writes made on another node. Thread safe; a no-op when
    /// the pipeline has no response cache.
    void invalidate_cached(const std::string& path);

private:
    friend std::unique_ptr<Pipeline> default_pipeline(PipelineSettings settings,
                                                      metrics::Registry* registry);
    struct StepTimers;
    ResponseCacheStep* response_cache_ = nullptr;  // owned by steps_; null without a cache
    std::vector<std::unique_ptr<Middleware>> steps_;
    std::unique_ptr<StepTimers> timers_;
    metrics::Registry* registry_;
};

/// The OpenAPI 3.1 document of every route in `router` (paths, parameters, schemas, problems).
boost::json::value openapi_document(const Router& router, std::string_view version);

/// Adds `GET /api/v1/openapi.json`, serving the document of every route of `router`. Generated
/// on the first request, once all routes are in; `router` must outlive the server.
void add_openapi_route(Router& router, std::string version);

/// The standard order; the reasons are in middleware.cpp beside the function.
std::unique_ptr<Pipeline> default_pipeline(PipelineSettings settings, metrics::Registry* registry);

/// Serves a directory of built console assets from memory: hashed files under `assets/` as
/// immutable, everything else (index.html) as no-cache, unknown paths fall back to index.html so
/// client routes work. Paths under /api/ never fall back. Precompressed gzip copies are kept for
/// text assets.
class StaticFiles {
public:
    /// Loads every file below `dir`. A missing directory is not an error: the console then shows a
    /// short page explaining how to build it.
    static std::shared_ptr<StaticFiles> load(const std::string& dir);
    Response serve(const Request& request) const;
    std::size_t file_count() const;

private:
    struct File;
    std::vector<std::pair<std::string, std::shared_ptr<const File>>> files_;  // sorted by path
    std::shared_ptr<const File> find(std::string_view path) const;
};

/// Server limits and threads.
struct ServerOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8080;    ///< 0 picks a free port; see Server::port()
    int threads = 0;              ///< 0: one per core
    int blocking_threads = 4;     ///< the worker pool for run_blocking
    bool database_inline = true;  ///< RequestContext::run_database runs inline (SQLite)
    std::size_t max_body_bytes = 1024 * 1024;
    std::size_t max_header_bytes = 16 * 1024;
    std::chrono::milliseconds header_timeout{10'000};
    std::chrono::milliseconds body_timeout{30'000};
    std::chrono::milliseconds idle_timeout{60'000};
    std::chrono::milliseconds shutdown_grace{10'000};
    /// Serve HTTPS instead of HTTP: PEM certificate chain and key; TLS 1.3 only unless
    /// `allow_tls12`. The files are read at start() and again by reload_tls().
    struct TlsOptions {
        std::string cert_file;
        std::string key_file;
        bool allow_tls12 = false;
    };
    std::optional<TlsOptions> tls;
};

/// The HTTP/1.1 server: one event loop per thread; a single listening socket deals accepted
/// connections to the loops in turn (a second process can never share the port by accident, as
/// it could with SO_REUSEPORT). Keep-alive, limits on header and body size and read time.
class Server {
public:
    Server(ServerOptions options, const Router& router, Pipeline& pipeline,
           metrics::Registry* registry);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    /// Binds and starts the threads. Fails when the address cannot be bound.
    Result<void> start();
    /// The bound port (after start()).
    std::uint16_t port() const;
    /// Reads the certificate and key again (SIGHUP). New connections use them; open ones keep
    /// theirs. On failure the old ones stay in use and the error says why.
    Result<void> reload_tls();
    /// Stops accepting, lets in-flight requests finish for up to the grace period, closes idle
    /// connections, then stops the threads. Safe to call from any thread, more than once.
    void stop();
    /// Blocks until the server has stopped.
    void wait();
    /// Connections open now.
    std::int64_t open_connections() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace nimbus::http
