// The OAuth 2.0 authorization server and OpenID provider (RFC 6749, 7636, 7009, 7662; OpenID
// Connect Core, Discovery and RP-Initiated Logout). docs/identity.md, "OAuth 2.0 and OpenID
// Connect", describes the choices; the SQL is in oidc_store.cpp and the HTTP in oidc_routes.cpp.
#include <algorithm>
#include <array>
#include <variant>

#include <fmt/format.h>
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include "core/crypto.hpp"
#include "core/ids.hpp"
#include "core/log.hpp"
#include "events/events.hpp"
#include "identity/identity.hpp"
#include "identity/oauth.hpp"
#include "identity/oidc_store.hpp"
#include "identity/paging.hpp"
#include "identity/validate.hpp"

namespace nimbus::identity {
namespace {

using boost::json::object;

constexpr std::string_view kEventSource = "/nimbus/identity";
constexpr std::int64_t kMsPerSecond = 1000;
constexpr std::size_t kSecretBytes = 32;   // codes, refresh tokens and client secrets: 256 bits
constexpr std::size_t kTokenIdBytes = 16;  // jti
constexpr std::size_t kMaxIpBytes = 64;
constexpr std::string_view kConfidential = "confidential";
constexpr std::string_view kPublic = "public";
constexpr std::string_view kGrantCode = "authorization_code";
constexpr std::string_view kGrantRefresh = "refresh_token";
constexpr std::string_view kGrantClient = "client_credentials";
constexpr std::array<std::string_view, 3> kGrantTypes = {kGrantCode, kGrantRefresh, kGrantClient};
constexpr std::string_view kScopeOpenid = "openid";
constexpr std::string_view kScopeProfile = "profile";
constexpr std::string_view kScopeEmail = "email";
/// OpenID Connect scopes: they ask for claims, not for API permissions.
constexpr std::array<std::string_view, 3> kOidcScopes = {kScopeOpenid, kScopeProfile, kScopeEmail};
/// API permissions a user can delegate to a client: what the user's own first-party token holds.
/// Organization permissions are not delegated (yet); machine clients get them through client
/// credentials instead.
constexpr std::array<std::string_view, 1> kDelegableScopes = {kSelfPermission};

std::string new_secret(std::size_t bytes = kSecretBytes) {
    crypto::Bytes random = crypto::random_bytes(bytes);
    return crypto::base64url_encode(
        std::string_view(reinterpret_cast<const char*>(random.data()), random.size()));
}

template <std::size_t N>
bool contains(const std::array<std::string_view, N>& list, std::string_view item) {
    return std::find(list.begin(), list.end(), item) != list.end();
}

bool contains(const std::vector<std::string>& list, std::string_view item) {
    return std::find(list.begin(), list.end(), item) != list.end();
}

std::string ip_of(const std::string& ip) { return ip.substr(0, kMaxIpBytes); }

OAuthAnswer oauth_error(int status, std::string_view error, std::string_view description) {
    OAuthAnswer answer;
    answer.status = status;
    answer.body = object{{"error", error}, {"error_description", description}};
    return answer;
}

constexpr int kBadRequest = 400;
constexpr int kUnauthorized = 401;
constexpr int kForbidden = 403;

OAuthAnswer invalid_request(std::string_view description) {
    return oauth_error(kBadRequest, "invalid_request", description);
}
OAuthAnswer invalid_grant(std::string_view description) {
    return oauth_error(kBadRequest, "invalid_grant", description);
}
OAuthAnswer invalid_client() {
    OAuthAnswer answer =
        oauth_error(kUnauthorized, "invalid_client", "Client authentication failed.");
    answer.challenge = R"(Basic realm="nimbus")";
    return answer;
}
OAuthAnswer server_error(const Error& error) {
    // Only `unavailable` says something a caller can act on (retry); the rest stays in the log.
    if (error.code == ErrorCode::unavailable) {
        return oauth_error(503, "temporarily_unavailable", "Try again later.");  // NOLINT
    }
    log::error("oauth request failed", {{"error", error.message}});
    return oauth_error(500, "server_error", "The request could not be completed.");  // NOLINT
}

/// `at_hash` (OpenID Connect Core 3.1.3.6): base64url of the left half of SHA-256.
std::string at_hash(std::string_view access_token) {
    auto digest = crypto::hex_decode(crypto::sha256_hex(access_token));
    constexpr std::size_t kHalf = 16;
    // sha256_hex always gives 64 hex digits, which always decode to 32 bytes.
    return crypto::base64url_encode(
        std::string_view(reinterpret_cast<const char*>(digest->data()), kHalf));
}

const boost::json::string* string_claim(const object& claims, std::string_view name) {
    const auto* value = claims.if_contains(name);
    return value != nullptr && value->is_string() ? &value->as_string() : nullptr;
}

}  // namespace

struct OidcProvider::Impl {
    db::Database& database;
    const Clock& clock;
    Service& service;
    OidcSettings settings;
    std::string base;  // the issuer without a trailing slash

    Impl(db::Database& database_in, const Clock& clock_in, Service& service_in,
         OidcSettings settings_in)
        : database(database_in),
          clock(clock_in),
          service(service_in),
          settings(std::move(settings_in)),
          base(settings.issuer) {
        while (base.ends_with('/')) base.pop_back();
    }

    Result<void> emit(db::Transaction& tx, std::string_view type, const std::string& subject,
                      const object& data) const {
        auto id = events::emit(tx, clock,
                               {.type = "nimbus.identity." + std::string(type),
                                .source = std::string(kEventSource),
                                .subject = subject,
                                .data_json = boost::json::serialize(data)});
        if (!id) return id.error();
        return {};
    }

    // --- registration ---

    /// Checks a registration (all fields set after defaults) against the rules of the doc.
    static Result<void> check_client(const OAuthClient& client, const OAuthActor& actor) {
        if (client.name.empty()) return field_error("name", "is required");
        if (client.type != kConfidential && client.type != kPublic) {
            return field_error("type", "must be confidential or public");
        }
        if (client.grant_types.empty()) return field_error("grant_types", "must not be empty");
        for (const auto& grant : client.grant_types) {
            if (!contains(kGrantTypes, grant)) {
                return field_error(
                    "grant_types",
                    "may hold authorization_code, refresh_token, client_credentials");
            }
        }
        if (client.type == kPublic && contains(client.grant_types, kGrantClient)) {
            return field_error("grant_types", "client_credentials needs a confidential client");
        }
        if (contains(client.grant_types, kGrantRefresh) &&
            !contains(client.grant_types, kGrantCode)) {
            return field_error("grant_types", "refresh_token needs authorization_code");
        }
        bool uses_code = contains(client.grant_types, kGrantCode);
        if (uses_code && client.redirect_uris.empty()) {
            return field_error("redirect_uris", "needs at least one URI for authorization_code");
        }
        for (const auto* list : {&client.redirect_uris, &client.post_logout_redirect_uris}) {
            std::string_view field =
                list == &client.redirect_uris ? "redirect_uris" : "post_logout_redirect_uris";
            if (list->size() > oauth::kMaxRedirectUris) {
                return field_error(field, "may hold at most 10 URIs");
            }
            for (const auto& uri : *list) {
                if (auto ok = oauth::check_redirect_uri(uri); !ok) {
                    return field_error(field, ok.error().message);
                }
            }
        }
        if (client.scopes.empty() || client.scopes.size() > oauth::kMaxScopes) {
            return field_error("scopes", "must hold 1 to 32 scopes");
        }
        for (const auto& scope : client.scopes) {
            if (!oauth::is_valid_scope_token(scope)) {
                return field_error("scopes", "each scope is 1 to 64 characters of a-z 0-9 _ . : -");
            }
            if (contains(kOidcScopes, scope)) continue;
            // Nobody hands out a permission they do not hold themselves.
            if (!contains(actor.permissions, scope) && !contains(actor.permissions, "*")) {
                return field_error("scopes", "names a permission you do not hold: " + scope);
            }
        }
        return {};
    }

    /// A user's grant: requested scopes the client registered and a user can delegate.
    static std::vector<std::string> delegable(const std::vector<std::string>& requested) {
        std::vector<std::string> out;
        for (const auto& scope : requested) {
            if (contains(kOidcScopes, scope) || contains(kDelegableScopes, scope)) {
                out.push_back(scope);
            }
        }
        return out;
    }

    // --- client authentication (RFC 6749 2.3.1) ---

    /// The authenticated client, or the answer refusing it.
    std::variant<oidc_store::ClientRecord, OAuthAnswer> authenticate_client(
        const OAuthParams& form, std::string_view authorization) const {
        std::string client_id = form.get("client_id");
        std::optional<std::string> secret;
        if (form.has("client_secret")) secret = form.get("client_secret");
        if (!authorization.empty()) {
            auto basic = oauth::parse_basic(authorization);
            if (!basic) return invalid_client();
            // RFC 6749 2.3: one authentication method per request.
            if (secret) return invalid_request("Use one client authentication method.");
            if (!client_id.empty() && client_id != basic->first) return invalid_client();
            client_id = basic->first;
            secret = basic->second;
        }
        if (client_id.empty()) return invalid_client();
        if (!is_valid_id(client_id, "cli")) return invalid_client();
        auto found = oidc_store::find_client(database, client_id);
        if (!found) return server_error(found.error());
        if (!*found) return invalid_client();
        const oidc_store::ClientRecord& record = **found;
        if (record.client.type == kConfidential) {
            if (!secret || !record.secret_hash ||
                !crypto::constant_time_equal(crypto::sha256_hex(*secret), *record.secret_hash)) {
                return invalid_client();
            }
        } else if (secret) {
            // A public client has no secret; one presented means a confused or forged caller.
            return invalid_client();
        }
        return record;
    }

    // --- tokens ---

    struct Issued {
        std::string access_token;
        std::string refresh_token;
        std::string id_token;
        std::string scope;
    };

    Result<std::string> access_token(const std::string& subject, const std::string& client_id,
                                     const std::string& grant_id, const std::string& org_id,
                                     const std::string& scope, std::int64_t now_s) const {
        object claims{{"iss", settings.issuer},
                      {"aud", settings.audience},
                      {"sub", subject},
                      {"client_id", client_id},
                      {"scope", scope},
                      {"iat", now_s},
                      {"exp", now_s + settings.access_token_ttl_s},
                      {"jti", new_secret(kTokenIdBytes)}};
        if (!grant_id.empty()) claims["sid"] = grant_id;
        if (!org_id.empty()) claims["org"] = org_id;
        return service.sign_jwt(claims);
    }

    Result<std::string> id_token(const oidc_store::Grant& grant, const std::string& nonce,
                                 const std::string& access, std::int64_t now_s) const {
        auto user = service.get_user(grant.user_id);
        if (!user) return user.error();
        std::vector<std::string> scopes = oauth::split_scope(grant.scope);
        object claims{{"iss", settings.issuer},
                      {"sub", grant.user_id},
                      {"aud", grant.client_id},
                      {"azp", grant.client_id},
                      {"iat", now_s},
                      {"exp", now_s + settings.id_token_ttl_s},
                      {"auth_time", grant.auth_time_s},
                      {"sid", grant.id},
                      {"at_hash", at_hash(access)}};
        if (!nonce.empty()) claims["nonce"] = nonce;
        if (contains(scopes, kScopeEmail)) {
            claims["email"] = user->email;
            claims["email_verified"] = user->email_verified;
        }
        if (contains(scopes, kScopeProfile)) claims["name"] = user->name;
        return service.sign_jwt(claims);
    }

    /// Signs the tokens of a user's grant after its rows committed.
    OAuthAnswer user_tokens(const oidc_store::Grant& grant, const std::string& refresh_token,
                            const std::string& nonce) const {
        std::int64_t now_s = clock.now_ms() / kMsPerSecond;
        auto access =
            access_token(grant.user_id, grant.client_id, grant.id, "", grant.scope, now_s);
        if (!access) return server_error(access.error());
        OAuthAnswer answer;
        answer.body = object{{"access_token", *access},
                             {"token_type", "Bearer"},
                             {"expires_in", settings.access_token_ttl_s},
                             {"scope", grant.scope}};
        if (!refresh_token.empty()) answer.body["refresh_token"] = refresh_token;
        if (contains(oauth::split_scope(grant.scope), kScopeOpenid)) {
            auto id = id_token(grant, nonce, *access, now_s);
            if (!id) return server_error(id.error());
            answer.body["id_token"] = *id;
        }
        return answer;
    }

    OAuthAnswer exchange_code(const oidc_store::ClientRecord& client, const OAuthParams& form,
                              const std::string& ip) {
        const std::string& code = form.get("code");
        const std::string& redirect_uri = form.get("redirect_uri");
        const std::string& verifier = form.get("code_verifier");
        if (code.empty()) return invalid_request("code is required.");
        if (redirect_uri.empty()) return invalid_request("redirect_uri is required.");
        if (verifier.empty()) return invalid_request("code_verifier is required (PKCE).");
        if (code.size() > oauth::kMaxParamBytes || redirect_uri.size() > oauth::kMaxUriBytes) {
            return invalid_request("A parameter is too long.");
        }
        if (!oauth::is_valid_code_verifier(verifier)) {
            return invalid_request(
                "code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~.");
        }
        std::int64_t now = clock.now_ms();
        std::optional<OAuthAnswer> refused;
        oidc_store::Grant grant;
        std::string nonce;
        std::string refresh_token;
        std::string code_hash = crypto::sha256_hex(code);
        bool code_reused = false;
        auto committed = database.transact([&](db::Transaction& tx) -> Result<void> {
            // Every attempt spends the code, so a wrong verifier cannot be retried.
            auto found = oidc_store::consume_code(tx, code_hash, now);
            if (!found) return found.error();
            if (!*found) {
                refused = invalid_grant("The code is invalid.");
                return {};
            }
            const oidc_store::Code& stored = **found;
            if (stored.used) {
                // A code came back: someone else holds a copy. End what was issued from it.
                refused = invalid_grant("The code was already used.");
                code_reused = true;
                auto revoked = oidc_store::revoke_grants_of_code(tx, code_hash, "code_reuse", now);
                if (!revoked) return revoked.error();
                for (const auto& ended : *revoked) {
                    if (auto ok = emit(tx, "oauth.token.revoked", ended.id,
                                       {{"actor_id", client.client.id},
                                        {"org_id", client.client.org_id},
                                        {"target_id", ended.id},
                                        {"user_id", ended.user_id},
                                        {"client_id", ended.client_id},
                                        {"reason", "code_reuse"},
                                        {"ip", ip_of(ip)}});
                        !ok) {
                        return ok;
                    }
                }
                return {};
            }
            if (stored.client_id != client.client.id) {
                refused = invalid_grant("The code was issued to another client.");
            } else if (stored.expires_at_ms <= now) {
                refused = invalid_grant("The code has expired.");
            } else if (stored.redirect_uri != redirect_uri) {
                refused = invalid_grant("redirect_uri does not match the authorization request.");
            } else if (!oauth::pkce_matches(verifier, stored.code_challenge)) {
                refused = invalid_grant("code_verifier does not match the code_challenge.");
            }
            if (refused) return {};
            grant = {new_id("grt", now),
                     stored.client_id,
                     stored.user_id,
                     stored.scope,
                     code_hash,
                     stored.auth_time_s,
                     now,
                     now + settings.refresh_token_ttl_s * kMsPerSecond,
                     false};
            nonce = stored.nonce;
            if (auto ok = oidc_store::insert_grant(tx, grant); !ok) return ok;
            if (contains(client.client.grant_types, kGrantRefresh)) {
                refresh_token = new_secret();
                if (auto ok = oidc_store::insert_refresh_token(
                        tx, crypto::sha256_hex(refresh_token), grant.id, now);
                    !ok) {
                    return ok;
                }
            }
            return {};
        });
        if (!committed) return server_error(committed.error());
        // This node refuses the ended grants' access tokens at once (docs/identity.md,
        // "Revocation"); the others within a poll interval.
        if (code_reused) service.on_revoked();
        if (refused) return *refused;
        return user_tokens(grant, refresh_token, nonce);
    }

    OAuthAnswer refresh(const oidc_store::ClientRecord& client, const OAuthParams& form,
                        const std::string& ip) {
        const std::string& presented = form.get("refresh_token");
        if (presented.empty()) return invalid_request("refresh_token is required.");
        if (presented.size() > oauth::kMaxParamBytes)
            return invalid_request("refresh_token is too long.");
        std::vector<std::string> narrowed = oauth::split_scope(form.get("scope"));
        std::int64_t now = clock.now_ms();
        std::string token_hash = crypto::sha256_hex(presented);
        std::optional<OAuthAnswer> refused;
        bool reused = false;
        oidc_store::Grant grant;
        std::string next = new_secret();
        auto committed = database.transact([&](db::Transaction& tx) -> Result<void> {
            auto found = oidc_store::find_refresh_token(tx, token_hash);
            if (!found) return found.error();
            if (!*found || (*found)->grant.client_id != client.client.id ||
                (*found)->grant.revoked || (*found)->grant.expires_at_ms <= now) {
                refused = invalid_grant("The refresh token is invalid.");
                return {};
            }
            grant = (*found)->grant;
            std::vector<std::string> granted = oauth::split_scope(grant.scope);
            if (!oauth::is_subset(narrowed, granted)) {
                refused = oauth_error(kBadRequest, "invalid_scope",
                                      "scope must be within the scopes of the grant.");
                return {};
            }
            auto marked = oidc_store::mark_refresh_token_used(tx, token_hash, now);
            if (!marked) return marked.error();
            if ((*found)->used || !*marked) {
                // A rotated token came back: end the whole family (as first-party sessions do).
                refused = invalid_grant("The refresh token is invalid.");
                reused = true;
                auto revoked = oidc_store::revoke_grant(tx, grant.id, "refresh_token_reuse", now);
                if (!revoked) return revoked.error();
                return emit(tx, "oauth.token.revoked", grant.id,
                            {{"actor_id", client.client.id},
                             {"org_id", client.client.org_id},
                             {"target_id", grant.id},
                             {"user_id", grant.user_id},
                             {"client_id", grant.client_id},
                             {"reason", "refresh_token_reuse"},
                             {"ip", ip_of(ip)}});
            }
            if (auto ok = oidc_store::touch_grant(
                    tx, grant.id, now, now + settings.refresh_token_ttl_s * kMsPerSecond);
                !ok) {
                return ok;
            }
            return oidc_store::insert_refresh_token(tx, crypto::sha256_hex(next), grant.id, now);
        });
        if (!committed) return server_error(committed.error());
        if (reused) {
            log::warn("oauth refresh token reused; grant revoked", {});
            service.on_revoked();
        }
        if (refused) return *refused;
        if (!narrowed.empty()) grant.scope = oauth::join_scope(narrowed);
        return user_tokens(grant, next, "");
    }

    OAuthAnswer client_credentials(const oidc_store::ClientRecord& client,
                                   const OAuthParams& form) const {
        if (client.client.type != kConfidential) {
            return oauth_error(kBadRequest, "unauthorized_client",
                               "client_credentials needs a confidential client.");
        }
        std::vector<std::string> allowed;
        for (const auto& scope : client.client.scopes) {
            if (!contains(kOidcScopes, scope)) allowed.push_back(scope);
        }
        std::vector<std::string> requested =
            form.has("scope") ? oauth::split_scope(form.get("scope")) : allowed;
        if (!oauth::is_subset(requested, allowed)) {
            return oauth_error(kBadRequest, "invalid_scope",
                               "scope must be among the client's registered permissions.");
        }
        std::string scope = oauth::join_scope(requested);
        std::int64_t now_s = clock.now_ms() / kMsPerSecond;
        auto access = access_token(client.client.id, client.client.id, "", client.client.org_id,
                                   scope, now_s);
        if (!access) return server_error(access.error());
        OAuthAnswer answer;
        answer.body = object{{"access_token", *access},
                             {"token_type", "Bearer"},
                             {"expires_in", settings.access_token_ttl_s},
                             {"scope", scope}};
        return answer;
    }

    /// The grant behind a verified access token is still open (and the token not revoked).
    Result<bool> access_token_live(const AccessClaims& claims) const {
        if (!claims.token_id.empty()) {
            auto revoked = oidc_store::access_token_revoked(database, claims.token_id);
            if (!revoked) return revoked.error();
            if (*revoked) return false;
        }
        if (claims.user_id.starts_with("cli_")) {
            auto client = oidc_store::find_client(database, claims.client_id);
            if (!client) return client.error();
            return client->has_value();
        }
        auto grant = oidc_store::find_grant(database, claims.session_id);
        if (!grant) return grant.error();
        return grant->has_value() && !(*grant)->revoked && (*grant)->expires_at_ms > clock.now_ms();
    }
};

OidcProvider::OidcProvider(db::Database& database, const Clock& clock, Service& service,
                           OidcSettings settings)
    : impl_(std::make_unique<Impl>(database, clock, service, std::move(settings))) {}

OidcProvider::~OidcProvider() = default;

boost::json::object OidcProvider::discovery() const {
    const std::string& base = impl_->base;
    auto list = [](std::initializer_list<std::string_view> items) {
        boost::json::array out;
        for (auto item : items) out.emplace_back(item);
        return out;
    };
    return object{
        {"issuer", impl_->settings.issuer},
        {"authorization_endpoint", base + "/oauth2/authorize"},
        {"token_endpoint", base + "/oauth2/token"},
        {"userinfo_endpoint", base + "/oauth2/userinfo"},
        {"jwks_uri", base + "/.well-known/jwks.json"},
        {"revocation_endpoint", base + "/oauth2/revoke"},
        {"introspection_endpoint", base + "/oauth2/introspect"},
        {"end_session_endpoint", base + "/oauth2/logout"},
        {"scopes_supported", list({kScopeOpenid, kScopeProfile, kScopeEmail, kSelfPermission})},
        {"response_types_supported", list({"code"})},
        {"response_modes_supported", list({"query"})},
        {"grant_types_supported", list({kGrantCode, kGrantRefresh, kGrantClient})},
        {"subject_types_supported", list({"public"})},
        {"id_token_signing_alg_values_supported", list({"ES256"})},
        {"token_endpoint_auth_methods_supported",
         list({"client_secret_basic", "client_secret_post", "none"})},
        {"revocation_endpoint_auth_methods_supported",
         list({"client_secret_basic", "client_secret_post", "none"})},
        {"introspection_endpoint_auth_methods_supported",
         list({"client_secret_basic", "client_secret_post"})},
        {"code_challenge_methods_supported", list({"S256"})},
        {"claims_supported", list({"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce",
                                   "at_hash", "sid", "azp", "email", "email_verified", "name"})},
        {"authorization_response_iss_parameter_supported", true},
        {"request_parameter_supported", false},
        {"request_uri_parameter_supported", false},
        {"claims_parameter_supported", false},
    };
}

Result<std::pair<OAuthClient, std::string>> OidcProvider::create_client(
    const std::string& org_id, const OAuthClientInput& input, const OAuthActor& actor) {
    Impl& p = *impl_;
    std::int64_t now = p.clock.now_ms();
    oidc_store::ClientRecord record;
    OAuthClient& client = record.client;
    client.id = new_id("cli", now);
    client.org_id = org_id;
    auto name = normalize_name(input.name.value_or(""));
    if (!name) return name.error();
    client.name = *name;
    client.type = input.type.value_or("");
    client.redirect_uris = input.redirect_uris.value_or(std::vector<std::string>{});
    client.post_logout_redirect_uris =
        input.post_logout_redirect_uris.value_or(std::vector<std::string>{});
    client.grant_types = input.grant_types.value_or(
        std::vector<std::string>{std::string(kGrantCode), std::string(kGrantRefresh)});
    client.scopes = input.scopes.value_or(std::vector<std::string>{
        std::string(kScopeOpenid), std::string(kScopeProfile), std::string(kScopeEmail)});
    client.created_by = actor.id;
    client.created_at_ms = now;
    client.updated_at_ms = now;
    if (auto ok = Impl::check_client(client, actor); !ok) return ok.error();
    std::string secret;
    if (client.type == kConfidential) {
        secret = new_secret();
        record.secret_hash = crypto::sha256_hex(secret);
    }
    auto committed = p.database.transact([&](db::Transaction& tx) -> Result<void> {
        if (auto ok = oidc_store::insert_client(tx, record); !ok) return ok;
        return p.emit(tx, "oauth_client.created", client.id,
                      {{"actor_id", actor.id},
                       {"org_id", org_id},
                       {"target_id", client.id},
                       {"ip", ip_of(actor.ip)},
                       {"name", client.name},
                       {"type", client.type}});
    });
    if (!committed) return committed.error();
    return std::pair{client, secret};
}

Result<std::vector<OAuthClient>> OidcProvider::list_clients(const std::string& org_id) {
    constexpr std::size_t kMaxListed = 1000;
    return oidc_store::list_clients(impl_->database, org_id, "", kMaxListed);
}

Result<Page<OAuthClient>> OidcProvider::list_clients(const std::string& org_id,
                                                     const PageRequest& page) {
    auto clients =
        oidc_store::list_clients(impl_->database, org_id, page.after.value_or(""), page.limit + 1);
    if (!clients) return clients.error();
    return finish_page(std::move(*clients), page.limit,
                       [](const OAuthClient& client) { return client.id; });
}

Result<OAuthClient> OidcProvider::get_client(const std::string& org_id,
                                             const std::string& client_id) {
    auto found = oidc_store::find_client(impl_->database, client_id);
    if (!found) return found.error();
    // A client of another organization does not exist for this one.
    if (!*found || (*found)->client.org_id != org_id) {
        return Error::not_found("no OAuth client with this id");
    }
    return (*found)->client;
}

Result<OAuthClient> OidcProvider::update_client(const std::string& org_id,
                                                const std::string& client_id,
                                                const OAuthClientInput& input,
                                                const OAuthActor& actor) {
    Impl& p = *impl_;
    std::optional<OAuthClient> updated;
    auto committed = p.database.transact([&](db::Transaction& tx) -> Result<void> {
        auto found = oidc_store::find_org_client(tx, org_id, client_id);
        if (!found) return found.error();
        if (!*found) return {};
        OAuthClient client = (*found)->client;
        if (input.type && *input.type != client.type) {
            return field_error("type", "cannot be changed; register a new client");
        }
        if (input.name) {
            auto name = normalize_name(*input.name);
            if (!name) return name.error();
            client.name = *name;
        }
        if (input.redirect_uris) client.redirect_uris = *input.redirect_uris;
        if (input.post_logout_redirect_uris) {
            client.post_logout_redirect_uris = *input.post_logout_redirect_uris;
        }
        if (input.grant_types) client.grant_types = *input.grant_types;
        if (input.scopes) client.scopes = *input.scopes;
        client.updated_at_ms = p.clock.now_ms();
        if (auto ok = Impl::check_client(client, actor); !ok) return ok;
        if (auto ok = oidc_store::update_client(tx, client); !ok) return ok;
        updated = client;
        return p.emit(tx, "oauth_client.updated", client.id,
                      {{"actor_id", actor.id},
                       {"org_id", org_id},
                       {"target_id", client.id},
                       {"ip", ip_of(actor.ip)}});
    });
    if (!committed) return committed.error();
    if (!updated) return Error::not_found("no OAuth client with this id");
    return *updated;
}

Result<void> OidcProvider::delete_client(const std::string& org_id, const std::string& client_id,
                                         const OAuthActor& actor) {
    Impl& p = *impl_;
    bool deleted = false;
    auto committed = p.database.transact([&](db::Transaction& tx) -> Result<void> {
        auto gone = oidc_store::delete_client(tx, org_id, client_id, p.clock.now_ms());
        if (!gone) return gone.error();
        deleted = *gone;
        if (!deleted) return {};
        return p.emit(tx, "oauth_client.deleted", client_id,
                      {{"actor_id", actor.id},
                       {"org_id", org_id},
                       {"target_id", client_id},
                       {"ip", ip_of(actor.ip)}});
    });
    if (!committed) return committed.error();
    if (!deleted) return Error::not_found("no OAuth client with this id");
    p.service.on_revoked();
    return {};
}

Result<std::string> OidcProvider::authorize(const OAuthParams& params) {
    Impl& p = *impl_;
    // Until the client and its redirect URI are known good, errors are shown, never redirected
    // (RFC 6749 4.1.2.1): an open redirector must not come out of a forged request.
    for (const auto& name : params.duplicates) {
        if (name == "client_id" || name == "redirect_uri") {
            return Error::invalid(name + ": must be given once");
        }
    }
    const std::string& client_id = params.get("client_id");
    if (client_id.empty()) return Error::invalid("client_id: is required");
    if (!is_valid_id(client_id, "cli")) return Error::invalid("client_id: no such client");
    auto found = oidc_store::find_client(p.database, client_id);
    if (!found) return found.error();
    if (!*found) return Error::invalid("client_id: no such client");
    const OAuthClient& client = (*found)->client;
    const std::string& redirect_uri = params.get("redirect_uri");
    if (redirect_uri.empty()) return Error::invalid("redirect_uri: is required");
    if (!oauth::redirect_uri_registered(client.redirect_uris, redirect_uri)) {
        return Error::invalid("redirect_uri: is not registered for this client");
    }
    if (!contains(client.grant_types, kGrantCode)) {
        return Error::invalid("client_id: the client may not use the authorization code flow");
    }

    const std::string& state = params.get("state");
    auto redirect_error = [&](std::string_view error, std::string_view description) {
        std::vector<std::pair<std::string, std::string>> out = {
            {"error", std::string(error)}, {"error_description", std::string(description)}};
        if (!state.empty() && state.size() <= oauth::kMaxParamBytes)
            out.emplace_back("state", state);
        out.emplace_back("iss", p.settings.issuer);
        return oauth::with_params(redirect_uri, out);
    };
    if (!params.duplicates.empty()) {
        return redirect_error("invalid_request", "A parameter was given more than once.");
    }
    if (params.has("request")) {
        return redirect_error("request_not_supported", "Request objects are not supported.");
    }
    if (params.has("request_uri")) {
        return redirect_error("request_uri_not_supported", "request_uri is not supported.");
    }
    const std::string& response_type = params.get("response_type");
    if (response_type.empty())
        return redirect_error("invalid_request", "response_type is required.");
    if (response_type != "code") {
        return redirect_error("unsupported_response_type", "Only response_type=code is supported.");
    }
    const std::string& nonce = params.get("nonce");
    if (state.size() > oauth::kMaxParamBytes || nonce.size() > oauth::kMaxParamBytes) {
        return redirect_error("invalid_request", "state and nonce may have at most 1024 bytes.");
    }
    const std::string& challenge = params.get("code_challenge");
    const std::string& method = params.get("code_challenge_method");
    if (challenge.empty()) {
        return redirect_error("invalid_request", "code_challenge is required (PKCE, S256).");
    }
    if (method != "S256") {
        return redirect_error("invalid_request", "code_challenge_method must be S256.");
    }
    if (!oauth::is_valid_code_challenge(challenge)) {
        return redirect_error("invalid_request", "code_challenge is not an S256 challenge.");
    }
    const std::string& scope_text = params.get("scope");
    if (scope_text.size() > oauth::kMaxParamBytes) {
        return redirect_error("invalid_scope", "scope is too long.");
    }
    std::vector<std::string> requested = oauth::split_scope(scope_text);
    if (requested.empty()) return redirect_error("invalid_scope", "scope is required.");
    if (!oauth::is_subset(requested, client.scopes)) {
        return redirect_error("invalid_scope", "scope names a scope the client did not register.");
    }
    std::vector<std::string> granted = Impl::delegable(requested);
    if (granted.empty()) {
        return redirect_error("invalid_scope", "None of the scopes can be granted by a user.");
    }
    if (params.get("prompt") == "none") {
        // Signing in happens in the console, which needs the user: no silent answers.
        return redirect_error("login_required", "The user must sign in and decide.");
    }
    std::int64_t now = p.clock.now_ms();
    oidc_store::AuthorizationRequest request{new_id("oar", now),
                                             client.id,
                                             redirect_uri,
                                             oauth::join_scope(granted),
                                             state,
                                             nonce,
                                             challenge,
                                             now,
                                             now + p.settings.request_ttl_s * kMsPerSecond,
                                             false};
    auto committed = p.database.transact(
        [&](db::Transaction& tx) { return oidc_store::insert_request(tx, request); });
    if (!committed) return committed.error();
    return p.base + "/consent?request=" + request.id;
}

Result<ConsentRequest> OidcProvider::consent_request(const std::string& request_id,
                                                     const std::string& user_id) {
    Impl& p = *impl_;
    auto not_found = Error::not_found("no open authorization request with this id");
    if (!is_valid_id(request_id, "oar")) return not_found;
    auto found = oidc_store::find_request(p.database, request_id);
    if (!found) return found.error();
    if (!*found || (*found)->decided || (*found)->expires_at_ms <= p.clock.now_ms()) {
        return not_found;
    }
    const oidc_store::AuthorizationRequest& request = **found;
    auto client = oidc_store::find_client(p.database, request.client_id);
    if (!client) return client.error();
    if (!*client) return not_found;
    ConsentRequest out;
    out.id = request.id;
    out.client_id = request.client_id;
    out.client_name = (*client)->client.name;
    out.scopes = oauth::split_scope(request.scope);
    out.redirect_uri = request.redirect_uri;
    out.expires_at_ms = request.expires_at_ms;
    auto consent = oidc_store::find_consent(p.database, user_id, request.client_id);
    if (!consent) return consent.error();
    out.consented = *consent && oauth::is_subset(out.scopes, oauth::split_scope(**consent));
    return out;
}

Result<std::string> OidcProvider::decide(const std::string& request_id, const std::string& user_id,
                                         const std::string& session_id, bool approve,
                                         const std::string& ip) {
    Impl& p = *impl_;
    auto not_found = Error::not_found("no open authorization request with this id");
    if (!is_valid_id(request_id, "oar")) return not_found;
    std::int64_t now = p.clock.now_ms();
    auto found = oidc_store::find_request(p.database, request_id);
    if (!found) return found.error();
    if (!*found) return not_found;
    const oidc_store::AuthorizationRequest& request = **found;
    auto client = oidc_store::find_client(p.database, request.client_id);
    if (!client) return client.error();
    if (!*client) return not_found;
    auto started = oidc_store::session_started_ms(p.database, user_id, session_id, now);
    if (!started) return started.error();
    if (!*started) return Error{ErrorCode::unauthenticated, "the session has ended"};
    auto consent = oidc_store::find_consent(p.database, user_id, request.client_id);
    if (!consent) return consent.error();
    std::vector<std::string> remembered =
        *consent ? oauth::split_scope(**consent) : std::vector<std::string>{};
    std::string code = new_secret();
    bool closed = false;
    auto committed = p.database.transact([&](db::Transaction& tx) -> Result<void> {
        auto open = oidc_store::close_request(tx, request_id, user_id, now);
        if (!open) return open.error();
        closed = *open;
        if (!closed || !approve) return {};
        oidc_store::Code row{crypto::sha256_hex(code),
                             request.client_id,
                             user_id,
                             request.redirect_uri,
                             request.scope,
                             request.nonce,
                             request.code_challenge,
                             **started / kMsPerSecond,
                             now,
                             now + p.settings.code_ttl_s * kMsPerSecond,
                             false};
        if (auto ok = oidc_store::insert_code(tx, row); !ok) return ok;
        std::vector<std::string> merged = remembered;
        for (const auto& scope : oauth::split_scope(request.scope)) merged.push_back(scope);
        if (auto ok = oidc_store::save_consent(tx, user_id, request.client_id,
                                               oauth::join_scope(merged), now);
            !ok) {
            return ok;
        }
        return p.emit(tx, "oauth.consent.granted", request.client_id,
                      {{"actor_id", user_id},
                       {"org_id", (*client)->client.org_id},
                       {"target_id", request.client_id},
                       {"ip", ip_of(ip)},
                       {"scope", request.scope}});
    });
    if (!committed) return committed.error();
    if (!closed) return not_found;
    std::vector<std::pair<std::string, std::string>> params;
    if (approve) {
        params.emplace_back("code", code);
    } else {
        params.emplace_back("error", "access_denied");
        params.emplace_back("error_description", "The user declined.");
    }
    if (!request.state.empty()) params.emplace_back("state", request.state);
    params.emplace_back("iss", p.settings.issuer);
    return oauth::with_params(request.redirect_uri, params);
}

OAuthAnswer OidcProvider::token(const OAuthParams& form, std::string_view authorization,
                                const std::string& ip) {
    Impl& p = *impl_;
    if (!form.duplicates.empty()) return invalid_request("A parameter was given more than once.");
    auto authenticated = p.authenticate_client(form, authorization);
    if (auto* refused = std::get_if<OAuthAnswer>(&authenticated)) return *refused;
    const auto& client = std::get<oidc_store::ClientRecord>(authenticated);
    const std::string& grant_type = form.get("grant_type");
    if (grant_type.empty()) return invalid_request("grant_type is required.");
    if (!contains(kGrantTypes, grant_type)) {
        return oauth_error(kBadRequest, "unsupported_grant_type",
                           "grant_type must be authorization_code, refresh_token or "
                           "client_credentials.");
    }
    if (!contains(client.client.grant_types, grant_type)) {
        return oauth_error(kBadRequest, "unauthorized_client",
                           "The client is not registered for this grant type.");
    }
    if (grant_type == kGrantCode) return p.exchange_code(client, form, ip);
    if (grant_type == kGrantRefresh) return p.refresh(client, form, ip);
    return p.client_credentials(client, form);
}

OAuthAnswer OidcProvider::revoke(const OAuthParams& form, std::string_view authorization,
                                 const std::string& ip) {
    Impl& p = *impl_;
    if (!form.duplicates.empty()) return invalid_request("A parameter was given more than once.");
    auto authenticated = p.authenticate_client(form, authorization);
    if (auto* refused = std::get_if<OAuthAnswer>(&authenticated)) return *refused;
    const auto& client = std::get<oidc_store::ClientRecord>(authenticated).client;
    const std::string& token = form.get("token");
    if (token.empty()) return invalid_request("token is required.");
    // RFC 7009 2.2: unknown, expired or foreign tokens get the same 200 as revoked ones, so the
    // endpoint says nothing about tokens the caller does not own.
    OAuthAnswer done;
    if (token.size() > oauth::kMaxUriBytes * 4) return done;
    std::int64_t now = p.clock.now_ms();
    auto refresh = oidc_store::find_refresh_token(p.database, crypto::sha256_hex(token));
    if (!refresh) return server_error(refresh.error());
    object event{{"actor_id", client.id}, {"org_id", client.org_id}, {"ip", ip_of(ip)}};
    if (*refresh) {
        const oidc_store::Grant& grant = (*refresh)->grant;
        if (grant.client_id != client.id) return done;
        auto committed = p.database.transact([&](db::Transaction& tx) -> Result<void> {
            auto revoked = oidc_store::revoke_grant(tx, grant.id, "revoked", now);
            if (!revoked) return revoked.error();
            if (!*revoked) return {};
            event["target_id"] = grant.id;
            event["user_id"] = grant.user_id;
            event["token_type"] = "refresh_token";
            return p.emit(tx, "oauth.token.revoked", grant.id, event);
        });
        if (!committed) return server_error(committed.error());
        p.service.on_revoked();
        return done;
    }
    auto claims = p.service.verify_access_token(token);
    if (!claims || claims->client_id != client.id || claims->token_id.empty()) return done;
    auto committed = p.database.transact([&](db::Transaction& tx) -> Result<void> {
        if (auto ok = oidc_store::revoke_access_token(tx, claims->token_id,
                                                      claims->expires_at_s * kMsPerSecond, now);
            !ok) {
            return ok;
        }
        event["target_id"] = claims->session_id.empty() ? client.id : claims->session_id;
        event["user_id"] = claims->user_id;
        event["token_type"] = "access_token";
        return p.emit(tx, "oauth.token.revoked", client.id, event);
    });
    if (!committed) return server_error(committed.error());
    p.service.on_revoked();
    return done;
}

OAuthAnswer OidcProvider::introspect(const OAuthParams& form, std::string_view authorization) {
    Impl& p = *impl_;
    if (!form.duplicates.empty()) return invalid_request("A parameter was given more than once.");
    auto authenticated = p.authenticate_client(form, authorization);
    if (auto* refused = std::get_if<OAuthAnswer>(&authenticated)) return *refused;
    const auto& caller = std::get<oidc_store::ClientRecord>(authenticated).client;
    if (caller.type != kConfidential) return invalid_client();
    const std::string& token = form.get("token");
    if (token.empty()) return invalid_request("token is required.");
    OAuthAnswer inactive;
    inactive.body = object{{"active", false}};
    if (token.size() > oauth::kMaxUriBytes * 4) return inactive;
    std::int64_t now = p.clock.now_ms();
    // Tokens are visible only to clients of the organization that owns the token's client.
    auto same_org = [&](const std::string& client_id) -> Result<bool> {
        auto owner = oidc_store::find_client(p.database, client_id);
        if (!owner) return owner.error();
        return *owner && (*owner)->client.org_id == caller.org_id;
    };
    auto refresh = oidc_store::find_refresh_token(p.database, crypto::sha256_hex(token));
    if (!refresh) return server_error(refresh.error());
    if (*refresh) {
        const oidc_store::Grant& grant = (*refresh)->grant;
        if ((*refresh)->used || grant.revoked || grant.expires_at_ms <= now) return inactive;
        auto visible = same_org(grant.client_id);
        if (!visible) return server_error(visible.error());
        if (!*visible) return inactive;
        OAuthAnswer answer;
        answer.body = object{{"active", true},
                             {"token_type", "refresh_token"},
                             {"scope", grant.scope},
                             {"client_id", grant.client_id},
                             {"sub", grant.user_id},
                             {"iss", p.settings.issuer},
                             {"iat", grant.created_at_ms / kMsPerSecond},
                             {"exp", grant.expires_at_ms / kMsPerSecond}};
        return answer;
    }
    auto claims = p.service.verify_access_token(token);
    if (!claims || claims->client_id.empty()) return inactive;
    auto visible = same_org(claims->client_id);
    if (!visible) return server_error(visible.error());
    if (!*visible) return inactive;
    auto live = p.access_token_live(*claims);
    if (!live) return server_error(live.error());
    if (!*live) return inactive;
    std::string scope;
    for (const auto& item : claims->scopes) scope += (scope.empty() ? "" : " ") + item;
    OAuthAnswer answer;
    answer.body = object{{"active", true},
                         {"token_type", "Bearer"},
                         {"scope", scope},
                         {"client_id", claims->client_id},
                         {"sub", claims->user_id},
                         {"aud", p.settings.audience},
                         {"iss", p.settings.issuer},
                         {"iat", claims->issued_at_s},
                         {"exp", claims->expires_at_s},
                         {"jti", claims->token_id}};
    if (!claims->org_id.empty()) answer.body["org_id"] = claims->org_id;
    return answer;
}

OAuthAnswer OidcProvider::userinfo(std::string_view access_token) {
    Impl& p = *impl_;
    auto refused = [](std::string_view error, std::string_view description, int status) {
        OAuthAnswer answer = oauth_error(status, error, description);
        answer.challenge = fmt::format(R"(Bearer error="{}")", error);
        return answer;
    };
    if (access_token.empty()) {
        OAuthAnswer answer =
            refused("invalid_token", "An access token is required.", kUnauthorized);
        answer.challenge = "Bearer";
        return answer;
    }
    auto claims = p.service.verify_access_token(access_token);
    if (!claims || claims->client_id.empty() || !is_valid_id(claims->user_id, "usr")) {
        return refused("invalid_token", "The access token is not valid here.", kUnauthorized);
    }
    if (!contains(claims->scopes, kScopeOpenid)) {
        return refused("insufficient_scope", "The token lacks the openid scope.", kForbidden);
    }
    auto live = p.access_token_live(*claims);
    if (!live) return server_error(live.error());
    if (!*live) return refused("invalid_token", "The access token was revoked.", kUnauthorized);
    auto user = p.service.get_user(claims->user_id);
    if (!user) {
        if (user.error().code == ErrorCode::not_found) {
            return refused("invalid_token", "The account no longer exists.", kUnauthorized);
        }
        return server_error(user.error());
    }
    OAuthAnswer answer;
    answer.body = object{{"sub", user->id}};
    if (contains(claims->scopes, kScopeEmail)) {
        answer.body["email"] = user->email;
        answer.body["email_verified"] = user->email_verified;
    }
    if (contains(claims->scopes, kScopeProfile)) answer.body["name"] = user->name;
    return answer;
}

Result<std::string> OidcProvider::logout(const OAuthParams& params, const std::string& ip) {
    Impl& p = *impl_;
    if (!params.duplicates.empty()) return Error::invalid("a parameter was given more than once");
    const std::string& hint = params.get("id_token_hint");
    std::string client_id = params.get("client_id");
    std::string user_id;
    std::string grant_id;
    if (!hint.empty()) {
        if (hint.size() > oauth::kMaxUriBytes * 4)
            return Error::invalid("id_token_hint: is too long");
        // An expired ID token is still a fine hint (OpenID Connect RP-Initiated Logout 2).
        auto claims = p.service.verify_jwt(hint);
        if (!claims) return Error::invalid("id_token_hint: is not an ID token of this issuer");
        const auto* aud = string_claim(*claims, "aud");
        const auto* sub = string_claim(*claims, "sub");
        if (aud == nullptr || sub == nullptr || !is_valid_id(*aud, "cli")) {
            return Error::invalid("id_token_hint: is not an ID token of this issuer");
        }
        if (!client_id.empty() && client_id != *aud) {
            return Error::invalid("client_id: does not match id_token_hint");
        }
        client_id = std::string(*aud);
        user_id = std::string(*sub);
        if (const auto* sid = string_claim(*claims, "sid")) grant_id = std::string(*sid);
    }
    const std::string& post_logout = params.get("post_logout_redirect_uri");
    std::optional<oidc_store::ClientRecord> client;
    if (!client_id.empty()) {
        if (!is_valid_id(client_id, "cli")) return Error::invalid("client_id: no such client");
        auto found = oidc_store::find_client(p.database, client_id);
        if (!found) return found.error();
        if (!*found) return Error::invalid("client_id: no such client");
        client = std::move(**found);
    }
    if (!post_logout.empty()) {
        if (!client) {
            return Error::invalid(
                "post_logout_redirect_uri: needs id_token_hint or client_id to be checked");
        }
        if (!oauth::redirect_uri_registered(client->client.post_logout_redirect_uris,
                                            post_logout)) {
            return Error::invalid("post_logout_redirect_uri: is not registered for this client");
        }
    }
    if (!grant_id.empty() && client) {
        std::int64_t now = p.clock.now_ms();
        auto committed = p.database.transact([&](db::Transaction& tx) -> Result<void> {
            auto grant = oidc_store::find_grant(tx, grant_id);
            if (!grant) return grant.error();
            // Only the grant the hint was issued for, of the same user and client.
            if (!*grant || (*grant)->user_id != user_id || (*grant)->client_id != client_id) {
                return {};
            }
            auto revoked = oidc_store::revoke_grant(tx, grant_id, "logout", now);
            if (!revoked) return revoked.error();
            if (!*revoked) return {};
            return p.emit(tx, "oauth.token.revoked", grant_id,
                          {{"actor_id", user_id},
                           {"org_id", client->client.org_id},
                           {"target_id", grant_id},
                           {"client_id", client_id},
                           {"reason", "logout"},
                           {"ip", ip_of(ip)}});
        });
        if (!committed) return committed.error();
        p.service.on_revoked();
    }
    if (post_logout.empty()) return p.base + "/signed-out";
    const std::string& state = params.get("state");
    if (state.empty() || state.size() > oauth::kMaxParamBytes) return post_logout;
    return oauth::with_params(post_logout, {{"state", state}});
}

}  // namespace nimbus::identity
