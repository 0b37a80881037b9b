// Organizations: the domain rules and their SQL. Each statement is used once, so it sits beside
// the rule it serves instead of in a store file. Every change to an org's memberships starts by
// touching the org's row, which serializes concurrent changes to one org on both backends (the
// "last owner" check must not race).
#include "identity/orgs.hpp"
#include "identity/paging.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include "core/crypto.hpp"
#include "core/ids.hpp"
#include "core/log.hpp"
#include "events/events.hpp"
#include "identity/permissions.hpp"
#include "identity/validate.hpp"

namespace nimbus::identity {
namespace {

constexpr std::string_view kOrgEventSource = "/nimbus/identity";
constexpr std::string_view kApiKeyPrefix = "nmb_";
constexpr std::size_t kUlidChars = 26;
constexpr std::size_t kApiKeySecretBytes = 32;
constexpr std::size_t kApiKeySecretChars = 43;  // base64url of 32 bytes, unpadded
constexpr std::size_t kApiKeyChars = kApiKeyPrefix.size() + kUlidChars + 1 + kApiKeySecretChars;
constexpr std::size_t kInvitationTokenBytes = 32;
constexpr std::size_t kMinSlugChars = 3;
constexpr std::size_t kMaxSlugChars = 40;
constexpr std::size_t kMaxRoleNameChars = 50;
constexpr std::size_t kMaxDescriptionChars = 500;
constexpr std::size_t kMaxIpBytes = 64;
constexpr std::size_t kSlugSuffixChars = 6;
constexpr int kMaxListed = 1000;
constexpr std::int64_t kMaxPendingInvitations = 100;
constexpr std::int64_t kMaxCustomRoles = 100;
constexpr std::int64_t kMaxActiveApiKeys = 100;
constexpr std::int64_t kMsPerSecond = 1000;
constexpr int kSlugAttempts = 3;

Error permission_denied(std::string message) {
    return {ErrorCode::permission_denied, std::move(message)};
}

std::string random_token(std::size_t bytes) {
    crypto::Bytes random = crypto::random_bytes(bytes);
    return crypto::base64url_encode(
        std::string_view(reinterpret_cast<const char*>(random.data()), random.size()));
}

Result<void> done(const Result<std::int64_t>& changed) {
    if (!changed) return changed.error();
    return {};
}

std::string lower_ascii(std::string_view text) {
    std::string out(text);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

/// A display name in `field`: trimmed, 1..max characters, no control characters.
Result<std::string> display_name(std::string_view raw, std::string_view field,
                                 std::size_t max_chars, bool allow_empty = false) {
    auto normalized = normalize_name(raw);
    if (!normalized) {
        std::string message = normalized.error().message;
        constexpr std::string_view kNamePrefix = "name: ";
        if (message.starts_with(kNamePrefix)) message = message.substr(kNamePrefix.size());
        return field_error(field, message);
    }
    if (normalized->empty() && !allow_empty) return field_error(field, "must not be empty");
    if (static_cast<std::size_t>(utf8_length(*normalized)) > max_chars) {
        return field_error(field, fmt::format("must be at most {} characters", max_chars));
    }
    return normalized;
}

bool is_slug(std::string_view slug) {
    if (slug.size() < kMinSlugChars || slug.size() > kMaxSlugChars) return false;
    if (slug.front() == '-' || slug.back() == '-') return false;
    char previous = 0;
    for (char c : slug) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
        if (!ok || (c == '-' && previous == '-')) return false;
        previous = c;
    }
    return true;
}

/// `slug: ...` when a slug is given and is not one.
Result<void> check_slug(const std::optional<std::string>& slug) {
    if (!slug || is_slug(*slug)) return {};
    return field_error("slug",
                       "must be 3 to 40 lower-case letters, digits and single inner hyphens");
}

/// A slug from a display name: ASCII letters and digits kept, runs of anything else become one
/// hyphen. Empty when too little is left.
std::string slug_from_name(std::string_view name) {
    std::string slug;
    for (char c : name) {
        char lower = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if ((lower >= 'a' && lower <= 'z') || (lower >= '0' && lower <= '9')) {
            slug.push_back(lower);
        } else if (!slug.empty() && slug.back() != '-') {
            slug.push_back('-');
        }
        if (slug.size() >= kMaxSlugChars - kSlugSuffixChars - 1) break;
    }
    while (!slug.empty() && slug.back() == '-') slug.pop_back();
    return slug.size() >= kMinSlugChars ? slug : std::string();
}

std::string slug_suffix() {
    return lower_ascii(random_token(kSlugSuffixChars)).substr(0, kSlugSuffixChars);
}

/// Permission names from a request: each known, no duplicates; errors point at the item.
Result<std::vector<std::string>> checked_permissions(const std::vector<std::string>& wanted) {
    std::vector<std::string> out;
    for (std::size_t index = 0; index < wanted.size(); ++index) {
        if (!is_org_permission(wanted[index])) {
            return field_error(fmt::format("permissions/{}", index), "is not a known permission");
        }
        if (std::find(out.begin(), out.end(), wanted[index]) == out.end()) {
            out.push_back(wanted[index]);
        }
    }
    return out;
}

void add_org_read(std::vector<std::string>& permissions) {
    if (std::find(permissions.begin(), permissions.end(), kOrgReadPermission) ==
        permissions.end()) {
        permissions.insert(permissions.begin(), std::string(kOrgReadPermission));
    }
}

/// The permissions of `role` (a built-in name or a custom role id of `org_id`), org.read
/// included; `role: ...` when it is neither. `Source` is a Database or a Transaction.
template <class Source>
Result<std::vector<std::string>> permissions_of(Source& source, const std::string& org_id,
                                                const std::string& role) {
    if (const auto* builtin = find_builtin_role(role)) return builtin->permissions;
    if (!is_valid_id(role, "rol")) return field_error("role", "is not a role of this organization");
    auto rows = source.query(
        "SELECT permissions FROM identity_org_roles WHERE id = ? AND org_id = ?", {role, org_id});
    if (!rows) return rows.error();
    if (rows->empty()) return field_error("role", "is not a role of this organization");
    auto permissions = split_permissions(rows->front().get_text(0));
    add_org_read(permissions);
    return permissions;
}

constexpr std::string_view kOrgColumns =
    "id, slug, name, created_at_ms, updated_at_ms, require_mfa";

Org org_from_row(const db::Row& row) {
    return {row.get_text(0),    row.get_text(1), row.get_text(2),
            row.get_int(3),     row.get_int(4),  "",
            row.get_int(5) != 0};
}

constexpr std::string_view kApiKeyColumns =
    "id, org_id, name, permissions, created_by, created_at_ms, expires_at_ms, last_used_at_ms";

ApiKey api_key_from_row(const db::Row& row) {
    return {row.get_text(0),         row.get_text(1),
            row.get_text(2),         split_permissions(row.get_text(3)),
            row.get_text(4),         row.get_int(5),
            row.get_optional_int(6), row.get_optional_int(7)};
}

constexpr std::string_view kInvitationColumns =
    "id, org_id, email, role, invited_by, created_at_ms, expires_at_ms";

Invitation invitation_from_row(const db::Row& row) {
    return {row.get_text(0), row.get_text(1), row.get_text(2), row.get_text(3),
            row.get_text(4), row.get_int(5),  row.get_int(6)};
}

/// The rows of the one page the unpaged lists ask for (kMaxListed of them).
template <class T>
Result<std::vector<T>> whole_list(Result<Page<T>> page) {
    if (!page) return page.error();
    return std::move(page->items);
}

/// Locks the org's row for the rest of the transaction; false when the org is gone.
Result<bool> lock_org(db::Transaction& tx, const std::string& org_id, std::int64_t now_ms) {
    auto changed =
        tx.execute("UPDATE identity_orgs SET updated_at_ms = ? WHERE id = ?", {now_ms, org_id});
    if (!changed) return changed.error();
    return *changed == 1;
}

/// lock_org() for changes made inside the org: `not_found` when the org is gone.
Result<void> lock_existing_org(db::Transaction& tx, const std::string& org_id,
                               std::int64_t now_ms) {
    auto locked = lock_org(tx, org_id, now_ms);
    if (!locked) return locked.error();
    if (!*locked) return Error::not_found("no such organization");
    return {};
}

Result<std::optional<std::string>> member_role(db::Transaction& tx, const std::string& org_id,
                                               const std::string& user_id) {
    auto rows = tx.query("SELECT role FROM identity_org_members WHERE org_id = ? AND user_id = ?",
                         {org_id, user_id});
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<std::string>();
    return std::optional<std::string>(rows->front().get_text(0));
}

/// Refuses to take a member out of `current_role` when that leaves the org without an owner.
Result<void> keep_an_owner(db::Transaction& tx, const std::string& org_id,
                           const std::string& current_role) {
    if (current_role != kOwnerRole) return {};
    auto rows = tx.query("SELECT COUNT(*) FROM identity_org_members WHERE org_id = ? AND role = ?",
                         {org_id, std::string(kOwnerRole)});
    if (!rows) return rows.error();
    if (rows->front().get_int(0) > 1) return {};
    return Error::conflict(
        "the organization's last owner cannot leave, be removed or change role; make another "
        "member owner first");
}

Error not_member() { return Error::not_found("no member with this id"); }

/// The role `user_id` holds in the org; `not_found` when they are not a member.
Result<std::string> role_of_member(db::Transaction& tx, const std::string& org_id,
                                   const std::string& user_id) {
    auto role = member_role(tx, org_id, user_id);
    if (!role) return role.error();
    if (!*role) return not_member();
    return std::move(**role);
}

Error invalid_invitation() {
    return field_error("token", "the invitation is invalid, expired or already used");
}

}  // namespace

OrgService::OrgService(db::Database& database, const Clock& clock, mail::Queue& mail_queue,
                       OrgSettings settings)
    : database_(database), clock_(clock), mail_queue_(mail_queue), settings_(std::move(settings)) {}

Result<void> OrgService::emit(db::Transaction& tx, std::string_view type, const Actor& actor,
                              const std::string& org_id, const std::string& target_id,
                              boost::json::object extra) const {
    extra["actor_id"] = actor.principal.id;
    extra["actor_kind"] = actor.principal.kind == http::Principal::Kind::api_key ? "api_key"
                          : actor.principal.kind == http::Principal::Kind::oauth_client
                              ? "oauth_client"
                              : "user";
    if (!org_id.empty()) extra["org_id"] = org_id;
    extra["target_id"] = target_id;
    extra["ip"] = actor.ip.substr(0, kMaxIpBytes);
    auto id = events::emit(tx, clock_,
                           {.type = "nimbus.identity." + std::string(type),
                            .source = std::string(kOrgEventSource),
                            .subject = org_id.empty() ? target_id : org_id,
                            .data_json = boost::json::serialize(extra)});
    if (!id) return id.error();
    return {};
}

Result<bool> OrgService::change_one(const Actor& actor, std::string_view type,
                                    const std::string& org_id, const std::string& target_id,
                                    std::string_view sql, db::Params params) {
    bool changed_one = false;
    auto committed = database_.transact([&](db::Transaction& tx) -> Result<void> {
        auto changed = tx.execute(sql, params);
        if (!changed) return changed.error();
        changed_one = *changed == 1;
        if (!changed_one) return {};
        return emit(tx, type, actor, org_id, target_id);
    });
    if (!committed) return committed.error();
    return changed_one;
}

Result<void> OrgService::check_permissions(const std::vector<std::string>& permissions,
                                           const Actor& actor) const {
    if (is_subset(permissions, actor.principal.permissions)) return {};
    return permission_denied("you cannot grant permissions you do not hold yourself");
}

void OrgService::forget_org(const std::string& org_id) {
    std::string prefix = org_id + "\n";
    std::lock_guard lock(cache_mutex_);
    std::erase_if(memberships_, [&](const auto& entry) { return entry.first.starts_with(prefix); });
}

void OrgService::forget_key(const std::string& key_id) {
    std::lock_guard lock(cache_mutex_);
    keys_.erase(key_id);
}

// --- organizations ---

Result<Org> OrgService::create_org(const Actor& actor, const std::string& name,
                                   const std::optional<std::string>& slug) {
    auto checked_name = display_name(name, "name", kMaxNameChars);
    if (!checked_name) return checked_name.error();
    if (auto ok = check_slug(slug); !ok) return ok.error();
    if (actor.principal.kind != http::Principal::Kind::user) {
        return permission_denied("only people create organizations");
    }
    std::int64_t now = clock_.now_ms();
    Org org{new_id("org", now), "", *checked_name, now, now, std::string(kOwnerRole)};
    std::string base = slug ? *slug : slug_from_name(*checked_name);
    for (int attempt = 0; attempt < kSlugAttempts; ++attempt) {
        if (slug) {
            org.slug = *slug;
        } else if (base.empty()) {
            org.slug = "org-" + slug_suffix();
        } else {
            org.slug = attempt == 0 ? base : base + "-" + slug_suffix();
        }
        bool inserted = false;
        auto committed = database_.transact([&](db::Transaction& tx) -> Result<void> {
            auto changed = tx.execute(
                "INSERT INTO identity_orgs (id, slug, name, created_by, created_at_ms, "
                "updated_at_ms) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (slug) DO NOTHING",
                {org.id, org.slug, org.name, actor.principal.id, now, now});
            if (!changed) return changed.error();
            inserted = *changed == 1;
            if (!inserted) return {};
            if (auto ok = done(tx.execute(
                    "INSERT INTO identity_org_members (org_id, user_id, role, created_at_ms, "
                    "updated_at_ms) VALUES (?, ?, ?, ?, ?)",
                    {org.id, actor.principal.id, std::string(kOwnerRole), now, now}));
                !ok) {
                return ok;
            }
            if (auto ok = emit(tx, "org.created", actor, org.id, org.id,
                               {{"name", org.name}, {"slug", org.slug}});
                !ok) {
                return ok;
            }
            return emit(tx, "member.added", actor, org.id, actor.principal.id,
                        {{"role", std::string(kOwnerRole)}});
        });
        if (!committed) return committed.error();
        if (inserted) {
            forget_org(org.id);
            return org;
        }
        if (slug) return Error::conflict("slug: is taken by another organization");
    }
    return Error::conflict("slug: no free slug could be derived from the name; choose one");
}

Result<std::vector<Org>> OrgService::list_orgs(const std::string& user_id) {
    auto rows = database_.query(
        "SELECT o.id, o.slug, o.name, o.created_at_ms, o.updated_at_ms, o.require_mfa, m.role "
        "FROM "
        "identity_org_members m JOIN identity_orgs o ON o.id = m.org_id WHERE m.user_id = ? "
        "ORDER BY o.id LIMIT ?",
        {user_id, kMaxListed});
    if (!rows) return rows.error();
    std::vector<Org> orgs;
    for (const auto& row : *rows) {
        Org org = org_from_row(row);
        org.role = row.get_text(6);
        orgs.push_back(std::move(org));
    }
    return orgs;
}

Result<Org> OrgService::get_org(const std::string& org_id) {
    auto rows = database_.query(
        std::string("SELECT ") + std::string(kOrgColumns) + " FROM identity_orgs WHERE id = ?",
        {org_id});
    if (!rows) return rows.error();
    if (rows->empty()) return Error::not_found("no such organization");
    return org_from_row(rows->front());
}

Result<Org> OrgService::update_org(const Actor& actor, const std::string& org_id,
                                   const OrgChanges& changes) {
    std::optional<std::string> name;
    if (changes.name) {
        auto checked = display_name(*changes.name, "name", kMaxNameChars);
        if (!checked) return checked.error();
        name = std::move(*checked);
    }
    if (auto ok = check_slug(changes.slug); !ok) return ok.error();
    std::int64_t now = clock_.now_ms();
    bool found = false;
    auto committed = database_.transact([&](db::Transaction& tx) -> Result<void> {
        if (changes.require_mfa.value_or(false) &&
            actor.principal.kind == http::Principal::Kind::user) {
            // A person turning the policy on without a second factor would lock themselves
            // out of the org's routes the moment the change lands.
            auto own = tx.query(
                "SELECT 1 FROM identity_mfa_totp WHERE user_id = ? AND confirmed_at_ms IS NOT NULL",
                {actor.principal.id});
            if (!own) return own.error();
            if (own->empty()) {
                return Error::conflict(
                    "require_mfa: turn on TOTP for your own account before requiring it");
            }
        }
        if (changes.slug) {
            auto taken = tx.query("SELECT 1 FROM identity_orgs WHERE slug = ? AND id <> ?",
                                  {*changes.slug, org_id});
            if (!taken) return taken.error();
            if (!taken->empty()) return Error::conflict("slug: is taken by another organization");
        }
        auto changed = tx.execute(
            "UPDATE identity_orgs SET name = COALESCE(?, name), slug = COALESCE(?, slug), "
            "require_mfa = COALESCE(?, require_mfa), updated_at_ms = ? WHERE id = ?",
            {name, changes.slug, changes.require_mfa, now, org_id});
        if (!changed) return changed.error();
        found = *changed == 1;
        if (!found) return {};
        boost::json::array fields;
        if (name) fields.emplace_back("name");
        if (changes.slug) fields.emplace_back("slug");
        boost::json::object extra{{"fields", std::move(fields)}};
        if (changes.require_mfa) {
            extra["fields"].as_array().emplace_back("require_mfa");
            extra["require_mfa"] = *changes.require_mfa;
        }
        return emit(tx, "org.updated", actor, org_id, org_id, std::move(extra));
    });
    if (!committed) return committed.error();
    if (!found) return Error::not_found("no such organization");
    // The policy is part of the cached membership answer.
    if (changes.require_mfa) forget_org(org_id);
    return get_org(org_id);
}

Result<void> OrgService::delete_org(const Actor& actor, const std::string& org_id) {
    // Members, roles, invitations and API keys go with the row (ON DELETE CASCADE).
    auto found = change_one(actor, "org.deleted", org_id, org_id,
                            "DELETE FROM identity_orgs WHERE id = ?", {org_id});
    if (!found) return found.error();
    forget_org(org_id);
    {
        std::lock_guard lock(cache_mutex_);
        std::erase_if(keys_, [&](const auto& entry) { return entry.second.org_id == org_id; });
    }
    if (!*found) return Error::not_found("no such organization");
    return {};
}

Result<void> OrgService::transfer(const Actor& actor, const std::string& org_id,
                                  const std::string& user_id) {
    if (actor.principal.kind != http::Principal::Kind::user) {
        return permission_denied("only an owner can transfer the organization");
    }
    if (user_id == actor.principal.id) return field_error("user_id", "is already you");
    std::int64_t now = clock_.now_ms();
    auto committed = database_.transact([&](db::Transaction& tx) -> Result<void> {
        if (auto locked = lock_existing_org(tx, org_id, now); !locked) return locked;
        auto mine = member_role(tx, org_id, actor.principal.id);
        if (!mine) return mine.error();
        if (!*mine || **mine != kOwnerRole) {
            return permission_denied("only an owner can transfer the organization");
        }
        auto theirs = member_role(tx, org_id, user_id);
        if (!theirs) return theirs.error();
        if (!*theirs) return field_error("user_id", "is not a member of this organization");
        if (auto ok = done(tx.execute(
                "UPDATE identity_org_members SET role = ?, updated_at_ms = ? WHERE org_id = ? AND "
                "user_id = ?",
                {std::string(kOwnerRole), now, org_id, user_id}));
            !ok) {
            return ok;
        }
        if (auto ok = done(tx.execute(
                "UPDATE identity_org_members SET role = ?, updated_at_ms = ? WHERE org_id = ? AND "
                "user_id = ?",
                {std::string(kAdminRole), now, org_id, actor.principal.id}));
            !ok) {
            return ok;
        }
        return emit(tx, "org.transferred", actor, org_id, user_id,
                    {{"previous_owner_id", actor.principal.id},
                     {"previous_owner_role", std::string(kAdminRole)},
                     {"previous_role", **theirs}});
    });
    if (!committed) return committed.error();
    forget_org(org_id);
    return {};
}

// --- members ---

Result<std::vector<Member>> OrgService::list_members(const std::string& org_id) {
    return whole_list(list_members(org_id, PageRequest{kMaxListed, std::nullopt}));
}

Result<Page<Member>> OrgService::list_members(const std::string& org_id, const PageRequest& page) {
    // Ordered by joining time, then id: the position is "<created_at_ms>:<user_id>". The first
    // page starts after (-1, ""), before every row.
    std::pair<std::int64_t, std::string> after{-1, ""};
    if (page.after) {
        auto parsed = parse_time_position(*page.after);
        if (!parsed) return bad_cursor();
        after = std::move(*parsed);
    }
    auto rows = database_.query(
        "SELECT m.user_id, u.email, u.name, m.role, COALESCE(r.name, m.role), m.created_at_ms "
        "FROM identity_org_members m JOIN identity_users u ON u.id = m.user_id "
        "LEFT JOIN identity_org_roles r ON r.id = m.role AND r.org_id = m.org_id "
        "WHERE m.org_id = ? AND (m.created_at_ms > ? OR (m.created_at_ms = ? AND m.user_id > ?)) "
        "ORDER BY m.created_at_ms, m.user_id LIMIT ?",
        {org_id, after.first, after.first, after.second,
         static_cast<std::int64_t>(page.limit + 1)});
    if (!rows) return rows.error();
    std::vector<Member> members;
    for (const auto& row : *rows) {
        members.push_back({row.get_text(0), row.get_text(1), row.get_text(2), row.get_text(3),
                           row.get_text(4), row.get_int(5)});
    }
    return finish_page(std::move(members), page.limit, [](const Member& member) {
        return time_position(member.joined_at_ms, member.user_id);
    });
}

Result<Member> OrgService::update_member_role(const Actor& actor, const std::string& org_id,
                                              const std::string& user_id, const std::string& role) {
    std::int64_t now = clock_.now_ms();
    auto committed = database_.transact([&](db::Transaction& tx) -> Result<void> {
        if (auto locked = lock_existing_org(tx, org_id, now); !locked) return locked;
        auto current = role_of_member(tx, org_id, user_id);
        if (!current) return current.error();
        auto wanted = permissions_of(tx, org_id, role);
        if (!wanted) return wanted.error();
        auto held = permissions_of(tx, org_id, *current);
        if (!held) return held.error();
        if (!is_subset(*wanted, actor.principal.permissions) ||
            !is_subset(*held, actor.principal.permissions)) {
            return permission_denied(
                "you can only change members whose old and new roles grant no more than you hold");
        }
        if (*current == role) return {};
        if (auto kept = keep_an_owner(tx, org_id, *current); !kept) return kept;
        if (auto ok = done(tx.execute(
                "UPDATE identity_org_members SET role = ?, updated_at_ms = ? WHERE org_id = ? AND "
                "user_id = ?",
                {role, now, org_id, user_id}));
            !ok) {
            return ok;
        }
        return emit(tx, "member.role_changed", actor, org_id, user_id,
                    {{"previous_role", *current}, {"role", role}});
    });
    if (!committed) return committed.error();
    forget_org(org_id);
    auto members = list_members(org_id);
    if (!members) return members.error();
    for (auto& member : *members) {
        if (member.user_id == user_id) return member;
    }
    return not_member();
}

Result<void> OrgService::remove_member(const Actor& actor, const std::string& org_id,
                                       const std::string& user_id) {
    bool leaving =
        actor.principal.kind == http::Principal::Kind::user && actor.principal.id == user_id;
    std::int64_t now = clock_.now_ms();
    auto committed = database_.transact([&](db::Transaction& tx) -> Result<void> {
        if (auto locked = lock_existing_org(tx, org_id, now); !locked) return locked;
        auto current = role_of_member(tx, org_id, user_id);
        if (!current) return current.error();
        if (!leaving) {
            auto held = permissions_of(tx, org_id, *current);
            if (!held) return held.error();
            if (!is_subset(*held, actor.principal.permissions)) {
                return permission_denied(
                    "you can only remove members whose role grants no more than you hold");
            }
        }
        if (auto kept = keep_an_owner(tx, org_id, *current); !kept) return kept;
        if (auto ok =
                done(tx.execute("DELETE FROM identity_org_members WHERE org_id = ? AND user_id = ?",
                                {org_id, user_id}));
            !ok) {
            return ok;
        }
        return emit(tx, "member.removed", actor, org_id, user_id,
                    {{"role", *current}, {"reason", leaving ? "left" : "removed"}});
    });
    if (!committed) return committed.error();
    forget_org(org_id);
    return {};
}

// --- invitations ---

Result<Invitation> OrgService::invite(const Actor& actor, const std::string& org_id,
                                      const std::string& email, const std::string& role) {
    auto normalized = normalize_email(email);
    if (!normalized) return normalized.error();
    auto wanted = permissions_of(database_, org_id, role);
    if (!wanted) return wanted.error();
    if (auto ok = check_permissions(*wanted, actor); !ok) return ok.error();
    auto org = get_org(org_id);
    if (!org) return org.error();
    std::int64_t now = clock_.now_ms();
    std::string token = random_token(kInvitationTokenBytes);
    Invitation invitation{new_id("inv", now),
                          org_id,
                          *normalized,
                          role,
                          actor.principal.id,
                          now,
                          now + settings_.invitation_ttl_s * kMsPerSecond};
    std::string base = settings_.base_url;
    while (base.ends_with('/')) base.pop_back();
    mail::Message mail{
        *normalized, "You are invited to an organization on Nimbus",
        fmt::format("You are invited to join the organization \"{}\" on Nimbus.\n\nSign in (or "
                    "create an account with this address), then open this link to accept:\n"
                    "{}/accept-invitation?token={}\n\nThe link works once and expires in {} "
                    "days. If you did not expect it, ignore this message.\n",
                    org->name, base, token, settings_.invitation_ttl_s / (24 * 3600))};
    auto committed = database_.transact([&](db::Transaction& tx) -> Result<void> {
        if (auto locked = lock_existing_org(tx, org_id, now); !locked) return locked;
        auto member = tx.query(
            "SELECT 1 FROM identity_org_members m JOIN identity_users u ON u.id = m.user_id "
            "WHERE m.org_id = ? AND u.email = ?",
            {org_id, *normalized});
        if (!member) return member.error();
        if (!member->empty()) return Error::conflict("email: is already a member");
        // A new invitation replaces an open one to the same address.
        if (auto ok = done(tx.execute(
                "UPDATE identity_org_invitations SET revoked_at_ms = ? WHERE org_id = ? AND "
                "email = ? AND accepted_at_ms IS NULL AND revoked_at_ms IS NULL",
                {now, org_id, *normalized}));
            !ok) {
            return ok;
        }
        auto pending = tx.query(
            "SELECT COUNT(*) FROM identity_org_invitations WHERE org_id = ? AND accepted_at_ms IS "
            "NULL AND revoked_at_ms IS NULL AND expires_at_ms > ?",
            {org_id, now});
        if (!pending) return pending.error();
        if (pending->front().get_int(0) >= kMaxPendingInvitations) {
            return Error::conflict(
                fmt::format("the organization has {} open invitations; revoke some first",
                            kMaxPendingInvitations));
        }
        if (auto ok = done(tx.execute(
                "INSERT INTO identity_org_invitations (id, org_id, email, role, token_hash, "
                "invited_by, created_at_ms, expires_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                {invitation.id, org_id, *normalized, role, crypto::sha256_hex(token),
                 actor.principal.id, now, invitation.expires_at_ms}));
            !ok) {
            return ok;
        }
        // The mail carries the token: queued with the invitation, it exists exactly when the
        // invitation does, and the answer does not wait on the mail server.
        if (auto queued = mail_queue_.enqueue(tx, mail); !queued) return queued;
        return emit(tx, "invitation.created", actor, org_id, invitation.id,
                    {{"email", *normalized}, {"role", role}});
    });
    if (!committed) return committed.error();
    mail_queue_.wake();
    return invitation;
}

Result<std::vector<Invitation>> OrgService::list_invitations(const std::string& org_id) {
    return whole_list(list_invitations(org_id, PageRequest{kMaxListed, std::nullopt}));
}

Result<Page<Invitation>> OrgService::list_invitations(const std::string& org_id,
                                                      const PageRequest& page) {
    // Ids are time-ordered ("inv_" + ULID): the position is the last id.
    auto rows = database_.query(
        std::string("SELECT ") + std::string(kInvitationColumns) +
            " FROM identity_org_invitations WHERE org_id = ? AND accepted_at_ms IS NULL AND "
            "revoked_at_ms IS NULL AND expires_at_ms > ? AND id > ? ORDER BY id LIMIT ?",
        {org_id, clock_.now_ms(), page.after.value_or(""),
         static_cast<std::int64_t>(page.limit + 1)});
    if (!rows) return rows.error();
    std::vector<Invitation> invitations;
    for (const auto& row : *rows) invitations.push_back(invitation_from_row(row));
    return finish_page(std::move(invitations), page.limit,
                       [](const Invitation& invitation) { return invitation.id; });
}

Result<void> OrgService::revoke_invitation(const Actor& actor, const std::string& org_id,
                                           const std::string& invitation_id) {
    auto found = change_one(
        actor, "invitation.revoked", org_id, invitation_id,
        "UPDATE identity_org_invitations SET revoked_at_ms = ? WHERE id = ? AND org_id = ? AND "
        "accepted_at_ms IS NULL AND revoked_at_ms IS NULL",
        {clock_.now_ms(), invitation_id, org_id});
    if (!found) return found.error();
    if (!*found) return Error::not_found("no open invitation with this id");
    return {};
}

Result<InvitationPreview> OrgService::preview_invitation(const std::string& token) {
    auto rows = database_.query(
        "SELECT i.org_id, o.name, i.role, i.email, i.expires_at_ms, COALESCE(r.name, i.role) "
        "FROM identity_org_invitations i JOIN identity_orgs o ON o.id = i.org_id "
        "LEFT JOIN identity_org_roles r ON r.id = i.role AND r.org_id = i.org_id "
        "WHERE i.token_hash = ? AND i.accepted_at_ms IS NULL AND i.revoked_at_ms IS NULL AND "
        "i.expires_at_ms > ?",
        {crypto::sha256_hex(token), clock_.now_ms()});
    if (!rows) return rows.error();
    if (rows->empty()) return invalid_invitation();
    const auto& row = rows->front();
    return InvitationPreview{row.get_text(0), row.get_text(1), row.get_text(5), row.get_text(3),
                             row.get_int(4)};
}

Result<Org> OrgService::accept_invitation(const Actor& actor, const std::string& token) {
    if (actor.principal.kind != http::Principal::Kind::user) {
        return permission_denied("only people accept invitations");
    }
    std::int64_t now = clock_.now_ms();
    std::string org_id;
    auto committed = database_.transact([&](db::Transaction& tx) -> Result<void> {
        auto rows = tx.query(
            "SELECT id, org_id, email, role FROM identity_org_invitations WHERE token_hash = ? "
            "AND accepted_at_ms IS NULL AND revoked_at_ms IS NULL AND expires_at_ms > ?",
            {crypto::sha256_hex(token), now});
        if (!rows) return rows.error();
        if (rows->empty()) return invalid_invitation();
        std::string invitation_id = rows->front().get_text(0);
        org_id = rows->front().get_text(1);
        std::string email = rows->front().get_text(2);
        std::string role = rows->front().get_text(3);
        auto user = tx.query("SELECT email, email_verified_at_ms FROM identity_users WHERE id = ?",
                             {actor.principal.id});
        if (!user) return user.error();
        if (user->empty()) return Error::not_found("the account does not exist");
        if (user->front().get_text(0) != email) {
            return permission_denied(
                "the invitation was sent to another email address; sign in with that account");
        }
        if (user->front().is_null(1)) {
            return permission_denied("verify your email address before accepting an invitation");
        }
        auto locked = lock_org(tx, org_id, now);
        if (!locked) return locked.error();
        if (!*locked) return invalid_invitation();
        auto marked = tx.execute(
            "UPDATE identity_org_invitations SET accepted_at_ms = ?, accepted_by = ? WHERE id = ? "
            "AND accepted_at_ms IS NULL AND revoked_at_ms IS NULL",
            {now, actor.principal.id, invitation_id});
        if (!marked) return marked.error();
        if (*marked != 1) return invalid_invitation();
        auto added = tx.execute(
            "INSERT INTO identity_org_members (org_id, user_id, role, created_at_ms, "
            "updated_at_ms) VALUES (?, ?, ?, ?, ?) ON CONFLICT (org_id, user_id) DO NOTHING",
            {org_id, actor.principal.id, role, now, now});
        if (!added) return added.error();
        if (*added != 1) return Error::conflict("you are already a member of this organization");
        if (auto ok = emit(tx, "invitation.accepted", actor, org_id, invitation_id); !ok) {
            return ok;
        }
        return emit(tx, "member.added", actor, org_id, actor.principal.id, {{"role", role}});
    });
    if (!committed) return committed.error();
    forget_org(org_id);
    auto org = get_org(org_id);
    if (org) {
        auto members = list_members(org_id);
        if (members) {
            for (const auto& member : *members) {
                if (member.user_id == actor.principal.id) org->role = member.role;
            }
        }
    }
    return org;
}

// --- roles ---

Result<std::vector<Role>> OrgService::list_roles(const std::string& org_id) {
    return whole_list(list_roles(org_id, PageRequest{kMaxListed, std::nullopt}));
}

Result<Page<Role>> OrgService::list_roles(const std::string& org_id, const PageRequest& page) {
    // The built-in roles come first in their fixed order (position "b:<name>"), then the custom
    // ones by name (position "c:<name>"; names are unique in an org).
    constexpr std::string_view kBuiltinPosition = "b:";
    constexpr std::string_view kCustomPosition = "c:";
    auto builtins = builtin_roles();
    std::size_t first_builtin = 0;
    std::string custom_after;
    if (page.after) {
        if (page.after->starts_with(kBuiltinPosition)) {
            std::string_view name = std::string_view(*page.after).substr(kBuiltinPosition.size());
            auto found = std::find_if(builtins.begin(), builtins.end(),
                                      [&](const BuiltinRole& role) { return role.name == name; });
            if (found == builtins.end()) return bad_cursor();
            first_builtin = static_cast<std::size_t>(found - builtins.begin()) + 1;
        } else if (page.after->starts_with(kCustomPosition) &&
                   page.after->size() > kCustomPosition.size()) {
            first_builtin = builtins.size();
            custom_after = page.after->substr(kCustomPosition.size());
        } else {
            return bad_cursor();
        }
    }
    std::vector<Role> roles;
    for (std::size_t i = first_builtin; i < builtins.size() && roles.size() <= page.limit; ++i) {
        const auto& builtin = builtins[i];
        roles.push_back({std::string(builtin.name), std::string(builtin.name),
                         std::string(builtin.description), builtin.permissions, true, 0, 0});
    }
    if (roles.size() <= page.limit) {
        // Custom names sort after "" in every collation, so the first page passes "".
        auto rows = database_.query(
            "SELECT id, name, description, permissions, created_at_ms, updated_at_ms FROM "
            "identity_org_roles WHERE org_id = ? AND name > ? ORDER BY name LIMIT ?",
            {org_id, custom_after, static_cast<std::int64_t>(page.limit + 1 - roles.size())});
        if (!rows) return rows.error();
        for (const auto& row : *rows) {
            roles.push_back({row.get_text(0), row.get_text(1), row.get_text(2),
                             split_permissions(row.get_text(3)), false, row.get_int(4),
                             row.get_int(5)});
        }
    }
    return finish_page(std::move(roles), page.limit, [&](const Role& role) {
        return std::string(role.builtin ? kBuiltinPosition : kCustomPosition) + role.name;
    });
}

namespace {

Result<std::string> role_name(const std::string& raw) {
    auto name = display_name(raw, "name", kMaxRoleNameChars);
    if (!name) return name.error();
    if (find_builtin_role(lower_ascii(*name)) != nullptr) {
        return field_error("name", "is the name of a built-in role");
    }
    return name;
}

}  // namespace

Result<Role> OrgService::create_role(const Actor& actor, const std::string& org_id,
                                     const std::string& name, const std::string& description,
                                     const std::vector<std::string>& permissions) {
    auto checked_name = role_name(name);
    if (!checked_name) return checked_name.error();
    auto checked_description =
        display_name(description, "description", kMaxDescriptionChars, /*allow_empty=*/true);
    if (!checked_description) return checked_description.error();
    auto checked = checked_permissions(permissions);
    if (!checked) return checked.error();
    add_org_read(*checked);
    if (auto ok = check_permissions(*checked, actor); !ok) return ok.error();
    std::int64_t now = clock_.now_ms();
    Role role{new_id("rol", now), *checked_name, *checked_description, *checked, false, now, now};
    auto committed = database_.transact([&](db::Transaction& tx) -> Result<void> {
        if (auto locked = lock_existing_org(tx, org_id, now); !locked) return locked;
        auto count = tx.query("SELECT COUNT(*) FROM identity_org_roles WHERE org_id = ?", {org_id});
        if (!count) return count.error();
        if (count->front().get_int(0) >= kMaxCustomRoles) {
            return Error::conflict(
                fmt::format("an organization has at most {} custom roles", kMaxCustomRoles));
        }
        auto inserted = tx.execute(
            "INSERT INTO identity_org_roles (id, org_id, name, description, permissions, "
            "created_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (org_id, "
            "name) DO NOTHING",
            {role.id, org_id, role.name, role.description, join_permissions(role.permissions), now,
             now});
        if (!inserted) return inserted.error();
        if (*inserted != 1) return Error::conflict("name: another role has this name");
        return emit(tx, "role.created", actor, org_id, role.id,
                    {{"name", role.name}, {"permissions", join_permissions(role.permissions)}});
    });
    if (!committed) return committed.error();
    return role;
}

Result<Role> OrgService::update_role(const Actor& actor, const std::string& org_id,
                                     const std::string& role_id, const RoleChanges& changes) {
    if (find_builtin_role(role_id) != nullptr) {
        return Error::conflict("built-in roles cannot be changed");
    }
    if (!is_valid_id(role_id, "rol")) return Error::not_found("no such role");
    std::optional<std::string> name;
    if (changes.name) {
        auto checked = role_name(*changes.name);
        if (!checked) return checked.error();
        name = std::move(*checked);
    }
    std::optional<std::string> description;
    if (changes.description) {
        auto checked = display_name(*changes.description, "description", kMaxDescriptionChars,
                                    /*allow_empty=*/true);
        if (!checked) return checked.error();
        description = std::move(*checked);
    }
    std::optional<std::string> permissions;
    if (changes.permissions) {
        auto checked = checked_permissions(*changes.permissions);
        if (!checked) return checked.error();
        add_org_read(*checked);
        if (auto ok = check_permissions(*checked, actor); !ok) return ok.error();
        permissions = join_permissions(*checked);
    }
    std::int64_t now = clock_.now_ms();
    auto committed = database_.transact([&](db::Transaction& tx) -> Result<void> {
        auto held = permissions_of(tx, org_id, role_id);
        if (!held) {
            if (held.error().code == ErrorCode::invalid_argument) {
                return Error::not_found("no such role");
            }
            return held.error();
        }
        if (auto ok = check_permissions(*held, actor); !ok) return ok;
        if (name) {
            auto taken = tx.query(
                "SELECT 1 FROM identity_org_roles WHERE org_id = ? AND name = ? AND id <> ?",
                {org_id, *name, role_id});
            if (!taken) return taken.error();
            if (!taken->empty()) return Error::conflict("name: another role has this name");
        }
        if (auto ok = done(tx.execute(
                "UPDATE identity_org_roles SET name = COALESCE(?, name), description = "
                "COALESCE(?, description), permissions = COALESCE(?, permissions), updated_at_ms "
                "= ? WHERE id = ? AND org_id = ?",
                {name, description, permissions, now, role_id, org_id}));
            !ok) {
            return ok;
        }
        boost::json::object extra;
        if (permissions) extra["permissions"] = *permissions;
        if (name) extra["name"] = *name;
        return emit(tx, "role.updated", actor, org_id, role_id, std::move(extra));
    });
    if (!committed) return committed.error();
    forget_org(org_id);
    auto roles = list_roles(org_id);
    if (!roles) return roles.error();
    for (auto& role : *roles) {
        if (role.id == role_id) return role;
    }
    return Error::not_found("no such role");
}

Result<void> OrgService::delete_role(const Actor& actor, const std::string& org_id,
                                     const std::string& role_id) {
    if (find_builtin_role(role_id) != nullptr) {
        return Error::conflict("built-in roles cannot be deleted");
    }
    if (!is_valid_id(role_id, "rol")) return Error::not_found("no such role");
    std::int64_t now = clock_.now_ms();
    bool found = false;
    auto committed = database_.transact([&](db::Transaction& tx) -> Result<void> {
        if (auto locked = lock_existing_org(tx, org_id, now); !locked) return locked;
        auto in_use = tx.query(
            "SELECT (SELECT COUNT(*) FROM identity_org_members WHERE org_id = ? AND role = ?) + "
            "(SELECT COUNT(*) FROM identity_org_invitations WHERE org_id = ? AND role = ? AND "
            "accepted_at_ms IS NULL AND revoked_at_ms IS NULL AND expires_at_ms > ?)",
            {org_id, role_id, org_id, role_id, now});
        if (!in_use) return in_use.error();
        if (in_use->front().get_int(0) > 0) {
            return Error::conflict(
                "the role is held by members or offered by open invitations; change those first");
        }
        auto changed = tx.execute("DELETE FROM identity_org_roles WHERE id = ? AND org_id = ?",
                                  {role_id, org_id});
        if (!changed) return changed.error();
        found = *changed == 1;
        if (!found) return {};
        // Expired and revoked invitations may still name it; they can never be accepted.
        return emit(tx, "role.deleted", actor, org_id, role_id);
    });
    if (!committed) return committed.error();
    if (!found) return Error::not_found("no such role");
    return {};
}

// --- API keys ---

Result<std::vector<ApiKey>> OrgService::list_api_keys(const std::string& org_id) {
    return whole_list(list_api_keys(org_id, PageRequest{kMaxListed, std::nullopt}));
}

Result<Page<ApiKey>> OrgService::list_api_keys(const std::string& org_id, const PageRequest& page) {
    // Ids are time-ordered ("key_" + ULID): the position is the last id.
    auto rows = database_.query(
        std::string("SELECT ") + std::string(kApiKeyColumns) +
            " FROM identity_api_keys WHERE org_id = ? AND revoked_at_ms IS NULL AND id > ? "
            "ORDER BY id LIMIT ?",
        {org_id, page.after.value_or(""), static_cast<std::int64_t>(page.limit + 1)});
    if (!rows) return rows.error();
    std::vector<ApiKey> keys;
    for (const auto& row : *rows) keys.push_back(api_key_from_row(row));
    return finish_page(std::move(keys), page.limit, [](const ApiKey& key) { return key.id; });
}

Result<CreatedApiKey> OrgService::create_api_key(const Actor& actor, const std::string& org_id,
                                                 const std::string& name,
                                                 const std::vector<std::string>& permissions,
                                                 std::optional<std::int64_t> expires_at_ms) {
    auto checked_name = display_name(name, "name", kMaxNameChars);
    if (!checked_name) return checked_name.error();
    if (permissions.empty()) return field_error("permissions", "must name at least one");
    auto checked = checked_permissions(permissions);
    if (!checked) return checked.error();
    std::int64_t now = clock_.now_ms();
    if (expires_at_ms && *expires_at_ms <= now) {
        return field_error("expires_at", "must be in the future");
    }
    if (auto ok = check_permissions(*checked, actor); !ok) return ok.error();
    std::string ulid = new_ulid(now);
    CreatedApiKey created;
    created.key = {"key_" + ulid,      org_id, *checked_name, *checked,
                   actor.principal.id, now,    expires_at_ms, std::nullopt};
    created.secret = std::string(kApiKeyPrefix) + ulid + "_" + random_token(kApiKeySecretBytes);
    auto committed = database_.transact([&](db::Transaction& tx) -> Result<void> {
        if (auto locked = lock_existing_org(tx, org_id, now); !locked) return locked;
        auto count = tx.query(
            "SELECT COUNT(*) FROM identity_api_keys WHERE org_id = ? AND revoked_at_ms IS NULL",
            {org_id});
        if (!count) return count.error();
        if (count->front().get_int(0) >= kMaxActiveApiKeys) {
            return Error::conflict(fmt::format(
                "an organization has at most {} API keys; revoke some first", kMaxActiveApiKeys));
        }
        if (auto ok = done(tx.execute(
                "INSERT INTO identity_api_keys (id, org_id, name, secret_hash, permissions, "
                "created_by, created_at_ms, expires_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                {created.key.id, org_id, created.key.name, crypto::sha256_hex(created.secret),
                 join_permissions(*checked), actor.principal.id, now, expires_at_ms}));
            !ok) {
            return ok;
        }
        return emit(tx, "api_key.created", actor, org_id, created.key.id,
                    {{"name", created.key.name}, {"permissions", join_permissions(*checked)}});
    });
    if (!committed) return committed.error();
    return created;
}

Result<void> OrgService::revoke_api_key(const Actor& actor, const std::string& org_id,
                                        const std::string& key_id) {
    auto found = change_one(actor, "api_key.revoked", org_id, key_id,
                            "UPDATE identity_api_keys SET revoked_at_ms = ? WHERE id = ? AND "
                            "org_id = ? AND revoked_at_ms IS NULL",
                            {clock_.now_ms(), key_id, org_id});
    if (!found) return found.error();
    forget_key(key_id);
    if (!*found) return Error::not_found("no active API key with this id");
    return {};
}

// --- lookups for the authenticate step ---

bool OrgService::membership_cached(const std::string& org_id, const std::string& user_id) const {
    std::lock_guard lock(cache_mutex_);
    auto hit = memberships_.find(org_id + "\n" + user_id);
    return hit != memberships_.end() && hit->second.expires_at_ms > clock_.now_ms();
}

Result<std::optional<std::vector<std::string>>> OrgService::member_permissions(
    const std::string& org_id, const std::string& user_id) {
    auto found = membership(org_id, user_id);
    if (!found) return found.error();
    if (!*found) return std::optional<std::vector<std::string>>();
    return std::optional<std::vector<std::string>>(std::move((*found)->permissions));
}

Result<std::optional<Membership>> OrgService::membership(const std::string& org_id,
                                                         const std::string& user_id) {
    using Answer = std::optional<Membership>;
    if (!is_valid_id(org_id, "org")) return Answer();
    std::string cache_key = org_id + "\n" + user_id;
    std::int64_t now = clock_.now_ms();
    {
        std::lock_guard lock(cache_mutex_);
        auto hit = memberships_.find(cache_key);
        if (hit != memberships_.end() && hit->second.expires_at_ms > now) {
            return hit->second.membership;
        }
    }
    // One round trip answers the role and the MFA policy: the TOTP row only matters when the
    // org requires it, and then only whether it is confirmed.
    auto rows = database_.query(
        "SELECT m.role, r.permissions, o.require_mfa, t.confirmed_at_ms FROM identity_org_members "
        "m JOIN identity_orgs o ON o.id = m.org_id LEFT JOIN identity_org_roles r ON r.id = "
        "m.role AND r.org_id = m.org_id LEFT JOIN identity_mfa_totp t ON t.user_id = m.user_id "
        "WHERE m.org_id = ? AND m.user_id = ?",
        {org_id, user_id});
    if (!rows) return rows.error();
    Answer answer;
    if (!rows->empty()) {
        const auto& row = rows->front();
        answer.emplace();
        if (const auto* builtin = find_builtin_role(row.get_text(0))) {
            answer->permissions = builtin->permissions;
        } else {
            // A custom role id whose row is gone cannot happen (deleting a role in use is
            // refused); such a member would hold org.read only.
            answer->permissions = split_permissions(row.get_optional_text(1).value_or(""));
            add_org_read(answer->permissions);
        }
        answer->mfa_missing = row.get_int(2) != 0 && row.is_null(3);
    }
    std::lock_guard lock(cache_mutex_);
    if (memberships_.size() >= settings_.membership_cache_entries) {
        std::erase_if(memberships_,
                      [now](const auto& entry) { return entry.second.expires_at_ms <= now; });
        // Still full of live entries: start over rather than track recency on every hit.
        if (memberships_.size() >= settings_.membership_cache_entries) memberships_.clear();
    }
    if (settings_.membership_cache_entries > 0 && settings_.membership_cache_ttl_ms > 0) {
        memberships_[cache_key] = {answer, now + settings_.membership_cache_ttl_ms};
    }
    return answer;
}

namespace {

/// "key_<ulid>" from a well-formed "nmb_<ulid>_<secret>"; empty otherwise.
std::string api_key_id(std::string_view secret) {
    if (secret.size() != kApiKeyChars || !secret.starts_with(kApiKeyPrefix) ||
        secret[kApiKeyPrefix.size() + kUlidChars] != '_') {
        return {};
    }
    std::string id = "key_" + std::string(secret.substr(kApiKeyPrefix.size(), kUlidChars));
    return is_valid_id(id, "key") ? id : std::string();
}

}  // namespace

bool OrgService::api_key_cached(std::string_view secret) const {
    std::string id = api_key_id(secret);
    if (id.empty()) return true;  // refused without the database
    std::int64_t now = clock_.now_ms();
    std::lock_guard lock(cache_mutex_);
    auto hit = keys_.find(id);
    if (hit == keys_.end() || hit->second.cached_until_ms <= now) return false;
    auto touched = key_touched_ms_.find(id);
    return touched != key_touched_ms_.end() &&
           now - touched->second < settings_.api_key_touch_interval_s * kMsPerSecond;
}

Result<http::Principal> OrgService::authenticate_api_key(std::string_view secret) {
    Error invalid{ErrorCode::unauthenticated, "the API key is invalid, expired or revoked"};
    std::string id = api_key_id(secret);
    if (id.empty()) return invalid;
    std::int64_t now = clock_.now_ms();
    std::optional<CachedKey> key;
    {
        std::lock_guard lock(cache_mutex_);
        auto hit = keys_.find(id);
        if (hit != keys_.end() && hit->second.cached_until_ms > now) key = hit->second;
    }
    if (!key) {
        auto rows = database_.query(
            "SELECT org_id, secret_hash, permissions, expires_at_ms FROM identity_api_keys WHERE "
            "id = ? AND revoked_at_ms IS NULL",
            {id});
        if (!rows) return rows.error();
        if (rows->empty()) return invalid;
        const auto& row = rows->front();
        key = CachedKey{row.get_text(0), row.get_text(1), split_permissions(row.get_text(2)),
                        row.get_optional_int(3), now + settings_.membership_cache_ttl_ms};
        std::lock_guard lock(cache_mutex_);
        if (keys_.size() >= settings_.membership_cache_entries) keys_.clear();
        if (settings_.membership_cache_entries > 0 && settings_.membership_cache_ttl_ms > 0) {
            keys_[id] = *key;
        }
    }
    // The id only finds the row; the secret decides, compared in constant time on its hash.
    if (!crypto::constant_time_equal(crypto::sha256_hex(secret), key->secret_hash)) return invalid;
    if (key->expires_at_ms && *key->expires_at_ms <= now) return invalid;
    bool touch = false;
    {
        std::lock_guard lock(cache_mutex_);
        auto& touched = key_touched_ms_[id];
        if (now - touched >= settings_.api_key_touch_interval_s * kMsPerSecond) {
            touched = now;
            touch = true;
        }
        if (key_touched_ms_.size() > settings_.membership_cache_entries) {
            key_touched_ms_.clear();
            key_touched_ms_[id] = now;
        }
    }
    if (touch) {
        auto touched = database_.transact([&](db::Transaction& tx) -> Result<void> {
            return done(tx.execute("UPDATE identity_api_keys SET last_used_at_ms = ? WHERE id = ?",
                                   {now, id}));
        });
        // A lost write only makes last_used_at older; the request goes on.
        if (!touched) log::warn("API key use not recorded", {{"error", touched.error().message}});
    }
    http::Principal principal;
    principal.kind = http::Principal::Kind::api_key;
    principal.id = id;
    principal.org_id = key->org_id;
    principal.permissions = key->permissions;
    return principal;
}

// --- operators ---

bool OrgService::operator_cached(const std::string& user_id) const {
    std::lock_guard lock(cache_mutex_);
    auto hit = operators_.find(user_id);
    return hit != operators_.end() && hit->second.second > clock_.now_ms();
}

Result<bool> OrgService::is_operator(const std::string& user_id) {
    std::int64_t now = clock_.now_ms();
    {
        std::lock_guard lock(cache_mutex_);
        auto hit = operators_.find(user_id);
        if (hit != operators_.end() && hit->second.second > now) return hit->second.first;
    }
    auto rows = database_.query("SELECT is_operator FROM identity_users WHERE id = ?", {user_id});
    if (!rows) return rows.error();
    bool answer = !rows->empty() && rows->front().get_int(0) != 0;
    std::lock_guard lock(cache_mutex_);
    if (operators_.size() >= settings_.membership_cache_entries) operators_.clear();
    if (settings_.membership_cache_entries > 0 && settings_.membership_cache_ttl_ms > 0) {
        operators_[user_id] = {answer, now + settings_.membership_cache_ttl_ms};
    }
    return answer;
}

Result<void> OrgService::set_operator(const std::string& email, bool is_operator) {
    auto normalized = normalize_email(email);
    if (!normalized) return normalized.error();
    std::int64_t now = clock_.now_ms();
    bool found = false;
    auto committed = database_.transact([&](db::Transaction& tx) -> Result<void> {
        auto rows =
            tx.query("SELECT id, is_operator FROM identity_users WHERE email = ?", {*normalized});
        if (!rows) return rows.error();
        if (rows->empty()) return {};
        found = true;
        std::string user_id = rows->front().get_text(0);
        if ((rows->front().get_int(1) != 0) == is_operator) return {};
        if (auto ok = done(tx.execute(
                "UPDATE identity_users SET is_operator = ?, updated_at_ms = ? WHERE id = ?",
                {is_operator ? 1 : 0, now, user_id}));
            !ok) {
            return ok;
        }
        Actor cli{{.kind = http::Principal::Kind::user, .id = "cli"}, ""};
        return emit(tx, is_operator ? "operator.granted" : "operator.revoked", cli, "", user_id);
    });
    if (!committed) return committed.error();
    if (!found) return Error::not_found("no account has this email address");
    std::lock_guard lock(cache_mutex_);
    operators_.clear();
    return {};
}

Result<std::vector<User>> OrgService::list_operators() {
    auto rows = database_.query(
        "SELECT id, email, name, email_verified_at_ms, created_at_ms, updated_at_ms FROM "
        "identity_users WHERE is_operator = 1 ORDER BY email LIMIT ?",
        {kMaxListed});
    if (!rows) return rows.error();
    std::vector<User> users;
    for (const auto& row : *rows) {
        User user;
        user.id = row.get_text(0);
        user.email = row.get_text(1);
        user.name = row.get_text(2);
        user.email_verified = !row.is_null(3);
        user.is_operator = true;
        user.created_at_ms = row.get_int(4);
        user.updated_at_ms = row.get_int(5);
        users.push_back(std::move(user));
    }
    return users;
}

Result<void> OrgService::apply_operator_emails() {
    std::int64_t now = clock_.now_ms();
    for (const auto& email : settings_.operator_emails) {
        auto normalized = normalize_email(email);
        if (!normalized)
            return Error::invalid("identity.operator_emails: " + email +
                                  " is not an email address");
        auto committed = database_.transact([&](db::Transaction& tx) -> Result<void> {
            // Only verified accounts: an unverified sign-up with this address proves nothing.
            auto rows = tx.query(
                "SELECT id FROM identity_users WHERE email = ? AND email_verified_at_ms IS NOT "
                "NULL AND is_operator = 0",
                {*normalized});
            if (!rows) return rows.error();
            if (rows->empty()) return {};
            std::string user_id = rows->front().get_text(0);
            if (auto ok = done(tx.execute(
                    "UPDATE identity_users SET is_operator = 1, updated_at_ms = ? WHERE id = ?",
                    {now, user_id}));
                !ok) {
                return ok;
            }
            Actor config{{.kind = http::Principal::Kind::user, .id = "config"}, ""};
            return emit(tx, "operator.granted", config, "", user_id);
        });
        if (!committed) return committed.error();
    }
    return {};
}

}  // namespace nimbus::identity
