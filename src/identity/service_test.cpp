// The identity service against a real SQLite database in a temporary directory, a manual clock
// and a mailer that records what it would send.
#include <gtest/gtest.h>

#include "identity/service_fixture.hpp"

namespace nimbus::identity {
namespace {

using namespace testing;  // the fixture's constants and fast_settings()

class IdentityServiceTest : public ServiceFixture {};

TEST_F(IdentityServiceTest, SignUpStoresAHashAndMailsASingleUseVerificationLink) {
    ASSERT_TRUE(service_->sign_up({" Alice@Example.com ", kPassword, "Alice"}));
    auto rows = database_->query("SELECT id, email, password_hash FROM identity_users");
    ASSERT_TRUE(rows);
    ASSERT_EQ(rows->size(), 1U);
    EXPECT_EQ(rows->front().get_text(1), "alice@example.com");
    EXPECT_TRUE(rows->front().get_text(2).starts_with("$argon2id$"));
    EXPECT_EQ(count_events("nimbus.identity.user.created"), 1);

    std::string token = mailer_.last_token("alice@example.com");
    ASSERT_FALSE(token.empty());
    // Only the hash of the link's token is stored.
    EXPECT_EQ(count("SELECT COUNT(*) FROM identity_links WHERE token_hash = '" +
                    crypto::sha256_hex(token) + "'"),
              1);
    auto user = service_->get_user(rows->front().get_text(0));
    ASSERT_TRUE(user);
    EXPECT_FALSE(user->email_verified);
    ASSERT_TRUE(service_->verify_email(token));
    EXPECT_TRUE(service_->get_user(user->id)->email_verified);
    EXPECT_EQ(count_events("nimbus.identity.email.verified"), 1);

    auto again = service_->verify_email(token);
    ASSERT_FALSE(again);
    EXPECT_TRUE(again.error().message.starts_with("token: "));
    EXPECT_FALSE(service_->verify_email("forged-token"));
}

TEST_F(IdentityServiceTest, VerificationLinksExpire) {
    ASSERT_TRUE(service_->sign_up({"late@example.com", kPassword, ""}));
    clock_.advance_ms(25 * 60 * kMinuteMs);
    EXPECT_FALSE(service_->verify_email(mailer_.last_token("late@example.com")));
}

TEST_F(IdentityServiceTest, ResentVerificationLinkVerifiesAndSupersedesTheEarlierOne) {
    ASSERT_TRUE(service_->sign_up({"carol@example.com", kPassword, ""}));
    std::string first = mailer_.last_token("carol@example.com");
    // Sign-up's mail counts: a resend within the interval sends nothing and succeeds alike.
    ASSERT_TRUE(service_->resend_verification("carol@example.com", {"203.0.113.7", ""}));
    EXPECT_EQ(mailer_.sent().size(), 1U);
    clock_.advance_ms(2 * kMinuteMs);
    ASSERT_TRUE(service_->resend_verification(" CAROL@example.com ", {"203.0.113.7", ""}));
    ASSERT_EQ(mailer_.sent().size(), 2U);
    EXPECT_EQ(mailer_.sent().back().subject, "Verify your email address");
    std::string second = mailer_.last_token("carol@example.com");
    ASSERT_FALSE(second.empty());
    EXPECT_NE(second, first);
    EXPECT_EQ(count_events("nimbus.identity.email.verification_resent"), 1);
    // A second request within the interval: no second mail.
    ASSERT_TRUE(service_->resend_verification("carol@example.com", {}));
    EXPECT_EQ(mailer_.sent().size(), 2U);

    EXPECT_FALSE(service_->verify_email(first));  // superseded by the new link
    ASSERT_TRUE(service_->verify_email(second));
    auto rows = database_->query("SELECT id FROM identity_users WHERE email = 'carol@example.com'");
    ASSERT_TRUE(rows);
    EXPECT_TRUE(service_->get_user(rows->front().get_text(0))->email_verified);
}

TEST_F(IdentityServiceTest, ResendVerificationMailsNothingForUnknownOrVerifiedAccounts) {
    create_user("dave@example.com");
    std::size_t mails_before = mailer_.sent().size();
    clock_.advance_ms(2 * kMinuteMs);
    EXPECT_TRUE(service_->resend_verification("dave@example.com", {}));
    EXPECT_TRUE(service_->resend_verification("ghost@example.com", {}));
    EXPECT_EQ(mailer_.sent().size(), mails_before);
    EXPECT_EQ(count_events("nimbus.identity.email.verification_resent"), 0);
    auto bad = service_->resend_verification("not-an-email", {});
    ASSERT_FALSE(bad);
    EXPECT_TRUE(bad.error().message.starts_with("email: "));
}

TEST_F(IdentityServiceTest, DuplicateSignUpSucceedsAlikeAndMailsTheOwner) {
    create_user("bob@example.com");
    std::size_t mails_before = mailer_.sent().size();
    ASSERT_TRUE(service_->sign_up({"BOB@example.com", kOtherPassword, "Mallory"}));
    EXPECT_EQ(count("SELECT COUNT(*) FROM identity_users"), 1);
    auto sent = mailer_.sent();
    ASSERT_EQ(sent.size(), mails_before + 1);
    EXPECT_EQ(sent.back().to, "bob@example.com");
    EXPECT_EQ(sent.back().subject, "Sign-up attempt with your email address");
    // The original password still works; the intruder's does not.
    EXPECT_TRUE(service_->login("bob@example.com", kPassword, {}));
    EXPECT_FALSE(service_->login("bob@example.com", kOtherPassword, {}));
}

TEST_F(IdentityServiceTest, WeakAndOversizedPasswordsAreRefused) {
    for (const char* weak : {"Password123456", "aaaaaaaaaaaaaaaa", "abcdefghijklmnop"}) {
        auto result = service_->sign_up({"weak@example.com", weak, ""});
        ASSERT_FALSE(result) << weak;
        EXPECT_TRUE(result.error().message.starts_with("password: ")) << weak;
    }
    EXPECT_FALSE(service_->sign_up({"weak@example.com", std::string(1025, 'x'), ""}));
    EXPECT_EQ(count("SELECT COUNT(*) FROM identity_users"), 0);
}

TEST_F(IdentityServiceTest, LoginIssuesVerifiableTokensAndRecordsEvents) {
    std::string user_id = create_user("carol@example.com");
    auto tokens = service_->login("Carol@Example.com", kPassword, {"10.0.0.1", "curl/8.0"});
    ASSERT_TRUE(tokens) << tokens.error().message;
    EXPECT_EQ(tokens->expires_in_s, 900);
    auto claims = service_->verify_access_token(tokens->access_token);
    ASSERT_TRUE(claims) << claims.error().message;
    EXPECT_EQ(claims->user_id, user_id);
    EXPECT_EQ(claims->session_id, tokens->session_id);
    EXPECT_EQ(claims->scopes, std::vector<std::string>{std::string(kSelfPermission)});
    EXPECT_EQ(count_events("nimbus.identity.login.succeeded"), 1);

    auto wrong = service_->login("carol@example.com", kOtherPassword, {});
    ASSERT_FALSE(wrong);
    EXPECT_EQ(wrong.error().code, ErrorCode::unauthenticated);
    auto unknown = service_->login("nobody@example.com", kPassword, {});
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().message, wrong.error().message);
    EXPECT_FALSE(service_->login("not an email", kPassword, {}));
    EXPECT_EQ(count_events("nimbus.identity.login.failed"), 3);
}

TEST_F(IdentityServiceTest, AccessTokensExpire) {
    create_user("dave@example.com");
    auto tokens = service_->login("dave@example.com", kPassword, {});
    ASSERT_TRUE(tokens);
    clock_.advance_ms(14 * kMinuteMs);
    EXPECT_TRUE(service_->verify_access_token(tokens->access_token));
    clock_.advance_ms(2 * kMinuteMs);
    auto expired = service_->verify_access_token(tokens->access_token);
    ASSERT_FALSE(expired);
    EXPECT_EQ(expired.error().message, "the token has expired");
}

TEST_F(IdentityServiceTest, TokensForAnotherIssuerOrAudienceAreRefused) {
    create_user("erin@example.com");
    auto tokens = service_->login("erin@example.com", kPassword, {});
    ASSERT_TRUE(tokens);
    Settings other_issuer = fast_settings();
    other_issuer.issuer = "https://elsewhere.test";
    auto by_issuer = make_service(other_issuer)->verify_access_token(tokens->access_token);
    ASSERT_FALSE(by_issuer);
    EXPECT_EQ(by_issuer.error().message, "the token's issuer is not accepted");
    Settings other_audience = fast_settings();
    other_audience.audience = "billing";
    auto by_audience = make_service(other_audience)->verify_access_token(tokens->access_token);
    ASSERT_FALSE(by_audience);
    EXPECT_EQ(by_audience.error().message, "the token is not meant for this audience");
}

TEST_F(IdentityServiceTest, RefreshRotatesAndReuseRevokesTheFamily) {
    create_user("frank@example.com");
    auto first = service_->login("frank@example.com", kPassword, {});
    ASSERT_TRUE(first);
    auto second = service_->refresh(first->refresh_token, {"10.0.0.2",
                                                           "Mozilla/5.0 (X11; Linux "
                                                           "x86_64) Firefox/120.0"});
    ASSERT_TRUE(second) << second.error().message;
    EXPECT_NE(second->refresh_token, first->refresh_token);
    EXPECT_EQ(second->session_id, first->session_id);
    auto sessions = service_->list_sessions(
        service_->verify_access_token(second->access_token)->user_id, second->session_id);
    ASSERT_TRUE(sessions);
    ASSERT_EQ(sessions->size(), 1U);
    EXPECT_EQ(sessions->front().device, "Firefox on Linux");
    EXPECT_EQ(sessions->front().ip, "10.0.0.2");
    EXPECT_TRUE(sessions->front().current);

    // The rotated token comes back: the family dies, the newest token with it.
    auto reused = service_->refresh(first->refresh_token, {});
    ASSERT_FALSE(reused);
    EXPECT_EQ(reused.error().code, ErrorCode::unauthenticated);
    EXPECT_FALSE(service_->refresh(second->refresh_token, {}));
    EXPECT_EQ(count_events("nimbus.identity.refresh_token.reused"), 1);
    EXPECT_FALSE(service_->refresh("forged", {}));
}

TEST_F(IdentityServiceTest, LogoutEndsTheSession) {
    create_user("gina@example.com");
    auto tokens = service_->login("gina@example.com", kPassword, {});
    ASSERT_TRUE(tokens);
    ASSERT_TRUE(service_->logout(tokens->refresh_token));
    EXPECT_FALSE(service_->refresh(tokens->refresh_token, {}));
    EXPECT_TRUE(service_->logout(tokens->refresh_token));  // idempotent
    EXPECT_TRUE(service_->logout("unknown"));
}

TEST_F(IdentityServiceTest, PasswordResetIsSingleUseExpiresAndRevokesSessions) {
    create_user("hank@example.com");
    auto session = service_->login("hank@example.com", kPassword, {});
    ASSERT_TRUE(session);
    ASSERT_TRUE(service_->forgot_password("HANK@example.com"));
    std::string token = mailer_.last_token("hank@example.com");
    ASSERT_FALSE(token.empty());
    auto weak = service_->reset_password(token, "Password123456");
    ASSERT_FALSE(weak);
    EXPECT_TRUE(weak.error().message.starts_with("password: "));
    ASSERT_TRUE(service_->reset_password(token, kOtherPassword));
    EXPECT_FALSE(service_->refresh(session->refresh_token, {}));
    EXPECT_FALSE(service_->login("hank@example.com", kPassword, {}));
    EXPECT_TRUE(service_->login("hank@example.com", kOtherPassword, {}));
    auto reused = service_->reset_password(token, "Yet-another-fine-secret");
    ASSERT_FALSE(reused);
    EXPECT_TRUE(reused.error().message.starts_with("token: "));
    EXPECT_FALSE(service_->reset_password("forged", kPassword));

    ASSERT_TRUE(service_->forgot_password("hank@example.com"));
    std::string late = mailer_.last_token("hank@example.com");
    clock_.advance_ms(31 * kMinuteMs);
    EXPECT_FALSE(service_->reset_password(late, kPassword));
    EXPECT_EQ(count_events("nimbus.identity.password.reset"), 1);
}

TEST_F(IdentityServiceTest, ForgotPasswordForUnknownEmailSendsNothing) {
    ASSERT_TRUE(service_->forgot_password("ghost@example.com"));
    EXPECT_TRUE(mailer_.sent().empty());
    EXPECT_FALSE(service_->forgot_password("not-an-email"));
}

TEST_F(IdentityServiceTest, ChangePasswordKeepsOnlyTheCurrentSession) {
    std::string user_id = create_user("ivy@example.com");
    auto current = service_->login("ivy@example.com", kPassword, {});
    auto other = service_->login("ivy@example.com", kPassword, {});
    ASSERT_TRUE(current && other);
    auto wrong =
        service_->change_password(user_id, "not-my-password", kOtherPassword, current->session_id);
    ASSERT_FALSE(wrong);
    EXPECT_TRUE(wrong.error().message.starts_with("current_password: "));
    ASSERT_TRUE(service_->change_password(user_id, kPassword, kOtherPassword, current->session_id));
    EXPECT_TRUE(service_->refresh(current->refresh_token, {}));
    EXPECT_FALSE(service_->refresh(other->refresh_token, {}));
    EXPECT_EQ(count_events("nimbus.identity.password.changed"), 1);
}

TEST_F(IdentityServiceTest, SessionsAreRevokedOnlyByTheirOwner) {
    std::string owner = create_user("jack@example.com");
    std::string stranger = create_user("kate@example.com");
    auto tokens = service_->login("jack@example.com", kPassword, {});
    ASSERT_TRUE(tokens);
    auto foreign = service_->revoke_session(stranger, tokens->session_id);
    ASSERT_FALSE(foreign);
    EXPECT_EQ(foreign.error().code, ErrorCode::not_found);
    EXPECT_TRUE(service_->refresh(tokens->refresh_token, {}));
    auto refreshed = service_->login("jack@example.com", kPassword, {});
    ASSERT_TRUE(refreshed);
    ASSERT_TRUE(service_->revoke_session(owner, refreshed->session_id));
    EXPECT_FALSE(service_->refresh(refreshed->refresh_token, {}));
    EXPECT_FALSE(service_->revoke_session(owner, refreshed->session_id));
}

TEST_F(IdentityServiceTest, UpdateAndDeleteAccount) {
    std::string user_id = create_user("lena@example.com");
    auto renamed = service_->update_name(user_id, "  Lena  ");
    ASSERT_TRUE(renamed);
    EXPECT_EQ(renamed->name, "Lena");
    EXPECT_FALSE(service_->update_name(user_id, std::string(101, 'x')));
    auto tokens = service_->login("lena@example.com", kPassword, {});
    ASSERT_TRUE(tokens);
    ASSERT_TRUE(service_->delete_user(user_id));
    EXPECT_FALSE(service_->refresh(tokens->refresh_token, {}));
    EXPECT_EQ(service_->get_user(user_id).error().code, ErrorCode::not_found);
    EXPECT_EQ(count("SELECT COUNT(*) FROM identity_sessions"), 0);
    EXPECT_EQ(count_events("nimbus.identity.user.deleted"), 1);
}

TEST_F(IdentityServiceTest, LoginRehashesWhenParametersChange) {
    create_user("mike@example.com");
    auto before = database_->query("SELECT password_hash FROM identity_users");
    ASSERT_TRUE(before);
    Settings stronger = fast_settings();
    stronger.hashing.ops_limit += 1;
    auto upgraded = make_service(stronger);
    ASSERT_TRUE(upgraded->login("mike@example.com", kPassword, {}));
    auto after = database_->query("SELECT password_hash FROM identity_users");
    ASSERT_TRUE(after);
    EXPECT_NE(before->front().get_text(0), after->front().get_text(0));
    EXPECT_NE(after->front().get_text(0).find("t=2"), std::string::npos);
    EXPECT_TRUE(service_->login("mike@example.com", kPassword, {}));
}

TEST_F(IdentityServiceTest, SigningKeysAreSealedAndSharedAcrossRestarts) {
    auto rows = database_->query("SELECT id, private_key_sealed FROM identity_signing_keys");
    ASSERT_TRUE(rows);
    ASSERT_EQ(rows->size(), 1U);
    const auto& sealed = rows->front().get_blob(1);
    std::string sealed_text(sealed.begin(), sealed.end());
    EXPECT_EQ(sealed_text.find("PRIVATE KEY"), std::string::npos);
    auto restarted = make_service(fast_settings());
    EXPECT_EQ(restarted->jwks_json(), service_->jwks_json());
    EXPECT_NE(service_->jwks_json().find(rows->front().get_text(0)), std::string::npos);

    // Another master key cannot open it: the node refuses to start rather than mint a new key.
    auto other_key = crypto::MasterKey::from_bytes(crypto::random_bytes(32));
    ASSERT_TRUE(other_key);
    Service wrong(*database_, clock_, *other_key, *mail_queue_, fast_settings());
    EXPECT_FALSE(wrong.start());
}

}  // namespace
}  // namespace nimbus::identity
