// Refresh-token rotation. The write (spend the presented token, add its successor, note the
// session's use) joins the database's group commit, so concurrent refreshes share one durable
// commit instead of paying an fsync each; the access token is signed after the commit, outside
// the writer, on the caller's thread. docs/identity.md ("Tokens") and docs/benchmarks.md.

#include <memory>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "identity/identity.hpp"
#include "identity/service_impl.hpp"

namespace nimbus::identity {
namespace {

/// How stale a session's last-seen time (and so its sliding expiry) may get before a refresh
/// writes it again. Skipping that UPDATE on most refreshes keeps the rotation to one read and
/// two writes; the session then lasts up to this much less than refresh_token_ttl_s from its
/// last refresh, never more.
constexpr std::int64_t kSessionTouchIntervalMs = 60'000;

}  // namespace

/// One refresh: its input, and what the transaction found and did.
struct Service::Impl::Rotation {
    std::string token_hash;
    std::string user_agent;
    std::string ip;
    std::int64_t now_ms = 0;
    std::int64_t expires_at_ms = 0;

    std::string next_token;  ///< the successor, stored as its hash
    bool rotated = false;
    bool reused = false;
    std::string user_id;
    std::string session_id;
    bool is_operator = false;
};

std::shared_ptr<Service::Impl::Rotation> Service::Impl::make_rotation(
    const std::string& refresh_token, const ClientInfo& client) const {
    auto rotation = std::make_shared<Rotation>();
    std::int64_t now_ms = clock.now_ms();
    rotation->token_hash = crypto::sha256_hex(refresh_token);
    rotation->user_agent = sanitize(client.user_agent, kMaxUserAgentBytes);
    rotation->ip = sanitize(client.ip, kMaxIpBytes);
    rotation->now_ms = now_ms;
    rotation->expires_at_ms = now_ms + settings.refresh_token_ttl_s * kMsPerSecond;
    rotation->next_token = new_secret();
    return rotation;
}

/// The transaction, on the group's committer thread. What it reports counts only once the
/// commit succeeded (finish_rotation checks that first).
Result<void> Service::Impl::rotate(Rotation& r, db::Transaction& tx) const {
    auto state = store::find_refresh_token(tx, r.token_hash);
    if (!state) return state.error();
    if (!*state || (*state)->session_revoked || (*state)->session_expires_at_ms <= r.now_ms) {
        return {};
    }
    const store::RefreshTokenState& found = **state;
    r.user_id = found.user_id;
    r.session_id = found.session_id;
    auto marked = store::mark_refresh_token_used(tx, r.token_hash, r.now_ms);
    if (!marked) return marked.error();
    if (found.used || !*marked) {
        // A rotated token came back: someone holds a copy. End the whole family.
        r.reused = true;
        auto revoked =
            store::revoke_session(tx, found.user_id, found.session_id, "reuse", r.now_ms);
        if (!revoked) return revoked.error();
        return emit(tx, "refresh_token.reused", found.user_id,
                    {{"actor_id", found.user_id},
                     {"user_id", found.user_id},
                     {"target_id", found.session_id},
                     {"session_id", found.session_id},
                     {"ip", r.ip}});
    }
    bool moved = found.session_user_agent != r.user_agent || found.session_ip != r.ip;
    if (moved || r.now_ms - found.session_last_seen_at_ms >= kSessionTouchIntervalMs) {
        if (auto ok = store::touch_session(tx, found.session_id, r.user_agent, r.ip, r.now_ms,
                                           r.expires_at_ms);
            !ok) {
            return ok;
        }
    }
    if (auto ok = store::insert_refresh_token(tx, crypto::sha256_hex(r.next_token),
                                              found.session_id, r.now_ms);
        !ok) {
        return ok;
    }
    r.is_operator = found.user_is_operator;
    r.rotated = true;
    return {};
}

/// After the commit: the answer, with the access token signed outside the writer.
Result<TokenPair> Service::Impl::finish_rotation(const Rotation& r,
                                                 const Result<void>& committed) const {
    if (!committed) return committed.error();
    if (r.reused) {
        log::warn("refresh token reused; session revoked", {});
        // Its access tokens stop here at once (no database read on this I/O thread), on other
        // nodes at their next poll.
        deny(r.session_id);
    }
    if (!r.rotated) return unauthenticated("the refresh token is invalid");
    auto access = sign_access_token(r.user_id, r.session_id, r.now_ms, r.is_operator);
    if (!access) return access.error();
    TokenPair pair;
    pair.access_token = std::move(*access);
    pair.expires_in_s = settings.access_token_ttl_s;
    pair.refresh_token = r.next_token;
    pair.refresh_expires_in_s = settings.refresh_token_ttl_s;
    pair.session_id = r.session_id;
    return pair;
}

void Service::finish_writes() { impl_->group_commit.reset(); }

Result<TokenPair> Service::refresh(const std::string& refresh_token, const ClientInfo& client) {
    const Impl& s = *impl_;
    if (!s.group_commit) return Error::unavailable("the server is stopping");
    auto rotation = s.make_rotation(refresh_token, client);
    auto committed = s.group_commit->transact(
        [&s, rotation](db::Transaction& tx) { return s.rotate(*rotation, tx); });
    return s.finish_rotation(*rotation, committed);
}

boost::asio::awaitable<Result<TokenPair>> Service::refresh_async(const std::string& refresh_token,
                                                                 const ClientInfo& client) {
    const Impl& s = *impl_;
    if (!s.group_commit) co_return Error::unavailable("the server is stopping");
    // Everything needed from the arguments is copied here, before the first suspension.
    auto rotation = s.make_rotation(refresh_token, client);
    // Wait for the group commit without holding this I/O thread: the completion is posted back
    // to the coroutine's own executor. The initiation is a named local, not a temporary inside
    // the co_await expression: GCC 12 destroys such temporaries twice (GCC PR 99576), which
    // would drop `rotation` while the committer still uses it.
    auto initiation = [&s, rotation](auto handler) {
        auto home = boost::asio::get_associated_executor(handler);
        // std::function needs a copyable callable; the coroutine's handler is move-only.
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        auto work = [&s, rotation](db::Transaction& tx) { return s.rotate(*rotation, tx); };
        auto done = [shared, home](Result<void> outcome) {
            boost::asio::post(home, [shared, outcome = std::move(outcome)]() mutable {
                (*shared)(std::move(outcome));
            });
        };
        s.group_commit->submit(std::move(work), std::move(done));
    };
    auto commit =
        boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(Result<void>)>(
            std::move(initiation), boost::asio::use_awaitable);
    Result<void> committed = co_await std::move(commit);
    co_return s.finish_rotation(*rotation, committed);
}

}  // namespace nimbus::identity
