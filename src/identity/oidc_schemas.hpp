#pragma once
// The 2xx response schemas of the OAuth 2.0 / OpenID Connect routes (private to identity/): the
// OpenAPI document shows them and debug builds check every success answer against them. The
// protocol answers use the field names of their RFCs, so a client library reads them as it
// reads any provider's; the consent and client-registration APIs use Nimbus's own conventions
// (snake_case, RFC 3339 times). The protocol endpoints' own errors follow RFC 6749 section 5.2
// (kOAuthErrorAnswer), not RFC 9457.

#include <string>
#include <string_view>

namespace nimbus::identity::schemas {

/// OpenID Connect Discovery 1.0 section 3: the provider metadata. The required fields are the
/// ones that specification requires; the rest are what Nimbus publishes.
inline constexpr std::string_view kDiscoveryAnswer = R"({
  "type": "object",
  "required": ["issuer", "authorization_endpoint", "token_endpoint", "jwks_uri",
               "response_types_supported", "subject_types_supported",
               "id_token_signing_alg_values_supported"],
  "properties": {
    "issuer": {"type": "string", "description": "The iss of every token this provider signs"},
    "authorization_endpoint": {"type": "string"},
    "token_endpoint": {"type": "string"},
    "userinfo_endpoint": {"type": "string"},
    "jwks_uri": {"type": "string"},
    "revocation_endpoint": {"type": "string"},
    "introspection_endpoint": {"type": "string"},
    "end_session_endpoint": {"type": "string"},
    "scopes_supported": {"type": "array", "items": {"type": "string"}},
    "response_types_supported": {"type": "array", "items": {"type": "string"}},
    "response_modes_supported": {"type": "array", "items": {"type": "string"}},
    "grant_types_supported": {"type": "array", "items": {"type": "string"}},
    "subject_types_supported": {"type": "array", "items": {"type": "string"}},
    "id_token_signing_alg_values_supported": {"type": "array", "items": {"type": "string"}},
    "token_endpoint_auth_methods_supported": {"type": "array", "items": {"type": "string"}},
    "revocation_endpoint_auth_methods_supported": {"type": "array", "items": {"type": "string"}},
    "introspection_endpoint_auth_methods_supported":
      {"type": "array", "items": {"type": "string"}},
    "code_challenge_methods_supported": {"type": "array", "items": {"type": "string"}},
    "claims_supported": {"type": "array", "items": {"type": "string"}},
    "authorization_response_iss_parameter_supported": {"type": "boolean"},
    "request_parameter_supported": {"type": "boolean"},
    "request_uri_parameter_supported": {"type": "boolean"},
    "claims_parameter_supported": {"type": "boolean"}}})";

/// RFC 7517 section 5: a JWK Set of the P-256 public keys (RFC 7518 section 6.2) that sign
/// access and ID tokens; during a rotation it holds the next key and the previous one too.
inline constexpr std::string_view kJwksAnswer = R"({
  "type": "object", "required": ["keys"],
  "properties": {
    "keys": {"type": "array", "items": {
      "type": "object", "required": ["kty", "crv", "x", "y", "kid"],
      "properties": {
        "kty": {"type": "string", "enum": ["EC"]},
        "crv": {"type": "string", "enum": ["P-256"]},
        "x": {"type": "string", "description": "base64url X coordinate"},
        "y": {"type": "string", "description": "base64url Y coordinate"},
        "kid": {"type": "string", "description": "The kid in the header of tokens it signs"},
        "alg": {"type": "string", "enum": ["ES256"]},
        "use": {"type": "string", "enum": ["sig"]}}}}}})";

/// RFC 6749 section 5.1, with OpenID Connect Core section 3.1.3.3's `id_token` when the grant
/// has the openid scope. Client credentials get no refresh token.
inline constexpr std::string_view kOAuthTokenAnswer = R"({
  "type": "object", "required": ["access_token", "token_type", "expires_in"],
  "properties": {
    "access_token": {"type": "string", "description": "ES256 JWT"},
    "token_type": {"type": "string", "enum": ["Bearer"]},
    "expires_in": {"type": "integer", "description": "Seconds until the access token expires"},
    "refresh_token": {"type": "string",
                      "description": "Authorization code and refresh grants; rotates on use"},
    "scope": {"type": "string", "description": "The granted scopes, space-separated"},
    "id_token": {"type": "string", "description": "With the openid scope: an ES256 ID token"}}})";

/// RFC 6749 section 5.2 (and RFC 6750 section 3.1 for UserInfo): the errors the token,
/// revocation, introspection and UserInfo endpoints answer themselves. A 401 carries
/// `WWW-Authenticate` (Basic for client authentication, Bearer for UserInfo).
inline constexpr std::string_view kOAuthErrorAnswer = R"({
  "type": "object", "required": ["error"],
  "properties": {
    "error": {"type": "string", "enum": ["invalid_request", "invalid_client", "invalid_grant",
                                         "unauthorized_client", "unsupported_grant_type",
                                         "invalid_scope", "invalid_token", "insufficient_scope",
                                         "server_error", "temporarily_unavailable"]},
    "error_description": {"type": "string"}}})";

/// RFC 7009 section 2.2: the same empty answer whether or not the token was known, so the
/// endpoint tells a caller nothing about tokens it does not own.
inline constexpr std::string_view kRevocationAnswer = R"({
  "type": "object", "maxProperties": 0,
  "description": "Empty: the token is revoked, or was never the caller's to revoke"})";

/// RFC 7662 section 2.2. An inactive, unknown or foreign token answers `{"active": false}` alone.
inline constexpr std::string_view kIntrospectionAnswer = R"({
  "type": "object", "required": ["active"],
  "properties": {
    "active": {"type": "boolean"},
    "token_type": {"type": "string", "enum": ["Bearer", "refresh_token"]},
    "scope": {"type": "string", "description": "Space-separated"},
    "client_id": {"type": "string"},
    "sub": {"type": "string", "description": "The user, or empty for client credentials"},
    "aud": {"type": "string"},
    "iss": {"type": "string"},
    "iat": {"type": "integer", "description": "Seconds since the epoch"},
    "exp": {"type": "integer", "description": "Seconds since the epoch"},
    "jti": {"type": "string"},
    "org_id": {"type": "string",
               "description": "Nimbus: the organization a client-credentials token acts in"}}})";

/// OpenID Connect Core section 5.3.2: `sub`, plus the claims of the granted scopes (`email` and
/// `email_verified` with the email scope, `name` with profile).
inline constexpr std::string_view kUserInfoAnswer = R"({
  "type": "object", "required": ["sub"],
  "properties": {
    "sub": {"type": "string", "description": "The user's id"},
    "email": {"type": "string"},
    "email_verified": {"type": "boolean"},
    "name": {"type": "string"}}})";

/// An authorization request waiting for the signed-in user's decision (the consent page).
inline constexpr std::string_view kConsentRequestAnswer = R"({
  "type": "object",
  "required": ["id", "client_id", "client_name", "scopes", "redirect_uri", "consented",
               "expires_at"],
  "properties": {
    "id": {"type": "string", "description": "oar_ followed by a ULID"},
    "client_id": {"type": "string"},
    "client_name": {"type": "string"},
    "scopes": {"type": "array", "items": {"type": "string"}},
    "redirect_uri": {"type": "string"},
    "consented": {"type": "boolean",
                  "description": "The user granted these scopes to this client before"},
    "expires_at": {"type": "string", "format": "date-time"}}})";

/// Where the console sends the browser after a decision: the client's redirect URI with the
/// code (or `error=access_denied`), its state and the issuer.
inline constexpr std::string_view kDecisionAnswer = R"({
  "type": "object", "required": ["redirect_to"],
  "properties": {"redirect_to": {"type": "string"}}})";

/// A registered OAuth client. `client_secret` is in the answer that registers a confidential
/// client, once; only its hash is kept.
inline constexpr std::string_view kOAuthClientAnswer = R"({
  "type": "object",
  "required": ["id", "org_id", "name", "type", "redirect_uris", "post_logout_redirect_uris",
               "grant_types", "scopes", "created_by", "created_at", "updated_at"],
  "properties": {
    "id": {"type": "string", "description": "cli_ followed by a ULID; the OAuth client_id"},
    "org_id": {"type": "string"},
    "name": {"type": "string"},
    "type": {"type": "string", "enum": ["confidential", "public"]},
    "redirect_uris": {"type": "array", "items": {"type": "string"}},
    "post_logout_redirect_uris": {"type": "array", "items": {"type": "string"}},
    "grant_types": {"type": "array", "items": {
      "type": "string", "enum": ["authorization_code", "refresh_token", "client_credentials"]}},
    "scopes": {"type": "array", "items": {"type": "string"}},
    "created_by": {"type": "string", "description": "The user who registered it"},
    "created_at": {"type": "string", "format": "date-time"},
    "updated_at": {"type": "string", "format": "date-time"},
    "client_secret": {"type": "string",
                      "description": "Confidential clients, in the registration answer only"}}})";

}  // namespace nimbus::identity::schemas
