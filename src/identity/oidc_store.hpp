#pragma once
// SQL of the OAuth 2.0 / OpenID Connect provider, private to identity/ (tables of migration
// 004_oauth). Changes take the caller's Transaction so they commit with their events; clients
// are always read within their organization except when a protocol endpoint looks a client up
// by its client_id.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "db/db.hpp"
#include "identity/identity.hpp"

namespace nimbus::identity::oidc_store {

/// A client row with its secret hash (never leaves the provider).
struct ClientRecord {
    OAuthClient client;
    std::optional<std::string> secret_hash;
};

Result<void> insert_client(db::Transaction& tx, const ClientRecord& record);
/// By client_id alone: for the protocol endpoints, where the client names itself.
Result<std::optional<ClientRecord>> find_client(db::Database& database,
                                                const std::string& client_id);
/// Within an organization: for the management API.
Result<std::optional<ClientRecord>> find_org_client(db::Transaction& tx, const std::string& org_id,
                                                    const std::string& client_id);
/// At most `limit` clients of the organization with an id after `after_id` ("" for the first),
/// by id (time-ordered).
Result<std::vector<OAuthClient>> list_clients(db::Database& database, const std::string& org_id,
                                              const std::string& after_id, std::size_t limit);
Result<void> update_client(db::Transaction& tx, const OAuthClient& client);
/// Deletes the client with its codes and grants, recording the grants' revocation so their
/// access tokens stop on every node.
Result<bool> delete_client(db::Transaction& tx, const std::string& org_id,
                           const std::string& client_id, std::int64_t now_ms);

/// An authorization request waiting for a decision.
struct AuthorizationRequest {
    std::string id;
    std::string client_id;
    std::string redirect_uri;
    std::string scope;
    std::string state;
    std::string nonce;
    std::string code_challenge;
    std::int64_t created_at_ms = 0;
    std::int64_t expires_at_ms = 0;
    bool decided = false;
};
Result<void> insert_request(db::Transaction& tx, const AuthorizationRequest& request);
Result<std::optional<AuthorizationRequest>> find_request(db::Database& database,
                                                         const std::string& request_id);
/// Marks the request decided by `user_id` if it is still open; false when it was not (decided
/// meanwhile or expired), which makes a request work once.
Result<bool> close_request(db::Transaction& tx, const std::string& request_id,
                           const std::string& user_id, std::int64_t now_ms);

/// An authorization code.
struct Code {
    std::string code_hash;
    std::string client_id;
    std::string user_id;
    std::string redirect_uri;
    std::string scope;
    std::string nonce;
    std::string code_challenge;
    std::int64_t auth_time_s = 0;
    std::int64_t created_at_ms = 0;
    std::int64_t expires_at_ms = 0;
    bool used = false;
};
Result<void> insert_code(db::Transaction& tx, const Code& code);
/// The code, marked used by this call. `used` in the result is true when it had been used
/// before (reuse); nullopt when the code is unknown.
Result<std::optional<Code>> consume_code(db::Transaction& tx, const std::string& code_hash,
                                         std::int64_t now_ms);

/// A grant: one refresh-token family.
struct Grant {
    std::string id;
    std::string client_id;
    std::string user_id;
    std::string scope;
    std::string code_hash;
    std::int64_t auth_time_s = 0;
    std::int64_t created_at_ms = 0;
    std::int64_t expires_at_ms = 0;
    bool revoked = false;
};
Result<void> insert_grant(db::Transaction& tx, const Grant& grant);
Result<std::optional<Grant>> find_grant(db::Database& database, const std::string& grant_id);
Result<std::optional<Grant>> find_grant(db::Transaction& tx, const std::string& grant_id);
/// Revokes the open grants made from a code; returns their ids.
Result<std::vector<Grant>> revoke_grants_of_code(db::Transaction& tx, const std::string& code_hash,
                                                 const std::string& reason, std::int64_t now_ms);
/// Revokes an open grant; false when it was not open.
Result<bool> revoke_grant(db::Transaction& tx, const std::string& grant_id,
                          const std::string& reason, std::int64_t now_ms);
Result<void> touch_grant(db::Transaction& tx, const std::string& grant_id, std::int64_t now_ms,
                         std::int64_t expires_at_ms);

Result<void> insert_refresh_token(db::Transaction& tx, const std::string& token_hash,
                                  const std::string& grant_id, std::int64_t now_ms);
/// A refresh token and its grant.
struct RefreshToken {
    Grant grant;
    bool used = false;
};
Result<std::optional<RefreshToken>> find_refresh_token(db::Transaction& tx,
                                                       const std::string& token_hash);
Result<std::optional<RefreshToken>> find_refresh_token(db::Database& database,
                                                       const std::string& token_hash);
/// Marks it used; false when it already was (a concurrent refresh won).
Result<bool> mark_refresh_token_used(db::Transaction& tx, const std::string& token_hash,
                                     std::int64_t now_ms);

/// The scopes the user consented to for the client (sorted, space-joined), if any.
Result<std::optional<std::string>> find_consent(db::Database& database, const std::string& user_id,
                                                const std::string& client_id);
Result<void> save_consent(db::Transaction& tx, const std::string& user_id,
                          const std::string& client_id, const std::string& scope,
                          std::int64_t now_ms);

/// Records a revoked access token until it would have expired; drops expired records.
Result<void> revoke_access_token(db::Transaction& tx, const std::string& token_id,
                                 std::int64_t expires_at_ms, std::int64_t now_ms);
Result<bool> access_token_revoked(db::Database& database, const std::string& token_id);

/// When the user's console session began (its `auth_time`), if it is theirs and open.
Result<std::optional<std::int64_t>> session_started_ms(db::Database& database,
                                                       const std::string& user_id,
                                                       const std::string& session_id,
                                                       std::int64_t now_ms);

}  // namespace nimbus::identity::oidc_store
