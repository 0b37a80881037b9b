#include "identity/jwt.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <array>

#include <boost/json/serialize.hpp>

#include "core/crypto.hpp"
#include "core/json.hpp"

namespace nimbus::identity::jwt {
namespace {

/// Bytes in each of r and s for P-256.
constexpr std::size_t kCoordinateBytes = 32;
/// Tokens longer than this are refused before any decoding work.
constexpr std::size_t kMaxTokenBytes = 8 * 1024;
/// Small documents: the header and payload need no deep nesting.
constexpr std::size_t kMaxJsonDepth = 8;

Error rejected(std::string message) { return {ErrorCode::unauthenticated, std::move(message)}; }

std::string_view as_view(const crypto::Bytes& bytes) {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

std::shared_ptr<EVP_PKEY> own(EVP_PKEY* key) { return {key, &EVP_PKEY_free}; }

/// An unsigned big-endian coordinate, left-padded to 32 bytes.
std::string coordinate(EVP_PKEY* key, const char* name) {
    BIGNUM* number = nullptr;
    if (EVP_PKEY_get_bn_param(key, name, &number) != 1) return {};
    std::array<unsigned char, kCoordinateBytes> bytes{};
    BN_bn2binpad(number, bytes.data(), static_cast<int>(bytes.size()));
    BN_free(number);
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

Result<boost::json::object> parse_part(std::string_view encoded) {
    auto bytes = crypto::base64url_decode(encoded);
    if (!bytes) return rejected("the token is malformed");
    auto value = json::parse(as_view(*bytes), {.max_depth = kMaxJsonDepth});
    if (!value || !value->is_object()) return rejected("the token is malformed");
    return value->as_object();
}

}  // namespace

Result<SigningKey> SigningKey::generate() {
    EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    if (key == nullptr) return Error::internal("cannot generate a signing key");
    return SigningKey(own(key));
}

Result<SigningKey> SigningKey::from_private_pem(std::string_view pem) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(
        BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
    if (!bio) return Error::internal("cannot read a signing key");
    EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
    if (key == nullptr) return Error::internal("a stored signing key cannot be read");
    // Only P-256 keys are ever stored; anything else means the row was tampered with.
    char group[32] = {};
    std::size_t group_length = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       &group_length) != 1 ||
        std::string_view(group, group_length) != "prime256v1") {
        EVP_PKEY_free(key);
        return Error::internal("a stored signing key is not a P-256 key");
    }
    return SigningKey(own(key));
}

std::string SigningKey::private_pem() const {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
    PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr);
    char* data = nullptr;
    long length = BIO_get_mem_data(bio.get(), &data);
    return {data, static_cast<std::size_t>(length)};
}

boost::json::object SigningKey::public_jwk(std::string_view kid) const {
    return {{"kty", "EC"},
            {"crv", "P-256"},
            {"x", crypto::base64url_encode(coordinate(key_.get(), OSSL_PKEY_PARAM_EC_PUB_X))},
            {"y", crypto::base64url_encode(coordinate(key_.get(), OSSL_PKEY_PARAM_EC_PUB_Y))},
            {"kid", kid},
            {"alg", kAlgorithm},
            {"use", "sig"}};
}

Result<std::string> SigningKey::sign(std::string_view data) const {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(),
                                                                    &EVP_MD_CTX_free);
    std::size_t der_length = 0;
    if (!context ||
        EVP_DigestSignInit(context.get(), nullptr, EVP_sha256(), nullptr, key_.get()) != 1 ||
        EVP_DigestSign(context.get(), nullptr, &der_length,
                       reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
        return Error::internal("cannot sign a token");
    }
    std::vector<unsigned char> der(der_length);
    if (EVP_DigestSign(context.get(), der.data(), &der_length,
                       reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
        return Error::internal("cannot sign a token");
    }
    // OpenSSL gives a DER sequence; JOSE wants r and s as fixed-width big-endian integers.
    const unsigned char* cursor = der.data();
    std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> signature(
        d2i_ECDSA_SIG(nullptr, &cursor, static_cast<long>(der_length)), &ECDSA_SIG_free);
    if (!signature) return Error::internal("cannot sign a token");
    std::string raw(2 * kCoordinateBytes, '\0');
    auto* out = reinterpret_cast<unsigned char*>(raw.data());
    BN_bn2binpad(ECDSA_SIG_get0_r(signature.get()), out, kCoordinateBytes);
    BN_bn2binpad(ECDSA_SIG_get0_s(signature.get()), out + kCoordinateBytes, kCoordinateBytes);
    return raw;
}

bool SigningKey::verify(std::string_view data, std::string_view signature) const {
    if (signature.size() != 2 * kCoordinateBytes) return false;
    const auto* raw = reinterpret_cast<const unsigned char*>(signature.data());
    std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> parsed(ECDSA_SIG_new(), &ECDSA_SIG_free);
    BIGNUM* r = BN_bin2bn(raw, kCoordinateBytes, nullptr);
    BIGNUM* s = BN_bin2bn(raw + kCoordinateBytes, kCoordinateBytes, nullptr);
    if (!parsed || r == nullptr || s == nullptr || ECDSA_SIG_set0(parsed.get(), r, s) != 1) {
        BN_free(r);
        BN_free(s);
        return false;
    }
    unsigned char* der = nullptr;
    int der_length = i2d_ECDSA_SIG(parsed.get(), &der);
    if (der_length <= 0) return false;
    std::unique_ptr<unsigned char, void (*)(unsigned char*)> der_guard(
        der, [](unsigned char* p) { OPENSSL_free(p); });
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(),
                                                                    &EVP_MD_CTX_free);
    return context &&
           EVP_DigestVerifyInit(context.get(), nullptr, EVP_sha256(), nullptr, key_.get()) == 1 &&
           EVP_DigestVerify(context.get(), der, static_cast<std::size_t>(der_length),
                            reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
}

Result<std::string> encode(const boost::json::object& payload, const SigningKey& key,
                           std::string_view kid) {
    boost::json::object header{{"alg", kAlgorithm}, {"typ", "JWT"}, {"kid", kid}};
    std::string signing_input = crypto::base64url_encode(boost::json::serialize(header)) + "." +
                                crypto::base64url_encode(boost::json::serialize(payload));
    auto signature = key.sign(signing_input);
    if (!signature) return signature.error();
    return signing_input + "." + crypto::base64url_encode(*signature);
}

Result<boost::json::object> decode_and_verify(std::string_view token, const KeyLookup& keys) {
    if (token.size() > kMaxTokenBytes) return rejected("the token is too long");
    auto first_dot = token.find('.');
    auto second_dot =
        first_dot == std::string_view::npos ? first_dot : token.find('.', first_dot + 1);
    if (second_dot == std::string_view::npos ||
        token.find('.', second_dot + 1) != std::string_view::npos) {
        return rejected("the token is malformed");
    }
    auto header = parse_part(token.substr(0, first_dot));
    if (!header) return header.error();
    const auto* alg = header->if_contains("alg");
    if (alg == nullptr || !alg->is_string() || alg->as_string() != kAlgorithm) {
        return rejected("the token's algorithm is not accepted");
    }
    if (header->contains("crit")) return rejected("the token has unsupported critical headers");
    const auto* kid = header->if_contains("kid");
    if (kid == nullptr || !kid->is_string()) return rejected("the token names no signing key");
    const SigningKey* key = keys(std::string_view(kid->as_string()));
    if (key == nullptr) return rejected("the token's signing key is unknown");
    auto signature = crypto::base64url_decode(token.substr(second_dot + 1));
    if (!signature || !key->verify(token.substr(0, second_dot), as_view(*signature))) {
        return rejected("the token's signature is invalid");
    }
    return parse_part(token.substr(first_dot + 1, second_dot - first_dot - 1));
}

}  // namespace nimbus::identity::jwt
