#include "identity/cookies.hpp"

#include <fmt/format.h>

#include "core/crypto.hpp"

namespace nimbus::identity::cookies {
namespace {

constexpr std::size_t kCsrfBytes = 32;
constexpr std::string_view kRefreshPath = "/api/v1/auth";

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

std::string new_csrf_value() {
    crypto::Bytes random = crypto::random_bytes(kCsrfBytes);
    return crypto::base64url_encode(
        std::string_view(reinterpret_cast<const char*>(random.data()), random.size()));
}

/// The refresh cookie is sent only to the auth routes that spend it; the CSRF cookie to every
/// page, because the console's script reads it wherever it runs.
void add_cookies(http::Response& response, std::string_view refresh_value,
                 std::string_view csrf_value, std::int64_t max_age_s, bool secure) {
    std::string_view secure_flag = secure ? "; Secure" : "";
    response.headers.push_back(
        {"set-cookie", fmt::format("{}={}; HttpOnly; SameSite=Strict; Path={}; Max-Age={}{}",
                                   kRefresh, refresh_value, kRefreshPath, max_age_s, secure_flag)});
    response.headers.push_back(
        {"set-cookie", fmt::format("{}={}; SameSite=Strict; Path=/; Max-Age={}{}", kCsrf,
                                   csrf_value, max_age_s, secure_flag)});
}

}  // namespace

std::optional<std::string> read(const http::Request& request, std::string_view name) {
    for (const auto& header : request.headers) {
        if (header.name != "cookie") continue;
        std::string_view rest = header.value;
        while (!rest.empty()) {
            std::size_t end = rest.find(';');
            std::string_view pair = trim(rest.substr(0, end));
            rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
            std::size_t equals = pair.find('=');
            if (equals == std::string_view::npos || trim(pair.substr(0, equals)) != name) continue;
            std::string_view value = trim(pair.substr(equals + 1));
            if (value.empty()) return std::nullopt;
            return std::string(value);
        }
    }
    return std::nullopt;
}

void set_session(http::Response& response, const std::string& refresh_token, std::int64_t max_age_s,
                 bool secure) {
    add_cookies(response, refresh_token, new_csrf_value(), max_age_s, secure);
}

void clear_session(http::Response& response, bool secure) {
    add_cookies(response, "", "", 0, secure);
}

bool csrf_matches(const http::Request& request) {
    auto header = request.header(kCsrfHeader);
    auto cookie = read(request, kCsrf);
    if (!header || header->empty() || !cookie) return false;
    return crypto::constant_time_equal(*header, *cookie);
}

}  // namespace nimbus::identity::cookies
