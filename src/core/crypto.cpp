#include "core/crypto.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <stdexcept>

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

namespace nimbus::crypto {
namespace {

constexpr std::uint8_t kSealVersion = 0x01;
constexpr std::size_t kNonceBytes = 12;
constexpr std::size_t kTagBytes = 16;
constexpr std::size_t kSealOverhead = 1 + kNonceBytes + kTagBytes;
constexpr mode_t kKeyFileMode = 0600;
constexpr mode_t kGroupOrOtherBits = 0077;

struct CipherCtxDeleter {
    void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

const unsigned char* as_uchar(std::string_view text) {
    return reinterpret_cast<const unsigned char*>(text.data());
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string errno_text() { return std::strerror(errno); }

}  // namespace

Bytes random_bytes(std::size_t count) {
    Bytes out(count);
    if (count > 0 && RAND_bytes(out.data(), static_cast<int>(count)) != 1) {
        throw std::runtime_error("random number generator failed");
    }
    return out;
}

std::string sha256_hex(std::string_view data) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    if (EVP_Digest(data.data(), data.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
        throw std::runtime_error("SHA-256 failed");
    }
    return hex_encode(std::string_view(reinterpret_cast<const char*>(digest.data()), length));
}

bool constant_time_equal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    if (a.empty()) return true;
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string hex_encode(std::string_view data) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(data.size() * 2);
    for (unsigned char byte : data) {
        out.push_back(kDigits[byte >> 4]);
        out.push_back(kDigits[byte & 0x0F]);
    }
    return out;
}

std::string hex_encode(const Bytes& data) {
    return hex_encode(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
}

Result<Bytes> hex_decode(std::string_view text) {
    if (text.size() % 2 != 0) return Error::invalid("hex text has an odd length");
    Bytes out;
    out.reserve(text.size() / 2);
    for (std::size_t pos = 0; pos < text.size(); pos += 2) {
        int high = hex_value(text[pos]);
        int low = hex_value(text[pos + 1]);
        if (high < 0 || low < 0) return Error::invalid("hex text has a non-hex character");
        out.push_back(static_cast<std::uint8_t>(high << 4 | low));
    }
    return out;
}

std::string base64url_encode(std::string_view data) {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    std::size_t pos = 0;
    auto byte_at = [&](std::size_t idx) {
        return static_cast<std::uint32_t>(static_cast<unsigned char>(data[idx]));
    };
    for (; pos + 3 <= data.size(); pos += 3) {
        std::uint32_t group = byte_at(pos) << 16 | byte_at(pos + 1) << 8 | byte_at(pos + 2);
        out.push_back(kAlphabet[group >> 18 & 0x3F]);
        out.push_back(kAlphabet[group >> 12 & 0x3F]);
        out.push_back(kAlphabet[group >> 6 & 0x3F]);
        out.push_back(kAlphabet[group & 0x3F]);
    }
    std::size_t rest = data.size() - pos;
    if (rest == 1) {
        std::uint32_t group = byte_at(pos) << 16;
        out.push_back(kAlphabet[group >> 18 & 0x3F]);
        out.push_back(kAlphabet[group >> 12 & 0x3F]);
    } else if (rest == 2) {
        std::uint32_t group = byte_at(pos) << 16 | byte_at(pos + 1) << 8;
        out.push_back(kAlphabet[group >> 18 & 0x3F]);
        out.push_back(kAlphabet[group >> 12 & 0x3F]);
        out.push_back(kAlphabet[group >> 6 & 0x3F]);
    }
    return out;
}

Result<Bytes> base64url_decode(std::string_view text) {
    auto value_of = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '-') return 62;
        if (c == '_') return 63;
        return -1;
    };
    if (text.size() % 4 == 1) return Error::invalid("base64url text has an impossible length");
    Bytes out;
    out.reserve(text.size() * 3 / 4);
    std::uint32_t buffer = 0;
    int bits = 0;
    for (char c : text) {
        int value = value_of(c);
        if (value < 0) return Error::invalid("base64url text has a character outside the alphabet");
        buffer = buffer << 6 | static_cast<std::uint32_t>(value);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<std::uint8_t>(buffer >> bits & 0xFF));
        }
    }
    // Leftover bits must be zero, otherwise two texts would decode to the same bytes.
    if ((buffer & ((1U << bits) - 1)) != 0)
        return Error::invalid("base64url text is not canonical");
    return out;
}

Result<MasterKey> MasterKey::from_bytes(const Bytes& key) {
    if (key.size() != kKeyBytes) {
        return Error::invalid(
            fmt::format("a master key must be {} bytes, got {}", kKeyBytes, key.size()));
    }
    return MasterKey(key);
}

Result<MasterKey> MasterKey::load_or_create(const std::filesystem::path& path,
                                            bool create_if_missing) {
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0) {
        if (errno != ENOENT) {
            return Error::unavailable(
                fmt::format("cannot read master key file {}: {}", path.string(), errno_text()));
        }
        if (!create_if_missing) {
            return Error::not_found(
                fmt::format("master key file {} does not exist", path.string()));
        }
        Bytes key = random_bytes(kKeyBytes);
        std::filesystem::path temp = path;
        temp += ".tmp";
        int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, kKeyFileMode);
        if (fd < 0) {
            return Error::unavailable(
                fmt::format("cannot create master key file {}: {}", temp.string(), errno_text()));
        }
        bool written = ::write(fd, key.data(), key.size()) == static_cast<ssize_t>(key.size()) &&
                       ::fsync(fd) == 0;
        ::close(fd);
        if (!written || ::rename(temp.c_str(), path.c_str()) != 0) {
            ::unlink(temp.c_str());
            return Error::unavailable(
                fmt::format("cannot write master key file {}: {}", path.string(), errno_text()));
        }
        // The rename is durable only once the directory entry is.
        int dir_fd = ::open(path.parent_path().empty() ? "." : path.parent_path().c_str(),
                            O_RDONLY | O_DIRECTORY);
        if (dir_fd >= 0) {
            ::fsync(dir_fd);
            ::close(dir_fd);
        }
        return MasterKey(std::move(key));
    }
    if ((info.st_mode & kGroupOrOtherBits) != 0) {
        return Error::invalid(
            fmt::format("master key file {} is readable by others (mode {:o}); run: chmod 600 {}",
                        path.string(), info.st_mode & 0777, path.string()));
    }
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return Error::unavailable(
            fmt::format("cannot read master key file {}: {}", path.string(), errno_text()));
    Bytes key(kKeyBytes + 1);
    in.read(reinterpret_cast<char*>(key.data()), static_cast<std::streamsize>(key.size()));
    if (static_cast<std::size_t>(in.gcount()) != kKeyBytes) {
        return Error::invalid(
            fmt::format("master key file {} must hold exactly {} bytes", path.string(), kKeyBytes));
    }
    key.resize(kKeyBytes);
    return MasterKey(std::move(key));
}

Bytes MasterKey::seal(std::string_view plaintext, std::string_view associated_data) const {
    Bytes out(kSealOverhead + plaintext.size());
    out[0] = kSealVersion;
    Bytes nonce = random_bytes(kNonceBytes);
    std::copy(nonce.begin(), nonce.end(), out.begin() + 1);
    CipherCtx ctx(EVP_CIPHER_CTX_new());
    int length = 0;
    unsigned char* cipher_out = out.data() + 1 + kNonceBytes;
    // These calls fail only on allocation failure or misuse; both are bugs, not input errors.
    if (!ctx ||
        EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(), nonce.data()) != 1 ||
        EVP_EncryptUpdate(ctx.get(), nullptr, &length, as_uchar(associated_data),
                          static_cast<int>(associated_data.size())) != 1 ||
        EVP_EncryptUpdate(ctx.get(), cipher_out, &length, as_uchar(plaintext),
                          static_cast<int>(plaintext.size())) != 1 ||
        EVP_EncryptFinal_ex(ctx.get(), cipher_out + length, &length) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes,
                            out.data() + out.size() - kTagBytes) != 1) {
        throw std::runtime_error("AES-256-GCM seal failed");
    }
    return out;
}

Result<std::string> MasterKey::open(const Bytes& sealed, std::string_view associated_data) const {
    const Error cannot_open = Error::invalid("sealed value cannot be opened with this key");
    if (sealed.size() < kSealOverhead || sealed[0] != kSealVersion) return cannot_open;
    const unsigned char* nonce = sealed.data() + 1;
    const unsigned char* ciphertext = nonce + kNonceBytes;
    std::size_t cipher_len = sealed.size() - kSealOverhead;
    Bytes tag(sealed.end() - kTagBytes, sealed.end());
    std::string plaintext(cipher_len, '\0');
    CipherCtx ctx(EVP_CIPHER_CTX_new());
    int length = 0;
    auto* plain_out = reinterpret_cast<unsigned char*>(plaintext.data());
    if (!ctx ||
        EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(), nonce) != 1 ||
        EVP_DecryptUpdate(ctx.get(), nullptr, &length, as_uchar(associated_data),
                          static_cast<int>(associated_data.size())) != 1 ||
        EVP_DecryptUpdate(ctx.get(), plain_out, &length, ciphertext,
                          static_cast<int>(cipher_len)) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) != 1 ||
        EVP_DecryptFinal_ex(ctx.get(), plain_out + length, &length) != 1) {
        return cannot_open;
    }
    return plaintext;
}

}  // namespace nimbus::crypto
