// HTTP for identity: parse and validate -> call the Service (on the worker pool when it hashes
// or mails) -> map to JSON. docs/identity.md lists the routes.
#include <chrono>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "core/json.hpp"
#include "identity/cookies.hpp"
#include "identity/identity.hpp"
#include "identity/oidc_schemas.hpp"
#include "identity/paging.hpp"
#include "identity/permissions.hpp"
#include "identity/route_schemas.hpp"
#include "identity/route_support.hpp"

namespace nimbus::identity {

/// The second-factor and change-of-email routes under /api/v1/me (mfa_routes.cpp).
void add_mfa_routes(http::Router& router, Service& service);

namespace {

using boost::asio::awaitable;
using boost::json::object;
using http::Method;
using http::Request;
using http::RequestContext;
using http::Response;

/// Auth bodies are small; 16 KiB leaves room for a 1 KiB password written with JSON escapes.
constexpr std::size_t kMaxAuthBodyBytes = 16 * 1024;
/// Fields whose errors point into the body; a service error "field: message" becomes one.
constexpr std::string_view kKnownFields[] = {
    "email",        "password",   "name",      "token", "refresh_token", "current_password",
    "new_password", "use_cookie", "mfa_token", "code",  "new_email"};

/// Maps a service error to an answer; field errors get a pointer to their field.
Response problem(const Error& error) {
    if (error.code == ErrorCode::invalid_argument) {
        for (std::string_view field : kKnownFields) {
            std::string prefix = std::string(field) + ": ";
            if (error.message.starts_with(prefix)) {
                return validation_problem(
                    {{"/" + std::string(field), error.message.substr(prefix.size())}});
            }
        }
    }
    if (error.code == ErrorCode::conflict && error.message.starts_with(kLastOwnerOfOrgs)) {
        return Response::make_problem(409, "last-owner", "Conflict", error.message);
    }
    if (error.code == ErrorCode::unauthenticated) {
        Response response =
            Response::make_problem(401, "unauthenticated", "Unauthorized", error.message);
        response.set_header("cache-control", "no-store");
        return response;
    }
    return Response::from_error(error);
}

/// A JSON object body with string fields. `allow_empty` is for the console's cookie refresh and
/// logout, which may send no body.
class Body : public JsonBody {
public:
    using JsonBody::JsonBody;

    std::string text(std::string_view name, bool required = true) {
        const auto* value = object_.if_contains(name);
        if (value == nullptr) {
            if (required) errors_.push_back({"/" + std::string(name), "is required"});
            return {};
        }
        if (!value->is_string()) {
            errors_.push_back({"/" + std::string(name), "must be a string"});
            return {};
        }
        return std::string(value->as_string());
    }

    /// A boolean field; false when absent.
    bool flag(std::string_view name) {
        const auto* value = object_.if_contains(name);
        if (value == nullptr) return false;
        if (!value->is_bool()) {
            errors_.push_back({"/" + std::string(name), "must be a boolean"});
            return false;
        }
        return value->as_bool();
    }
};

/// The token answer. With `use_cookie` the refresh token goes into the HttpOnly cookie (with a
/// fresh CSRF cookie) instead of the body, so the console's script never holds it.
Response token_response(const TokenPair& tokens, bool use_cookie = false,
                        const Request* request = nullptr) {
    if (!tokens.mfa_token.empty()) {
        return no_store(Response::json(200, object{{"mfa_required", true},
                                                   {"mfa_token", tokens.mfa_token},
                                                   {"expires_in", tokens.mfa_expires_in_s}}));
    }
    object answer{{"access_token", tokens.access_token},
                  {"token_type", "Bearer"},
                  {"expires_in", tokens.expires_in_s}};
    if (!use_cookie) answer["refresh_token"] = tokens.refresh_token;
    Response response = no_store(Response::json(200, answer));
    if (use_cookie) {
        cookies::set_session(response, tokens.refresh_token, tokens.refresh_expires_in_s,
                             request != nullptr && request->secure);
    }
    return response;
}

/// Waits before answering a sign-in attempt (brute-force slowdown) on a timer, so the I/O thread
/// serves other requests meanwhile.
awaitable<void> pause(std::int64_t delay_ms) {
    if (delay_ms <= 0) co_return;
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor,
                                    std::chrono::milliseconds(delay_ms));
    co_await timer.async_wait(boost::asio::use_awaitable);
}

/// 403 for a cookie-carried refresh token without the matching CSRF header.
Response csrf_failed() {
    return no_store(
        Response::make_problem(403, "csrf-failed", "Forbidden",
                               "The X-CSRF-Token header must echo the nimbus_csrf cookie."));
}

/// Where a refresh or logout takes its token from: the body when it names one, otherwise the
/// refresh cookie, which needs the CSRF header (a cookie is sent by the browser on its own; the
/// header proves the console's script made the request).
struct RefreshSource {
    std::string token;
    bool from_cookie = false;
    std::optional<Response> refusal;  ///< set when the request cannot proceed
};

RefreshSource refresh_source(const Request& request, Body& body) {
    RefreshSource source;
    if (body.has("refresh_token")) {
        source.token = body.text("refresh_token");
        if (!body.errors().empty()) source.refusal = validation_problem(std::move(body.errors()));
        return source;
    }
    auto cookie = cookies::read(request, cookies::kRefresh);
    if (!cookie) {
        source.refusal = validation_problem({{"/refresh_token", "is required"}});
        return source;
    }
    if (!cookies::csrf_matches(request)) {
        source.refusal = csrf_failed();
        return source;
    }
    source.token = std::move(*cookie);
    source.from_cookie = true;
    return source;
}

boost::json::value user_json(const User& user) {
    return object{{"id", user.id},
                  {"email", user.email},
                  {"name", user.name},
                  {"email_verified", user.email_verified},
                  {"is_operator", user.is_operator},
                  {"created_at", format_rfc3339(user.created_at_ms)},
                  {"updated_at", format_rfc3339(user.updated_at_ms)}};
}

/// The session of the request's access token (the authenticate step verified it already, so
/// this is a cache hit); empty when there is none.
std::string current_session(const Service& service, const Request& request) {
    auto header = request.header("authorization");
    constexpr std::size_t kSchemeLength = 7;  // "Bearer "
    if (!header || header->size() <= kSchemeLength) return {};
    auto claims = service.verify_access_token(header->substr(kSchemeLength));
    return claims ? claims->session_id : std::string();
}

/// Options of a route anyone may call (the body limit, and its OpenAPI summary and tag).
http::RouteOptions public_route(std::string summary) {
    http::RouteOptions options;
    options.max_body_bytes = kMaxAuthBodyBytes;
    options.summary = std::move(summary);
    options.tag = "identity";
    return options;
}

/// Options of a route about the caller's own account.
http::RouteOptions self_route(std::string summary) {
    http::RouteOptions options = public_route(std::move(summary));
    options.permission = std::string(kSelfPermission);
    return options;
}

const std::string& user_id_of(const RequestContext& context) {
    // The route's permission made the authorize step answer 401 when there is no principal.
    return context.principal->id;
}

}  // namespace

void add_routes(http::Router& router, Service& service) {
    router.add(
        Method::post, "/api/v1/auth/signup",
        http::Task([&service](Request& request, RequestContext& context) -> awaitable<Response> {
            Body body(request);
            if (body.parse_error()) co_return body.invalid_json();
            SignUp sign_up{body.text("email"), body.text("password"), body.text("name", false)};
            if (!body.errors().empty()) co_return validation_problem(std::move(body.errors()));
            Result<void> done = Error::internal("not run");
            co_await context.run_blocking([&] { done = service.sign_up(sign_up); });
            if (!done) co_return problem(done.error());
            // The same answer whether or not the email already had an account.
            co_return Response::json(202,
                                     object{{"status", "verification_sent"},
                                            {"message",
                                             "If the address can receive mail, a link to verify it "
                                             "is on its way."}});
        }),
        schemas::answering(
            schemas::with(public_route("Create an account and mail a verification link"),
                          schemas::kSignUpBody, schemas::kAcceptedAnswer),
            {202}));

    router.add(
        Method::post, "/api/v1/auth/verify-email",
        http::Task([&service](Request& request, RequestContext& context) -> awaitable<Response> {
            Body body(request);
            if (body.parse_error()) co_return body.invalid_json();
            std::string token = body.text("token");
            if (!body.errors().empty()) co_return validation_problem(std::move(body.errors()));
            Result<void> done = Error::internal("not run");
            co_await context.run_database([&] { done = service.verify_email(token); });
            if (!done) co_return problem(done.error());
            co_return Response::no_content();
        }),
        schemas::answering(schemas::with(public_route("Verify an email address with a mailed link"),
                                         schemas::kTokenBody),
                           {204}));

    router.add(
        Method::post, "/api/v1/auth/verify-email/resend",
        http::Task([&service](Request& request, RequestContext& context) -> awaitable<Response> {
            Body body(request);
            if (body.parse_error()) co_return body.invalid_json();
            std::string email = body.text("email");
            if (!body.errors().empty()) co_return validation_problem(std::move(body.errors()));
            ClientInfo client = client_of(request, context);
            Result<void> done = Error::internal("not run");
            co_await context.run_blocking(
                [&] { done = service.resend_verification(email, client); });
            if (!done) co_return problem(done.error());
            // The same answer for unknown, verified, unverified and rate-limited accounts.
            co_return Response::json(202, object{{"status", "verification_sent"},
                                                 {"message",
                                                  "If an account with this address needs "
                                                  "verifying, a new link is on its way."}});
        }),
        schemas::answering(
            schemas::with(public_route("Mail a new verification link to an unverified account"),
                          schemas::kResendVerificationBody, schemas::kAcceptedAnswer),
            {202}));

    router.add(
        Method::post, "/api/v1/auth/login",
        http::Task([&service](Request& request, RequestContext& context) -> awaitable<Response> {
            Body body(request);
            if (body.parse_error()) co_return body.invalid_json();
            std::string email = body.text("email");
            std::string password = body.text("password");
            bool use_cookie = body.flag("use_cookie");
            if (!body.errors().empty()) co_return validation_problem(std::move(body.errors()));
            ClientInfo client = client_of(request, context);
            Result<std::int64_t> delay = Error::internal("not run");
            co_await context.run_database([&] { delay = service.login_delay_ms(email, client); });
            if (!delay) co_return problem(delay.error());
            co_await pause(*delay);
            Result<TokenPair> tokens = Error::internal("not run");
            co_await context.run_blocking([&] { tokens = service.login(email, password, client); });
            if (!tokens) co_return problem(tokens.error());
            co_return token_response(*tokens, use_cookie, &request);
        }),
        schemas::with(public_route("Sign in with email and password"), schemas::kLoginBody,
                      schemas::kTokenAnswer));

    router.add(
        Method::post, "/api/v1/auth/login/mfa",
        http::Task([&service](Request& request, RequestContext& context) -> awaitable<Response> {
            Body body(request);
            if (body.parse_error()) co_return body.invalid_json();
            std::string mfa_token = body.text("mfa_token");
            std::string code = body.text("code");
            bool use_cookie = body.flag("use_cookie");
            if (!body.errors().empty()) co_return validation_problem(std::move(body.errors()));
            ClientInfo client = client_of(request, context);
            Result<std::int64_t> delay = Error::internal("not run");
            co_await context.run_database([&] { delay = service.mfa_delay_ms(mfa_token, client); });
            if (!delay) co_return problem(delay.error());
            co_await pause(*delay);
            Result<TokenPair> tokens = Error::internal("not run");
            co_await context.run_database(
                [&] { tokens = service.login_mfa(mfa_token, code, client); });
            if (!tokens) co_return problem(tokens.error());
            co_return token_response(*tokens, use_cookie, &request);
        }),
        schemas::with(public_route("Complete a sign-in with a TOTP or recovery code"),
                      schemas::kMfaLoginBody, schemas::kTokenAnswer));

    router.add(
        Method::post, "/api/v1/auth/refresh",
        http::Task([&service](Request& request, RequestContext& context) -> awaitable<Response> {
            Body body(request, /*allow_empty=*/true);
            if (body.parse_error()) co_return body.invalid_json();
            RefreshSource source = refresh_source(request, body);
            if (source.refusal) co_return std::move(*source.refusal);
            ClientInfo client = client_of(request, context);
            // Not run_database: the write joins the group commit and this coroutine waits for
            // it without holding the I/O thread (docs/identity.md, "Tokens").
            Result<TokenPair> tokens = co_await service.refresh_async(source.token, client);
            if (!tokens) {
                Response refused = problem(tokens.error());
                // A dead cookie is of no use to the browser; drop it so the console stops trying.
                if (source.from_cookie) cookies::clear_session(refused, request.secure);
                co_return refused;
            }
            co_return token_response(*tokens, source.from_cookie, &request);
        }),
        schemas::with(public_route("Exchange a refresh token for a new token pair"), {},
                      schemas::kTokenAnswer));

    router.add(
        Method::post, "/api/v1/auth/logout",
        http::Task([&service](Request& request, RequestContext& context) -> awaitable<Response> {
            Body body(request, /*allow_empty=*/true);
            if (body.parse_error()) co_return body.invalid_json();
            RefreshSource source = refresh_source(request, body);
            if (source.refusal) co_return std::move(*source.refusal);
            Result<void> done = Error::internal("not run");
            co_await context.run_database([&] { done = service.logout(source.token); });
            if (!done) co_return problem(done.error());
            Response response = Response::no_content();
            if (source.from_cookie) cookies::clear_session(response, request.secure);
            co_return response;
        }),
        schemas::answering(public_route("End the session of a refresh token"), {204}));

    router.add(
        Method::post, "/api/v1/auth/password/forgot",
        http::Task([&service](Request& request, RequestContext& context) -> awaitable<Response> {
            Body body(request);
            if (body.parse_error()) co_return body.invalid_json();
            std::string email = body.text("email");
            if (!body.errors().empty()) co_return validation_problem(std::move(body.errors()));
            Result<void> done = Error::internal("not run");
            co_await context.run_blocking([&] { done = service.forgot_password(email); });
            if (!done) co_return problem(done.error());
            co_return Response::json(202,
                                     object{{"status", "reset_sent"},
                                            {"message",
                                             "If an account uses this address, a link to reset its "
                                             "password is on its way."}});
        }),
        schemas::answering(schemas::with(public_route("Mail a password-reset link"),
                                         schemas::kForgotBody, schemas::kAcceptedAnswer),
                           {202}));

    router.add(
        Method::post, "/api/v1/auth/password/reset",
        http::Task([&service](Request& request, RequestContext& context) -> awaitable<Response> {
            Body body(request);
            if (body.parse_error()) co_return body.invalid_json();
            std::string token = body.text("token");
            std::string password = body.text("password");
            if (!body.errors().empty()) co_return validation_problem(std::move(body.errors()));
            Result<void> done = Error::internal("not run");
            co_await context.run_blocking([&] { done = service.reset_password(token, password); });
            if (!done) co_return problem(done.error());
            co_return Response::no_content();
        }),
        schemas::answering(schemas::with(public_route("Set a new password with a reset link"),
                                         schemas::kResetBody),
                           {204}));

    router.add(Method::get, "/.well-known/jwks.json",
               http::SyncHandler([&service](Request&, RequestContext&) {
                   Response response =
                       Response::text(200, service.jwks_json(), "application/jwk-set+json");
                   // Short enough that a newly published key reaches verifiers before it signs.
                   response.set_header("cache-control", "public, max-age=300");
                   return response;
               }),
               http::RouteOptions{.summary = "Public keys that sign access tokens (JWK Set)",
                                  .tag = "identity",
                                  .response_schema = std::string(schemas::kJwksAnswer),
                                  .response_media_type = "application/jwk-set+json"});

    router.add(
        Method::get, "/api/v1/me",
        http::Task([&service](Request&, RequestContext& context) -> awaitable<Response> {
            Result<User> user = Error::internal("not run");
            co_await context.run_database([&] { user = service.get_user(user_id_of(context)); });
            if (!user) co_return problem(user.error());
            co_return no_store(Response::json(200, user_json(*user)));
        }),
        schemas::with(self_route("The caller's account"), {}, schemas::kUserAnswer));

    router.add(
        Method::patch, "/api/v1/me",
        http::Task([&service](Request& request, RequestContext& context) -> awaitable<Response> {
            Body body(request);
            if (body.parse_error()) co_return body.invalid_json();
            std::string name = body.text("name");
            if (!body.errors().empty()) co_return validation_problem(std::move(body.errors()));
            Result<User> user = Error::internal("not run");
            co_await context.run_database(
                [&] { user = service.update_name(user_id_of(context), name); });
            if (!user) co_return problem(user.error());
            co_return no_store(Response::json(200, user_json(*user)));
        }),
        schemas::with(self_route("Rename the caller's account"), schemas::kRenameBody,
                      schemas::kUserAnswer));

    router.add(
        Method::delete_, "/api/v1/me",
        http::Task([&service](Request&, RequestContext& context) -> awaitable<Response> {
            Result<void> done = Error::internal("not run");
            co_await context.run_database([&] { done = service.delete_user(user_id_of(context)); });
            if (!done) co_return problem(done.error());
            co_return Response::no_content();
        }),
        schemas::answering(self_route("Delete the caller's account"), {204}));

    router.add(
        Method::post, "/api/v1/me/password",
        http::Task([&service](Request& request, RequestContext& context) -> awaitable<Response> {
            Body body(request);
            if (body.parse_error()) co_return body.invalid_json();
            std::string current = body.text("current_password");
            std::string replacement = body.text("new_password");
            if (!body.errors().empty()) co_return validation_problem(std::move(body.errors()));
            std::string keep = current_session(service, request);
            Result<void> done = Error::internal("not run");
            co_await context.run_blocking([&] {
                done = service.change_password(user_id_of(context), current, replacement, keep);
            });
            if (!done) co_return problem(done.error());
            co_return Response::no_content();
        }),
        schemas::answering(
            schemas::with(self_route("Change the password; ends every other session"),
                          schemas::kChangePasswordBody),
            {204}));

    router.add(
        Method::get, "/api/v1/me/sessions",
        http::Task([&service](Request& request, RequestContext& context) -> awaitable<Response> {
            auto page = read_page(request, "sessions1");
            if (!page) co_return page_problem(page.error());
            std::string current = current_session(service, request);
            Result<Page<SessionInfo>> sessions = Error::internal("not run");
            co_await context.run_database(
                [&] { sessions = service.list_sessions(user_id_of(context), current, *page); });
            if (!sessions) co_return problem(sessions.error());
            boost::json::array data;
            for (const auto& session : sessions->items) {
                data.push_back(object{{"id", session.id},
                                      {"device", session.device},
                                      {"user_agent", session.user_agent},
                                      {"ip", session.ip},
                                      {"created_at", format_rfc3339(session.created_at_ms)},
                                      {"last_seen_at", format_rfc3339(session.last_seen_at_ms)},
                                      {"current", session.current}});
            }
            co_return page_answer(std::move(data), sessions->next_after, "sessions1");
        }),
        [] {
            auto options = schemas::with(self_route("The caller's open sessions"), {},
                                         schemas::kSessionsAnswer);
            options.query_schema = std::string(kPageQuerySchema);
            return options;
        }());

    schemas::add_route(
        router, Method::delete_, "/api/v1/me/sessions/{session_id}",
        http::Task([&service](Request&, RequestContext& context) -> awaitable<Response> {
            std::string session_id(context.path_param("session_id"));
            Result<void> done = Error::internal("not run");
            co_await context.run_database(
                [&] { done = service.revoke_session(user_id_of(context), session_id); });
            if (!done) co_return problem(done.error());
            co_return Response::no_content();
        }),
        schemas::answering(self_route("End one of the caller's sessions"), {204}));

    add_mfa_routes(router, service);
}

}  // namespace nimbus::identity
