// Identity over real sockets: bad input and forged tokens as a table (PocketBase's ApiScenario),
// then whole flows with mail delivered through a real SMTP server.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <map>
#include <thread>

#include <gtest/gtest.h>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "identity_env.hpp"

// The PostgreSQL build of this suite gets its own test names, so ctest keeps the two apart.
#ifdef NIMBUS_IDENTITY_TEST_POSTGRES
#define IdentityScenarios IdentityScenariosOnPostgres
#define IdentityFlows IdentityFlowsOnPostgres
#endif

namespace nimbus::test {
namespace {

constexpr const char* kPassword = "correct-Horse-battery-9";
constexpr const char* kNewPassword = "Tr0mbone-lantern-quiet";
constexpr std::int64_t kMinuteMs = 60'000;

std::string body(const boost::json::object& object) { return boost::json::serialize(object); }

std::string credentials(const std::string& email, const std::string& password) {
    return body({{"email", email}, {"password", password}});
}

/// Signs up through the API and verifies through the dev mailbox; returns the login answer.
HttpResponse sign_up_and_login(IdentityStack& stack, const std::string& email) {
    auto signed_up = stack.request("POST", "/api/v1/auth/signup", credentials(email, kPassword));
    EXPECT_EQ(signed_up.status, 202) << signed_up.body;
    std::string token;
    if (stack.smtp() != nullptr) {
        token = stack.smtp()->last_token(email, "verify-email");
    } else {
        auto mails = mail::read_dev_mailbox(stack.database(), email, 1);
        std::string text = mails && !mails->empty() ? mails->front().text : "";
        auto at = text.find("token=");
        token = at == std::string::npos ? "" : text.substr(at + 6, text.find('\n', at) - at - 6);
    }
    EXPECT_FALSE(token.empty());
    auto verified = stack.request("POST", "/api/v1/auth/verify-email", body({{"token", token}}));
    EXPECT_EQ(verified.status, 204) << verified.body;
    auto login = stack.request("POST", "/api/v1/auth/login", credentials(email, kPassword));
    EXPECT_EQ(login.status, 200) << login.body;
    return login;
}

std::string b64(std::string_view text) { return crypto::base64url_encode(text); }

/// Re-signs `token`'s header and payload with HMAC-SHA256 keyed by `secret` under `alg: HS256`
/// (the classic attack: the public key used as an HMAC secret).
std::string forge_hs256(const std::string& token, const std::string& kid,
                        const std::string& secret) {
    std::string payload = token.substr(token.find('.') + 1);
    payload = payload.substr(0, payload.find('.'));
    std::string input =
        b64(R"({"alg":"HS256","typ":"JWT","kid":")" + kid + R"("})") + "." + payload;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &length);
    return input + "." + b64(std::string_view(reinterpret_cast<const char*>(mac), length));
}

struct Scenario {
    std::string name;
    std::string method;
    std::string target;
    std::string body;
    /// A key of the token table ("access", "alg_none", ...) or empty for no credentials.
    std::string token;
    int expected_status = 200;
    std::vector<std::string> expected_body;
    /// Rows of the account tables change (otherwise the scenario must change nothing).
    bool changes = false;
};

class IdentityScenarios : public ::testing::Test {
protected:
    void SetUp() override {
        if (!backend_available()) GTEST_SKIP() << "no PostgreSQL test cluster";
        stack_ = std::make_unique<IdentityStack>(MailMode::dev_mailbox);
        auto login = sign_up_and_login(*stack_, "alice@example.com");
        tokens_["access"] = json_field(login.body, "access_token");
        const std::string& access = tokens_["access"];
        std::string header = access.substr(0, access.find('.'));
        std::string payload = access.substr(access.find('.') + 1);
        payload = payload.substr(0, payload.find('.'));
        std::string signature = access.substr(access.rfind('.') + 1);
        auto kid_at = stack_->service().jwks_json().find("\"kid\":\"") + 7;
        std::string jwks = stack_->service().jwks_json();
        std::string kid = jwks.substr(kid_at, jwks.find('"', kid_at) - kid_at);

        tokens_["alg_none"] = b64(R"({"alg":"none","typ":"JWT"})") + "." + payload + ".";
        tokens_["alg_none_kid"] =
            b64(R"({"alg":"none","kid":")" + kid + R"("})") + "." + payload + "." + signature;
        tokens_["hs256_jwks"] = forge_hs256(access, kid, jwks);
        tokens_["unknown_kid"] = b64(R"({"alg":"ES256","typ":"JWT","kid":"jwk_unknown"})") + "." +
                                 payload + "." + signature;
        std::string flipped = signature;
        flipped[4] = flipped[4] == 'A' ? 'B' : 'A';
        tokens_["bad_signature"] = header + "." + payload + "." + flipped;
        tokens_["tampered_payload"] =
            header + "." + b64(R"({"sub":"usr_01J00000000000000000000000"})") + "." + signature;
        tokens_["malformed"] = "not.a.jwt";

        auto wrong_audience = IdentityStack::settings();
        wrong_audience.audience = "billing";
        auto wrong_issuer = IdentityStack::settings();
        wrong_issuer.issuer = "https://evil.example";
        auto expired = IdentityStack::settings();
        expired.access_token_ttl_s = -120;
        for (auto& [name, settings] :
             std::map<std::string, identity::Settings>{{"wrong_audience", wrong_audience},
                                                       {"wrong_issuer", wrong_issuer},
                                                       {"expired", expired}}) {
            auto issued =
                stack_->other_service(settings)->login("alice@example.com", kPassword, {});
            ASSERT_TRUE(issued) << name;
            tokens_[name] = issued->access_token;
        }
    }

    std::int64_t state() {
        return stack_->count(
            "SELECT (SELECT COUNT(*) FROM identity_users) * 1000000 + "
            "(SELECT COUNT(*) FROM identity_sessions WHERE revoked_at_ms IS NULL) * 10000 + "
            "(SELECT COUNT(*) FROM identity_links WHERE used_at_ms IS NULL) * 100 + "
            "(SELECT COUNT(*) FROM identity_refresh_tokens WHERE used_at_ms IS NULL)");
    }

    std::unique_ptr<IdentityStack> stack_;
    std::map<std::string, std::string> tokens_;
};

const std::string kLongEmail = std::string(250, 'a') + "@example.com";
const std::string kLongPassword(1025, 'x');

const std::vector<Scenario> kScenarios = {
    // --- sign-up ---
    {"signup: not JSON", "POST", "/api/v1/auth/signup", "{nope", "", 400, {"invalid-json"}},
    {"signup: not an object", "POST", "/api/v1/auth/signup", "[]", "", 400, {"invalid-json"}},
    {"signup: missing fields",
     "POST",
     "/api/v1/auth/signup",
     "{}",
     "",
     400,
     {R"("pointer":"/email")", R"("pointer":"/password")"}},
    {"signup: wrong types",
     "POST",
     "/api/v1/auth/signup",
     R"({"email":1,"password":true})",
     "",
     400,
     {"must be a string"}},
    {"signup: malformed email",
     "POST",
     "/api/v1/auth/signup",
     credentials("not-an-email", kPassword),
     "",
     400,
     {R"("pointer":"/email")"}},
    {"signup: overlong email",
     "POST",
     "/api/v1/auth/signup",
     credentials(kLongEmail, kPassword),
     "",
     400,
     {R"("pointer":"/email")", "at most 254"}},
    {"signup: unicode look-alike domain",
     "POST",
     "/api/v1/auth/signup",
     credentials("bob@\xD0\xB0pple.com", kPassword),
     "",
     400,
     {"ASCII"}},
    {"signup: unicode look-alike local part",
     "POST",
     "/api/v1/auth/signup",
     credentials("b\xD0\xBE"
                 "b@example.com",
                 kPassword),
     "",
     400,
     {"ASCII"}},
    {"signup: header injection",
     "POST",
     "/api/v1/auth/signup",
     credentials("bob@example.com\r\nBcc: x@example.com", kPassword),
     "",
     400,
     {"/email"}},
    {"signup: short password",
     "POST",
     "/api/v1/auth/signup",
     credentials("bob@example.com", "short-pw1"),
     "",
     400,
     {R"("pointer":"/password")", "at least 12"}},
    {"signup: password over 1 KiB",
     "POST",
     "/api/v1/auth/signup",
     credentials("bob@example.com", kLongPassword),
     "",
     400,
     {"at most 1024 bytes"}},
    {"signup: dictionary password",
     "POST",
     "/api/v1/auth/signup",
     credentials("bob@example.com", "Password123456"),
     "",
     400,
     {"too weak"}},
    {"signup: overlong name",
     "POST",
     "/api/v1/auth/signup",
     body({{"email", "bob@example.com"}, {"password", kPassword}, {"name", std::string(101, 'n')}}),
     "",
     400,
     {R"("pointer":"/name")"}},
    {"signup: name with control characters",
     "POST",
     "/api/v1/auth/signup",
     body({{"email", "bob@example.com"}, {"password", kPassword}, {"name", "a\u202Eb"}}),
     "",
     400,
     {R"("pointer":"/name")"}},
    {"signup: duplicate email answers like a new one",
     "POST",
     "/api/v1/auth/signup",
     credentials("  ALICE@example.com", kNewPassword),
     "",
     202,
     {"verification_sent"}},
    // --- links ---
    {"verify-email: forged link",
     "POST",
     "/api/v1/auth/verify-email",
     body({{"token", "forged"}}),
     "",
     400,
     {R"("pointer":"/token")"}},
    {"verify-email: missing token",
     "POST",
     "/api/v1/auth/verify-email",
     "{}",
     "",
     400,
     {R"("pointer":"/token")"}},
    {"password reset: forged link",
     "POST",
     "/api/v1/auth/password/reset",
     body({{"token", "forged"}, {"password", kNewPassword}}),
     "",
     400,
     {R"("pointer":"/token")"}},
    {"password forgot: unknown email answers alike",
     "POST",
     "/api/v1/auth/password/forgot",
     body({{"email", "ghost@example.com"}}),
     "",
     202,
     {"reset_sent"}},
    {"password forgot: malformed email",
     "POST",
     "/api/v1/auth/password/forgot",
     body({{"email", "ghost"}}),
     "",
     400,
     {"/email"}},
    {"verify-email resend: unknown email answers alike",
     "POST",
     "/api/v1/auth/verify-email/resend",
     body({{"email", "ghost@example.com"}}),
     "",
     202,
     {"verification_sent", "If an account with this address needs verifying"}},
    {"verify-email resend: malformed email",
     "POST",
     "/api/v1/auth/verify-email/resend",
     body({{"email", "ghost"}}),
     "",
     400,
     {R"("pointer":"/email")"}},
    {"verify-email resend: overlong email",
     "POST",
     "/api/v1/auth/verify-email/resend",
     body({{"email", std::string(250, 'a') + "@example.com"}}),
     "",
     400,
     {R"("pointer":"/email")"}},
    {"verify-email resend: missing email",
     "POST",
     "/api/v1/auth/verify-email/resend",
     "{}",
     "",
     400,
     {R"("pointer":"/email")"}},
    {"verify-email resend: email not a string",
     "POST",
     "/api/v1/auth/verify-email/resend",
     R"({"email":42})",
     "",
     400,
     {R"("pointer":"/email")"}},
    {"verify-email resend: not JSON",
     "POST",
     "/api/v1/auth/verify-email/resend",
     "email=a@example.com",
     "",
     400,
     {"invalid-json"}},
    // --- login and refresh ---
    {"login: wrong password",
     "POST",
     "/api/v1/auth/login",
     credentials("alice@example.com", kNewPassword),
     "",
     401,
     {"the email or password is wrong"}},
    {"login: unknown email",
     "POST",
     "/api/v1/auth/login",
     credentials("nobody@example.com", kPassword),
     "",
     401,
     {"the email or password is wrong"}},
    {"login: password over 1 KiB",
     "POST",
     "/api/v1/auth/login",
     credentials("alice@example.com", kLongPassword),
     "",
     401,
     {"the email or password is wrong"}},
    {"refresh: forged token",
     "POST",
     "/api/v1/auth/refresh",
     body({{"refresh_token", "forged"}}),
     "",
     401,
     {"unauthenticated"}},
    {"logout: unknown token is fine",
     "POST",
     "/api/v1/auth/logout",
     body({{"refresh_token", "forged"}}),
     "",
     204,
     {}},
    // --- access tokens ---
    {"me: valid token",
     "GET",
     "/api/v1/me",
     "",
     "access",
     200,
     {"alice@example.com", R"("email_verified":true)"}},
    {"me: no credentials", "GET", "/api/v1/me", "", "", 401, {"unauthenticated"}},
    {"me: alg none", "GET", "/api/v1/me", "", "alg_none", 401, {"algorithm is not accepted"}},
    {"me: alg none with a kid and signature",
     "GET",
     "/api/v1/me",
     "",
     "alg_none_kid",
     401,
     {"algorithm is not accepted"}},
    {"me: HS256 keyed with the public JWKS",
     "GET",
     "/api/v1/me",
     "",
     "hs256_jwks",
     401,
     {"algorithm is not accepted"}},
    {"me: unknown kid", "GET", "/api/v1/me", "", "unknown_kid", 401, {"signing key is unknown"}},
    {"me: bad signature", "GET", "/api/v1/me", "", "bad_signature", 401, {"signature is invalid"}},
    {"me: tampered payload",
     "GET",
     "/api/v1/me",
     "",
     "tampered_payload",
     401,
     {"signature is invalid"}},
    {"me: wrong audience", "GET", "/api/v1/me", "", "wrong_audience", 401, {"audience"}},
    {"me: wrong issuer", "GET", "/api/v1/me", "", "wrong_issuer", 401, {"issuer"}},
    {"me: expired", "GET", "/api/v1/me", "", "expired", 401, {"expired"}},
    {"me: malformed", "GET", "/api/v1/me", "", "malformed", 401, {"malformed"}},
    {"me: patch overlong name",
     "PATCH",
     "/api/v1/me",
     body({{"name", std::string(101, 'x')}}),
     "access",
     400,
     {R"("pointer":"/name")"}},
    {"me: patch without a name", "PATCH", "/api/v1/me", "{}", "access", 400, {"/name"}},
    {"me: change password with a wrong current one",
     "POST",
     "/api/v1/me/password",
     body({{"current_password", kNewPassword}, {"new_password", kNewPassword}}),
     "access",
     400,
     {R"("pointer":"/current_password")"}},
    {"me: change to a weak password",
     "POST",
     "/api/v1/me/password",
     body({{"current_password", kPassword}, {"new_password", "aaaaaaaaaaaaaaaa"}}),
     "access",
     400,
     {R"("pointer":"/new_password")"}},
    {"me: revoke someone else's session",
     "DELETE",
     "/api/v1/me/sessions/ses_01J00000000000000000000000",
     "",
     "access",
     404,
     {}},
    {"me: revoke a malformed session id",
     "DELETE",
     "/api/v1/me/sessions/ses_1%27%20OR%20%271%27=%271",
     "",
     "access",
     400,
     {R"("type":"/problems/validation-failed")", R"("parameter":"session_id")"}},
    {"jwks: public keys only",
     "GET",
     "/.well-known/jwks.json",
     "",
     "",
     200,
     {R"("kty":"EC")", R"("crv":"P-256")", R"("alg":"ES256")"}},
};

TEST_F(IdentityScenarios, Table) {
    for (const auto& scenario : kScenarios) {
        SCOPED_TRACE(scenario.name);
        std::int64_t before = state();
        std::string bearer;
        if (!scenario.token.empty()) {
            ASSERT_TRUE(tokens_.contains(scenario.token)) << scenario.token;
            bearer = tokens_[scenario.token];
        }
        auto response = stack_->request(scenario.method, scenario.target, scenario.body, bearer);
        EXPECT_EQ(response.status, scenario.expected_status) << response.body;
        for (const auto& fragment : scenario.expected_body) {
            EXPECT_NE(response.body.find(fragment), std::string::npos)
                << "body lacks " << fragment << "\nbody: " << response.body;
        }
        if (response.status >= 400) {
            EXPECT_EQ(response.header("content-type"), "application/problem+json");
            EXPECT_EQ(response.body.find(kPassword), std::string::npos) << "secret echoed";
        }
        if (response.status == 401 && !scenario.token.empty()) {
            EXPECT_EQ(response.header("www-authenticate"), "Bearer error=\"invalid_token\"");
        }
        if (!scenario.changes) {
            EXPECT_EQ(state(), before) << "the scenario changed data";
        }
    }
    // Side effects: the duplicate sign-up and the failed logins left events, not accounts.
    EXPECT_EQ(stack_->count_events("nimbus.identity.user.created"), 1);
    EXPECT_EQ(stack_->count_events("nimbus.identity.signup.email_taken"), 1);
    EXPECT_EQ(stack_->count_events("nimbus.identity.login.failed"), 3);
}

TEST_F(IdentityScenarios, DevMailboxIsReadableFromLoopback) {
    auto response = stack_->request("GET", "/api/v1/dev/mailbox?to=alice@example.com");
    ASSERT_EQ(response.status, 200) << response.body;
    EXPECT_NE(response.body.find("Verify your email address"), std::string::npos);
    EXPECT_NE(response.body.find("verify-email?token="), std::string::npos);
    EXPECT_EQ(stack_->request("GET", "/api/v1/dev/mailbox?limit=0").status, 400);
}

class IdentityFlows : public ::testing::Test {
protected:
    void SetUp() override {
        if (!backend_available()) GTEST_SKIP() << "no PostgreSQL test cluster";
        stack_ = std::make_unique<IdentityStack>(MailMode::smtp);
    }
    std::unique_ptr<IdentityStack> stack_;
};

TEST_F(IdentityFlows, SessionsRotateAndReuseRevokesTheFamily) {
    auto login = sign_up_and_login(*stack_, "bob@example.com");
    std::string access = json_field(login.body, "access_token");
    std::string first_refresh = json_field(login.body, "refresh_token");
    EXPECT_NE(login.body.find(R"("token_type":"Bearer")"), std::string::npos);
    EXPECT_NE(login.body.find(R"("expires_in":900)"), std::string::npos);
    EXPECT_EQ(login.header("cache-control"), "no-store");

    auto rotated =
        stack_->request("POST", "/api/v1/auth/refresh", body({{"refresh_token", first_refresh}}));
    ASSERT_EQ(rotated.status, 200) << rotated.body;
    std::string second_refresh = json_field(rotated.body, "refresh_token");
    EXPECT_NE(second_refresh, first_refresh);

    auto reused =
        stack_->request("POST", "/api/v1/auth/refresh", body({{"refresh_token", first_refresh}}));
    EXPECT_EQ(reused.status, 401);
    EXPECT_EQ(
        stack_->request("POST", "/api/v1/auth/refresh", body({{"refresh_token", second_refresh}}))
            .status,
        401);
    EXPECT_EQ(stack_->count_events("nimbus.identity.refresh_token.reused"), 1);

    // Two more devices; list them, revoke one, log out of the other.
    auto laptop =
        stack_->request("POST", "/api/v1/auth/login", credentials("bob@example.com", kPassword), {},
                        {{"user-agent", "Mozilla/5.0 (Macintosh) Safari/605.1"}});
    auto phone =
        stack_->request("POST", "/api/v1/auth/login", credentials("bob@example.com", kPassword), {},
                        {{"user-agent", "Mozilla/5.0 (Linux; Android 14) Chrome/120"}});
    std::string laptop_access = json_field(laptop.body, "access_token");
    auto sessions = stack_->request("GET", "/api/v1/me/sessions", {}, laptop_access);
    ASSERT_EQ(sessions.status, 200) << sessions.body;
    EXPECT_NE(sessions.body.find("Safari on macOS"), std::string::npos) << sessions.body;
    EXPECT_NE(sessions.body.find("Chrome on Android"), std::string::npos) << sessions.body;
    EXPECT_NE(sessions.body.find(R"("current":true)"), std::string::npos);
    EXPECT_NE(sessions.body.find(R"("ip":"127.0.0.1")"), std::string::npos);

    auto phone_claims =
        stack_->service().verify_access_token(json_field(phone.body, "access_token"));
    ASSERT_TRUE(phone_claims);
    std::string phone_session = "/api/v1/me/sessions/" + phone_claims->session_id;
    EXPECT_EQ(stack_->request("DELETE", phone_session, {}, laptop_access).status, 204);
    EXPECT_EQ(stack_->request("DELETE", phone_session, {}, laptop_access).status, 404);
    EXPECT_EQ(stack_
                  ->request("POST", "/api/v1/auth/refresh",
                            body({{"refresh_token", json_field(phone.body, "refresh_token")}}))
                  .status,
              401);

    std::string laptop_refresh = json_field(laptop.body, "refresh_token");
    EXPECT_EQ(
        stack_->request("POST", "/api/v1/auth/logout", body({{"refresh_token", laptop_refresh}}))
            .status,
        204);
    EXPECT_EQ(
        stack_->request("POST", "/api/v1/auth/refresh", body({{"refresh_token", laptop_refresh}}))
            .status,
        401);
}

TEST_F(IdentityFlows, PasswordResetThroughSmtpRevokesSessions) {
    auto login = sign_up_and_login(*stack_, "carol@example.com");
    std::string refresh = json_field(login.body, "refresh_token");
    ASSERT_EQ(stack_
                  ->request("POST", "/api/v1/auth/password/forgot",
                            body({{"email", "Carol@Example.com"}}))
                  .status,
              202);
    std::string token = stack_->smtp()->last_token("carol@example.com", "reset-password");
    ASSERT_FALSE(token.empty());
    auto reset = stack_->request("POST", "/api/v1/auth/password/reset",
                                 body({{"token", token}, {"password", kNewPassword}}));
    ASSERT_EQ(reset.status, 204) << reset.body;
    EXPECT_EQ(
        stack_->request("POST", "/api/v1/auth/refresh", body({{"refresh_token", refresh}})).status,
        401);
    EXPECT_EQ(
        stack_->request("POST", "/api/v1/auth/login", credentials("carol@example.com", kPassword))
            .status,
        401);
    EXPECT_EQ(
        stack_
            ->request("POST", "/api/v1/auth/login", credentials("carol@example.com", kNewPassword))
            .status,
        200);
    auto used = stack_->request("POST", "/api/v1/auth/password/reset",
                                body({{"token", token}, {"password", kPassword}}));
    EXPECT_EQ(used.status, 400);

    // A link older than 30 minutes no longer works.
    ASSERT_EQ(stack_
                  ->request("POST", "/api/v1/auth/password/forgot",
                            body({{"email", "carol@example.com"}}))
                  .status,
              202);
    std::string late = stack_->smtp()->last_token("carol@example.com", "reset-password");
    ASSERT_NE(late, token);
    stack_->clock().advance_ms(31 * kMinuteMs);
    auto expired = stack_->request("POST", "/api/v1/auth/password/reset",
                                   body({{"token", late}, {"password", kPassword}}));
    EXPECT_EQ(expired.status, 400);
    EXPECT_EQ(stack_->count_events("nimbus.identity.password.reset"), 1);
}

TEST_F(IdentityFlows, ResentVerificationLinkVerifiesOnlyUnverifiedAccountsOncePerInterval) {
    auto resend = [&](const std::string& email) {
        return stack_->request("POST", "/api/v1/auth/verify-email/resend",
                               body({{"email", email}}));
    };
    auto signed_up =
        stack_->request("POST", "/api/v1/auth/signup", credentials("erin@example.com", kPassword));
    ASSERT_EQ(signed_up.status, 202) << signed_up.body;
    std::string first = stack_->smtp()->last_token("erin@example.com", "verify-email");
    ASSERT_FALSE(first.empty());
    std::size_t mails = stack_->smtp()->messages().size();

    // Within the interval of the sign-up mail: the same answer, no mail.
    auto early = resend("erin@example.com");
    ASSERT_EQ(early.status, 202) << early.body;
    EXPECT_EQ(stack_->smtp()->messages().size(), mails);

    stack_->clock().advance_ms(2 * kMinuteMs);
    auto sent = resend("Erin@Example.com");
    ASSERT_EQ(sent.status, 202) << sent.body;
    EXPECT_EQ(sent.body, early.body);
    std::string second = stack_->smtp()->last_token("erin@example.com", "verify-email");
    ASSERT_FALSE(second.empty());
    EXPECT_NE(second, first);
    mails = stack_->smtp()->messages().size();
    EXPECT_EQ(stack_->count_events("nimbus.identity.email.verification_resent"), 1);

    // A second request within the interval: no second mail.
    auto again = resend("erin@example.com");
    EXPECT_EQ(again.status, 202);
    EXPECT_EQ(again.body, early.body);
    EXPECT_EQ(stack_->smtp()->messages().size(), mails);

    // The earlier link was superseded; the new one verifies the account.
    EXPECT_EQ(stack_->request("POST", "/api/v1/auth/verify-email", body({{"token", first}})).status,
              400);
    auto verified = stack_->request("POST", "/api/v1/auth/verify-email", body({{"token", second}}));
    ASSERT_EQ(verified.status, 204) << verified.body;
    auto login =
        stack_->request("POST", "/api/v1/auth/login", credentials("erin@example.com", kPassword));
    ASSERT_EQ(login.status, 200) << login.body;
    auto me = stack_->request("GET", "/api/v1/me", {}, json_field(login.body, "access_token"));
    EXPECT_NE(me.body.find(R"("email_verified":true)"), std::string::npos) << me.body;

    // Verified and unknown addresses: the same answer, no mail, no event.
    stack_->clock().advance_ms(2 * kMinuteMs);
    for (const char* email : {"erin@example.com", "nobody@example.com"}) {
        auto answer = resend(email);
        EXPECT_EQ(answer.status, 202) << email;
        EXPECT_EQ(answer.body, early.body) << email;
    }
    EXPECT_EQ(stack_->smtp()->messages().size(), mails);
    EXPECT_EQ(stack_->count_events("nimbus.identity.email.verification_resent"), 1);
}

TEST_F(IdentityFlows, DuplicateSignUpMailsTheOwner) {
    sign_up_and_login(*stack_, "dave@example.com");
    std::size_t before = stack_->smtp()->messages().size();
    auto again = stack_->request("POST", "/api/v1/auth/signup",
                                 credentials("DAVE@example.com", kNewPassword));
    EXPECT_EQ(again.status, 202);
    bool notified = false;
    for (int attempt = 0; attempt < 100 && !notified; ++attempt) {
        auto messages = stack_->smtp()->messages();
        notified = messages.size() > before &&
                   messages.back().find("Sign-up attempt") != std::string::npos;
        if (!notified) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_TRUE(notified);
}

TEST_F(IdentityFlows, ProfilePasswordChangeAndAccountDeletion) {
    auto login = sign_up_and_login(*stack_, "erin@example.com");
    std::string access = json_field(login.body, "access_token");
    auto other =
        stack_->request("POST", "/api/v1/auth/login", credentials("erin@example.com", kPassword));
    auto renamed = stack_->request("PATCH", "/api/v1/me", body({{"name", " Erin "}}), access);
    ASSERT_EQ(renamed.status, 200) << renamed.body;
    EXPECT_NE(renamed.body.find(R"("name":"Erin")"), std::string::npos);

    auto changed = stack_->request(
        "POST", "/api/v1/me/password",
        body({{"current_password", kPassword}, {"new_password", kNewPassword}}), access);
    ASSERT_EQ(changed.status, 204) << changed.body;
    // This session survives, the other one does not.
    EXPECT_EQ(stack_
                  ->request("POST", "/api/v1/auth/refresh",
                            body({{"refresh_token", json_field(login.body, "refresh_token")}}))
                  .status,
              200);
    EXPECT_EQ(stack_
                  ->request("POST", "/api/v1/auth/refresh",
                            body({{"refresh_token", json_field(other.body, "refresh_token")}}))
                  .status,
              401);
    EXPECT_EQ(stack_->count_events("nimbus.identity.password.changed"), 1);

    EXPECT_EQ(stack_->request("DELETE", "/api/v1/me", {}, access).status, 204);
    // Deleting the account revoked its sessions: the token is refused before /me is reached.
    EXPECT_EQ(stack_->request("GET", "/api/v1/me", {}, access).status, 401);
    EXPECT_EQ(
        stack_->request("POST", "/api/v1/auth/login", credentials("erin@example.com", kNewPassword))
            .status,
        401);
    EXPECT_EQ(stack_->count("SELECT COUNT(*) FROM identity_sessions"), 0);
    EXPECT_EQ(stack_->count_events("nimbus.identity.user.deleted"), 1);
}

}  // namespace
}  // namespace nimbus::test
