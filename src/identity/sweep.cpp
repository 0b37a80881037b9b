// The sweep of expired identity rows (docs/identity.md, "Sweeping expired rows"): codes, requests,
// links, challenges, invitations, lockout counters and refresh tokens that can no longer be used,
// and after a retention period ended sessions and grants, spent recovery codes, retired signing
// keys and old revocations, are deleted in small batches, each its own transaction, so the SQLite
// write lock is never held for long and a large backlog does not stall sign-ins.

#include <chrono>
#include <string_view>
#include <vector>

#include "identity/service_impl.hpp"

namespace nimbus::identity {
namespace {

constexpr std::int64_t kMsPerDay = 24 * 3600 * kMsPerSecond;

/// One kind of dead row: `key` of `table` for the rows `where` selects. `where` ends before the
/// LIMIT and takes `params`; the batch size is appended as the last parameter. A composite key is
/// given as a row value, "(a, b)", with its columns "a, b" in `key_columns`.
struct Rule {
    std::string_view table;
    std::string_view key;
    std::string where;
    std::vector<db::Param> params;
    std::int64_t SweepCounts::*count;
    std::string_view key_columns = {};
};

/// Deletes the rows of `rule` in batches of `batch_rows` until a batch finds fewer.
Result<void> sweep_rule(db::Database& database, const Rule& rule, std::int64_t batch_rows,
                        SweepCounts& counts) {
    // The subquery picks the batch: DELETE ... LIMIT is not portable, and the key (a primary key)
    // makes the outer DELETE an index lookup on both backends.
    std::string sql = fmt::format(
        "DELETE FROM {0} WHERE {1} IN (SELECT {3} FROM {0} WHERE {2} "
        "LIMIT ?)",
        rule.table, rule.key, rule.where, rule.key_columns.empty() ? rule.key : rule.key_columns);
    std::vector<db::Param> params = rule.params;
    params.emplace_back(batch_rows);
    for (;;) {
        std::int64_t deleted = 0;
        auto done = database.transact([&](db::Transaction& tx) -> Result<void> {
            auto changed = tx.execute(sql, params);
            if (!changed) return changed.error();
            deleted = *changed;
            return {};
        });
        if (!done) return done.error();
        counts.*rule.count += deleted;
        if (deleted < batch_rows) return {};
    }
}

/// The same for refresh tokens, whose rows are dead when their family (a session or an OAuth
/// grant) ended: `family_where` selects the ended families.
Rule family_tokens_rule(std::string_view tokens_table, std::string_view family_table,
                        std::string_view family_column, std::string_view family_where,
                        std::int64_t ended_before_ms, std::int64_t SweepCounts::*count) {
    return {tokens_table,
            "token_hash",
            fmt::format("{} IN (SELECT id FROM {} WHERE {})", family_column, family_table,
                        family_where),
            {ended_before_ms},
            count};
}

}  // namespace

Result<SweepCounts> Service::sweep_expired(std::int64_t batch_rows) {
    Impl& s = *impl_;
    if (batch_rows < 1) batch_rows = 1;
    std::int64_t now = s.clock.now_ms();
    // Another node's clock may run behind ours: a row is kept until it has been dead for the
    // tolerated skew on every node.
    std::int64_t dead_before = now - kClockLeewayS * kMsPerSecond;
    // A used refresh token is what recognises its reuse, which revokes the family; it must stay
    // while the family could still be refreshed. Once a session or grant expired or was revoked
    // it never comes back, and its tokens are refused whatever they are; they are kept one more
    // refresh-token lifetime so a late reuse still finds its family's end.
    std::int64_t family_ended_before = now - s.settings.refresh_token_ttl_s * kMsPerSecond;
    // A lockout counter stops mattering once its last failure is out of the window and its lock
    // (if any) is over: reading it then gives what reading no row gives.
    std::int64_t window_start = dead_before - s.settings.lockout.window_s * kMsPerSecond;
    std::int64_t invitation_kept_until = now - kMsPerDay;
    // Ended sessions and grants stay a while for whoever looks into an account's history; nothing
    // a user or the API relies on reads them (lists show open ones, the audit log has events).
    std::int64_t ended_before = dead_before - s.settings.ended_session_retention_s * kMsPerSecond;
    // A revocation matters while a token it stops can still be valid (revocations.cpp keeps it
    // in memory as long).
    std::int64_t revocation_needed_after =
        now - (s.settings.access_token_ttl_s + 2 * kClockLeewayS) * kMsPerSecond;
    // Keys are retired only once every token they signed has expired; each node drops a retired
    // key from its JWKS at its next check, after which the row serves nothing.
    std::int64_t key_retired_before = dead_before - s.settings.signing_key_check_s * kMsPerSecond;

    std::vector<Rule> rules;
    rules.push_back({"identity_oauth_requests",
                     "id",
                     "expires_at_ms < ?",
                     {dead_before},
                     &SweepCounts::oauth_requests});
    // A spent code replayed revokes the grant it started (RFC 6749 4.1.2), so it stays while
    // that grant could still be used.
    rules.push_back({"identity_oauth_codes",
                     "code_hash",
                     "expires_at_ms < ? AND (used_at_ms IS NULL OR NOT EXISTS (SELECT 1 FROM "
                     "identity_oauth_grants g WHERE g.code_hash = identity_oauth_codes.code_hash "
                     "AND g.revoked_at_ms IS NULL AND g.expires_at_ms > ?))",
                     {dead_before, now},
                     &SweepCounts::oauth_codes});
    rules.push_back({"identity_oauth_revoked_tokens",
                     "token_id",
                     "expires_at_ms < ?",
                     {dead_before},
                     &SweepCounts::oauth_revoked_tokens});
    rules.push_back(family_tokens_rule("identity_oauth_refresh_tokens", "identity_oauth_grants",
                                       "grant_id", "expires_at_ms < ?", family_ended_before,
                                       &SweepCounts::oauth_refresh_tokens));
    rules.push_back(family_tokens_rule("identity_oauth_refresh_tokens", "identity_oauth_grants",
                                       "grant_id", "revoked_at_ms < ?", family_ended_before,
                                       &SweepCounts::oauth_refresh_tokens));
    // Invitations are kept a day after they ended so the admins' view and a late click can
    // still tell what happened to them.
    rules.push_back({"identity_org_invitations",
                     "id",
                     "expires_at_ms < ? OR accepted_at_ms < ? OR revoked_at_ms < ?",
                     {invitation_kept_until, invitation_kept_until, invitation_kept_until},
                     &SweepCounts::invitations});
    // Separate rules for expired and used links, so each uses its own index.
    rules.push_back(
        {"identity_links", "token_hash", "expires_at_ms < ?", {dead_before}, &SweepCounts::links});
    rules.push_back(
        {"identity_links", "token_hash", "used_at_ms <= ?", {now}, &SweepCounts::links});
    rules.push_back(family_tokens_rule("identity_refresh_tokens", "identity_sessions", "session_id",
                                       "expires_at_ms < ?", family_ended_before,
                                       &SweepCounts::refresh_tokens));
    rules.push_back(family_tokens_rule("identity_refresh_tokens", "identity_sessions", "session_id",
                                       "revoked_at_ms < ?", family_ended_before,
                                       &SweepCounts::refresh_tokens));
    rules.push_back({"identity_login_failures",
                     "subject",
                     "last_failure_at_ms < ? AND (locked_until_ms IS NULL OR locked_until_ms < ?)",
                     {window_start, dead_before},
                     &SweepCounts::login_failures});
    rules.push_back({"identity_mfa_challenges",
                     "token_hash",
                     "expires_at_ms < ?",
                     {dead_before},
                     &SweepCounts::mfa_challenges});
    // A session or grant goes with its remaining refresh tokens (ON DELETE CASCADE); the rules
    // above have already taken most of them in small batches. One rule per index.
    rules.push_back(
        {"identity_sessions", "id", "revoked_at_ms < ?", {ended_before}, &SweepCounts::sessions});
    rules.push_back(
        {"identity_sessions", "id", "expires_at_ms < ?", {ended_before}, &SweepCounts::sessions});
    // A spent code of a deleted grant no longer finds a grant to revoke: the codes rule above
    // deletes it on its next round.
    rules.push_back({"identity_oauth_grants",
                     "id",
                     "revoked_at_ms < ?",
                     {ended_before},
                     &SweepCounts::oauth_grants});
    rules.push_back({"identity_oauth_grants",
                     "id",
                     "expires_at_ms < ?",
                     {ended_before},
                     &SweepCounts::oauth_grants});
    // A spent code is refused whether or not its row exists (only unused ones are matched).
    rules.push_back({"identity_mfa_recovery_codes",
                     "(user_id, code_hash)",
                     "used_at_ms < ?",
                     {ended_before},
                     &SweepCounts::recovery_codes,
                     "user_id, code_hash"});
    rules.push_back({"identity_signing_keys",
                     "id",
                     "retired_at_ms < ?",
                     {key_retired_before},
                     &SweepCounts::signing_keys});
    rules.push_back({"identity_token_revocations",
                     "id",
                     "revoked_at_ms < ?",
                     {revocation_needed_after},
                     &SweepCounts::revocations});

    SweepCounts counts;
    for (const Rule& rule : rules) {
        if (auto ok = sweep_rule(s.database, rule, batch_rows, counts); !ok) return ok.error();
    }
    return counts;
}

void Service::start_sweep(std::int64_t interval_s) {
    if (interval_s <= 0) return;
    Impl& s = *impl_;
    std::lock_guard lock(s.maintenance_mutex);
    if (s.sweep_thread.joinable()) return;
    s.sweep_thread = std::thread([this, interval_s] {
        Impl& impl = *impl_;
        auto interval = std::chrono::seconds(interval_s);
        std::unique_lock lock(impl.maintenance_mutex);
        while (!impl.maintenance_wake.wait_for(lock, interval,
                                               [&] { return impl.maintenance_stop; })) {
            lock.unlock();
            // A failure (database away) leaves the rows for the next round.
            auto swept = sweep_expired();
            if (!swept) {
                log::warn("expired identity rows not swept", {{"error", swept.error().message}});
            } else if (swept->total() > 0) {
                log::info("expired identity rows deleted",
                          {{"total", swept->total()},
                           {"oauth_requests", swept->oauth_requests},
                           {"oauth_codes", swept->oauth_codes},
                           {"oauth_revoked_tokens", swept->oauth_revoked_tokens},
                           {"oauth_refresh_tokens", swept->oauth_refresh_tokens},
                           {"invitations", swept->invitations},
                           {"links", swept->links},
                           {"refresh_tokens", swept->refresh_tokens},
                           {"login_failures", swept->login_failures},
                           {"mfa_challenges", swept->mfa_challenges},
                           {"sessions", swept->sessions},
                           {"oauth_grants", swept->oauth_grants},
                           {"recovery_codes", swept->recovery_codes},
                           {"signing_keys", swept->signing_keys},
                           {"revocations", swept->revocations}});
            }
            lock.lock();
        }
    });
}

}  // namespace nimbus::identity
