// Revocation of access tokens (docs/identity.md, "Revocation") with the service on a real SQLite
// database and a manual clock: every way a session ends stops its access token on the node that
// ended it at once, a second service on the same database refuses it after its poll (or its
// start), and revocations recorded with a lagging clock are still read.
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "identity/service_fixture.hpp"

namespace nimbus::identity {
namespace {

using namespace testing;  // the fixture's constants and fast_settings()

class RevocationTest : public ServiceFixture {
protected:
    TokenPair login(const std::string& email, const std::string& password = kPassword) {
        auto pair = service_->login(email, password, {"127.0.0.1", "revocation-test"});
        EXPECT_TRUE(pair) << (pair ? "" : pair.error().message);
        return pair ? *pair : TokenPair{};
    }

    /// The token is refused as revoked (not for some other reason).
    static void expect_revoked(Service& service, const std::string& access) {
        auto verdict = service.verify_access_token(access);
        ASSERT_FALSE(verdict);
        EXPECT_EQ(verdict.error().code, ErrorCode::unauthenticated);
        EXPECT_EQ(verdict.error().message, "the token has been revoked");
    }
};

TEST_F(RevocationTest, LogoutStopsACachedToken) {
    create_user("ada@example.com");
    auto tokens = login("ada@example.com");
    // Twice: the second answer comes from the cache of verified tokens.
    ASSERT_TRUE(service_->verify_access_token(tokens.access_token));
    ASSERT_TRUE(service_->verify_access_token(tokens.access_token));
    ASSERT_TRUE(service_->logout(tokens.refresh_token));
    expect_revoked(*service_, tokens.access_token);
    EXPECT_EQ(count("SELECT COUNT(*) FROM identity_token_revocations WHERE id = '" +
                    tokens.session_id + "'"),
              1);
}

TEST_F(RevocationTest, RevokingOneSessionLeavesTheOthers) {
    std::string user_id = create_user("ben@example.com");
    auto laptop = login("ben@example.com");
    auto phone = login("ben@example.com");
    ASSERT_TRUE(service_->revoke_session(user_id, phone.session_id));
    expect_revoked(*service_, phone.access_token);
    EXPECT_TRUE(service_->verify_access_token(laptop.access_token));
}

TEST_F(RevocationTest, PasswordChangeAndResetStopTheirSessions) {
    std::string user_id = create_user("cleo@example.com");
    auto kept = login("cleo@example.com");
    auto other = login("cleo@example.com");
    ASSERT_TRUE(service_->change_password(user_id, kPassword, kOtherPassword, kept.session_id));
    expect_revoked(*service_, other.access_token);
    EXPECT_TRUE(service_->verify_access_token(kept.access_token));

    ASSERT_TRUE(service_->forgot_password("cleo@example.com"));
    ASSERT_TRUE(service_->reset_password(mailer_.last_token("cleo@example.com"), kPassword));
    expect_revoked(*service_, kept.access_token);
}

TEST_F(RevocationTest, RefreshTokenReuseStopsTheSessionsTokens) {
    create_user("dora@example.com");
    auto first = login("dora@example.com");
    auto second = service_->refresh(first.refresh_token, {});
    ASSERT_TRUE(second);
    ASSERT_TRUE(service_->verify_access_token(second->access_token));
    ASSERT_FALSE(service_->refresh(first.refresh_token, {}));
    expect_revoked(*service_, second->access_token);
    expect_revoked(*service_, first.access_token);
}

TEST_F(RevocationTest, AccountDeletionStopsItsTokens) {
    std::string user_id = create_user("eve@example.com");
    auto tokens = login("eve@example.com");
    ASSERT_TRUE(service_->delete_user(user_id));
    expect_revoked(*service_, tokens.access_token);
    // The record outlives the session row it was about.
    EXPECT_EQ(count("SELECT COUNT(*) FROM identity_sessions"), 0);
    EXPECT_EQ(count("SELECT COUNT(*) FROM identity_token_revocations"), 1);
}

TEST_F(RevocationTest, AnotherNodeRefusesTheTokenAfterItsPollAndAtStart) {
    create_user("finn@example.com");
    auto tokens = login("finn@example.com");
    auto kept = login("finn@example.com");
    auto other_node = make_service(settings());
    ASSERT_TRUE(other_node->verify_access_token(tokens.access_token));
    ASSERT_TRUE(service_->logout(tokens.refresh_token));
    // Until it polls, the other node has not heard of it: that is the documented bound.
    EXPECT_TRUE(other_node->verify_access_token(tokens.access_token));
    ASSERT_TRUE(other_node->poll_revocations());
    expect_revoked(*other_node, tokens.access_token);
    EXPECT_TRUE(other_node->verify_access_token(kept.access_token));

    auto started_later = make_service(settings());
    expect_revoked(*started_later, tokens.access_token);
}

TEST_F(RevocationTest, ARevocationRecordedWithALaggingClockIsStillRead) {
    create_user("gus@example.com");
    auto tokens = login("gus@example.com");
    auto other_node = make_service(settings());
    clock_.advance_ms(kMinuteMs);
    ASSERT_TRUE(other_node->poll_revocations());
    // Written by a node whose clock runs 20 s behind, after this node's last poll.
    auto recorded = database_->transact([&](db::Transaction& tx) -> Result<void> {
        auto changed =
            tx.execute("INSERT INTO identity_token_revocations (id, revoked_at_ms) VALUES (?, ?)",
                       {tokens.session_id, clock_.now_ms() - 20'000});
        if (!changed) return changed.error();
        return {};
    });
    ASSERT_TRUE(recorded);
    clock_.advance_ms(1000);
    ASSERT_TRUE(other_node->poll_revocations());
    expect_revoked(*other_node, tokens.access_token);
}

TEST_F(RevocationTest, ThePeriodicPollPicksUpRevocations) {
    Settings fast = settings();
    fast.revocation_poll_ms = 10;
    auto other_node = make_service(fast);
    other_node->start_revocation_poll();
    create_user("hal@example.com");
    auto tokens = login("hal@example.com");
    ASSERT_TRUE(service_->logout(tokens.refresh_token));
    // The clock is manual but the poll's interval is real time: wait for the condition.
    bool refused = false;
    for (int attempt = 0; attempt < 2000 && !refused; ++attempt) {
        refused = !other_node->verify_access_token(tokens.access_token);
        if (!refused) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_TRUE(refused);
    expect_revoked(*other_node, tokens.access_token);
}

}  // namespace
}  // namespace nimbus::identity
