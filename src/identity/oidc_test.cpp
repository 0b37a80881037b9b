// The OpenID provider against a real SQLite database with a manual clock: the code flow with
// PKCE, code lifetime and reuse, refresh rotation, client credentials, revocation, introspection,
// consent memory and the registration rules.
#include <regex>

#include <gtest/gtest.h>
#include <boost/json/serialize.hpp>

#include "identity/identity.hpp"
#include "identity/oauth.hpp"
#include "identity/service_fixture.hpp"

namespace nimbus::identity {
namespace {

using testing::kPassword;
using testing::kStartMs;

constexpr const char* kRedirect = "https://rp.example.com/cb";
constexpr const char* kVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
constexpr const char* kChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const std::string kOrg = "org_01JD2W3X4Y5Z6A7B8C9D0E1F2G";

/// The value of `name` in a URL's query; empty when absent.
std::string query_value(const std::string& url, const std::string& name) {
    std::smatch match;
    if (!std::regex_search(url, match, std::regex("[?&]" + name + "=([^&]*)"))) return {};
    auto params = parse_oauth_params(name + "=" + match[1].str());
    return params ? params->get(name) : "";
}

std::string text_of(const boost::json::object& body, const char* name) {
    const auto* value = body.if_contains(name);
    return value != nullptr && value->is_string() ? std::string(value->as_string()) : "";
}

OAuthParams params(std::initializer_list<std::pair<std::string, std::string>> items) {
    OAuthParams out;
    for (const auto& [name, value] : items) out.values[name] = value;
    return out;
}

class OidcProviderTest : public testing::ServiceFixture {
protected:
    void SetUp() override {
        ServiceFixture::SetUp();
        if (HasFatalFailure()) return;
        provider_ = std::make_unique<OidcProvider>(
            *database_, clock_, *service_,
            OidcSettings{.issuer = settings().issuer, .audience = settings().audience});
        // A user with a console session.
        user_ = create_user("rp-user@example.com", kPassword, "Rita");
        ASSERT_FALSE(user_.empty());
        auto tokens = service_->login("rp-user@example.com", kPassword, {"127.0.0.1", "test"});
        ASSERT_TRUE(tokens) << tokens.error().message;
        session_ = tokens->session_id;
    }

    void TearDown() override {
        provider_.reset();
        ServiceFixture::TearDown();
    }

    /// Registers a client; returns its id and secret (empty for public ones).
    std::pair<std::string, std::string> register_client(const std::string& type = "confidential",
                                                        std::vector<std::string> grants = {
                                                            "authorization_code",
                                                            "refresh_token"}) {
        OAuthClientInput input;
        input.name = "Relying Party";
        input.type = type;
        input.redirect_uris = std::vector<std::string>{kRedirect};
        input.post_logout_redirect_uris = std::vector<std::string>{"https://rp.example.com/bye"};
        input.grant_types = std::move(grants);
        input.scopes =
            std::vector<std::string>{"openid", "email", "profile", "account.self", "storage.read"};
        auto created = provider_->create_client(kOrg, input, admin_);
        EXPECT_TRUE(created) << (created ? "" : created.error().message);
        return created ? std::pair{created->first.id, created->second}
                       : std::pair<std::string, std::string>{};
    }

    /// Runs authorize + approve and returns the code.
    std::string code_for(const std::string& client_id, const std::string& nonce = "n-0S6") {
        auto location = provider_->authorize(params({{"response_type", "code"},
                                                     {"client_id", client_id},
                                                     {"redirect_uri", kRedirect},
                                                     {"scope", "openid email profile"},
                                                     {"state", "af0ifjsldkj"},
                                                     {"nonce", nonce},
                                                     {"code_challenge", kChallenge},
                                                     {"code_challenge_method", "S256"}}));
        EXPECT_TRUE(location) << (location ? "" : location.error().message);
        if (!location) return {};
        EXPECT_TRUE(location->starts_with("https://nimbus.test/consent?request=oar_")) << *location;
        std::string request_id = query_value(*location, "request");
        auto redirect = provider_->decide(request_id, user_, session_, true, "127.0.0.1");
        EXPECT_TRUE(redirect) << (redirect ? "" : redirect.error().message);
        if (!redirect) return {};
        EXPECT_TRUE(redirect->starts_with(std::string(kRedirect) + "?code="));
        EXPECT_EQ(query_value(*redirect, "state"), "af0ifjsldkj");
        EXPECT_EQ(query_value(*redirect, "iss"), "https://nimbus.test");
        return query_value(*redirect, "code");
    }

    OAuthAnswer exchange(const std::string& client_id, const std::string& secret,
                         const std::string& code, const std::string& verifier = kVerifier,
                         const std::string& redirect = kRedirect) {
        OAuthParams form = params({{"grant_type", "authorization_code"},
                                   {"code", code},
                                   {"redirect_uri", redirect},
                                   {"code_verifier", verifier},
                                   {"client_id", client_id}});
        if (!secret.empty()) form.values["client_secret"] = secret;
        return provider_->token(form, "", "127.0.0.1");
    }

    OAuthAnswer refresh(const std::string& client_id, const std::string& secret,
                        const std::string& token) {
        return provider_->token(params({{"grant_type", "refresh_token"},
                                        {"refresh_token", token},
                                        {"client_id", client_id},
                                        {"client_secret", secret}}),
                                "", "127.0.0.1");
    }

    std::unique_ptr<OidcProvider> provider_;
    std::string user_;
    std::string session_;
    OAuthActor admin_{"usr_01JD2W3X4Y5Z6A7B8C9D0E1F2G", "127.0.0.1", {"*"}};
};

TEST_F(OidcProviderTest, CodeFlowIssuesTokensAndAnIdTokenWithNonceAndAtHash) {
    const auto registered_client_id = register_client();
    const std::string client_id = registered_client_id.first;
    const std::string secret = registered_client_id.second;
    ASSERT_FALSE(secret.empty());
    OAuthAnswer answer = exchange(client_id, secret, code_for(client_id, "nonce-123"));
    ASSERT_EQ(answer.status, 200) << boost::json::serialize(answer.body);
    EXPECT_EQ(text_of(answer.body, "token_type"), "Bearer");
    EXPECT_FALSE(text_of(answer.body, "refresh_token").empty());
    std::string access = text_of(answer.body, "access_token");
    auto id = service_->verify_jwt(text_of(answer.body, "id_token"));
    ASSERT_TRUE(id) << id.error().message;
    EXPECT_EQ(text_of(*id, "aud"), client_id);
    EXPECT_EQ(text_of(*id, "sub"), user_);
    EXPECT_EQ(text_of(*id, "nonce"), "nonce-123");
    EXPECT_EQ(text_of(*id, "email"), "rp-user@example.com");
    EXPECT_EQ(text_of(*id, "name"), "Rita");
    // at_hash is the left half of SHA-256: its first 21 characters encode whole bytes.
    EXPECT_EQ(text_of(*id, "at_hash").size(), 22U);
    EXPECT_EQ(text_of(*id, "at_hash").substr(0, 21), oauth::s256_challenge(access).substr(0, 21));
    EXPECT_EQ(id->at("auth_time").as_int64(), kStartMs / 1000);
    // The access token works on /api/v1 (same audience) and names its client.
    auto claims = service_->verify_access_token(access);
    ASSERT_TRUE(claims) << claims.error().message;
    EXPECT_EQ(claims->client_id, client_id);
    EXPECT_EQ(claims->user_id, user_);
    // The ID token is not an access token: its audience is the client.
    EXPECT_FALSE(service_->verify_access_token(text_of(answer.body, "id_token")));
    OAuthAnswer info = provider_->userinfo(access);
    ASSERT_EQ(info.status, 200);
    EXPECT_EQ(text_of(info.body, "sub"), user_);
    EXPECT_EQ(text_of(info.body, "email"), "rp-user@example.com");
    EXPECT_EQ(count_events("nimbus.identity.oauth.consent.granted"), 1);
    EXPECT_EQ(count_events("nimbus.identity.oauth_client.created"), 1);
}

TEST_F(OidcProviderTest, CodeExpiresAfterSixtySeconds) {
    const auto registered_client_id = register_client();
    const std::string client_id = registered_client_id.first;
    const std::string secret = registered_client_id.second;
    std::string code = code_for(client_id);
    clock_.advance_ms(60'000);
    OAuthAnswer answer = exchange(client_id, secret, code);
    EXPECT_EQ(answer.status, 400);
    EXPECT_EQ(text_of(answer.body, "error"), "invalid_grant");
    // One second less still works.
    std::string fresh = code_for(client_id);
    clock_.advance_ms(59'000);
    EXPECT_EQ(exchange(client_id, secret, fresh).status, 200);
}

TEST_F(OidcProviderTest, ReusedCodeFailsAndRevokesWhatItIssued) {
    const auto registered_client_id = register_client();
    const std::string client_id = registered_client_id.first;
    const std::string secret = registered_client_id.second;
    std::string code = code_for(client_id);
    OAuthAnswer first = exchange(client_id, secret, code);
    ASSERT_EQ(first.status, 200);
    OAuthAnswer second = exchange(client_id, secret, code);
    EXPECT_EQ(second.status, 400);
    EXPECT_EQ(text_of(second.body, "error"), "invalid_grant");
    // The refresh token and access token of the first exchange are dead.
    EXPECT_EQ(refresh(client_id, secret, text_of(first.body, "refresh_token")).status, 400);
    EXPECT_EQ(provider_->userinfo(text_of(first.body, "access_token")).status, 401);
    EXPECT_EQ(count_events("nimbus.identity.oauth.token.revoked"), 1);
}

TEST_F(OidcProviderTest, WrongVerifierRedirectUriOrClientSpendTheCode) {
    const auto registered_client_id = register_client();
    const std::string client_id = registered_client_id.first;
    const std::string secret = registered_client_id.second;
    std::string code = code_for(client_id);
    std::string wrong(kVerifier);
    wrong.front() = 'e';
    OAuthAnswer answer = exchange(client_id, secret, code, wrong);
    EXPECT_EQ(text_of(answer.body, "error"), "invalid_grant");
    // The code is spent by the failed attempt.
    EXPECT_EQ(exchange(client_id, secret, code).status, 400);

    std::string other = code_for(client_id);
    answer = exchange(client_id, secret, other, kVerifier, "https://rp.example.com/cb2");
    EXPECT_EQ(text_of(answer.body, "error"), "invalid_grant");

    const auto registered_second_id = register_client();
    const std::string second_id = registered_second_id.first;
    const std::string second_secret = registered_second_id.second;
    answer = exchange(second_id, second_secret, code_for(client_id));
    EXPECT_EQ(text_of(answer.body, "error"), "invalid_grant");

    answer = exchange(client_id, "wrong-secret", code_for(client_id));
    EXPECT_EQ(answer.status, 401);
    EXPECT_EQ(text_of(answer.body, "error"), "invalid_client");
    EXPECT_FALSE(answer.challenge.empty());

    answer = exchange(client_id, secret, code_for(client_id), "short");
    EXPECT_EQ(text_of(answer.body, "error"), "invalid_request");
}

TEST_F(OidcProviderTest, RefreshRotatesAndReuseRevokesTheGrant) {
    const auto registered_client_id = register_client();
    const std::string client_id = registered_client_id.first;
    const std::string secret = registered_client_id.second;
    OAuthAnswer first = exchange(client_id, secret, code_for(client_id));
    std::string token1 = text_of(first.body, "refresh_token");
    OAuthAnswer second = refresh(client_id, secret, token1);
    ASSERT_EQ(second.status, 200) << boost::json::serialize(second.body);
    std::string token2 = text_of(second.body, "refresh_token");
    EXPECT_NE(token1, token2);
    EXPECT_FALSE(text_of(second.body, "id_token").empty());
    // token1 again: reuse; the family ends, token2 with it.
    EXPECT_EQ(text_of(refresh(client_id, secret, token1).body, "error"), "invalid_grant");
    EXPECT_EQ(text_of(refresh(client_id, secret, token2).body, "error"), "invalid_grant");
    EXPECT_EQ(count_events("nimbus.identity.oauth.token.revoked"), 1);
}

TEST_F(OidcProviderTest, PublicClientsUsePkceWithoutASecret) {
    const auto registered_client_id = register_client("public");
    const std::string client_id = registered_client_id.first;
    const std::string secret = registered_client_id.second;
    EXPECT_TRUE(secret.empty());
    OAuthAnswer answer = exchange(client_id, "", code_for(client_id));
    EXPECT_EQ(answer.status, 200) << boost::json::serialize(answer.body);
    // A secret presented by a public client is refused.
    EXPECT_EQ(exchange(client_id, "anything", code_for(client_id)).status, 401);
}

TEST_F(OidcProviderTest, ClientCredentialsGiveAnOrgScopedMachineToken) {
    const auto registered_client_id = register_client("confidential", {"client_credentials"});
    const std::string client_id = registered_client_id.first;
    const std::string secret = registered_client_id.second;
    OAuthAnswer answer = provider_->token(
        params({{"grant_type", "client_credentials"}, {"scope", "storage.read"}}),
        "Basic " + crypto::base64url_encode(client_id + ":" + secret), "127.0.0.1");
    ASSERT_EQ(answer.status, 200) << boost::json::serialize(answer.body);
    auto claims = service_->verify_access_token(text_of(answer.body, "access_token"));
    ASSERT_TRUE(claims) << claims.error().message;
    EXPECT_EQ(claims->user_id, client_id);
    EXPECT_EQ(claims->org_id, kOrg);
    EXPECT_EQ(claims->scopes, std::vector<std::string>{"storage.read"});
    EXPECT_FALSE(answer.body.contains("refresh_token"));
    // OpenID scopes and unregistered permissions are not for machines.
    answer = provider_->token(params({{"grant_type", "client_credentials"},
                                      {"scope", "openid"},
                                      {"client_id", client_id},
                                      {"client_secret", secret}}),
                              "", "127.0.0.1");
    EXPECT_EQ(text_of(answer.body, "error"), "invalid_scope");
    // A client not registered for the grant type.
    const auto registered_code_client = register_client();
    const std::string code_client = registered_code_client.first;
    const std::string code_secret = registered_code_client.second;
    answer = provider_->token(params({{"grant_type", "client_credentials"},
                                      {"client_id", code_client},
                                      {"client_secret", code_secret}}),
                              "", "127.0.0.1");
    EXPECT_EQ(text_of(answer.body, "error"), "unauthorized_client");
}

TEST_F(OidcProviderTest, RevocationAndIntrospection) {
    const auto registered_client_id = register_client();
    const std::string client_id = registered_client_id.first;
    const std::string secret = registered_client_id.second;
    OAuthAnswer tokens = exchange(client_id, secret, code_for(client_id));
    std::string access = text_of(tokens.body, "access_token");
    std::string refresh_token = text_of(tokens.body, "refresh_token");
    auto introspect = [&](const std::string& token) {
        return provider_->introspect(
            params({{"token", token}, {"client_id", client_id}, {"client_secret", secret}}), "");
    };
    OAuthAnswer active = introspect(access);
    ASSERT_EQ(active.status, 200);
    EXPECT_TRUE(active.body.at("active").as_bool());
    EXPECT_EQ(text_of(active.body, "client_id"), client_id);
    EXPECT_TRUE(introspect(refresh_token).body.at("active").as_bool());
    EXPECT_FALSE(introspect("not-a-token").body.at("active").as_bool());

    OAuthAnswer revoked = provider_->revoke(
        params({{"token", refresh_token}, {"client_id", client_id}, {"client_secret", secret}}), "",
        "127.0.0.1");
    EXPECT_EQ(revoked.status, 200);
    EXPECT_FALSE(introspect(refresh_token).body.at("active").as_bool());
    // Revoking the refresh token ended the grant, so its access tokens are inactive too.
    EXPECT_FALSE(introspect(access).body.at("active").as_bool());
    EXPECT_EQ(text_of(refresh(client_id, secret, refresh_token).body, "error"), "invalid_grant");
    // Unknown tokens: 200 as well (RFC 7009 2.2).
    EXPECT_EQ(
        provider_
            ->revoke(
                params({{"token", "unknown"}, {"client_id", client_id}, {"client_secret", secret}}),
                "", "127.0.0.1")
            .status,
        200);
    EXPECT_EQ(count_events("nimbus.identity.oauth.token.revoked"), 1);
}

TEST_F(OidcProviderTest, AuthorizeShowsClientErrorsAndRedirectsTheRest) {
    const auto registered_client_id = register_client();
    const std::string client_id = registered_client_id.first;
    const std::string secret = registered_client_id.second;
    auto base = [&] {
        return params({{"response_type", "code"},
                       {"client_id", client_id},
                       {"redirect_uri", kRedirect},
                       {"scope", "openid"},
                       {"state", "xyz"},
                       {"code_challenge", kChallenge},
                       {"code_challenge_method", "S256"}});
    };
    OAuthParams unknown = base();
    unknown.values["client_id"] = "cli_01JD2W3X4Y5Z6A7B8C9D0E1F2G";
    EXPECT_FALSE(provider_->authorize(unknown));
    OAuthParams wrong_redirect = base();
    wrong_redirect.values["redirect_uri"] = "https://evil.example.com/cb";
    EXPECT_FALSE(provider_->authorize(wrong_redirect));

    auto redirected_error = [&](const OAuthParams& request) {
        auto location = provider_->authorize(request);
        EXPECT_TRUE(location);
        if (!location) return std::string();
        EXPECT_TRUE(location->starts_with(kRedirect)) << *location;
        EXPECT_EQ(query_value(*location, "state"), "xyz");
        return query_value(*location, "error");
    };
    OAuthParams plain = base();
    plain.values["code_challenge_method"] = "plain";
    EXPECT_EQ(redirected_error(plain), "invalid_request");
    OAuthParams no_pkce = base();
    no_pkce.values.erase("code_challenge");
    EXPECT_EQ(redirected_error(no_pkce), "invalid_request");
    OAuthParams token_type = base();
    token_type.values["response_type"] = "token";
    EXPECT_EQ(redirected_error(token_type), "unsupported_response_type");
    OAuthParams bad_scope = base();
    bad_scope.values["scope"] = "openid admin";
    EXPECT_EQ(redirected_error(bad_scope), "invalid_scope");
    OAuthParams huge_state = base();
    huge_state.values["nonce"] = std::string(5000, 'n');
    EXPECT_EQ(redirected_error(huge_state), "invalid_request");
    OAuthParams twice = base();
    twice.duplicates.emplace_back("scope");
    EXPECT_EQ(redirected_error(twice), "invalid_request");
    // Nothing was stored by any refused request.
    auto rows = database_->query("SELECT COUNT(*) FROM identity_oauth_requests");
    ASSERT_TRUE(rows);
    EXPECT_EQ(rows->front().get_int(0), 0);
}

TEST_F(OidcProviderTest, ConsentIsRememberedAndRequestsAreDecidedOnce) {
    const auto registered_client_id = register_client();
    const std::string client_id = registered_client_id.first;
    const std::string secret = registered_client_id.second;
    auto request_id = [&] {
        auto location = provider_->authorize(params({{"response_type", "code"},
                                                     {"client_id", client_id},
                                                     {"redirect_uri", kRedirect},
                                                     {"scope", "openid email"},
                                                     {"code_challenge", kChallenge},
                                                     {"code_challenge_method", "S256"}}));
        return location ? query_value(*location, "request") : "";
    };
    std::string first = request_id();
    auto shown = provider_->consent_request(first, user_);
    ASSERT_TRUE(shown);
    EXPECT_FALSE(shown->consented);
    EXPECT_EQ(shown->client_name, "Relying Party");
    auto denied = provider_->decide(first, user_, session_, false, "127.0.0.1");
    ASSERT_TRUE(denied);
    EXPECT_EQ(query_value(*denied, "error"), "access_denied");
    // Decided once: a second decision and a second look find nothing.
    EXPECT_FALSE(provider_->decide(first, user_, session_, true, "127.0.0.1"));
    EXPECT_FALSE(provider_->consent_request(first, user_));

    std::string second = request_id();
    ASSERT_TRUE(provider_->decide(second, user_, session_, true, "127.0.0.1"));
    auto third = provider_->consent_request(request_id(), user_);
    ASSERT_TRUE(third);
    EXPECT_TRUE(third->consented);
    // Requests expire.
    std::string late = request_id();
    clock_.advance_ms(11 * 60'000);
    EXPECT_FALSE(provider_->consent_request(late, user_));
}

TEST_F(OidcProviderTest, RegistrationRules) {
    OAuthClientInput input;
    input.name = "App";
    input.type = "public";
    input.redirect_uris = std::vector<std::string>{kRedirect};
    input.grant_types = std::vector<std::string>{"client_credentials"};
    auto refused = provider_->create_client(kOrg, input, admin_);
    ASSERT_FALSE(refused);
    EXPECT_TRUE(refused.error().message.starts_with("grant_types: ")) << refused.error().message;

    input.grant_types = std::vector<std::string>{"authorization_code"};
    input.redirect_uris = std::vector<std::string>{"http://example.com/cb"};
    refused = provider_->create_client(kOrg, input, admin_);
    ASSERT_FALSE(refused);
    EXPECT_TRUE(refused.error().message.starts_with("redirect_uris: "));

    input.redirect_uris = std::vector<std::string>{kRedirect};
    input.scopes = std::vector<std::string>{"openid", "billing.manage"};
    OAuthActor limited{"usr_01JD2W3X4Y5Z6A7B8C9D0E1F2G", "127.0.0.1", {"oauth.clients.manage"}};
    refused = provider_->create_client(kOrg, input, limited);
    ASSERT_FALSE(refused);
    EXPECT_TRUE(refused.error().message.starts_with("scopes: "));

    input.scopes = std::vector<std::string>{"openid"};
    auto created = provider_->create_client(kOrg, input, limited);
    ASSERT_TRUE(created) << created.error().message;
    // Another organization sees nothing of it.
    const std::string other_org = "org_01JD2W3X4Y5Z6A7B8C9D0E1F2H";
    EXPECT_FALSE(provider_->get_client(other_org, created->first.id));
    EXPECT_FALSE(provider_->delete_client(other_org, created->first.id, admin_));
    OAuthClientInput rename;
    rename.name = "Renamed";
    EXPECT_FALSE(provider_->update_client(other_org, created->first.id, rename, admin_));
    auto renamed = provider_->update_client(kOrg, created->first.id, rename, admin_);
    ASSERT_TRUE(renamed);
    EXPECT_EQ(renamed->name, "Renamed");
    OAuthClientInput retype;
    retype.type = "confidential";
    EXPECT_FALSE(provider_->update_client(kOrg, created->first.id, retype, admin_));
    EXPECT_TRUE(provider_->delete_client(kOrg, created->first.id, admin_));
    EXPECT_EQ(count_events("nimbus.identity.oauth_client.updated"), 1);
    EXPECT_EQ(count_events("nimbus.identity.oauth_client.deleted"), 1);
}

TEST_F(OidcProviderTest, LogoutEndsTheGrantOfTheHint) {
    const auto registered_client_id = register_client();
    const std::string client_id = registered_client_id.first;
    const std::string secret = registered_client_id.second;
    OAuthAnswer tokens = exchange(client_id, secret, code_for(client_id));
    std::string id_token = text_of(tokens.body, "id_token");
    auto bad = provider_->logout(params({{"id_token_hint", id_token},
                                         {"post_logout_redirect_uri", "https://evil.example/"}}),
                                 "127.0.0.1");
    EXPECT_FALSE(bad);
    auto location =
        provider_->logout(params({{"id_token_hint", id_token},
                                  {"post_logout_redirect_uri", "https://rp.example.com/bye"},
                                  {"state", "s1"}}),
                          "127.0.0.1");
    ASSERT_TRUE(location) << location.error().message;
    EXPECT_EQ(*location, "https://rp.example.com/bye?state=s1");
    EXPECT_EQ(
        text_of(refresh(client_id, secret, text_of(tokens.body, "refresh_token")).body, "error"),
        "invalid_grant");
    EXPECT_FALSE(provider_->logout(params({{"id_token_hint", "forged.token.x"}}), "127.0.0.1"));
}

}  // namespace
}  // namespace nimbus::identity
