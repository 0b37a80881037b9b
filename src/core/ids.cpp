#include "core/ids.hpp"

#include <pthread.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <stdexcept>

#include <openssl/rand.h>

namespace nimbus {
namespace {

constexpr std::string_view kCrockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr std::size_t kUlidLength = 26;
constexpr std::size_t kRandomBytes = 10;  // 80 bits
constexpr int kBitsPerChar = 5;
constexpr std::size_t kRandomPoolBytes = 4096;

/// Fills `out` from a per-thread pool of CSPRNG bytes: one RAND_bytes call per ~400 ids instead of
/// one per id, which made id generation the costliest part of a small request.
/// Bumped in a forked child, so it never hands out bytes its parent also holds.
std::atomic<std::uint64_t> g_fork_generation{0};
const int g_atfork_registered = pthread_atfork(
    nullptr, nullptr, [] { g_fork_generation.fetch_add(1, std::memory_order_relaxed); });

void fill_random(unsigned char* out, std::size_t count) {
    thread_local std::array<unsigned char, kRandomPoolBytes> pool{};
    thread_local std::size_t used = kRandomPoolBytes;
    thread_local std::uint64_t generation = 0;
    std::uint64_t current_generation = g_fork_generation.load(std::memory_order_relaxed);
    if (used + count > pool.size() || generation != current_generation) {
        generation = current_generation;
        // A failing CSPRNG leaves nothing safe to do: ids would collide or be guessable.
        if (RAND_bytes(pool.data(), static_cast<int>(pool.size())) != 1) {
            throw std::runtime_error("random number generator failed");
        }
        used = 0;
    }
    std::copy_n(pool.begin() + static_cast<std::ptrdiff_t>(used), count, out);
    // Bytes handed out are wiped so a later memory disclosure cannot replay them.
    std::fill_n(pool.begin() + static_cast<std::ptrdiff_t>(used), count, 0);
    used += count;
}

}  // namespace

std::string new_ulid(std::int64_t unix_ms) {
    std::array<unsigned char, 16> raw{};
    auto time = static_cast<std::uint64_t>(unix_ms);
    for (int byte_idx = 5; byte_idx >= 0; --byte_idx) {
        raw[static_cast<std::size_t>(byte_idx)] = static_cast<unsigned char>(time & 0xFF);
        time >>= 8;
    }
    fill_random(raw.data() + 6, kRandomBytes);
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
