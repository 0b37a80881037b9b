// The OAuth protocol helpers: PKCE (RFC 7636 appendix B vector), redirect URI rules and exact
// matching, scopes, form parsing and HTTP Basic client credentials.
#include "identity/oauth.hpp"

#include <gtest/gtest.h>

#include "identity/identity.hpp"

namespace nimbus::identity {
namespace {

// RFC 7636 appendix B.
constexpr const char* kVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
constexpr const char* kChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

TEST(OAuthPkce, S256MatchesTheRfcExample) {
    EXPECT_EQ(oauth::s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), kChallenge);
    EXPECT_TRUE(oauth::pkce_matches(kVerifier, kChallenge));
    EXPECT_TRUE(oauth::is_valid_code_challenge(kChallenge));
}

TEST(OAuthPkce, WrongOrMalformedVerifiersNeverMatch) {
    std::string other(kVerifier);
    other.back() = 'R';
    EXPECT_FALSE(oauth::pkce_matches(other, kChallenge));
    // The plain method is not supported: the challenge itself is not a verifier for it.
    EXPECT_FALSE(oauth::pkce_matches(kChallenge, kChallenge));
    EXPECT_FALSE(oauth::is_valid_code_verifier(std::string(42, 'a')));   // too short
    EXPECT_FALSE(oauth::is_valid_code_verifier(std::string(129, 'a')));  // too long
    EXPECT_TRUE(oauth::is_valid_code_verifier(std::string(43, 'a')));
    EXPECT_TRUE(oauth::is_valid_code_verifier(std::string(128, '~')));
    EXPECT_FALSE(oauth::is_valid_code_verifier(std::string(43, 'a') + " "));
    EXPECT_FALSE(oauth::is_valid_code_verifier(std::string(50, '+')));
    EXPECT_FALSE(oauth::pkce_matches("", kChallenge));
    EXPECT_FALSE(oauth::is_valid_code_challenge(std::string(kChallenge) + "="));
    EXPECT_FALSE(oauth::is_valid_code_challenge("short"));
}

TEST(OAuthRedirectUris, RegistrationRules) {
    EXPECT_TRUE(oauth::check_redirect_uri("https://app.example.com/callback"));
    EXPECT_TRUE(oauth::check_redirect_uri("https://app.example.com:8443/cb?x=1"));
    EXPECT_TRUE(oauth::check_redirect_uri("http://127.0.0.1:5000/cb"));
    EXPECT_TRUE(oauth::check_redirect_uri("http://localhost/cb"));
    EXPECT_TRUE(oauth::check_redirect_uri("http://[::1]:9000/cb"));
    EXPECT_FALSE(oauth::check_redirect_uri("http://app.example.com/cb"));
    EXPECT_FALSE(oauth::check_redirect_uri("http://127.0.0.1.evil.com/cb"));
    EXPECT_FALSE(oauth::check_redirect_uri("http://localhost.evil.com/cb"));
    EXPECT_FALSE(oauth::check_redirect_uri("https://app.example.com/cb#fragment"));
    EXPECT_FALSE(oauth::check_redirect_uri("https://user@app.example.com/cb"));
    EXPECT_FALSE(oauth::check_redirect_uri("https:///cb"));
    EXPECT_FALSE(oauth::check_redirect_uri("javascript:alert(1)"));
    EXPECT_FALSE(oauth::check_redirect_uri("/relative/cb"));
    EXPECT_FALSE(oauth::check_redirect_uri("https://app.example.com/c b"));
    EXPECT_FALSE(oauth::check_redirect_uri("https://app.example.com/\r\nx"));
    EXPECT_FALSE(oauth::check_redirect_uri("https://a.example/" + std::string(2000, 'a')));
    EXPECT_FALSE(oauth::check_redirect_uri(""));
}

TEST(OAuthRedirectUris, MatchingIsExact) {
    std::vector<std::string> registered = {"https://app.example.com/cb"};
    EXPECT_TRUE(oauth::redirect_uri_registered(registered, "https://app.example.com/cb"));
    EXPECT_FALSE(oauth::redirect_uri_registered(registered, "https://app.example.com/cb/"));
    EXPECT_FALSE(oauth::redirect_uri_registered(registered, "https://app.example.com/cb?x=1"));
    EXPECT_FALSE(oauth::redirect_uri_registered(registered, "https://APP.example.com/cb"));
    EXPECT_FALSE(oauth::redirect_uri_registered(registered, "https://app.example.com/c"));
    EXPECT_FALSE(oauth::redirect_uri_registered(registered, "https://app.example.com/cb%2F.."));
}

TEST(OAuthScopes, SplitJoinSubset) {
    EXPECT_EQ(oauth::split_scope("openid  email openid"),
              (std::vector<std::string>{"openid", "email"}));
    EXPECT_EQ(oauth::join_scope({"openid", "email", "email"}), "email openid");
    EXPECT_TRUE(oauth::is_subset({"email"}, {"openid", "email"}));
    EXPECT_FALSE(oauth::is_subset({"admin"}, {"openid", "email"}));
    EXPECT_TRUE(oauth::is_valid_scope_token("account.self"));
    EXPECT_FALSE(oauth::is_valid_scope_token("*"));
    EXPECT_FALSE(oauth::is_valid_scope_token("Open ID"));
}

TEST(OAuthParamsParsing, DecodesAndFlagsDuplicates) {
    auto params = parse_oauth_params("a=1&b=x+y%2Fz&c=&a=2&d");
    ASSERT_TRUE(params);
    EXPECT_EQ(params->get("a"), "1");
    EXPECT_EQ(params->get("b"), "x y/z");
    EXPECT_FALSE(params->has("c"));
    EXPECT_FALSE(params->has("d"));
    EXPECT_EQ(params->duplicates, (std::vector<std::string>{"a"}));
    EXPECT_FALSE(parse_oauth_params("a=%zz"));
    EXPECT_FALSE(parse_oauth_params("a=%4"));
    EXPECT_FALSE(parse_oauth_params("a=%"));
}

TEST(OAuthUris, WithParamsEncodes) {
    EXPECT_EQ(oauth::with_params("https://a.example/cb", {{"code", "x y"}, {"state", "s&t"}}),
              "https://a.example/cb?code=x%20y&state=s%26t");
    EXPECT_EQ(oauth::with_params("https://a.example/cb?k=v", {{"code", "1"}}),
              "https://a.example/cb?k=v&code=1");
}

TEST(OAuthBasic, ParsesClientCredentials) {
    // "cli_1:se cret" with the secret form-encoded as RFC 6749 2.3.1 asks.
    auto parsed = oauth::parse_basic("Basic Y2xpXzE6c2UrY3JldA==");
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->first, "cli_1");
    EXPECT_EQ(parsed->second, "se cret");
    EXPECT_FALSE(oauth::parse_basic("Bearer abc"));
    EXPECT_FALSE(oauth::parse_basic("Basic !!!"));
    EXPECT_FALSE(oauth::parse_basic("Basic bm9jb2xvbg=="));  // "nocolon"
    EXPECT_FALSE(oauth::parse_basic("Basic " + std::string(5000, 'A')));
}

}  // namespace
}  // namespace nimbus::identity
