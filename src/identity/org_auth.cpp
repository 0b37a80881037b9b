// identity::Organizations and its authenticate step: API keys, and the caller's permissions in
// the organization named by a route's `{org_id}` (docs/identity.md, "Organizations and
// permissions"). The step wraps the accounts' step rather than replacing it, so access tokens
// keep one verifier.
#include <algorithm>
#include <cctype>

#include "identity/identity.hpp"
#include "identity/orgs.hpp"
#include "identity/permissions.hpp"

namespace nimbus::identity {
namespace {

using boost::asio::awaitable;

constexpr std::string_view kBearer = "bearer ";
constexpr std::string_view kApiKeyPrefix = "nmb_";

/// The credentials after "Bearer ", or empty when the header is not a Bearer header.
std::string_view bearer_token(const http::Request& request) {
    auto header = request.header("authorization");
    if (!header || header->size() <= kBearer.size()) return {};
    bool bearer = std::equal(kBearer.begin(), kBearer.end(), header->begin(), [](char a, char b) {
        return a == std::tolower(static_cast<unsigned char>(b));
    });
    if (!bearer) return {};
    std::string_view token = header->substr(kBearer.size());
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    return token;
}

http::Response invalid_key(const Error& error) {
    if (error.code != ErrorCode::unauthenticated) return http::Response::from_error(error);
    http::Response response =
        http::Response::make_problem(401, "invalid-token", "Unauthorized", error.message);
    response.set_header("www-authenticate", "Bearer error=\"invalid_token\"");
    response.set_header("cache-control", "no-store");
    return response;
}

/// The same answer as a path no route matches, so an org's existence is not revealed.
http::Response org_not_found() {
    return http::Response::make_problem(404, "not-found", "Not Found",
                                        "No route matches this path.");
}

/// The permissions a user holds in an org: the role's, narrowed to the org permissions the
/// token names when it names any (a delegated OAuth token), plus the token's other scopes
/// (account.self, operator permissions).
std::vector<std::string> effective_permissions(const std::vector<std::string>& role,
                                               const std::vector<std::string>& token_scopes) {
    bool narrowed = std::any_of(token_scopes.begin(), token_scopes.end(),
                                [](const std::string& scope) { return is_org_permission(scope); });
    std::vector<std::string> out;
    for (const auto& permission : role) {
        if (!narrowed ||
            std::find(token_scopes.begin(), token_scopes.end(), permission) != token_scopes.end()) {
            out.push_back(permission);
        }
    }
    for (const auto& scope : token_scopes) {
        if (!is_org_permission(scope) && scope != "*") out.push_back(scope);
    }
    return out;
}

/// The org requires a second factor the member has not confirmed. The body says where to fix
/// it; /api/v1/me/mfa is not an org route, so the way out stays open.
http::Response mfa_required() {
    http::Response response = http::Response::make_problem(
        403, "mfa-required", "Forbidden",
        "This organization requires two-factor authentication: turn on TOTP at /api/v1/me/mfa.");
    response.set_header("cache-control", "no-store");
    return response;
}

/// The one org route a member without the required second factor may still call: reading the
/// org itself, so the console can name the org and explain the policy.
bool open_without_mfa(const http::Request& request, const http::RequestContext& context) {
    return request.method == http::Method::get && context.route == "/api/v1/orgs/{org_id}";
}

void add_operator_permissions(std::vector<std::string>& permissions) {
    for (std::string_view permission : operator_permissions()) {
        if (std::find(permissions.begin(), permissions.end(), permission) == permissions.end()) {
            permissions.emplace_back(permission);
        }
    }
}

void remove_operator_permissions(std::vector<std::string>& permissions) {
    std::erase_if(permissions, [](const std::string& permission) {
        const auto platform = operator_permissions();
        return std::find(platform.begin(), platform.end(), permission) != platform.end();
    });
}

class OrgAuthenticateStep final : public http::Middleware {
public:
    OrgAuthenticateStep(OrgService& orgs, std::unique_ptr<http::Middleware> accounts)
        : orgs_(orgs), accounts_(std::move(accounts)) {}

    std::string_view name() const override { return "authenticate"; }

    // Membership and API key lookups may need the database; with PostgreSQL that is a network
    // round trip, which must not run on an I/O thread.
    bool waits() const override { return true; }

    awaitable<std::optional<http::Response>> on_request_async(
        http::Request& request, http::RequestContext& context) override {
        std::string_view token = bearer_token(request);
        if (token.starts_with(kApiKeyPrefix)) {
            Result<http::Principal> principal = Error::internal("not run");
            if (orgs_.api_key_cached(token)) {
                principal = orgs_.authenticate_api_key(token);
            } else {
                co_await context.run_database(
                    [&] { principal = orgs_.authenticate_api_key(token); });
            }
            if (!principal) co_return invalid_key(principal.error());
            context.principal = std::move(*principal);
        } else if (accounts_) {
            std::optional<http::Response> early;
            if (accounts_->waits()) {
                early = co_await accounts_->on_request_async(request, context);
            } else {
                early = accounts_->on_request(request, context);
            }
            if (early) co_return early;
        }
        if (context.principal && context.principal->kind == http::Principal::Kind::user) {
            // Operator status is read per request (cached briefly) rather than trusted from a
            // token, so withdrawing it takes effect within the cache's lifetime.
            const std::string user_id = context.principal->id;
            Result<bool> is_operator = Error::internal("not run");
            if (orgs_.operator_cached(user_id)) {
                is_operator = orgs_.is_operator(user_id);
            } else {
                co_await context.run_database([&] { is_operator = orgs_.is_operator(user_id); });
            }
            if (!is_operator) co_return http::Response::from_error(is_operator.error());
            if (*is_operator) {
                add_operator_permissions(context.principal->permissions);
            } else {
                // A token issued before the flag was withdrawn still names them.
                remove_operator_permissions(context.principal->permissions);
            }
        }
        std::string org_id(context.path_param("org_id"));
        if (org_id.empty() || !context.principal) co_return std::nullopt;
        http::Principal& principal = *context.principal;
        if (principal.kind != http::Principal::Kind::user) {
            // API keys and client-credential tokens act in their own org only.
            if (principal.org_id != org_id) co_return org_not_found();
            co_return std::nullopt;
        }
        if (!principal.org_id.empty() && principal.org_id != org_id) co_return org_not_found();
        Result<std::optional<Membership>> member = Error::internal("not run");
        if (orgs_.membership_cached(org_id, principal.id)) {
            member = orgs_.membership(org_id, principal.id);
        } else {
            co_await context.run_database([&] { member = orgs_.membership(org_id, principal.id); });
        }
        if (!member) co_return http::Response::from_error(member.error());
        if (!*member) co_return org_not_found();
        // After the 404 for non-members, so the policy reveals nothing about other orgs.
        if ((*member)->mfa_missing && !open_without_mfa(request, context)) {
            co_return mfa_required();
        }
        principal.permissions =
            effective_permissions((*member)->permissions, principal.permissions);
        principal.org_id = org_id;
        co_return std::nullopt;
    }

    void on_response(const http::Request& request, http::RequestContext& context,
                     http::Response& response) override {
        if (accounts_) accounts_->on_response(request, context, response);
    }

private:
    OrgService& orgs_;
    std::unique_ptr<http::Middleware> accounts_;
};

}  // namespace

Organizations::Organizations(db::Database& database, const Clock& clock, mail::Queue& mail_queue,
                             OrgSettings settings)
    : impl_(std::make_unique<OrgService>(database, clock, mail_queue, std::move(settings))) {}

Organizations::~Organizations() = default;

Result<void> Organizations::start() { return impl_->apply_operator_emails(); }

std::unique_ptr<http::Middleware> Organizations::make_authenticate_step(
    std::unique_ptr<http::Middleware> accounts_step) {
    return std::make_unique<OrgAuthenticateStep>(*impl_, std::move(accounts_step));
}

Result<void> Organizations::set_operator(const std::string& email, bool is_operator) {
    return impl_->set_operator(email, is_operator);
}

Result<std::vector<User>> Organizations::list_operators() { return impl_->list_operators(); }

}  // namespace nimbus::identity
