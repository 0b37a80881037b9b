// The response head as bytes. Written by hand rather than with Beast's serializer: for the small
// responses most API calls return, Beast's buffer machinery cost more than everything else in a
// request together (measured with callgrind), and one contiguous head needs a single write.
#include <ctime>

#include <fmt/format.h>

#include "http/internal.hpp"

namespace nimbus::http {
namespace {

/// Appends `text` without CR or LF: a handler that echoes input into a header must not be able
/// to start a new header or a second response (response splitting).
void append_field_text(std::string& out, std::string_view text) {
    for (char c : text) {
        if (c != '\r' && c != '\n') out.push_back(c);
    }
}

/// The IMF-fixdate of the current second (RFC 9110 section 5.6.7), formatted once per second per
/// thread.
std::string_view http_date() {
    thread_local std::time_t cached_second = 0;
    thread_local char cached[64] = {};
    std::time_t now = std::time(nullptr);
    if (now != cached_second) {
        std::tm utc{};
        gmtime_r(&now, &utc);
        std::strftime(cached, sizeof(cached), "%a, %d %b %Y %H:%M:%S GMT", &utc);
        cached_second = now;
    }
    return cached;
}

}  // namespace

std::string serialize_head(const Response& response, std::size_t body_size, bool keep_alive) {
    std::string head;
    head.reserve(256);
    fmt::format_to(std::back_inserter(head), "HTTP/1.1 {} {}\r\n", response.status,
                   status_text(response.status));
    for (const auto& header : response.headers) {
        append_field_text(head, header.name);
        head += ": ";
        append_field_text(head, header.value);
        head += "\r\n";
    }
    head += "date: ";
    head += http_date();
    head += "\r\n";
    // 1xx, 204 and 304 answers carry no body and therefore no length (RFC 9110 section 8.6).
    bool bodyless = response.status < 200 || response.status == 204 || response.status == 304;
    if (!bodyless) fmt::format_to(std::back_inserter(head), "content-length: {}\r\n", body_size);
    if (!keep_alive) head += "connection: close\r\n";
    head += "\r\n";
    return head;
}

}  // namespace nimbus::http
