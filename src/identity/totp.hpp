#pragma once
// Time-based one-time passwords (RFC 6238: HMAC-SHA1, 6 digits, 30-second steps) through
// liboath, the otpauth:// URI authenticator apps read, and that URI as a QR code (libqrencode,
// drawn as SVG). Private to identity/.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace nimbus::identity::totp {

/// Seconds per time step.
inline constexpr std::int64_t kStepSeconds = 30;
/// Digits of a code.
inline constexpr std::size_t kDigits = 6;

/// A fresh 160-bit secret (RFC 4226's recommended length) from the OS CSPRNG, as raw bytes.
std::string new_secret();
/// Base32 without padding, as typed into authenticator apps.
std::string base32(std::string_view secret);
/// `otpauth://totp/<issuer>:<account>?secret=...&issuer=...&algorithm=SHA1&digits=6&period=30`,
/// with the label and issuer percent-encoded.
std::string otpauth_uri(std::string_view issuer, std::string_view account, std::string_view secret);
/// The text as a QR code (error correction M): an SVG document with one path, black on white.
Result<std::string> qr_svg(std::string_view text);

/// True when `code` looks like a TOTP code: exactly six ASCII digits.
bool is_code(std::string_view code);
/// The time step the code belongs to when it is valid at `now_s` within one step either way;
/// nullopt otherwise. Codes are compared in constant time.
std::optional<std::int64_t> match(std::string_view secret, std::string_view code,
                                  std::int64_t now_s);
/// The code for `now_s` (tests, and nothing else, need to compute codes).
std::string code_at(std::string_view secret, std::int64_t now_s);

}  // namespace nimbus::identity::totp
