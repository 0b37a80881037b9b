#pragma once
/// Identifiers: a type prefix plus a ULID, e.g. "evt_01JD2W3X4Y5Z6A7B8C9D0E1F2G".
/// ULIDs sort by creation time (48-bit milliseconds, then 80 random bits), so ids make good
/// primary keys and cursor positions. Thread safe.

#include <cstdint>
#include <string>
#include <string_view>

namespace nimbus {

/// A new ULID (26 characters, Crockford base32) for `unix_ms`.
std::string new_ulid(std::int64_t unix_ms);

/// `prefix` + "_" + a new ULID, e.g. new_id("usr", now) -> "usr_01J...".
std::string new_id(std::string_view prefix, std::int64_t unix_ms);

/// True when `id` is `prefix` + "_" + a well-formed ULID.
bool is_valid_id(std::string_view id, std::string_view prefix);

}  // namespace nimbus
