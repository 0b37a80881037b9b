#pragma once
// SQL of identity/, private to the module. Functions that change data take the caller's
// Transaction so a change and its events commit together; reads outside a transaction take the
// Database. Sessions are always filtered by their user.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "db/db.hpp"
#include "identity/identity.hpp"

namespace nimbus::identity::store {

/// A user row with its password hash (never leaves the service).
struct UserRecord {
    User user;
    std::string password_hash;
};

Result<std::optional<UserRecord>> find_user_by_email(db::Database& database,
                                                     const std::string& email);
Result<std::optional<UserRecord>> find_user(db::Database& database, const std::string& user_id);
Result<std::optional<UserRecord>> find_user(db::Transaction& tx, const std::string& user_id);
Result<bool> email_taken(db::Transaction& tx, const std::string& email);
/// Inserts the user; false when the email is taken (a concurrent sign-up won).
Result<bool> insert_user(db::Transaction& tx, const UserRecord& record);
Result<void> set_password_hash(db::Transaction& tx, const std::string& user_id,
                               const std::string& hash, std::int64_t now_ms);
Result<bool> set_name(db::Transaction& tx, const std::string& user_id, const std::string& name,
                      std::int64_t now_ms);
Result<bool> delete_user(db::Transaction& tx, const std::string& user_id);
/// The organizations `user_id` owns with no other owner, sorted; their rows are locked for the rest
/// of the transaction so no other owner can leave meanwhile.
Result<std::vector<std::string>> lock_sole_owned_orgs(db::Transaction& tx,
                                                      const std::string& user_id);
Result<bool> mark_email_verified(db::Transaction& tx, const std::string& user_id,
                                 const std::string& email, std::int64_t now_ms);

/// A single-use link.
struct Link {
    std::string token_hash;
    std::string purpose;
    std::string user_id;
    std::string email;
    std::int64_t created_at_ms = 0;
    std::int64_t expires_at_ms = 0;
};
Result<void> insert_link(db::Transaction& tx, const Link& link);
/// The link if it exists, has this purpose, is unused and unexpired.
Result<std::optional<Link>> find_usable_link(db::Database& database, const std::string& token_hash,
                                             const std::string& purpose, std::int64_t now_ms);
/// Marks the link used if it is still usable and returns it; nullopt when it was not (expired,
/// used meanwhile, unknown). The conditional update makes a link work exactly once.
Result<std::optional<Link>> consume_link(db::Transaction& tx, const std::string& token_hash,
                                         const std::string& purpose, std::int64_t now_ms);

/// A new session row.
struct NewSession {
    std::string id;
    std::string user_id;
    std::string user_agent;
    std::string ip;
    std::int64_t now_ms = 0;
    std::int64_t expires_at_ms = 0;
};
Result<void> insert_session(db::Transaction& tx, const NewSession& session);
Result<void> insert_refresh_token(db::Transaction& tx, const std::string& token_hash,
                                  const std::string& session_id, std::int64_t now_ms);

/// A refresh token with the state of its session.
struct RefreshTokenState {
    std::string session_id;
    std::string user_id;
    bool used = false;
    bool session_revoked = false;
    std::int64_t session_expires_at_ms = 0;
    std::int64_t session_last_seen_at_ms = 0;
    std::string session_user_agent;
    std::string session_ip;
    bool user_is_operator = false;  ///< read here so a refresh needs no second query for it
};
Result<std::optional<RefreshTokenState>> find_refresh_token(db::Transaction& tx,
                                                            const std::string& token_hash);
/// Marks the token used; false when it already was (a concurrent refresh won the race).
Result<bool> mark_refresh_token_used(db::Transaction& tx, const std::string& token_hash,
                                     std::int64_t now_ms);
Result<void> touch_session(db::Transaction& tx, const std::string& session_id,
                           const std::string& user_agent, const std::string& ip,
                           std::int64_t now_ms, std::int64_t expires_at_ms);
/// Revokes one open session of the user; false when there is none with that id.
Result<bool> revoke_session(db::Transaction& tx, const std::string& user_id,
                            const std::string& session_id, const std::string& reason,
                            std::int64_t now_ms);
/// Revokes every open session of the user except `keep_session_id` (may be empty); returns how
/// many.
Result<std::int64_t> revoke_sessions(db::Transaction& tx, const std::string& user_id,
                                     const std::string& keep_session_id, const std::string& reason,
                                     std::int64_t now_ms);
/// Records that access tokens carrying `id` (a session or grant id in `sid`, or a token's `jti`)
/// stop working; every node reads these rows (identity_token_revocations). Idempotent.
Result<void> record_revocation(db::Transaction& tx, const std::string& id, std::int64_t now_ms);
/// A row of identity_token_revocations.
struct Revocation {
    std::string id;
    std::int64_t revoked_at_ms = 0;
};
/// The revocations recorded at or after `since_ms` (one range read of the revoked_at index).
Result<std::vector<Revocation>> revocations_since(db::Database& database, std::int64_t since_ms);
/// Open sessions of the user, newest first.
Result<std::vector<SessionInfo>> list_sessions(db::Database& database, const std::string& user_id,
                                               std::int64_t now_ms);
/// At most `limit` of them with an id before `before_id` (time-ordered ids), newest first.
Result<std::vector<SessionInfo>> list_sessions(db::Database& database, const std::string& user_id,
                                               std::int64_t now_ms,
                                               const std::optional<std::string>& before_id,
                                               std::size_t limit);

/// A stored signing key.
struct SigningKeyRow {
    std::string id;
    std::int64_t generation = 0;
    db::Bytes private_key_sealed;
};
Result<std::vector<SigningKeyRow>> active_signing_keys(db::Database& database);
/// Inserts the key unless its generation exists (another node won); returns whether it did.
Result<bool> insert_signing_key(db::Transaction& tx, const SigningKeyRow& key,
                                const std::string& public_jwk, std::int64_t now_ms);

}  // namespace nimbus::identity::store
