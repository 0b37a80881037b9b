#include "identity/totp.hpp"

#include <liboath/oath.h>
#include <qrencode.h>

#include <cstdlib>
#include <memory>
#include <mutex>
#include <stdexcept>

#include <fmt/format.h>

#include "core/crypto.hpp"

namespace nimbus::identity::totp {
namespace {

constexpr std::size_t kSecretBytes = 20;
constexpr std::size_t kWindowSteps = 1;  // one step of clock drift either way
constexpr int kQuietZone = 4;            // modules of white border the QR standard asks for

/// liboath keeps global state set up by oath_init; do it once, before the first use.
void ensure_oath() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (oath_init() != OATH_OK) throw std::runtime_error("liboath cannot be initialized");
    });
}

/// RFC 3986 unreserved characters stay; everything else is percent-encoded.
std::string percent_encode(std::string_view text) {
    std::string out;
    for (unsigned char c : text) {
        bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                          (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
        if (unreserved) {
            out.push_back(static_cast<char>(c));
        } else {
            out += fmt::format("%{:02X}", c);
        }
    }
    return out;
}

struct CodeCheck {
    std::string_view code;
};

/// liboath's comparison hook: 0 means a match. Constant time, so the time taken does not tell
/// how many leading digits were right.
int compare_code(void* handle, const char* candidate) {
    const auto* check = static_cast<const CodeCheck*>(handle);
    return crypto::constant_time_equal(check->code, candidate) ? 0 : 1;
}

}  // namespace

std::string new_secret() {
    crypto::Bytes random = crypto::random_bytes(kSecretBytes);
    return {reinterpret_cast<const char*>(random.data()), random.size()};
}

std::string base32(std::string_view secret) {
    ensure_oath();
    char* out = nullptr;
    std::size_t length = 0;
    if (oath_base32_encode(secret.data(), secret.size(), &out, &length) != OATH_OK) {
        throw std::runtime_error("base32 encoding failed");
    }
    std::unique_ptr<char, decltype(&std::free)> owned(out, &std::free);
    std::string encoded(out, length);
    while (!encoded.empty() && encoded.back() == '=') encoded.pop_back();
    return encoded;
}

std::string otpauth_uri(std::string_view issuer, std::string_view account,
                        std::string_view secret) {
    return fmt::format(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={}&period={}",
        percent_encode(issuer), percent_encode(account), base32(secret), percent_encode(issuer),
        kDigits, kStepSeconds);
}

Result<std::string> qr_svg(std::string_view text) {
    std::string input(text);
    std::unique_ptr<QRcode, decltype(&QRcode_free)> code(
        QRcode_encodeString(input.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1), &QRcode_free);
    if (!code) return Error::internal("the QR code cannot be drawn");
    int width = code->width;
    int size = width + 2 * kQuietZone;
    std::string path;
    for (int y = 0; y < width; ++y) {
        for (int x = 0; x < width; ++x) {
            // Bit 0 of each module byte is "dark"; the other bits describe its role.
            if ((code->data[y * width + x] & 1) != 0) {
                path += fmt::format("M{} {}h1v1h-1z", x + kQuietZone, y + kQuietZone);
            }
        }
    }
    return fmt::format(
        R"(<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {0} {0}" shape-rendering="crispEdges">)"
        R"(<rect width="{0}" height="{0}" fill="#fff"/><path d="{1}" fill="#000"/></svg>)",
        size, path);
}

bool is_code(std::string_view code) {
    if (code.size() != kDigits) return false;
    for (char c : code) {
        if (c < '0' || c > '9') return false;
    }
    return true;
}

std::optional<std::int64_t> match(std::string_view secret, std::string_view code,
                                  std::int64_t now_s) {
    if (!is_code(code)) return std::nullopt;
    ensure_oath();
    CodeCheck check{code};
    int position = 0;
    std::uint64_t counter = 0;
    int result = oath_totp_validate3_callback(
        secret.data(), secret.size(), static_cast<time_t>(now_s), kStepSeconds, 0, kDigits,
        kWindowSteps, &position, &counter, compare_code, &check);
    if (result < 0) return std::nullopt;
    return static_cast<std::int64_t>(counter);
}

std::string code_at(std::string_view secret, std::int64_t now_s) {
    ensure_oath();
    char out[kDigits + 1] = {};
    if (oath_totp_generate(secret.data(), secret.size(), static_cast<time_t>(now_s), kStepSeconds,
                           0, kDigits, out) != OATH_OK) {
        return {};
    }
    return out;
}

}  // namespace nimbus::identity::totp
