#pragma once
// The JSON Schemas of identity's routes (private to identity/): the validate step checks bodies
// against them before the handler runs, debug builds check 2xx answers, and the OpenAPI document
// shows them. Bodies have no top-level "type": a body that is not a JSON object keeps the
// handler's own `/problems/invalid-json` answer. Field types, `required` and enums are declared;
// the validate step words their violations as the handlers do ("is required", "must be a
// string"). Unknown fields are allowed, as the handlers ignore them.

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "http/http.hpp"
#include "identity/permissions.hpp"

namespace nimbus::identity::schemas {

inline constexpr std::string_view kSignUpBody = R"({
  "required": ["email", "password"],
  "properties": {
    "email": {"type": "string", "description": "ASCII address, at most 254 characters"},
    "password": {"type": "string", "description": "12 to 1024 characters"},
    "name": {"type": "string", "description": "Display name"}}})";

inline constexpr std::string_view kTokenBody = R"({
  "required": ["token"],
  "properties": {"token": {"type": "string", "description": "The token from the mailed link"}}})";

inline constexpr std::string_view kLoginBody = R"({
  "required": ["email", "password"],
  "properties": {
    "email": {"type": "string"},
    "password": {"type": "string"},
    "use_cookie": {"type": "boolean",
                   "description": "Put the refresh token in an HttpOnly cookie instead of the body"}}})";

inline constexpr std::string_view kMfaLoginBody = R"({
  "required": ["mfa_token", "code"],
  "properties": {
    "mfa_token": {"type": "string", "description": "From the login answer with mfa_required"},
    "code": {"type": "string", "description": "A TOTP code or a recovery code"},
    "use_cookie": {"type": "boolean"}}})";

inline constexpr std::string_view kForgotBody = R"({
  "required": ["email"],
  "properties": {"email": {"type": "string"}}})";

inline constexpr std::string_view kResendVerificationBody = R"({
  "required": ["email"],
  "properties": {
    "email": {"type": "string", "description": "The address the account signed up with"}}})";

inline constexpr std::string_view kResetBody = R"({
  "required": ["token", "password"],
  "properties": {
    "token": {"type": "string", "description": "The token from the mailed link"},
    "password": {"type": "string", "description": "The new password"}}})";

inline constexpr std::string_view kRenameBody = R"({
  "required": ["name"],
  "properties": {"name": {"type": "string"}}})";

inline constexpr std::string_view kChangePasswordBody = R"({
  "required": ["current_password", "new_password"],
  "properties": {
    "current_password": {"type": "string"},
    "new_password": {"type": "string"}}})";

/// 202 for sign-up and forgotten passwords: the same words whether or not the account exists.
inline constexpr std::string_view kAcceptedAnswer = R"({
  "type": "object", "required": ["status", "message"],
  "properties": {"status": {"type": "string"}, "message": {"type": "string"}}})";

/// A token pair, or (login with a second factor) the MFA challenge.
inline constexpr std::string_view kTokenAnswer = R"({
  "type": "object", "required": ["expires_in"],
  "properties": {
    "access_token": {"type": "string", "description": "ES256 JWT"},
    "token_type": {"type": "string", "enum": ["Bearer"]},
    "expires_in": {"type": "integer", "description": "Seconds until the access token (or the MFA challenge) expires"},
    "refresh_token": {"type": "string", "description": "Absent when use_cookie put it in a cookie"},
    "mfa_required": {"type": "boolean"},
    "mfa_token": {"type": "string"}}})";

inline constexpr std::string_view kUserAnswer = R"({
  "type": "object",
  "required": ["id", "email", "name", "email_verified", "is_operator", "created_at", "updated_at"],
  "properties": {
    "id": {"type": "string", "description": "usr_ followed by a ULID"},
    "email": {"type": "string"},
    "name": {"type": "string"},
    "email_verified": {"type": "boolean"},
    "is_operator": {"type": "boolean", "description": "May use the operator routes"},
    "created_at": {"type": "string", "format": "date-time"},
    "updated_at": {"type": "string", "format": "date-time"}}})";

inline constexpr std::string_view kSessionsAnswer = R"({
  "type": "object", "required": ["data"],
  "properties": {
    "data": {"type": "array", "items": {
      "type": "object", "required": ["id", "created_at", "last_seen_at", "current"],
      "properties": {
        "id": {"type": "string"},
        "device": {"type": "string"},
        "user_agent": {"type": "string"},
        "ip": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
        "last_seen_at": {"type": "string", "format": "date-time"},
        "current": {"type": "boolean", "description": "The session of this request's token"}}}},
    "next_cursor": {"type": ["string", "null"]}}})";

// Second factor and change of email (mfa_routes.cpp).

inline constexpr std::string_view kTotpConfirmBody = R"({
  "required": ["code"],
  "properties": {"code": {"type": "string", "description": "The 6-digit code the app shows"}}})";

inline constexpr std::string_view kEmailChangeBody = R"({
  "required": ["new_email", "password"],
  "properties": {
    "new_email": {"type": "string", "description": "ASCII address, at most 254 characters"},
    "password": {"type": "string", "description": "The current password"}}})";

inline constexpr std::string_view kMfaStatusAnswer = R"({
  "type": "object", "required": ["totp", "recovery_codes_remaining"],
  "properties": {
    "totp": {"type": "object", "required": ["enabled", "pending", "enabled_at"],
             "properties": {
               "enabled": {"type": "boolean"},
               "pending": {"type": "boolean", "description": "Enrolment started, not confirmed"},
               "enabled_at": {"type": ["string", "null"], "description": "RFC 3339 date-time"}}},
    "recovery_codes_remaining": {"type": "integer"}}})";

inline constexpr std::string_view kTotpEnrollmentAnswer = R"({
  "type": "object", "required": ["secret", "otpauth_uri", "qr_svg"],
  "properties": {
    "secret": {"type": "string", "description": "Base32 TOTP secret"},
    "otpauth_uri": {"type": "string"},
    "qr_svg": {"type": "string", "description": "The otpauth URI as an SVG QR code"}}})";

inline constexpr std::string_view kRecoveryCodesAnswer = R"({
  "type": "object", "required": ["recovery_codes"],
  "properties": {
    "recovery_codes": {"type": "array", "items": {"type": "string"},
                       "description": "Shown once; each signs in once"}}})";

// Organizations, members, invitations, roles and API keys (org_routes.cpp). Optional text fields
// may be null, which reads as absent.

inline constexpr std::string_view kCreateOrgBody = R"({
  "required": ["name"],
  "properties": {
    "name": {"type": "string", "description": "1 to 100 characters"},
    "slug": {"type": ["string", "null"],
             "description":
               "3 to 40 lowercase letters, digits, single hyphens; made from the name"}}})";

inline constexpr std::string_view kUpdateOrgBody = R"({
  "properties": {
    "name": {"type": ["string", "null"]},
    "slug": {"type": ["string", "null"]},
    "require_mfa": {"type": ["boolean", "null"],
                    "description": "Members without a second factor are refused in it"}}})";

inline constexpr std::string_view kTransferBody = R"({
  "required": ["user_id"],
  "properties": {"user_id": {"type": "string", "description": "The member who becomes owner"}}})";

inline constexpr std::string_view kMemberRoleBody = R"({
  "required": ["role"],
  "properties": {
    "role": {"type": "string", "description": "A built-in role name or a custom role id"}}})";

inline constexpr std::string_view kInviteBody = R"({
  "required": ["email", "role"],
  "properties": {
    "email": {"type": "string"},
    "role": {"type": "string", "description": "A built-in role name or a custom role id"}}})";

inline constexpr std::string_view kInvitationTokenBody = R"({
  "required": ["token"],
  "properties": {
    "token": {"type": "string", "description": "The token from the mailed invitation"}}})";

inline constexpr std::string_view kCreateRoleBody = R"({
  "required": ["name", "permissions"],
  "properties": {
    "name": {"type": "string", "description": "1 to 50 characters"},
    "description": {"type": ["string", "null"]},
    "permissions": {"type": "array", "items": {"type": "string"},
                    "description": "Names from GET /api/v1/permissions, at most 100"}}})";

inline constexpr std::string_view kUpdateRoleBody = R"({
  "properties": {
    "name": {"type": ["string", "null"]},
    "description": {"type": ["string", "null"]},
    "permissions": {"type": "array", "items": {"type": "string"},
                    "description": "Replaces the role's permissions; at most 100"}}})";

inline constexpr std::string_view kCreateApiKeyBody = R"({
  "required": ["name", "permissions"],
  "properties": {
    "name": {"type": "string"},
    "permissions": {"type": "array", "items": {"type": "string"},
                    "description": "At least one organization permission, at most 100"},
    "expires_at": {"type": ["string", "null"],
                   "description": "RFC 3339 date-time in the future; no expiry when absent"}}})";

inline constexpr std::string_view kOrgAnswer = R"({
  "type": "object", "required": ["id", "slug", "name", "created_at", "updated_at", "require_mfa"],
  "properties": {
    "id": {"type": "string", "description": "org_ followed by a ULID"},
    "slug": {"type": "string"},
    "name": {"type": "string"},
    "created_at": {"type": "string", "format": "date-time"},
    "updated_at": {"type": "string", "format": "date-time"},
    "require_mfa": {"type": "boolean"},
    "role": {"type": "string", "description": "The caller's role, when the caller is a member"},
    "permissions": {"type": "array", "items": {"type": "string"},
                    "description": "The caller's permissions; when one is read"}}})";

inline constexpr std::string_view kMemberAnswer = R"({
  "type": "object", "required": ["user_id", "email", "name", "role", "role_name", "joined_at"],
  "properties": {
    "user_id": {"type": "string"},
    "email": {"type": "string"},
    "name": {"type": "string"},
    "role": {"type": "string", "description": "A built-in role name or a custom role id"},
    "role_name": {"type": "string"},
    "joined_at": {"type": "string", "format": "date-time"}}})";

inline constexpr std::string_view kInvitationAnswer = R"({
  "type": "object", "required": ["id", "email", "role", "invited_by", "created_at", "expires_at"],
  "properties": {
    "id": {"type": "string"},
    "email": {"type": "string"},
    "role": {"type": "string"},
    "invited_by": {"type": "string", "description": "The inviting user's id"},
    "created_at": {"type": "string", "format": "date-time"},
    "expires_at": {"type": "string", "format": "date-time"}}})";

inline constexpr std::string_view kInvitationPreviewAnswer = R"({
  "type": "object", "required": ["org_id", "org_name", "role", "email", "expires_at"],
  "properties": {
    "org_id": {"type": "string"},
    "org_name": {"type": "string"},
    "role": {"type": "string"},
    "email": {"type": "string", "description": "The invited address"},
    "expires_at": {"type": "string", "format": "date-time"}}})";

inline constexpr std::string_view kRoleAnswer = R"({
  "type": "object", "required": ["id", "name", "description", "permissions", "builtin"],
  "properties": {
    "id": {"type": "string", "description": "A built-in role's name, or rol_... if custom"},
    "name": {"type": "string"},
    "description": {"type": "string"},
    "permissions": {"type": "array", "items": {"type": "string"}},
    "builtin": {"type": "boolean"},
    "created_at": {"type": "string", "format": "date-time", "description": "Custom roles only"},
    "updated_at": {"type": "string", "format": "date-time", "description": "Custom roles only"}}})";

inline constexpr std::string_view kApiKeyAnswer = R"({
  "type": "object",
  "required": ["id", "name", "permissions", "created_by", "created_at", "expires_at",
               "last_used_at"],
  "properties": {
    "id": {"type": "string"},
    "name": {"type": "string"},
    "permissions": {"type": "array", "items": {"type": "string"}},
    "created_by": {"type": "string"},
    "created_at": {"type": "string", "format": "date-time"},
    "expires_at": {"type": ["string", "null"], "description": "RFC 3339 date-time"},
    "last_used_at": {"type": ["string", "null"], "description": "RFC 3339 date-time"},
    "key": {"type": "string", "description": "The secret; only in the answer that creates it"}}})";

/// `{"data": [item...], "next_cursor": string|null}`, the shape of every identity list.
inline std::string list_of(std::string_view item) {
    return R"({"type": "object", "required": ["data", "next_cursor"], "properties": {
  "data": {"type": "array", "items": )" +
           std::string(item) + R"(}, "next_cursor": {"type": ["string", "null"]}}})";
}

/// Every organization permission and the built-in roles.
inline std::string permissions_answer() {
    return R"({"type": "object", "required": ["permissions", "roles"], "properties": {
  "permissions": {"type": "array", "items": {"type": "object", "required": ["name", "description"],
    "properties": {"name": {"type": "string"}, "description": {"type": "string"}}}},
  "roles": {"type": "array", "items": )" +
           std::string(kRoleAnswer) + "}}}";
}

/// `options` with a body schema and a 2xx response schema (either may be empty).
inline http::RouteOptions with(http::RouteOptions options, std::string_view body,
                               std::string_view response = {}) {
    options.body_schema = std::string(body);
    options.response_schema = std::string(response);
    return options;
}

/// `options` with a 2xx response schema.
inline http::RouteOptions responding(http::RouteOptions options, std::string_view response) {
    options.response_schema = std::string(response);
    return options;
}

/// `options` answering `statuses` on success instead of 200 (RouteOptions::success_statuses).
/// A vector, not an initializer_list: GCC 12's optimized build read a 0 from the list here.
inline http::RouteOptions answering(http::RouteOptions options, std::vector<int> statuses) {
    options.success_statuses = std::move(statuses);
    return options;
}

/// The schema of an identity path parameter, by name: the one place that says what each id
/// looks like. Ids are what new_id mints (prefix, '_' and a ULID), so a malformed one is a 400
/// before any lookup. A role may be a custom role's id or a built-in role's name: the role
/// handlers answer the names themselves (409, built-in roles cannot change). Throws
/// std::invalid_argument, at start, for a name without a schema.
inline std::string path_parameter(std::string_view name) {
    if (name == "org_id") return http::id_schema("org", "an organization id (org_ and a ULID)");
    if (name == "user_id") return http::id_schema("usr", "a user id (usr_ and a ULID)");
    if (name == "invitation_id") {
        return http::id_schema("inv", "an invitation id (inv_ and a ULID)");
    }
    if (name == "key_id") return http::id_schema("key", "an API key id (key_ and a ULID)");
    if (name == "client_id") return http::id_schema("cli", "an OAuth client id (cli_ and a ULID)");
    if (name == "request_id") {
        return http::id_schema("oar", "an authorization request id (oar_ and a ULID)");
    }
    if (name == "session_id") return http::id_schema("ses", "a session id (ses_ and a ULID)");
    if (name == "role_id") {
        std::string names;
        std::string alternatives;
        for (const BuiltinRole& role : builtin_roles()) {
            names += (names.empty() ? "" : ", ") + std::string(role.name);
            alternatives += "|" + std::string(role.name);
        }
        boost::json::object schema{
            {"type", "string"},
            {"pattern", "^(rol_[0-7][0-9A-HJKMNP-TV-Z]{25}" + alternatives + ")$"},
            {"description",
             "a custom role id (rol_ and a ULID) or a built-in role (" + names + ")"}};
        return boost::json::serialize(schema);
    }
    throw std::invalid_argument("no schema for the path parameter " + std::string(name));
}

/// `options` checking every `{parameter}` of `path_template` by path_parameter.
inline http::RouteOptions with_path_ids(http::RouteOptions options,
                                        std::string_view path_template) {
    std::vector<std::pair<std::string, std::string>> parameters;
    for (std::size_t open = path_template.find('{'); open != std::string_view::npos;
         open = path_template.find('{', open + 1)) {
        std::size_t close = path_template.find('}', open);
        if (close == std::string_view::npos) break;  // the router refuses the template
        std::string name(path_template.substr(open + 1, close - open - 1));
        parameters.emplace_back(name, path_parameter(name));
    }
    if (!parameters.empty()) options.path_schema = http::path_parameters_schema(parameters);
    return options;
}

/// Router::add with the template's path parameters checked as identity ids (with_path_ids), so
/// no identity route can forget one.
template <typename Handler>
void add_route(http::Router& router, http::Method method, std::string_view path_template,
               Handler handler, http::RouteOptions options = {}) {
    router.add(method, path_template, std::move(handler),
               with_path_ids(std::move(options), path_template));
}

}  // namespace nimbus::identity::schemas
