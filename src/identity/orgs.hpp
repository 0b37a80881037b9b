#pragma once
// Organizations behind identity::Organizations, private to identity/: the domain operations the
// org routes call and the lookups the authenticate step makes (SQL in orgs.cpp).
//
// Every operation inside an organization takes the org id from the path, which the authenticate
// step has already checked the caller belongs to; every statement is filtered by that org id.
// Errors: `invalid_argument` as "field: message" (the routes point errors[] at the field),
// `permission_denied` when the caller would grant more than they hold, `not_found`, `conflict`
// (taken slug, last owner, role in use, already a member), `unavailable`.

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/json/object.hpp>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "db/db.hpp"
#include "http/http.hpp"
#include "identity/identity.hpp"
#include "mail/mail.hpp"

namespace nimbus::identity {

/// Who acts: the principal resolved for the org (its permissions there) and where from.
struct Actor {
    http::Principal principal;
    std::string ip;
};

struct Org {
    std::string id;  ///< "org_..."
    std::string slug;
    std::string name;
    std::int64_t created_at_ms = 0;
    std::int64_t updated_at_ms = 0;
    std::string role;  ///< the caller's role, in listings
    /// Members (people) must have confirmed TOTP to use the org's routes.
    bool require_mfa = false;
};

struct Member {
    std::string user_id;
    std::string email;
    std::string name;
    std::string role;       ///< built-in name or custom role id
    std::string role_name;  ///< display name of the role
    std::int64_t joined_at_ms = 0;
};

struct Role {
    std::string id;  ///< built-in name ("admin") or "rol_..."
    std::string name;
    std::string description;
    std::vector<std::string> permissions;
    bool builtin = false;
    std::int64_t created_at_ms = 0;
    std::int64_t updated_at_ms = 0;
};

struct Invitation {
    std::string id;  ///< "inv_..."
    std::string org_id;
    std::string email;
    std::string role;
    std::string invited_by;
    std::int64_t created_at_ms = 0;
    std::int64_t expires_at_ms = 0;
};

struct InvitationPreview {
    std::string org_id;
    std::string org_name;
    std::string role;
    std::string email;
    std::int64_t expires_at_ms = 0;
};

struct ApiKey {
    std::string id;  ///< "key_..."
    std::string org_id;
    std::string name;
    std::vector<std::string> permissions;
    std::string created_by;
    std::int64_t created_at_ms = 0;
    std::optional<std::int64_t> expires_at_ms;
    std::optional<std::int64_t> last_used_at_ms;
};

/// A created key with its secret, shown once.
struct CreatedApiKey {
    ApiKey key;
    std::string secret;  ///< "nmb_<ulid>_<base64url(32 bytes)>"
};

/// Optional changes (PATCH bodies).
struct OrgChanges {
    std::optional<std::string> name;
    std::optional<std::string> slug;
    std::optional<bool> require_mfa;
};

/// What the authenticate step needs about a user in an org, from one cached lookup.
struct Membership {
    std::vector<std::string> permissions;  ///< the role's, plus org.read
    /// The org requires MFA and the user has no confirmed TOTP.
    bool mfa_missing = false;
};
struct RoleChanges {
    std::optional<std::string> name;
    std::optional<std::string> description;
    std::optional<std::vector<std::string>> permissions;
};

/// The org service. Thread safe: every method may run on any thread at once.
class OrgService {
public:
    OrgService(db::Database& database, const Clock& clock, mail::Queue& mail_queue,
               OrgSettings settings);

    Result<Org> create_org(const Actor& actor, const std::string& name,
                           const std::optional<std::string>& slug);
    Result<std::vector<Org>> list_orgs(const std::string& user_id);
    Result<Org> get_org(const std::string& org_id);
    Result<Org> update_org(const Actor& actor, const std::string& org_id,
                           const OrgChanges& changes);
    Result<void> delete_org(const Actor& actor, const std::string& org_id);
    /// Makes `user_id` (a member) an owner; the acting owner becomes admin.
    Result<void> transfer(const Actor& actor, const std::string& org_id,
                          const std::string& user_id);

    Result<std::vector<Member>> list_members(const std::string& org_id);
    /// One page of them in the same order; `invalid_argument` "cursor: ..." for a position
    /// this list did not give.
    Result<Page<Member>> list_members(const std::string& org_id, const PageRequest& page);
    Result<Member> update_member_role(const Actor& actor, const std::string& org_id,
                                      const std::string& user_id, const std::string& role);
    /// Removes a member; `user_id` equal to the actor's id is leaving.
    Result<void> remove_member(const Actor& actor, const std::string& org_id,
                               const std::string& user_id);

    Result<Invitation> invite(const Actor& actor, const std::string& org_id,
                              const std::string& email, const std::string& role);
    Result<std::vector<Invitation>> list_invitations(const std::string& org_id);
    /// One page of them in the same order; `invalid_argument` "cursor: ..." for a position
    /// this list did not give.
    Result<Page<Invitation>> list_invitations(const std::string& org_id, const PageRequest& page);
    Result<void> revoke_invitation(const Actor& actor, const std::string& org_id,
                                   const std::string& invitation_id);
    Result<InvitationPreview> preview_invitation(const std::string& token);
    /// The signed-in user joins with the invitation's role; their verified email must match.
    Result<Org> accept_invitation(const Actor& actor, const std::string& token);

    Result<std::vector<Role>> list_roles(const std::string& org_id);
    /// One page of them in the same order; `invalid_argument` "cursor: ..." for a position
    /// this list did not give.
    Result<Page<Role>> list_roles(const std::string& org_id, const PageRequest& page);
    Result<Role> create_role(const Actor& actor, const std::string& org_id, const std::string& name,
                             const std::string& description,
                             const std::vector<std::string>& permissions);
    Result<Role> update_role(const Actor& actor, const std::string& org_id,
                             const std::string& role_id, const RoleChanges& changes);
    Result<void> delete_role(const Actor& actor, const std::string& org_id,
                             const std::string& role_id);

    Result<std::vector<ApiKey>> list_api_keys(const std::string& org_id);
    /// One page of them in the same order; `invalid_argument` "cursor: ..." for a position
    /// this list did not give.
    Result<Page<ApiKey>> list_api_keys(const std::string& org_id, const PageRequest& page);
    Result<CreatedApiKey> create_api_key(const Actor& actor, const std::string& org_id,
                                         const std::string& name,
                                         const std::vector<std::string>& permissions,
                                         std::optional<std::int64_t> expires_at_ms);
    Result<void> revoke_api_key(const Actor& actor, const std::string& org_id,
                                const std::string& key_id);

    /// The user's permissions in the org (role's plus org.read); nullopt for a non-member or an
    /// unknown org. Cached for settings.membership_cache_ttl_ms.
    Result<std::optional<std::vector<std::string>>> member_permissions(const std::string& org_id,
                                                                       const std::string& user_id);
    /// The same lookup with the org's MFA policy applied to the user (same cache).
    Result<std::optional<Membership>> membership(const std::string& org_id,
                                                 const std::string& user_id);
    /// The principal of an "nmb_" key; unauthenticated when it is unknown, tampered with,
    /// expired or revoked. Records the last use at most once per touch interval.
    Result<http::Principal> authenticate_api_key(std::string_view secret);
    /// True when the answer for this key id is in the cache and needs no database work.
    bool api_key_cached(std::string_view secret) const;
    bool membership_cached(const std::string& org_id, const std::string& user_id) const;

    /// Whether the account is a platform operator; cached like memberships.
    Result<bool> is_operator(const std::string& user_id);
    bool operator_cached(const std::string& user_id) const;

    Result<void> set_operator(const std::string& email, bool is_operator);
    Result<std::vector<User>> list_operators();
    /// Marks the verified accounts among settings.operator_emails as operators.
    Result<void> apply_operator_emails();

private:
    struct CachedMembership {
        std::optional<Membership> membership;
        std::int64_t expires_at_ms = 0;
    };
    struct CachedKey {
        std::string org_id;
        std::string secret_hash;
        std::vector<std::string> permissions;
        std::optional<std::int64_t> expires_at_ms;
        std::int64_t cached_until_ms = 0;
    };

    Result<void> emit(db::Transaction& tx, std::string_view type, const Actor& actor,
                      const std::string& org_id, const std::string& target_id,
                      boost::json::object extra = {}) const;
    /// Runs `sql`, which changes at most one row, and emits `type` about `target_id` when it
    /// changed one, in one transaction. False when no row matched (nothing is emitted).
    Result<bool> change_one(const Actor& actor, std::string_view type, const std::string& org_id,
                            const std::string& target_id, std::string_view sql, db::Params params);
    Result<std::vector<std::string>> role_permissions(db::Session& session,
                                                      const std::string& org_id,
                                                      const std::string& role);
    Result<void> check_permissions(const std::vector<std::string>& permissions,
                                   const Actor& actor) const;
    void forget_org(const std::string& org_id);
    void forget_key(const std::string& key_id);

    db::Database& database_;
    const Clock& clock_;
    mail::Queue& mail_queue_;
    OrgSettings settings_;

    mutable std::mutex cache_mutex_;
    std::unordered_map<std::string, CachedMembership> memberships_;
    std::unordered_map<std::string, CachedKey> keys_;
    std::unordered_map<std::string, std::int64_t> key_touched_ms_;
    /// user id -> (is operator, cached until)
    std::unordered_map<std::string, std::pair<bool, std::int64_t>> operators_;
};

}  // namespace nimbus::identity
