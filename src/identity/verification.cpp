// Re-sending a verification mail (docs/identity.md, "Re-sending a verification mail"): an
// unverified account gets a new link of the kind sign-up mails, at most once per interval, and
// the answer never tells whether an account has the address.
#include <fmt/format.h>

#include "core/log.hpp"
#include "identity/identity.hpp"
#include "identity/service_impl.hpp"
#include "identity/store.hpp"
#include "identity/validate.hpp"

namespace nimbus::identity {
namespace {

/// Locks the account's row for the rest of the transaction (two resends racing on PostgreSQL
/// then cannot both pass the interval check) and tells whether it still has this email and it
/// is still unverified: the account may have changed between the lookup and the transaction.
Result<bool> lock_unverified(db::Transaction& tx, const std::string& user_id,
                             const std::string& email) {
    auto changed = tx.execute(
        "UPDATE identity_users SET updated_at_ms = updated_at_ms WHERE id = ? AND email = ? AND "
        "email_verified_at_ms IS NULL",
        {user_id, email});
    if (!changed) return changed.error();
    return *changed == 1;
}

/// When the account's newest verification link (sign-up's or a resent one) was made, if any.
Result<std::optional<std::int64_t>> newest_link_ms(db::Transaction& tx,
                                                   const std::string& user_id) {
    auto rows =
        tx.query("SELECT MAX(created_at_ms) FROM identity_links WHERE user_id = ? AND purpose = ?",
                 {user_id, std::string(kVerifyEmail)});
    if (!rows) return rows.error();
    if (rows->empty() || rows->front().is_null(0)) return std::optional<std::int64_t>();
    return std::optional<std::int64_t>(rows->front().get_int(0));
}

/// The account's earlier unused verification links stop working: only the newest mail counts,
/// so a link forwarded or left in an old inbox cannot be used later.
Result<void> supersede_links(db::Transaction& tx, const std::string& user_id, std::int64_t now_ms) {
    auto changed = tx.execute(
        "UPDATE identity_links SET used_at_ms = ? WHERE user_id = ? AND purpose = ? AND "
        "used_at_ms IS NULL",
        {now_ms, user_id, std::string(kVerifyEmail)});
    if (!changed) return changed.error();
    return {};
}

}  // namespace

Result<void> Service::resend_verification(const std::string& email, const ClientInfo& client) {
    Impl& s = *impl_;
    auto normalized = normalize_email(email);
    if (!normalized) return normalized.error();
    auto user = store::find_user_by_email(s.database, *normalized);
    if (!user) return user.error();
    std::int64_t now = s.clock.now_ms();
    std::string ip = sanitize(client.ip, kMaxIpBytes);
    if (!*user || (*user)->user.email_verified) {
        // Unknown and verified addresses commit one write too (the event alone), after the
        // same indexed read as a match, so their answer costs what an unverified account's does.
        // The event does not say which of the two it was.
        return s.database.transact([&](db::Transaction& tx) -> Result<void> {
            return s.emit(tx, "email.verification_resend_ignored",
                          "email:" + crypto::sha256_hex(*normalized), {{"ip", ip}});
        });
    }
    std::string token = new_secret();
    const std::string user_id = (*user)->user.id;
    mail::Message verify_mail{
        *normalized, "Verify your email address",
        fmt::format("Open this link to verify your email address:\n{}\n\nThe link works once "
                    "and expires in {} hours; links mailed earlier no longer work. If you did "
                    "not ask for it, ignore this message.\n",
                    s.link("verify-email", token), s.settings.verify_email_ttl_s / 3600)};
    bool mail = false;
    auto committed = s.database.transact([&](db::Transaction& tx) -> Result<void> {
        auto unverified = lock_unverified(tx, user_id, *normalized);
        if (!unverified) return unverified.error();
        if (!*unverified) return {};
        auto newest = newest_link_ms(tx, user_id);
        if (!newest) return newest.error();
        if (*newest && now - **newest < s.settings.verify_resend_interval_s * kMsPerSecond) {
            return {};
        }
        if (auto ok = supersede_links(tx, user_id, now); !ok) return ok;
        if (auto ok = store::insert_link(
                tx, {crypto::sha256_hex(token), std::string(kVerifyEmail), user_id, *normalized,
                     now, now + s.settings.verify_email_ttl_s * kMsPerSecond});
            !ok) {
            return ok;
        }
        if (auto queued = s.enqueue(tx, verify_mail); !queued) return queued;
        mail = true;
        return s.emit(
            tx, "email.verification_resent", user_id,
            {{"actor_id", user_id}, {"user_id", user_id}, {"target_id", user_id}, {"ip", ip}});
    });
    if (!committed) return committed.error();
    if (mail) s.mail_queue.wake();
    return {};
}

}  // namespace nimbus::identity
