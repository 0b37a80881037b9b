// The pipeline runner and the standard steps.
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <list>
#include <unordered_map>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "core/clock.hpp"
#include "core/ids.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "http/http.hpp"
#include "http/internal.hpp"

namespace nimbus::http {
namespace {

constexpr std::size_t kMaxIncomingRequestIdLength = 128;
constexpr int kGzipWindowBits = 15 + 16;  // 15-bit window, +16 selects the gzip wrapper
constexpr int kGzipMemLevel = 8;
constexpr std::string_view kCorsMaxAgeSeconds = "600";

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

bool skipped(const Route* route, std::string_view step_name) {
    if (route == nullptr) return false;
    const auto& skip = route->options.skip_steps;
    return std::find(skip.begin(), skip.end(), step_name) != skip.end();
}

/// Request id first: every later log line and every error body carries it. An incoming
/// X-Request-Id is kept when it is short and plain (so a proxy's id follows the request through);
/// anything else is replaced so log lines cannot be forged through it.
class RequestIdStep final : public Middleware {
public:
    std::string_view name() const override { return "request_id"; }

    std::optional<Response> on_request(Request& request, RequestContext& context) override {
        auto incoming = request.header("x-request-id");
        if (incoming && is_plain_id(*incoming)) {
            context.request_id = std::string(*incoming);
        } else {
            context.request_id = new_id("req", clock_.now_ms());
        }
        return std::nullopt;
    }

    void on_response(const Request&, RequestContext& context, Response& response) override {
        response.set_header("x-request-id", context.request_id);
    }

private:
    static bool is_plain_id(std::string_view id) {
        if (id.empty() || id.size() > kMaxIncomingRequestIdLength) return false;
        return std::all_of(id.begin(), id.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
        });
    }
    SystemClock clock_;
};

/// Request counts and durations by method, route template and status.
class MetricsStep final : public Middleware {
public:
    explicit MetricsStep(metrics::Registry& registry)
        : requests_(registry.counter("nimbus_http_requests_total", "HTTP requests served.",
                                     {"method", "route", "status"})),
          durations_(registry.histogram("nimbus_http_request_duration_seconds",
                                        "Time from the request's headers to its response.",
                                        {"method", "route", "status"})) {}

    std::string_view name() const override { return "metrics"; }

    void on_response(const Request& request, RequestContext& context, Response& response) override {
        Series& series = find_series(request.method, context.route, response.status);
        series.requests->inc();
        series.duration->observe(seconds_since(context.started));
    }

private:
    struct Series {
        metrics::Counter* requests;
        metrics::Histogram* duration;
    };
    struct Key {
        std::uint64_t owner;
        Method method;
        int status;
        std::string_view route;
        bool operator==(const Key&) const = default;
    };
    struct KeyHash {
        std::size_t operator()(const Key& key) const {
            return std::hash<std::string_view>()(key.route) ^
                   (static_cast<std::size_t>(key.status) << 8U) ^
                   static_cast<std::size_t>(key.method) ^ std::hash<std::uint64_t>()(key.owner);
        }
    };

    /// The registry's lookup builds label vectors and takes a lock; a per-thread cache of the
    /// series already seen keeps that off the path of every request. Keys view strings owned by
    /// the cache's own list, so they stay valid as the map grows.
    Series& find_series(Method method, std::string_view route, int status) {
        struct Cache {
            std::unordered_map<Key, Series, KeyHash> series;
            std::list<std::string> routes;
        };
        thread_local Cache cache;
        auto found = cache.series.find(Key{instance_id_, method, status, route});
        if (found != cache.series.end()) return found->second;
        const std::string& owned_route = cache.routes.emplace_back(route);
        std::string method_text(to_string(method));
        std::string status_label = std::to_string(status);
        Series series{&requests_.with({method_text, owned_route, status_label}),
                      &durations_.with({method_text, owned_route, status_label})};
        return cache.series.emplace(Key{instance_id_, method, status, owned_route}, series)
            .first->second;
    }

    /// Identifies this step in the per-thread cache; unlike `this`, never reused by a later step
    /// (tests build many pipelines, and a reused address would find a destroyed registry's series).
    static inline std::atomic<std::uint64_t> next_instance_id_{0};
    const std::uint64_t instance_id_ = next_instance_id_.fetch_add(1);
    metrics::Family<metrics::Counter>& requests_;
    metrics::Family<metrics::Histogram>& durations_;
};

/// One JSON line per request, written after the response is known.
class AccessLogStep final : public Middleware {
public:
    std::string_view name() const override { return "access_log"; }

    void on_response(const Request& request, RequestContext& context, Response& response) override {
        constexpr double kMsPerSecond = 1000.0;
        log::info("request", {{"request_id", context.request_id},
                              {"method", to_string(request.method)},
                              {"path", request.path},
                              {"route", context.route},
                              {"status", response.status},
                              {"duration_ms", seconds_since(context.started) * kMsPerSecond},
                              {"bytes", static_cast<std::int64_t>(response.body_view().size())},
                              {"remote", request.remote_address}});
    }
};

/// Browser hardening on every response. The CSP allows inline styles because MUI's emotion
/// injects <style> tags; scripts come only from our own origin.
class SecurityHeadersStep final : public Middleware {
public:
    explicit SecurityHeadersStep(std::int64_t hsts_max_age_s)
        : hsts_(hsts_max_age_s > 0 ? "max-age=" + std::to_string(hsts_max_age_s) : "") {}

    std::string_view name() const override { return "security_headers"; }

    void on_response(const Request& request, RequestContext&, Response& response) override {
        // Only over HTTPS: a browser ignores HSTS received over plain HTTP (RFC 6797 8.1).
        if (request.secure && !hsts_.empty())
            response.set_header("strict-transport-security", hsts_);
        response.set_header("x-content-type-options", "nosniff");
        response.set_header("x-frame-options", "DENY");
        response.set_header("referrer-policy", "no-referrer");
        response.set_header("cross-origin-opener-policy", "same-origin");
        auto type = response.header("content-type");
        if (type && type->starts_with("text/html")) {
            response.set_header(
                "content-security-policy",
                "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                "font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
                "base-uri 'none'; form-action 'self'");
        }
    }

private:
    std::string hsts_;
};

/// Sends plain-HTTP requests to the HTTPS listener (308 keeps the method and body).
class HttpsRedirectStep final : public Middleware {
public:
    explicit HttpsRedirectStep(std::uint16_t https_port) : https_port_(https_port) {}

    std::string_view name() const override { return "https_redirect"; }

    std::optional<Response> on_request(Request& request, RequestContext&) override {
        if (request.secure) return std::nullopt;
        std::string_view host = request.header("host").value_or("localhost");
        // The host is the client's own word; keep it only when it looks like a host name or an
        // address, so the Location header cannot carry anything else.
        bool plain = !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' ||
                   c == ':' || c == '[' || c == ']';
        });
        std::string name(plain ? host : "localhost");
        if (std::size_t colon = name.rfind(':');
            colon != std::string::npos && name.find(']', colon) == std::string::npos) {
            name.resize(colon);  // drop the plain-HTTP port
        }
        constexpr std::uint16_t kDefaultHttpsPort = 443;
        std::string port =
            https_port_ == kDefaultHttpsPort ? "" : ":" + std::to_string(https_port_);
        Response response = Response::make_problem(308, "", "Permanent Redirect", "Use HTTPS.");
        response.set_header("location", "https://" + name + port + request.target);
        return response;
    }

private:
    std::uint16_t https_port_;
};

/// CORS for the configured origins. Preflights are answered here, before authentication, as the
/// Fetch standard requires (a preflight carries no credentials).
class CorsStep final : public Middleware {
public:
    explicit CorsStep(std::vector<std::string> origins) : origins_(std::move(origins)) {}

    std::string_view name() const override { return "cors"; }

    std::optional<Response> on_request(Request& request, RequestContext&) override {
        auto origin = request.header("origin");
        bool preflight =
            request.method == Method::options && request.header("access-control-request-method");
        if (!origin || !preflight) return std::nullopt;
        if (!allowed(*origin)) {
            return Response::make_problem(403, "cors-origin-denied", "Forbidden",
                                          "This origin may not call the API from a browser.");
        }
        Response response = Response::no_content();
        response.set_header("access-control-allow-methods", "GET, HEAD, POST, PUT, PATCH, DELETE");
        if (auto headers = request.header("access-control-request-headers")) {
            response.set_header("access-control-allow-headers", *headers);
        }
        response.set_header("access-control-max-age", kCorsMaxAgeSeconds);
        return response;
    }

    void on_response(const Request& request, RequestContext&, Response& response) override {
        auto origin = request.header("origin");
        if (!origin || !allowed(*origin)) return;
        response.set_header("access-control-allow-origin", *origin);
        response.set_header("access-control-allow-credentials", "true");
        response.set_header("access-control-expose-headers", "x-request-id, etag, retry-after");
        response.set_header("vary", "Origin");
    }

private:
    bool allowed(std::string_view origin) const {
        return std::any_of(origins_.begin(), origins_.end(), [origin](const std::string& allowed) {
            return allowed == "*" || allowed == origin;
        });
    }
    std::vector<std::string> origins_;
};

/// Checks the route's declared permission: 401 without credentials, 403 without the permission.
class AuthorizeStep final : public Middleware {
public:
    std::string_view name() const override { return "authorize"; }

    std::optional<Response> on_request(Request&, RequestContext& context) override {
        if (context.matched_permission.empty()) return std::nullopt;
        if (!context.principal) {
            Response response = Response::make_problem(401, "unauthenticated", "Unauthorized",
                                                       "This request needs valid credentials.");
            response.set_header("www-authenticate", "Bearer");
            return response;
        }
        if (!context.principal->has(context.matched_permission)) {
            return Response::make_problem(
                403, "permission-denied", "Forbidden",
                "The credentials lack the permission " + context.matched_permission + ".");
        }
        return std::nullopt;
    }
};

/// gzip for JSON and text bodies above a size when the client accepts it. Last in the chain so it
/// compresses the final body; responses that already carry a Content-Encoding (precompressed
/// static files) pass untouched.
class CompressionStep final : public Middleware {
public:
    explicit CompressionStep(std::size_t min_bytes) : min_bytes_(min_bytes) {}

    std::string_view name() const override { return "compression"; }

    void on_response(const Request& request, RequestContext&, Response& response) override {
        if (response.shared_body || response.body.size() < min_bytes_ ||
            response.header("content-encoding"))
            return;
        if (!accepts_gzip(request.header("accept-encoding").value_or(""))) return;
        auto type = response.header("content-type").value_or("");
        if (!compressible(type)) return;
        if (auto compressed = gzip(response.body)) {
            response.body = std::move(*compressed);
            response.set_header("content-encoding", "gzip");
            response.set_header("vary", "Accept-Encoding");
        }
    }

private:
    std::size_t min_bytes_;
};

}  // namespace

bool accepts_gzip(std::string_view accept_encoding) {
    // Items are "coding;q=value"; gzip or * with a q above zero accepts (RFC 9110 section 12.5.3).
    while (!accept_encoding.empty()) {
        std::size_t comma = accept_encoding.find(',');
        std::string_view item = accept_encoding.substr(0, comma);
        accept_encoding = comma == std::string_view::npos ? std::string_view()
                                                          : accept_encoding.substr(comma + 1);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        std::string_view coding = item.substr(0, item.find(';'));
        while (!coding.empty() && coding.back() == ' ') coding.remove_suffix(1);
        if (coding != "gzip" && coding != "*") continue;
        std::size_t q = item.find("q=");
        if (q == std::string_view::npos) return true;
        std::string_view weight = item.substr(q + 2);
        return !(weight.starts_with("0") &&
                 weight.find_first_not_of("0.", 0) == std::string_view::npos);
    }
    return false;
}

bool compressible(std::string_view content_type) {
    return content_type.starts_with("application/json") ||
           content_type.starts_with("application/problem+json") ||
           content_type.starts_with("text/") ||
           content_type.starts_with("application/javascript") ||
           content_type.starts_with("image/svg+xml");
}

std::optional<std::string> gzip(std::string_view input) {
    z_stream stream{};
    if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, kGzipWindowBits, kGzipMemLevel,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
        return std::nullopt;
    }
    std::string output(deflateBound(&stream, static_cast<uLong>(input.size())), '\0');
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
    stream.avail_in = static_cast<uInt>(input.size());
    stream.next_out = reinterpret_cast<Bytef*>(output.data());
    stream.avail_out = static_cast<uInt>(output.size());
    int status = deflate(&stream, Z_FINISH);
    output.resize(stream.total_out);
    deflateEnd(&stream);
    if (status != Z_STREAM_END) return std::nullopt;
    return output;
}

void write_problem_body(Response& response, const Request& request, const RequestContext& context) {
    if (!response.problem) return;
    const Problem& problem = *response.problem;
    boost::json::object body;
    body["type"] = problem.type;
    body["title"] = problem.title;
    body["status"] = response.status;
    if (!problem.detail.empty()) body["detail"] = problem.detail;
    body["instance"] = request.path;
    body["request_id"] = context.request_id;
    if (!problem.errors.empty()) {
        boost::json::array errors;
        for (const auto& error : problem.errors) {
            // A parameter error names the parameter; a body error its JSON Pointer ("" is the
            // whole body, so the pointer is always present then).
            boost::json::object entry;
            if (error.parameter.empty()) {
                entry["pointer"] = error.pointer;
            } else {
                entry["parameter"] = error.parameter;
            }
            entry["message"] = error.message;
            errors.push_back(std::move(entry));
        }
        body["errors"] = std::move(errors);
    }
    response.body = boost::json::serialize(body);
    response.shared_body.reset();
    response.set_header("content-type", "application/problem+json");
}

boost::asio::awaitable<std::optional<Response>> Middleware::on_request_async(
    Request& request, RequestContext& context) {
    co_return on_request(request, context);
}

bool Principal::has(std::string_view permission) const {
    return std::any_of(permissions.begin(), permissions.end(),
                       [permission](const std::string& granted) {
                           return granted == "*" || granted == permission;
                       });
}

struct Pipeline::StepTimers {
    metrics::Family<metrics::Histogram>* family = nullptr;
    std::vector<metrics::Histogram*> per_step;
};

Pipeline::Pipeline(metrics::Registry* registry)
    : timers_(std::make_unique<StepTimers>()), registry_(registry) {}

Pipeline::~Pipeline() = default;

void Pipeline::append(std::unique_ptr<Middleware> step) {
    metrics::Histogram* timer = nullptr;
    if (registry_ != nullptr) {
        if (timers_->family == nullptr) {
            static const std::vector<double> kStepBuckets = {
                0.000001, 0.000005, 0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01};
            timers_->family =
                &registry_->histogram("nimbus_http_step_duration_seconds",
                                      "Time spent in each pipeline step.", {"step"}, kStepBuckets);
        }
        timer = &timers_->family->with({std::string(step->name())});
    }
    timers_->per_step.push_back(timer);
    steps_.push_back(std::move(step));
}

boost::asio::awaitable<Response> Pipeline::run(Request& request, RequestContext& context,
                                               const Route* route, const SyncHandler* unrouted) {
    Response response;
    context.matched = route;
    std::size_t entered = 0;  // steps whose on_request ran; their on_response runs in reverse
    bool answered = false;
    try {
        for (; entered < steps_.size(); ++entered) {
            Middleware& step = *steps_[entered];
            if (skipped(route, step.name())) continue;
            auto start = std::chrono::steady_clock::now();
            // Not a conditional expression: GCC 12 mishandles temporaries of a co_await inside one.
            std::optional<Response> early;
            if (step.waits()) {
                early = co_await step.on_request_async(request, context);
            } else {
                early = step.on_request(request, context);
            }
            if (auto* timer = timers_->per_step[entered]) timer->observe(seconds_since(start));
            if (early) {
                response = std::move(*early);
                answered = true;
                ++entered;
                break;
            }
        }
        if (!answered) {
            if (route != nullptr) {
                if (const auto* sync = std::get_if<SyncHandler>(&route->handler)) {
                    response = (*sync)(request, context);
                } else {
                    response = co_await std::get<Task>(route->handler)(request, context);
                }
            } else if (unrouted != nullptr && *unrouted) {
                response = (*unrouted)(request, context);
            } else {
                response = Response::make_problem(404, "not-found", "Not Found",
                                                  "No route matches this path.");
            }
        }
    } catch (const std::exception& error) {
        // The recover step: a bug must not take the connection (or the process) down, and the
        // caller learns only the request id to quote; the log has the rest.
        log::error("unhandled exception", {{"request_id", context.request_id},
                                           {"route", context.route},
                                           {"error", error.what()}});
        response = Response::make_problem(
            500, "", "Internal Server Error",
            "An unexpected error occurred. Quote the request id when reporting it.");
    }
    write_problem_body(response, request, context);
    if (route != nullptr && route->options.deprecated) {
        // RFC 9745 (Deprecation) and RFC 8594 (Sunset): clients learn before the route goes.
        response.set_header("deprecation", "true");
        if (!route->options.sunset.empty()) response.set_header("sunset", route->options.sunset);
    }
    for (std::size_t idx = entered; idx-- > 0;) {
        Middleware& step = *steps_[idx];
        if (skipped(route, step.name())) continue;
        auto start = std::chrono::steady_clock::now();
        try {
            step.on_response(request, context, response);
        } catch (const std::exception& error) {
            log::error("middleware failed on response", {{"request_id", context.request_id},
                                                         {"step", step.name()},
                                                         {"error", error.what()}});
        }
        if (auto* timer = timers_->per_step[idx]) timer->observe(seconds_since(start));
    }
    co_return response;
}

std::unique_ptr<Pipeline> default_pipeline(PipelineSettings settings, metrics::Registry* registry) {
    auto pipeline = std::make_unique<Pipeline>(registry);
    // 1. Request id first: every later step's log lines and every error body carry it.
    pipeline->append(std::make_unique<RequestIdStep>());
    // 2. Metrics and 3. the access log next, so they see every answer, early ones included, and
    //    time the whole request.
    if (registry != nullptr) pipeline->append(std::make_unique<MetricsStep>(*registry));
    if (settings.access_log) pipeline->append(std::make_unique<AccessLogStep>());
    // (Recover is built into Pipeline::run: it must wrap the steps, so it cannot be one.)
    // 4. Security headers and 5. CORS before anything that may refuse the request, so refusals
    //    are readable by the browser and hardened like every other answer.
    // HTTPS redirect right after them: a plain request goes no further, but is still counted.
    if (settings.https_redirect_port != 0) {
        pipeline->append(std::make_unique<HttpsRedirectStep>(settings.https_redirect_port));
    }
    pipeline->append(std::make_unique<SecurityHeadersStep>(settings.hsts_max_age_s));
    pipeline->append(std::make_unique<CorsStep>(settings.cors_origins));
    // 6. IP and country rules: the cheapest refusal, before any work is spent on the request.
    if (settings.ip_rules) pipeline->append(std::move(settings.ip_rules));
    // 7. The firewall inspects the request before credentials are looked at, so attacks on the
    //    authentication itself are caught too.
    if (settings.firewall) pipeline->append(std::move(settings.firewall));
    // 8. Authenticate: who is calling (a request without credentials passes on anonymously).
    if (settings.authenticate) pipeline->append(std::move(settings.authenticate));
    // 9. Rate limit after authentication, so budgets are per user, key or client, and per IP
    //    only for anonymous calls.
    if (settings.rate_limit) pipeline->append(std::move(settings.rate_limit));
    // 10. Authorize: the route's declared permission against the principal.
    pipeline->append(std::make_unique<AuthorizeStep>());
    // 11. Compression: its on_response runs after every later step's, so it sees the final body
    //     of whatever answered, cached answers and validation refusals included, and the
    //     response check of step 12 still sees the body uncompressed.
    pipeline->append(std::make_unique<CompressionStep>(settings.gzip_min_bytes));
    // 12. Validate the body and query against the route's schemas, after authorization so an
    //     unauthorized caller learns nothing about the shape a route expects. Debug builds
    //     (the test suite) also check responses against their schemas.
#ifdef NDEBUG
    constexpr bool kCheckResponses = false;
#else
    constexpr bool kCheckResponses = true;
#endif
    pipeline->append(std::make_unique<ValidateStep>(kCheckResponses));
    // 13. The response cache last: a hit skips only the handler, after authorization and
    //     validation decided the caller may see it; it stores bodies before compression.
    if (settings.response_cache_bytes > 0) {
        auto cache = std::make_unique<ResponseCacheStep>(settings.response_cache_bytes,
                                                         std::move(settings.on_cache_write));
        pipeline->response_cache_ = cache.get();
        pipeline->append(std::move(cache));
    }
    return pipeline;
}

void Pipeline::invalidate_cached(const std::string& path) {
    if (response_cache_ != nullptr) response_cache_->invalidate(path);
}

}  // namespace nimbus::http
