#pragma once
// Helpers shared by the files of http/; not part of the module's interface.

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "http/http.hpp"

namespace nimbus::http {

/// Compiles a route's JSON Schemas; null when it declares none. Throws std::invalid_argument on a
/// schema that is not valid JSON Schema.
std::shared_ptr<const CompiledSchemas> compile_schemas(const RouteOptions& options);

enum class SchemaKind { body, query, path, response, error };
/// The schema as JSON (for the OpenAPI document), or null when the route has none of that kind.
const boost::json::value* schema_json(const CompiledSchemas* schemas, SchemaKind kind);

/// Checks the body, path and query parameters against the matched route's schemas (400 with every
/// violation in errors[], 415 for a body that is not JSON); debug builds also check 2xx
/// responses against the response schema.
class ValidateStep final : public Middleware {
public:
    explicit ValidateStep(bool check_responses) : check_responses_(check_responses) {}
    std::string_view name() const override { return "validate"; }
    std::optional<Response> on_request(Request& request, RequestContext& context) override;
    void on_response(const Request& request, RequestContext& context, Response& response) override;

private:
    bool check_responses_;
};

/// True when an Accept-Encoding header value accepts gzip.
bool accepts_gzip(std::string_view accept_encoding);
/// True for content types worth compressing (JSON, text, JavaScript, SVG).
bool compressible(std::string_view content_type);
/// gzip-compresses `input`; nullopt only if zlib fails.
std::optional<std::string> gzip(std::string_view input);
/// The status line and headers of `response`, ending with the blank line: adds Date,
/// Content-Length (`body_size`, except for 1xx/204/304) and `Connection: close` unless
/// `keep_alive`. CR and LF inside names and values are dropped.
std::string serialize_head(const Response& response, std::size_t body_size, bool keep_alive);

/// Serializes `response.problem` (if any) into the body as application/problem+json, adding
/// `instance` and `request_id`.
void write_problem_body(Response& response, const Request& request, const RequestContext& context);

/// Keeps 200 answers of GET routes that set RouteOptions::cache_ttl, keyed by path, query and
/// caller; answers If-None-Match with 304; drops entries when a write to the same resource, a
/// sub-resource or its collection succeeds. Thread safe; memory bounded by `max_bytes`.
class ResponseCacheStep final : public Middleware {
public:
    /// `on_local_write` (optional) hears the path of every successful write after this node's
    /// entries for it are dropped, so the other nodes can drop theirs.
    explicit ResponseCacheStep(std::size_t max_bytes,
                               std::function<void(const std::string&)> on_local_write = {});
    ~ResponseCacheStep() override;
    std::string_view name() const override { return "response_cache"; }
    std::optional<Response> on_request(Request& request, RequestContext& context) override;
    void on_response(const Request& request, RequestContext& context, Response& response) override;
    /// Drops every entry of `path`, below it, and of its collection.
    void invalidate(const std::string& path);
    /// Bytes held now.
    std::size_t bytes() const;

private:
    struct Entry;
    struct Store;
    std::size_t max_bytes_;
    std::function<void(const std::string&)> on_local_write_;
    std::unique_ptr<Store> store_;
};

}  // namespace nimbus::http
