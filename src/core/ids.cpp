#include "core/ids.hpp"

#include <array>
#include <stdexcept>

#include <openssl/rand.h>

namespace nimbus {
namespace {

constexpr std::string_view kCrockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr std::size_t kUlidLength = 26;
constexpr std::size_t kRandomBytes = 10;  // 80 bits
constexpr int kBitsPerChar = 5;

}  // namespace

std::string new_ulid(std::int64_t unix_ms) {
    std::array<unsigned char, 16> raw{};
    auto time = static_cast<std::uint64_t>(unix_ms);
    for (int byte_idx = 5; byte_idx >= 0; --byte_idx) {
        raw[static_cast<std::size_t>(byte_idx)] = static_cast<unsigned char>(time & 0xFF);
        time >>= 8;
    }
    // A failing CSPRNG leaves nothing safe to do: ids would collide or be guessable.
    if (RAND_bytes(raw.data() + 6, static_cast<int>(kRandomBytes)) != 1) {
        throw std::runtime_error("random number generator failed");
    }
    // 128 bits as 26 base32 characters: the first character carries the top 3 bits.
    std::string out(kUlidLength, '0');
    unsigned __int128 value = 0;
    for (unsigned char byte : raw) value = (value << 8) | byte;
    for (std::size_t char_idx = kUlidLength; char_idx-- > 0;) {
        out[char_idx] = kCrockford[static_cast<std::size_t>(value & 0x1F)];
        value >>= kBitsPerChar;
    }
    return out;
}

std::string new_id(std::string_view prefix, std::int64_t unix_ms) {
    std::string id;
    id.reserve(prefix.size() + 1 + kUlidLength);
    id.append(prefix).append("_").append(new_ulid(unix_ms));
    return id;
}

bool is_valid_id(std::string_view id, std::string_view prefix) {
    if (id.size() != prefix.size() + 1 + kUlidLength) return false;
    if (id.substr(0, prefix.size()) != prefix || id[prefix.size()] != '_') return false;
    std::string_view ulid = id.substr(prefix.size() + 1);
    if (ulid[0] > '7') return false;  // the top character holds only 3 bits
    for (char c : ulid) {
        if (kCrockford.find(c) == std::string_view::npos) return false;
    }
    return true;
}

}  // namespace nimbus
