#pragma once
/// Crypto primitives: randomness, hashing, constant-time comparison, encodings, and the node's
/// master key that seals secrets at rest with AES-256-GCM.
///
/// All functions are thread safe. Nothing here logs, and no error message contains key material.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace nimbus::crypto {

using Bytes = std::vector<std::uint8_t>;

/// `count` bytes from the operating system's CSPRNG. Throws only if the CSPRNG fails, which
/// leaves nothing safe to continue with.
Bytes random_bytes(std::size_t count);

/// SHA-256 of `data` as 64 lowercase hex characters.
std::string sha256_hex(std::string_view data);

/// Compares two secrets in time that depends only on their lengths, not their contents.
bool constant_time_equal(std::string_view a, std::string_view b);

std::string hex_encode(std::string_view data);
std::string hex_encode(const Bytes& data);
/// Fails on odd length or non-hex characters.
Result<Bytes> hex_decode(std::string_view text);

/// Base64url without padding (RFC 4648 section 5), as used in JWTs and opaque tokens.
std::string base64url_encode(std::string_view data);
Result<Bytes> base64url_decode(std::string_view text);

/// A 256-bit key that seals (encrypts and authenticates) secrets at rest.
///
/// Sealed format: version (1 byte, 0x01) | nonce (12 bytes) | ciphertext | tag (16 bytes).
/// `associated_data` binds a sealed value to its place (e.g. "signing_key:key_123"), so a value
/// copied to another row fails to open.
class MasterKey {
public:
    static constexpr std::size_t kKeyBytes = 32;

    /// Wraps raw key bytes; fails unless exactly 32 bytes.
    static Result<MasterKey> from_bytes(const Bytes& key);

    /// Reads the key file at `path` (32 raw bytes, mode 0600). When the file does not exist and
    /// `create_if_missing` is set, creates it with a fresh random key (mode 0600, written to a
    /// temporary file, fsynced and renamed so a crash never leaves a partial key).
    /// Fails when the file is unreadable, has the wrong size, or is readable by group or others.
    static Result<MasterKey> load_or_create(const std::filesystem::path& path,
                                            bool create_if_missing);

    /// Encrypts `plaintext`; every call uses a fresh random nonce.
    Bytes seal(std::string_view plaintext, std::string_view associated_data = {}) const;

    /// Decrypts a value made by seal(). Fails (without saying why beyond "cannot be opened") on a
    /// wrong key, tampering, truncation or a different `associated_data`.
    Result<std::string> open(const Bytes& sealed, std::string_view associated_data = {}) const;

private:
    explicit MasterKey(Bytes key) : key_(std::move(key)) {}
    Bytes key_;
};

}  // namespace nimbus::crypto
