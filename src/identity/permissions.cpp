#include "identity/permissions.hpp"

#include <algorithm>
#include <array>

namespace nimbus::identity {
namespace {

constexpr std::array kPermissions = {
    PermissionInfo{"org.read", "See the organization, its roles and its settings."},
    PermissionInfo{"org.update", "Rename the organization or change its slug."},
    PermissionInfo{"org.delete", "Delete the organization and everything in it."},
    PermissionInfo{"org.transfer", "Hand ownership to another member."},
    PermissionInfo{"org.members.read", "List members and pending invitations."},
    PermissionInfo{"org.members.invite", "Invite people by email; revoke invitations."},
    PermissionInfo{"org.members.remove", "Remove members."},
    PermissionInfo{"org.members.update_role", "Change a member's role."},
    PermissionInfo{"org.roles.manage", "Create, change and delete custom roles."},
    PermissionInfo{"api_keys.manage", "Create, list and revoke the organization's API keys."},
    PermissionInfo{"oauth.clients.manage", "Register and manage OAuth clients."},
    PermissionInfo{"audit.read", "Read the organization's audit log."},
    PermissionInfo{"billing.read", "See plans, invoices and usage."},
    PermissionInfo{"billing.manage", "Change the plan and payment details."},
    PermissionInfo{"firewall.manage", "Change the organization's firewall and IP rules."},
};

constexpr std::array<std::string_view, 4> kOperatorPermissions = {
    "gateway.firewall.manage", "gateway.rate_limits.manage", "mail.dev_mailbox.read",
    "audit.read_all"};

std::vector<std::string> all_but(std::initializer_list<std::string_view> excluded) {
    std::vector<std::string> out;
    for (const auto& permission : kPermissions) {
        if (std::find(excluded.begin(), excluded.end(), permission.name) == excluded.end()) {
            out.emplace_back(permission.name);
        }
    }
    return out;
}

const std::vector<BuiltinRole>& roles() {
    // Built once; the list never changes while the process runs.
    static const std::vector<BuiltinRole> kRoles = {
        {"owner", "Everything, including deleting and transferring the organization.", all_but({})},
        {"admin", "Everything but deleting or transferring the organization.",
         all_but({"org.delete", "org.transfer"})},
        {"member",
         "Reads the organization and its members; invites people as member or viewer.",
         {"org.read", "org.members.read", "org.members.invite", "billing.read"}},
        {"viewer", "Reads the organization and its members.", {"org.read", "org.members.read"}},
    };
    return kRoles;
}

}  // namespace

std::span<const PermissionInfo> org_permissions() { return kPermissions; }

bool is_org_permission(std::string_view name) {
    return std::any_of(kPermissions.begin(), kPermissions.end(),
                       [&](const PermissionInfo& info) { return info.name == name; });
}

std::span<const std::string_view> operator_permissions() { return kOperatorPermissions; }

std::span<const BuiltinRole> builtin_roles() { return roles(); }

const BuiltinRole* find_builtin_role(std::string_view name) {
    for (const auto& role : roles()) {
        if (role.name == name) return &role;
    }
    return nullptr;
}

bool is_subset(const std::vector<std::string>& wanted, const std::vector<std::string>& held) {
    if (std::find(held.begin(), held.end(), "*") != held.end()) return true;
    return std::all_of(wanted.begin(), wanted.end(), [&](const std::string& permission) {
        return std::find(held.begin(), held.end(), permission) != held.end();
    });
}

std::vector<std::string> split_permissions(std::string_view text) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = text.find(' ', start);
        if (end == std::string_view::npos) end = text.size();
        if (end > start) out.emplace_back(text.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

std::string join_permissions(const std::vector<std::string>& permissions) {
    std::string out;
    for (const auto& permission : permissions) {
        if (!out.empty()) out.push_back(' ');
        out += permission;
    }
    return out;
}

}  // namespace nimbus::identity
