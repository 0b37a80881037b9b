#include "identity/oidc_store.hpp"

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "identity/oauth.hpp"
#include "identity/store.hpp"

namespace nimbus::identity::oidc_store {
namespace {

#define NIMBUS_OAUTH_CLIENT_COLUMNS                                                          \
    "id, org_id, name, client_type, secret_hash, redirect_uris, post_logout_redirect_uris, " \
    "grant_types, scopes, created_by, created_at_ms, updated_at_ms "
#define NIMBUS_OAUTH_GRANT_COLUMNS                                                         \
    "g.id, g.client_id, g.user_id, g.scope, g.code_hash, g.auth_time_s, g.created_at_ms, " \
    "g.expires_at_ms, g.revoked_at_ms "

std::string uri_list(const std::vector<std::string>& uris) {
    boost::json::array array;
    for (const auto& uri : uris) array.emplace_back(uri);
    return boost::json::serialize(array);
}

/// Our own JSON, written by uri_list; anything else reads as an empty list.
std::vector<std::string> parse_uri_list(const std::string& text) {
    std::vector<std::string> out;
    boost::system::error_code ec;
    auto value = boost::json::parse(text, ec);
    if (ec || !value.is_array()) return out;
    for (const auto& entry : value.as_array()) {
        if (entry.is_string()) out.emplace_back(entry.as_string());
    }
    return out;
}

std::string words(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) {
        if (!out.empty()) out.push_back(' ');
        out += item;
    }
    return out;
}

ClientRecord client_from(const db::Row& row) {
    ClientRecord record;
    OAuthClient& client = record.client;
    client.id = row.get_text(0);
    client.org_id = row.get_text(1);
    client.name = row.get_text(2);
    client.type = row.get_text(3);
    record.secret_hash = row.get_optional_text(4);
    client.redirect_uris = parse_uri_list(row.get_text(5));
    client.post_logout_redirect_uris = parse_uri_list(row.get_text(6));
    client.grant_types = oauth::split_scope(row.get_text(7));
    client.scopes = oauth::split_scope(row.get_text(8));
    client.created_by = row.get_text(9);
    client.created_at_ms = row.get_int(10);
    client.updated_at_ms = row.get_int(11);
    return record;
}

Grant grant_from(const db::Row& row) {
    Grant grant;
    grant.id = row.get_text(0);
    grant.client_id = row.get_text(1);
    grant.user_id = row.get_text(2);
    grant.scope = row.get_text(3);
    grant.code_hash = row.get_text(4);
    grant.auth_time_s = row.get_int(5);
    grant.created_at_ms = row.get_int(6);
    grant.expires_at_ms = row.get_int(7);
    grant.revoked = !row.is_null(8);
    return grant;
}

template <class Session>
Result<std::optional<Grant>> find_grant_in(Session& session, const std::string& grant_id) {
    auto rows = session.query("SELECT " NIMBUS_OAUTH_GRANT_COLUMNS
                              "FROM identity_oauth_grants g WHERE g.id = ?",
                              {grant_id});
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<Grant>();
    return std::optional<Grant>(grant_from(rows->front()));
}

template <class Session>
Result<std::optional<RefreshToken>> find_refresh_in(Session& session,
                                                    const std::string& token_hash) {
    auto rows = session.query("SELECT " NIMBUS_OAUTH_GRANT_COLUMNS
                              ", t.used_at_ms FROM identity_oauth_refresh_tokens t "
                              "JOIN identity_oauth_grants g ON g.id = t.grant_id "
                              "WHERE t.token_hash = ?",
                              {token_hash});
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<RefreshToken>();
    const db::Row& row = rows->front();
    constexpr std::size_t kUsedColumn = 9;
    return std::optional<RefreshToken>(RefreshToken{grant_from(row), !row.is_null(kUsedColumn)});
}

Result<void> done(const Result<std::int64_t>& changed) {
    if (!changed) return changed.error();
    return {};
}

}  // namespace

Result<void> insert_client(db::Transaction& tx, const ClientRecord& record) {
    const OAuthClient& c = record.client;
    return done(
        tx.execute("INSERT INTO identity_oauth_clients (" NIMBUS_OAUTH_CLIENT_COLUMNS
                   ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   {c.id, c.org_id, c.name, c.type, record.secret_hash, uri_list(c.redirect_uris),
                    uri_list(c.post_logout_redirect_uris), words(c.grant_types), words(c.scopes),
                    c.created_by, c.created_at_ms, c.updated_at_ms}));
}

Result<std::optional<ClientRecord>> find_client(db::Database& database,
                                                const std::string& client_id) {
    auto rows = database.query("SELECT " NIMBUS_OAUTH_CLIENT_COLUMNS
                               "FROM identity_oauth_clients WHERE id = ?",
                               {client_id});
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<ClientRecord>();
    return std::optional<ClientRecord>(client_from(rows->front()));
}

Result<std::optional<ClientRecord>> find_org_client(db::Transaction& tx, const std::string& org_id,
                                                    const std::string& client_id) {
    auto rows = tx.query("SELECT " NIMBUS_OAUTH_CLIENT_COLUMNS
                         "FROM identity_oauth_clients WHERE org_id = ? AND id = ?",
                         {org_id, client_id});
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<ClientRecord>();
    return std::optional<ClientRecord>(client_from(rows->front()));
}

Result<std::vector<OAuthClient>> list_clients(db::Database& database, const std::string& org_id,
                                              const std::string& after_id, std::size_t limit) {
    auto rows = database.query("SELECT " NIMBUS_OAUTH_CLIENT_COLUMNS
                               "FROM identity_oauth_clients WHERE org_id = ? AND id > ? ORDER BY "
                               "id LIMIT ?",
                               {org_id, after_id, static_cast<std::int64_t>(limit)});
    if (!rows) return rows.error();
    std::vector<OAuthClient> out;
    for (const auto& row : *rows) out.push_back(client_from(row).client);
    return out;
}

Result<void> update_client(db::Transaction& tx, const OAuthClient& c) {
    return done(
        tx.execute("UPDATE identity_oauth_clients SET name = ?, redirect_uris = ?, "
                   "post_logout_redirect_uris = ?, grant_types = ?, scopes = ?, updated_at_ms = ? "
                   "WHERE org_id = ? AND id = ?",
                   {c.name, uri_list(c.redirect_uris), uri_list(c.post_logout_redirect_uris),
                    words(c.grant_types), words(c.scopes), c.updated_at_ms, c.org_id, c.id}));
}

Result<bool> delete_client(db::Transaction& tx, const std::string& org_id,
                           const std::string& client_id, std::int64_t now_ms) {
    // Its grants go with it (ON DELETE CASCADE); the access tokens they issued must stop too.
    if (auto recorded = tx.execute(
            "INSERT INTO identity_token_revocations (id, revoked_at_ms) SELECT g.id, "
            "CAST(? AS BIGINT) FROM identity_oauth_grants g JOIN identity_oauth_clients c ON "
            "c.id = g.client_id WHERE c.org_id = ? AND c.id = ? AND g.revoked_at_ms IS NULL ON "
            "CONFLICT (id) DO NOTHING",
            {now_ms, org_id, client_id});
        !recorded) {
        return recorded.error();
    }
    auto changed = tx.execute("DELETE FROM identity_oauth_clients WHERE org_id = ? AND id = ?",
                              {org_id, client_id});
    if (!changed) return changed.error();
    return *changed > 0;
}

Result<void> insert_request(db::Transaction& tx, const AuthorizationRequest& r) {
    return done(tx.execute(
        "INSERT INTO identity_oauth_requests (id, client_id, redirect_uri, scope, state, nonce, "
        "code_challenge, created_at_ms, expires_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        {r.id, r.client_id, r.redirect_uri, r.scope, r.state, r.nonce, r.code_challenge,
         r.created_at_ms, r.expires_at_ms}));
}

Result<std::optional<AuthorizationRequest>> find_request(db::Database& database,
                                                         const std::string& request_id) {
    auto rows = database.query(
        "SELECT id, client_id, redirect_uri, scope, state, nonce, code_challenge, created_at_ms, "
        "expires_at_ms, decided_at_ms FROM identity_oauth_requests WHERE id = ?",
        {request_id});
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<AuthorizationRequest>();
    const db::Row& row = rows->front();
    AuthorizationRequest r{row.get_text(0), row.get_text(1), row.get_text(2), row.get_text(3),
                           row.get_text(4), row.get_text(5), row.get_text(6), row.get_int(7),
                           row.get_int(8),  !row.is_null(9)};  // NOLINT(readability-magic-numbers)
    return std::optional<AuthorizationRequest>(std::move(r));
}

Result<bool> close_request(db::Transaction& tx, const std::string& request_id,
                           const std::string& user_id, std::int64_t now_ms) {
    auto changed = tx.execute(
        "UPDATE identity_oauth_requests SET decided_at_ms = ?, user_id = ? "
        "WHERE id = ? AND decided_at_ms IS NULL AND expires_at_ms > ?",
        {now_ms, user_id, request_id, now_ms});
    if (!changed) return changed.error();
    return *changed > 0;
}

Result<void> insert_code(db::Transaction& tx, const Code& c) {
    return done(tx.execute(
        "INSERT INTO identity_oauth_codes (code_hash, client_id, user_id, redirect_uri, scope, "
        "nonce, code_challenge, auth_time_s, created_at_ms, expires_at_ms) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        {c.code_hash, c.client_id, c.user_id, c.redirect_uri, c.scope, c.nonce, c.code_challenge,
         c.auth_time_s, c.created_at_ms, c.expires_at_ms}));
}

Result<std::optional<Code>> consume_code(db::Transaction& tx, const std::string& code_hash,
                                         std::int64_t now_ms) {
    auto rows = tx.query(
        "SELECT code_hash, client_id, user_id, redirect_uri, scope, nonce, code_challenge, "
        "auth_time_s, created_at_ms, expires_at_ms FROM identity_oauth_codes WHERE code_hash = ?",
        {code_hash});
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<Code>();
    const db::Row& row = rows->front();
    Code code{row.get_text(0),
              row.get_text(1),
              row.get_text(2),
              row.get_text(3),
              row.get_text(4),
              row.get_text(5),
              row.get_text(6),
              row.get_int(7),
              row.get_int(8),
              row.get_int(9),
              false};  // NOLINT(readability-magic-numbers)
    // The conditional update decides first use even when two exchanges race.
    auto changed = tx.execute(
        "UPDATE identity_oauth_codes SET used_at_ms = ? WHERE code_hash = ? AND used_at_ms IS NULL",
        {now_ms, code_hash});
    if (!changed) return changed.error();
    code.used = *changed == 0;
    return std::optional<Code>(std::move(code));
}

Result<void> insert_grant(db::Transaction& tx, const Grant& g) {
    return done(
        tx.execute("INSERT INTO identity_oauth_grants (id, client_id, user_id, scope, code_hash, "
                   "auth_time_s, created_at_ms, last_used_at_ms, expires_at_ms) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   {g.id, g.client_id, g.user_id, g.scope, g.code_hash, g.auth_time_s,
                    g.created_at_ms, g.created_at_ms, g.expires_at_ms}));
}

Result<std::optional<Grant>> find_grant(db::Database& database, const std::string& grant_id) {
    return find_grant_in(database, grant_id);
}

Result<std::optional<Grant>> find_grant(db::Transaction& tx, const std::string& grant_id) {
    return find_grant_in(tx, grant_id);
}

Result<std::vector<Grant>> revoke_grants_of_code(db::Transaction& tx, const std::string& code_hash,
                                                 const std::string& reason, std::int64_t now_ms) {
    auto rows = tx.query("SELECT " NIMBUS_OAUTH_GRANT_COLUMNS
                         "FROM identity_oauth_grants g "
                         "WHERE g.code_hash = ? AND g.revoked_at_ms IS NULL",
                         {code_hash});
    if (!rows) return rows.error();
    std::vector<Grant> out;
    for (const auto& row : *rows) {
        out.push_back(grant_from(row));
        auto revoked = revoke_grant(tx, out.back().id, reason, now_ms);
        if (!revoked) return revoked.error();
    }
    return out;
}

Result<bool> revoke_grant(db::Transaction& tx, const std::string& grant_id,
                          const std::string& reason, std::int64_t now_ms) {
    auto changed = tx.execute(
        "UPDATE identity_oauth_grants SET revoked_at_ms = ?, revoked_reason = ? "
        "WHERE id = ? AND revoked_at_ms IS NULL",
        {now_ms, reason, grant_id});
    if (!changed) return changed.error();
    if (*changed == 0) return false;
    if (auto ok = store::record_revocation(tx, grant_id, now_ms); !ok) return ok.error();
    return true;
}

Result<void> touch_grant(db::Transaction& tx, const std::string& grant_id, std::int64_t now_ms,
                         std::int64_t expires_at_ms) {
    return done(tx.execute(
        "UPDATE identity_oauth_grants SET last_used_at_ms = ?, expires_at_ms = ? WHERE id = ?",
        {now_ms, expires_at_ms, grant_id}));
}

Result<void> insert_refresh_token(db::Transaction& tx, const std::string& token_hash,
                                  const std::string& grant_id, std::int64_t now_ms) {
    return done(tx.execute(
        "INSERT INTO identity_oauth_refresh_tokens (token_hash, grant_id, created_at_ms) "
        "VALUES (?, ?, ?)",
        {token_hash, grant_id, now_ms}));
}

Result<std::optional<RefreshToken>> find_refresh_token(db::Transaction& tx,
                                                       const std::string& token_hash) {
    return find_refresh_in(tx, token_hash);
}

Result<std::optional<RefreshToken>> find_refresh_token(db::Database& database,
                                                       const std::string& token_hash) {
    return find_refresh_in(database, token_hash);
}

Result<bool> mark_refresh_token_used(db::Transaction& tx, const std::string& token_hash,
                                     std::int64_t now_ms) {
    auto changed = tx.execute(
        "UPDATE identity_oauth_refresh_tokens SET used_at_ms = ? "
        "WHERE token_hash = ? AND used_at_ms IS NULL",
        {now_ms, token_hash});
    if (!changed) return changed.error();
    return *changed > 0;
}

Result<std::optional<std::string>> find_consent(db::Database& database, const std::string& user_id,
                                                const std::string& client_id) {
    auto rows = database.query(
        "SELECT scope FROM identity_oauth_consents WHERE user_id = ? AND client_id = ?",
        {user_id, client_id});
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<std::string>();
    return std::optional<std::string>(rows->front().get_text(0));
}

Result<void> save_consent(db::Transaction& tx, const std::string& user_id,
                          const std::string& client_id, const std::string& scope,
                          std::int64_t now_ms) {
    return done(
        tx.execute("INSERT INTO identity_oauth_consents (user_id, client_id, scope, granted_at_ms) "
                   "VALUES (?, ?, ?, ?) ON CONFLICT (user_id, client_id) "
                   "DO UPDATE SET scope = excluded.scope, granted_at_ms = excluded.granted_at_ms",
                   {user_id, client_id, scope, now_ms}));
}

Result<void> revoke_access_token(db::Transaction& tx, const std::string& token_id,
                                 std::int64_t expires_at_ms, std::int64_t now_ms) {
    if (auto purged = tx.execute(
            "DELETE FROM identity_oauth_revoked_tokens WHERE expires_at_ms < ?", {now_ms});
        !purged) {
        return purged.error();
    }
    if (auto ok = done(tx.execute(
            "INSERT INTO identity_oauth_revoked_tokens (token_id, expires_at_ms) VALUES (?, ?) "
            "ON CONFLICT (token_id) DO NOTHING",
            {token_id, expires_at_ms}));
        !ok) {
        return ok;
    }
    // By `jti`, so /api/v1 refuses it too (the authenticate step reads the revocations).
    return store::record_revocation(tx, token_id, now_ms);
}

Result<bool> access_token_revoked(db::Database& database, const std::string& token_id) {
    auto rows = database.query("SELECT 1 FROM identity_oauth_revoked_tokens WHERE token_id = ?",
                               {token_id});
    if (!rows) return rows.error();
    return !rows->empty();
}

Result<std::optional<std::int64_t>> session_started_ms(db::Database& database,
                                                       const std::string& user_id,
                                                       const std::string& session_id,
                                                       std::int64_t now_ms) {
    auto rows = database.query(
        "SELECT created_at_ms FROM identity_sessions WHERE id = ? AND user_id = ? "
        "AND revoked_at_ms IS NULL AND expires_at_ms > ?",
        {session_id, user_id, now_ms});
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<std::int64_t>();
    return std::optional<std::int64_t>(rows->front().get_int(0));
}

#undef NIMBUS_OAUTH_CLIENT_COLUMNS
#undef NIMBUS_OAUTH_GRANT_COLUMNS

}  // namespace nimbus::identity::oidc_store
