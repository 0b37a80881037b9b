#include "identity/validate.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace nimbus::identity {
namespace {

constexpr std::size_t kMaxDomainLabelBytes = 63;
constexpr unsigned char kFirstNonAscii = 0x80;
constexpr unsigned char kDelete = 0x7F;
constexpr char32_t kFirstNonControl = 0x20;
constexpr char32_t kC1First = 0x80;
constexpr char32_t kC1Last = 0x9F;

std::string_view trim(std::string_view text) {
    auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
    while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
    return text;
}

bool is_atext(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
           std::string_view("!#$%&'*+/=?^_`{|}~-").find(c) != std::string_view::npos;
}

bool valid_local_part(std::string_view local) {
    if (local.empty() || local.front() == '.' || local.back() == '.') return false;
    if (local.find("..") != std::string_view::npos) return false;
    return std::all_of(local.begin(), local.end(), [](char c) { return c == '.' || is_atext(c); });
}

bool valid_domain(std::string_view domain) {
    if (domain.find('.') == std::string_view::npos) return false;
    std::size_t start = 0;
    std::string_view last_label;
    while (start <= domain.size()) {
        std::size_t dot = domain.find('.', start);
        std::string_view label =
            domain.substr(start, dot == std::string_view::npos ? domain.npos : dot - start);
        if (label.empty() || label.size() > kMaxDomainLabelBytes) return false;
        if (label.front() == '-' || label.back() == '-') return false;
        bool ldh = std::all_of(label.begin(), label.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-';
        });
        if (!ldh) return false;
        last_label = label;
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    // A top-level domain is never all digits; this also refuses bare IPv4 addresses.
    return !std::all_of(last_label.begin(), last_label.end(),
                        [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; });
}

/// Decodes one UTF-8 sequence at `pos`; false on malformed, overlong or surrogate encodings.
bool decode_utf8(std::string_view text, std::size_t& pos, char32_t& out) {
    constexpr unsigned char kTwoByteLead = 0xC2;
    constexpr unsigned char kThreeByteLead = 0xE0;
    constexpr unsigned char kFourByteLead = 0xF0;
    constexpr unsigned char kPastLastLead = 0xF5;
    constexpr unsigned char kContinuationMask = 0xC0;
    constexpr unsigned char kContinuation = 0x80;
    constexpr char32_t kMinThree = 0x800;
    constexpr char32_t kMinFour = 0x10000;
    constexpr char32_t kMaxCodePoint = 0x10FFFF;
    constexpr char32_t kSurrogateFirst = 0xD800;
    constexpr char32_t kSurrogateLast = 0xDFFF;
    auto lead = static_cast<unsigned char>(text[pos]);
    std::size_t length = 0;
    if (lead < kFirstNonAscii) {
        out = lead;
        ++pos;
        return true;
    }
    if (lead < kTwoByteLead || lead >= kPastLastLead) return false;
    if (lead < kThreeByteLead) {
        length = 2;
        out = lead & 0x1FU;
    } else if (lead < kFourByteLead) {
        length = 3;
        out = lead & 0x0FU;
    } else {
        length = 4;
        out = lead & 0x07U;
    }
    if (pos + length > text.size()) return false;
    for (std::size_t i = 1; i < length; ++i) {
        auto next = static_cast<unsigned char>(text[pos + i]);
        if ((next & kContinuationMask) != kContinuation) return false;
        out = (out << 6U) | (next & 0x3FU);
    }
    if ((length == 3 && out < kMinThree) || (length == 4 && out < kMinFour) ||
        out > kMaxCodePoint || (out >= kSurrogateFirst && out <= kSurrogateLast)) {
        return false;
    }
    pos += length;
    return true;
}

/// Characters that reorder or hide text (bidi embeddings, overrides and isolates).
bool is_bidi_control(char32_t c) {
    return (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069) || c == 0x200E ||
           c == 0x200F;
}

}  // namespace

Error field_error(std::string_view field, std::string_view message) {
    return Error::invalid(fmt::format("{}: {}", field, message));
}

long utf8_length(std::string_view text) {
    long count = 0;
    std::size_t pos = 0;
    char32_t c = 0;
    while (pos < text.size()) {
        if (!decode_utf8(text, pos, c)) return -1;
        ++count;
    }
    return count;
}

Result<std::string> normalize_email(std::string_view raw) {
    std::string_view email = trim(raw);
    if (email.empty()) return field_error("email", "is required");
    if (email.size() > kMaxEmailBytes) {
        return field_error("email", fmt::format("must be at most {} characters", kMaxEmailBytes));
    }
    bool ascii = std::all_of(email.begin(), email.end(),
                             [](char c) { return static_cast<unsigned char>(c) < kFirstNonAscii; });
    if (!ascii) {
        return field_error("email",
                           "must contain only ASCII characters (internationalized addresses are "
                           "not supported)");
    }
    auto at = email.rfind('@');
    if (at == std::string_view::npos) return field_error("email", "must contain an @");
    std::string_view local = email.substr(0, at);
    std::string_view domain = email.substr(at + 1);
    if (local.size() > kMaxLocalPartBytes) {
        return field_error("email", fmt::format("the part before the @ must be at most {} "
                                                "characters",
                                                kMaxLocalPartBytes));
    }
    if (!valid_local_part(local)) return field_error("email", "is not a valid address");
    if (!valid_domain(domain)) return field_error("email", "has an invalid domain");
    std::string folded(email);
    std::transform(folded.begin(), folded.end(), folded.begin(), [](char c) {
        return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    });
    return folded;
}

Result<void> check_password_length(std::string_view password, std::string_view field) {
    if (password.size() > kMaxPasswordBytes) {
        return field_error(field, fmt::format("must be at most {} bytes", kMaxPasswordBytes));
    }
    if (password.find('\0') != std::string_view::npos) {
        return field_error(field, "must not contain NUL characters");
    }
    long length = utf8_length(password);
    if (length < 0) return field_error(field, "must be valid UTF-8");
    if (static_cast<std::size_t>(length) < kMinPasswordChars) {
        return field_error(field, fmt::format("must be at least {} characters", kMinPasswordChars));
    }
    return {};
}

Result<std::string> normalize_name(std::string_view raw) {
    std::string_view name = trim(raw);
    std::size_t pos = 0;
    std::size_t count = 0;
    char32_t c = 0;
    while (pos < name.size()) {
        if (!decode_utf8(name, pos, c)) return field_error("name", "must be valid UTF-8");
        if (c < kFirstNonControl || c == kDelete || (c >= kC1First && c <= kC1Last) ||
            is_bidi_control(c)) {
            return field_error("name", "must not contain control characters");
        }
        ++count;
    }
    if (count > kMaxNameChars) {
        return field_error("name", fmt::format("must be at most {} characters", kMaxNameChars));
    }
    return std::string(name);
}

}  // namespace nimbus::identity
