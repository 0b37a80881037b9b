#include "core/crypto.hpp"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace nimbus::crypto {
namespace {

namespace fs = std::filesystem;

class TempDir {
public:
    TempDir() {
        std::string pattern = (fs::temp_directory_path() / "nimbus-crypto-XXXXXX").string();
        path_ = ::mkdtemp(pattern.data());
    }
    ~TempDir() { fs::remove_all(path_); }
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

TEST(Crypto, Sha256MatchesKnownVector) {
    EXPECT_EQ(sha256_hex("abc"),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Crypto, ConstantTimeEqual) {
    EXPECT_TRUE(constant_time_equal("secret", "secret"));
    EXPECT_FALSE(constant_time_equal("secret", "secreT"));
    EXPECT_FALSE(constant_time_equal("secret", "secret2"));
    EXPECT_TRUE(constant_time_equal("", ""));
}

TEST(Crypto, HexRoundTripAndRejectsBadInput) {
    std::string raw("\x00\xff\x10", 3);
    EXPECT_EQ(hex_encode(raw), "00ff10");
    auto decoded = hex_decode("00ff10");
    ASSERT_TRUE(decoded);
    EXPECT_EQ(std::string(decoded->begin(), decoded->end()), raw);
    EXPECT_FALSE(hex_decode("abc"));
    EXPECT_FALSE(hex_decode("zz"));
}

TEST(Crypto, Base64UrlMatchesRfc4648Vectors) {
    EXPECT_EQ(base64url_encode(""), "");
    EXPECT_EQ(base64url_encode("f"), "Zg");
    EXPECT_EQ(base64url_encode("fo"), "Zm8");
    EXPECT_EQ(base64url_encode("foo"), "Zm9v");
    EXPECT_EQ(base64url_encode("foob"), "Zm9vYg");
    EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
    auto decoded = base64url_decode("Zm9vYg");
    ASSERT_TRUE(decoded);
    EXPECT_EQ(std::string(decoded->begin(), decoded->end()), "foob");
    EXPECT_FALSE(base64url_decode("Zm9v+g"));  // standard alphabet is not base64url
    EXPECT_FALSE(base64url_decode("Z"));       // impossible length
    EXPECT_FALSE(base64url_decode("Zh"));      // non-zero trailing bits
}

TEST(MasterKey, SealsAndOpens) {
    auto key = MasterKey::from_bytes(random_bytes(MasterKey::kKeyBytes));
    ASSERT_TRUE(key);
    Bytes sealed = key->seal("signing key material", "signing_key:key_1");
    EXPECT_EQ(sealed.size(), std::string_view("signing key material").size() + 29);
    auto opened = key->open(sealed, "signing_key:key_1");
    ASSERT_TRUE(opened);
    EXPECT_EQ(*opened, "signing key material");
    EXPECT_NE(key->seal("same", ""), key->seal("same", ""));  // fresh nonce each time
}

TEST(MasterKey, RefusesTamperingWrongKeyAndWrongContext) {
    auto key = MasterKey::from_bytes(random_bytes(MasterKey::kKeyBytes));
    auto other = MasterKey::from_bytes(random_bytes(MasterKey::kKeyBytes));
    ASSERT_TRUE(key && other);
    Bytes sealed = key->seal("secret", "ctx");
    EXPECT_FALSE(other->open(sealed, "ctx"));
    EXPECT_FALSE(key->open(sealed, "other ctx"));
    Bytes flipped = sealed;
    flipped[flipped.size() / 2] ^= 0x01;
    EXPECT_FALSE(key->open(flipped, "ctx"));
    Bytes truncated(sealed.begin(), sealed.begin() + 10);
    EXPECT_FALSE(key->open(truncated, "ctx"));
    EXPECT_FALSE(MasterKey::from_bytes(random_bytes(16)));
}

TEST(MasterKey, CreatesFileWithMode0600AndLoadsTheSameKey) {
    TempDir dir;
    fs::path path = dir.path() / "master.key";
    EXPECT_EQ(MasterKey::load_or_create(path, false).error().code, ErrorCode::not_found);
    auto created = MasterKey::load_or_create(path, true);
    ASSERT_TRUE(created);
    struct stat info {};
    ASSERT_EQ(::stat(path.c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 0777, 0600U);
    EXPECT_EQ(fs::file_size(path), MasterKey::kKeyBytes);
    auto loaded = MasterKey::load_or_create(path, false);
    ASSERT_TRUE(loaded);
    auto opened = loaded->open(created->seal("x"));
    ASSERT_TRUE(opened);
    EXPECT_EQ(*opened, "x");
}

TEST(MasterKey, RefusesWrongSizeAndLooseMode) {
    TempDir dir;
    fs::path path = dir.path() / "master.key";
    {
        std::ofstream out(path);
        out << "too short";
    }
    fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
    EXPECT_FALSE(MasterKey::load_or_create(path, true));
    fs::resize_file(path, MasterKey::kKeyBytes);
    fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write | fs::perms::others_read);
    auto loose = MasterKey::load_or_create(path, true);
    ASSERT_FALSE(loose);
    EXPECT_NE(loose.error().message.find("chmod 600"), std::string::npos);
}

}  // namespace
}  // namespace nimbus::crypto
