#pragma once
/// JSON helpers over Boost.JSON, the one JSON library of the code base.

#include <cstddef>
#include <string_view>

#include <boost/json/value.hpp>

#include "core/result.hpp"

namespace nimbus::json {

/// Limits applied to untrusted JSON.
struct ParseLimits {
    std::size_t max_depth = 64;  ///< nesting deeper than this is refused (stack safety)
};

/// Parses untrusted text. On failure the error is `invalid_argument` with a message that names
/// the byte offset: "invalid JSON at offset 12: syntax error".
Result<boost::json::value> parse(std::string_view text, ParseLimits limits = {});

/// Serializes compactly.
std::string serialize(const boost::json::value& value);

}  // namespace nimbus::json
