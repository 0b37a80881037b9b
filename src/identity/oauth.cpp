#include "identity/oauth.hpp"

#include <algorithm>
#include <array>
#include <set>

#include "core/crypto.hpp"
#include "identity/identity.hpp"

namespace nimbus::identity {
namespace {

constexpr std::size_t kMinVerifier = 43;
constexpr std::size_t kMaxVerifier = 128;
constexpr std::size_t kChallengeLength = 43;  // base64url of 32 bytes, no padding
constexpr std::size_t kMaxScopeToken = 64;
constexpr int kHexBase = 16;
constexpr char kFirstPrintable = 0x21;
constexpr char kLastPrintable = 0x7E;

bool is_unreserved(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;  // NOLINT(readability-magic-numbers)
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;  // NOLINT(readability-magic-numbers)
    return -1;
}

/// Form decoding: '+' is a space, %XX a byte.
Result<std::string> form_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '+') {
            out.push_back(' ');
        } else if (c == '%') {
            if (i + 2 >= text.size()) {
                return Error::invalid("malformed percent-encoding");
            }
            int high = hex_value(text[i + 1]);
            int low = hex_value(text[i + 2]);
            if (high < 0 || low < 0) return Error::invalid("malformed percent-encoding");
            out.push_back(static_cast<char>(high * kHexBase + low));
            i += 2;
        } else {
            out.push_back(c);
        }
    }
    return out;
}

/// Standard base64 with padding (HTTP Basic); also accepts the URL-safe alphabet.
Result<std::string> base64_decode(std::string_view text) {
    std::string normalized;
    for (char c : text) {
        if (c == '=') break;
        if (c == '-') c = '+';
        if (c == '_') c = '/';
        normalized.push_back(c);
    }
    // base64url_decode takes the URL-safe alphabet without padding.
    for (char& c : normalized) {
        if (c == '+') c = '-';
        if (c == '/') c = '_';
    }
    auto bytes = crypto::base64url_decode(normalized);
    if (!bytes) return Error::invalid("malformed base64");
    return std::string(bytes->begin(), bytes->end());
}

}  // namespace

const std::string& OAuthParams::get(std::string_view name) const {
    static const std::string kEmpty;
    auto found = values.find(name);
    return found == values.end() ? kEmpty : found->second;
}

Result<OAuthParams> parse_oauth_params(std::string_view text) {
    OAuthParams params;
    std::size_t start = 0;
    while (start <= text.size()) {
        std::size_t end = text.find('&', start);
        if (end == std::string_view::npos) end = text.size();
        std::string_view pair = text.substr(start, end - start);
        if (!pair.empty()) {
            std::size_t equals = pair.find('=');
            auto name = form_decode(pair.substr(0, equals));
            if (!name) return name.error();
            auto value = form_decode(equals == std::string_view::npos ? std::string_view()
                                                                      : pair.substr(equals + 1));
            if (!value) return value.error();
            // RFC 6749 3.1: parameters must not repeat; an empty value counts as absent.
            if (params.values.contains(*name)) {
                params.duplicates.push_back(*name);
            } else if (!value->empty()) {
                params.values.emplace(std::move(*name), std::move(*value));
            }
        }
        start = end + 1;
    }
    return params;
}

namespace oauth {

bool is_valid_code_verifier(std::string_view verifier) {
    return verifier.size() >= kMinVerifier && verifier.size() <= kMaxVerifier &&
           std::all_of(verifier.begin(), verifier.end(), is_unreserved);
}

bool is_valid_code_challenge(std::string_view challenge) {
    return challenge.size() == kChallengeLength &&
           std::all_of(challenge.begin(), challenge.end(),
                       [](char c) { return is_unreserved(c) && c != '.' && c != '~'; });
}

std::string s256_challenge(std::string_view verifier) {
    auto digest = crypto::hex_decode(crypto::sha256_hex(verifier));
    // sha256_hex always gives 64 hex digits, which always decode.
    return crypto::base64url_encode(
        std::string_view(reinterpret_cast<const char*>(digest->data()), digest->size()));
}

bool pkce_matches(std::string_view verifier, std::string_view challenge) {
    if (!is_valid_code_verifier(verifier)) return false;
    return crypto::constant_time_equal(s256_challenge(verifier), challenge);
}

Result<void> check_redirect_uri(std::string_view uri) {
    auto invalid = [](std::string message) { return Error::invalid(std::move(message)); };
    if (uri.empty() || uri.size() > kMaxUriBytes) {
        return invalid("must be an absolute URI of at most 2000 characters");
    }
    for (char c : uri) {
        if (c < kFirstPrintable || c > kLastPrintable) {
            return invalid("must not contain spaces or control characters");
        }
    }
    if (uri.find('#') != std::string_view::npos) return invalid("must not contain a fragment");
    std::string_view rest;
    bool https = false;
    if (uri.starts_with("https://")) {
        https = true;
        rest = uri.substr(std::string_view("https://").size());
    } else if (uri.starts_with("http://")) {
        rest = uri.substr(std::string_view("http://").size());
    } else {
        return invalid("must start with https:// (or http:// for 127.0.0.1 or localhost)");
    }
    std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
    if (authority.find('@') != std::string_view::npos) {
        return invalid("must not contain user information");
    }
    std::string_view host = authority;
    if (host.starts_with('[')) {
        host = host.substr(
            0, host.find(']') == std::string_view::npos ? host.size() : host.find(']') + 1);
    } else {
        host = host.substr(0, host.find(':'));
    }
    if (host.empty()) return invalid("must name a host");
    if (!https && host != "127.0.0.1" && host != "localhost" && host != "[::1]") {
        return invalid("must use https:// unless the host is 127.0.0.1, [::1] or localhost");
    }
    return {};
}

bool redirect_uri_registered(const std::vector<std::string>& registered, std::string_view uri) {
    return std::find(registered.begin(), registered.end(), uri) != registered.end();
}

bool is_valid_scope_token(std::string_view token) {
    return !token.empty() && token.size() <= kMaxScopeToken &&
           std::all_of(token.begin(), token.end(), [](char c) {
               return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
                      c == ':' || c == '-';
           });
}

std::vector<std::string> split_scope(std::string_view text) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = text.find(' ', start);
        if (end == std::string_view::npos) end = text.size();
        std::string token(text.substr(start, end - start));
        if (!token.empty() && std::find(out.begin(), out.end(), token) == out.end()) {
            out.push_back(std::move(token));
        }
        start = end + 1;
    }
    return out;
}

std::string join_scope(std::vector<std::string> scopes) {
    std::sort(scopes.begin(), scopes.end());
    scopes.erase(std::unique(scopes.begin(), scopes.end()), scopes.end());
    std::string out;
    for (const auto& scope : scopes) {
        if (!out.empty()) out.push_back(' ');
        out += scope;
    }
    return out;
}

bool is_subset(const std::vector<std::string>& wanted, const std::vector<std::string>& held) {
    return std::all_of(wanted.begin(), wanted.end(), [&](const std::string& item) {
        return std::find(held.begin(), held.end(), item) != held.end();
    });
}

std::string percent_encode(std::string_view text) {
    static constexpr std::array<char, 16> kHex = {'0', '1', '2', '3', '4', '5', '6', '7',
                                                  '8', '9', 'A', 'B', 'C', 'D', 'E', 'F'};
    std::string out;
    for (char c : text) {
        if (is_unreserved(c)) {
            out.push_back(c);
        } else {
            auto byte = static_cast<unsigned char>(c);
            out.push_back('%');
            out.push_back(kHex.at(byte >> 4U));
            out.push_back(kHex.at(byte & 0x0FU));
        }
    }
    return out;
}

std::string with_params(std::string_view uri,
                        const std::vector<std::pair<std::string, std::string>>& params) {
    std::string out(uri);
    char separator = uri.find('?') == std::string_view::npos ? '?' : '&';
    for (const auto& [name, value] : params) {
        out.push_back(separator);
        out += percent_encode(name);
        out.push_back('=');
        out += percent_encode(value);
        separator = '&';
    }
    return out;
}

Result<std::pair<std::string, std::string>> parse_basic(std::string_view header) {
    constexpr std::string_view kScheme = "basic ";
    if (header.size() <= kScheme.size() ||
        !std::equal(kScheme.begin(), kScheme.end(), header.begin(), [](char a, char b) {
            return a == std::tolower(static_cast<unsigned char>(b));
        })) {
        return Error::invalid("not Basic credentials");
    }
    std::string_view encoded = header.substr(kScheme.size());
    while (!encoded.empty() && encoded.front() == ' ') encoded.remove_prefix(1);
    if (encoded.size() > kMaxParamBytes * 2) return Error::invalid("credentials too long");
    auto decoded = base64_decode(encoded);
    if (!decoded) return decoded.error();
    std::size_t colon = decoded->find(':');
    if (colon == std::string::npos) return Error::invalid("malformed Basic credentials");
    auto id = form_decode(std::string_view(*decoded).substr(0, colon));
    auto secret = form_decode(std::string_view(*decoded).substr(colon + 1));
    if (!id || !secret) return Error::invalid("malformed Basic credentials");
    return std::pair{std::move(*id), std::move(*secret)};
}

}  // namespace oauth
}  // namespace nimbus::identity
