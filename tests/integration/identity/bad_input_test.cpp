// The bad input of the identity issue that needs more than one request to set up: look-alike
// addresses next to a real account, overlong passwords on the reset and change routes, spent,
// expired, forged and cross-purpose links, and tampered refresh and MFA tokens. Each case expects
// a 4xx problem+json that names what is wrong, and compares every account row before and after
// (not only counts), so a refused request that still touched a name, a password hash, a link or a
// token fails here; where it matters a later request shows the old state still works.
#include <regex>

#include <gtest/gtest.h>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "core/crypto.hpp"
#include "identity/totp.hpp"
#include "identity_env.hpp"

// The PostgreSQL build of this suite gets its own test names, so ctest keeps the two apart.
#ifdef NIMBUS_IDENTITY_TEST_POSTGRES
#define IdentityBadInput IdentityBadInputOnPostgres
#endif

namespace nimbus::test {
namespace {

constexpr const char* kPassword = "correct-Horse-battery-9";
constexpr const char* kNewPassword = "Tr0mbone-lantern-quiet";
constexpr const char* kOtherPassword = "Quartz-meadow-violin-42";
constexpr std::size_t kOverPasswordLimit = 1025;  // one byte over the 1 KiB limit
constexpr std::int64_t kMinuteMs = 60'000;
constexpr std::int64_t kDayMs = 24 * 60 * kMinuteMs;

std::string body(const boost::json::object& object) { return boost::json::serialize(object); }

std::string credentials(const std::string& email, const std::string& password) {
    return body({{"email", email}, {"password", password}});
}

/// `token` with one character changed, keeping its length and alphabet.
std::string tampered(std::string token) {
    char& c = token[token.size() / 2];
    c = c == 'A' ? 'B' : 'A';
    return token;
}

class IdentityBadInput : public ::testing::Test {
protected:
    void SetUp() override {
        if (!backend_available()) GTEST_SKIP() << "no PostgreSQL test cluster";
        stack_ = std::make_unique<IdentityStack>(MailMode::smtp);
    }

    HttpResponse post(const std::string& path, const std::string& json,
                      const std::string& bearer = {}) {
        return stack_->request("POST", path, json, bearer);
    }

    HttpResponse login(const std::string& email, const std::string& password) {
        return post("/api/v1/auth/login", credentials(email, password));
    }

    /// Signs up and verifies `email` through the API and the SMTP sink.
    void sign_up(const std::string& email) {
        auto signed_up = post("/api/v1/auth/signup", credentials(email, kPassword));
        ASSERT_EQ(signed_up.status, 202) << signed_up.body;
        std::string token = stack_->smtp()->last_token(email, "verify-email");
        ASSERT_FALSE(token.empty());
        auto verified = post("/api/v1/auth/verify-email", body({{"token", token}}));
        ASSERT_EQ(verified.status, 204) << verified.body;
    }

    /// Every row of the account tables, as text: two equal snapshots mean nothing changed.
    std::string snapshot() {
        std::string out;
        for (const char* table :
             {"identity_users", "identity_sessions", "identity_refresh_tokens", "identity_links",
              "identity_mfa_totp", "identity_mfa_recovery_codes", "identity_mfa_challenges"}) {
            auto rows =
                stack_->database().query(std::string("SELECT * FROM ") + table + " ORDER BY 1");
            if (!rows) {
                ADD_FAILURE() << table << ": " << rows.error().message;  // else equal errors pass
                return {};
            }
            out += std::string(table) + ":\n" + rows_text(*rows);
        }
        return out;
    }

    /// A refusal users can act on: the status, problem+json, the field or reason named, and no
    /// secret of the request echoed.
    static void expect_problem(const HttpResponse& response, int status,
                               const std::string& fragment) {
        test::expect_problem(response, status, fragment);
        EXPECT_EQ(response.body.find(kPassword), std::string::npos) << "secret echoed";
    }

    std::unique_ptr<IdentityStack> stack_;
};

struct Refusal {
    std::string name;
    std::string method;
    std::string path;
    std::string body;
    int status;
    std::string fragment;
};

// Look-alikes of an existing address: Cyrillic 'а' (U+0430) for Latin 'a', fullwidth 'ａ'
// (U+FF41) and '＠' (U+FF20), zero-width joiner (U+200D) and space (U+200B). None may create a
// second account that looks like alice's, reach alice's account, or mail her a link.
TEST_F(IdentityBadInput, LookAlikeAddressesAreRefusedAndReachNoAccount) {
    sign_up("alice@example.com");
    const std::vector<std::pair<std::string, std::string>> look_alikes = {
        {"Cyrillic a", "\xD0\xB0lice@example.com"},
        {"Cyrillic a in the domain", "alice@ex\xD0\xB0mple.com"},
        {"fullwidth a", "\xEF\xBD\x81lice@example.com"},
        {"fullwidth at sign",
         "alice\xEF\xBC\xA0"
         "example.com"},
        {"zero-width joiner", "al\xE2\x80\x8Dice@example.com"},
        {"zero-width space", "alice@example.com\xE2\x80\x8B"},
    };
    std::string before = snapshot();
    for (const auto& [name, email] : look_alikes) {
        SCOPED_TRACE(name);
        expect_problem(post("/api/v1/auth/signup", credentials(email, kNewPassword)), 400,
                       R"("pointer":"/email")");
        expect_problem(post("/api/v1/auth/password/forgot", body({{"email", email}})), 400,
                       R"("pointer":"/email")");
        expect_problem(post("/api/v1/auth/verify-email/resend", body({{"email", email}})), 400,
                       R"("pointer":"/email")");
        // Login answers as for any wrong address, and never with alice's tokens.
        auto signed_in = login(email, kPassword);
        EXPECT_EQ(signed_in.status, 401) << signed_in.body;
        EXPECT_EQ(signed_in.header("content-type"), "application/problem+json");
        EXPECT_TRUE(json_field(signed_in.body, "access_token").empty());
    }
    EXPECT_EQ(snapshot(), before) << "a look-alike changed data";
    EXPECT_EQ(stack_->count("SELECT COUNT(*) FROM identity_users"), 1);
    EXPECT_EQ(stack_->count_events("nimbus.identity.signup.email_taken"), 0);
    EXPECT_EQ(login("alice@example.com", kPassword).status, 200);
}

TEST_F(IdentityBadInput, MalformedNamesLeaveTheProfileAsItWas) {
    sign_up("nora@example.com");
    std::string access = json_field(login("nora@example.com", kPassword).body, "access_token");
    ASSERT_EQ(stack_->request("PATCH", "/api/v1/me", body({{"name", "Nora"}}), access).status, 200);
    const std::vector<std::pair<std::string, std::string>> names = {
        {"overlong", body({{"name", std::string(101, 'n')}})},
        {"control character", R"({"name":"No\u0007ra"})"},
        {"right-to-left override", R"({"name":"No\u202Era"})"},
        {"not a string", R"({"name":5})"},
        {"a list", R"({"name":["Nora"]})"},
    };
    std::string before = snapshot();
    for (const auto& [name, json] : names) {
        SCOPED_TRACE(name);
        expect_problem(stack_->request("PATCH", "/api/v1/me", json, access), 400,
                       R"("pointer":"/name")");
        EXPECT_EQ(snapshot(), before) << "the refusal changed data";
    }
    auto me = stack_->request("GET", "/api/v1/me", "", access);
    EXPECT_EQ(json_field(me.body, "name"), "Nora") << me.body;
}

// A sign-up with a taken address (in any case or padding, verified or not) answers exactly as a
// new one, and changes neither the account's password nor its name nor its links.
TEST_F(IdentityBadInput, DuplicateSignUpsChangeNoAccount) {
    sign_up("alice@example.com");
    std::string access = json_field(login("alice@example.com", kPassword).body, "access_token");
    ASSERT_EQ(stack_->request("PATCH", "/api/v1/me", body({{"name", "Alice"}}), access).status,
              200);
    ASSERT_EQ(post("/api/v1/auth/signup", credentials("bob@example.com", kPassword)).status, 202);
    std::string bob_link = stack_->smtp()->last_token("bob@example.com", "verify-email");
    ASSERT_FALSE(bob_link.empty());
    auto fresh = post("/api/v1/auth/signup", credentials("fresh@example.com", kPassword));
    ASSERT_EQ(fresh.status, 202);

    std::string before = snapshot();
    for (const char* email : {"alice@example.com", "ALICE@example.com", "  alice@Example.COM ",
                              "bob@example.com", "BOB@example.com"}) {
        SCOPED_TRACE(email);
        auto again =
            post("/api/v1/auth/signup",
                 body({{"email", email}, {"password", kNewPassword}, {"name", "Mallory"}}));
        EXPECT_EQ(again.status, 202) << again.body;
        EXPECT_EQ(again.body, fresh.body) << "the answer reveals the address is taken";
        EXPECT_EQ(snapshot(), before) << "a duplicate sign-up changed an account";
    }
    EXPECT_EQ(login("alice@example.com", kNewPassword).status, 401);
    EXPECT_EQ(login("alice@example.com", kPassword).status, 200);
    auto me = stack_->request("GET", "/api/v1/me", "", access);
    EXPECT_EQ(json_field(me.body, "name"), "Alice") << me.body;
    // Bob's own link still verifies his account, with his own password.
    ASSERT_EQ(post("/api/v1/auth/verify-email", body({{"token", bob_link}})).status, 204);
    EXPECT_EQ(login("bob@example.com", kNewPassword).status, 401);
    EXPECT_EQ(login("bob@example.com", kPassword).status, 200);
}

// The console's cookie refresh and logout with a missing, wrong, oversized or cookie-less CSRF
// token: 403 problem+json, the session and its refresh token untouched, no cookie cleared; the
// real pair works afterwards.
TEST_F(IdentityBadInput, CsrfRefusalsEndNoSessionAndSpendNoToken) {
    sign_up("cookie@example.com");
    auto signed_in = post(
        "/api/v1/auth/login",
        body({{"email", "cookie@example.com"}, {"password", kPassword}, {"use_cookie", true}}));
    ASSERT_EQ(signed_in.status, 200) << signed_in.body;
    std::string refresh;
    std::string csrf;
    for (const auto& [name, value] : signed_in.headers) {
        if (name != "set-cookie") continue;
        std::string pair = value.substr(0, value.find(';'));
        std::string cookie_value = pair.substr(pair.find('=') + 1);
        if (pair.starts_with("nimbus_refresh=")) refresh = cookie_value;
        if (pair.starts_with("nimbus_csrf=")) csrf = cookie_value;
    }
    ASSERT_FALSE(refresh.empty());
    ASSERT_FALSE(csrf.empty());
    auto send = [&](const std::string& path, const std::string& cookie, const std::string* header) {
        std::vector<std::pair<std::string, std::string>> headers = {{"cookie", cookie},
                                                                    {"connection", "close"}};
        if (header != nullptr) headers.emplace_back("x-csrf-token", *header);
        Connection connection(stack_->port());
        return connection.request("POST", path, headers, "");
    };
    const std::string both = "nimbus_refresh=" + refresh + "; nimbus_csrf=" + csrf;
    const std::string wrong = tampered(csrf);
    const std::string oversized(8 * 1024, 'c');
    const std::string non_ascii = csrf.substr(0, csrf.size() - 2) + "\xC3\xA9";
    struct Case {
        std::string name;
        std::string cookie;
        const std::string* header;
    };
    const std::vector<Case> cases = {
        {"no header", both, nullptr},
        {"wrong header", both, &wrong},
        {"oversized header", both, &oversized},
        {"non-ASCII header", both, &non_ascii},
        {"header without its cookie", "nimbus_refresh=" + refresh, &csrf},
        {"cookie and header both forged", "nimbus_refresh=" + refresh + "; nimbus_csrf=" + wrong,
         &oversized},
    };
    std::string before = snapshot();
    for (const char* path : {"/api/v1/auth/refresh", "/api/v1/auth/logout"}) {
        for (const auto& c : cases) {
            SCOPED_TRACE(std::string(path) + ": " + c.name);
            auto response = send(path, c.cookie, c.header);
            expect_problem(response, 403, "csrf-failed");
            EXPECT_EQ(response.body.find(refresh), std::string::npos) << "token echoed";
            EXPECT_FALSE(response.header("set-cookie").has_value()) << "cookies changed";
            EXPECT_EQ(snapshot(), before) << "the refusal changed data";
        }
    }
    auto rotated = send("/api/v1/auth/refresh", both, &csrf);
    EXPECT_EQ(rotated.status, 200) << rotated.body;
}

// Authorization headers no client should send: other schemes, empty or padded bearers, JWTs with
// the wrong number of parts, bad base64, a payload that is not JSON, a huge header segment. Each
// is 401 problem+json with WWW-Authenticate, never a 500, and reaches no handler.
TEST_F(IdentityBadInput, HostileAuthorizationHeadersAre401) {
    sign_up("auth@example.com");
    std::string access = json_field(login("auth@example.com", kPassword).body, "access_token");
    ASSERT_EQ(stack_->request("GET", "/api/v1/me", "", access).status, 200);
    std::string header = access.substr(0, access.find('.'));
    std::string rest = access.substr(access.find('.'));
    auto b64 = [](std::string_view text) { return crypto::base64url_encode(text); };
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"basic scheme", "Basic " + b64("auth@example.com:" + std::string(kPassword))},
        {"bearer without a token", "Bearer "},
        {"bearer with spaces only", "Bearer      "},
        {"two parts", "Bearer " + access.substr(0, access.rfind('.'))},
        {"four parts", "Bearer " + access + ".extra"},
        {"not base64url", "Bearer " + header + ".!!!." + "***"},
        {"payload not JSON",
         "Bearer " + header + "." + b64("not json") + access.substr(access.rfind('.'))},
        {"payload a JSON list",
         "Bearer " + header + "." + b64("[1,2]") + access.substr(access.rfind('.'))},
        {"header not JSON", "Bearer " + b64("{\"alg\":") + rest},
        {"huge header segment",
         "Bearer " + b64(R"({"alg":"ES256","kid":")" + std::string(6000, 'k') + R"("})") + rest},
        {"token followed by junk", "Bearer " + access + " junk"},
    };
    std::string before = snapshot();
    for (const auto& [name, authorization] : cases) {
        SCOPED_TRACE(name);
        Connection connection(stack_->port());
        auto response = connection.request(
            "GET", "/api/v1/me", {{"authorization", authorization}, {"connection", "close"}}, "");
        EXPECT_EQ(response.status, 401) << response.body;
        EXPECT_EQ(response.header("content-type"), "application/problem+json") << response.body;
        EXPECT_EQ(response.body.find("auth@example.com"), std::string::npos) << "reached /me";
        EXPECT_EQ(response.body.find(kPassword), std::string::npos) << "secret echoed";
        EXPECT_EQ(snapshot(), before);
    }
    // Control characters make the header line itself malformed: the HTTP layer answers 400.
    Connection connection(stack_->port());
    auto malformed = connection.request(
        "GET", "/api/v1/me",
        {{"authorization", "Bearer " + header + "\x01\x02" + rest}, {"connection", "close"}}, "");
    EXPECT_EQ(malformed.status, 400) << malformed.body;
    EXPECT_EQ(malformed.header("content-type"), "application/problem+json") << malformed.body;
    EXPECT_EQ(snapshot(), before);
}

TEST_F(IdentityBadInput, PasswordsOverOneKibibyteChangeNothing) {
    sign_up("long@example.com");
    const std::string long_password(kOverPasswordLimit, 'x');
    std::string access = json_field(login("long@example.com", kPassword).body, "access_token");
    ASSERT_EQ(post("/api/v1/auth/password/forgot", body({{"email", "long@example.com"}})).status,
              202);
    std::string reset = stack_->smtp()->last_token("long@example.com", "reset-password");
    ASSERT_FALSE(reset.empty());

    std::string before = snapshot();
    const std::vector<Refusal> refusals = {
        {"reset to an overlong password", "POST", "/api/v1/auth/password/reset",
         body({{"token", reset}, {"password", long_password}}), 400, "at most 1024 bytes"},
        {"change to an overlong password", "POST", "/api/v1/me/password",
         body({{"current_password", kPassword}, {"new_password", long_password}}), 400,
         R"("pointer":"/new_password")"},
        {"change with an overlong current password", "POST", "/api/v1/me/password",
         body({{"current_password", long_password}, {"new_password", kNewPassword}}), 400,
         R"("pointer":"/current_password")"},
        {"sign-up with an overlong password", "POST", "/api/v1/auth/signup",
         credentials("long2@example.com", long_password), 400, R"("pointer":"/password")"},
    };
    for (const auto& refusal : refusals) {
        SCOPED_TRACE(refusal.name);
        auto response = stack_->request(refusal.method, refusal.path, refusal.body, access);
        expect_problem(response, refusal.status, refusal.fragment);
        EXPECT_EQ(response.body.find(long_password), std::string::npos) << "input echoed";
        EXPECT_EQ(snapshot(), before) << "the refusal changed data";
    }
    // The password is the old one, and the refused reset did not spend its link.
    EXPECT_EQ(login("long@example.com", kPassword).status, 200);
    auto used =
        post("/api/v1/auth/password/reset", body({{"token", reset}, {"password", kNewPassword}}));
    EXPECT_EQ(used.status, 204) << used.body;
}

TEST_F(IdentityBadInput, SpentExpiredForgedAndMisusedLinksChangeNothing) {
    // Alice: verified, with a spent verification link and a spent reset link.
    auto signed_up = post("/api/v1/auth/signup", credentials("alice@example.com", kPassword));
    ASSERT_EQ(signed_up.status, 202);
    std::string spent_verify = stack_->smtp()->last_token("alice@example.com", "verify-email");
    ASSERT_EQ(post("/api/v1/auth/verify-email", body({{"token", spent_verify}})).status, 204);
    ASSERT_EQ(post("/api/v1/auth/password/forgot", body({{"email", "alice@example.com"}})).status,
              202);
    std::string spent_reset = stack_->smtp()->last_token("alice@example.com", "reset-password");
    ASSERT_EQ(post("/api/v1/auth/password/reset",
                   body({{"token", spent_reset}, {"password", kNewPassword}}))
                  .status,
              204);
    // Bob: signed up, not verified; his verification link is still good (and must stay so).
    ASSERT_EQ(post("/api/v1/auth/signup", credentials("bob@example.com", kPassword)).status, 202);
    std::string bob_verify = stack_->smtp()->last_token("bob@example.com", "verify-email");
    ASSERT_FALSE(bob_verify.empty());
    // Carol: a reset link that will expire, and a verification link that will expire.
    ASSERT_EQ(post("/api/v1/auth/signup", credentials("carol@example.com", kPassword)).status, 202);
    std::string carol_verify = stack_->smtp()->last_token("carol@example.com", "verify-email");
    ASSERT_FALSE(carol_verify.empty());

    ASSERT_EQ(post("/api/v1/auth/password/forgot", body({{"email", "carol@example.com"}})).status,
              202);
    std::string carol_reset = stack_->smtp()->last_token("carol@example.com", "reset-password");
    ASSERT_FALSE(carol_reset.empty());

    const std::string forged(43, 'A');  // the shape of a real token
    auto reset_body = [](const std::string& token) {
        return body({{"token", token}, {"password", kOtherPassword}});
    };
    std::vector<Refusal> refusals = {
        {"verify: spent link", "POST", "/api/v1/auth/verify-email", body({{"token", spent_verify}}),
         400, R"("pointer":"/token")"},
        {"verify: forged link", "POST", "/api/v1/auth/verify-email", body({{"token", forged}}), 400,
         R"("pointer":"/token")"},
        {"verify: tampered link", "POST", "/api/v1/auth/verify-email",
         body({{"token", tampered(bob_verify)}}), 400, R"("pointer":"/token")"},
        {"verify: oversized token", "POST", "/api/v1/auth/verify-email",
         body({{"token", std::string(5000, 'A')}}), 400, R"("pointer":"/token")"},
        {"verify: a live reset link", "POST", "/api/v1/auth/verify-email",
         body({{"token", carol_reset}}), 400, R"("pointer":"/token")"},
        {"reset: spent link", "POST", "/api/v1/auth/password/reset", reset_body(spent_reset), 400,
         R"("pointer":"/token")"},
        {"reset: forged link", "POST", "/api/v1/auth/password/reset", reset_body(forged), 400,
         R"("pointer":"/token")"},
        {"reset: a live verification link", "POST", "/api/v1/auth/password/reset",
         reset_body(bob_verify), 400, R"("pointer":"/token")"},
        {"reset: token not a string", "POST", "/api/v1/auth/password/reset",
         R"({"token":["x"],"password":"Quartz-meadow-violin-42"})", 400, "must be a string"},
    };
    auto check_all = [&](const std::vector<Refusal>& cases) {
        std::string before = snapshot();
        for (const auto& refusal : cases) {
            SCOPED_TRACE(refusal.name);
            expect_problem(stack_->request(refusal.method, refusal.path, refusal.body),
                           refusal.status, refusal.fragment);
            EXPECT_EQ(snapshot(), before) << "the refusal changed data";
        }
    };
    check_all(refusals);
    // Bob's real link was neither spent nor broken by its tampered copy.
    auto bob = post("/api/v1/auth/verify-email", body({{"token", bob_verify}}));
    EXPECT_EQ(bob.status, 204) << bob.body;

    // Expired: carol's reset link after 31 minutes, her verification link after a day.
    stack_->clock().advance_ms(31 * kMinuteMs);
    check_all({{"reset: expired link", "POST", "/api/v1/auth/password/reset",
                reset_body(carol_reset), 400, R"("pointer":"/token")"}});
    stack_->clock().advance_ms(kDayMs);
    check_all({{"verify: expired link", "POST", "/api/v1/auth/verify-email",
                body({{"token", carol_verify}}), 400, R"("pointer":"/token")"}});

    // What users rely on afterwards: alice's password is the one she reset to, carol's is her
    // own, and none of the refused attempts set kOtherPassword anywhere.
    EXPECT_EQ(login("alice@example.com", kNewPassword).status, 200);
    EXPECT_EQ(login("alice@example.com", kOtherPassword).status, 401);
    EXPECT_EQ(login("carol@example.com", kOtherPassword).status, 401);
    EXPECT_EQ(stack_->count_events("nimbus.identity.password.reset"), 1);
}

TEST_F(IdentityBadInput, TamperedRefreshTokensAreRefusedWithoutEndingTheSession) {
    sign_up("rita@example.com");
    auto signed_in = login("rita@example.com", kPassword);
    ASSERT_EQ(signed_in.status, 200);
    std::string refresh = json_field(signed_in.body, "refresh_token");
    ASSERT_FALSE(refresh.empty());

    std::string before = snapshot();
    const std::vector<Refusal> refusals = {
        {"tampered", "POST", "/api/v1/auth/refresh", body({{"refresh_token", tampered(refresh)}}),
         401, "unauthenticated"},
        {"truncated", "POST", "/api/v1/auth/refresh",
         body({{"refresh_token", refresh.substr(0, refresh.size() - 1)}}), 401, "unauthenticated"},
        {"extended", "POST", "/api/v1/auth/refresh", body({{"refresh_token", refresh + "A"}}), 401,
         "unauthenticated"},
        {"oversized", "POST", "/api/v1/auth/refresh",
         body({{"refresh_token", std::string(8000, 'A')}}), 401, "unauthenticated"},
        {"not a string", "POST", "/api/v1/auth/refresh", R"({"refresh_token":{"a":1}})", 400,
         "must be a string"},
        {"empty", "POST", "/api/v1/auth/refresh", body({{"refresh_token", ""}}), 401,
         "the refresh token is invalid"},
    };
    for (const auto& refusal : refusals) {
        SCOPED_TRACE(refusal.name);
        auto response = stack_->request(refusal.method, refusal.path, refusal.body);
        expect_problem(response, refusal.status, refusal.fragment);
        EXPECT_EQ(response.body.find(refresh), std::string::npos) << "token echoed";
        EXPECT_EQ(snapshot(), before) << "the refusal changed data";
    }
    // A near miss is not reuse: the session lives on and its real token still rotates.
    EXPECT_EQ(stack_->count_events("nimbus.identity.refresh_token.reused"), 0);
    auto rotated = post("/api/v1/auth/refresh", body({{"refresh_token", refresh}}));
    EXPECT_EQ(rotated.status, 200) << rotated.body;
}

TEST_F(IdentityBadInput, TamperedExpiredMfaTokensAndOversizedCodesChangeNothing) {
    sign_up("mfa@example.com");
    std::string access = json_field(login("mfa@example.com", kPassword).body, "access_token");
    auto started = post("/api/v1/me/mfa/totp", "", access);
    ASSERT_EQ(started.status, 200) << started.body;
    std::string secret = decode_base32(json_field(started.body, "secret"));
    auto code_now = [&] {
        return identity::totp::code_at(secret, stack_->clock().now_ms() / 1000);
    };
    ASSERT_EQ(post("/api/v1/me/mfa/totp/confirm", body({{"code", code_now()}}), access).status,
              200);
    stack_->clock().advance_ms(30'000);  // the confirming code is spent; take the next one
    std::string mfa_token = json_field(login("mfa@example.com", kPassword).body, "mfa_token");
    ASSERT_FALSE(mfa_token.empty());

    std::string before = snapshot();
    const std::string huge_code(5000, '1');
    const std::vector<Refusal> refusals = {
        {"login: tampered MFA token", "POST", "/api/v1/auth/login/mfa",
         body({{"mfa_token", tampered(mfa_token)}, {"code", code_now()}}), 401, "unauthenticated"},
        {"login: oversized MFA token", "POST", "/api/v1/auth/login/mfa",
         body({{"mfa_token", std::string(8000, 'A')}, {"code", code_now()}}), 401,
         "unauthenticated"},
        {"login: oversized code", "POST", "/api/v1/auth/login/mfa",
         body({{"mfa_token", mfa_token}, {"code", huge_code}}), 400, "too long"},
        {"regenerate codes: oversized code", "POST", "/api/v1/me/mfa/recovery-codes",
         body({{"code", huge_code}}), 400, R"("pointer":"/code")"},
        {"turn off: oversized code", "DELETE", "/api/v1/me/mfa/totp", body({{"code", huge_code}}),
         400, R"("pointer":"/code")"},
        {"turn off: overlong password", "DELETE", "/api/v1/me/mfa/totp",
         body({{"password", std::string(kOverPasswordLimit, 'p')}}), 400,
         R"("pointer":"/password")"},
    };
    for (const auto& refusal : refusals) {
        SCOPED_TRACE(refusal.name);
        auto response = stack_->request(refusal.method, refusal.path, refusal.body, access);
        expect_problem(response, refusal.status, refusal.fragment);
        EXPECT_EQ(response.body.find(huge_code), std::string::npos) << "input echoed";
        EXPECT_EQ(snapshot(), before) << "the refusal changed data";
    }
    EXPECT_EQ(stack_->count_events("nimbus.identity.mfa.disabled"), 0);
    EXPECT_EQ(stack_->count_events("nimbus.identity.mfa.recovery_codes_regenerated"), 0);

    // An MFA token past its five minutes is refused even with the right code.
    stack_->clock().advance_ms(6 * kMinuteMs);
    std::string late_before = snapshot();
    expect_problem(
        post("/api/v1/auth/login/mfa", body({{"mfa_token", mfa_token}, {"code", code_now()}})), 401,
        "unauthenticated");
    EXPECT_EQ(snapshot(), late_before);
    // A fresh one works: the refusals above neither locked the account nor spent the factor.
    std::string fresh = json_field(login("mfa@example.com", kPassword).body, "mfa_token");
    auto done = post("/api/v1/auth/login/mfa", body({{"mfa_token", fresh}, {"code", code_now()}}));
    EXPECT_EQ(done.status, 200) << done.body;
}

// Bodies no schema can describe: nesting past any sane depth, invalid UTF-8, NUL bytes, numbers
// out of range, trailing garbage, the wrong content type, a body over the route's limit. Each is
// refused before the sign-up handler runs: no account, link or mail.
TEST_F(IdentityBadInput, HostileJsonBodiesAreRefusedBeforeAnyHandler) {
    const std::string deep = std::string(5000, '[') + std::string(5000, ']');
    const std::string password = std::string(R"("password":")") + kNewPassword + "\"";
    struct Case {
        std::string name;
        std::string body;
        std::string content_type;
        int status;
        std::string fragment;
    };
    const std::vector<Case> cases = {
        {"nested five thousand deep", R"({"email":)" + deep + "," + password + "}",
         "application/json", 400, "invalid-json"},
        {"invalid UTF-8", "{\"email\":\"bob\xFF@example.com\"," + password + "}",
         "application/json", 400, "invalid-json"},
        {"overlong UTF-8 encoding of '@'",
         "{\"email\":\"bob\xC1\x80"
         "example.com\"," +
             password + "}",
         "application/json", 400, "invalid-json"},
        {"escaped NUL", R"({"email":"bob\u0000@example.com",)" + password + "}", "application/json",
         400, R"("pointer":"/email")"},
        {"number out of range", R"({"email":"bob@example.com","password":1e999})",
         "application/json", 400, ""},
        {"trailing garbage", R"({"email":"bob@example.com",)" + password + "} trailing",
         "application/json", 400, "invalid-json"},
        {"two documents", R"({"email":"bob@example.com",)" + password + "}{}", "application/json",
         400, "invalid-json"},
        {"empty body", "", "application/json", 400, ""},
        {"form instead of JSON", "email=bob%40example.com&password=x",
         "application/x-www-form-urlencoded", 415, ""},
        {"over the body limit",
         R"({"email":"bob@example.com",)" + password + R"(,"name":")" +
             std::string(2 * 1024 * 1024, 'n') + "\"}",
         "application/json", 413, ""},
    };
    std::string before = snapshot();
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        Connection connection(stack_->port());
        auto response =
            connection.request("POST", "/api/v1/auth/signup",
                               {{"content-type", c.content_type}, {"connection", "close"}}, c.body);
        expect_problem(response, c.status, c.fragment);
        EXPECT_EQ(snapshot(), before) << "the refusal changed data";
    }
    EXPECT_EQ(stack_->count("SELECT COUNT(*) FROM identity_users"), 0);
    EXPECT_EQ(stack_->count_events("nimbus.identity.user.created"), 0);
}

}  // namespace
}  // namespace nimbus::test
