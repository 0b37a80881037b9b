// Identity security over real sockets: the console's refresh cookie with its CSRF check,
// brute-force slowdown and lockout, TOTP second factor with recovery codes, change of email and
// signing-key rotation. Each bad input has its own case and is checked to change nothing.
#include <map>
#include <regex>

#include <gtest/gtest.h>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "identity/totp.hpp"
#include "identity_env.hpp"

// The PostgreSQL build of this suite gets its own test names, so ctest keeps the two apart.
#ifdef NIMBUS_IDENTITY_TEST_POSTGRES
#define ConsoleCookie ConsoleCookieOnPostgres
#define AccountSecurity AccountSecurityOnPostgres
#endif

namespace nimbus::test {
namespace {

constexpr const char* kPassword = "correct-Horse-battery-9";
constexpr const char* kNewPassword = "Tr0mbone-lantern-quiet";
constexpr std::int64_t kMinuteMs = 60'000;
constexpr std::int64_t kDayMs = 24 * 60 * kMinuteMs;

std::string body(const boost::json::object& object) { return boost::json::serialize(object); }

std::string credentials(const std::string& email, const std::string& password) {
    return body({{"email", email}, {"password", password}});
}

/// The token in the newest dev-mailbox message to `to` that links to `page`.
std::string mailed_token(IdentityStack& stack, const std::string& to, const std::string& page) {
    if (stack.smtp() != nullptr) return stack.smtp()->last_token(to, page);
    auto mails = mail::read_dev_mailbox(stack.database(), to, 10);
    if (!mails) return {};
    std::regex link(page + "\\?token=([A-Za-z0-9_-]+)");
    for (const auto& message : *mails) {  // newest first
        std::smatch match;
        if (std::regex_search(message.text, match, link)) return match[1];
    }
    return {};
}

/// Signs up and verifies `email` through the API.
void sign_up(IdentityStack& stack, const std::string& email) {
    auto signed_up = stack.request("POST", "/api/v1/auth/signup", credentials(email, kPassword));
    ASSERT_EQ(signed_up.status, 202) << signed_up.body;
    std::string token = mailed_token(stack, email, "verify-email");
    ASSERT_FALSE(token.empty());
    auto verified = stack.request("POST", "/api/v1/auth/verify-email", body({{"token", token}}));
    ASSERT_EQ(verified.status, 204) << verified.body;
}

/// Every Set-Cookie of a response, by cookie name.
std::map<std::string, std::string> set_cookies(const HttpResponse& response) {
    std::map<std::string, std::string> out;
    for (const auto& [name, value] : response.headers) {
        if (name == "set-cookie") out[value.substr(0, value.find('='))] = value;
    }
    return out;
}

/// The value part of a Set-Cookie header ("name=value; ...").
std::string cookie_value(const std::string& set_cookie) {
    std::size_t start = set_cookie.find('=') + 1;
    return set_cookie.substr(start, set_cookie.find(';') - start);
}

std::vector<std::pair<std::string, std::string>> cookie_headers(const std::string& refresh,
                                                                const std::string& csrf_cookie,
                                                                const std::string& csrf_header) {
    std::vector<std::pair<std::string, std::string>> headers;
    std::string cookie;
    if (!refresh.empty()) cookie += "nimbus_refresh=" + refresh;
    if (!csrf_cookie.empty())
        cookie += std::string(cookie.empty() ? "" : "; ") + "nimbus_csrf=" + csrf_cookie;
    if (!cookie.empty()) headers.emplace_back("cookie", "theme=dark; " + cookie);
    if (!csrf_header.empty()) headers.emplace_back("x-csrf-token", csrf_header);
    return headers;
}

class ConsoleCookie : public ::testing::Test {
protected:
    void SetUp() override {
        if (!backend_available()) GTEST_SKIP() << "no PostgreSQL test cluster";
        stack_ = std::make_unique<IdentityStack>(MailMode::dev_mailbox);
        sign_up(*stack_, "cookie@example.com");
    }

    HttpResponse cookie_login() {
        return stack_->request(
            "POST", "/api/v1/auth/login",
            body({{"email", "cookie@example.com"}, {"password", kPassword}, {"use_cookie", true}}));
    }

    std::int64_t unused_refresh_tokens() {
        return stack_->count(
            "SELECT COUNT(*) FROM identity_refresh_tokens WHERE used_at_ms IS NULL");
    }

    std::unique_ptr<IdentityStack> stack_;
};

TEST_F(ConsoleCookie, LoginSetsHttpOnlyRefreshAndReadableCsrfCookies) {
    auto login = cookie_login();
    ASSERT_EQ(login.status, 200) << login.body;
    EXPECT_EQ(login.body.find("refresh_token"), std::string::npos) << login.body;
    EXPECT_FALSE(json_field(login.body, "access_token").empty());
    auto cookies = set_cookies(login);
    ASSERT_TRUE(cookies.contains("nimbus_refresh"));
    ASSERT_TRUE(cookies.contains("nimbus_csrf"));
    const std::string& refresh = cookies["nimbus_refresh"];
    EXPECT_NE(refresh.find("; HttpOnly; SameSite=Strict; Path=/api/v1/auth; Max-Age=2592000"),
              std::string::npos)
        << refresh;
    const std::string& csrf = cookies["nimbus_csrf"];
    EXPECT_NE(csrf.find("; SameSite=Strict; Path=/; Max-Age=2592000"), std::string::npos) << csrf;
    EXPECT_EQ(csrf.find("HttpOnly"), std::string::npos) << csrf;
    // Plain HTTP here: Secure would make the browser drop the cookies.
    EXPECT_EQ(refresh.find("Secure"), std::string::npos);
    EXPECT_GE(cookie_value(refresh).size(), 43U);
    EXPECT_GE(cookie_value(csrf).size(), 43U);

    // Without use_cookie the body keeps the refresh token and no cookie is set.
    auto plain =
        stack_->request("POST", "/api/v1/auth/login", credentials("cookie@example.com", kPassword));
    ASSERT_EQ(plain.status, 200);
    EXPECT_FALSE(json_field(plain.body, "refresh_token").empty());
    EXPECT_TRUE(set_cookies(plain).empty());
}

TEST_F(ConsoleCookie, RefreshNeedsTheCsrfHeaderAndRotatesBothCookies) {
    auto cookies = set_cookies(cookie_login());
    std::string refresh = cookie_value(cookies["nimbus_refresh"]);
    std::string csrf = cookie_value(cookies["nimbus_csrf"]);

    struct Refusal {
        std::string name;
        std::vector<std::pair<std::string, std::string>> headers;
        std::string body;
        int status;
        std::string fragment;
    };
    const std::vector<Refusal> refusals = {
        {"no CSRF header", cookie_headers(refresh, csrf, ""), "{}", 403, "csrf-failed"},
        {"wrong CSRF header", cookie_headers(refresh, csrf, csrf + "x"), "{}", 403, "csrf-failed"},
        {"CSRF header without its cookie", cookie_headers(refresh, "", csrf), "", 403,
         "csrf-failed"},
        {"empty CSRF header", cookie_headers(refresh, csrf, ""), "", 403, "csrf-failed"},
        {"no cookie and no body token", cookie_headers("", csrf, csrf), "{}", 400,
         "/refresh_token"},
        {"body token of the wrong type", cookie_headers(refresh, csrf, csrf),
         R"({"refresh_token":7})", 400, "must be a string"},
        {"body not JSON", cookie_headers(refresh, csrf, csrf), "{nope", 400, "invalid-json"},
    };
    for (const auto& refusal : refusals) {
        SCOPED_TRACE(refusal.name);
        std::int64_t before = unused_refresh_tokens();
        auto headers = refusal.headers;
        if (!refusal.body.empty()) headers.emplace_back("content-type", "application/json");
        headers.emplace_back("connection", "close");
        Connection connection(stack_->port());
        auto response = connection.request("POST", "/api/v1/auth/refresh", headers, refusal.body);
        EXPECT_EQ(response.status, refusal.status) << response.body;
        EXPECT_EQ(response.header("content-type"), "application/problem+json");
        EXPECT_NE(response.body.find(refusal.fragment), std::string::npos) << response.body;
        EXPECT_EQ(response.body.find(refresh), std::string::npos) << "secret echoed";
        EXPECT_EQ(unused_refresh_tokens(), before) << "the refusal changed data";
        EXPECT_EQ(stack_->count_events("nimbus.identity.refresh_token.reused"), 0);
    }

    auto rotated = stack_->request("POST", "/api/v1/auth/refresh", "{}", {},
                                   cookie_headers(refresh, csrf, csrf));
    ASSERT_EQ(rotated.status, 200) << rotated.body;
    EXPECT_EQ(rotated.body.find("refresh_token"), std::string::npos);
    EXPECT_FALSE(json_field(rotated.body, "access_token").empty());
    auto next = set_cookies(rotated);
    ASSERT_TRUE(next.contains("nimbus_refresh") && next.contains("nimbus_csrf"));
    EXPECT_NE(cookie_value(next["nimbus_refresh"]), refresh);
    EXPECT_NE(cookie_value(next["nimbus_csrf"]), csrf);

    // An empty body works too (the console may send none).
    std::string refresh2 = cookie_value(next["nimbus_refresh"]);
    std::string csrf2 = cookie_value(next["nimbus_csrf"]);
    auto again = stack_->request("POST", "/api/v1/auth/refresh", "", {},
                                 cookie_headers(refresh2, csrf2, csrf2));
    ASSERT_EQ(again.status, 200) << again.body;

    // The spent cookie coming back is reuse: the session ends and the cookies are cleared.
    auto reused = stack_->request("POST", "/api/v1/auth/refresh", "{}", {},
                                  cookie_headers(refresh, csrf, csrf));
    EXPECT_EQ(reused.status, 401);
    auto cleared = set_cookies(reused);
    EXPECT_NE(cleared["nimbus_refresh"].find("Max-Age=0"), std::string::npos);
    EXPECT_EQ(stack_->count_events("nimbus.identity.refresh_token.reused"), 1);

    // A body token is used as before, without CSRF, even when cookies are present.
    auto login =
        stack_->request("POST", "/api/v1/auth/login", credentials("cookie@example.com", kPassword));
    auto by_body =
        stack_->request("POST", "/api/v1/auth/refresh",
                        body({{"refresh_token", json_field(login.body, "refresh_token")}}), {},
                        cookie_headers("forged", "a", "b"));
    EXPECT_EQ(by_body.status, 200) << by_body.body;
    EXPECT_FALSE(json_field(by_body.body, "refresh_token").empty());
}

TEST_F(ConsoleCookie, LogoutNeedsTheCsrfHeaderAndClearsTheCookies) {
    auto cookies = set_cookies(cookie_login());
    std::string refresh = cookie_value(cookies["nimbus_refresh"]);
    std::string csrf = cookie_value(cookies["nimbus_csrf"]);
    auto refused = stack_->request("POST", "/api/v1/auth/logout", "{}", {},
                                   cookie_headers(refresh, csrf, "forged"));
    EXPECT_EQ(refused.status, 403);
    EXPECT_NE(refused.body.find("csrf-failed"), std::string::npos);
    EXPECT_EQ(stack_->count("SELECT COUNT(*) FROM identity_sessions WHERE revoked_at_ms IS NULL"),
              1);

    auto out = stack_->request("POST", "/api/v1/auth/logout", "{}", {},
                               cookie_headers(refresh, csrf, csrf));
    ASSERT_EQ(out.status, 204) << out.body;
    auto cleared = set_cookies(out);
    EXPECT_NE(cleared["nimbus_refresh"].find("nimbus_refresh=; HttpOnly"), std::string::npos);
    EXPECT_NE(cleared["nimbus_refresh"].find("Max-Age=0"), std::string::npos);
    EXPECT_NE(cleared["nimbus_csrf"].find("Max-Age=0"), std::string::npos);
    EXPECT_EQ(stack_->count("SELECT COUNT(*) FROM identity_sessions WHERE revoked_at_ms IS NULL"),
              0);
    auto after = stack_->request("POST", "/api/v1/auth/refresh", "{}", {},
                                 cookie_headers(refresh, csrf, csrf));
    EXPECT_EQ(after.status, 401);
}

TEST_F(ConsoleCookie, UseCookieMustBeABoolean) {
    auto response = stack_->request(
        "POST", "/api/v1/auth/login",
        body({{"email", "cookie@example.com"}, {"password", kPassword}, {"use_cookie", "yes"}}));
    EXPECT_EQ(response.status, 400);
    EXPECT_NE(response.body.find(R"("pointer":"/use_cookie")"), std::string::npos);
    EXPECT_TRUE(set_cookies(response).empty());
    EXPECT_EQ(stack_->count("SELECT COUNT(*) FROM identity_sessions"), 0);
}

/// A problem body without the parts that differ per request (instance, request_id).
std::string comparable(const std::string& problem) {
    return std::regex_replace(problem, std::regex(R"re("(instance|request_id)":"[^"]*",?)re"), "");
}

class AccountSecurity : public ::testing::Test {
protected:
    void SetUp() override {
        if (!backend_available()) GTEST_SKIP() << "no PostgreSQL test cluster";
        stack_ = std::make_unique<IdentityStack>(MailMode::smtp);
    }

    HttpResponse login(const std::string& email, const std::string& password) {
        return stack_->request("POST", "/api/v1/auth/login", credentials(email, password));
    }

    std::string access_token(const std::string& email) {
        return json_field(login(email, kPassword).body, "access_token");
    }

    std::string code_now(const std::string& secret, std::int64_t offset_s = 0) {
        return identity::totp::code_at(secret, stack_->clock().now_ms() / 1000 + offset_s);
    }

    /// Enrols and confirms TOTP through the API; returns the raw secret and the recovery codes.
    std::pair<std::string, std::vector<std::string>> enable_totp(const std::string& access) {
        auto started = stack_->request("POST", "/api/v1/me/mfa/totp", "", access);
        EXPECT_EQ(started.status, 200) << started.body;
        std::string secret = decode_base32(json_field(started.body, "secret"));
        auto confirmed = stack_->request("POST", "/api/v1/me/mfa/totp/confirm",
                                         body({{"code", code_now(secret)}}), access);
        EXPECT_EQ(confirmed.status, 200) << confirmed.body;
        std::vector<std::string> codes;
        std::regex code("\"([0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4})\"");
        for (std::sregex_iterator it(confirmed.body.begin(), confirmed.body.end(), code), end;
             it != end; ++it) {
            codes.push_back((*it)[1]);
        }
        return {secret, codes};
    }

    std::int64_t state() {
        return stack_->count(
            "SELECT (SELECT COUNT(*) FROM identity_users) * 1000000 + "
            "(SELECT COUNT(*) FROM identity_sessions WHERE revoked_at_ms IS NULL) * 10000 + "
            "(SELECT COUNT(*) FROM identity_mfa_totp) * 1000 + "
            "(SELECT COUNT(*) FROM identity_mfa_recovery_codes WHERE used_at_ms IS NULL) * 10 + "
            "(SELECT COUNT(*) FROM identity_login_failures)");
    }

    std::unique_ptr<IdentityStack> stack_;
};

TEST_F(AccountSecurity, LockedUnknownAndWrongLookTheSameAndAResetUnlocks) {
    sign_up(*stack_, "lock@example.com");
    auto wrong = login("lock@example.com", kNewPassword);
    auto unknown = login("nobody@example.com", kPassword);
    EXPECT_EQ(wrong.status, 401);
    EXPECT_EQ(comparable(wrong.body), comparable(unknown.body));
    for (int i = 1; i < 10; ++i) ASSERT_EQ(login("lock@example.com", kNewPassword).status, 401);
    EXPECT_EQ(stack_->count_events("nimbus.identity.login.locked"), 1);
    auto locked = login("lock@example.com", kPassword);
    EXPECT_EQ(locked.status, 401);
    EXPECT_EQ(comparable(locked.body), comparable(wrong.body));
    EXPECT_EQ(locked.header("content-type"), "application/problem+json");

    ASSERT_EQ(
        stack_
            ->request("POST", "/api/v1/auth/password/forgot", body({{"email", "lock@example.com"}}))
            .status,
        202);
    std::string token = stack_->smtp()->last_token("lock@example.com", "reset-password");
    ASSERT_EQ(stack_
                  ->request("POST", "/api/v1/auth/password/reset",
                            body({{"token", token}, {"password", kNewPassword}}))
                  .status,
              204);
    EXPECT_EQ(login("lock@example.com", kNewPassword).status, 200);
}

TEST_F(AccountSecurity, TotpEnrolmentLoginAndItsBadInputs) {
    sign_up(*stack_, "mfa@example.com");
    std::string access = access_token("mfa@example.com");
    auto status = stack_->request("GET", "/api/v1/me/mfa", "", access);
    ASSERT_EQ(status.status, 200);
    EXPECT_NE(status.body.find(R"("enabled":false)"), std::string::npos) << status.body;

    auto started = stack_->request("POST", "/api/v1/me/mfa/totp", "", access);
    ASSERT_EQ(started.status, 200) << started.body;
    EXPECT_TRUE(json_field(started.body, "otpauth_uri").starts_with("otpauth://totp/Nimbus:"));
    EXPECT_TRUE(json_field(started.body, "qr_svg").starts_with("<svg"));
    EXPECT_EQ(started.header("cache-control"), "no-store");
    std::string secret = decode_base32(json_field(started.body, "secret"));

    struct Case {
        std::string name;
        std::string method;
        std::string target;
        std::string body;
        bool authenticated;
        int status;
        std::string fragment;
    };
    const std::vector<Case> enrolment_cases = {
        {"confirm without a token", "POST", "/api/v1/me/mfa/totp/confirm",
         body({{"code", "123456"}}), false, 401, ""},
        {"confirm: code missing", "POST", "/api/v1/me/mfa/totp/confirm", "{}", true, 400,
         R"("pointer":"/code")"},
        {"confirm: code is a number", "POST", "/api/v1/me/mfa/totp/confirm", R"({"code":123456})",
         true, 400, "must be a string"},
        {"confirm: five digits", "POST", "/api/v1/me/mfa/totp/confirm", body({{"code", "12345"}}),
         true, 400, "6-digit"},
        {"confirm: not numeric", "POST", "/api/v1/me/mfa/totp/confirm", body({{"code", "12a456"}}),
         true, 400, "6-digit"},
        {"confirm: oversized", "POST", "/api/v1/me/mfa/totp/confirm",
         body({{"code", std::string(5000, '1')}}), true, 400, "too long"},
        {"confirm: not JSON", "POST", "/api/v1/me/mfa/totp/confirm", "{nope", true, 400,
         "invalid-json"},
        {"disable: nothing enabled yet and no proof", "DELETE", "/api/v1/me/mfa/totp", "[]", true,
         400, "invalid-json"},
        {"regenerate before TOTP is on", "POST", "/api/v1/me/mfa/recovery-codes",
         body({{"password", kPassword}}), true, 409, ""},
    };
    for (const auto& c : enrolment_cases) {
        SCOPED_TRACE(c.name);
        std::int64_t before = state();
        auto response = stack_->request(c.method, c.target, c.body, c.authenticated ? access : "");
        EXPECT_EQ(response.status, c.status) << response.body;
        EXPECT_EQ(response.header("content-type"), "application/problem+json");
        EXPECT_NE(response.body.find(c.fragment), std::string::npos) << response.body;
        EXPECT_EQ(state(), before) << "the refusal changed data";
    }

    auto confirmed = stack_->request("POST", "/api/v1/me/mfa/totp/confirm",
                                     body({{"code", code_now(secret)}}), access);
    ASSERT_EQ(confirmed.status, 200) << confirmed.body;
    EXPECT_NE(confirmed.body.find("recovery_codes"), std::string::npos);
    EXPECT_EQ(stack_->count_events("nimbus.identity.mfa.enabled"), 1);

    // Login now takes two steps.
    auto first = login("mfa@example.com", kPassword);
    ASSERT_EQ(first.status, 200) << first.body;
    EXPECT_NE(first.body.find(R"("mfa_required":true)"), std::string::npos);
    EXPECT_EQ(json_field(first.body, "access_token"), "");
    std::string mfa_token = json_field(first.body, "mfa_token");
    ASSERT_FALSE(mfa_token.empty());

    const std::vector<Case> login_cases = {
        {"mfa: code missing", "POST", "/api/v1/auth/login/mfa", body({{"mfa_token", mfa_token}}),
         false, 400, R"("pointer":"/code")"},
        {"mfa: token missing", "POST", "/api/v1/auth/login/mfa", body({{"code", "123456"}}), false,
         400, R"("pointer":"/mfa_token")"},
        {"mfa: oversized code", "POST", "/api/v1/auth/login/mfa",
         body({{"mfa_token", mfa_token}, {"code", std::string(100, '7')}}), false, 400, "too long"},
        {"mfa: non-numeric code", "POST", "/api/v1/auth/login/mfa",
         body({{"mfa_token", mfa_token}, {"code", "12345!"}}), false, 400, "recovery code"},
        {"mfa: code as a number", "POST", "/api/v1/auth/login/mfa",
         R"({"mfa_token":")" + mfa_token + R"(","code":123456})", false, 400, "must be a string"},
        {"mfa: forged token", "POST", "/api/v1/auth/login/mfa",
         body({{"mfa_token", "forged"}, {"code", "123456"}}), false, 401, "unauthenticated"},
        {"mfa: use_cookie not a boolean", "POST", "/api/v1/auth/login/mfa",
         body({{"mfa_token", mfa_token}, {"code", "123456"}, {"use_cookie", 1}}), false, 400,
         "/use_cookie"},
    };
    for (const auto& c : login_cases) {
        SCOPED_TRACE(c.name);
        std::int64_t before = state();
        auto response = stack_->request(c.method, c.target, c.body);
        EXPECT_EQ(response.status, c.status) << response.body;
        EXPECT_EQ(response.header("content-type"), "application/problem+json");
        EXPECT_NE(response.body.find(c.fragment), std::string::npos) << response.body;
        EXPECT_EQ(state(), before) << "the refusal changed data";
    }

    // A wrong code is refused and counted toward the lockout.
    std::string wrong = code_now(secret) == "000000" ? "111111" : "000000";
    auto refused = stack_->request("POST", "/api/v1/auth/login/mfa",
                                   body({{"mfa_token", mfa_token}, {"code", wrong}}));
    EXPECT_EQ(refused.status, 401);
    EXPECT_EQ(stack_->count("SELECT MAX(failures) FROM identity_login_failures"), 1);

    stack_->clock().advance_ms(30'000);  // the confirming code is spent; take the next one
    auto done = stack_->request(
        "POST", "/api/v1/auth/login/mfa",
        body({{"mfa_token", mfa_token}, {"code", code_now(secret)}, {"use_cookie", true}}));
    ASSERT_EQ(done.status, 200) << done.body;
    EXPECT_FALSE(json_field(done.body, "access_token").empty());
    EXPECT_EQ(done.body.find("refresh_token"), std::string::npos);
    EXPECT_TRUE(set_cookies(done).contains("nimbus_refresh"));
    // Single use.
    auto again = stack_->request("POST", "/api/v1/auth/login/mfa",
                                 body({{"mfa_token", mfa_token}, {"code", code_now(secret)}}));
    EXPECT_EQ(again.status, 401);

    // Recovery codes: regenerate with a code, turn off with the password.
    stack_->clock().advance_ms(30'000);
    auto renewed = stack_->request("POST", "/api/v1/me/mfa/recovery-codes",
                                   body({{"code", code_now(secret)}}), access);
    ASSERT_EQ(renewed.status, 200) << renewed.body;
    EXPECT_EQ(stack_->count_events("nimbus.identity.mfa.recovery_codes_regenerated"), 1);
    auto both = stack_->request("DELETE", "/api/v1/me/mfa/totp",
                                body({{"code", "123456"}, {"password", kPassword}}), access);
    EXPECT_EQ(both.status, 400);
    auto bad_password = stack_->request("DELETE", "/api/v1/me/mfa/totp",
                                        body({{"password", kNewPassword}}), access);
    EXPECT_EQ(bad_password.status, 400);
    EXPECT_NE(bad_password.body.find(R"("pointer":"/password")"), std::string::npos);
    auto off =
        stack_->request("DELETE", "/api/v1/me/mfa/totp", body({{"password", kPassword}}), access);
    ASSERT_EQ(off.status, 204) << off.body;
    EXPECT_EQ(stack_->count_events("nimbus.identity.mfa.disabled"), 1);
    EXPECT_FALSE(json_field(login("mfa@example.com", kPassword).body, "access_token").empty());
}

TEST_F(AccountSecurity, RecoveryCodeCompletesALoginOnce) {
    sign_up(*stack_, "recover@example.com");
    auto [secret, codes] = enable_totp(access_token("recover@example.com"));
    ASSERT_EQ(codes.size(), 10U);
    std::string mfa_token = json_field(login("recover@example.com", kPassword).body, "mfa_token");
    auto done = stack_->request("POST", "/api/v1/auth/login/mfa",
                                body({{"mfa_token", mfa_token}, {"code", codes[0]}}));
    ASSERT_EQ(done.status, 200) << done.body;
    EXPECT_FALSE(json_field(done.body, "refresh_token").empty());
    std::string next = json_field(login("recover@example.com", kPassword).body, "mfa_token");
    EXPECT_EQ(stack_
                  ->request("POST", "/api/v1/auth/login/mfa",
                            body({{"mfa_token", next}, {"code", codes[0]}}))
                  .status,
              401);
}

TEST_F(AccountSecurity, ChangeOfEmailThroughSmtp) {
    sign_up(*stack_, "before@example.com");
    sign_up(*stack_, "other@example.com");
    std::string access = access_token("before@example.com");
    struct Case {
        std::string name;
        std::string body;
        int status;
        std::string fragment;
    };
    const std::vector<Case> cases = {
        {"no password", body({{"new_email", "after@example.com"}}), 400,
         R"("pointer":"/password")"},
        {"no new email", body({{"password", kPassword}}), 400, R"("pointer":"/new_email")"},
        {"malformed email", body({{"new_email", "after"}, {"password", kPassword}}), 400,
         R"("pointer":"/new_email")"},
        {"look-alike email", body({{"new_email", "a@\xD0\xB0pple.com"}, {"password", kPassword}}),
         400, R"("pointer":"/new_email")"},
        {"wrong password", body({{"new_email", "after@example.com"}, {"password", kNewPassword}}),
         400, "is wrong"},
        {"same email", body({{"new_email", "BEFORE@example.com"}, {"password", kPassword}}), 400,
         R"("pointer":"/new_email")"},
        {"email not a string", R"({"new_email":["x"],"password":"y"})", 400, "must be a string"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        auto response = stack_->request("POST", "/api/v1/me/email", c.body, access);
        EXPECT_EQ(response.status, c.status) << response.body;
        EXPECT_NE(response.body.find(c.fragment), std::string::npos) << response.body;
        EXPECT_EQ(stack_->count_events("nimbus.identity.email.change_requested"), 0);
    }
    EXPECT_EQ(stack_
                  ->request("POST", "/api/v1/me/email",
                            body({{"new_email", "x@example.com"}, {"password", kPassword}}))
                  .status,
              401);

    auto taken = stack_->request(
        "POST", "/api/v1/me/email",
        body({{"new_email", "other@example.com"}, {"password", kPassword}}), access);
    auto requested = stack_->request(
        "POST", "/api/v1/me/email",
        body({{"new_email", "after@example.com"}, {"password", kPassword}}), access);
    ASSERT_EQ(requested.status, 202) << requested.body;
    EXPECT_EQ(taken.status, 202);
    EXPECT_EQ(comparable(taken.body), comparable(requested.body));
    std::string token = stack_->smtp()->last_token("after@example.com", "verify-email");
    ASSERT_FALSE(token.empty());
    EXPECT_EQ(login("before@example.com", kPassword).status, 200);  // nothing changed yet
    ASSERT_EQ(stack_->request("POST", "/api/v1/auth/verify-email", body({{"token", token}})).status,
              204);
    EXPECT_EQ(login("before@example.com", kPassword).status, 401);
    EXPECT_EQ(login("after@example.com", kPassword).status, 200);
    auto me = stack_->request("GET", "/api/v1/me", "", access);
    EXPECT_NE(me.body.find(R"("email":"after@example.com")"), std::string::npos) << me.body;
    EXPECT_EQ(stack_->count_events("nimbus.identity.email.changed"), 1);
    EXPECT_EQ(stack_->request("POST", "/api/v1/auth/verify-email", body({{"token", token}})).status,
              400);
}

TEST_F(AccountSecurity, JwksPublishesARotatedKeyBeforeItSigns) {
    auto kids = [&] {
        auto jwks = stack_->request("GET", "/.well-known/jwks.json");
        std::vector<std::string> out;
        std::regex kid("\"kid\":\"(jwk_[0-9A-Z]+)\"");
        for (std::sregex_iterator it(jwks.body.begin(), jwks.body.end(), kid), end; it != end;
             ++it) {
            out.push_back((*it)[1]);
        }
        return out;
    };
    ASSERT_EQ(kids().size(), 1U);
    stack_->clock().advance_ms(30 * kDayMs);
    ASSERT_TRUE(stack_->service().maintain_signing_keys());
    EXPECT_EQ(kids().size(), 2U);
    EXPECT_EQ(stack_->count_events("nimbus.identity.signing_key.rotated"), 1);
    stack_->clock().advance_ms(60 * kMinuteMs);
    ASSERT_TRUE(stack_->service().maintain_signing_keys());
    EXPECT_EQ(kids().size(), 1U);
    sign_up(*stack_, "keys@example.com");
    std::string access = access_token("keys@example.com");
    EXPECT_EQ(stack_->request("GET", "/api/v1/me", "", access).status, 200);
}

}  // namespace
}  // namespace nimbus::test
