#pragma once
// The organization permission list and the built-in roles, private to identity/. The list is the
// one place a permission name is defined; docs/identity.md mirrors it. Routes of other modules
// declare these names as strings (RouteOptions::permission) and the authenticate step grants them
// per organization.

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace nimbus::identity {

/// One permission a role or an API key may hold inside an organization.
struct PermissionInfo {
    std::string_view name;
    std::string_view description;
};

/// Every permission that roles and API keys may hold, in display order.
std::span<const PermissionInfo> org_permissions();
/// True when `name` is in org_permissions().
bool is_org_permission(std::string_view name);

/// Platform permissions that operators' access tokens carry (beyond account.self).
std::span<const std::string_view> operator_permissions();

/// A built-in role: its name, a description and its permissions.
struct BuiltinRole {
    std::string_view name;
    std::string_view description;
    std::vector<std::string> permissions;
};
/// owner, admin, member, viewer, from most to least powerful.
std::span<const BuiltinRole> builtin_roles();
/// The built-in role with this name, or null.
const BuiltinRole* find_builtin_role(std::string_view name);

/// The role every organization keeps at least one member in.
inline constexpr std::string_view kOwnerRole = "owner";
/// How the refusal of an account deletion that would leave an organization without an owner
/// begins; routes answer it with the `last-owner` problem type.
inline constexpr std::string_view kLastOwnerOfOrgs =
    "the account is the last owner of these organizations: ";
/// The role the previous owner gets after a transfer.
inline constexpr std::string_view kAdminRole = "admin";
/// Every member holds this, whatever their role: a custom role always includes it.
inline constexpr std::string_view kOrgReadPermission = "org.read";

/// True when every item of `wanted` is in `held` (or `held` contains "*").
bool is_subset(const std::vector<std::string>& wanted, const std::vector<std::string>& held);

/// Splits a stored space-separated permission list.
std::vector<std::string> split_permissions(std::string_view text);
/// Joins a permission list for storage.
std::string join_permissions(const std::vector<std::string>& permissions);

}  // namespace nimbus::identity
