// The dev mailbox on SQLite, and the SMTP client's refusals (header injection, no server).
#include "mail/mail.hpp"

#include <filesystem>

#include <gtest/gtest.h>

#include "core/ids.hpp"

namespace nimbus::mail {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kStartMs = 1'800'000'000'000;

class DevMailboxTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("nimbus-mail-" + new_ulid(kStartMs));
        fs::create_directories(dir_);
        auto database = db::open({.sqlite_path = (dir_ / "test.db").string()});
        ASSERT_TRUE(database);
        database_ = std::move(*database);
        std::vector<db::ModuleMigrations> modules = {{"mail", &migrations()}};
        ASSERT_TRUE(db::migrate_up(*database_, modules, kStartMs));
    }
    void TearDown() override {
        database_.reset();
        fs::remove_all(dir_);
    }

    fs::path dir_;
    ManualClock clock_{kStartMs};
    std::unique_ptr<db::Database> database_;
};

TEST_F(DevMailboxTest, StoresMessagesNewestFirstAndFiltersByRecipient) {
    auto mailer = make_mailer({}, *database_, clock_);  // no SMTP URL: the dev mailbox
    ASSERT_TRUE(mailer->send({"a@example.com", "first", "one\n"}));
    clock_.advance_ms(1);
    ASSERT_TRUE(mailer->send({"b@example.com", "second", "two\n"}));
    clock_.advance_ms(1);
    ASSERT_TRUE(mailer->send({"a@example.com", "third", "three\n"}));
    auto all = read_dev_mailbox(*database_, "", 10);
    ASSERT_TRUE(all);
    ASSERT_EQ(all->size(), 3U);
    EXPECT_EQ(all->front().subject, "third");
    auto for_a = read_dev_mailbox(*database_, "a@example.com", 1);
    ASSERT_TRUE(for_a);
    ASSERT_EQ(for_a->size(), 1U);
    EXPECT_EQ(for_a->front().text, "three\n");
}

TEST_F(DevMailboxTest, RefusesHeaderInjection) {
    auto mailer = make_dev_mailbox(*database_, clock_);
    EXPECT_FALSE(mailer->send({"a@example.com\r\nBcc: x@example.com", "s", "t"}));
    EXPECT_FALSE(mailer->send({"a@example.com", "s\nBcc: x@example.com", "t"}));
    EXPECT_TRUE(read_dev_mailbox(*database_, "", 10)->empty());
}

TEST(SmtpMailer, RefusesHeaderInjectionAndReportsAnUnreachableServer) {
    // Port 1 on loopback: nothing listens, so the connection is refused at once.
    auto mailer = make_smtp_mailer({.smtp_url = "smtp://127.0.0.1:1"});
    auto injected = mailer->send({"a@example.com", "s\r\nBcc: x@example.com", "t"});
    ASSERT_FALSE(injected);
    EXPECT_EQ(injected.error().code, ErrorCode::invalid_argument);
    auto unreachable = mailer->send({"a@example.com", "s", "t"});
    ASSERT_FALSE(unreachable);
    EXPECT_EQ(unreachable.error().code, ErrorCode::unavailable);
}

}  // namespace
}  // namespace nimbus::mail
