#pragma once
// The console's session cookies (docs/identity.md, "The console's refresh cookie"): the refresh
// token in an HttpOnly cookie scoped to /api/v1/auth, and a readable CSRF cookie the console
// echoes in `X-CSRF-Token` (double submit). Private to identity/.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "http/http.hpp"

namespace nimbus::identity::cookies {

/// The HttpOnly cookie that carries the refresh token.
inline constexpr std::string_view kRefresh = "nimbus_refresh";
/// The readable cookie whose value must come back in the CSRF header.
inline constexpr std::string_view kCsrf = "nimbus_csrf";
/// The header that echoes the CSRF cookie (lower case, as headers are stored).
inline constexpr std::string_view kCsrfHeader = "x-csrf-token";

/// The value of cookie `name` from the request's Cookie headers (the first one when repeated);
/// nullopt when absent or empty.
std::optional<std::string> read(const http::Request& request, std::string_view name);

/// Sets both cookies: `refresh_token` and a fresh random CSRF value, each for `max_age_s`;
/// `Secure` when the request came over TLS.
void set_session(http::Response& response, const std::string& refresh_token, std::int64_t max_age_s,
                 bool secure);

/// Expires both cookies (Max-Age=0).
void clear_session(http::Response& response, bool secure);

/// True when the CSRF header is present and equals the CSRF cookie (constant-time compare).
bool csrf_matches(const http::Request& request);

}  // namespace nimbus::identity::cookies
