// HTTP of the OAuth 2.0 / OpenID Connect provider: the protocol endpoints under /oauth2/ (forms
// in, RFC 6749 JSON out), the console's consent API and the client registration API.
// docs/identity.md, "OAuth 2.0 and OpenID Connect", lists them.
#include <functional>

#include <boost/asio/awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "core/clock.hpp"
#include "identity/identity.hpp"
#include "identity/oidc_schemas.hpp"
#include "identity/paging.hpp"
#include "identity/route_schemas.hpp"

namespace nimbus::identity {
namespace {

using boost::asio::awaitable;
using boost::json::object;
using http::Method;
using http::Request;
using http::RequestContext;
using http::Response;

/// Protocol bodies are small forms; 16 KiB holds the longest token and URI we accept.
constexpr std::size_t kMaxFormBytes = 16 * 1024;
constexpr std::string_view kManagePermission = "oauth.clients.manage";
constexpr int kFound = 302;
constexpr std::size_t kBearerLength = 7;  // "Bearer "

constexpr std::string_view kClientSchema = R"({
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "name": {"type": "string", "minLength": 1, "maxLength": 100},
    "type": {"type": "string", "enum": ["confidential", "public"]},
    "redirect_uris": {"type": "array", "maxItems": 10,
                      "items": {"type": "string", "minLength": 1, "maxLength": 2000}},
    "post_logout_redirect_uris": {"type": "array", "maxItems": 10,
                                  "items": {"type": "string", "minLength": 1, "maxLength": 2000}},
    "grant_types": {"type": "array", "minItems": 1, "maxItems": 3,
                    "items": {"type": "string",
                              "enum": ["authorization_code", "refresh_token",
                                       "client_credentials"]}},
    "scopes": {"type": "array", "minItems": 1, "maxItems": 32,
               "items": {"type": "string", "minLength": 1, "maxLength": 64}}
  }
})";

constexpr std::string_view kDecisionSchema = R"({
  "type": "object",
  "additionalProperties": false,
  "required": ["approve"],
  "properties": {"approve": {"type": "boolean"}}
})";

/// 400 for a query string that is not form-encoded (the browser-facing endpoints).
Response malformed_query() {
    return Response::make_problem(400, "invalid-request", "Bad Request",
                                  "The query string is malformed.");
}

Response no_store(Response response) {
    response.set_header("cache-control", "no-store");
    response.set_header("pragma", "no-cache");
    return response;
}

Response oauth_response(const OAuthAnswer& answer) {
    Response response = no_store(Response::json(answer.status, answer.body));
    if (!answer.challenge.empty()) response.set_header("www-authenticate", answer.challenge);
    return response;
}

Response oauth_form_error(std::string_view description) {
    return oauth_response(
        OAuthAnswer{400,  // NOLINT(readability-magic-numbers)
                    object{{"error", "invalid_request"}, {"error_description", description}},
                    {}});
}

Response redirect(const std::string& location) {
    Response response;
    response.status = kFound;
    response.set_header("location", location);
    response.set_header("cache-control", "no-store");
    return response;
}

/// A service error as problem+json; "field: message" errors point at their field (a body
/// pointer for the JSON APIs, a parameter for the browser-facing endpoints).
Response problem(const Error& error, bool parameters = false) {
    if (error.code == ErrorCode::invalid_argument) {
        std::size_t colon = error.message.find(": ");
        if (colon != std::string::npos) {
            std::string field = error.message.substr(0, colon);
            http::Problem::FieldError item;
            item.message = error.message.substr(colon + 2);
            if (parameters) {
                item.parameter = field;
            } else {
                item.pointer = "/" + field;
            }
            return Response::make_problem(400, "validation-failed", "Bad Request",  // NOLINT
                                          "The request has invalid fields.", {std::move(item)});
        }
    }
    return Response::from_error(error);
}

bool is_form(const Request& request) {
    auto type = request.header("content-type");
    return type && type->starts_with("application/x-www-form-urlencoded");
}

/// What a client-authenticated form endpoint asks of the provider: the form, the Authorization
/// header (client_secret_basic) and the caller's address.
using FormCall = std::function<OAuthAnswer(
    const OAuthParams& form, const std::string& authorization, const std::string& client_address)>;

/// The token, revocation and introspection endpoints share their shape (RFC 6749 section 3.2,
/// RFC 7009, RFC 7662): a form body, client authentication, a database call, an OAuth answer.
http::Task form_endpoint(FormCall call) {
    return
        [call = std::move(call)](Request& request, RequestContext& context) -> awaitable<Response> {
            if (!is_form(request)) {
                co_return oauth_form_error("The body must be application/x-www-form-urlencoded.");
            }
            auto form = parse_oauth_params(request.body);
            if (!form) co_return oauth_form_error("The form is malformed.");
            std::string authorization(request.header("authorization").value_or(""));
            OAuthAnswer answer;
            co_await context.run_database(
                [&] { answer = call(*form, authorization, context.client_address); });
            co_return oauth_response(answer);
        };
}

std::string bearer_token(const Request& request) {
    auto header = request.header("authorization");
    if (!header || header->size() <= kBearerLength) return {};
    std::string_view scheme = header->substr(0, kBearerLength);
    if (scheme != "Bearer " && scheme != "bearer ") return {};
    return std::string(header->substr(kBearerLength));
}

std::vector<std::string> strings(const boost::json::value& value) {
    std::vector<std::string> out;
    for (const auto& item : value.as_array()) out.emplace_back(item.as_string());
    return out;
}

/// The registration fields present in a body the validate step already checked.
OAuthClientInput client_input(const boost::json::value& body) {
    const object& fields = body.as_object();
    OAuthClientInput input;
    if (const auto* v = fields.if_contains("name")) input.name = std::string(v->as_string());
    if (const auto* v = fields.if_contains("type")) input.type = std::string(v->as_string());
    if (const auto* v = fields.if_contains("redirect_uris")) input.redirect_uris = strings(*v);
    if (const auto* v = fields.if_contains("post_logout_redirect_uris")) {
        input.post_logout_redirect_uris = strings(*v);
    }
    if (const auto* v = fields.if_contains("grant_types")) input.grant_types = strings(*v);
    if (const auto* v = fields.if_contains("scopes")) input.scopes = strings(*v);
    return input;
}

boost::json::array json_strings(const std::vector<std::string>& items) {
    boost::json::array out;
    for (const auto& item : items) out.emplace_back(item);
    return out;
}

object client_json(const OAuthClient& client) {
    return object{{"id", client.id},
                  {"org_id", client.org_id},
                  {"name", client.name},
                  {"type", client.type},
                  {"redirect_uris", json_strings(client.redirect_uris)},
                  {"post_logout_redirect_uris", json_strings(client.post_logout_redirect_uris)},
                  {"grant_types", json_strings(client.grant_types)},
                  {"scopes", json_strings(client.scopes)},
                  {"created_by", client.created_by},
                  {"created_at", format_rfc3339(client.created_at_ms)},
                  {"updated_at", format_rfc3339(client.updated_at_ms)}};
}

OAuthActor actor_of(const RequestContext& context) {
    // The route's permission made the authorize step answer 401 without a principal.
    return {context.principal->id, context.client_address, context.principal->permissions};
}

http::RouteOptions oauth_route(std::string summary) {
    http::RouteOptions options;
    options.max_body_bytes = kMaxFormBytes;
    options.summary = std::move(summary);
    options.tag = "oauth";
    return options;
}

http::RouteOptions protocol_route(std::string summary) {
    http::RouteOptions options = oauth_route(std::move(summary));
    // Client credentials arrive as `Authorization: Basic`, and UserInfo answers its own RFC 6750
    // errors: the first-party Bearer step must not answer for these endpoints.
    options.skip_steps = {"authenticate"};
    options.error_schema = std::string(schemas::kOAuthErrorAnswer);
    return options;
}

/// A route for signed-in callers holding `permission`.
http::RouteOptions permitted_route(std::string summary, std::string_view permission,
                                   std::string_view body_schema) {
    http::RouteOptions options = oauth_route(std::move(summary));
    options.permission = std::string(permission);
    options.body_schema = std::string(body_schema);
    return options;
}

http::RouteOptions manage_route(std::string summary, std::string_view body_schema = {}) {
    return permitted_route(std::move(summary), kManagePermission, body_schema);
}

http::RouteOptions consent_route(std::string summary, std::string_view body_schema = {}) {
    return permitted_route(std::move(summary), kSelfPermission, body_schema);
}

/// The consent API is for the console's own sign-in: a token a client got through OAuth must
/// not approve requests (of itself or of other clients) on the user's behalf.
std::optional<Response> refuse_delegated(const Service& service, const Request& request) {
    auto claims = service.verify_access_token(bearer_token(request));
    if (claims && claims->client_id.empty()) return std::nullopt;
    return Response::make_problem(403, "forbidden", "Forbidden",  // NOLINT
                                  "Only a console sign-in may decide authorization requests.");
}

std::string session_of(const Service& service, const Request& request) {
    auto claims = service.verify_access_token(bearer_token(request));
    return claims ? claims->session_id : std::string();
}

}  // namespace

void add_oidc_routes(http::Router& router, OidcProvider& provider, const Service& service) {
    router.add(Method::get, "/.well-known/openid-configuration",
               http::SyncHandler([&provider](Request&, RequestContext&) {
                   Response response = Response::json(200, provider.discovery());
                   response.set_header("cache-control", "public, max-age=300");
                   return response;
               }),
               http::RouteOptions{.summary = "OpenID Connect discovery document",
                                  .tag = "oauth",
                                  .response_schema = std::string(schemas::kDiscoveryAnswer)});

    router.add(
        Method::get, "/oauth2/authorize",
        http::Task([&provider](Request& request, RequestContext& context) -> awaitable<Response> {
            auto params = parse_oauth_params(request.query);
            if (!params) co_return malformed_query();
            Result<std::string> location = Error::internal("not run");
            co_await context.run_database([&] { location = provider.authorize(*params); });
            if (!location) co_return problem(location.error(), true);
            co_return redirect(*location);
        }),
        http::RouteOptions{
            .summary = "Authorization endpoint: sends the browser to the consent page",
            .tag = "oauth",
            .success_statuses = {kFound}});

    schemas::add_route(
        router, Method::get, "/api/v1/oauth2/requests/{request_id}",
        http::Task([&provider, &service](Request& request,
                                         RequestContext& context) -> awaitable<Response> {
            if (auto refused = refuse_delegated(service, request)) co_return std::move(*refused);
            std::string request_id(context.path_param("request_id"));
            Result<ConsentRequest> found = Error::internal("not run");
            co_await context.run_database(
                [&] { found = provider.consent_request(request_id, context.principal->id); });
            if (!found) co_return problem(found.error());
            co_return no_store(
                Response::json(200, object{{"id", found->id},
                                           {"client_id", found->client_id},
                                           {"client_name", found->client_name},
                                           {"scopes", json_strings(found->scopes)},
                                           {"redirect_uri", found->redirect_uri},
                                           {"consented", found->consented},
                                           {"expires_at", format_rfc3339(found->expires_at_ms)}}));
        }),
        schemas::responding(
            consent_route("An authorization request waiting for the user's decision"),
            schemas::kConsentRequestAnswer));

    schemas::add_route(
        router, Method::post, "/api/v1/oauth2/requests/{request_id}/decision",
        http::Task([&provider, &service](Request& request,
                                         RequestContext& context) -> awaitable<Response> {
            if (auto refused = refuse_delegated(service, request)) co_return std::move(*refused);
            std::string request_id(context.path_param("request_id"));
            bool approve = context.json_body->at("approve").as_bool();
            std::string session_id = session_of(service, request);
            Result<std::string> location = Error::internal("not run");
            co_await context.run_database([&] {
                location = provider.decide(request_id, context.principal->id, session_id, approve,
                                           context.client_address);
            });
            if (!location) co_return problem(location.error());
            co_return no_store(Response::json(200, object{{"redirect_to", *location}}));
        }),
        schemas::responding(
            consent_route("Approve or deny an authorization request", kDecisionSchema),
            schemas::kDecisionAnswer));

    router.add(Method::post, "/oauth2/token",
               form_endpoint([&provider](const OAuthParams& form, const std::string& authorization,
                                         const std::string& client_address) {
                   return provider.token(form, authorization, client_address);
               }),
               schemas::responding(
                   protocol_route("Token endpoint: codes, refresh tokens and client credentials"),
                   schemas::kOAuthTokenAnswer));

    router.add(Method::post, "/oauth2/revoke",
               form_endpoint([&provider](const OAuthParams& form, const std::string& authorization,
                                         const std::string& client_address) {
                   return provider.revoke(form, authorization, client_address);
               }),
               schemas::responding(protocol_route("Revoke a refresh or access token (RFC 7009)"),
                                   schemas::kRevocationAnswer));

    router.add(
        Method::post, "/oauth2/introspect",
        form_endpoint(
            [&provider](const OAuthParams& form, const std::string& authorization,
                        const std::string&) { return provider.introspect(form, authorization); }),
        schemas::responding(protocol_route("Introspect a token (RFC 7662); confidential clients"),
                            schemas::kIntrospectionAnswer));

    for (Method method : {Method::get, Method::post}) {
        router.add(method, "/oauth2/userinfo",
                   http::Task([&provider](Request& request,
                                          RequestContext& context) -> awaitable<Response> {
                       std::string token = bearer_token(request);
                       OAuthAnswer answer;
                       co_await context.run_database([&] { answer = provider.userinfo(token); });
                       co_return oauth_response(answer);
                   }),
                   schemas::responding(protocol_route("OpenID Connect UserInfo"),
                                       schemas::kUserInfoAnswer));
    }

    router.add(
        Method::get, "/oauth2/logout",
        http::Task([&provider](Request& request, RequestContext& context) -> awaitable<Response> {
            auto params = parse_oauth_params(request.query);
            if (!params) co_return malformed_query();
            Result<std::string> location = Error::internal("not run");
            co_await context.run_database(
                [&] { location = provider.logout(*params, context.client_address); });
            if (!location) co_return problem(location.error(), true);
            co_return redirect(*location);
        }),
        http::RouteOptions{
            .summary = "RP-initiated logout", .tag = "oauth", .success_statuses = {kFound}});

    schemas::add_route(
        router, Method::get, "/api/v1/orgs/{org_id}/oauth-clients",
        http::Task([&provider](Request& request, RequestContext& context) -> awaitable<Response> {
            auto page = read_page(request, "oauth_clients1");
            if (!page) co_return page_problem(page.error());
            std::string org_id(context.path_param("org_id"));
            Result<Page<OAuthClient>> clients = Error::internal("not run");
            co_await context.run_database([&] { clients = provider.list_clients(org_id, *page); });
            if (!clients) co_return problem(clients.error());
            boost::json::array data;
            for (const auto& client : clients->items) data.push_back(client_json(client));
            co_return page_answer(std::move(data), clients->next_after, "oauth_clients1");
        }),
        [] {
            auto options = manage_route("The organization's OAuth clients");
            options.query_schema = std::string(kPageQuerySchema);
            options.response_schema = schemas::list_of(schemas::kOAuthClientAnswer);
            return options;
        }());

    schemas::add_route(
        router, Method::post, "/api/v1/orgs/{org_id}/oauth-clients",
        http::Task([&provider](Request&, RequestContext& context) -> awaitable<Response> {
            std::string org_id(context.path_param("org_id"));
            OAuthClientInput input = client_input(*context.json_body);
            Result<std::pair<OAuthClient, std::string>> created = Error::internal("not run");
            co_await context.run_database(
                [&] { created = provider.create_client(org_id, input, actor_of(context)); });
            if (!created) co_return problem(created.error());
            object body = client_json(created->first);
            // The secret is shown here once; only its hash is kept.
            if (!created->second.empty()) body["client_secret"] = created->second;
            co_return no_store(Response::json(201, body));
        }),
        schemas::answering(
            schemas::responding(manage_route("Register an OAuth client", kClientSchema),
                                schemas::kOAuthClientAnswer),
            {201}));

    schemas::add_route(
        router, Method::get, "/api/v1/orgs/{org_id}/oauth-clients/{client_id}",
        http::Task([&provider](Request&, RequestContext& context) -> awaitable<Response> {
            std::string org_id(context.path_param("org_id"));
            std::string client_id(context.path_param("client_id"));
            Result<OAuthClient> client = Error::internal("not run");
            co_await context.run_database([&] { client = provider.get_client(org_id, client_id); });
            if (!client) co_return problem(client.error());
            co_return no_store(Response::json(200, client_json(*client)));
        }),
        schemas::responding(manage_route("One OAuth client"), schemas::kOAuthClientAnswer));

    schemas::add_route(
        router, Method::patch, "/api/v1/orgs/{org_id}/oauth-clients/{client_id}",
        http::Task([&provider](Request&, RequestContext& context) -> awaitable<Response> {
            std::string org_id(context.path_param("org_id"));
            std::string client_id(context.path_param("client_id"));
            OAuthClientInput input = client_input(*context.json_body);
            Result<OAuthClient> client = Error::internal("not run");
            co_await context.run_database([&] {
                client = provider.update_client(org_id, client_id, input, actor_of(context));
            });
            if (!client) co_return problem(client.error());
            co_return no_store(Response::json(200, client_json(*client)));
        }),
        schemas::responding(manage_route("Change an OAuth client", kClientSchema),
                            schemas::kOAuthClientAnswer));

    schemas::add_route(
        router, Method::delete_, "/api/v1/orgs/{org_id}/oauth-clients/{client_id}",
        http::Task([&provider](Request&, RequestContext& context) -> awaitable<Response> {
            std::string org_id(context.path_param("org_id"));
            std::string client_id(context.path_param("client_id"));
            Result<void> done = Error::internal("not run");
            co_await context.run_database(
                [&] { done = provider.delete_client(org_id, client_id, actor_of(context)); });
            if (!done) co_return problem(done.error());
            co_return Response::no_content();
        }),
        schemas::answering(manage_route("Delete an OAuth client and everything issued to it"),
                           {204}));
}

}  // namespace nimbus::identity
