// Request validation against the JSON Schemas routes declare (valijson over Boost.JSON).
#include <algorithm>
#include <charconv>
#include <iterator>

#include <boost/json.hpp>
#include <valijson/adapters/boost_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include "core/json.hpp"
#include "core/log.hpp"
#include "http/internal.hpp"

namespace nimbus::http {

struct CompiledSchemas {
    std::unique_ptr<valijson::Schema> body;
    std::unique_ptr<valijson::Schema> query;
    std::unique_ptr<valijson::Schema> path;
    std::unique_ptr<valijson::Schema> response;
    /// The query and path schemas' declared property types, for coercing "10" to 10.
    std::vector<std::pair<std::string, std::string>> query_types;
    std::vector<std::pair<std::string, std::string>> path_types;
    boost::json::value body_json;
    boost::json::value query_json;
    boost::json::value path_json;
    boost::json::value response_json;
    /// RouteOptions::error_schema, for the OpenAPI document only (parsed to catch typos at start).
    boost::json::value error_json;
};

namespace {

constexpr std::size_t kMaxErrors = 50;

std::unique_ptr<valijson::Schema> compile(const std::string& text, std::string_view what,
                                          boost::json::value& parsed_out) {
    if (text.empty()) return nullptr;
    auto parsed = json::parse(text);
    if (!parsed) {
        throw std::invalid_argument(std::string(what) +
                                    " schema is not JSON: " + parsed.error().message);
    }
    parsed_out = std::move(*parsed);
    auto schema = std::make_unique<valijson::Schema>();
    valijson::SchemaParser parser;
    valijson::adapters::BoostJsonAdapter adapter(parsed_out);
    try {
        parser.populateSchema(adapter, *schema);
    } catch (const std::exception& error) {
        throw std::invalid_argument(std::string(what) + " schema is invalid: " + error.what());
    }
    return schema;
}

/// valijson's context {"<root>", "[tags]", "[0]"} as the JSON Pointer "/tags/0" (RFC 6901).
std::string to_pointer(const std::vector<std::string>& context) {
    std::string pointer;
    for (const std::string& part : context) {
        if (part == "<root>") continue;
        std::string_view name = part;
        if (name.size() >= 2 && name.front() == '[' && name.back() == ']') {
            name = name.substr(1, name.size() - 2);
        }
        if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
            name = name.substr(1, name.size() - 2);
        }
        pointer.push_back('/');
        for (char c : name) {
            if (c == '~') {
                pointer += "~0";
            } else if (c == '/') {
                pointer += "~1";
            } else {
                pointer.push_back(c);
            }
        }
    }
    return pointer;
}

/// The subschema that describes `pointer` ("/tags/0"), following `properties` and `items`; null
/// when the walk leaves what the schema declares.
const boost::json::object* subschema(const boost::json::value& schema, std::string_view pointer) {
    const boost::json::object* node = schema.if_object();
    while (node != nullptr && !pointer.empty()) {
        pointer.remove_prefix(1);  // the '/'
        std::size_t slash = pointer.find('/');
        std::string segment(pointer.substr(0, slash));
        pointer = slash == std::string_view::npos ? std::string_view() : pointer.substr(slash);
        for (std::size_t at = segment.find('~'); at != std::string::npos;
             at = segment.find('~', at + 1)) {
            segment.replace(at, 2, segment.compare(at, 2, "~1") == 0 ? "/" : "~");
        }
        const boost::json::value* next = nullptr;
        if (const auto* properties = node->if_contains("properties");
            properties != nullptr && properties->is_object()) {
            next = properties->as_object().if_contains(segment);
        }
        if (next == nullptr) next = node->if_contains("items");
        node = next != nullptr ? next->if_object() : nullptr;
    }
    return node;
}

/// The text between the last pair of single quotes of a valijson message ("... 'email'.").
std::string quoted(std::string_view text) {
    std::size_t close = text.rfind('\'');
    if (close == std::string_view::npos || close == 0) return {};
    std::size_t open = text.rfind('\'', close - 1);
    if (open == std::string_view::npos) return {};
    return std::string(text.substr(open + 1, close - open - 1));
}

/// Says valijson's generic findings the way the handlers say them ("/email: is required",
/// "must be one of: cidr, country"), using the route's schema for what was expected.
void clarify(Problem::FieldError& error, const boost::json::value* schema) {
    const std::string& text = error.message;
    if (text.starts_with("Missing required property")) {
        error.pointer += "/" + quoted(text);
        error.message = "is required";
        return;
    }
    if (text.starts_with("Object contains a property that could not be validated")) {
        error.pointer += "/" + quoted(text);
        error.message = "is not a field";
        return;
    }
    const boost::json::object* node = schema ? subschema(*schema, error.pointer) : nullptr;
    if (node == nullptr) return;
    if (text.starts_with("Failed to match against any enum values")) {
        const auto* allowed = node->if_contains("enum");
        if (allowed == nullptr || !allowed->is_array()) return;
        std::string list;
        for (const auto& value : allowed->as_array()) {
            if (!list.empty()) list += ", ";
            list += value.is_string() ? std::string(value.as_string()) : json::serialize(value);
        }
        error.message = "must be one of: " + list;
    } else if (text.starts_with("Value type not permitted")) {
        const auto* type = node->if_contains("type");
        if (type == nullptr) return;
        auto article = [](std::string_view name) {
            return std::string(name == "integer" || name == "object" || name == "array" ? "an "
                                                                                        : "a ") +
                   std::string(name);
        };
        if (type->is_string()) {
            error.message = "must be " + article(type->as_string());
            return;
        }
        // ["string", "null"]: an optional field that may also be null.
        if (!type->is_array() || type->as_array().empty()) return;
        std::string list;
        for (const auto& name : type->as_array()) {
            if (!name.is_string()) return;
            if (!list.empty()) list += " or ";
            list += name.as_string() == "null" ? std::string("null") : article(name.as_string());
        }
        error.message = "must be " + list;
    }
}

/// Every violation of `schema` by `value`, leaf causes only: valijson also reports each parent
/// ("Failed to validate against schema associated with property name 'x'"), which would repeat
/// the cause in vaguer words. `schema_json` (the schema's JSON) lets the messages name what was
/// expected.
std::vector<Problem::FieldError> violations(const valijson::Schema& schema,
                                            const boost::json::value& value,
                                            const boost::json::value* schema_json = nullptr) {
    valijson::Validator validator;
    valijson::ValidationResults results;
    valijson::adapters::BoostJsonAdapter adapter(value);
    std::vector<Problem::FieldError> errors;
    if (validator.validate(schema, adapter, &results)) return errors;
    valijson::ValidationResults::Error error;
    std::vector<Problem::FieldError> summaries;
    while (results.popError(error)) {
        Problem::FieldError field{to_pointer(error.context), error.description, ""};
        if (error.description.starts_with("Failed to validate")) {
            summaries.push_back(std::move(field));
        } else if (errors.size() < kMaxErrors) {
            clarify(field, schema_json);
            errors.push_back(std::move(field));
        }
    }
    if (errors.empty()) errors = std::move(summaries);
    return errors;
}

/// Parameters as a JSON object, values coerced to the types the schema declares so that
/// `?limit=10` satisfies `{"type": "integer"}`. A value that does not convert stays a string and
/// the schema reports it. `lookup` gives a parameter's raw value, or nullopt when absent.
template <typename Lookup>
boost::json::object parameter_object(const std::vector<std::pair<std::string, std::string>>& types,
                                     Lookup lookup) {
    boost::json::object object;
    for (const auto& [name, type] : types) {
        std::optional<std::string> raw = lookup(name);
        if (!raw) continue;
        if (type == "integer") {
            std::int64_t number = 0;
            auto [end, ec] = std::from_chars(raw->data(), raw->data() + raw->size(), number);
            if (ec == std::errc() && end == raw->data() + raw->size() && !raw->empty()) {
                object[name] = number;
                continue;
            }
        } else if (type == "number") {
            auto parsed = json::parse(*raw);
            if (parsed && parsed->is_number()) {
                object[name] = *parsed;
                continue;
            }
        } else if (type == "boolean" && (*raw == "true" || *raw == "false")) {
            object[name] = *raw == "true";
            continue;
        }
        object[name] = *raw;
    }
    return object;
}

/// The declared property names and types of a parameter schema ("query" or "path").
std::vector<std::pair<std::string, std::string>> declared_types(const boost::json::value& schema,
                                                                std::string_view what) {
    std::vector<std::pair<std::string, std::string>> types;
    if (!schema.is_object()) return types;
    const auto* properties = schema.as_object().if_contains("properties");
    if (properties == nullptr) return types;
    if (!properties->is_object()) {
        throw std::invalid_argument(std::string(what) + " schema properties");
    }
    for (const auto& [name, property] : properties->as_object()) {
        std::string type;
        if (property.is_object()) {
            if (const auto* declared = property.as_object().if_contains("type");
                declared && declared->is_string()) {
                type = std::string(declared->as_string());
            }
        }
        types.emplace_back(std::string(name), std::move(type));
    }
    return types;
}

/// Violations of a parameter schema, pointed at as parameters: the pointer would name the
/// parameter within an object the caller never sent, so `parameter` says it plainly.
std::vector<Problem::FieldError> parameter_violations(const valijson::Schema& schema,
                                                      const boost::json::object& values,
                                                      const boost::json::value& schema_json) {
    auto errors = violations(schema, values, &schema_json);
    for (auto& error : errors) {
        error.parameter = error.pointer.empty() ? "" : error.pointer.substr(1);
        if (error.message.starts_with("Failed to match regex")) {
            // valijson's words name no pattern; the schema's description says what is expected.
            const boost::json::object* node = subschema(schema_json, error.pointer);
            const auto* description = node ? node->if_contains("description") : nullptr;
            if (description != nullptr && description->is_string()) {
                error.message = "must be " + std::string(description->as_string());
            } else {
                error.message = "does not have the expected form";
            }
        }
        error.pointer.clear();
    }
    return errors;
}

constexpr int kNoContent = 204;
constexpr int kNotModified = 304;

/// True for the statuses a route declares among its successes (RouteOptions::success_statuses).
bool is_success_or_redirect(int status) { return status >= 200 && status < 400; }

/// True for answers that carry no body by definition: 204, and redirects (the Location header
/// is the answer).
bool without_content(int status) { return status == kNoContent || status >= 300; }

/// A declaration the route table cannot honour is a programming error: refuse it at start.
void check_success_statuses(const RouteOptions& options) {
    const std::vector<int>& statuses = options.success_statuses;
    if (statuses.empty()) throw std::invalid_argument("a route must declare a success status");
    bool with_content = false;
    for (std::size_t idx = 0; idx < statuses.size(); ++idx) {
        int status = statuses[idx];
        if (!is_success_or_redirect(status) || status == kNotModified) {
            throw std::invalid_argument("success status " + std::to_string(status) +
                                        " is not a 2xx or a 3xx redirect");
        }
        if (std::find(statuses.begin(), statuses.begin() + static_cast<std::ptrdiff_t>(idx),
                      status) != statuses.begin() + static_cast<std::ptrdiff_t>(idx)) {
            throw std::invalid_argument("success status " + std::to_string(status) +
                                        " is declared twice");
        }
        with_content = with_content || !without_content(status);
    }
    if (!options.response_schema.empty() && !with_content) {
        throw std::invalid_argument(
            "a response schema needs a success status that carries content (not 204 or 3xx)");
    }
}

/// True for media types whose bodies are JSON ("application/json", "application/jwk-set+json").
bool is_json_media_type(std::string_view type) {
    type = type.substr(0, type.find(';'));
    return type == "application/json" || type.ends_with("+json");
}

/// The declared statuses as "200, 201" for messages.
std::string listed(const std::vector<int>& statuses) {
    std::string out;
    for (int status : statuses) {
        if (!out.empty()) out += ", ";
        out += std::to_string(status);
    }
    return out;
}

Response validation_failed(std::vector<Problem::FieldError> errors) {
    return Response::make_problem(400, "validation-failed", "Bad Request",
                                  "The request does not match the schema of this route.",
                                  std::move(errors));
}

}  // namespace

std::shared_ptr<const CompiledSchemas> compile_schemas(const RouteOptions& options) {
    check_success_statuses(options);
    if (options.body_schema.empty() && options.query_schema.empty() &&
        options.path_schema.empty() && options.response_schema.empty() &&
        options.error_schema.empty()) {
        return nullptr;
    }
    auto schemas = std::make_shared<CompiledSchemas>();
    schemas->body = compile(options.body_schema, "body", schemas->body_json);
    schemas->query = compile(options.query_schema, "query", schemas->query_json);
    schemas->path = compile(options.path_schema, "path", schemas->path_json);
    schemas->response = compile(options.response_schema, "response", schemas->response_json);
    compile(options.error_schema, "error", schemas->error_json);
    schemas->query_types = declared_types(schemas->query_json, "query");
    schemas->path_types = declared_types(schemas->path_json, "path");
    return schemas;
}

std::string id_schema(std::string_view prefix, std::string_view description) {
    // Crockford's alphabet without I, L, O and U; a ULID's first character holds 3 bits.
    boost::json::object schema{
        {"type", "string"},
        {"pattern", "^" + std::string(prefix) + "_[0-7][0-9A-HJKMNP-TV-Z]{25}$"},
        {"description", description}};
    return boost::json::serialize(schema);
}

std::string path_parameters_schema(
    const std::vector<std::pair<std::string, std::string>>& parameters) {
    boost::json::object properties;
    boost::json::array required;
    for (const auto& [name, schema] : parameters) {
        auto parsed = json::parse(schema);
        if (!parsed) {
            throw std::invalid_argument("path parameter " + std::string(name) +
                                        " schema is not JSON: " + parsed.error().message);
        }
        properties[name] = std::move(*parsed);
        required.emplace_back(name);
    }
    return boost::json::serialize(boost::json::object{{"type", "object"},
                                                      {"required", std::move(required)},
                                                      {"properties", std::move(properties)}});
}

const boost::json::value* schema_json(const CompiledSchemas* schemas, SchemaKind kind) {
    if (schemas == nullptr) return nullptr;
    const boost::json::value* value = nullptr;
    switch (kind) {
        case SchemaKind::body: value = &schemas->body_json; break;
        case SchemaKind::query: value = &schemas->query_json; break;
        case SchemaKind::path: value = &schemas->path_json; break;
        case SchemaKind::response: value = &schemas->response_json; break;
        case SchemaKind::error: value = &schemas->error_json; break;
    }
    return value->is_null() ? nullptr : value;
}

std::optional<Response> ValidateStep::on_request(Request& request, RequestContext& context) {
    if (context.matched == nullptr || !context.matched->schemas) return std::nullopt;
    const CompiledSchemas& schemas = *context.matched->schemas;
    // Path and query parameters are answered together, so one 400 lists every parameter at
    // fault; a malformed id never reaches a handler (nor its database lookup).
    std::vector<Problem::FieldError> errors;
    if (schemas.path) {
        auto values = parameter_object(
            schemas.path_types, [&context](const std::string& name) -> std::optional<std::string> {
                for (const auto& [key, value] : context.path_params) {
                    if (key == name) return value;
                }
                return std::nullopt;
            });
        errors = parameter_violations(*schemas.path, values, schemas.path_json);
    }
    if (schemas.query) {
        auto values = parameter_object(schemas.query_types, [&request](const std::string& name) {
            return request.query_param(name);
        });
        auto query_errors = parameter_violations(*schemas.query, values, schemas.query_json);
        std::move(query_errors.begin(), query_errors.end(), std::back_inserter(errors));
    }
    if (!errors.empty()) return validation_failed(std::move(errors));
    if (schemas.body) {
        auto type = request.header("content-type").value_or("");
        if (!type.starts_with("application/json")) {
            return Response::make_problem(415, "unsupported-media-type", "Unsupported Media Type",
                                          "This route takes a JSON body (application/json).");
        }
        auto parsed = json::parse(request.body);
        if (!parsed) {
            // The slug identity's handlers use for the same fault, with errors[] like every
            // other validation answer so clients read one shape.
            return Response::make_problem(400, "invalid-json", "Bad Request",
                                          parsed.error().message,
                                          {{.pointer = "", .message = parsed.error().message}});
        }
        auto errors = violations(*schemas.body, *parsed, &schemas.body_json);
        if (!errors.empty()) return validation_failed(std::move(errors));
        context.json_body = std::move(*parsed);
    }
    return std::nullopt;
}

void ValidateStep::on_response(const Request&, RequestContext& context, Response& response) {
    if (!check_responses_ || context.matched == nullptr) return;
    // 304 is left out: the response cache revalidates any cached GET with it, whatever the
    // route declares.
    if (!is_success_or_redirect(response.status) || response.status == kNotModified) return;
    const RouteOptions& options = context.matched->options;
    std::vector<Problem::FieldError> errors;
    std::string_view broken = "schema";
    if (std::find(options.success_statuses.begin(), options.success_statuses.end(),
                  response.status) == options.success_statuses.end()) {
        broken = "declared statuses";
        errors.push_back({"",
                          "status " + std::to_string(response.status) +
                              " is not declared; the route answers " +
                              listed(options.success_statuses),
                          ""});
    } else if (const CompiledSchemas* schemas = context.matched->schemas.get();
               schemas != nullptr && schemas->response && !without_content(response.status) &&
               is_json_media_type(options.response_media_type)) {
        auto body = json::parse(response.body_view());
        if (!body) {
            errors.push_back({"", body.error().message, ""});
        } else {
            errors = violations(*schemas->response, *body);
        }
    }
    if (errors.empty()) return;
    // A test build: a response that breaks its own contract is a bug worth failing loudly.
    log::error("response does not match its route's " + std::string(broken),
               {{"route", context.route},
                {"request_id", context.request_id},
                {"status", response.status},
                {"pointer", errors.front().pointer},
                {"error", errors.front().message}});
    response = Response::make_problem(
        500, "response-schema-violation", "Internal Server Error",
        "The response does not match the route's " + std::string(broken) + ".", std::move(errors));
    write_problem_body(response, Request{}, context);
}

}  // namespace nimbus::http
