// SQLite-only behaviour; what both backends share lives in tests/integration/db.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include <unistd.h>

#include "db/db.hpp"

namespace nimbus::db {
namespace {

class SqliteTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "nimbus-db-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    Options options() const {
        Options options;
        options.sqlite_path = (dir_ / "test.db").string();
        return options;
    }

    std::filesystem::path dir_;
};

TEST_F(SqliteTest, OpensWithWalAndForeignKeys) {
    auto db = open(options());
    ASSERT_TRUE(db) << db.error().message;
    EXPECT_EQ((*db)->backend(), Backend::sqlite);
    auto mode = (*db)->query("PRAGMA journal_mode");
    ASSERT_TRUE(mode);
    EXPECT_EQ(mode->at(0).get_text(0), "wal");
    auto fks = (*db)->query("PRAGMA foreign_keys");
    ASSERT_TRUE(fks);
    EXPECT_EQ(fks->at(0).get_int(0), 1);
}

TEST_F(SqliteTest, SynchronousComesFromOptions) {
    constexpr std::int64_t kNormal = 1;  // PRAGMA synchronous reports 0 off, 1 normal, 2 full
    Options normal = options();
    normal.sqlite_synchronous = "normal";
    auto db = open(normal);
    ASSERT_TRUE(db) << db.error().message;
    auto tx = (*db)->begin();
    ASSERT_TRUE(tx);
    auto sync = (*tx)->query("PRAGMA synchronous");
    ASSERT_TRUE(sync);
    EXPECT_EQ(sync->at(0).get_int(0), kNormal);
}

TEST_F(SqliteTest, RejectsUnknownSynchronousMode) {
    Options bad = options();
    bad.sqlite_synchronous = "extra; DROP TABLE x";
    auto db = open(bad);
    ASSERT_FALSE(db);
    EXPECT_EQ(db.error().code, ErrorCode::invalid_argument);
}

TEST_F(SqliteTest, MissingDirectoryIsAClearError) {
    Options missing = options();
    missing.sqlite_path = (dir_ / "no-such-dir" / "test.db").string();
    auto db = open(missing);
    ASSERT_FALSE(db);
    EXPECT_EQ(db.error().code, ErrorCode::unavailable);
    EXPECT_NE(db.error().message.find(missing.sqlite_path), std::string::npos);
    EXPECT_FALSE(std::filesystem::exists(dir_ / "no-such-dir"));
}

TEST_F(SqliteTest, SqliteUrlNamesTheFile) {
    Options by_url;
    by_url.url = "sqlite:" + (dir_ / "by-url.db").string();
    auto db = open(by_url);
    ASSERT_TRUE(db) << db.error().message;
    EXPECT_TRUE(std::filesystem::exists(dir_ / "by-url.db"));
}

TEST_F(SqliteTest, NestedBeginOnTheSameThreadFailsInsteadOfDeadlocking) {
    auto db = open(options());
    ASSERT_TRUE(db);
    auto outer = (*db)->begin();
    ASSERT_TRUE(outer);
    auto inner = (*db)->begin();
    ASSERT_FALSE(inner);
    EXPECT_EQ(inner.error().code, ErrorCode::internal);
}

TEST_F(SqliteTest, SecondWriterWaitsForTheFirst) {
    auto db = open(options());
    ASSERT_TRUE(db);
    ASSERT_TRUE((*db)->transact([](Transaction& tx) -> Result<void> {
        auto done = tx.execute("CREATE TABLE t (v INTEGER)");
        if (!done) return done.error();
        return {};
    }));
    std::atomic<bool> second_done{false};
    auto first = (*db)->begin();
    ASSERT_TRUE(first);
    std::thread second([&] {
        auto tx = (*db)->begin();
        ASSERT_TRUE(tx);
        ASSERT_TRUE((*tx)->execute("INSERT INTO t (v) VALUES (2)"));
        ASSERT_TRUE((*tx)->commit());
        second_done = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_FALSE(second_done.load());
    ASSERT_TRUE((*first)->execute("INSERT INTO t (v) VALUES (1)"));
    ASSERT_TRUE((*first)->commit());
    second.join();
    auto rows = (*db)->query("SELECT v FROM t ORDER BY rowid");
    ASSERT_TRUE(rows);
    ASSERT_EQ(rows->size(), 2u);
    EXPECT_EQ(rows->at(0).get_int(0), 1);
    EXPECT_EQ(rows->at(1).get_int(0), 2);
}

TEST_F(SqliteTest, BusyFromAnotherProcessIsUnavailable) {
    Options short_timeout = options();
    short_timeout.busy_timeout = std::chrono::milliseconds(50);
    auto first = open(short_timeout);
    auto second = open(short_timeout);  // a second Database stands in for another process
    ASSERT_TRUE(first && second);
    auto held = (*first)->begin();
    ASSERT_TRUE(held);
    auto blocked = (*second)->begin();
    ASSERT_FALSE(blocked);
    EXPECT_EQ(blocked.error().code, ErrorCode::unavailable);
}

TEST_F(SqliteTest, MultipleStatementsInOneCallAreRefused) {
    auto db = open(options());
    ASSERT_TRUE(db);
    auto tx = (*db)->begin();
    ASSERT_TRUE(tx);
    auto done = (*tx)->execute("CREATE TABLE a (x INTEGER); CREATE TABLE b (x INTEGER)");
    ASSERT_FALSE(done);
    EXPECT_EQ(done.error().code, ErrorCode::internal);
    EXPECT_TRUE((*tx)->execute("CREATE TABLE c (x INTEGER);"));  // a trailing ; is fine
}

TEST_F(SqliteTest, ReadersCannotWrite) {
    auto db = open(options());
    ASSERT_TRUE(db);
    auto done = (*db)->query("CREATE TABLE t (x INTEGER)");
    EXPECT_FALSE(done);
}

TEST_F(SqliteTest, ObserverSeesEveryStatement) {
    std::atomic<int> ok_count{0};
    std::atomic<int> failed_count{0};
    Options observed = options();
    observed.observer = [&](std::chrono::nanoseconds elapsed, bool ok) {
        EXPECT_GE(elapsed.count(), 0);
        (ok ? ok_count : failed_count)++;
    };
    auto db = open(observed);
    ASSERT_TRUE(db);
    ASSERT_TRUE((*db)->query("SELECT 1"));  // opens the reader, whose setup is observed too
    const int before = ok_count.load();
    ASSERT_TRUE((*db)->query("SELECT 1"));
    EXPECT_EQ(ok_count.load(), before + 1);
    EXPECT_FALSE((*db)->query("SELECT * FROM missing"));
    EXPECT_EQ(failed_count.load(), 1);
}

}  // namespace
}  // namespace nimbus::db
