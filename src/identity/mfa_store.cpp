#include "identity/mfa_store.hpp"

namespace nimbus::identity::store {
namespace {

Result<void> done(const Result<std::int64_t>& changed) {
    if (!changed) return changed.error();
    return {};
}

Result<bool> one_row(const Result<std::int64_t>& changed) {
    if (!changed) return changed.error();
    return *changed == 1;
}

Result<std::optional<TotpRow>> first_totp(Result<db::Rows> rows) {
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<TotpRow>();
    const db::Row& row = rows->front();
    TotpRow totp;
    totp.secret_sealed = row.get_blob(0);
    totp.confirmed = !row.is_null(1);
    totp.confirmed_at_ms = totp.confirmed ? row.get_int(1) : 0;
    totp.last_used_step = row.get_int(2);
    return std::optional<TotpRow>(std::move(totp));
}

constexpr std::string_view kTotpSelect =
    "SELECT secret_sealed, confirmed_at_ms, last_used_step FROM identity_mfa_totp WHERE "
    "user_id = ?";

}  // namespace

Result<std::optional<TotpRow>> find_totp(db::Database& database, const std::string& user_id) {
    return first_totp(database.query(std::string(kTotpSelect), {user_id}));
}

Result<std::optional<TotpRow>> find_totp(db::Transaction& tx, const std::string& user_id) {
    return first_totp(tx.query(std::string(kTotpSelect), {user_id}));
}

Result<bool> put_pending_totp(db::Transaction& tx, const std::string& user_id,
                              const db::Bytes& secret_sealed, std::int64_t now_ms) {
    return one_row(tx.execute(
        "INSERT INTO identity_mfa_totp (user_id, secret_sealed, created_at_ms, last_used_step) "
        "VALUES (?, ?, ?, 0) ON CONFLICT (user_id) DO UPDATE SET secret_sealed = "
        "excluded.secret_sealed, created_at_ms = excluded.created_at_ms, last_used_step = 0 "
        "WHERE identity_mfa_totp.confirmed_at_ms IS NULL",
        {user_id, secret_sealed, now_ms}));
}

Result<bool> confirm_totp(db::Transaction& tx, const std::string& user_id, std::int64_t step,
                          std::int64_t now_ms) {
    return one_row(
        tx.execute("UPDATE identity_mfa_totp SET confirmed_at_ms = ?, last_used_step = ? WHERE "
                   "user_id = ? AND confirmed_at_ms IS NULL",
                   {now_ms, step, user_id}));
}

Result<bool> use_totp_step(db::Transaction& tx, const std::string& user_id, std::int64_t step) {
    return one_row(
        tx.execute("UPDATE identity_mfa_totp SET last_used_step = ? WHERE user_id = ? AND "
                   "confirmed_at_ms IS NOT NULL AND last_used_step < ?",
                   {step, user_id, step}));
}

Result<bool> delete_totp(db::Transaction& tx, const std::string& user_id) {
    return one_row(tx.execute("DELETE FROM identity_mfa_totp WHERE user_id = ?", {user_id}));
}

Result<void> replace_recovery_codes(db::Transaction& tx, const std::string& user_id,
                                    const std::vector<std::string>& code_hashes,
                                    std::int64_t now_ms) {
    if (auto ok = delete_recovery_codes(tx, user_id); !ok) return ok;
    for (const auto& hash : code_hashes) {
        if (auto ok = done(tx.execute("INSERT INTO identity_mfa_recovery_codes (user_id, "
                                      "code_hash, created_at_ms) VALUES (?, ?, ?)",
                                      {user_id, hash, now_ms}));
            !ok) {
            return ok;
        }
    }
    return {};
}

Result<bool> use_recovery_code(db::Transaction& tx, const std::string& user_id,
                               const std::string& code_hash, std::int64_t now_ms) {
    return one_row(
        tx.execute("UPDATE identity_mfa_recovery_codes SET used_at_ms = ? WHERE user_id = ? AND "
                   "code_hash = ? AND used_at_ms IS NULL",
                   {now_ms, user_id, code_hash}));
}

Result<std::int64_t> count_recovery_codes(db::Database& database, const std::string& user_id) {
    auto rows = database.query(
        "SELECT COUNT(*) FROM identity_mfa_recovery_codes WHERE user_id = ? AND used_at_ms IS "
        "NULL",
        {user_id});
    if (!rows) return rows.error();
    return rows->front().get_int(0);
}

Result<void> delete_recovery_codes(db::Transaction& tx, const std::string& user_id) {
    return done(tx.execute("DELETE FROM identity_mfa_recovery_codes WHERE user_id = ?", {user_id}));
}

Result<void> insert_challenge(db::Transaction& tx, const std::string& token_hash,
                              const std::string& user_id, std::int64_t now_ms,
                              std::int64_t expires_at_ms) {
    return done(tx.execute(
        "INSERT INTO identity_mfa_challenges (token_hash, user_id, created_at_ms, expires_at_ms) "
        "VALUES (?, ?, ?, ?)",
        {token_hash, user_id, now_ms, expires_at_ms}));
}

Result<std::optional<Challenge>> find_challenge(db::Database& database,
                                                const std::string& token_hash,
                                                std::int64_t now_ms) {
    auto rows = database.query(
        "SELECT user_id, failed_attempts FROM identity_mfa_challenges WHERE token_hash = ? AND "
        "used_at_ms IS NULL AND expires_at_ms > ?",
        {token_hash, now_ms});
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<Challenge>();
    return std::optional<Challenge>(Challenge{rows->front().get_text(0), rows->front().get_int(1)});
}

Result<bool> consume_challenge(db::Transaction& tx, const std::string& token_hash,
                               std::int64_t now_ms) {
    return one_row(
        tx.execute("UPDATE identity_mfa_challenges SET used_at_ms = ? WHERE token_hash = ? AND "
                   "used_at_ms IS NULL AND expires_at_ms > ?",
                   {now_ms, token_hash, now_ms}));
}

Result<void> fail_challenge(db::Transaction& tx, const std::string& token_hash,
                            std::int64_t max_attempts, std::int64_t now_ms) {
    return done(tx.execute(
        "UPDATE identity_mfa_challenges SET failed_attempts = failed_attempts + 1, used_at_ms = "
        "CASE WHEN failed_attempts + 1 >= ? THEN ? ELSE used_at_ms END WHERE token_hash = ?",
        {max_attempts, now_ms, token_hash}));
}

}  // namespace nimbus::identity::store
