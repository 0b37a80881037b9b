#include "identity/store.hpp"

#include "identity/permissions.hpp"

namespace nimbus::identity::store {
namespace {

constexpr std::string_view kUserColumns =
    "id, email, name, email_verified_at_ms, created_at_ms, updated_at_ms, password_hash, "
    "is_operator";
constexpr int kMaxSessionsListed = 100;

UserRecord user_from_row(const db::Row& row) {
    UserRecord record;
    record.user.id = row.get_text(0);
    record.user.email = row.get_text(1);
    record.user.name = row.get_text(2);
    record.user.email_verified = !row.is_null(3);
    record.user.created_at_ms = row.get_int(4);
    record.user.updated_at_ms = row.get_int(5);
    record.password_hash = row.get_text(6);
    record.user.is_operator = row.get_int(7) != 0;
    return record;
}

Result<std::optional<UserRecord>> first_user(Result<db::Rows> rows) {
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<UserRecord>();
    return std::optional<UserRecord>(user_from_row(rows->front()));
}

Link link_from_row(const db::Row& row) {
    return {row.get_text(0), row.get_text(1), row.get_text(2),
            row.get_text(3), row.get_int(4),  row.get_int(5)};
}

constexpr std::string_view kLinkColumns =
    "token_hash, purpose, user_id, email, created_at_ms, expires_at_ms";

Result<void> done(const Result<std::int64_t>& changed) {
    if (!changed) return changed.error();
    return {};
}

}  // namespace

Result<std::optional<UserRecord>> find_user_by_email(db::Database& database,
                                                     const std::string& email) {
    return first_user(database.query(
        std::string("SELECT ") + std::string(kUserColumns) + " FROM identity_users WHERE email = ?",
        {email}));
}

Result<std::optional<UserRecord>> find_user(db::Database& database, const std::string& user_id) {
    return first_user(database.query(
        std::string("SELECT ") + std::string(kUserColumns) + " FROM identity_users WHERE id = ?",
        {user_id}));
}

Result<std::optional<UserRecord>> find_user(db::Transaction& tx, const std::string& user_id) {
    return first_user(tx.query(
        std::string("SELECT ") + std::string(kUserColumns) + " FROM identity_users WHERE id = ?",
        {user_id}));
}

Result<bool> email_taken(db::Transaction& tx, const std::string& email) {
    auto rows = tx.query("SELECT 1 FROM identity_users WHERE email = ?", {email});
    if (!rows) return rows.error();
    return !rows->empty();
}

Result<bool> insert_user(db::Transaction& tx, const UserRecord& record) {
    auto inserted = tx.execute(
        "INSERT INTO identity_users (id, email, name, password_hash, created_at_ms, "
        "updated_at_ms) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (email) DO NOTHING",
        {record.user.id, record.user.email, record.user.name, record.password_hash,
         record.user.created_at_ms, record.user.updated_at_ms});
    if (!inserted) return inserted.error();
    return *inserted == 1;
}

Result<void> set_password_hash(db::Transaction& tx, const std::string& user_id,
                               const std::string& hash, std::int64_t now_ms) {
    return done(
        tx.execute("UPDATE identity_users SET password_hash = ?, updated_at_ms = ? WHERE id = ?",
                   {hash, now_ms, user_id}));
}

Result<bool> set_name(db::Transaction& tx, const std::string& user_id, const std::string& name,
                      std::int64_t now_ms) {
    auto changed = tx.execute("UPDATE identity_users SET name = ?, updated_at_ms = ? WHERE id = ?",
                              {name, now_ms, user_id});
    if (!changed) return changed.error();
    return *changed == 1;
}

Result<bool> delete_user(db::Transaction& tx, const std::string& user_id) {
    auto changed = tx.execute("DELETE FROM identity_users WHERE id = ?", {user_id});
    if (!changed) return changed.error();
    return *changed == 1;
}

Result<std::vector<std::string>> lock_sole_owned_orgs(db::Transaction& tx,
                                                      const std::string& user_id) {
    const std::string owner(kOwnerRole);
    // A no-op UPDATE takes the same row locks as the organization changes (lock_org), so a
    // co-owner leaving at the same time waits for this transaction and sees its outcome.
    auto locked = tx.execute(
        "UPDATE identity_orgs SET updated_at_ms = updated_at_ms WHERE id IN (SELECT org_id FROM "
        "identity_org_members WHERE user_id = ? AND role = ?)",
        {user_id, owner});
    if (!locked) return locked.error();
    auto rows = tx.query(
        "SELECT m.org_id FROM identity_org_members m WHERE m.user_id = ? AND m.role = ? AND NOT "
        "EXISTS (SELECT 1 FROM identity_org_members o WHERE o.org_id = m.org_id AND o.role = ? "
        "AND o.user_id <> m.user_id) ORDER BY m.org_id",
        {user_id, owner, owner});
    if (!rows) return rows.error();
    std::vector<std::string> org_ids;
    org_ids.reserve(rows->size());
    for (const auto& row : *rows) org_ids.push_back(row.get_text(0));
    return org_ids;
}

Result<bool> mark_email_verified(db::Transaction& tx, const std::string& user_id,
                                 const std::string& email, std::int64_t now_ms) {
    auto changed = tx.execute(
        "UPDATE identity_users SET email_verified_at_ms = COALESCE(email_verified_at_ms, ?), "
        "updated_at_ms = ? WHERE id = ? AND email = ?",
        {now_ms, now_ms, user_id, email});
    if (!changed) return changed.error();
    return *changed == 1;
}

Result<void> insert_link(db::Transaction& tx, const Link& link) {
    return done(tx.execute(
        "INSERT INTO identity_links (token_hash, purpose, user_id, email, created_at_ms, "
        "expires_at_ms) VALUES (?, ?, ?, ?, ?, ?)",
        {link.token_hash, link.purpose, link.user_id, link.email, link.created_at_ms,
         link.expires_at_ms}));
}

Result<std::optional<Link>> find_usable_link(db::Database& database, const std::string& token_hash,
                                             const std::string& purpose, std::int64_t now_ms) {
    auto rows = database.query(std::string("SELECT ") + std::string(kLinkColumns) +
                                   " FROM identity_links WHERE token_hash = ? AND purpose = ? AND "
                                   "used_at_ms IS NULL AND expires_at_ms > ?",
                               {token_hash, purpose, now_ms});
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<Link>();
    return std::optional<Link>(link_from_row(rows->front()));
}

Result<std::optional<Link>> consume_link(db::Transaction& tx, const std::string& token_hash,
                                         const std::string& purpose, std::int64_t now_ms) {
    auto changed = tx.execute(
        "UPDATE identity_links SET used_at_ms = ? WHERE token_hash = ? AND purpose = ? AND "
        "used_at_ms IS NULL AND expires_at_ms > ?",
        {now_ms, token_hash, purpose, now_ms});
    if (!changed) return changed.error();
    if (*changed != 1) return std::optional<Link>();
    auto rows = tx.query(std::string("SELECT ") + std::string(kLinkColumns) +
                             " FROM identity_links WHERE token_hash = ?",
                         {token_hash});
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<Link>();
    return std::optional<Link>(link_from_row(rows->front()));
}

Result<void> insert_session(db::Transaction& tx, const NewSession& session) {
    return done(
        tx.execute("INSERT INTO identity_sessions (id, user_id, user_agent, ip, created_at_ms, "
                   "last_seen_at_ms, expires_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   {session.id, session.user_id, session.user_agent, session.ip, session.now_ms,
                    session.now_ms, session.expires_at_ms}));
}

Result<void> insert_refresh_token(db::Transaction& tx, const std::string& token_hash,
                                  const std::string& session_id, std::int64_t now_ms) {
    return done(
        tx.execute("INSERT INTO identity_refresh_tokens (token_hash, session_id, created_at_ms) "
                   "VALUES (?, ?, ?)",
                   {token_hash, session_id, now_ms}));
}

Result<std::optional<RefreshTokenState>> find_refresh_token(db::Transaction& tx,
                                                            const std::string& token_hash) {
    auto rows = tx.query(
        "SELECT t.session_id, s.user_id, t.used_at_ms, s.revoked_at_ms, s.expires_at_ms, "
        "s.last_seen_at_ms, s.user_agent, s.ip, u.is_operator "
        "FROM identity_refresh_tokens t JOIN identity_sessions s ON s.id = t.session_id "
        "JOIN identity_users u ON u.id = s.user_id WHERE t.token_hash = ?",
        {token_hash});
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<RefreshTokenState>();
    const db::Row& row = rows->front();
    return std::optional<RefreshTokenState>(RefreshTokenState{
        row.get_text(0), row.get_text(1), !row.is_null(2), !row.is_null(3), row.get_int(4),
        row.get_int(5), row.get_text(6), row.get_text(7), row.get_int(8) != 0});
}

Result<bool> mark_refresh_token_used(db::Transaction& tx, const std::string& token_hash,
                                     std::int64_t now_ms) {
    auto changed = tx.execute(
        "UPDATE identity_refresh_tokens SET used_at_ms = ? WHERE token_hash = ? AND used_at_ms "
        "IS NULL",
        {now_ms, token_hash});
    if (!changed) return changed.error();
    return *changed == 1;
}

Result<void> touch_session(db::Transaction& tx, const std::string& session_id,
                           const std::string& user_agent, const std::string& ip,
                           std::int64_t now_ms, std::int64_t expires_at_ms) {
    return done(
        tx.execute("UPDATE identity_sessions SET user_agent = ?, ip = ?, last_seen_at_ms = ?, "
                   "expires_at_ms = ? WHERE id = ?",
                   {user_agent, ip, now_ms, expires_at_ms, session_id}));
}

Result<bool> revoke_session(db::Transaction& tx, const std::string& user_id,
                            const std::string& session_id, const std::string& reason,
                            std::int64_t now_ms) {
    auto changed = tx.execute(
        "UPDATE identity_sessions SET revoked_at_ms = ?, revoked_reason = ? WHERE id = ? AND "
        "user_id = ? AND revoked_at_ms IS NULL AND expires_at_ms > ?",
        {now_ms, reason, session_id, user_id, now_ms});
    if (!changed) return changed.error();
    if (*changed != 1) return false;
    if (auto ok = record_revocation(tx, session_id, now_ms); !ok) return ok.error();
    return true;
}

Result<std::int64_t> revoke_sessions(db::Transaction& tx, const std::string& user_id,
                                     const std::string& keep_session_id, const std::string& reason,
                                     std::int64_t now_ms) {
    // Recorded before the update marks them, while "not yet revoked" still finds them. An
    // expired session has no live access token (each was issued before its last refresh).
    if (auto recorded = tx.execute(
            "INSERT INTO identity_token_revocations (id, revoked_at_ms) SELECT id, CAST(? AS "
            "BIGINT) FROM identity_sessions WHERE user_id = ? AND id <> ? AND revoked_at_ms IS "
            "NULL AND expires_at_ms > ? ON CONFLICT (id) DO NOTHING",
            {now_ms, user_id, keep_session_id, now_ms});
        !recorded) {
        return recorded.error();
    }
    return tx.execute(
        "UPDATE identity_sessions SET revoked_at_ms = ?, revoked_reason = ? WHERE user_id = ? AND "
        "id <> ? AND revoked_at_ms IS NULL",
        {now_ms, reason, user_id, keep_session_id});
}

Result<void> record_revocation(db::Transaction& tx, const std::string& id, std::int64_t now_ms) {
    return done(tx.execute(
        "INSERT INTO identity_token_revocations (id, revoked_at_ms) VALUES (?, ?) ON CONFLICT (id) "
        "DO NOTHING",
        {id, now_ms}));
}

Result<std::vector<Revocation>> revocations_since(db::Database& database, std::int64_t since_ms) {
    auto rows = database.query(
        "SELECT id, revoked_at_ms FROM identity_token_revocations WHERE revoked_at_ms >= ?",
        {since_ms});
    if (!rows) return rows.error();
    std::vector<Revocation> out;
    out.reserve(rows->size());
    for (const auto& row : *rows) out.push_back({row.get_text(0), row.get_int(1)});
    return out;
}

Result<std::vector<SessionInfo>> list_sessions(db::Database& database, const std::string& user_id,
                                               std::int64_t now_ms) {
    return list_sessions(database, user_id, now_ms, std::nullopt, kMaxSessionsListed);
}

Result<std::vector<SessionInfo>> list_sessions(db::Database& database, const std::string& user_id,
                                               std::int64_t now_ms,
                                               const std::optional<std::string>& before_id,
                                               std::size_t limit) {
    auto limit_param = static_cast<std::int64_t>(limit);
    // Two statements rather than a made-up upper bound: no id sorts after every other in all
    // collations.
    auto rows = before_id ? database.query(
                                "SELECT id, user_agent, ip, created_at_ms, last_seen_at_ms FROM "
                                "identity_sessions WHERE user_id = ? AND revoked_at_ms IS NULL AND "
                                "expires_at_ms > ? AND id < ? ORDER BY id DESC LIMIT ?",
                                {user_id, now_ms, *before_id, limit_param})
                          : database.query(
                                "SELECT id, user_agent, ip, created_at_ms, last_seen_at_ms FROM "
                                "identity_sessions WHERE user_id = ? AND revoked_at_ms IS NULL AND "
                                "expires_at_ms > ? ORDER BY id DESC LIMIT ?",
                                {user_id, now_ms, limit_param});
    if (!rows) return rows.error();
    std::vector<SessionInfo> sessions;
    for (const auto& row : *rows) {
        SessionInfo info;
        info.id = row.get_text(0);
        info.user_agent = row.get_text(1);
        info.ip = row.get_text(2);
        info.created_at_ms = row.get_int(3);
        info.last_seen_at_ms = row.get_int(4);
        sessions.push_back(std::move(info));
    }
    return sessions;
}

Result<std::vector<SigningKeyRow>> active_signing_keys(db::Database& database) {
    auto rows = database.query(
        "SELECT id, generation, private_key_sealed FROM identity_signing_keys WHERE "
        "retired_at_ms IS NULL ORDER BY generation");
    if (!rows) return rows.error();
    std::vector<SigningKeyRow> keys;
    for (const auto& row : *rows) {
        keys.push_back({row.get_text(0), row.get_int(1), row.get_blob(2)});
    }
    return keys;
}

Result<bool> insert_signing_key(db::Transaction& tx, const SigningKeyRow& key,
                                const std::string& public_jwk, std::int64_t now_ms) {
    auto inserted = tx.execute(
        "INSERT INTO identity_signing_keys (id, generation, algorithm, public_jwk, "
        "private_key_sealed, created_at_ms) VALUES (?, ?, 'ES256', ?, ?, ?) ON CONFLICT "
        "(generation) DO NOTHING",
        {key.id, key.generation, public_jwk, key.private_key_sealed, now_ms});
    if (!inserted) return inserted.error();
    return *inserted == 1;
}

}  // namespace nimbus::identity::store
