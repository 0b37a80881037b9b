// Revoked sessions, grants and access tokens on every node (docs/identity.md, "Revocation").
// Access tokens are checked without the database, so each node keeps the ids revoked within an
// access-token lifetime in memory and refuses tokens that carry one (`sid` or `jti`). The
// revoking transaction records the id in identity_token_revocations; the node that revoked adds
// it at once, every other node reads the new rows every `revocation_poll_ms`.

#include <algorithm>
#include <chrono>

#include "identity/service_impl.hpp"

namespace nimbus::identity {
namespace {

/// How far back each poll reads again. A revocation records its time before its transaction
/// commits, and the recording node's clock may run behind ours by the tolerated skew, so a row
/// can appear with a time before our previous poll; reading this much again (a few rows, by the
/// index) means none is missed. Rows already known are simply found again.
constexpr std::int64_t kCommitAllowanceMs = 5000;
constexpr std::int64_t kRereadMs = kClockLeewayS * kMsPerSecond + kCommitAllowanceMs;

}  // namespace

bool Service::Impl::is_revoked(const AccessClaims& claims) const {
    if (!any_revoked.load(std::memory_order_acquire)) return false;
    std::shared_lock lock(revoked_mutex);
    return (!claims.session_id.empty() && revoked_ids.contains(claims.session_id)) ||
           (!claims.token_id.empty() && revoked_ids.contains(claims.token_id));
}

void Service::Impl::deny(const std::string& id) const {
    if (id.empty()) return;
    // Every token the id could stop was issued before now and expires within the access-token
    // lifetime, judged with the clock leeway by nodes whose clocks differ by as much.
    std::int64_t forget_at =
        clock.now_ms() + (settings.access_token_ttl_s + 2 * kClockLeewayS) * kMsPerSecond;
    std::unique_lock lock(revoked_mutex);
    auto& entry = revoked_ids[id];
    entry = std::max(entry, forget_at);
    any_revoked.store(true, std::memory_order_release);
}

Result<void> Service::Impl::poll_revocations() const {
    std::lock_guard poll(poll_mutex);
    std::int64_t now = clock.now_ms();
    std::int64_t keep_ms = (settings.access_token_ttl_s + 2 * kClockLeewayS) * kMsPerSecond;
    // The first poll (start) reads everything still relevant; later ones what is new.
    std::int64_t since =
        polled_at_ms == 0 ? now - keep_ms : std::max(now - keep_ms, polled_at_ms - kRereadMs);
    auto rows = store::revocations_since(database, since);
    if (!rows) return rows.error();
    std::unique_lock lock(revoked_mutex);
    for (const auto& row : *rows) {
        std::int64_t forget_at = row.revoked_at_ms + keep_ms;
        if (forget_at <= now) continue;
        auto& entry = revoked_ids[row.id];
        entry = std::max(entry, forget_at);
    }
    std::erase_if(revoked_ids, [now](const auto& entry) { return entry.second <= now; });
    any_revoked.store(!revoked_ids.empty(), std::memory_order_release);
    polled_at_ms = now;
    return {};
}

void Service::Impl::revoked_here() const {
    if (auto ok = poll_revocations(); !ok) {
        log::warn("revocations not read", {{"error", ok.error().message}});
    }
}

Result<void> Service::poll_revocations() { return impl_->poll_revocations(); }

void Service::on_revoked() { impl_->revoked_here(); }

void Service::start_revocation_poll() {
    Impl& s = *impl_;
    if (s.settings.revocation_poll_ms <= 0) return;
    std::lock_guard lock(s.maintenance_mutex);
    if (s.revocation_thread.joinable()) return;
    s.revocation_thread = std::thread([this] {
        Impl& impl = *impl_;
        auto interval = std::chrono::milliseconds(impl.settings.revocation_poll_ms);
        bool failing = false;
        std::unique_lock lock(impl.maintenance_mutex);
        while (!impl.maintenance_wake.wait_for(lock, interval,
                                               [&] { return impl.maintenance_stop; })) {
            lock.unlock();
            // A failure (database away) keeps what is known; the next round reads from the last
            // successful poll, so nothing is skipped. Logged when it starts and ends, not four
            // times a second.
            auto ok = impl.poll_revocations();
            if (!ok && !failing) {
                log::warn("revocations not read", {{"error", ok.error().message}});
            } else if (ok && failing) {
                log::info("revocations read again", {});
            }
            failing = !ok;
            lock.lock();
        }
    });
}

}  // namespace nimbus::identity
