// Revoked sessions stop their access tokens at once (docs/identity.md, "Revocation"), over real
// sockets on SQLite and on the PostgreSQL test cluster: logout, revoking one session, a password
// change, refresh-token reuse and account deletion each make the old access token answer 401
// problem+json on this node, and a second service on the same database refuses it after its next
// poll.

#include <chrono>
#include <thread>

#include <gtest/gtest.h>
#include <boost/json/serialize.hpp>

#include "identity_env.hpp"
#include "mail/mail.hpp"

// The PostgreSQL build of this suite gets its own test names, so ctest keeps the two apart.
#ifdef NIMBUS_IDENTITY_TEST_POSTGRES
#define Revocation RevocationOnPostgres
#endif

namespace nimbus::test {
namespace {

constexpr const char* kPassword = "correct-Horse-battery-9";
constexpr const char* kNewPassword = "Tr0mbone-lantern-quiet";
/// How long a second node may take to see a revocation before the test gives up: generous, so a
/// loaded machine does not fail it; the wait ends as soon as the condition holds.
constexpr auto kDeadline = std::chrono::seconds(20);
constexpr std::int64_t kFastPollMs = 50;

std::string body(const boost::json::object& object) { return boost::json::serialize(object); }

std::string credentials(const std::string& email, const std::string& password) {
    return body({{"email", email}, {"password", password}});
}

class Revocation : public ::testing::Test {
protected:
    void SetUp() override {
        if (!backend_available()) GTEST_SKIP() << "no PostgreSQL test cluster";
        stack_ = std::make_unique<IdentityStack>(MailMode::dev_mailbox);
    }

    /// Signs up, verifies through the dev mailbox and logs in; returns the login answer.
    HttpResponse sign_up_and_login(const std::string& email) {
        auto signed_up =
            stack_->request("POST", "/api/v1/auth/signup", credentials(email, kPassword));
        EXPECT_EQ(signed_up.status, 202) << signed_up.body;
        auto mails = mail::read_dev_mailbox(stack_->database(), email, 1);
        std::string text = mails && !mails->empty() ? mails->front().text : "";
        auto at = text.find("token=");
        std::string token =
            at == std::string::npos ? "" : text.substr(at + 6, text.find('\n', at) - at - 6);
        EXPECT_FALSE(token.empty());
        auto verified =
            stack_->request("POST", "/api/v1/auth/verify-email", body({{"token", token}}));
        EXPECT_EQ(verified.status, 204) << verified.body;
        return login(email);
    }

    HttpResponse login(const std::string& email, const std::string& password = kPassword) {
        auto answer = stack_->request("POST", "/api/v1/auth/login", credentials(email, password));
        EXPECT_EQ(answer.status, 200) << answer.body;
        return answer;
    }

    int me(const std::string& access) {
        return stack_->request("GET", "/api/v1/me", {}, access).status;
    }

    /// A refused token gets what any invalid token gets: 401 problem+json with a Bearer
    /// challenge.
    /// Logs the session of a sign-in answer out; the status.
    int logout(const HttpResponse& session) {
        return stack_
            ->request("POST", "/api/v1/auth/logout",
                      body({{"refresh_token", json_field(session.body, "refresh_token")}}))
            .status;
    }

    void expect_refused(const std::string& access) {
        auto answer = stack_->request("GET", "/api/v1/me", {}, access);
        EXPECT_EQ(answer.status, 401) << answer.body;
        EXPECT_EQ(answer.header("content-type"), "application/problem+json");
        EXPECT_EQ(answer.header("www-authenticate"), R"(Bearer error="invalid_token")");
        EXPECT_NE(answer.body.find("revoked"), std::string::npos) << answer.body;
    }

    std::unique_ptr<IdentityStack> stack_;
};

TEST_F(Revocation, LogoutStopsTheAccessTokenAtOnce) {
    auto session = sign_up_and_login("logout@example.com");
    std::string access = json_field(session.body, "access_token");
    // Verified and cached first: the cached verdict must not outlive the revocation.
    ASSERT_EQ(me(access), 200);
    ASSERT_EQ(me(access), 200);
    ASSERT_EQ(logout(session), 204);
    expect_refused(access);
}

TEST_F(Revocation, RevokingAnotherSessionStopsOnlyItsToken) {
    auto laptop = sign_up_and_login("two@example.com");
    auto phone = login("two@example.com");
    std::string laptop_access = json_field(laptop.body, "access_token");
    std::string phone_access = json_field(phone.body, "access_token");
    ASSERT_EQ(me(phone_access), 200);
    auto phone_claims = stack_->service().verify_access_token(phone_access);
    ASSERT_TRUE(phone_claims);
    ASSERT_EQ(stack_
                  ->request("DELETE", "/api/v1/me/sessions/" + phone_claims->session_id, {},
                            laptop_access)
                  .status,
              204);
    expect_refused(phone_access);
    EXPECT_EQ(me(laptop_access), 200);
}

TEST_F(Revocation, PasswordChangeStopsTheOtherSessions) {
    auto current = sign_up_and_login("pw@example.com");
    auto other = login("pw@example.com");
    std::string current_access = json_field(current.body, "access_token");
    std::string other_access = json_field(other.body, "access_token");
    ASSERT_EQ(me(other_access), 200);
    auto changed = stack_->request(
        "POST", "/api/v1/me/password",
        body({{"current_password", kPassword}, {"new_password", kNewPassword}}), current_access);
    ASSERT_EQ(changed.status, 204) << changed.body;
    expect_refused(other_access);
    EXPECT_EQ(me(current_access), 200);
}

TEST_F(Revocation, RefreshTokenReuseStopsTheFamilysAccessTokens) {
    auto session = sign_up_and_login("reuse@example.com");
    std::string first_refresh = json_field(session.body, "refresh_token");
    auto rotated =
        stack_->request("POST", "/api/v1/auth/refresh", body({{"refresh_token", first_refresh}}));
    ASSERT_EQ(rotated.status, 200) << rotated.body;
    std::string rotated_access = json_field(rotated.body, "access_token");
    ASSERT_EQ(me(rotated_access), 200);
    EXPECT_EQ(
        stack_->request("POST", "/api/v1/auth/refresh", body({{"refresh_token", first_refresh}}))
            .status,
        401);
    expect_refused(rotated_access);
    expect_refused(json_field(session.body, "access_token"));
}

TEST_F(Revocation, AccountDeletionStopsItsTokens) {
    auto session = sign_up_and_login("gone@example.com");
    auto other = login("gone@example.com");
    std::string access = json_field(session.body, "access_token");
    ASSERT_EQ(me(json_field(other.body, "access_token")), 200);
    ASSERT_EQ(stack_->request("DELETE", "/api/v1/me", {}, access).status, 204);
    expect_refused(access);
    expect_refused(json_field(other.body, "access_token"));
}

TEST_F(Revocation, ASecondNodeRefusesTheTokenAfterItsPoll) {
    identity::Settings settings = IdentityStack::settings();
    settings.revocation_poll_ms = kFastPollMs;
    auto other_node = stack_->other_service(settings);
    other_node->start_revocation_poll();

    auto session = sign_up_and_login("nodes@example.com");
    auto kept = login("nodes@example.com");
    std::string access = json_field(session.body, "access_token");
    ASSERT_TRUE(other_node->verify_access_token(access));
    ASSERT_EQ(logout(session), 204);
    expect_refused(access);
    auto deadline = std::chrono::steady_clock::now() + kDeadline;
    bool refused = false;
    while (!refused && std::chrono::steady_clock::now() < deadline) {
        auto verdict = other_node->verify_access_token(access);
        refused = !verdict && verdict.error().message.find("revoked") != std::string::npos;
        if (!refused) std::this_thread::sleep_for(std::chrono::milliseconds(kFastPollMs));
    }
    EXPECT_TRUE(refused) << "the second node still accepts the revoked session's token";
    // The other session of the same account is untouched there.
    EXPECT_TRUE(other_node->verify_access_token(json_field(kept.body, "access_token")));

    // A node started after the revocation refuses the token from its first request.
    auto late_node = stack_->other_service(IdentityStack::settings());
    auto late = late_node->verify_access_token(access);
    ASSERT_FALSE(late);
    EXPECT_NE(late.error().message.find("revoked"), std::string::npos) << late.error().message;
}

}  // namespace
}  // namespace nimbus::test
