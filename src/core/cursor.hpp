#pragma once
// Opaque list cursors: a list names the position of the last row it answered (a sequence number,
// an id, a timestamp and an id) and hands it out as `next_cursor`; the caller passes it back as
// `?cursor=`. The text is base64url of "<kind>.<position>" so a cursor of one list is refused by
// another, and anything a client makes up is refused unless it decodes to the same shape. The
// position is only ever used as a bound in parameterized SQL, so a well-formed but invented
// cursor can skip rows the caller may see anyway and nothing else.

#include <cstddef>
#include <string>
#include <string_view>

#include "core/crypto.hpp"
#include "core/result.hpp"

namespace nimbus::cursor {

/// Longest cursor text accepted; longer ones are refused before decoding.
inline constexpr std::size_t kMaxCursorChars = 512;

/// The cursor for `position` in a list of `kind` ("a1", "members1"; a version digit lets the
/// format change later without misreading old cursors).
inline std::string encode(std::string_view kind, std::string_view position) {
    std::string text(kind);
    text += '.';
    text += position;
    return crypto::base64url_encode(text);
}

/// The position a cursor of `kind` names. `invalid_argument` ("cursor: is not a cursor this
/// server issued") when it is empty, too long, not base64url, of another kind, or names an empty
/// position or one with control characters.
inline Result<std::string> decode(std::string_view kind, std::string_view cursor) {
    Error bad = Error::invalid("cursor: is not a cursor this server issued");
    if (cursor.empty() || cursor.size() > kMaxCursorChars) return bad;
    auto bytes = crypto::base64url_decode(cursor);
    if (!bytes) return bad;
    std::string text(bytes->begin(), bytes->end());
    if (text.size() <= kind.size() + 1 || !text.starts_with(kind) || text[kind.size()] != '.') {
        return bad;
    }
    std::string position = text.substr(kind.size() + 1);
    constexpr unsigned char kFirstPrintable = 0x20;
    constexpr unsigned char kDelete = 0x7f;
    for (char c : position) {
        auto byte = static_cast<unsigned char>(c);
        if (byte < kFirstPrintable || byte == kDelete) return bad;
    }
    return position;
}

}  // namespace nimbus::cursor
