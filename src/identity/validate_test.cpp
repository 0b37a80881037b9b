#include "identity/validate.hpp"

#include <gtest/gtest.h>

namespace nimbus::identity {
namespace {

TEST(NormalizeEmail, TrimsAndFoldsCase) {
    auto email = normalize_email("  Alice.Smith+tag@Example.COM \n");
    ASSERT_TRUE(email) << email.error().message;
    EXPECT_EQ(*email, "alice.smith+tag@example.com");
}

TEST(NormalizeEmail, AcceptsPunycodeDomains) {
    EXPECT_TRUE(normalize_email("a@xn--bcher-kva.example"));
}

TEST(NormalizeEmail, RefusesMalformedAddresses) {
    struct Case {
        const char* email;
        const char* why;
    };
    const Case cases[] = {
        {"", "empty"},
        {"   ", "blank"},
        {"no-at-sign.example.com", "no @"},
        {"@example.com", "empty local part"},
        {"a@", "empty domain"},
        {"a@localhost", "domain without a dot"},
        {".a@example.com", "leading dot"},
        {"a.@example.com", "trailing dot"},
        {"a..b@example.com", "double dot"},
        {"a b@example.com", "space"},
        {"a@exa_mple.com", "underscore in domain"},
        {"a@-example.com", "label starts with a hyphen"},
        {"a@example-.com", "label ends with a hyphen"},
        {"a@example..com", "empty label"},
        {"a@1.2.3.4", "numeric top-level domain"},
        {"a@b@example.com", "two @"},
        {"a\r\nBcc: x@example.com@example.com", "header injection"},
        {"\"quoted\"@example.com", "quoted local part"},
    };
    for (const auto& c : cases) {
        auto result = normalize_email(c.email);
        EXPECT_FALSE(result) << c.why;
        if (!result) {
            EXPECT_TRUE(result.error().message.starts_with("email: ")) << c.why;
        }
    }
}

TEST(NormalizeEmail, RefusesUnicodeLookAlikes) {
    // Cyrillic 'а' (U+0430) in the domain and in the local part; a full-width '＠'.
    EXPECT_FALSE(normalize_email("alice@\xD0\xB0pple.com"));
    EXPECT_FALSE(normalize_email("\xD0\xB0lice@apple.com"));
    EXPECT_FALSE(
        normalize_email("alice\xEF\xBC\xA0"
                        "apple.com"));
}

TEST(NormalizeEmail, EnforcesLengthLimits) {
    std::string long_local(kMaxLocalPartBytes + 1, 'a');
    EXPECT_FALSE(normalize_email(long_local + "@example.com"));
    EXPECT_TRUE(normalize_email(std::string(kMaxLocalPartBytes, 'a') + "@example.com"));
    std::string long_domain;
    while (long_domain.size() < kMaxEmailBytes) long_domain += "abcdefghij.";
    EXPECT_FALSE(normalize_email("a@" + long_domain + "com"));
    std::string long_label(64, 'a');
    EXPECT_FALSE(normalize_email("a@" + long_label + ".com"));
}

TEST(CheckPasswordLength, EnforcesBounds) {
    EXPECT_FALSE(check_password_length("short", "password"));
    EXPECT_FALSE(check_password_length("elevenchars", "password"));
    EXPECT_TRUE(check_password_length("twelve chars", "password"));
    // Twelve characters, more bytes: counted as characters.
    EXPECT_TRUE(
        check_password_length("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"
                              "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9",
                              "password"));
    EXPECT_TRUE(check_password_length(std::string(kMaxPasswordBytes, 'x'), "password"));
    auto too_long = check_password_length(std::string(kMaxPasswordBytes + 1, 'x'), "password");
    ASSERT_FALSE(too_long);
    EXPECT_EQ(too_long.error().message, "password: must be at most 1024 bytes");
    EXPECT_FALSE(check_password_length(std::string("twelve chars\0x", 14), "password"));
    EXPECT_FALSE(check_password_length("twelve chars\xFF", "password"));
}

TEST(NormalizeName, TrimsAndChecks) {
    auto name = normalize_name("  Ada Lovelace ");
    ASSERT_TRUE(name);
    EXPECT_EQ(*name, "Ada Lovelace");
    EXPECT_TRUE(normalize_name(""));
    EXPECT_TRUE(normalize_name("Zoë"));
    EXPECT_FALSE(normalize_name(std::string(kMaxNameChars + 1, 'a')));
    EXPECT_FALSE(normalize_name("bell\x07"));
    EXPECT_FALSE(normalize_name("evil\xE2\x80\xAEgnp.exe"));  // right-to-left override
    EXPECT_FALSE(normalize_name("bad \xC0\xAF utf-8"));       // overlong encoding
}

}  // namespace
}  // namespace nimbus::identity
