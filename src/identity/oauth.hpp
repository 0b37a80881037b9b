#pragma once
// Protocol helpers of the OAuth 2.0 / OpenID Connect provider, private to identity/: PKCE (RFC
// 7636, S256 only), redirect URI rules, scopes, URL and form encoding, HTTP Basic client
// credentials. Pure functions; unit tested in oauth_test.cpp.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace nimbus::identity::oauth {

/// The longest accepted redirect URI, state, nonce or other single parameter; longer ones are
/// refused with invalid_request rather than stored.
inline constexpr std::size_t kMaxUriBytes = 2000;
inline constexpr std::size_t kMaxParamBytes = 1024;
/// Registration limits.
inline constexpr std::size_t kMaxRedirectUris = 10;
inline constexpr std::size_t kMaxScopes = 32;

/// RFC 7636 4.1: 43 to 128 characters of [A-Za-z0-9-._~].
bool is_valid_code_verifier(std::string_view verifier);
/// An S256 challenge: base64url (no padding) of a SHA-256, so exactly 43 characters.
bool is_valid_code_challenge(std::string_view challenge);
/// BASE64URL(SHA256(verifier)).
std::string s256_challenge(std::string_view verifier);
/// True when `verifier` hashes to `challenge`; compares in constant time.
bool pkce_matches(std::string_view verifier, std::string_view challenge);

/// A redirect URI a client may register: absolute, `https://host...`, or `http://` only for
/// 127.0.0.1, [::1] or localhost (native apps and development); no fragment, no user info, no
/// spaces or control characters, at most kMaxUriBytes. Fails with a message safe to show.
Result<void> check_redirect_uri(std::string_view uri);
/// Exact string comparison against the registered list (no normalization, no prefix match).
bool redirect_uri_registered(const std::vector<std::string>& registered, std::string_view uri);

/// Scope tokens: 1 to 64 characters of [a-z0-9_.:-].
bool is_valid_scope_token(std::string_view token);
/// Splits on spaces, drops empties and duplicates, keeps order.
std::vector<std::string> split_scope(std::string_view text);
/// Sorted and space-joined, so equal sets store equally.
std::string join_scope(std::vector<std::string> scopes);
/// True when every item of `wanted` is in `held`.
bool is_subset(const std::vector<std::string>& wanted, const std::vector<std::string>& held);

/// Percent-encodes everything but RFC 3986 unreserved characters.
std::string percent_encode(std::string_view text);
/// Appends query parameters to `uri` (with '?' or '&'); values are percent-encoded.
std::string with_params(std::string_view uri,
                        const std::vector<std::pair<std::string, std::string>>& params);

/// `Authorization: Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 2.3.1); fails on
/// anything else.
Result<std::pair<std::string, std::string>> parse_basic(std::string_view header);

}  // namespace nimbus::identity::oauth
