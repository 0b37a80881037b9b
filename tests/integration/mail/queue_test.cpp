// The mail queue on SQLite and PostgreSQL with a real SMTP server on 127.0.0.1: a message exists
// only when its transaction commits, is stored sealed, waits out a mail server that is down and
// arrives once it is up, is sent once by two workers sharing the database, and is given up
// (and counted) after the configured time.
#include <algorithm>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "backend_test.hpp"
#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "mail/mail.hpp"
#include "smtp_sink.hpp"

namespace nimbus::mail {
namespace {

using test::SmtpSink;

constexpr auto kFastPoll = std::chrono::milliseconds(20);
constexpr auto kShortBackoff = std::chrono::milliseconds(50);
constexpr auto kWaitLimit = std::chrono::seconds(30);
constexpr auto kSmtpTimeout = std::chrono::seconds(5);
constexpr const char* kSecretLink = "https://nimbus.test/reset-password?token=S3cretT0kenValue";
constexpr const char* kRecipient = "alice.queue@example.com";

class MailQueueTest : public db::testing::BackendTest {
protected:
    void SetUp() override {
        BackendTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        std::vector<db::ModuleMigrations> modules = {{"mail", &migrations()}};
        ASSERT_TRUE(db::migrate_up(db(), modules, clock_.now_ms()));
        auto key =
            crypto::MasterKey::from_bytes(crypto::random_bytes(crypto::MasterKey::kKeyBytes));
        ASSERT_TRUE(key);
        key_ = std::make_unique<crypto::MasterKey>(std::move(*key));
    }

    /// Queues `message` in a transaction of its own on `database`.
    static void enqueue(db::Database& database, const Queue& queue, const Message& message) {
        auto committed = database.transact(
            [&](db::Transaction& tx) -> Result<void> { return queue.enqueue(tx, message); });
        ASSERT_TRUE(committed) << committed.error().message;
    }

    std::int64_t queued() {
        auto rows = db().query("SELECT COUNT(*) FROM mail_queue");
        return rows ? rows->front().get_int(0) : -1;
    }

    /// Polls until `holds` or the wait limit passes; whether it held.
    template <typename Condition>
    static bool eventually(Condition holds) {
        auto deadline = std::chrono::steady_clock::now() + kWaitLimit;
        while (!holds()) {
            if (std::chrono::steady_clock::now() > deadline) return false;
            std::this_thread::sleep_for(kFastPoll);
        }
        return true;
    }

    static Message reset_mail(const std::string& subject = "Reset your password") {
        return {kRecipient, subject, std::string("Open this link:\n") + kSecretLink + "\n"};
    }

    SystemClock clock_;
    std::unique_ptr<crypto::MasterKey> key_;
};

TEST_P(MailQueueTest, AMessageExistsOnlyWhenItsTransactionCommits) {
    auto mailer = make_smtp_mailer({.smtp_url = "smtp://127.0.0.1:1"});
    Queue queue(db(), clock_, *key_, *mailer);
    auto rolled_back = db().transact([&](db::Transaction& tx) -> Result<void> {
        if (auto queued = queue.enqueue(tx, reset_mail()); !queued) return queued;
        return Error::conflict("the change failed after the mail was queued");
    });
    ASSERT_FALSE(rolled_back);
    EXPECT_EQ(queued(), 0);
    enqueue(db(), queue, reset_mail());
    EXPECT_EQ(queued(), 1);
    auto stats = queue.stats();
    ASSERT_TRUE(stats);
    EXPECT_EQ(stats->queued, 1);
}

TEST_P(MailQueueTest, RefusesHeaderInjectionAndAnEmptyRecipient) {
    auto mailer = make_smtp_mailer({.smtp_url = "smtp://127.0.0.1:1"});
    Queue queue(db(), clock_, *key_, *mailer);
    for (const Message& bad :
         {Message{"a@example.com\r\nBcc: x@example.com", "s", "t"},
          Message{"a@example.com", "s\nBcc: x@example.com", "t"}, Message{"", "s", "t"}}) {
        auto committed = db().transact(
            [&](db::Transaction& tx) -> Result<void> { return queue.enqueue(tx, bad); });
        ASSERT_FALSE(committed);
        EXPECT_EQ(committed.error().code, ErrorCode::invalid_argument);
    }
    EXPECT_EQ(queued(), 0);
}

TEST_P(MailQueueTest, StoresNoLinkAddressOrSubjectInPlaintext) {
    auto mailer = make_smtp_mailer({.smtp_url = "smtp://127.0.0.1:1"});
    Queue queue(db(), clock_, *key_, *mailer);
    enqueue(db(), queue, reset_mail());
    auto rows = db().query("SELECT * FROM mail_queue");
    ASSERT_TRUE(rows);
    ASSERT_EQ(rows->size(), 1U);
    const db::Row& row = rows->front();
    for (std::size_t column_idx = 0; column_idx < row.size(); ++column_idx) {
        std::string text;
        const db::Value& value = row.at(column_idx);
        if (const auto* bytes = std::get_if<db::Bytes>(&value)) {
            text.assign(bytes->begin(), bytes->end());
        } else if (const auto* str = std::get_if<std::string>(&value)) {
            text = *str;
        }
        EXPECT_EQ(text.find("S3cretT0kenValue"), std::string::npos) << "column " << column_idx;
        EXPECT_EQ(text.find("token="), std::string::npos) << "column " << column_idx;
        EXPECT_EQ(text.find(kRecipient), std::string::npos) << "column " << column_idx;
        EXPECT_EQ(text.find("Reset your password"), std::string::npos) << "column " << column_idx;
    }
}

TEST_P(MailQueueTest, WaitsForADownServerAndDeliversOnceItIsUp) {
    const std::uint16_t port = test::unused_port();
    auto mailer = make_smtp_mailer(
        {.smtp_url = "smtp://127.0.0.1:" + std::to_string(port), .timeout = kSmtpTimeout});
    Queue queue(db(), clock_, *key_, *mailer,
                {.poll_interval = kFastPoll,
                 .initial_backoff = kShortBackoff,
                 .max_backoff = kShortBackoff});
    ASSERT_TRUE(queue.start());
    enqueue(db(), queue, reset_mail());
    queue.wake();
    // The server refuses connections: the message stays, with its failed attempts counted.
    ASSERT_TRUE(eventually([&] {
        auto rows = db().query("SELECT attempts, last_error FROM mail_queue");
        return rows && rows->size() == 1 && rows->front().get_int(0) >= 2;
    }));
    SmtpSink smtp(port);
    auto received = smtp.wait_for([](const auto& all) { return !all.empty(); });
    ASSERT_EQ(received.size(), 1U);
    EXPECT_NE(received.front().find(kSecretLink), std::string::npos);
    EXPECT_NE(received.front().find(std::string("To: ") + kRecipient), std::string::npos);
    EXPECT_TRUE(eventually([&] { return queued() == 0; }));
}

TEST_P(MailQueueTest, TwoWorkersOnOneDatabaseSendEachMessageOnce) {
    constexpr int kMessages = 30;
    SmtpSink smtp(test::unused_port());
    auto other_db = store_->open_again({});
    ASSERT_TRUE(other_db) << other_db.error().message;
    auto first_mailer = make_smtp_mailer({.smtp_url = smtp.url()});
    auto second_mailer = make_smtp_mailer({.smtp_url = smtp.url()});
    Queue first(db(), clock_, *key_, *first_mailer,
                {.node_id = "node_first", .poll_interval = kFastPoll, .batch_size = 3});
    Queue second(**other_db, clock_, *key_, *second_mailer,
                 {.node_id = "node_second", .poll_interval = kFastPoll, .batch_size = 3});
    for (int message_idx = 0; message_idx < kMessages; ++message_idx) {
        enqueue(db(), first, reset_mail("message " + std::to_string(message_idx)));
    }
    ASSERT_TRUE(first.start());
    ASSERT_TRUE(second.start());
    ASSERT_TRUE(eventually([&] { return queued() == 0; }));
    first.stop();
    second.stop();
    auto received = smtp.wait_for([](const auto& all) { return all.size() >= kMessages; });
    std::multiset<std::string> subjects;
    for (const std::string& message : received) {
        auto at = message.find("Subject: ");
        ASSERT_NE(at, std::string::npos);
        std::string subject = message.substr(at, message.find('\n', at) - at);
        if (subject.ends_with('\r')) subject.pop_back();  // however the maildir ends its lines
        subjects.insert(subject);
    }
    EXPECT_EQ(received.size(), static_cast<std::size_t>(kMessages));
    for (int message_idx = 0; message_idx < kMessages; ++message_idx) {
        EXPECT_EQ(subjects.count("Subject: message " + std::to_string(message_idx)), 1U)
            << message_idx;
    }
}

TEST_P(MailQueueTest, GivesUpAfterTheConfiguredTimeAndCountsIt) {
    ManualClock clock(clock_.now_ms());
    metrics::Registry registry;
    constexpr auto kGiveUp = std::chrono::hours(1);
    auto mailer = make_smtp_mailer({.smtp_url = "smtp://127.0.0.1:1"});
    Queue queue(db(), clock, *key_, *mailer,
                {.initial_backoff = std::chrono::minutes(1),
                 .max_backoff = std::chrono::minutes(10),
                 .give_up_after = kGiveUp,
                 .registry = &registry});
    enqueue(db(), queue, reset_mail());
    auto first = queue.run_once();
    ASSERT_TRUE(first);
    EXPECT_EQ(*first, 0);
    EXPECT_EQ(queued(), 1);
    // Not due again until its backoff has passed.
    ASSERT_TRUE(queue.run_once());
    auto attempts = db().query("SELECT attempts FROM mail_queue");
    ASSERT_TRUE(attempts && !attempts->empty());
    EXPECT_EQ(attempts->front().get_int(0), 1);
    clock.advance_ms(std::chrono::milliseconds(kGiveUp).count());
    ASSERT_TRUE(queue.run_once());
    EXPECT_EQ(queued(), 0);
    std::string metrics = registry.render();
    EXPECT_NE(metrics.find("nimbus_mail_failed_total 1"), std::string::npos) << metrics;
    EXPECT_NE(metrics.find("nimbus_mail_retried_total 1"), std::string::npos) << metrics;
}

TEST_P(MailQueueTest, AMessageSealedWithAnotherKeyIsDroppedNotRetried) {
    auto mailer = make_smtp_mailer({.smtp_url = "smtp://127.0.0.1:1"});
    Queue queue(db(), clock_, *key_, *mailer);
    enqueue(db(), queue, reset_mail());
    auto other_key =
        crypto::MasterKey::from_bytes(crypto::random_bytes(crypto::MasterKey::kKeyBytes));
    ASSERT_TRUE(other_key);
    Queue wrong_key(db(), clock_, *other_key, *mailer);
    auto sent = wrong_key.run_once();
    ASSERT_TRUE(sent);
    EXPECT_EQ(*sent, 0);
    EXPECT_EQ(queued(), 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, MailQueueTest, db::testing::kBothBackends,
                         db::testing::backend_name);

}  // namespace
}  // namespace nimbus::mail
