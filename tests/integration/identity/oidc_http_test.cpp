// The OpenID provider over real sockets (the default pipeline, SQLite or PostgreSQL): the code
// flow as a browser and the console drive it, with a manual clock for code expiry, and a table
// of malformed, oversized and hostile requests to every protocol endpoint, each checked to answer
// a clean 4xx and to change nothing.
#include <regex>

#include <gtest/gtest.h>

#include "core/crypto.hpp"
#include "core/ids.hpp"
#include "identity/identity.hpp"
#include "identity_env.hpp"
#include "mail/mail.hpp"

// The PostgreSQL build of this suite gets its own test names, so ctest keeps the two apart.
#ifdef NIMBUS_IDENTITY_TEST_POSTGRES
#define OidcHttp OidcHttpOnPostgres
#endif

namespace nimbus::test {
namespace {

constexpr const char* kPassword = "correct-Horse-battery-9";
constexpr const char* kRedirect = "https://rp.example.com/cb";
// RFC 7636 appendix B.
constexpr const char* kVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
constexpr const char* kChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const std::string kOrg = "org_01JD2W3X4Y5Z6A7B8C9D0E1F2G";

std::string query_value(const std::string& url, const std::string& name) {
    std::smatch match;
    if (!std::regex_search(url, match, std::regex("[?&]" + name + "=([^&]*)"))) return {};
    auto params = identity::parse_oauth_params(name + "=" + match[1].str());
    return params ? params->get(name) : "";
}

std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields) {
    std::string out;
    for (const auto& [name, value] : fields) {
        if (!out.empty()) out.push_back('&');
        out += name + "=";
        for (char c : value) {
            if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
                c == '~') {
                out.push_back(c);
            } else {
                constexpr const char* kHex = "0123456789ABCDEF";
                auto byte = static_cast<unsigned char>(c);
                out += {'%', kHex[byte >> 4U], kHex[byte & 0x0FU]};
            }
        }
    }
    return out;
}

class OidcHttp : public ::testing::Test {
protected:
    void SetUp() override {
        if (!backend_available()) GTEST_SKIP() << "no PostgreSQL test cluster";
        stack_ = std::make_unique<IdentityStack>(MailMode::dev_mailbox);
        const std::string email = "rp-user@example.com";
        auto signed_up = stack_->request(
            "POST", "/api/v1/auth/signup",
            R"({"email":")" + email + R"(","password":")" + kPassword + R"(","name":"Rita"})");
        ASSERT_EQ(signed_up.status, 202) << signed_up.body;
        auto mails = mail::read_dev_mailbox(stack_->database(), email, 1);
        ASSERT_TRUE(mails && !mails->empty());
        std::smatch match;
        const std::string& text = mails->front().text;
        ASSERT_TRUE(std::regex_search(text, match, std::regex("token=([A-Za-z0-9_-]+)")));
        auto verified = stack_->request("POST", "/api/v1/auth/verify-email",
                                        R"({"token":")" + match[1].str() + R"("})");
        ASSERT_EQ(verified.status, 204);
        auto login =
            stack_->request("POST", "/api/v1/auth/login",
                            R"({"email":")" + email + R"(","password":")" + kPassword + R"("})");
        ASSERT_EQ(login.status, 200) << login.body;
        console_token_ = json_field(login.body, "access_token");
        identity::OAuthClientInput input;
        input.name = "Relying Party";
        input.type = "confidential";
        input.redirect_uris = std::vector<std::string>{kRedirect};
        input.scopes = std::vector<std::string>{"openid", "email", "account.self"};
        auto created = stack_->oidc().create_client(
            kOrg, input, {"usr_01JD2W3X4Y5Z6A7B8C9D0E1F2G", "127.0.0.1", {"*"}});
        ASSERT_TRUE(created) << created.error().message;
        client_id_ = created->first.id;
        secret_ = created->second;
    }

    std::string basic() const {
        return "Basic " + crypto::base64url_encode(client_id_ + ":" + secret_);
    }

    HttpResponse post_form(const std::string& path, const std::string& body,
                           const std::string& authorization = {},
                           const std::string& content_type = "application/x-www-form-urlencoded") {
        std::vector<std::pair<std::string, std::string>> headers = {{"content-type", content_type}};
        if (!authorization.empty()) headers.emplace_back("authorization", authorization);
        return stack_->request("POST", path, body, "", headers);
    }

    /// authorize -> consent API -> decision; returns the redirect back to the relying party.
    std::string approve(const std::string& scope = "openid email") {
        std::string target =
            "/oauth2/authorize?" + form_encode({{"response_type", "code"},
                                                {"client_id", client_id_},
                                                {"redirect_uri", kRedirect},
                                                {"scope", scope},
                                                {"state", "st"},
                                                {"nonce", "nn"},
                                                {"code_challenge", kChallenge},
                                                {"code_challenge_method", "S256"}});
        auto browser = stack_->request("GET", target);
        EXPECT_EQ(browser.status, 302) << browser.body;
        std::string consent = browser.header("location").value_or("");
        EXPECT_TRUE(consent.starts_with("http://nimbus.test/consent?request=oar_")) << consent;
        std::string request_id = query_value(consent, "request");
        auto shown =
            stack_->request("GET", "/api/v1/oauth2/requests/" + request_id, "", console_token_);
        EXPECT_EQ(shown.status, 200) << shown.body;
        EXPECT_EQ(json_field(shown.body, "client_name"), "Relying Party");
        auto decided =
            stack_->request("POST", "/api/v1/oauth2/requests/" + request_id + "/decision",
                            R"({"approve":true})", console_token_);
        EXPECT_EQ(decided.status, 200) << decided.body;
        return json_field(decided.body, "redirect_to");
    }

    HttpResponse exchange(const std::string& code) {
        return post_form("/oauth2/token",
                         form_encode({{"grant_type", "authorization_code"},
                                      {"code", code},
                                      {"redirect_uri", kRedirect},
                                      {"code_verifier", kVerifier}}),
                         basic());
    }

    std::int64_t oauth_rows() {
        return stack_->count(
            "SELECT (SELECT COUNT(*) FROM identity_oauth_requests) + "
            "(SELECT COUNT(*) FROM identity_oauth_codes WHERE used_at_ms IS NOT NULL) + "
            "(SELECT COUNT(*) FROM identity_oauth_grants) + "
            "(SELECT COUNT(*) FROM identity_oauth_clients) + "
            "(SELECT COUNT(*) FROM identity_oauth_revoked_tokens)");
    }

    std::unique_ptr<IdentityStack> stack_;
    std::string console_token_;
    std::string client_id_;
    std::string secret_;
};

TEST_F(OidcHttp, CodeFlowOverHttp) {
    auto discovery = stack_->request("GET", "/.well-known/openid-configuration");
    ASSERT_EQ(discovery.status, 200);
    EXPECT_EQ(json_field(discovery.body, "issuer"), "http://nimbus.test");

    std::string redirect = approve();
    ASSERT_TRUE(redirect.starts_with(std::string(kRedirect) + "?code=")) << redirect;
    EXPECT_EQ(query_value(redirect, "state"), "st");
    auto tokens = exchange(query_value(redirect, "code"));
    ASSERT_EQ(tokens.status, 200) << tokens.body;
    EXPECT_EQ(tokens.header("cache-control").value_or(""), "no-store");
    EXPECT_FALSE(json_field(tokens.body, "id_token").empty());
    std::string access = json_field(tokens.body, "access_token");

    auto info = stack_->request("GET", "/oauth2/userinfo", "", access);
    ASSERT_EQ(info.status, 200) << info.body;
    EXPECT_EQ(json_field(info.body, "email"), "rp-user@example.com");
    // The delegated token holds only what was granted: no account.self here, so no /api/v1/me;
    // and never the consent API.
    EXPECT_EQ(stack_->request("GET", "/api/v1/me", "", access).status, 403);
    EXPECT_EQ(
        stack_->request("GET", "/api/v1/oauth2/requests/oar_01JD2W3X4Y5Z6A7B8C9D0E1F2G", "", access)
            .status,
        403);
    // The console's own token is not a UserInfo token.
    EXPECT_EQ(stack_->request("GET", "/oauth2/userinfo", "", console_token_).status, 401);

    auto introspected = post_form("/oauth2/introspect", form_encode({{"token", access}}), basic());
    ASSERT_EQ(introspected.status, 200);
    EXPECT_NE(introspected.body.find(R"("active":true)"), std::string::npos) << introspected.body;
    EXPECT_EQ(stack_->count_events("nimbus.identity.oauth.consent.granted"), 1);
}

TEST_F(OidcHttp, CodesExpireAfterAMinute) {
    std::string code = query_value(approve(), "code");
    stack_->clock().advance_ms(61'000);
    auto refused = exchange(code);
    EXPECT_EQ(refused.status, 400);
    EXPECT_EQ(json_field(refused.body, "error"), "invalid_grant");
}

TEST_F(OidcHttp, MalformedAndHostileRequestsChangeNothing) {
    std::string code = query_value(approve(), "code");
    std::int64_t before = oauth_rows();
    struct Case {
        std::string name;
        std::string method;
        std::string target;
        std::string body;
        std::string authorization;
        std::string content_type;
        int status;
        std::string error;  // the OAuth error, or a fragment of the problem
    };
    const std::string form_type = "application/x-www-form-urlencoded";
    std::vector<Case> cases = {
        {"json body", "POST", "/oauth2/token", R"({"grant_type":"client_credentials"})", basic(),
         "application/json", 400, "invalid_request"},
        {"malformed percent-encoding", "POST", "/oauth2/token", "grant_type=%zz", basic(),
         form_type, 400, "invalid_request"},
        {"repeated parameter", "POST", "/oauth2/token",
         "grant_type=authorization_code&grant_type=authorization_code", basic(), form_type, 400,
         "invalid_request"},
        {"no grant type", "POST", "/oauth2/token", "code=x", basic(), form_type, 400,
         "invalid_request"},
        {"unknown grant type", "POST", "/oauth2/token", "grant_type=password", basic(), form_type,
         400, "unsupported_grant_type"},
        {"wrong secret", "POST", "/oauth2/token", "grant_type=authorization_code",
         "Basic " + crypto::base64url_encode(client_id_ + ":nope"), form_type, 401,
         "invalid_client"},
        {"not basic", "POST", "/oauth2/token", "grant_type=authorization_code", "Digest x",
         form_type, 401, "invalid_client"},
        {"two auth methods", "POST", "/oauth2/token",
         "grant_type=authorization_code&client_secret=" + secret_, basic(), form_type, 400,
         "invalid_request"},
        {"unknown client", "POST", "/oauth2/token",
         "grant_type=authorization_code&client_id=cli_01JD2W3X4Y5Z6A7B8C9D0E1F2G", "", form_type,
         401, "invalid_client"},
        {"oversized code", "POST", "/oauth2/token",
         form_encode({{"grant_type", "authorization_code"},
                      {"code", std::string(1500, 'c')},
                      {"redirect_uri", kRedirect},
                      {"code_verifier", kVerifier}}),
         basic(), form_type, 400, "invalid_request"},
        {"verifier with bad characters", "POST", "/oauth2/token",
         form_encode({{"grant_type", "authorization_code"},
                      {"code", code},
                      {"redirect_uri", kRedirect},
                      {"code_verifier", std::string(43, '!')}}),
         basic(), form_type, 400, "invalid_request"},
        {"oversized body", "POST", "/oauth2/token", "a=" + std::string(20'000, 'x'), "", form_type,
         413, ""},
        {"revoke without token", "POST", "/oauth2/revoke", "token_type_hint=access_token", basic(),
         form_type, 400, "invalid_request"},
        {"introspect unauthenticated", "POST", "/oauth2/introspect", "token=abc", "", form_type,
         401, "invalid_client"},
        {"userinfo without token", "GET", "/oauth2/userinfo", "", "", "", 401, "invalid_token"},
        {"userinfo forged token", "GET", "/oauth2/userinfo", "", "Bearer a.b.c", "", 401,
         "invalid_token"},
        {"authorize unknown client", "GET",
         "/oauth2/authorize?client_id=cli_01JD2W3X4Y5Z6A7B8C9D0E1F2G&redirect_uri=https%3A%2F%2Fa",
         "", "", "", 400, "client_id"},
        {"authorize unregistered redirect", "GET",
         "/oauth2/authorize?client_id=" + client_id_ +
             "&redirect_uri=https%3A%2F%2Fevil.example.com%2Fcb&response_type=code",
         "", "", "", 400, "redirect_uri"},
        {"authorize malformed query", "GET", "/oauth2/authorize?client_id=%zz", "", "", "", 400,
         "malformed"},
        {"logout forged hint", "GET", "/oauth2/logout?id_token_hint=a.b.c", "", "", "", 400,
         "id_token_hint"},
        {"logout unregistered uri", "GET",
         "/oauth2/logout?client_id=" + client_id_ +
             "&post_logout_redirect_uri=https%3A%2F%2Fevil.example.com",
         "", "", "", 400, "post_logout_redirect_uri"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        std::vector<std::pair<std::string, std::string>> headers;
        if (!c.content_type.empty()) headers.emplace_back("content-type", c.content_type);
        if (!c.authorization.empty()) headers.emplace_back("authorization", c.authorization);
        auto response = stack_->request(c.method, c.target, c.body, "", headers);
        EXPECT_EQ(response.status, c.status) << response.body;
        EXPECT_FALSE(response.header("location").has_value());
        if (!c.error.empty()) {
            EXPECT_NE(response.body.find(c.error), std::string::npos) << response.body;
        }
    }
    EXPECT_EQ(oauth_rows(), before);
    // The bad verifier attempt above did not spend the code (it was refused before the lookup).
    EXPECT_EQ(exchange(code).status, 200);
}

// A malformed authorization request id is refused by the route's path schema before any
// lookup, naming the parameter; a well-formed one that names nothing is still 404.
TEST_F(OidcHttp, MalformedConsentRequestIdsAre400AndChangeNothing) {
    std::int64_t before = oauth_rows();
    for (const std::string& id : {std::string("oar_x"), std::string("' OR 1=1 --"),
                                  "oar_" + std::string(26, 'u'), new_id("cli", 0)}) {
        SCOPED_TRACE(id);
        std::string target = "/api/v1/oauth2/requests/" + form_encode({{"", id}}).substr(1);
        auto read = stack_->request("GET", target, "", console_token_);
        EXPECT_EQ(read.status, 400) << read.body;
        EXPECT_NE(read.header("content-type").value_or("").find("application/problem+json"),
                  std::string::npos);
        EXPECT_NE(read.body.find(R"("parameter":"request_id")"), std::string::npos) << read.body;
        auto decide =
            stack_->request("POST", target + "/decision", R"({"approve":true})", console_token_);
        EXPECT_EQ(decide.status, 400) << decide.body;
    }
    EXPECT_EQ(
        stack_->request("GET", "/api/v1/oauth2/requests/" + new_id("oar", 0), "", console_token_)
            .status,
        404);
    EXPECT_EQ(oauth_rows(), before);
}

// An OAuth access token carries its grant as `sid`: revoking the grant (RFC 7009 with the refresh
// token) or the access token itself (by `jti`) stops it on /api/v1 at once, not only at UserInfo.
TEST_F(OidcHttp, RevokedGrantsAndAccessTokensStopOnTheApi) {
    auto tokens = exchange(query_value(approve("openid account.self"), "code"));
    ASSERT_EQ(tokens.status, 200) << tokens.body;
    std::string access = json_field(tokens.body, "access_token");
    ASSERT_EQ(stack_->request("GET", "/api/v1/me", "", access).status, 200);
    auto revoked =
        post_form("/oauth2/revoke",
                  form_encode({{"token", json_field(tokens.body, "refresh_token")}}), basic());
    ASSERT_EQ(revoked.status, 200) << revoked.body;
    auto refused = stack_->request("GET", "/api/v1/me", "", access);
    EXPECT_EQ(refused.status, 401) << refused.body;
    EXPECT_EQ(refused.header("content-type").value_or(""), "application/problem+json");

    auto second = exchange(query_value(approve("openid account.self"), "code"));
    ASSERT_EQ(second.status, 200) << second.body;
    std::string second_access = json_field(second.body, "access_token");
    ASSERT_EQ(stack_->request("GET", "/api/v1/me", "", second_access).status, 200);
    ASSERT_EQ(post_form("/oauth2/revoke", form_encode({{"token", second_access}}), basic()).status,
              200);
    EXPECT_EQ(stack_->request("GET", "/api/v1/me", "", second_access).status, 401);
}

// Forged and tampered authorization codes and refresh tokens, and ID token hints that are not
// this issuer's ID tokens: each refused with a clean 4xx, no redirect, nothing stored, and the
// grant the real tokens belong to lives on (no near miss counts as reuse).
TEST_F(OidcHttp, ForgedCodesRefreshTokensAndIdTokenHintsChangeNothing) {
    auto tokens = exchange(query_value(approve(), "code"));
    ASSERT_EQ(tokens.status, 200) << tokens.body;
    std::string id_token = json_field(tokens.body, "id_token");
    std::string refresh = json_field(tokens.body, "refresh_token");
    ASSERT_FALSE(id_token.empty());
    ASSERT_FALSE(refresh.empty());
    std::string code = query_value(approve(), "code");
    auto tamper = [](std::string token) {
        char& c = token[token.size() / 2];
        c = c == 'A' ? 'B' : 'A';
        return token;
    };
    auto code_form = [&](const std::string& value) {
        return form_encode({{"grant_type", "authorization_code"},
                            {"code", value},
                            {"redirect_uri", kRedirect},
                            {"code_verifier", kVerifier}});
    };
    auto refresh_form = [](const std::string& value) {
        return form_encode({{"grant_type", "refresh_token"}, {"refresh_token", value}});
    };
    std::string payload = id_token.substr(id_token.find('.') + 1);
    payload = payload.substr(0, payload.find('.'));
    std::string unsigned_id_token =
        crypto::base64url_encode(R"({"alg":"none","typ":"JWT"})") + "." + payload + ".";
    std::string signature_flipped = id_token;
    signature_flipped[signature_flipped.size() - 3] =
        signature_flipped[signature_flipped.size() - 3] == 'A' ? 'B' : 'A';
    auto logout = [](const std::string& hint) {
        return "/oauth2/logout?" +
               form_encode({{"id_token_hint", hint},
                            {"post_logout_redirect_uri", "https://rp.example.com/bye"}});
    };

    // Besides the rows oauth_rows() counts: live grants, unspent codes and refresh tokens.
    auto live_rows = [&] {
        return stack_->count(
            "SELECT (SELECT COUNT(*) FROM identity_oauth_grants WHERE revoked_at_ms IS NULL) * "
            "10000 + (SELECT COUNT(*) FROM identity_oauth_codes WHERE used_at_ms IS NULL) * 100 + "
            "(SELECT COUNT(*) FROM identity_oauth_refresh_tokens WHERE used_at_ms IS NULL)");
    };
    std::int64_t before = oauth_rows();
    std::int64_t live_before = live_rows();
    struct Case {
        std::string name;
        std::string method;
        std::string target;
        std::string form;
        int status;
        std::string error;
    };
    const std::vector<Case> cases = {
        {"code: tampered", "POST", "/oauth2/token", code_form(tamper(code)), 400, "invalid_grant"},
        {"code: forged", "POST", "/oauth2/token", code_form(std::string(43, 'A')), 400,
         "invalid_grant"},
        {"code: a refresh token", "POST", "/oauth2/token", code_form(refresh), 400,
         "invalid_grant"},
        {"refresh: tampered", "POST", "/oauth2/token", refresh_form(tamper(refresh)), 400,
         "invalid_grant"},
        {"refresh: forged", "POST", "/oauth2/token", refresh_form(std::string(43, 'A')), 400,
         "invalid_grant"},
        {"refresh: an authorization code", "POST", "/oauth2/token", refresh_form(code), 400,
         "invalid_grant"},
        {"logout: ID token with a flipped signature", "GET", logout(signature_flipped), "", 400,
         "id_token_hint"},
        {"logout: ID token re-signed with alg none", "GET", logout(unsigned_id_token), "", 400,
         "id_token_hint"},
        {"logout: the console's access token", "GET", logout(console_token_), "", 400,
         "id_token_hint"},
        // Over the hint's 8000 bytes, under the 16 KiB of headers the server reads.
        {"logout: oversized hint", "GET", logout(std::string(9000, 'A')), "", 400, "id_token_hint"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        HttpResponse response = c.method == "POST" ? post_form(c.target, c.form, basic())
                                                   : stack_->request(c.method, c.target);
        EXPECT_EQ(response.status, c.status) << response.body;
        EXPECT_NE(response.body.find(c.error), std::string::npos) << response.body;
        EXPECT_FALSE(response.header("location").has_value());
        EXPECT_EQ(response.body.find(refresh), std::string::npos) << "token echoed";
        // The token endpoint answers in RFC 6749's JSON; everything else in problem+json.
        EXPECT_EQ(response.header("content-type").value_or(""),
                  c.target == "/oauth2/token" ? "application/json" : "application/problem+json");
        EXPECT_EQ(oauth_rows(), before) << "the refusal changed data";
        EXPECT_EQ(live_rows(), live_before) << "the refusal spent or revoked something";
    }
    EXPECT_EQ(stack_->count_events("nimbus.identity.oauth.token.revoked"), 0);
    // The real code and refresh token still work: none of the near misses spent or revoked them.
    EXPECT_EQ(exchange(code).status, 200);
    auto refreshed = post_form("/oauth2/token", refresh_form(refresh), basic());
    EXPECT_EQ(refreshed.status, 200) << refreshed.body;
}

}  // namespace
}  // namespace nimbus::test
