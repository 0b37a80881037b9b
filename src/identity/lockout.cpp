#include "identity/lockout.hpp"

#include <algorithm>

#include "core/crypto.hpp"
#include "identity/service_impl.hpp"

namespace nimbus::identity::lockout {
namespace {

constexpr std::int64_t kMsPerSecond = 1000;
/// 2^kMaxDoublings * base overflows no sane maximum; stop doubling there.
constexpr std::int64_t kMaxDoublings = 30;

std::int64_t progressive(std::int64_t failures, const LockoutSettings& settings) {
    if (failures <= 0 || settings.delay_base_ms <= 0) return 0;
    std::int64_t doublings = std::min(failures - 1, kMaxDoublings);
    std::int64_t delay = settings.delay_base_ms << doublings;
    return std::min(delay, settings.delay_max_ms);
}

/// Counts one failure; a count from before the window starts over.
Result<void> count_failure(db::Transaction& tx, const std::string& subject, std::int64_t now_ms,
                           std::int64_t window_start_ms) {
    auto changed = tx.execute(
        "INSERT INTO identity_login_failures (subject, failures, last_failure_at_ms) VALUES (?, 1, "
        "?) ON CONFLICT (subject) DO UPDATE SET failures = CASE WHEN "
        "identity_login_failures.last_failure_at_ms < ? THEN 1 ELSE "
        "identity_login_failures.failures + 1 END, last_failure_at_ms = ?",
        {subject, now_ms, window_start_ms, now_ms});
    if (!changed) return changed.error();
    return {};
}

/// Locks the subject when its count reached `threshold`; the count restarts so the lock's end
/// brings a clean slate. True when this call locked it.
Result<bool> lock_if_due(db::Transaction& tx, const std::string& subject, std::int64_t threshold,
                         std::int64_t now_ms, std::int64_t until_ms) {
    auto changed = tx.execute(
        "UPDATE identity_login_failures SET locked_until_ms = ?, failures = 0 WHERE subject = ? "
        "AND failures >= ? AND (locked_until_ms IS NULL OR locked_until_ms <= ?)",
        {until_ms, subject, threshold, now_ms});
    if (!changed) return changed.error();
    return *changed == 1;
}

}  // namespace

std::string account_subject(std::string_view email) {
    return "account:" + crypto::sha256_hex(email);
}

std::string address_subject(std::string_view ip) { return "ip:" + std::string(ip); }

Result<State> read(db::Database& database, const std::string& account, const std::string& address,
                   std::int64_t now_ms, const LockoutSettings& settings) {
    auto rows = database.query(
        "SELECT subject, failures, last_failure_at_ms, locked_until_ms FROM "
        "identity_login_failures WHERE subject IN (?, ?)",
        {account, address});
    if (!rows) return rows.error();
    State state;
    std::int64_t window_start = now_ms - settings.window_s * kMsPerSecond;
    for (const auto& row : *rows) {
        bool is_account = row.get_text(0) == account;
        std::int64_t failures = row.get_int(2) >= window_start ? row.get_int(1) : 0;
        bool locked = !row.is_null(3) && row.get_int(3) > now_ms;
        (is_account ? state.account_failures : state.address_failures) = failures;
        (is_account ? state.account_locked : state.address_locked) = locked;
    }
    return state;
}

std::int64_t delay_ms(const State& state, const LockoutSettings& settings) {
    if (state.locked()) return std::max<std::int64_t>(settings.delay_max_ms, 0);
    std::int64_t scaled_address_failures =
        settings.address_failures > 0
            ? state.address_failures * settings.account_failures / settings.address_failures
            : 0;
    return std::max(progressive(state.account_failures, settings),
                    progressive(scaled_address_failures, settings));
}

Result<Recorded> record_failure(db::Transaction& tx, const std::string& account,
                                const std::string& address, std::int64_t now_ms,
                                const LockoutSettings& settings) {
    std::int64_t window_start = now_ms - settings.window_s * kMsPerSecond;
    std::int64_t until = now_ms + settings.duration_s * kMsPerSecond;
    Recorded recorded;
    if (auto ok = count_failure(tx, account, now_ms, window_start); !ok) return ok.error();
    if (auto ok = count_failure(tx, address, now_ms, window_start); !ok) return ok.error();
    auto account_locked = lock_if_due(tx, account, settings.account_failures, now_ms, until);
    if (!account_locked) return account_locked.error();
    auto address_locked = lock_if_due(tx, address, settings.address_failures, now_ms, until);
    if (!address_locked) return address_locked.error();
    recorded.account_locked_now = *account_locked;
    recorded.address_locked_now = *address_locked;
    return recorded;
}

Result<void> clear(db::Transaction& tx, const std::string& account) {
    auto changed = tx.execute("DELETE FROM identity_login_failures WHERE subject = ?", {account});
    if (!changed) return changed.error();
    return {};
}

}  // namespace nimbus::identity::lockout

namespace nimbus::identity {

Result<void> Service::Impl::record_login_failure(db::Transaction& tx,
                                                 const LoginFailure& failure) const {
    lockout::Recorded recorded;
    if (!failure.already_locked) {
        auto counted = lockout::record_failure(tx, failure.account, failure.address, failure.now_ms,
                                               settings.lockout);
        if (!counted) return counted.error();
        recorded = *counted;
    }
    if (auto ok = emit(tx, "login.failed", failure.event_subject,
                       {{"actor_id", failure.user_id},
                        {"user_id", failure.user_id},
                        {"target_id", failure.user_id},
                        {"reason", failure.reason},
                        {"ip", failure.ip}});
        !ok) {
        return ok;
    }
    std::int64_t until_ms = failure.now_ms + settings.lockout.duration_s * kMsPerSecond;
    auto locked_event = [&](std::string_view scope) {
        return emit(tx, "login.locked", failure.event_subject,
                    {{"actor_id", failure.user_id},
                     {"target_id", failure.user_id},
                     {"scope", scope},
                     {"ip", failure.ip},
                     {"locked_until", format_rfc3339(until_ms)}});
    };
    if (recorded.account_locked_now) {
        if (auto ok = locked_event("account"); !ok) return ok;
    }
    if (recorded.address_locked_now) {
        if (auto ok = locked_event("address"); !ok) return ok;
    }
    return {};
}

}  // namespace nimbus::identity
