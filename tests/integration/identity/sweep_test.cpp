// The sweep of expired identity rows (docs/identity.md, "Sweeping expired rows") on SQLite and on
// the PostgreSQL test cluster: dead rows of every kind go, live ones stay, and a used refresh
// token of a live session still reveals its reuse afterwards. Sessions and links come from the
// service with the manual clock; rows the service makes only through longer flows (OAuth,
// invitations, lockout counters, MFA challenges) are inserted directly.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "identity_env.hpp"

// The PostgreSQL build of this suite gets its own test names, so ctest keeps the two apart.
#ifdef NIMBUS_IDENTITY_TEST_POSTGRES
#define Sweep SweepOnPostgres
#endif

namespace nimbus::test {
namespace {

constexpr const char* kPassword = "correct-Horse-battery-9";
constexpr std::int64_t kHourMs = 3600 * 1000;
constexpr std::int64_t kDayMs = 24 * kHourMs;

class Sweep : public ::testing::Test {
protected:
    void SetUp() override {
        if (!backend_available()) GTEST_SKIP() << "no PostgreSQL test cluster";
        stack_ = std::make_unique<IdentityStack>(MailMode::dev_mailbox);
    }

    identity::Service& service() { return stack_->service(); }
    std::int64_t now() { return stack_->clock().now_ms(); }

    /// Signs up through the service (which stores its verification link) and marks the email
    /// verified directly, leaving the link unused.
    std::string user(const std::string& email) {
        EXPECT_TRUE(service().sign_up({email, kPassword, "Sweep Test"}));
        EXPECT_TRUE(db::testing::execute(
            stack_->database(),
            "UPDATE identity_users SET email_verified_at_ms = ? WHERE email = ?", {now(), email}));
        auto rows =
            stack_->database().query("SELECT id FROM identity_users WHERE email = ?", {email});
        EXPECT_TRUE(rows && rows->size() == 1);
        return rows && !rows->empty() ? rows->front().get_text(0) : std::string();
    }

    identity::TokenPair login(const std::string& email) {
        auto pair = service().login(email, kPassword, client_);
        EXPECT_TRUE(pair) << (pair ? "" : pair.error().message);
        return pair ? *pair : identity::TokenPair{};
    }

    void exec(const std::string& sql, db::Params params) {
        auto done = db::testing::execute(stack_->database(), sql, params);
        ASSERT_TRUE(done) << done.error().message << " in " << sql;
    }

    std::int64_t count(const std::string& table, const std::string& where = "1 = 1") {
        return stack_->count("SELECT COUNT(*) FROM " + table + " WHERE " + where);
    }

    /// `table` holds exactly `rows` rows, and every one matches `where`: what a sweep keeps.
    void expect_only(const std::string& table, const std::string& where, std::int64_t rows) {
        EXPECT_EQ(count(table, where), rows) << table << " WHERE " << where;
        EXPECT_EQ(count(table), rows) << table;
    }

    std::unique_ptr<IdentityStack> stack_;
    identity::ClientInfo client_{"127.0.0.1", "sweep-test"};
};

TEST_F(Sweep, DeletesExactlyTheDeadRowsInBatchesAndKeepsReuseDetection) {
    const std::int64_t ttl_ms = IdentityStack::settings().refresh_token_ttl_s * 1000;

    // Long ago: a session later revoked, one that simply expired, and an unused verification
    // link (expired for years by the time of the sweep).
    std::string old_user = user("old@example.com");
    auto revoked_long_ago = login("old@example.com");
    ASSERT_TRUE(service().logout(revoked_long_ago.refresh_token));
    login("old@example.com");

    stack_->clock().advance_ms(2 * ttl_ms + 2 * kDayMs);
    const std::int64_t t = now();

    // Now: a live session refreshed once (its first token used, kept for reuse detection), a
    // session revoked just now (within the refresh-token lifetime: kept), a live link.
    std::string live_user = user("live@example.com");
    auto live = login("live@example.com");
    auto rotated = service().refresh(live.refresh_token, client_);
    ASSERT_TRUE(rotated);
    auto revoked_now = login("live@example.com");
    ASSERT_TRUE(service().logout(revoked_now.refresh_token));

    // Links: one used a minute ago goes, an expired one of the old user goes (made above).
    exec(
        "INSERT INTO identity_links (token_hash, purpose, user_id, email, created_at_ms, "
        "expires_at_ms, used_at_ms) VALUES ('used-link', 'reset_password', ?, "
        "'live@example.com', ?, ?, ?)",
        {live_user, t - kHourMs, t + kHourMs, t - 60'000});
    exec(
        "INSERT INTO identity_links (token_hash, purpose, user_id, email, created_at_ms, "
        "expires_at_ms) VALUES ('change-link', 'change_email', ?, 'new@example.com', ?, ?)",
        {live_user, t - 2 * kDayMs, t - kDayMs});

    // Invitations: expired two days ago and accepted two days ago go; expired an hour ago,
    // revoked an hour ago and pending stay.
    exec(
        "INSERT INTO identity_orgs (id, slug, name, created_by, created_at_ms, updated_at_ms) "
        "VALUES ('org_sweep', 'sweep', 'Sweep', ?, ?, ?)",
        {live_user, t, t});
    auto invitation = [&](const std::string& id, std::int64_t expires,
                          std::optional<std::int64_t> accepted,
                          std::optional<std::int64_t> revoked) {
        exec(
            "INSERT INTO identity_org_invitations (id, org_id, email, role, token_hash, "
            "invited_by, created_at_ms, expires_at_ms, accepted_at_ms, revoked_at_ms) VALUES "
            "(?, 'org_sweep', 'x@example.com', 'member', ?, ?, ?, ?, ?, ?)",
            {id, "hash-" + id, live_user, t - 10 * kDayMs, expires,
             accepted ? db::Param(*accepted) : db::Param(std::nullopt),
             revoked ? db::Param(*revoked) : db::Param(std::nullopt)});
    };
    invitation("inv_expired_old", t - 2 * kDayMs, std::nullopt, std::nullopt);
    invitation("inv_accepted_old", t + kDayMs, t - 2 * kDayMs, std::nullopt);
    invitation("inv_expired_recent", t - kHourMs, std::nullopt, std::nullopt);
    invitation("inv_revoked_recent", t + kDayMs, std::nullopt, t - kHourMs);
    invitation("inv_pending", t + kDayMs, std::nullopt, std::nullopt);

    // OAuth: a client, requests and codes (expired an hour ago / live), revoked access-token
    // ids (token expired / not yet), a grant revoked long ago and a live one, each with tokens.
    exec(
        "INSERT INTO identity_oauth_clients (id, org_id, name, client_type, redirect_uris, "
        "post_logout_redirect_uris, grant_types, scopes, created_by, created_at_ms, "
        "updated_at_ms) VALUES ('cli_sweep', 'org_sweep', 'Sweep', 'public', '[]', '[]', "
        "'authorization_code', 'openid', ?, ?, ?)",
        {live_user, t, t});
    using Expiring = std::vector<std::pair<std::string, std::int64_t>>;
    for (const auto& [id, expires] :
         Expiring{{"oar_dead", t - kHourMs}, {"oar_live", t + 60'000}}) {
        exec(
            "INSERT INTO identity_oauth_requests (id, client_id, redirect_uri, scope, state, "
            "nonce, code_challenge, created_at_ms, expires_at_ms) VALUES (?, 'cli_sweep', "
            "'https://app.test/cb', 'openid', '', '', 'c', ?, ?)",
            {id, t - 2 * kHourMs, expires});
    }
    for (const auto& [hash, expires] :
         Expiring{{"code_dead", t - kHourMs}, {"code_live", t + 60'000}}) {
        exec(
            "INSERT INTO identity_oauth_codes (code_hash, client_id, user_id, redirect_uri, "
            "scope, nonce, code_challenge, auth_time_s, created_at_ms, expires_at_ms) VALUES "
            "(?, 'cli_sweep', ?, 'https://app.test/cb', 'openid', '', 'c', 0, ?, ?)",
            {hash, live_user, t - 2 * kHourMs, expires});
    }
    // Spent and expired codes: the live grant's stays (a replay must still revoke it), the
    // revoked grant's goes.
    for (const auto& hash : {std::string("x"), std::string("y")}) {
        exec(
            "INSERT INTO identity_oauth_codes (code_hash, client_id, user_id, redirect_uri, "
            "scope, nonce, code_challenge, auth_time_s, created_at_ms, expires_at_ms, "
            "used_at_ms) VALUES (?, 'cli_sweep', ?, 'https://app.test/cb', 'openid', '', 'c', "
            "0, ?, ?, ?)",
            {hash, live_user, t - 2 * kHourMs, t - kHourMs, t - kHourMs});
    }
    exec(
        "INSERT INTO identity_oauth_revoked_tokens (token_id, expires_at_ms) VALUES "
        "('jti_dead', ?), ('jti_live', ?)",
        {t - kHourMs, t + kHourMs});
    exec(
        "INSERT INTO identity_oauth_grants (id, client_id, user_id, scope, code_hash, "
        "auth_time_s, created_at_ms, last_used_at_ms, expires_at_ms, revoked_at_ms) VALUES "
        "('grt_dead', 'cli_sweep', ?, 'openid', 'x', 0, ?, ?, ?, ?), "
        "('grt_live', 'cli_sweep', ?, 'openid', 'y', 0, ?, ?, ?, NULL)",
        {live_user, t - 2 * ttl_ms, t - 2 * ttl_ms, t + kDayMs, t - ttl_ms - kDayMs, live_user, t,
         t, t + ttl_ms});
    exec(
        "INSERT INTO identity_oauth_refresh_tokens (token_hash, grant_id, created_at_ms, "
        "used_at_ms) VALUES ('ort_dead', 'grt_dead', ?, NULL), ('ort_used', 'grt_live', ?, ?), "
        "('ort_live', 'grt_live', ?, NULL)",
        {t - 2 * ttl_ms, t, t, t});

    // Lockout counters (window 15 minutes by default): an old failure without a lock and one
    // whose lock ended go; a recent failure and a lock still running stay.
    const std::int64_t window_ms = IdentityStack::settings().lockout.window_s * 1000;
    exec(
        "INSERT INTO identity_login_failures (subject, failures, last_failure_at_ms, "
        "locked_until_ms) VALUES ('ip:old', 3, ?, NULL), ('ip:unlocked', 0, ?, ?), "
        "('ip:recent', 2, ?, NULL), ('ip:locked', 0, ?, ?)",
        {t - window_ms - kHourMs, t - window_ms - kHourMs, t - kHourMs, t - 60'000,
         t - window_ms - kHourMs, t + kHourMs});

    // MFA challenges: expired an hour ago goes, live stays.
    exec(
        "INSERT INTO identity_mfa_challenges (token_hash, user_id, created_at_ms, "
        "expires_at_ms) VALUES ('mfa_dead', ?, ?, ?), ('mfa_live', ?, ?, ?)",
        {live_user, t - 2 * kHourMs, t - kHourMs, live_user, t, t + 60'000});

    const std::int64_t live_refresh_tokens =
        count("identity_refresh_tokens",
              "session_id IN ('" + live.session_id + "', '" + revoked_now.session_id + "')");
    ASSERT_EQ(live_refresh_tokens, 3);  // the used one, its successor, the revoked-now one
    ASSERT_EQ(count("identity_refresh_tokens"), 5);

    // One row per transaction: every rule runs through several batches.
    auto swept = service().sweep_expired(1);
    ASSERT_TRUE(swept) << swept.error().message;
    EXPECT_EQ(swept->refresh_tokens, 2);
    EXPECT_EQ(swept->links, 3);  // the old user's verification link, the used and the expired
    EXPECT_EQ(swept->invitations, 2);
    EXPECT_EQ(swept->oauth_requests, 1);
    EXPECT_EQ(swept->oauth_codes, 2);
    EXPECT_EQ(swept->oauth_revoked_tokens, 1);
    EXPECT_EQ(swept->oauth_refresh_tokens, 1);
    EXPECT_EQ(swept->login_failures, 2);
    EXPECT_EQ(swept->mfa_challenges, 1);
    // Ended longer ago than the retention (30 days): the old user's two sessions, the grant
    // revoked long ago, and the revocation record of the old logout.
    EXPECT_EQ(swept->sessions, 2);
    EXPECT_EQ(swept->oauth_grants, 1);
    EXPECT_EQ(swept->revocations, 1);
    EXPECT_EQ(swept->total(), 19);

    EXPECT_EQ(count("identity_refresh_tokens"), live_refresh_tokens);
    EXPECT_EQ(count("identity_links"), 1);
    EXPECT_EQ(count("identity_links", "user_id = '" + live_user +
                                          "' AND used_at_ms IS NULL AND "
                                          "purpose = 'verify_email'"),
              1);
    expect_only("identity_org_invitations",
                "id IN ('inv_expired_recent', 'inv_revoked_recent', 'inv_pending')", 3);
    expect_only("identity_oauth_requests", "id = 'oar_live'", 1);
    expect_only("identity_oauth_codes", "code_hash IN ('code_live', 'y')", 2);
    expect_only("identity_oauth_revoked_tokens", "token_id = 'jti_live'", 1);
    expect_only("identity_oauth_refresh_tokens", "grant_id = 'grt_live'", 2);
    expect_only("identity_login_failures", "subject IN ('ip:recent', 'ip:locked')", 2);
    expect_only("identity_mfa_challenges", "token_hash = 'mfa_live'", 1);
    EXPECT_EQ(count("identity_sessions", "user_id = '" + old_user + "'"), 0);
    EXPECT_EQ(count("identity_sessions", "user_id = '" + live_user + "'"), 2);
    EXPECT_EQ(count("identity_oauth_grants"), 1);
    expect_only("identity_token_revocations", "id = '" + revoked_now.session_id + "'", 1);

    // Nothing left to delete.
    auto again = service().sweep_expired();
    ASSERT_TRUE(again);
    EXPECT_EQ(again->total(), 0);

    // The live session still refreshes, and its kept used token still reveals reuse: presenting
    // it again ends the session, so its newest token stops working too.
    auto next = service().refresh(rotated->refresh_token, client_);
    ASSERT_TRUE(next) << next.error().message;
    EXPECT_FALSE(service().refresh(live.refresh_token, client_));
    EXPECT_FALSE(service().refresh(next->refresh_token, client_));
}

TEST_F(Sweep, EmptyTablesSweepToNothing) {
    // The periodic thread is joined when the service goes (the stack's teardown must not hang).
    service().start_sweep(3600);
    service().start_sweep(0);
    auto swept = service().sweep_expired();
    ASSERT_TRUE(swept) << swept.error().message;
    EXPECT_EQ(swept->total(), 0);
}

TEST_F(Sweep, EndedSessionsGrantsSpentCodesRetiredKeysGoAfterTheirRetention) {
    const std::int64_t retention_ms = IdentityStack::settings().ended_session_retention_s * 1000;
    std::string history = user("history@example.com");
    auto ended_long_ago = login("history@example.com");
    ASSERT_TRUE(service().logout(ended_long_ago.refresh_token));

    stack_->clock().advance_ms(retention_ms + kDayMs);
    const std::int64_t t = now();
    auto ended_recently = login("history@example.com");
    ASSERT_TRUE(service().logout(ended_recently.refresh_token));
    auto open = login("history@example.com");

    // Grants: revoked or expired longer ago than the retention go; revoked within it and live
    // stay.
    exec(
        "INSERT INTO identity_oauth_clients (id, org_id, name, client_type, redirect_uris, "
        "post_logout_redirect_uris, grant_types, scopes, created_by, created_at_ms, "
        "updated_at_ms) VALUES ('cli_hist', 'org_hist', 'History', 'public', '[]', '[]', "
        "'authorization_code', 'openid', ?, ?, ?)",
        {history, t, t});
    const std::int64_t long_ago = t - retention_ms - kDayMs;
    exec(
        "INSERT INTO identity_oauth_grants (id, client_id, user_id, scope, code_hash, "
        "auth_time_s, created_at_ms, last_used_at_ms, expires_at_ms, revoked_at_ms) VALUES "
        "('grt_revoked_old', 'cli_hist', ?, 'openid', 'a', 0, ?, ?, ?, ?), "
        "('grt_expired_old', 'cli_hist', ?, 'openid', 'b', 0, ?, ?, ?, NULL), "
        "('grt_revoked_new', 'cli_hist', ?, 'openid', 'c', 0, ?, ?, ?, ?), "
        "('grt_live', 'cli_hist', ?, 'openid', 'd', 0, ?, ?, ?, NULL)",
        {history, long_ago, long_ago, t + kDayMs, long_ago,         //
         history, long_ago, long_ago, long_ago,                     //
         history, t - kDayMs, t - kDayMs, t + kDayMs, t - kHourMs,  //
         history, t, t, t + kDayMs});

    // Recovery codes: spent longer ago than the retention goes; spent recently and unused stay.
    exec(
        "INSERT INTO identity_mfa_recovery_codes (user_id, code_hash, created_at_ms, "
        "used_at_ms) VALUES (?, 'spent-old', ?, ?), (?, 'spent-new', ?, ?), (?, 'unused', ?, "
        "NULL)",
        {history, long_ago, long_ago, history, long_ago, t - kHourMs, history, long_ago});

    // Signing keys: one retired a day ago (every node has dropped it) goes; one retired a moment
    // ago may still be published by a node that has not re-read the keys, and stays.
    exec(
        "INSERT INTO identity_signing_keys (id, generation, algorithm, public_jwk, "
        "private_key_sealed, created_at_ms, retired_at_ms) VALUES "
        "('jwk_retired_old', 100, 'ES256', '{}', ?, ?, ?), "
        "('jwk_retired_new', 101, 'ES256', '{}', ?, ?, ?)",
        {db::Bytes{1, 2, 3}, long_ago, t - kDayMs, db::Bytes{1, 2, 3}, long_ago, t - 1000});
    const std::int64_t keys_before = count("identity_signing_keys");

    auto swept = service().sweep_expired(1);
    ASSERT_TRUE(swept) << swept.error().message;
    EXPECT_EQ(swept->sessions, 1);
    EXPECT_EQ(swept->oauth_grants, 2);
    EXPECT_EQ(swept->recovery_codes, 1);
    EXPECT_EQ(swept->signing_keys, 1);
    // The old logout's record: every access token it could stop expired long ago.
    EXPECT_EQ(swept->revocations, 1);

    EXPECT_EQ(count("identity_sessions", "id = '" + ended_long_ago.session_id + "'"), 0);
    EXPECT_EQ(count("identity_sessions", "user_id = '" + history + "'"), 2);
    expect_only("identity_oauth_grants", "id IN ('grt_revoked_new', 'grt_live')", 2);
    expect_only("identity_mfa_recovery_codes", "code_hash IN ('spent-new', 'unused')", 2);
    EXPECT_EQ(count("identity_signing_keys", "id = 'jwk_retired_new'"), 1);
    EXPECT_EQ(count("identity_signing_keys"), keys_before - 1);
    expect_only("identity_token_revocations", "id = '" + ended_recently.session_id + "'", 1);

    // What users rely on is unchanged: the open session is listed and refreshes, the recently
    // ended one's access token is still refused, and the signing key still signs.
    auto sessions = service().list_sessions(history, open.session_id);
    ASSERT_TRUE(sessions);
    ASSERT_EQ(sessions->size(), 1U);
    EXPECT_TRUE(sessions->front().current);
    EXPECT_FALSE(service().verify_access_token(ended_recently.access_token));
    auto refreshed = service().refresh(open.refresh_token, client_);
    ASSERT_TRUE(refreshed) << refreshed.error().message;
    EXPECT_TRUE(service().verify_access_token(refreshed->access_token));
}

}  // namespace
}  // namespace nimbus::test
