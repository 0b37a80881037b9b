// Refresh-token rotation through the group commit (refresh.cpp): concurrent refreshes, the
// session's last-seen time written at most once a minute, and the awaitable used by the route.
#include <atomic>
#include <thread>

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "identity/identity.hpp"
#include "identity/service_fixture.hpp"

namespace nimbus::identity {
namespace {

using testing::kPassword;
using testing::kStartMs;

constexpr const char* kEmail = "rotation@example.com";

class RefreshTest : public testing::ServiceFixture {
protected:
    void SetUp() override {
        ServiceFixture::SetUp();
        if (HasFatalFailure()) return;
        create_user(kEmail);
    }

    TokenPair login(const ClientInfo& client = {}) {
        auto tokens = service_->login(kEmail, kPassword, client);
        EXPECT_TRUE(tokens) << (tokens ? "" : tokens.error().message);
        return tokens ? *tokens : TokenPair{};
    }

    std::int64_t session_column(const std::string& session_id, const std::string& column) {
        auto rows = database_->query("SELECT " + column + " FROM identity_sessions WHERE id = ?",
                                     {session_id});
        return rows && !rows->empty() && !rows->front().is_null(0) ? rows->front().get_int(0) : -1;
    }
};

TEST_F(RefreshTest, ConcurrentUsesOfOneTokenRotateItOnceAndEndTheFamily) {
    TokenPair first = login();
    constexpr int kCallers = 8;
    std::atomic<int> succeeded{0};
    std::vector<std::thread> callers;
    for (int caller = 0; caller < kCallers; ++caller) {
        callers.emplace_back([&] {
            if (service_->refresh(first.refresh_token, {})) ++succeeded;
        });
    }
    for (auto& caller : callers) caller.join();
    // Whatever the batching, one use wins; every other use is a reuse, which ends the session.
    EXPECT_EQ(succeeded.load(), 1);
    EXPECT_NE(session_column(first.session_id, "revoked_at_ms"), -1);
    auto reused = database_->query("SELECT COUNT(*) FROM outbox_events WHERE type = ?",
                                   {"nimbus.identity.refresh_token.reused"});
    ASSERT_TRUE(reused);
    EXPECT_GE(reused->front().get_int(0), 1);
}

TEST_F(RefreshTest, ConcurrentRefreshesOfManySessionsAllSucceed) {
    constexpr int kSessions = 16;
    std::vector<TokenPair> sessions;
    for (int session = 0; session < kSessions; ++session) sessions.push_back(login());
    std::vector<Result<TokenPair>> refreshed(kSessions, Error::internal("not run"));
    std::vector<std::thread> callers;
    for (int session = 0; session < kSessions; ++session) {
        callers.emplace_back([&, session] {
            refreshed[session] = service_->refresh(sessions[session].refresh_token, {});
        });
    }
    for (auto& caller : callers) caller.join();
    for (int session = 0; session < kSessions; ++session) {
        ASSERT_TRUE(refreshed[session]) << refreshed[session].error().message;
        EXPECT_EQ(refreshed[session]->session_id, sessions[session].session_id);
        EXPECT_TRUE(service_->verify_access_token(refreshed[session]->access_token));
        // The successor works, once.
        EXPECT_TRUE(service_->refresh(refreshed[session]->refresh_token, {}));
    }
}

TEST_F(RefreshTest, LastSeenAndExpiryMoveAtMostOnceAMinuteUnlessTheClientMoved) {
    ClientInfo laptop{"10.0.0.1", "curl/8"};
    TokenPair tokens = login(laptop);
    const std::int64_t ttl_ms = Settings{}.refresh_token_ttl_s * 1000;
    EXPECT_EQ(session_column(tokens.session_id, "last_seen_at_ms"), kStartMs);

    clock_.advance_ms(10'000);
    auto second = service_->refresh(tokens.refresh_token, laptop);
    ASSERT_TRUE(second);
    EXPECT_EQ(session_column(tokens.session_id, "last_seen_at_ms"), kStartMs);
    EXPECT_EQ(session_column(tokens.session_id, "expires_at_ms"), kStartMs + ttl_ms);

    clock_.advance_ms(60'000);
    auto third = service_->refresh(second->refresh_token, laptop);
    ASSERT_TRUE(third);
    EXPECT_EQ(session_column(tokens.session_id, "last_seen_at_ms"), kStartMs + 70'000);
    EXPECT_EQ(session_column(tokens.session_id, "expires_at_ms"), kStartMs + 70'000 + ttl_ms);

    // Another address is recorded at once, whenever it comes.
    clock_.advance_ms(1'000);
    auto moved = service_->refresh(third->refresh_token, {"10.0.0.9", "curl/8"});
    ASSERT_TRUE(moved);
    EXPECT_EQ(session_column(tokens.session_id, "last_seen_at_ms"), kStartMs + 71'000);
    auto listed = service_->list_sessions(
        service_->verify_access_token(moved->access_token)->user_id, moved->session_id);
    ASSERT_TRUE(listed);
    ASSERT_EQ(listed->size(), 1U);
    EXPECT_EQ(listed->front().ip, "10.0.0.9");
}

TEST_F(RefreshTest, TheAwaitableResumesOnItsOwnExecutorWithTheNewPair) {
    TokenPair tokens = login();
    const ClientInfo client{"10.0.0.3", "curl/8"};
    boost::asio::io_context io;
    std::optional<Result<TokenPair>> answer;
    std::thread::id resumed_on;
    boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<void> {
            answer = co_await service_->refresh_async(tokens.refresh_token, client);
            resumed_on = std::this_thread::get_id();
        },
        boost::asio::detached);
    io.run();
    ASSERT_TRUE(answer.has_value());
    ASSERT_TRUE(*answer) << (*answer).error().message;
    EXPECT_EQ(resumed_on, std::this_thread::get_id()) << "not on the committer thread";
    EXPECT_TRUE(service_->verify_access_token((*answer)->access_token));
    EXPECT_FALSE(service_->refresh(tokens.refresh_token, {})) << "the old token is spent";
}

}  // namespace
}  // namespace nimbus::identity
