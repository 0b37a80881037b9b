#pragma once
// Input rules for accounts, private to identity/. Each check fails with `invalid_argument` whose
// message starts with the field name and ": " (field_error), which routes turn into a problem's
// errors[] entry pointing at that field.

#include <string>
#include <string_view>

#include "core/result.hpp"

namespace nimbus::identity {

/// Longest address accepted (RFC 5321: 254 for a path without its brackets).
inline constexpr std::size_t kMaxEmailBytes = 254;
/// Longest local part (RFC 5321).
inline constexpr std::size_t kMaxLocalPartBytes = 64;
/// Password length in characters, and the byte limit that keeps hashing cheap to refuse.
inline constexpr std::size_t kMinPasswordChars = 12;
inline constexpr std::size_t kMaxPasswordBytes = 1024;
/// Display names, in characters.
inline constexpr std::size_t kMaxNameChars = 100;

/// An invalid_argument error about `field` ("email: must contain an @").
Error field_error(std::string_view field, std::string_view message);

/// Trims ASCII whitespace, checks the address (ASCII only, so no Unicode look-alikes; lengths;
/// dot-atom local part; LDH domain labels with at least one dot) and folds it to lower case, the
/// form used for uniqueness. Punycode labels (xn--) are accepted: they are ASCII on screen.
Result<std::string> normalize_email(std::string_view raw);

/// Length rules only (12 characters .. 1 KiB, no NUL); strength is checked by the service.
Result<void> check_password_length(std::string_view password, std::string_view field);

/// Trims spaces and checks a display name: valid UTF-8, at most 100 characters, no control or
/// bidirectional-override characters.
Result<std::string> normalize_name(std::string_view raw);

/// Counts UTF-8 code points; nullopt-like -1 when the text is not valid UTF-8.
long utf8_length(std::string_view text);

}  // namespace nimbus::identity
