// Requests, responses and problems.
#include <algorithm>
#include <cctype>

#include <boost/json/serialize.hpp>

#include "http/http.hpp"

namespace nimbus::http {
namespace {

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/// Decodes %XX and '+' (form encoding) in a query component; leaves malformed escapes as they are.
std::string decode_query_component(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t pos = 0; pos < text.size(); ++pos) {
        char c = text[pos];
        if (c == '+') {
            out.push_back(' ');
        } else if (c == '%' && pos + 2 < text.size() && hex_digit(text[pos + 1]) >= 0 &&
                   hex_digit(text[pos + 2]) >= 0) {
            out.push_back(
                static_cast<char>(hex_digit(text[pos + 1]) << 4 | hex_digit(text[pos + 2])));
            pos += 2;
        } else {
            out.push_back(c);
        }
    }
    return out;
}

}  // namespace

std::string_view to_string(Method method) {
    switch (method) {
        case Method::get: return "GET";
        case Method::head: return "HEAD";
        case Method::post: return "POST";
        case Method::put: return "PUT";
        case Method::patch: return "PATCH";
        case Method::delete_: return "DELETE";
        case Method::options: return "OPTIONS";
    }
    return "GET";
}

std::optional<Method> parse_method(std::string_view text) {
    for (Method method : {Method::get, Method::head, Method::post, Method::put, Method::patch,
                          Method::delete_, Method::options}) {
        if (to_string(method) == text) return method;
    }
    return std::nullopt;
}

std::string_view status_text(int status) {
    switch (status) {
        case 100: return "Continue";
        case 200: return "OK";
        case 201: return "Created";
        case 202: return "Accepted";
        case 204: return "No Content";
        case 301: return "Moved Permanently";
        case 302: return "Found";
        case 304: return "Not Modified";
        case 308: return "Permanent Redirect";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 409: return "Conflict";
        case 412: return "Precondition Failed";
        case 413: return "Content Too Large";
        case 414: return "URI Too Long";
        case 415: return "Unsupported Media Type";
        case 422: return "Unprocessable Content";
        case 429: return "Too Many Requests";
        case 431: return "Request Header Fields Too Large";
        case 500: return "Internal Server Error";
        case 501: return "Not Implemented";
        case 503: return "Service Unavailable";
        default: return "Unknown";
    }
}

std::optional<std::string_view> Request::header(std::string_view name) const {
    for (const auto& h : headers) {
        if (iequals(h.name, name)) return std::string_view(h.value);
    }
    return std::nullopt;
}

std::optional<std::string> Request::query_param(std::string_view name) const {
    std::string_view rest = query;
    while (!rest.empty()) {
        std::size_t amp = rest.find('&');
        std::string_view pair = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
        std::size_t eq = pair.find('=');
        std::string key = decode_query_component(pair.substr(0, eq));
        if (key == name) {
            return eq == std::string_view::npos ? std::string()
                                                : decode_query_component(pair.substr(eq + 1));
        }
    }
    return std::nullopt;
}

void Response::set_header(std::string_view name, std::string_view value) {
    for (auto& h : headers) {
        if (iequals(h.name, name)) {
            h.value = std::string(value);
            return;
        }
    }
    headers.push_back({std::string(name), std::string(value)});
}

std::optional<std::string_view> Response::header(std::string_view name) const {
    for (const auto& h : headers) {
        if (iequals(h.name, name)) return std::string_view(h.value);
    }
    return std::nullopt;
}

Response Response::json(int status, const boost::json::value& value) {
    Response response;
    response.status = status;
    response.body = boost::json::serialize(value);
    response.headers.push_back({"content-type", "application/json"});
    return response;
}

Response Response::text(int status, std::string body, std::string_view content_type) {
    Response response;
    response.status = status;
    response.body = std::move(body);
    response.headers.push_back({"content-type", std::string(content_type)});
    return response;
}

Response Response::no_content() {
    Response response;
    response.status = 204;
    return response;
}

Response Response::make_problem(int status, std::string_view slug, std::string title,
                                std::string detail, std::vector<Problem::FieldError> errors) {
    Response response;
    response.status = status;
    Problem problem;
    if (!slug.empty()) problem.type = "/problems/" + std::string(slug);
    problem.title = title.empty() ? std::string(status_text(status)) : std::move(title);
    problem.detail = std::move(detail);
    problem.errors = std::move(errors);
    response.problem = std::move(problem);
    return response;
}

int status_for(ErrorCode code) {
    switch (code) {
        case ErrorCode::invalid_argument: return 400;
        case ErrorCode::unauthenticated: return 401;
        case ErrorCode::permission_denied: return 403;
        case ErrorCode::not_found: return 404;
        case ErrorCode::conflict: return 409;
        case ErrorCode::precondition_failed: return 412;
        case ErrorCode::too_large: return 413;
        case ErrorCode::rate_limited: return 429;
        case ErrorCode::unavailable: return 503;
        case ErrorCode::internal: return 500;
    }
    return 500;
}

Response Response::from_error(const Error& error) {
    int status = status_for(error.code);
    // Internal and unavailable errors carry details meant for logs (SQL, hosts, driver text),
    // never for callers.
    std::string detail = error.message;
    if (error.code == ErrorCode::internal) {
        detail = "An unexpected error occurred.";
    } else if (error.code == ErrorCode::unavailable) {
        detail = "A service this request depends on is unavailable; retry shortly.";
    }
    std::string slug(to_string(error.code));
    std::replace(slug.begin(), slug.end(), '_', '-');
    return make_problem(status, slug, std::string(status_text(status)), std::move(detail));
}

std::string_view RequestContext::path_param(std::string_view name) const {
    for (const auto& [key, value] : path_params) {
        if (key == name) return value;
    }
    return {};
}

}  // namespace nimbus::http
