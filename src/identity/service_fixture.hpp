#pragma once
// The setup the identity unit tests share (service, security, refresh, OIDC and org tests): a real
// SQLite database in a temporary directory with the events and identity migrations, a manual
// clock, a fresh master key, the mail queue, and a mailer that records what it would send.
// Test-only: nothing outside the test targets includes it.

#include <sodium.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/clock.hpp"
#include "core/ids.hpp"
#include "events/events.hpp"
#include "identity/identity.hpp"

namespace nimbus::identity::testing {

/// The manual clock's start: a fixed instant, so expiry tests count from a known time.
inline constexpr std::int64_t kStartMs = 1'800'000'000'000;
inline constexpr std::int64_t kMinuteMs = 60'000;
/// A password the strength check accepts, used by every account the tests make.
inline constexpr const char* kPassword = "correct-Horse-battery-9";
/// Another acceptable password: a wrong guess, or the new one of a change.
inline constexpr const char* kOtherPassword = "Tr0mbone-lantern-quiet";

/// A mailer that keeps every message in memory instead of sending it. Thread-safe.
class RecordingMailer final : public mail::Mailer {
public:
    Result<void> send(const mail::Message& message) override {
        std::lock_guard lock(mutex_);
        sent_.push_back(message);
        return {};
    }
    /// A copy of every message so far, oldest first (after delivering what is queued).
    std::vector<mail::Message> sent() const {
        deliver_queued();
        std::lock_guard lock(mutex_);
        return sent_;
    }
    /// The token of the last link mailed to `to`; empty when there is none (after delivering
    /// what is queued).
    std::string last_token(const std::string& to) const {
        deliver_queued();
        std::lock_guard lock(mutex_);
        for (auto it = sent_.rbegin(); it != sent_.rend(); ++it) {
            std::smatch match;
            if (it->to == to &&
                std::regex_search(it->text, match, std::regex("token=([A-Za-z0-9_-]+)"))) {
                return match[1];
            }
        }
        return {};
    }

    /// Called before each read: the fixture runs a pass of its mail queue here, so tests read
    /// what the services queued as if it had been sent at once.
    std::function<void()> deliver_queued = [] {};

private:
    mutable std::mutex mutex_;
    std::vector<mail::Message> sent_;
};

/// Settings for tests: a test issuer and the minimal Argon2id cost, which keeps the suites fast
/// (production uses the OWASP defaults).
inline Settings fast_settings() {
    Settings settings;
    settings.issuer = "https://nimbus.test";
    settings.audience = "nimbus";
    settings.hashing.ops_limit = crypto_pwhash_OPSLIMIT_MIN;
    settings.hashing.mem_limit_kib = crypto_pwhash_MEMLIMIT_MIN / 1024;
    return settings;
}

/// What the identity services stand on, made afresh for each test: a SQLite database with the
/// events and identity migrations in a temporary directory, a manual clock, a master key and a
/// recording mailer. Suites of a service other than identity::Service (OrgService) build on it.
class DatabaseFixture : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("nimbus-identity-" + new_ulid(SystemClock().now_ms()));
        std::filesystem::create_directories(dir_);
        auto database = db::open({.sqlite_path = (dir_ / "test.db").string()});
        ASSERT_TRUE(database) << database.error().message;
        database_ = std::move(*database);
        std::vector<db::ModuleMigrations> modules = {{"events", &events::migrations()},
                                                     {"mail", &mail::migrations()},
                                                     {"identity", &migrations()}};
        ASSERT_TRUE(db::migrate_up(*database_, modules, kStartMs));
        auto key =
            crypto::MasterKey::from_bytes(crypto::random_bytes(crypto::MasterKey::kKeyBytes));
        ASSERT_TRUE(key);
        master_key_ = std::make_unique<crypto::MasterKey>(std::move(*key));
        // No worker thread: reads of mailer_ run a pass, so delivery is deterministic.
        mail_queue_ = std::make_unique<mail::Queue>(*database_, clock_, *master_key_, mailer_);
        mailer_.deliver_queued = [this] {
            if (!mail_queue_) return;
            auto delivered = mail_queue_->run_once();
            EXPECT_TRUE(delivered) << (delivered ? "" : delivered.error().message);
        };
    }

    void TearDown() override {
        mailer_.deliver_queued = [] {};
        mail_queue_.reset();
        database_.reset();
        std::filesystem::remove_all(dir_);
    }

    /// Events of this type in the outbox.
    std::int64_t count_events(const std::string& type) {
        auto rows = database_->query("SELECT COUNT(*) FROM outbox_events WHERE type = ?", {type});
        return rows ? rows->front().get_int(0) : -1;
    }

    /// The first column of the first row of `sql` (a COUNT(*)).
    std::int64_t count(const std::string& sql) {
        auto rows = database_->query(sql);
        return rows ? rows->front().get_int(0) : -1;
    }

    std::filesystem::path dir_;
    ManualClock clock_{kStartMs};
    RecordingMailer mailer_;
    std::unique_ptr<db::Database> database_;
    std::unique_ptr<crypto::MasterKey> master_key_;
    std::unique_ptr<mail::Queue> mail_queue_;
};

/// A started identity::Service on the DatabaseFixture. A suite that needs other settings
/// overrides settings(); make_service() builds more services on the same database, clock, key
/// and mailer (a restart, or one with other settings).
class ServiceFixture : public DatabaseFixture {
protected:
    void SetUp() override {
        DatabaseFixture::SetUp();
        if (HasFatalFailure()) return;
        service_ = make_service(settings());
    }

    void TearDown() override {
        service_.reset();
        DatabaseFixture::TearDown();
    }

    /// The settings of service_; fast_settings() unless a suite overrides it.
    virtual Settings settings() const { return fast_settings(); }

    /// A started service on this fixture's database, clock, key and mailer.
    std::unique_ptr<Service> make_service(Settings settings) {
        auto service = std::make_unique<Service>(*database_, clock_, *master_key_, *mail_queue_,
                                                 std::move(settings));
        auto started = service->start();
        EXPECT_TRUE(started) << (started ? "" : started.error().message);
        return service;
    }

    /// Signs up and verifies; returns the user id.
    std::string create_user(const std::string& email, const std::string& password = kPassword,
                            const std::string& name = "Test User") {
        auto signed_up = service_->sign_up({email, password, name});
        EXPECT_TRUE(signed_up) << (signed_up ? "" : signed_up.error().message);
        auto verified = service_->verify_email(mailer_.last_token(email));
        EXPECT_TRUE(verified);
        auto rows = database_->query("SELECT id FROM identity_users WHERE email = ?", {email});
        return rows && !rows->empty() ? rows->front().get_text(0) : "";
    }

    std::unique_ptr<Service> service_;
};

}  // namespace nimbus::identity::testing
