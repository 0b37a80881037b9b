#include "identity/jwt.hpp"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include "core/crypto.hpp"

namespace nimbus::identity::jwt {
namespace {

std::string b64(std::string_view text) { return crypto::base64url_encode(text); }

class JwtTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto generated = SigningKey::generate();
        ASSERT_TRUE(generated);
        key_ = std::make_unique<SigningKey>(std::move(*generated));
    }

    KeyLookup lookup() const {
        return [this](std::string_view kid) -> const SigningKey* {
            return kid == "k1" ? key_.get() : nullptr;
        };
    }

    std::unique_ptr<SigningKey> key_;
};

TEST_F(JwtTest, SignsAndVerifies) {
    auto token = encode({{"sub", "usr_1"}}, *key_, "k1");
    ASSERT_TRUE(token);
    auto payload = decode_and_verify(*token, lookup());
    ASSERT_TRUE(payload) << payload.error().message;
    EXPECT_EQ(payload->at("sub").as_string(), "usr_1");
}

TEST_F(JwtTest, RoundTripsThroughPem) {
    auto reloaded = SigningKey::from_private_pem(key_->private_pem());
    ASSERT_TRUE(reloaded);
    auto token = encode({{"sub", "usr_1"}}, *reloaded, "k1");
    ASSERT_TRUE(token);
    EXPECT_TRUE(decode_and_verify(*token, lookup()));
    auto jwk = key_->public_jwk("k1");
    EXPECT_EQ(jwk.at("kty").as_string(), "EC");
    EXPECT_EQ(crypto::base64url_decode(std::string(jwk.at("x").as_string()))->size(), 32U);
}

TEST_F(JwtTest, RejectsForgedAndMalformedTokens) {
    auto token = encode({{"sub", "usr_1"}}, *key_, "k1");
    ASSERT_TRUE(token);
    std::string signing_input = token->substr(0, token->rfind('.'));
    std::string payload_part = signing_input.substr(signing_input.find('.') + 1);
    std::string signature = token->substr(token->rfind('.') + 1);
    auto other = SigningKey::generate();
    ASSERT_TRUE(other);
    auto foreign = encode({{"sub", "usr_1"}}, *other, "k1");
    ASSERT_TRUE(foreign);

    struct Case {
        std::string name;
        std::string token;
    };
    std::vector<Case> cases = {
        {"alg none", b64(R"({"alg":"none","kid":"k1"})") + "." + payload_part + "."},
        {"alg none with signature",
         b64(R"({"alg":"none","kid":"k1"})") + "." + payload_part + "." + signature},
        {"HS256", b64(R"({"alg":"HS256","kid":"k1"})") + "." + payload_part + "." + signature},
        {"RS256", b64(R"({"alg":"RS256","kid":"k1"})") + "." + payload_part + "." + signature},
        {"unknown kid",
         b64(R"({"alg":"ES256","kid":"k2"})") + "." + payload_part + "." + signature},
        {"no kid", b64(R"({"alg":"ES256"})") + "." + payload_part + "." + signature},
        {"crit header",
         b64(R"({"alg":"ES256","kid":"k1","crit":["x"]})") + "." + payload_part + "." + signature},
        {"other key's signature", *foreign},
        {"tampered payload",
         token->substr(0, token->find('.') + 1) + b64(R"({"sub":"usr_2"})") + "." + signature},
        {"truncated signature", signing_input + "." + signature.substr(0, 10)},
        {"empty", ""},
        {"two parts", signing_input},
        {"four parts", *token + ".x"},
        {"header not JSON", b64("not json") + "." + payload_part + "." + signature},
        {"header not base64url", "***." + payload_part + "." + signature},
        {"too long", std::string(9000, 'a')},
    };
    for (const auto& c : cases) {
        auto result = decode_and_verify(c.token, lookup());
        EXPECT_FALSE(result) << c.name;
        if (!result) {
            EXPECT_EQ(result.error().code, ErrorCode::unauthenticated) << c.name;
        }
    }
}

}  // namespace
}  // namespace nimbus::identity::jwt
