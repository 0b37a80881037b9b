// HTTP for the audit log: three read routes over one query, differing in scope (an organization,
// the caller, everything). docs/audit.md lists them.
#include <charconv>
#include <functional>

#include <boost/asio/awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "audit/audit.hpp"
#include "core/clock.hpp"
#include "core/json.hpp"

namespace nimbus::audit {
namespace {

using boost::asio::awaitable;
using boost::json::object;
using http::Method;
using http::Request;
using http::RequestContext;
using http::Response;

constexpr int kDefaultLimit = 50;
/// identity::kSelfPermission: every signed-in user holds it for their own account. Spelled out
/// rather than linking identity for one string.
constexpr std::string_view kSelfPermission = "account.self";
/// Filter values are ids and prefixes; anything longer is not one.
constexpr std::size_t kMaxFilterBytes = 200;

/// The query schema: the validate step answers a bad limit before the handler runs, and the
/// OpenAPI document shows the parameters.
constexpr std::string_view kQuerySchema = R"({
  "type": "object",
  "properties": {
    "action": {"type": "string", "maxLength": 200,
               "description": "Event type prefix, e.g. nimbus.identity.login."},
    "actor": {"type": "string", "maxLength": 200, "description": "Actor id"},
    "target": {"type": "string", "maxLength": 200, "description": "Target id"},
    "since": {"type": "string", "description": "RFC 3339 date-time, inclusive"},
    "until": {"type": "string", "description": "RFC 3339 date-time, exclusive"},
    "cursor": {"type": "string", "maxLength": 64, "description": "next_cursor of the previous page"},
    "limit": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}
  }
})";

constexpr std::string_view kResponseSchema = R"({
  "type": "object",
  "required": ["data", "next_cursor"],
  "properties": {
    "data": {"type": "array", "items": {
      "type": "object",
      "required": ["seq", "id", "time", "action", "actor_id", "org_id", "target_id", "ip",
                   "details"],
      "properties": {
        "seq": {"type": "integer"},
        "id": {"type": "string"},
        "time": {"type": "string"},
        "action": {"type": "string"},
        "actor_id": {"type": ["string", "null"]},
        "org_id": {"type": ["string", "null"]},
        "target_id": {"type": ["string", "null"]},
        "ip": {"type": ["string", "null"]},
        "details": {"type": "object"}
      }
    }},
    "next_cursor": {"type": ["string", "null"]}
  }
})";

boost::json::value optional_text(const std::optional<std::string>& text) {
    if (!text) return nullptr;
    return boost::json::string(*text);
}

boost::json::object to_json(const Entry& entry) {
    auto details = json::parse(entry.details_json);
    return object{
        {"seq", entry.seq},
        {"id", entry.id},
        {"time", format_rfc3339(entry.time_ms)},
        {"action", entry.action},
        {"actor_id", optional_text(entry.actor_id)},
        {"org_id", optional_text(entry.org_id)},
        {"target_id", optional_text(entry.target_id)},
        {"ip", optional_text(entry.ip)},
        {"details", details && details->is_object() ? *details : boost::json::value(object{})}};
}

/// Reads the filters shared by every route; field errors name the parameter.
Query parse_query(const Request& request, std::vector<http::Problem::FieldError>& errors) {
    Query query;
    auto text = [&](std::string_view name) -> std::optional<std::string> {
        auto value = request.query_param(name);
        if (!value) return std::nullopt;
        if (value->empty() || value->size() > kMaxFilterBytes) {
            errors.push_back({"", "must be between 1 and 200 characters", std::string(name)});
            return std::nullopt;
        }
        return value;
    };
    query.action_prefix = text("action");
    query.actor_id = text("actor");
    query.target_id = text("target");
    struct TimeFilter {
        const char* name;
        std::optional<std::int64_t>* field;
    };
    for (const TimeFilter& filter :
         {TimeFilter{"since", &query.since_ms}, TimeFilter{"until", &query.until_ms}}) {
        if (auto value = request.query_param(filter.name)) {
            auto parsed = parse_rfc3339(*value);
            if (parsed) {
                *filter.field = *parsed;
            } else {
                errors.push_back({"", parsed.error().message, filter.name});
            }
        }
    }
    if (auto cursor = request.query_param("cursor")) {
        auto seq = decode_cursor(*cursor);
        if (seq) {
            query.before_seq = *seq;
        } else {
            errors.push_back({"", "is not a cursor this server issued", "cursor"});
        }
    }
    query.limit = kDefaultLimit;
    if (auto limit = request.query_param("limit")) {
        // The validate step checked the range already; this covers callers without it.
        int value = 0;
        auto [end, ec] = std::from_chars(limit->data(), limit->data() + limit->size(), value);
        if (ec != std::errc() || end != limit->data() + limit->size() || value < 1 ||
            value > kMaxLimit) {
            errors.push_back({"", "must be an integer between 1 and 200", "limit"});
        } else {
            query.limit = value;
        }
    }
    return query;
}

Response validation_problem(std::vector<http::Problem::FieldError> errors) {
    return Response::make_problem(400, "validation-failed", "Bad Request",
                                  "The request has invalid parameters.", std::move(errors));
}

/// Runs `query` narrowed by `scope` and answers the page.
awaitable<Response> answer(const Log& log, const Request& request, RequestContext& context,
                           const std::function<void(Query&)>& scope) {
    std::vector<http::Problem::FieldError> errors;
    Query query = parse_query(request, errors);
    if (!errors.empty()) co_return validation_problem(std::move(errors));
    scope(query);
    Result<Page> page = Error::internal("not run");
    co_await context.run_database([&] { page = log.list(query); });
    if (!page) {
        if (page.error().code == ErrorCode::invalid_argument) {
            std::string message = page.error().message;
            std::string parameter = message.substr(0, message.find(':'));
            std::size_t colon = message.find(": ");
            co_return validation_problem(
                {{"", colon == std::string::npos ? message : message.substr(colon + 2),
                  parameter}});
        }
        co_return Response::from_error(page.error());
    }
    boost::json::array data;
    data.reserve(page->entries.size());
    for (const Entry& entry : page->entries) data.push_back(to_json(entry));
    Response response = Response::json(
        200, object{{"data", std::move(data)}, {"next_cursor", optional_text(page->next_cursor)}});
    // Security events of real people: no shared cache may keep them.
    response.set_header("cache-control", "no-store");
    co_return response;
}

http::RouteOptions route_options(std::string_view permission, std::string summary) {
    http::RouteOptions options;
    options.permission = std::string(permission);
    options.summary = std::move(summary);
    options.tag = "audit";
    options.query_schema = std::string(kQuerySchema);
    options.response_schema = std::string(kResponseSchema);
    return options;
}

}  // namespace

void add_routes(http::Router& router, const Log& log) {
    http::RouteOptions org_options =
        route_options(kReadPermission, "The audit log of an organization, newest first");
    // Organization ids are minted by new_id("org", ...), as identity's routes declare them. The
    // document publishes the pattern; for signed-in callers the membership check of the
    // authenticate step answers 404 first, malformed ids included, as for any org not theirs.
    org_options.path_schema = http::path_parameters_schema(
        {{"org_id", http::id_schema("org", "an organization id (org_ and a ULID)")}});
    router.add(Method::get, "/api/v1/orgs/{org_id}/audit",
               http::Task([&log](Request& request, RequestContext& context) -> awaitable<Response> {
                   std::string org_id(context.path_param("org_id"));
                   co_return co_await answer(log, request, context,
                                             [&org_id](Query& query) { query.org_id = org_id; });
               }),
               std::move(org_options));

    router.add(
        Method::get, "/api/v1/me/audit",
        http::Task([&log](Request& request, RequestContext& context) -> awaitable<Response> {
            // The permission made the authorize step answer 401 when there is no principal.
            std::string self = context.principal->id;
            co_return co_await answer(log, request, context,
                                      [&self](Query& query) { query.subject_id = self; });
        }),
        route_options(kSelfPermission,
                      "The caller's own security events (as actor or target), newest first"));

    router.add(Method::get, "/api/v1/admin/audit",
               http::Task([&log](Request& request, RequestContext& context) -> awaitable<Response> {
                   co_return co_await answer(log, request, context, [](Query&) {});
               }),
               route_options(kReadAllPermission,
                             "The whole audit log, firewall blocks included, newest first"));
}

}  // namespace nimbus::audit
