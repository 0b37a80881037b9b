#pragma once
// The JSON Schemas of identity's routes (private to identity/): the validate step checks bodies
// against them before the handler runs, debug builds check 2xx answers, and the OpenAPI document
// shows them. Bodies have no top-level "type": a body that is not a JSON object keeps the
// handler's own `/problems/invalid-json` answer. Field types, `required` and enums are declared;
// the validate step words their violations as the handlers do ("is required", "must be a
// string"). Unknown fields are allowed, as the handlers ignore them.

#include <string>
#include <string_view>

#include "http/http.hpp"

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
  "type": "object", "required": ["id", "email", "name", "email_verified", "created_at", "updated_at"],
  "properties": {
    "id": {"type": "string", "description": "usr_ followed by a ULID"},
    "email": {"type": "string"},
    "name": {"type": "string"},
    "email_verified": {"type": "boolean"},
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

/// `options` with a body schema and a 2xx response schema (either may be empty).
inline http::RouteOptions with(http::RouteOptions options, std::string_view body,
                               std::string_view response = {}) {
    options.body_schema = std::string(body);
    options.response_schema = std::string(response);
    return options;
}

}  // namespace nimbus::identity::schemas
