// Identity's mail goes through the mail queue (docs/identity.md, "The mail queue"): each mail is
// a sealed row written by the transaction of the change it reports, sent only by a pass of the
// queue; addresses without an account commit one write as well, and queue nothing.
#include <gtest/gtest.h>

#include "identity/service_fixture.hpp"

namespace nimbus::identity {
namespace {

using namespace testing;  // the fixture's constants and fast_settings()

class IdentityMailTest : public ServiceFixture {
protected:
    std::int64_t queued() { return count("SELECT COUNT(*) FROM mail_queue"); }
    ClientInfo client() const { return {.ip = "192.0.2.7", .user_agent = "test"}; }
};

TEST_F(IdentityMailTest, SignUpQueuesItsMailWithTheLinkAndTheQueueSendsIt) {
    ASSERT_TRUE(service_->sign_up({"queued@example.com", kPassword, "Queued"}));
    // Committed with the account and its link; nothing has gone to the mailer yet.
    EXPECT_EQ(queued(), 1);
    EXPECT_EQ(count("SELECT COUNT(*) FROM identity_links"), 1);
    // A pass of the queue delivers it (the recording mailer runs one before it is read).
    EXPECT_FALSE(mailer_.last_token("queued@example.com").empty());
    EXPECT_EQ(queued(), 0);
}

TEST_F(IdentityMailTest, ATakenAddressQueuesTheNoticeInTheSameWay) {
    create_user("owner@example.com");
    ASSERT_EQ(queued(), 0);
    ASSERT_TRUE(service_->sign_up({"owner@example.com", kOtherPassword, "Someone"}));
    EXPECT_EQ(queued(), 1);
    auto sent = mailer_.sent();
    ASSERT_FALSE(sent.empty());
    EXPECT_EQ(sent.back().subject, "Sign-up attempt with your email address");
}

TEST_F(IdentityMailTest, UnknownAddressesCommitOneWriteAndQueueNothing) {
    ASSERT_TRUE(service_->forgot_password("nobody@example.com"));
    ASSERT_TRUE(service_->resend_verification("nobody@example.com", client()));
    EXPECT_EQ(queued(), 0);
    EXPECT_EQ(count_events("nimbus.identity.password.reset_unknown_email"), 1);
    EXPECT_EQ(count_events("nimbus.identity.email.verification_resend_ignored"), 1);
    EXPECT_EQ(count_events("nimbus.identity.password.reset_requested"), 0);
    EXPECT_TRUE(mailer_.sent().empty());
}

TEST_F(IdentityMailTest, AVerifiedAccountsResendLooksLikeAnUnknownAddress) {
    create_user("verified@example.com");
    const auto mails_before = mailer_.sent().size();
    ASSERT_TRUE(service_->resend_verification("verified@example.com", client()));
    EXPECT_EQ(queued(), 0);
    EXPECT_EQ(count_events("nimbus.identity.email.verification_resend_ignored"), 1);
    EXPECT_EQ(mailer_.sent().size(), mails_before);
}

TEST_F(IdentityMailTest, KnownAddressesQueueTheResetMailWithItsLink) {
    create_user("known@example.com");
    ASSERT_TRUE(service_->forgot_password("known@example.com"));
    EXPECT_EQ(queued(), 1);
    EXPECT_EQ(count_events("nimbus.identity.password.reset_requested"), 1);
    EXPECT_EQ(count_events("nimbus.identity.password.reset_unknown_email"), 0);
    std::string token = mailer_.last_token("known@example.com");
    ASSERT_FALSE(token.empty());
    EXPECT_TRUE(service_->reset_password(token, kOtherPassword));
}

TEST_F(IdentityMailTest, AChangeOfEmailQueuesTheLinkAndTheNoticeOrNothingOnAWrongPassword) {
    std::string user_id = create_user("before@example.com");
    auto refused =
        service_->request_email_change(user_id, "after@example.com", kOtherPassword, client());
    EXPECT_FALSE(refused);
    EXPECT_EQ(queued(), 0);
    ASSERT_TRUE(service_->request_email_change(user_id, "after@example.com", kPassword, client()));
    EXPECT_EQ(queued(), 2);
    EXPECT_FALSE(mailer_.last_token("after@example.com").empty());
    auto sent = mailer_.sent();
    ASSERT_FALSE(sent.empty());
    bool told_old_address = false;
    for (const auto& message : sent) {
        told_old_address |= message.to == "before@example.com" &&
                            message.subject == "Your email address is about to change";
    }
    EXPECT_TRUE(told_old_address);
    EXPECT_EQ(queued(), 0);
}

}  // namespace
}  // namespace nimbus::identity
