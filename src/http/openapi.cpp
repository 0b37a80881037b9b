// The OpenAPI 3.1 document, generated from the route table and the routes' schemas.
#include <mutex>

#include <boost/json.hpp>

#include "http/internal.hpp"

namespace nimbus::http {
namespace {

std::string lower(std::string_view text) {
    std::string out(text);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

/// "GET /api/v1/orgs/{org_id}" -> "get_api_v1_orgs_org_id": stable and unique per route.
std::string operation_id(const Route& route) {
    std::string id = lower(to_string(route.method));
    for (char c : route.path_template) {
        if (std::isalnum(static_cast<unsigned char>(c))) {
            id.push_back(c);
        } else if (c == '/' || c == '-' || c == '.' || c == '_') {
            if (id.back() != '_') id.push_back('_');
        }
    }
    while (id.back() == '_') id.pop_back();
    return id;
}

/// The declared schema of path parameter `name`, or a bare string when the route declares none.
boost::json::value path_parameter_schema(const Route& route, std::string_view name) {
    const boost::json::value* path = schema_json(route.schemas.get(), SchemaKind::path);
    if (path != nullptr && path->is_object()) {
        if (const auto* properties = path->as_object().if_contains("properties");
            properties != nullptr && properties->is_object()) {
            if (const auto* schema = properties->as_object().if_contains(name)) return *schema;
        }
    }
    return boost::json::object{{"type", "string"}};
}

boost::json::array parameters(const Route& route) {
    boost::json::array out;
    std::string_view rest = route.path_template;
    for (std::size_t open = rest.find('{'); open != std::string_view::npos; open = rest.find('{')) {
        std::size_t close = rest.find('}', open);
        std::string_view name = rest.substr(open + 1, close - open - 1);
        boost::json::value schema = path_parameter_schema(route, name);
        boost::json::object parameter{
            {"name", name}, {"in", "path"}, {"required", true}, {"schema", schema}};
        if (const auto* text =
                schema.is_object() ? schema.as_object().if_contains("description") : nullptr) {
            parameter["description"] = *text;
        }
        out.push_back(std::move(parameter));
        rest = rest.substr(close + 1);
    }
    const boost::json::value* query = schema_json(route.schemas.get(), SchemaKind::query);
    if (query != nullptr && query->is_object()) {
        const auto& object = query->as_object();
        boost::json::array required;
        if (const auto* listed = object.if_contains("required"); listed && listed->is_array()) {
            required = listed->as_array();
        }
        if (const auto* properties = object.if_contains("properties")) {
            for (const auto& [name, schema] : properties->as_object()) {
                bool is_required = false;
                for (const auto& entry : required) {
                    if (entry.is_string() && entry.as_string() == name) is_required = true;
                }
                boost::json::object parameter{
                    {"name", name}, {"in", "query"}, {"required", is_required}, {"schema", schema}};
                if (schema.is_object()) {
                    if (const auto* text = schema.as_object().if_contains("description")) {
                        parameter["description"] = *text;
                    }
                }
                out.push_back(std::move(parameter));
            }
        }
    }
    return out;
}

boost::json::object problem_schema() {
    boost::json::object string_type{{"type", "string"}};
    boost::json::object field_error{{"type", "object"},
                                    {"properties", boost::json::object{{"pointer", string_type},
                                                                       {"parameter", string_type},
                                                                       {"message", string_type}}}};
    boost::json::object properties{{"type", string_type},
                                   {"title", string_type},
                                   {"status", boost::json::object{{"type", "integer"}}},
                                   {"detail", string_type},
                                   {"instance", string_type},
                                   {"request_id", string_type}};
    properties["errors"] = boost::json::object{{"type", "array"}, {"items", field_error}};
    return boost::json::object{{"type", "object"},
                               {"description", "An RFC 9457 problem."},
                               {"required", boost::json::array{"type", "title", "status"}},
                               {"properties", std::move(properties)}};
}

constexpr int kCreated = 201;
constexpr int kAccepted = 202;
constexpr int kNoContent = 204;
constexpr int kFirstRedirect = 300;

/// One declared success answer: 204 and redirects carry no content (a redirect names its target
/// in Location); the others carry the route's response schema when it declares one.
boost::json::object success_response(const Route& route, int status) {
    boost::json::object answer;
    if (status >= kFirstRedirect) {
        answer["description"] = "Redirect to the Location header.";
        answer["headers"] = boost::json::object{
            {"Location", boost::json::object{{"description", "Where the user agent goes next."},
                                             {"required", true},
                                             {"schema", boost::json::object{{"type", "string"}}}}}};
        return answer;
    }
    switch (status) {
        case kCreated: answer["description"] = "Created."; break;
        case kAccepted: answer["description"] = "Accepted."; break;
        case kNoContent: answer["description"] = "Done; no content."; return answer;
        default: answer["description"] = "Success."; break;
    }
    boost::json::object media;
    if (const auto* response = schema_json(route.schemas.get(), SchemaKind::response)) {
        media["schema"] = *response;
    }
    // Without a schema the media type alone is still worth publishing (text, JWK sets); an
    // undescribed JSON answer stays without content, which the docs list as a gap.
    if (!media.empty() || route.options.response_media_type != "application/json") {
        answer["content"] = boost::json::object{{route.options.response_media_type, media}};
    }
    return answer;
}

boost::json::object operation(const Route& route) {
    const RouteOptions& options = route.options;
    boost::json::object op;
    op["operationId"] = operation_id(route);
    op["summary"] = options.summary.empty()
                        ? std::string(to_string(route.method)) + " " + route.path_template
                        : options.summary;
    op["tags"] = boost::json::array{options.tag.empty() ? "system" : options.tag};
    boost::json::array params = parameters(route);
    if (!params.empty()) op["parameters"] = std::move(params);
    if (const auto* body = schema_json(route.schemas.get(), SchemaKind::body)) {
        op["requestBody"] = boost::json::object{
            {"required", true},
            {"content",
             boost::json::object{{"application/json", boost::json::object{{"schema", *body}}}}}};
    }
    boost::json::object responses;
    for (int status : options.success_statuses) {
        responses[std::to_string(status)] = success_response(route, status);
    }
    if (const auto* error = schema_json(route.schemas.get(), SchemaKind::error)) {
        // The handler's own error shape, and the problems the pipeline answers before it.
        boost::json::object content{
            {"application/json", boost::json::object{{"schema", *error}}},
            {"application/problem+json",
             boost::json::object{
                 {"schema", boost::json::object{{"$ref", "#/components/schemas/Problem"}}}}}};
        for (std::string_view range : {"4XX", "5XX"}) {
            responses[range] = boost::json::object{
                {"description",
                 "The route's own error (application/json), or a problem (RFC 9457) from a step "
                 "before it."},
                {"content", content}};
        }
    } else {
        boost::json::object problem_ref{{"$ref", "#/components/responses/Problem"}};
        responses["4XX"] = problem_ref;
        responses["5XX"] = problem_ref;
    }
    op["responses"] = std::move(responses);
    if (!options.permission.empty()) {
        op["security"] = boost::json::array{boost::json::object{{"bearer", boost::json::array{}}}};
        op["x-nimbus-permission"] = options.permission;
    } else {
        op["security"] = boost::json::array{boost::json::object{}};
    }
    if (options.deprecated) op["deprecated"] = true;
    return op;
}

}  // namespace

boost::json::value openapi_document(const Router& router, std::string_view version) {
    boost::json::object paths;
    boost::json::array tags;
    auto add_tag = [&tags](const std::string& name) {
        for (const auto& tag : tags) {
            if (tag.as_object().at("name").as_string() == name) return;
        }
        tags.push_back(boost::json::object{{"name", name},
                                           {"description", "Routes of the " + name + " module."}});
    };
    for (const auto& route : router.routes()) {
        auto& item = paths[route->path_template];
        if (!item.is_object()) item = boost::json::object{};
        item.as_object()[lower(to_string(route->method))] = operation(*route);
        add_tag(route->options.tag.empty() ? "system" : route->options.tag);
    }
    boost::json::object document{
        {"openapi", "3.1.0"},
        {"info",
         boost::json::object{
             {"title", "Nimbus API"},
             {"version", version},
             {"description", "The API of a Nimbus node. Errors are RFC 9457 problems."},
             {"license",
              boost::json::object{{"name", "Proprietary"}, {"identifier", "LicenseRef-Nimbus"}}}}},
        {"servers", boost::json::array{boost::json::object{{"url", "/"}}}},
        {"tags", std::move(tags)},
        {"paths", std::move(paths)},
        {"components",
         boost::json::object{
             {"schemas", boost::json::object{{"Problem", problem_schema()}}},
             {"responses",
              boost::json::object{
                  {"Problem",
                   boost::json::object{
                       {"description", "A problem (RFC 9457)."},
                       {"content",
                        boost::json::object{
                            {"application/problem+json",
                             boost::json::object{
                                 {"schema",
                                  boost::json::object{
                                      {"$ref", "#/components/schemas/Problem"}}}}}}}}}}},
             {"securitySchemes",
              boost::json::object{{"bearer", boost::json::object{{"type", "http"},
                                                                 {"scheme", "bearer"},
                                                                 {"bearerFormat", "JWT"}}}}}}}};
    return document;
}

void add_openapi_route(Router& router, std::string version) {
    struct Cache {
        std::once_flag generated;
        std::string body;
    };
    auto cache = std::make_shared<Cache>();
    router.add(Method::get, "/api/v1/openapi.json",
               SyncHandler([&router, version, cache](Request&, RequestContext&) {
                   std::call_once(cache->generated, [&] {
                       cache->body = boost::json::serialize(openapi_document(router, version));
                   });
                   Response response;
                   response.body = cache->body;
                   response.set_header("content-type", "application/json");
                   response.set_header("cache-control", "no-cache");
                   return response;
               }),
               RouteOptions{.summary = "The OpenAPI 3.1 document of this API",
                            .tag = "system",
                            .response_schema = R"({
  "type": "object", "required": ["openapi", "info", "paths"],
  "properties": {
    "openapi": {"type": "string", "enum": ["3.1.0"]},
    "info": {"type": "object"},
    "paths": {"type": "object"},
    "components": {"type": "object"}}})"});
}

}  // namespace nimbus::http
