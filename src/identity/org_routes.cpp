// HTTP for organizations: parse -> OrgService -> JSON. docs/identity.md lists the routes and the
// permission each declares; the authenticate step has already resolved the caller's permissions
// in the path's organization (or answered 404), so handlers act on `{org_id}` as given.
#include <chrono>

#include <boost/asio/awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "core/clock.hpp"
#include "core/json.hpp"
#include "identity/identity.hpp"
#include "identity/orgs.hpp"
#include "identity/paging.hpp"
#include "identity/permissions.hpp"
#include "identity/route_schemas.hpp"
#include "identity/route_support.hpp"

namespace nimbus::identity {
namespace {

using boost::asio::awaitable;
using boost::json::array;
using boost::json::object;
using http::Method;
using http::Request;
using http::RequestContext;
using http::Response;

constexpr std::size_t kMaxOrgBodyBytes = 16 * 1024;
constexpr std::size_t kMaxListItems = 100;

/// "field: message" or "permissions/2: message" -> the field's JSON Pointer; empty otherwise.
std::string field_of(const std::string& message) {
    auto colon = message.find(": ");
    if (colon == std::string::npos || colon == 0) return {};
    for (char c : message.substr(0, colon)) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '/';
        if (!ok) return {};
    }
    return message.substr(0, colon);
}

/// Maps a service error to an answer; field errors point at their field.
Response problem(const Error& error) {
    std::string field = field_of(error.message);
    if (error.code == ErrorCode::invalid_argument && !field.empty()) {
        return validation_problem({{"/" + field, error.message.substr(field.size() + 2)}});
    }
    if (error.code == ErrorCode::conflict && error.message.starts_with("the organization's last")) {
        return Response::make_problem(409, "last-owner", "Conflict", error.message);
    }
    if (error.code == ErrorCode::conflict && !field.empty()) {
        return Response::make_problem(409, "conflict", "Conflict", error.message,
                                      {{"/" + field, error.message.substr(field.size() + 2)}});
    }
    return Response::from_error(error);
}

/// Parses "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)" (RFC 3339) to Unix ms.
std::optional<std::int64_t> parse_rfc3339(std::string_view text) {
    constexpr std::size_t kDateTimeChars = 19;
    if (text.size() < kDateTimeChars + 1) return std::nullopt;
    auto digits = [&](std::size_t at, std::size_t count) -> std::optional<int> {
        int value = 0;
        for (std::size_t i = at; i < at + count; ++i) {
            if (text[i] < '0' || text[i] > '9') return std::nullopt;
            value = value * 10 + (text[i] - '0');
        }
        return value;
    };
    auto year = digits(0, 4);
    auto month = digits(5, 2);
    auto day = digits(8, 2);
    auto hour = digits(11, 2);
    auto minute = digits(14, 2);
    auto second = digits(17, 2);
    if (!year || !month || !day || !hour || !minute || !second || text[4] != '-' ||
        text[7] != '-' || (text[10] != 'T' && text[10] != 't') || text[13] != ':' ||
        text[16] != ':' || *hour > 23 || *minute > 59 || *second > 59) {
        return std::nullopt;
    }
    std::chrono::year_month_day date{std::chrono::year(*year),
                                     std::chrono::month(static_cast<unsigned>(*month)),
                                     std::chrono::day(static_cast<unsigned>(*day))};
    if (!date.ok()) return std::nullopt;
    std::size_t at = kDateTimeChars;
    if (text[at] == '.') {
        ++at;
        std::size_t start = at;
        while (at < text.size() && text[at] >= '0' && text[at] <= '9') ++at;
        if (at == start) return std::nullopt;
    }
    std::int64_t offset_minutes = 0;
    std::string_view zone = text.substr(at);
    if (zone == "Z" || zone == "z") {
        offset_minutes = 0;
    } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':') {
        auto zone_hour = digits(at + 1, 2);
        auto zone_minute = digits(at + 4, 2);
        if (!zone_hour || !zone_minute || *zone_hour > 23 || *zone_minute > 59) {
            return std::nullopt;
        }
        offset_minutes = (*zone_hour * 60 + *zone_minute) * (zone[0] == '-' ? -1 : 1);
    } else {
        return std::nullopt;
    }
    constexpr std::int64_t kMsPerMinute = 60'000;
    constexpr std::int64_t kMsPerSecond = 1000;
    std::int64_t days = std::chrono::sys_days(date).time_since_epoch().count();
    return (days * 24 * 60 + *hour * 60 + *minute - offset_minutes) * kMsPerMinute +
           std::int64_t{*second} * kMsPerSecond;
}

/// A JSON object body whose optional fields may also be null.
class Body : public JsonBody {
public:
    using JsonBody::JsonBody;

    std::optional<std::string> text(std::string_view name, bool required = true) {
        const auto* value = object_.if_contains(name);
        if (value == nullptr || (value->is_null() && !required)) {
            if (required) errors_.push_back({"/" + std::string(name), "is required"});
            return std::nullopt;
        }
        if (!value->is_string()) {
            errors_.push_back({"/" + std::string(name), "must be a string"});
            return std::nullopt;
        }
        return std::string(value->as_string());
    }

    /// An optional boolean; absent or null is nullopt.
    std::optional<bool> flag(std::string_view name) {
        const auto* value = object_.if_contains(name);
        if (value == nullptr || value->is_null()) return std::nullopt;
        if (!value->is_bool()) {
            errors_.push_back({"/" + std::string(name), "must be true or false"});
            return std::nullopt;
        }
        return value->as_bool();
    }

    std::optional<std::vector<std::string>> strings(std::string_view name, bool required = true) {
        const auto* value = object_.if_contains(name);
        std::string pointer = "/" + std::string(name);
        if (value == nullptr) {
            if (required) errors_.push_back({pointer, "is required"});
            return std::nullopt;
        }
        if (!value->is_array()) {
            errors_.push_back({pointer, "must be an array of strings"});
            return std::nullopt;
        }
        if (value->as_array().size() > kMaxListItems) {
            errors_.push_back({pointer, "has too many items"});
            return std::nullopt;
        }
        std::vector<std::string> out;
        std::size_t index = 0;
        for (const auto& item : value->as_array()) {
            if (!item.is_string()) {
                errors_.push_back({pointer + "/" + std::to_string(index), "must be a string"});
                return std::nullopt;
            }
            out.emplace_back(item.as_string());
            ++index;
        }
        return out;
    }
};

Actor actor_of(const RequestContext& context) {
    // Every org route declares a permission, so the authorize step answered 401 without one.
    return {*context.principal, context.client_address};
}

std::string org_of(const RequestContext& context) {
    return std::string(context.path_param("org_id"));
}

object org_json(const Org& org) {
    object out{{"id", org.id},
               {"slug", org.slug},
               {"name", org.name},
               {"created_at", format_rfc3339(org.created_at_ms)},
               {"updated_at", format_rfc3339(org.updated_at_ms)},
               {"require_mfa", org.require_mfa}};
    if (!org.role.empty()) out["role"] = org.role;
    return out;
}

array string_array(const std::vector<std::string>& items) {
    array out;
    for (const auto& item : items) out.emplace_back(item);
    return out;
}

object member_json(const Member& member) {
    return {{"user_id", member.user_id},     {"email", member.email},
            {"name", member.name},           {"role", member.role},
            {"role_name", member.role_name}, {"joined_at", format_rfc3339(member.joined_at_ms)}};
}

object invitation_json(const Invitation& invitation) {
    return {{"id", invitation.id},
            {"email", invitation.email},
            {"role", invitation.role},
            {"invited_by", invitation.invited_by},
            {"created_at", format_rfc3339(invitation.created_at_ms)},
            {"expires_at", format_rfc3339(invitation.expires_at_ms)}};
}

object role_json(const Role& role) {
    object out{{"id", role.id},
               {"name", role.name},
               {"description", role.description},
               {"permissions", string_array(role.permissions)},
               {"builtin", role.builtin}};
    if (!role.builtin) {
        out["created_at"] = format_rfc3339(role.created_at_ms);
        out["updated_at"] = format_rfc3339(role.updated_at_ms);
    }
    return out;
}

object api_key_json(const ApiKey& key) {
    object out{{"id", key.id},
               {"name", key.name},
               {"permissions", string_array(key.permissions)},
               {"created_by", key.created_by},
               {"created_at", format_rfc3339(key.created_at_ms)},
               {"expires_at", nullptr},
               {"last_used_at", nullptr}};
    if (key.expires_at_ms) out["expires_at"] = format_rfc3339(*key.expires_at_ms);
    if (key.last_used_at_ms) out["last_used_at"] = format_rfc3339(*key.last_used_at_ms);
    return out;
}

Response list(array data) {
    return no_store(
        Response::json(200, object{{"data", std::move(data)}, {"next_cursor", nullptr}}));
}

/// A list route: `?limit=` and `?cursor=` declared for the validate step and the OpenAPI document.
http::RouteOptions paged(http::RouteOptions options) {
    options.query_schema = std::string(kPageQuerySchema);
    return options;
}

http::RouteOptions route(std::string_view permission, std::string summary) {
    http::RouteOptions options;
    options.max_body_bytes = kMaxOrgBodyBytes;
    options.permission = std::string(permission);
    options.summary = std::move(summary);
    options.tag = "organizations";
    return options;
}

}  // namespace

void add_org_routes(http::Router& router, Organizations& organizations) {
    OrgService& orgs = organizations.service();

    router.add(Method::get, "/api/v1/permissions", http::SyncHandler([](Request&, RequestContext&) {
                   array permissions;
                   for (const auto& info : org_permissions()) {
                       permissions.push_back(
                           object{{"name", info.name}, {"description", info.description}});
                   }
                   array roles;
                   for (const auto& role : builtin_roles()) {
                       roles.push_back(object{{"id", role.name},
                                              {"name", role.name},
                                              {"description", role.description},
                                              {"permissions", string_array(role.permissions)},
                                              {"builtin", true}});
                   }
                   return Response::json(200, object{{"permissions", std::move(permissions)},
                                                     {"roles", std::move(roles)}});
               }),
               schemas::with(
                   route(kSelfPermission, "Every organization permission and the built-in roles"),
                   {}, schemas::permissions_answer()));

    router.add(
        Method::post, "/api/v1/orgs",
        http::Task([&orgs](Request& request, RequestContext& context) -> awaitable<Response> {
            Body body(request);
            if (body.parse_error()) co_return body.invalid_json();
            auto name = body.text("name");
            auto slug = body.text("slug", false);
            if (!body.errors().empty()) co_return validation_problem(std::move(body.errors()));
            Result<Org> org = Error::internal("not run");
            co_await context.run_database(
                [&] { org = orgs.create_org(actor_of(context), *name, slug); });
            if (!org) co_return problem(org.error());
            co_return no_store(Response::json(201, org_json(*org)));
        }),
        schemas::answering(
            schemas::with(
                route(kSelfPermission, "Create an organization; the caller becomes its owner"),
                schemas::kCreateOrgBody, schemas::kOrgAnswer),
            {201}));

    router.add(
        Method::get, "/api/v1/orgs",
        http::Task([&orgs](Request&, RequestContext& context) -> awaitable<Response> {
            Result<std::vector<Org>> found = Error::internal("not run");
            co_await context.run_database([&] { found = orgs.list_orgs(context.principal->id); });
            if (!found) co_return problem(found.error());
            array data;
            for (const auto& org : *found) data.push_back(org_json(org));
            co_return list(std::move(data));
        }),
        schemas::with(route(kSelfPermission, "The caller's organizations with the caller's role"),
                      {}, schemas::list_of(schemas::kOrgAnswer)));

    schemas::add_route(
        router, Method::get, "/api/v1/orgs/{org_id}",
        http::Task([&orgs](Request&, RequestContext& context) -> awaitable<Response> {
            Result<Org> org = Error::internal("not run");
            co_await context.run_database([&] { org = orgs.get_org(org_of(context)); });
            if (!org) co_return problem(org.error());
            object out = org_json(*org);
            out["permissions"] = string_array(context.principal->permissions);
            co_return no_store(Response::json(200, out));
        }),
        schemas::with(route("org.read", "An organization, with the caller's permissions in it"), {},
                      schemas::kOrgAnswer));

    schemas::add_route(
        router, Method::patch, "/api/v1/orgs/{org_id}",
        http::Task([&orgs](Request& request, RequestContext& context) -> awaitable<Response> {
            Body body(request);
            if (body.parse_error()) co_return body.invalid_json();
            OrgChanges changes{body.text("name", false), body.text("slug", false),
                               body.flag("require_mfa")};
            if (!body.errors().empty()) co_return validation_problem(std::move(body.errors()));
            Result<Org> org = Error::internal("not run");
            co_await context.run_database(
                [&] { org = orgs.update_org(actor_of(context), org_of(context), changes); });
            if (!org) co_return problem(org.error());
            co_return no_store(Response::json(200, org_json(*org)));
        }),
        schemas::with(
            route("org.update",
                  "Rename an organization, change its slug or require MFA of its members"),
            schemas::kUpdateOrgBody, schemas::kOrgAnswer));

    schemas::add_route(
        router, Method::delete_, "/api/v1/orgs/{org_id}",
        http::Task([&orgs](Request&, RequestContext& context) -> awaitable<Response> {
            Result<void> done = Error::internal("not run");
            co_await context.run_database(
                [&] { done = orgs.delete_org(actor_of(context), org_of(context)); });
            if (!done) co_return problem(done.error());
            co_return Response::no_content();
        }),
        schemas::answering(route("org.delete", "Delete an organization and everything in it"),
                           {204}));

    schemas::add_route(
        router, Method::post, "/api/v1/orgs/{org_id}/transfer",
        http::Task([&orgs](Request& request, RequestContext& context) -> awaitable<Response> {
            Body body(request);
            if (body.parse_error()) co_return body.invalid_json();
            auto user_id = body.text("user_id");
            if (!body.errors().empty()) co_return validation_problem(std::move(body.errors()));
            Result<void> done = Error::internal("not run");
            co_await context.run_database(
                [&] { done = orgs.transfer(actor_of(context), org_of(context), *user_id); });
            if (!done) co_return problem(done.error());
            co_return Response::no_content();
        }),
        schemas::answering(
            schemas::with(
                route("org.transfer", "Make another member owner; the caller becomes admin"),
                schemas::kTransferBody),
            {204}));

    schemas::add_route(
        router, Method::get, "/api/v1/orgs/{org_id}/members",
        http::Task([&orgs](Request& request, RequestContext& context) -> awaitable<Response> {
            auto page = read_page(request, "members1");
            if (!page) co_return page_problem(page.error());
            Result<Page<Member>> found = Error::internal("not run");
            co_await context.run_database(
                [&] { found = orgs.list_members(org_of(context), *page); });
            if (!found) {
                co_return is_page_error(found.error()) ? page_problem(found.error())
                                                       : problem(found.error());
            }
            array data;
            for (const auto& member : found->items) data.push_back(member_json(member));
            co_return page_answer(std::move(data), found->next_after, "members1");
        }),
        paged(schemas::with(route("org.members.read", "The organization's members"), {},
                            schemas::list_of(schemas::kMemberAnswer))));

    schemas::add_route(
        router, Method::delete_, "/api/v1/orgs/{org_id}/members/me",
        http::Task([&orgs](Request&, RequestContext& context) -> awaitable<Response> {
            Result<void> done = Error::internal("not run");
            co_await context.run_database([&] {
                done =
                    orgs.remove_member(actor_of(context), org_of(context), context.principal->id);
            });
            if (!done) co_return problem(done.error());
            co_return Response::no_content();
        }),
        schemas::answering(route("org.read", "Leave the organization"), {204}));

    schemas::add_route(
        router, Method::patch, "/api/v1/orgs/{org_id}/members/{user_id}",
        http::Task([&orgs](Request& request, RequestContext& context) -> awaitable<Response> {
            Body body(request);
            if (body.parse_error()) co_return body.invalid_json();
            auto role = body.text("role");
            if (!body.errors().empty()) co_return validation_problem(std::move(body.errors()));
            std::string user_id(context.path_param("user_id"));
            Result<Member> member = Error::internal("not run");
            co_await context.run_database([&] {
                member =
                    orgs.update_member_role(actor_of(context), org_of(context), user_id, *role);
            });
            if (!member) co_return problem(member.error());
            co_return no_store(Response::json(200, member_json(*member)));
        }),
        schemas::with(route("org.members.update_role", "Change a member's role"),
                      schemas::kMemberRoleBody, schemas::kMemberAnswer));

    schemas::add_route(
        router, Method::delete_, "/api/v1/orgs/{org_id}/members/{user_id}",
        http::Task([&orgs](Request&, RequestContext& context) -> awaitable<Response> {
            std::string user_id(context.path_param("user_id"));
            Result<void> done = Error::internal("not run");
            co_await context.run_database(
                [&] { done = orgs.remove_member(actor_of(context), org_of(context), user_id); });
            if (!done) co_return problem(done.error());
            co_return Response::no_content();
        }),
        schemas::answering(route("org.members.remove", "Remove a member"), {204}));

    schemas::add_route(
        router, Method::post, "/api/v1/orgs/{org_id}/invitations",
        http::Task([&orgs](Request& request, RequestContext& context) -> awaitable<Response> {
            Body body(request);
            if (body.parse_error()) co_return body.invalid_json();
            auto email = body.text("email");
            auto role = body.text("role");
            if (!body.errors().empty()) co_return validation_problem(std::move(body.errors()));
            Result<Invitation> invitation = Error::internal("not run");
            // Mails: the worker pool, not the database path.
            co_await context.run_blocking([&] {
                invitation = orgs.invite(actor_of(context), org_of(context), *email, *role);
            });
            if (!invitation) co_return problem(invitation.error());
            co_return no_store(Response::json(201, invitation_json(*invitation)));
        }),
        schemas::answering(schemas::with(route("org.members.invite",
                                               "Invite someone by email; mails a single-use link"),
                                         schemas::kInviteBody, schemas::kInvitationAnswer),
                           {201}));

    schemas::add_route(
        router, Method::get, "/api/v1/orgs/{org_id}/invitations",
        http::Task([&orgs](Request& request, RequestContext& context) -> awaitable<Response> {
            auto page = read_page(request, "invitations1");
            if (!page) co_return page_problem(page.error());
            Result<Page<Invitation>> found = Error::internal("not run");
            co_await context.run_database(
                [&] { found = orgs.list_invitations(org_of(context), *page); });
            if (!found) {
                co_return is_page_error(found.error()) ? page_problem(found.error())
                                                       : problem(found.error());
            }
            array data;
            for (const auto& invitation : found->items) data.push_back(invitation_json(invitation));
            co_return page_answer(std::move(data), found->next_after, "invitations1");
        }),
        paged(schemas::with(route("org.members.read", "Open invitations"), {},
                            schemas::list_of(schemas::kInvitationAnswer))));

    schemas::add_route(
        router, Method::delete_, "/api/v1/orgs/{org_id}/invitations/{invitation_id}",
        http::Task([&orgs](Request&, RequestContext& context) -> awaitable<Response> {
            std::string invitation_id(context.path_param("invitation_id"));
            Result<void> done = Error::internal("not run");
            co_await context.run_database([&] {
                done = orgs.revoke_invitation(actor_of(context), org_of(context), invitation_id);
            });
            if (!done) co_return problem(done.error());
            co_return Response::no_content();
        }),
        schemas::answering(route("org.members.invite", "Revoke an open invitation"), {204}));

    router.add(
        Method::post, "/api/v1/invitations/preview",
        http::Task([&orgs](Request& request, RequestContext& context) -> awaitable<Response> {
            Body body(request);
            if (body.parse_error()) co_return body.invalid_json();
            auto token = body.text("token");
            if (!body.errors().empty()) co_return validation_problem(std::move(body.errors()));
            Result<InvitationPreview> preview = Error::internal("not run");
            co_await context.run_database([&] { preview = orgs.preview_invitation(*token); });
            if (!preview) co_return problem(preview.error());
            co_return no_store(Response::json(
                200, object{{"org_id", preview->org_id},
                            {"org_name", preview->org_name},
                            {"role", preview->role},
                            {"email", preview->email},
                            {"expires_at", format_rfc3339(preview->expires_at_ms)}}));
        }),
        schemas::with(route(kSelfPermission,
                            "What an invitation offers (organization, role), before accepting"),
                      schemas::kInvitationTokenBody, schemas::kInvitationPreviewAnswer));

    router.add(
        Method::post, "/api/v1/invitations/accept",
        http::Task([&orgs](Request& request, RequestContext& context) -> awaitable<Response> {
            Body body(request);
            if (body.parse_error()) co_return body.invalid_json();
            auto token = body.text("token");
            if (!body.errors().empty()) co_return validation_problem(std::move(body.errors()));
            Result<Org> org = Error::internal("not run");
            co_await context.run_database(
                [&] { org = orgs.accept_invitation(actor_of(context), *token); });
            if (!org) co_return problem(org.error());
            co_return no_store(Response::json(200, org_json(*org)));
        }),
        schemas::with(
            route(kSelfPermission, "Accept an invitation sent to the caller's verified email"),
            schemas::kInvitationTokenBody, schemas::kOrgAnswer));

    schemas::add_route(
        router, Method::get, "/api/v1/orgs/{org_id}/roles",
        http::Task([&orgs](Request& request, RequestContext& context) -> awaitable<Response> {
            auto page = read_page(request, "roles1");
            if (!page) co_return page_problem(page.error());
            Result<Page<Role>> found = Error::internal("not run");
            co_await context.run_database([&] { found = orgs.list_roles(org_of(context), *page); });
            if (!found) {
                co_return is_page_error(found.error()) ? page_problem(found.error())
                                                       : problem(found.error());
            }
            array data;
            for (const auto& role : found->items) data.push_back(role_json(role));
            co_return page_answer(std::move(data), found->next_after, "roles1");
        }),
        paged(schemas::with(route("org.read", "Built-in and custom roles"), {},
                            schemas::list_of(schemas::kRoleAnswer))));

    schemas::add_route(
        router, Method::post, "/api/v1/orgs/{org_id}/roles",
        http::Task([&orgs](Request& request, RequestContext& context) -> awaitable<Response> {
            Body body(request);
            if (body.parse_error()) co_return body.invalid_json();
            auto name = body.text("name");
            auto description = body.text("description", false);
            auto permissions = body.strings("permissions");
            if (!body.errors().empty()) co_return validation_problem(std::move(body.errors()));
            Result<Role> role = Error::internal("not run");
            co_await context.run_database([&] {
                role = orgs.create_role(actor_of(context), org_of(context), *name,
                                        description.value_or(""), *permissions);
            });
            if (!role) co_return problem(role.error());
            co_return no_store(Response::json(201, role_json(*role)));
        }),
        schemas::answering(schemas::with(route("org.roles.manage", "Create a custom role"),
                                         schemas::kCreateRoleBody, schemas::kRoleAnswer),
                           {201}));

    schemas::add_route(
        router, Method::patch, "/api/v1/orgs/{org_id}/roles/{role_id}",
        http::Task([&orgs](Request& request, RequestContext& context) -> awaitable<Response> {
            Body body(request);
            if (body.parse_error()) co_return body.invalid_json();
            RoleChanges changes{body.text("name", false), body.text("description", false),
                                body.strings("permissions", false)};
            if (!body.errors().empty()) co_return validation_problem(std::move(body.errors()));
            std::string role_id(context.path_param("role_id"));
            Result<Role> role = Error::internal("not run");
            co_await context.run_database([&] {
                role = orgs.update_role(actor_of(context), org_of(context), role_id, changes);
            });
            if (!role) co_return problem(role.error());
            co_return no_store(Response::json(200, role_json(*role)));
        }),
        schemas::with(route("org.roles.manage", "Change a custom role"), schemas::kUpdateRoleBody,
                      schemas::kRoleAnswer));

    schemas::add_route(
        router, Method::delete_, "/api/v1/orgs/{org_id}/roles/{role_id}",
        http::Task([&orgs](Request&, RequestContext& context) -> awaitable<Response> {
            std::string role_id(context.path_param("role_id"));
            Result<void> done = Error::internal("not run");
            co_await context.run_database(
                [&] { done = orgs.delete_role(actor_of(context), org_of(context), role_id); });
            if (!done) co_return problem(done.error());
            co_return Response::no_content();
        }),
        schemas::answering(route("org.roles.manage", "Delete a custom role no one holds"), {204}));

    schemas::add_route(
        router, Method::get, "/api/v1/orgs/{org_id}/api-keys",
        http::Task([&orgs](Request& request, RequestContext& context) -> awaitable<Response> {
            auto page = read_page(request, "api_keys1");
            if (!page) co_return page_problem(page.error());
            Result<Page<ApiKey>> found = Error::internal("not run");
            co_await context.run_database(
                [&] { found = orgs.list_api_keys(org_of(context), *page); });
            if (!found) {
                co_return is_page_error(found.error()) ? page_problem(found.error())
                                                       : problem(found.error());
            }
            array data;
            for (const auto& key : found->items) data.push_back(api_key_json(key));
            co_return page_answer(std::move(data), found->next_after, "api_keys1");
        }),
        paged(schemas::with(
            route("api_keys.manage", "The organization's active API keys (never their secrets)"),
            {}, schemas::list_of(schemas::kApiKeyAnswer))));

    schemas::add_route(
        router, Method::post, "/api/v1/orgs/{org_id}/api-keys",
        http::Task([&orgs](Request& request, RequestContext& context) -> awaitable<Response> {
            Body body(request);
            if (body.parse_error()) co_return body.invalid_json();
            auto name = body.text("name");
            auto permissions = body.strings("permissions");
            auto expires_text = body.text("expires_at", false);
            std::optional<std::int64_t> expires_at;
            if (expires_text) {
                expires_at = parse_rfc3339(*expires_text);
                if (!expires_at) {
                    body.errors().push_back({"/expires_at", "must be an RFC 3339 date-time"});
                }
            }
            if (!body.errors().empty()) co_return validation_problem(std::move(body.errors()));
            Result<CreatedApiKey> created = Error::internal("not run");
            co_await context.run_database([&] {
                created = orgs.create_api_key(actor_of(context), org_of(context), *name,
                                              *permissions, expires_at);
            });
            if (!created) co_return problem(created.error());
            object out = api_key_json(created->key);
            out["key"] = created->secret;
            co_return no_store(Response::json(201, out));
        }),
        schemas::answering(
            schemas::with(route("api_keys.manage", "Create an API key; its secret is shown once"),
                          schemas::kCreateApiKeyBody, schemas::kApiKeyAnswer),
            {201}));

    schemas::add_route(
        router, Method::delete_, "/api/v1/orgs/{org_id}/api-keys/{key_id}",
        http::Task([&orgs](Request&, RequestContext& context) -> awaitable<Response> {
            std::string key_id(context.path_param("key_id"));
            Result<void> done = Error::internal("not run");
            co_await context.run_database(
                [&] { done = orgs.revoke_api_key(actor_of(context), org_of(context), key_id); });
            if (!done) co_return problem(done.error());
            co_return Response::no_content();
        }),
        schemas::answering(route("api_keys.manage", "Revoke an API key"), {204}));
}

}  // namespace nimbus::identity
