#pragma once
// JSON Web Tokens signed with ES256 (ECDSA P-256 + SHA-256) through OpenSSL EVP. Private to
// identity/. Only ES256 exists here on purpose: a verifier that supports one algorithm cannot be
// talked into `none` or into HMAC with the public key as the secret.

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "core/result.hpp"

// OpenSSL's key type, declared here so this header does not pull in OpenSSL.
struct evp_pkey_st;

namespace nimbus::identity::jwt {

/// The one accepted algorithm.
inline constexpr std::string_view kAlgorithm = "ES256";

/// An ECDSA P-256 key pair. Immutable once built, so one key may sign and verify on many threads.
class SigningKey {
public:
    /// A fresh key from the OS CSPRNG.
    static Result<SigningKey> generate();
    /// A key from its PKCS#8 PEM (as made by private_pem()).
    static Result<SigningKey> from_private_pem(std::string_view pem);

    /// PKCS#8 PEM of the private key; a secret: seal it before storing.
    std::string private_pem() const;
    /// The public key as a JWK ({"kty":"EC","crv":"P-256","x","y","kid","alg","use"}).
    boost::json::object public_jwk(std::string_view kid) const;
    /// The JOSE signature of `data`: r || s, 64 bytes.
    Result<std::string> sign(std::string_view data) const;
    /// True when `signature` (r || s) is valid for `data`.
    bool verify(std::string_view data, std::string_view signature) const;

private:
    explicit SigningKey(std::shared_ptr<evp_pkey_st> key) : key_(std::move(key)) {}
    std::shared_ptr<evp_pkey_st> key_;
};

/// Builds `header.payload.signature`; the header gets alg ES256, typ JWT and `kid`.
Result<std::string> encode(const boost::json::object& payload, const SigningKey& key,
                           std::string_view kid);

/// Finds the key for a `kid`; null when unknown.
using KeyLookup = std::function<const SigningKey*(std::string_view kid)>;

/// Checks the token's shape, its header (alg must be ES256, kid known, no `crit`) and its
/// signature, and returns the payload. Claims (iss, aud, exp, ...) are the caller's to check.
/// Fails with `unauthenticated` and a short reason safe to show.
Result<boost::json::object> decode_and_verify(std::string_view token, const KeyLookup& keys);

}  // namespace nimbus::identity::jwt
