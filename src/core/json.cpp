#include "core/json.hpp"

#include <fmt/format.h>
#include <boost/json/serialize.hpp>
#include <boost/json/stream_parser.hpp>

namespace nimbus::json {

Result<boost::json::value> parse(std::string_view text, ParseLimits limits) {
    boost::json::parse_options options;
    options.max_depth = limits.max_depth;
    boost::json::stream_parser parser({}, options);
    boost::system::error_code ec;
    std::size_t consumed = parser.write_some(text.data(), text.size(), ec);
    if (!ec && consumed < text.size()) {
        ec = boost::json::error::extra_data;
    }
    if (!ec) parser.finish(ec);
    if (ec) {
        return Error::invalid(fmt::format("invalid JSON at offset {}: {}", consumed, ec.message()));
    }
    return parser.release();
}

std::string serialize(const boost::json::value& value) { return boost::json::serialize(value); }

}  // namespace nimbus::json
