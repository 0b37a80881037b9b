// Change of email (docs/identity.md, "Change of email"): the password proves the request, a link
// mailed to the new address proves it can receive mail, and the current address is told.
#include "identity/service_impl.hpp"
#include "identity/store.hpp"

namespace nimbus::identity {
namespace {

constexpr std::string_view kChangeEmail = "change_email";
constexpr std::int64_t kSecondsPerHour = 3600;

/// Moves the account to `email` unless another account holds it by now; the unique index is the
/// final word should two changes race.
Result<bool> set_email(db::Transaction& tx, const std::string& user_id, const std::string& email,
                       std::int64_t now_ms) {
    auto taken = store::email_taken(tx, email);
    if (!taken) return taken.error();
    if (*taken) return false;
    auto changed = tx.execute(
        "UPDATE identity_users SET email = ?, email_verified_at_ms = ?, updated_at_ms = ? WHERE "
        "id = ?",
        {email, now_ms, now_ms, user_id});
    if (!changed) return changed.error();
    return *changed == 1;
}

/// Other pending change links of the user stop working once one is used.
Result<void> drop_change_links(db::Transaction& tx, const std::string& user_id,
                               std::int64_t now_ms) {
    auto changed = tx.execute(
        "UPDATE identity_links SET used_at_ms = ? WHERE user_id = ? AND purpose = ? AND "
        "used_at_ms IS NULL",
        {now_ms, user_id, std::string(kChangeEmail)});
    if (!changed) return changed.error();
    return {};
}

}  // namespace

Result<bool> Service::Impl::apply_email_change(db::Transaction& tx, const std::string& token_hash,
                                               std::int64_t now_ms) const {
    auto link = store::consume_link(tx, token_hash, std::string(kChangeEmail), now_ms);
    if (!link) return link.error();
    if (!*link) return false;
    const std::string& user_id = (*link)->user_id;
    auto user = store::find_user(tx, user_id);
    if (!user) return user.error();
    if (!*user) return false;
    std::string old_email = (*user)->user.email;
    auto moved = set_email(tx, user_id, (*link)->email, now_ms);
    if (!moved) return moved.error();
    if (!*moved) return false;
    if (auto ok = drop_change_links(tx, user_id, now_ms); !ok) return ok.error();
    if (auto ok = emit(tx, "email.changed", user_id,
                       {{"actor_id", user_id},
                        {"user_id", user_id},
                        {"target_id", user_id},
                        {"old_email", old_email},
                        {"new_email", (*link)->email}});
        !ok) {
        return ok.error();
    }
    return true;
}

Result<void> Service::request_email_change(const std::string& user_id, const std::string& new_email,
                                           const std::string& password, const ClientInfo& client) {
    Impl& s = *impl_;
    auto normalized = normalize_email(new_email);
    if (!normalized) {
        // normalize_email names its field "email"; here the field is new_email.
        std::string message = normalized.error().message;
        constexpr std::string_view kPrefix = "email: ";
        if (message.starts_with(kPrefix)) message.erase(0, kPrefix.size());
        return field_error("new_email", message);
    }
    auto user = store::find_user(s.database, user_id);
    if (!user) return user.error();
    if (!*user) return Error::not_found("the account does not exist");
    if (password.size() > kMaxPasswordBytes ||
        !s.password_matches((*user)->password_hash, password)) {
        return field_error("password", "is wrong");
    }
    const std::string& old_email = (*user)->user.email;
    if (*normalized == old_email) return field_error("new_email", "is the account's email already");
    std::int64_t now = s.clock.now_ms();
    std::string token = new_secret();
    std::string ip = sanitize(client.ip, kMaxIpBytes);
    bool taken = false;
    // Same answer to the caller either way; a taken address's owner learns of the attempt
    // instead. Queued in the transaction, so which mail goes out is decided with the link.
    mail::Message taken_notice{
        *normalized, "Attempt to move an account to your email address",
        fmt::format("Someone asked to move another Nimbus account to this address, which "
                    "already has an account. Nothing has changed. If it was you, sign in "
                    "to that account instead:\n{}\n",
                    s.page("login"))};
    mail::Message confirm{
        *normalized, "Confirm your new email address",
        fmt::format("Open this link to make this the email address of your Nimbus "
                    "account:\n{}\n\nThe link works once and expires in {} hours. If you "
                    "did not ask for it, ignore this message.\n",
                    s.link("verify-email", token),
                    s.settings.change_email_ttl_s / kSecondsPerHour)};
    mail::Message old_address_notice{
        old_email, "Your email address is about to change",
        fmt::format("Someone signed in to your Nimbus account asked to change its email "
                    "address. The change happens only when the link sent to the new address "
                    "is opened.\n\nIf it was not you, change your password now:\n{}\n",
                    s.page("forgot-password"))};
    auto committed = s.database.transact([&](db::Transaction& tx) -> Result<void> {
        auto in_use = store::email_taken(tx, *normalized);
        if (!in_use) return in_use.error();
        taken = *in_use;
        if (!taken) {
            if (auto ok = store::insert_link(
                    tx, {crypto::sha256_hex(token), std::string(kChangeEmail), user_id, *normalized,
                         now, now + s.settings.change_email_ttl_s * kMsPerSecond});
                !ok) {
                return ok;
            }
        }
        if (auto queued = s.enqueue(tx, taken ? taken_notice : confirm); !queued) return queued;
        if (auto queued = s.enqueue(tx, old_address_notice); !queued) return queued;
        return s.emit(tx, "email.change_requested", user_id,
                      {{"actor_id", user_id},
                       {"user_id", user_id},
                       {"target_id", user_id},
                       {"new_email", *normalized},
                       {"address_taken", taken},
                       {"ip", ip}});
    });
    if (!committed) return committed.error();
    s.mail_queue.wake();
    return {};
}

}  // namespace nimbus::identity
