#pragma once
// Helpers shared by the files of http/; not part of the module's interface.

#include <optional>
#include <string>
#include <string_view>

#include "http/http.hpp"

namespace nimbus::http {

/// True when an Accept-Encoding header value accepts gzip.
bool accepts_gzip(std::string_view accept_encoding);
/// True for content types worth compressing (JSON, text, JavaScript, SVG).
bool compressible(std::string_view content_type);
/// gzip-compresses `input`; nullopt only if zlib fails.
std::optional<std::string> gzip(std::string_view input);
/// The status line and headers of `response`, ending with the blank line: adds Date,
/// Content-Length (`body_size`, except for 1xx/204/304) and `Connection: close` unless
/// `keep_alive`. CR and LF inside names and values are dropped.
std::string serialize_head(const Response& response, std::size_t body_size, bool keep_alive);

/// Serializes `response.problem` (if any) into the body as application/problem+json, adding
/// `instance` and `request_id`.
void write_problem_body(Response& response, const Request& request, const RequestContext& context);

}  // namespace nimbus::http
