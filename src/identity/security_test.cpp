// Unit tests of the account-security parts: TOTP against RFC 6238's vectors, the QR code, the
// progressive delay, the cookie reader, and the service (lockout, second factor, change of email,
// signing-key rotation) on a real SQLite database with a manual clock.
#include <gtest/gtest.h>

#include "identity/cookies.hpp"
#include "identity/lockout.hpp"
#include "identity/service_fixture.hpp"
#include "identity/totp.hpp"

namespace nimbus::identity {
namespace {

using namespace testing;  // the fixture's constants and fast_settings()

constexpr std::int64_t kDayMs = 24 * 60 * kMinuteMs;
constexpr const char* kRfcSecret = "12345678901234567890";  // RFC 6238 appendix B (SHA-1)

TEST(Totp, MatchesTheRfc6238Vectors) {
    // The RFC lists 8 digits; a 6-digit code is their last six.
    EXPECT_EQ(totp::code_at(kRfcSecret, 59), "287082");
    EXPECT_EQ(totp::code_at(kRfcSecret, 1111111109), "081804");
    EXPECT_EQ(totp::code_at(kRfcSecret, 1234567890), "005924");
    EXPECT_EQ(totp::match(kRfcSecret, "081804", 1111111109), 1111111109 / 30);
}

TEST(Totp, AcceptsOneStepOfDriftEitherWayAndNothingElse) {
    std::int64_t now = 1'800'000'000;
    std::string secret = totp::new_secret();
    EXPECT_EQ(secret.size(), 20U);
    for (int steps : {-1, 0, 1}) {
        auto step = totp::match(secret, totp::code_at(secret, now + steps * 30), now);
        ASSERT_TRUE(step) << steps;
        EXPECT_EQ(*step, now / 30 + steps);
    }
    EXPECT_FALSE(totp::match(secret, totp::code_at(secret, now - 60), now));
    EXPECT_FALSE(totp::match(secret, totp::code_at(secret, now + 60), now));
    for (const char* bad : {"", "12345", "1234567", "12345a", " 12345", "١٢٣٤٥٦"}) {
        EXPECT_FALSE(totp::is_code(bad)) << bad;
        EXPECT_FALSE(totp::match(secret, bad, now)) << bad;
    }
}

TEST(Totp, UriAndQrCodeForAuthenticatorApps) {
    EXPECT_EQ(totp::base32(kRfcSecret), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    std::string uri = totp::otpauth_uri("Nimbus Cloud", "a+b@example.com", kRfcSecret);
    EXPECT_EQ(uri,
              "otpauth://totp/Nimbus%20Cloud:a%2Bb%40example.com?secret="
              "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Nimbus%20Cloud&algorithm=SHA1&digits=6&"
              "period=30");
    auto svg = totp::qr_svg(uri);
    ASSERT_TRUE(svg);
    EXPECT_TRUE(svg->starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    EXPECT_NE(svg->find("<path d=\"M"), std::string::npos);
    EXPECT_TRUE(svg->ends_with("</svg>"));
}

TEST(Lockout, DelayDoublesPerFailureUpToTheMaximum) {
    LockoutSettings settings;  // 250 ms base, 5 s maximum, 10 per account, 100 per address
    auto delay = [&](std::int64_t account, std::int64_t address, bool locked = false) {
        lockout::State state;
        state.account_failures = account;
        state.address_failures = address;
        state.account_locked = locked;
        return lockout::delay_ms(state, settings);
    };
    EXPECT_EQ(delay(0, 0), 0);
    EXPECT_EQ(delay(1, 0), 250);
    EXPECT_EQ(delay(2, 0), 500);
    EXPECT_EQ(delay(4, 0), 2000);
    EXPECT_EQ(delay(6, 0), 5000);
    EXPECT_EQ(delay(1'000'000, 0), 5000);
    // An address is scaled: 100 address failures weigh like 10 account failures.
    EXPECT_EQ(delay(0, 9), 0);
    EXPECT_EQ(delay(0, 20), 500);
    EXPECT_EQ(delay(0, 0, /*locked=*/true), 5000);
    settings.delay_base_ms = 0;
    EXPECT_EQ(delay(5, 50), 0);
}

TEST(Cookies, ReadsOneCookieAmongManyAndComparesCsrf) {
    http::Request request;
    request.headers.push_back({"cookie", "theme=dark; nimbus_refresh=abc_-1 ;nimbus_csrf=xyz"});
    request.headers.push_back({"cookie", "nimbus_refresh=second"});
    EXPECT_EQ(cookies::read(request, "nimbus_refresh"), "abc_-1");
    EXPECT_EQ(cookies::read(request, "nimbus_csrf"), "xyz");
    EXPECT_FALSE(cookies::read(request, "nimbus"));
    EXPECT_FALSE(cookies::csrf_matches(request));
    request.headers.push_back({"x-csrf-token", "xyz"});
    EXPECT_TRUE(cookies::csrf_matches(request));
    request.headers.back().value = "xyZ";
    EXPECT_FALSE(cookies::csrf_matches(request));

    http::Request empty_value;
    empty_value.headers.push_back({"cookie", "nimbus_csrf=; nimbus_refresh"});
    empty_value.headers.push_back({"x-csrf-token", ""});
    EXPECT_FALSE(cookies::read(empty_value, "nimbus_csrf"));
    EXPECT_FALSE(cookies::read(empty_value, "nimbus_refresh"));
    EXPECT_FALSE(cookies::csrf_matches(empty_value));
}

class AccountSecurityTest : public ServiceFixture {
protected:
    /// Low lockout thresholds, so a test reaches them in a few attempts.
    Settings settings() const override {
        Settings settings = fast_settings();
        settings.lockout.account_failures = 3;
        settings.lockout.address_failures = 5;
        return settings;
    }

    /// Turns TOTP on; returns the raw secret (decoded from base32 via the URI's secret).
    std::string enable_totp(const std::string& user_id, std::vector<std::string>* codes) {
        auto enrollment = service_->start_totp(user_id, {"10.0.0.1", ""});
        EXPECT_TRUE(enrollment);
        std::string secret = decode_base32(enrollment->secret);
        auto recovery = service_->confirm_totp(user_id, current_code(secret), {"10.0.0.1", ""});
        EXPECT_TRUE(recovery) << (recovery ? "" : recovery.error().message);
        if (recovery && codes != nullptr) *codes = *recovery;
        return secret;
    }

    std::string current_code(const std::string& secret, std::int64_t offset_s = 0) {
        return totp::code_at(secret, clock_.now_ms() / 1000 + offset_s);
    }

    static std::string decode_base32(const std::string& text) {
        constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        std::string out;
        unsigned buffer = 0;
        int bits = 0;
        for (char c : text) {
            buffer = (buffer << 5) | static_cast<unsigned>(kAlphabet.find(c));
            bits += 5;
            if (bits >= 8) {
                out.push_back(static_cast<char>((buffer >> (bits - 8)) & 0xFF));
                bits -= 8;
            }
        }
        return out;
    }
};

TEST_F(AccountSecurityTest, LockoutAnswersAlikeForKnownUnknownAndLockedAndEndsByTime) {
    create_user("lock@example.com");
    ClientInfo client{"10.0.0.7", "test"};
    EXPECT_EQ(*service_->login_delay_ms("lock@example.com", client), 0);
    for (int i = 0; i < 3; ++i) {
        auto failed = service_->login("lock@example.com", kOtherPassword, client);
        ASSERT_FALSE(failed);
        EXPECT_EQ(failed.error().message, "the email or password is wrong");
    }
    EXPECT_EQ(count_events("nimbus.identity.login.locked"), 1);
    // Locked: the right password answers exactly like a wrong one, and slowly.
    auto locked = service_->login("lock@example.com", kPassword, client);
    ASSERT_FALSE(locked);
    EXPECT_EQ(locked.error().code, ErrorCode::unauthenticated);
    EXPECT_EQ(locked.error().message, "the email or password is wrong");
    EXPECT_EQ(*service_->login_delay_ms("lock@example.com", client), 5000);
    // Unknown emails are counted and locked the same way.
    for (int i = 0; i < 3; ++i) ASSERT_FALSE(service_->login("ghost@example.com", kPassword, {}));
    EXPECT_EQ(*service_->login_delay_ms("ghost@example.com", {}), 5000);
    EXPECT_EQ(count_events("nimbus.identity.login.locked"), 2);

    clock_.advance_ms(16 * kMinuteMs);
    EXPECT_EQ(*service_->login_delay_ms("lock@example.com", client), 0);
    EXPECT_TRUE(service_->login("lock@example.com", kPassword, client));
}

TEST_F(AccountSecurityTest, FailuresSlowDownThenAgeOutOfTheWindow) {
    create_user("slow@example.com");
    ClientInfo client{"10.0.0.8", ""};
    ASSERT_FALSE(service_->login("slow@example.com", kOtherPassword, client));
    EXPECT_EQ(*service_->login_delay_ms("slow@example.com", client), 250);
    ASSERT_FALSE(service_->login("slow@example.com", kOtherPassword, client));
    EXPECT_EQ(*service_->login_delay_ms("slow@example.com", client), 500);
    clock_.advance_ms(16 * kMinuteMs);
    EXPECT_EQ(*service_->login_delay_ms("slow@example.com", client), 0);
    // A success forgets the account's failures.
    ASSERT_FALSE(service_->login("slow@example.com", kOtherPassword, client));
    ASSERT_TRUE(service_->login("slow@example.com", kPassword, client));
    EXPECT_EQ(count("SELECT COUNT(*) FROM identity_login_failures WHERE subject LIKE 'account:%'"),
              0);
}

TEST_F(AccountSecurityTest, AnAddressIsLockedAcrossAccounts) {
    create_user("one@example.com");
    ClientInfo attacker{"192.0.2.9", ""};
    for (int i = 0; i < 5; ++i) {
        ASSERT_FALSE(
            service_->login("user" + std::to_string(i) + "@example.com", kPassword, attacker));
    }
    EXPECT_FALSE(service_->login("one@example.com", kPassword, attacker));
    EXPECT_TRUE(service_->login("one@example.com", kPassword, {"192.0.2.10", ""}));
}

TEST_F(AccountSecurityTest, PasswordResetUnlocks) {
    create_user("reset@example.com");
    for (int i = 0; i < 3; ++i) ASSERT_FALSE(service_->login("reset@example.com", "wrong", {}));
    ASSERT_FALSE(service_->login("reset@example.com", kPassword, {"10.9.9.9", ""}));
    ASSERT_TRUE(service_->forgot_password("reset@example.com"));
    ASSERT_TRUE(service_->reset_password(mailer_.last_token("reset@example.com"), kOtherPassword));
    EXPECT_TRUE(service_->login("reset@example.com", kOtherPassword, {"10.9.9.9", ""}));
}

TEST_F(AccountSecurityTest, TotpLoginWithReplayProtectionAndRecoveryCodes) {
    std::string user = create_user("mfa@example.com");
    std::vector<std::string> codes;
    std::string secret = enable_totp(user, &codes);
    ASSERT_EQ(codes.size(), 10U);
    EXPECT_TRUE(
        std::regex_match(codes[0], std::regex("[0-9a-hjkmnp-tv-z]{4}(-[0-9a-hjkmnp-tv-z]{4}){2}")))
        << codes[0];
    EXPECT_EQ(count_events("nimbus.identity.mfa.enabled"), 1);
    auto status = service_->mfa_status(user);
    ASSERT_TRUE(status);
    EXPECT_TRUE(status->totp_enabled);
    EXPECT_EQ(status->recovery_codes_remaining, 10);

    auto first = service_->login("mfa@example.com", kPassword, {});
    ASSERT_TRUE(first);
    EXPECT_TRUE(first->access_token.empty());
    ASSERT_FALSE(first->mfa_token.empty());
    // The code that confirmed enrolment cannot be used again.
    clock_.advance_ms(1000);
    EXPECT_FALSE(service_->login_mfa(first->mfa_token, current_code(secret, -1), {}));
    clock_.advance_ms(30'000);
    auto done = service_->login_mfa(first->mfa_token, current_code(secret), {});
    ASSERT_TRUE(done) << done.error().message;
    EXPECT_FALSE(done->access_token.empty());
    // The token is spent, and the code cannot be replayed with another token.
    EXPECT_FALSE(service_->login_mfa(first->mfa_token, current_code(secret), {}));
    auto second = service_->login("mfa@example.com", kPassword, {});
    ASSERT_TRUE(second);
    EXPECT_FALSE(service_->login_mfa(second->mfa_token, current_code(secret), {}));
    // A recovery code works once, typed in any case with or without dashes.
    std::string typed = codes[3];
    std::erase(typed, '-');
    for (auto& c : typed) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_TRUE(service_->login_mfa(second->mfa_token, typed, {}));
    auto third = service_->login("mfa@example.com", kPassword, {});
    EXPECT_FALSE(service_->login_mfa(third->mfa_token, codes[3], {}));
    EXPECT_EQ(service_->mfa_status(user)->recovery_codes_remaining, 9);
    // Malformed codes are input errors, not failures.
    auto malformed = service_->login_mfa(third->mfa_token, "12345x", {});
    EXPECT_EQ(malformed.error().code, ErrorCode::invalid_argument);
    // The token expires.
    clock_.advance_ms(6 * kMinuteMs);
    EXPECT_FALSE(service_->login_mfa(third->mfa_token, current_code(secret), {}));
}

TEST_F(AccountSecurityTest, WrongCodesCountTowardLockout) {
    std::string user = create_user("guess@example.com");
    std::string secret = enable_totp(user, nullptr);
    auto pending = service_->login("guess@example.com", kPassword, {});
    ASSERT_TRUE(pending);
    std::string wrong = current_code(secret) == "000000" ? "111111" : "000000";
    for (int i = 0; i < 3; ++i) {
        auto failed = service_->login_mfa(pending->mfa_token, wrong, {});
        ASSERT_FALSE(failed);
        EXPECT_EQ(failed.error().code, ErrorCode::unauthenticated);
    }
    EXPECT_EQ(count_events("nimbus.identity.login.locked"), 1);
    // Locked: even the right code and the right password are refused.
    clock_.advance_ms(31'000);
    EXPECT_FALSE(service_->login_mfa(pending->mfa_token, current_code(secret), {}));
    EXPECT_FALSE(service_->login("guess@example.com", kPassword, {}));
}

TEST_F(AccountSecurityTest, DisableAndRegenerateNeedProof) {
    std::string user = create_user("off@example.com");
    std::vector<std::string> codes;
    std::string secret = enable_totp(user, &codes);
    auto no_proof = service_->disable_totp(user, {}, {});
    EXPECT_EQ(no_proof.error().code, ErrorCode::invalid_argument);
    auto both = service_->disable_totp(user, {"123456", kPassword}, {});
    EXPECT_EQ(both.error().code, ErrorCode::invalid_argument);
    auto wrong = service_->disable_totp(user, {"", kOtherPassword}, {});
    EXPECT_EQ(wrong.error().message, "password: is wrong");

    clock_.advance_ms(30'000);
    auto renewed = service_->regenerate_recovery_codes(user, {current_code(secret), ""}, {});
    ASSERT_TRUE(renewed) << renewed.error().message;
    EXPECT_EQ(renewed->size(), 10U);
    EXPECT_NE((*renewed)[0], codes[0]);
    EXPECT_EQ(count_events("nimbus.identity.mfa.recovery_codes_regenerated"), 1);
    // The old codes are gone.
    EXPECT_EQ(service_->disable_totp(user, {codes[0], ""}, {}).error().message, "code: is wrong");

    ASSERT_TRUE(service_->disable_totp(user, {"", kPassword}, {}));
    EXPECT_EQ(count_events("nimbus.identity.mfa.disabled"), 1);
    EXPECT_FALSE(service_->mfa_status(user)->totp_enabled);
    auto login = service_->login("off@example.com", kPassword, {});
    ASSERT_TRUE(login);
    EXPECT_FALSE(login->access_token.empty());
}

TEST_F(AccountSecurityTest, EnrolmentStatesAreEnforced) {
    std::string user = create_user("enrol@example.com");
    EXPECT_EQ(service_->confirm_totp(user, "123456", {}).error().code, ErrorCode::conflict);
    auto enrollment = service_->start_totp(user, {});
    ASSERT_TRUE(enrollment);
    EXPECT_EQ(enrollment->secret.size(), 32U);
    EXPECT_TRUE(enrollment->otpauth_uri.starts_with("otpauth://totp/Nimbus:enrol%40example.com?"));
    EXPECT_TRUE(service_->mfa_status(user)->totp_pending);
    EXPECT_EQ(service_->confirm_totp(user, "12345", {}).error().code, ErrorCode::invalid_argument);
    // The secret is sealed, not stored in the clear.
    auto rows = database_->query("SELECT secret_sealed FROM identity_mfa_totp");
    ASSERT_TRUE(rows && rows->size() == 1);
    auto sealed = rows->front().get_blob(0);
    std::string raw = decode_base32(enrollment->secret);
    EXPECT_EQ(std::search(sealed.begin(), sealed.end(), raw.begin(), raw.end()), sealed.end());
    ASSERT_TRUE(service_->confirm_totp(user, current_code(raw), {}));
    EXPECT_EQ(service_->start_totp(user, {}).error().code, ErrorCode::conflict);
}

TEST_F(AccountSecurityTest, ChangeOfEmailAppliesWhenTheLinkIsUsed) {
    std::string user = create_user("old@example.com");
    create_user("taken@example.com");
    EXPECT_EQ(
        service_->request_email_change(user, "new@example.com", kOtherPassword, {}).error().message,
        "password: is wrong");
    EXPECT_EQ(service_->request_email_change(user, "not-an-email", kPassword, {}).error().code,
              ErrorCode::invalid_argument);
    EXPECT_EQ(service_->request_email_change(user, "OLD@example.com", kPassword, {}).error().code,
              ErrorCode::invalid_argument);
    ASSERT_TRUE(service_->request_email_change(user, "New@Example.com", kPassword, {}));
    std::string token = mailer_.last_token("new@example.com");
    ASSERT_FALSE(token.empty());
    bool notice = false;
    for (const auto& message : mailer_.sent()) {
        notice = notice || (message.to == "old@example.com" &&
                            message.subject == "Your email address is about to change");
    }
    EXPECT_TRUE(notice);
    EXPECT_EQ(service_->get_user(user)->email, "old@example.com");
    ASSERT_TRUE(service_->verify_email(token));
    EXPECT_EQ(service_->get_user(user)->email, "new@example.com");
    EXPECT_FALSE(service_->verify_email(token));
    EXPECT_TRUE(service_->login("new@example.com", kPassword, {}));
    EXPECT_EQ(count_events("nimbus.identity.email.changed"), 1);

    // A taken address answers the same, changes nothing and mails its owner.
    std::size_t before = mailer_.sent().size();
    ASSERT_TRUE(service_->request_email_change(user, "taken@example.com", kPassword, {}));
    auto sent = mailer_.sent();
    ASSERT_GT(sent.size(), before);
    bool owner_told = false;
    for (std::size_t i = before; i < sent.size(); ++i) {
        owner_told = owner_told || (sent[i].to == "taken@example.com" &&
                                    sent[i].text.find("token=") == std::string::npos);
    }
    EXPECT_TRUE(owner_told);
    EXPECT_EQ(service_->get_user(user)->email, "new@example.com");
}

TEST_F(AccountSecurityTest, SigningKeysArePublishedBeforeTheySignAndRetiredAfterTheirTokens) {
    auto kids = [&] {
        std::vector<std::string> out;
        std::regex kid("\"kid\":\"(jwk_[0-9A-Z]+)\"");
        std::string jwks = service_->jwks_json();
        for (std::sregex_iterator it(jwks.begin(), jwks.end(), kid), end; it != end; ++it) {
            out.push_back((*it)[1]);
        }
        return out;
    };
    auto signer = [&] {
        auto token = service_->login("keys@example.com", kPassword, {});
        EXPECT_TRUE(token);
        std::string header = token->access_token.substr(0, token->access_token.find('.'));
        auto decoded = crypto::base64url_decode(header);
        std::string text(decoded->begin(), decoded->end());
        std::smatch match;
        std::regex_search(text, match, std::regex("\"kid\":\"([^\"]+)\""));
        return std::pair(std::string(match[1]), token->access_token);
    };
    create_user("keys@example.com");
    auto first = kids();
    ASSERT_EQ(first.size(), 1U);
    EXPECT_EQ(signer().first, first[0]);

    // Not due yet: nothing changes.
    clock_.advance_ms(29 * kDayMs);
    ASSERT_TRUE(service_->maintain_signing_keys());
    EXPECT_EQ(kids().size(), 1U);
    // Due (30 days minus the lead): a second key is published but does not sign yet; a second
    // node agrees on it.
    clock_.advance_ms(kDayMs);
    ASSERT_TRUE(service_->maintain_signing_keys());
    auto other_node = make_service(settings());
    ASSERT_TRUE(other_node->maintain_signing_keys());
    EXPECT_EQ(count("SELECT COUNT(*) FROM identity_signing_keys"), 2);
    EXPECT_EQ(count_events("nimbus.identity.signing_key.rotated"), 1);
    auto both = kids();
    ASSERT_EQ(both.size(), 2U);
    EXPECT_EQ(signer().first, first[0]);
    // After the lead (access-token lifetime + check interval) the new key signs; tokens of the
    // old key still verify.
    clock_.advance_ms(14 * kMinuteMs);
    auto [late_signer, late_token] = signer();
    EXPECT_EQ(late_signer, first[0]);
    clock_.advance_ms(2 * kMinuteMs);
    ASSERT_TRUE(service_->maintain_signing_keys());
    EXPECT_EQ(signer().first, both[1]);
    EXPECT_TRUE(service_->verify_access_token(late_token));
    EXPECT_EQ(kids().size(), 2U);
    // Once the old key's tokens have all expired, it is retired everywhere.
    clock_.advance_ms((15 * 60 + 30 + 60) * 1000);
    ASSERT_TRUE(service_->maintain_signing_keys());
    ASSERT_TRUE(other_node->maintain_signing_keys());
    EXPECT_EQ(kids(), std::vector<std::string>{both[1]});
    EXPECT_EQ(count("SELECT COUNT(*) FROM identity_signing_keys WHERE retired_at_ms IS NULL"), 1);
    EXPECT_EQ(count_events("nimbus.identity.signing_key.retired"), 1);
    EXPECT_EQ(other_node->jwks_json(), service_->jwks_json());
}

}  // namespace
}  // namespace nimbus::identity
