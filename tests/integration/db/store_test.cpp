// The store's contract, run against real SQLite and real PostgreSQL.
#include <gtest/gtest.h>

#include <atomic>
#include <limits>
#include <thread>

#include "backend_test.hpp"

namespace nimbus::db {
namespace {

using testing::TestDatabase;

std::int64_t count_rows(Database& db, std::string_view table) {
    auto rows = db.query(std::string("SELECT COUNT(*) FROM ") + std::string(table));
    EXPECT_TRUE(rows) << rows.error().message;
    return rows ? rows->at(0).get_int(0) : -1;
}

class StoreTest : public testing::BackendTest {
protected:
    const char* blob_type() const { return is_postgres() ? "BYTEA" : "BLOB"; }

    void create_items_table() {
        ASSERT_TRUE(
            testing::execute(db(), std::string("CREATE TABLE items (id BIGINT PRIMARY KEY,"
                                               " count BIGINT, ratio DOUBLE PRECISION, name TEXT,"
                                               " payload ") +
                                       blob_type() + ", flag BOOLEAN)"));
    }
};

TEST_P(StoreTest, ReportsItsBackendAndAnswersPing) {
    EXPECT_EQ(db().backend(), GetParam());
    EXPECT_TRUE(db().ping());
}

TEST_P(StoreTest, RoundTripsEveryValueType) {
    create_items_table();
    const Bytes tricky_bytes{0x00, 0xff, 0x27, 0x5c, 0x00, 0x3f, 0x01};
    const std::string tricky_text = "it's \"quoted\" \\ ? \xe2\x9c\x93 ünïcödé";
    constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
    constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
    constexpr double kRatio = 0.1;
    constexpr double kHuge = -1.5e300;
    ASSERT_TRUE(db().transact([&](Transaction& tx) -> Result<void> {
        for (auto params : {std::vector<Param>{1, kMax, kRatio, tricky_text, tricky_bytes, true},
                            std::vector<Param>{2, kMin, kHuge, "", Bytes{}, false},
                            std::vector<Param>{3, std::nullopt, std::nullopt, std::nullopt,
                                               std::nullopt, std::nullopt}}) {
            auto done = tx.execute(
                "INSERT INTO items (id, count, ratio, name, payload, flag)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                params);
            if (!done) return done.error();
            EXPECT_EQ(*done, 1);
        }
        return {};
    }));

    auto rows = db().query("SELECT id, count, ratio, name, payload, flag FROM items ORDER BY id");
    ASSERT_TRUE(rows) << rows.error().message;
    ASSERT_EQ(rows->size(), 3u);
    const Row& first = rows->at(0);
    EXPECT_EQ(first.get_int(0), 1);
    EXPECT_EQ(first.get_int(1), kMax);
    EXPECT_DOUBLE_EQ(first.get_double(2), kRatio);
    EXPECT_EQ(first.get_text(3), tricky_text);
    EXPECT_EQ(first.get_blob(4), tricky_bytes);
    EXPECT_EQ(first.get_int(5), 1);

    const Row& second = rows->at(1);
    EXPECT_EQ(second.get_int(1), kMin);
    EXPECT_DOUBLE_EQ(second.get_double(2), kHuge);
    EXPECT_FALSE(second.is_null(3)) << "the empty string is not NULL";
    EXPECT_EQ(second.get_text(3), "");
    EXPECT_FALSE(second.is_null(4)) << "empty bytes are not NULL";
    EXPECT_TRUE(second.get_blob(4).empty());
    EXPECT_EQ(second.get_int(5), 0);

    const Row& third = rows->at(2);
    for (std::size_t column_idx = 1; column_idx < third.size(); ++column_idx) {
        EXPECT_TRUE(third.is_null(column_idx)) << "column " << column_idx;
    }
    EXPECT_EQ(third.get_optional_int(1), std::nullopt);
    EXPECT_EQ(third.get_optional_text(3), std::nullopt);

    // Bytes also work as a lookup key, NULs included.
    auto found = db().query("SELECT id FROM items WHERE payload = ?", {tricky_bytes});
    ASSERT_TRUE(found) << found.error().message;
    ASSERT_EQ(found->size(), 1u);
    EXPECT_EQ(found->at(0).get_int(0), 1);
}

TEST_P(StoreTest, UpdateAndDeleteReportChangedRows) {
    create_items_table();
    ASSERT_TRUE(db().transact([](Transaction& tx) -> Result<void> {
        for (int id = 1; id <= 3; ++id) {
            auto done = tx.execute("INSERT INTO items (id, count) VALUES (?, ?)", {id, id * 10});
            if (!done) return done.error();
        }
        return {};
    }));
    auto tx = db().begin();
    ASSERT_TRUE(tx);
    auto updated = (*tx)->execute("UPDATE items SET count = count + 1 WHERE id >= ?", {2});
    ASSERT_TRUE(updated) << updated.error().message;
    EXPECT_EQ(*updated, 2);
    auto deleted = (*tx)->execute("DELETE FROM items WHERE id = ?", {1});
    ASSERT_TRUE(deleted);
    EXPECT_EQ(*deleted, 1);
    auto none = (*tx)->execute("DELETE FROM items WHERE id = ?", {99});
    ASSERT_TRUE(none);
    EXPECT_EQ(*none, 0);
    ASSERT_TRUE((*tx)->commit());

    auto rows = db().query("SELECT id, count FROM items ORDER BY id");
    ASSERT_TRUE(rows);
    ASSERT_EQ(rows->size(), 2u);
    EXPECT_EQ(rows->at(0).get_int(1), 21);
    EXPECT_EQ(rows->at(1).get_int(1), 31);
}

TEST_P(StoreTest, QueryOneReturnsTheFirstRowOrNothing) {
    create_items_table();
    ASSERT_TRUE(testing::execute(db(), "INSERT INTO items (id, name) VALUES (7, 'seven')"));
    auto tx = db().begin();
    ASSERT_TRUE(tx);
    auto found = (*tx)->query_one("SELECT name FROM items WHERE id = ?", {7});
    ASSERT_TRUE(found);
    ASSERT_TRUE(found->has_value());
    EXPECT_EQ((*found)->get_text(0), "seven");
    auto missing = (*tx)->query_one("SELECT name FROM items WHERE id = ?", {8});
    ASSERT_TRUE(missing);
    EXPECT_FALSE(missing->has_value());
}

TEST_P(StoreTest, CommittedTransactionIsVisible) {
    create_items_table();
    auto tx = db().begin();
    ASSERT_TRUE(tx);
    ASSERT_TRUE((*tx)->execute("INSERT INTO items (id) VALUES (?)", {1}));
    EXPECT_EQ(count_rows(db(), "items"), 0) << "readers see only committed state";
    ASSERT_TRUE((*tx)->commit());
    EXPECT_EQ(count_rows(db(), "items"), 1);
    auto after = (*tx)->execute("INSERT INTO items (id) VALUES (?)", {2});
    ASSERT_FALSE(after);
    EXPECT_EQ(after.error().code, ErrorCode::internal);
    EXPECT_FALSE((*tx)->commit());
}

TEST_P(StoreTest, DestroyingAnUncommittedTransactionRollsBack) {
    create_items_table();
    {
        auto tx = db().begin();
        ASSERT_TRUE(tx);
        ASSERT_TRUE((*tx)->execute("INSERT INTO items (id) VALUES (?)", {1}));
    }
    EXPECT_EQ(count_rows(db(), "items"), 0);
    // The writer is free again.
    ASSERT_TRUE(testing::execute(db(), "INSERT INTO items (id) VALUES (2)"));
    EXPECT_EQ(count_rows(db(), "items"), 1);
}

TEST_P(StoreTest, TransactRollsBackWhenWorkFails) {
    create_items_table();
    auto outcome = db().transact([](Transaction& tx) -> Result<void> {
        auto done = tx.execute("INSERT INTO items (id) VALUES (?)", {1});
        if (!done) return done.error();
        return Error::invalid("changed my mind");
    });
    ASSERT_FALSE(outcome);
    EXPECT_EQ(outcome.error().code, ErrorCode::invalid_argument);
    EXPECT_EQ(count_rows(db(), "items"), 0);
}

TEST_P(StoreTest, UniqueViolationIsConflict) {
    create_items_table();
    ASSERT_TRUE(testing::execute(db(), "INSERT INTO items (id) VALUES (1)"));
    auto tx = db().begin();
    ASSERT_TRUE(tx);
    auto duplicate = (*tx)->execute("INSERT INTO items (id) VALUES (?)", {1});
    ASSERT_FALSE(duplicate);
    EXPECT_EQ(duplicate.error().code, ErrorCode::conflict) << duplicate.error().message;
}

TEST_P(StoreTest, ForeignKeyViolationIsConflict) {
    ASSERT_TRUE(testing::execute(db(), "CREATE TABLE parents (id BIGINT PRIMARY KEY)"));
    ASSERT_TRUE(testing::execute(db(),
                                 "CREATE TABLE children (id BIGINT PRIMARY KEY,"
                                 " parent_id BIGINT NOT NULL REFERENCES parents(id))"));
    auto tx = db().begin();
    ASSERT_TRUE(tx);
    auto orphan = (*tx)->execute("INSERT INTO children (id, parent_id) VALUES (?, ?)", {1, 42});
    ASSERT_FALSE(orphan);
    EXPECT_EQ(orphan.error().code, ErrorCode::conflict) << orphan.error().message;
}

TEST_P(StoreTest, BadSqlIsInternal) {
    auto rows = db().query("SELEC nonsense");
    ASSERT_FALSE(rows);
    EXPECT_EQ(rows.error().code, ErrorCode::internal);
    auto missing = db().query("SELECT * FROM no_such_table");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, ErrorCode::internal);
}

TEST_P(StoreTest, ParameterCountMismatchIsRefused) {
    create_items_table();
    auto too_few = db().query("SELECT id FROM items WHERE id = ? AND name = ?", {1});
    ASSERT_FALSE(too_few);
    EXPECT_EQ(too_few.error().code, ErrorCode::internal);
    auto too_many = db().query("SELECT id FROM items WHERE id = ?", {1, 2});
    ASSERT_FALSE(too_many);
}

TEST_P(StoreTest, InjectionAttemptsStayData) {
    create_items_table();
    const std::vector<std::string> attempts = {
        "x'); DROP TABLE items; --",    "' OR '1'='1",  "1; DELETE FROM items", "?", "$1",
        "\\'; SELECT pg_sleep(10); --", "/* ? */ -- ?",
    };
    ASSERT_TRUE(db().transact([&](Transaction& tx) -> Result<void> {
        int id = 0;
        for (const std::string& attempt : attempts) {
            auto done = tx.execute("INSERT INTO items (id, name) VALUES (?, ?)", {++id, attempt});
            if (!done) return done.error();
        }
        return {};
    }));
    EXPECT_EQ(count_rows(db(), "items"), static_cast<std::int64_t>(attempts.size()));
    for (const std::string& attempt : attempts) {
        auto rows = db().query("SELECT name FROM items WHERE name = ?", {attempt});
        ASSERT_TRUE(rows) << rows.error().message;
        ASSERT_EQ(rows->size(), 1u) << attempt;
        EXPECT_EQ(rows->at(0).get_text(0), attempt);
    }
    auto none = db().query("SELECT id FROM items WHERE name = ?", {"' OR 1=1 --"});
    ASSERT_TRUE(none);
    EXPECT_TRUE(none->empty());
}

TEST_P(StoreTest, QuestionMarksInsideLiteralsAreNotPlaceholders) {
    create_items_table();
    ASSERT_TRUE(testing::execute(db(), "INSERT INTO items (id, name) VALUES (1, 'what?')"));
    ASSERT_TRUE(testing::execute(db(), "INSERT INTO items (id, name) VALUES (2, 'it''s ?')"));
    auto rows = db().query(
        "SELECT id, 'lit?' AS \"col?\" FROM items WHERE (name = 'what?' OR name = ?) -- really?\n"
        " ORDER BY id",
        {"it's ?"});
    ASSERT_TRUE(rows) << rows.error().message;
    ASSERT_EQ(rows->size(), 2u);
    EXPECT_EQ(rows->at(0).get_text(1), "lit?");
    EXPECT_EQ(rows->at(1).get_int(0), 2);
}

TEST_P(StoreTest, ConcurrentReadersAndAWriter) {
    constexpr int kRows = 100;
    constexpr int kReaders = 4;
    Options options;
    options.pool_size = kReaders + 1;  // PostgreSQL shares the pool with the writer
    open_store(options);
    create_items_table();
    std::atomic<bool> writer_done{false};
    std::atomic<int> failures{0};
    std::thread writer([&] {
        for (int id = 1; id <= kRows; ++id) {
            auto done = db().transact([&](Transaction& tx) -> Result<void> {
                auto inserted = tx.execute("INSERT INTO items (id, count) VALUES (?, ?)", {id, id});
                if (!inserted) return inserted.error();
                return {};
            });
            if (!done) ++failures;
        }
        writer_done = true;
    });
    std::vector<std::thread> readers;
    for (int reader_idx = 0; reader_idx < kReaders; ++reader_idx) {
        readers.emplace_back([&] {
            std::int64_t last_seen = 0;
            do {
                auto rows = db().query("SELECT COUNT(*), COALESCE(SUM(count), 0) FROM items");
                if (!rows) {
                    ++failures;
                    continue;
                }
                const std::int64_t seen = rows->at(0).get_int(0);
                // Each committed row is visible whole: the sum matches the count.
                // SUM is NUMERIC on PostgreSQL (a double here) and INTEGER on SQLite.
                const auto sum = static_cast<std::int64_t>(rows->at(0).get_double(1));
                if (seen < last_seen || sum != seen * (seen + 1) / 2) {
                    ++failures;
                }
                last_seen = seen;
            } while (!writer_done.load());
        });
    }
    writer.join();
    for (auto& reader : readers) reader.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(count_rows(db(), "items"), kRows);
}

TEST_P(StoreTest, ConcurrentWritersSerialize) {
    constexpr int kThreads = 4;
    constexpr int kIncrements = 25;
    ASSERT_TRUE(testing::execute(
        db(), "CREATE TABLE counter (id BIGINT PRIMARY KEY, value BIGINT NOT NULL)"));
    ASSERT_TRUE(testing::execute(db(), "INSERT INTO counter (id, value) VALUES (1, 0)"));
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int thread_idx = 0; thread_idx < kThreads; ++thread_idx) {
        threads.emplace_back([&] {
            for (int step = 0; step < kIncrements; ++step) {
                auto done = db().transact([](Transaction& tx) -> Result<void> {
                    auto updated = tx.execute("UPDATE counter SET value = value + 1 WHERE id = 1");
                    if (!updated) return updated.error();
                    return {};
                });
                if (!done) ++failures;
            }
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(failures.load(), 0);
    auto rows = db().query("SELECT value FROM counter");
    ASSERT_TRUE(rows);
    EXPECT_EQ(rows->at(0).get_int(0), kThreads * kIncrements);
}

TEST_P(StoreTest, ObserverSeesStatements) {
    std::atomic<int> observed{0};
    Options options;
    options.observer = [&](std::chrono::nanoseconds, bool) { ++observed; };
    open_store(options);
    ASSERT_TRUE(db().query("SELECT 1"));  // the first call may open a connection
    const int before = observed.load();
    ASSERT_TRUE(db().query("SELECT 1"));
    EXPECT_EQ(observed.load(), before + 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, testing::kBothBackends, testing::backend_name);

// PostgreSQL going away: the pool drops broken connections and reconnects by itself.
class PostgresReconnectTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (!testing::postgres_admin_url()) GTEST_SKIP() << "PostgreSQL not configured";
        Options options;
        options.pool_size = 2;
        auto store = TestDatabase::create(Backend::postgres, options);
        ASSERT_TRUE(store) << store.error().message;
        store_ = std::move(*store);
    }
    std::unique_ptr<TestDatabase> store_;
};

TEST_F(PostgresReconnectTest, IdleConnectionsKilledByTheServerAreReplaced) {
    Database& db = store_->db();
    ASSERT_TRUE(db.ping());
    auto killed = store_->terminate_connections();
    ASSERT_TRUE(killed) << killed.error().message;
    EXPECT_GE(*killed, 1);
    // The first call may meet the dead connection; it must say so as `unavailable`, not as a bug.
    auto first = db.query("SELECT 1");
    if (!first) {
        EXPECT_EQ(first.error().code, ErrorCode::unavailable) << first.error().message;
    }
    for (int attempt = 0; attempt < 3; ++attempt) {
        auto again = db.query("SELECT 2");
        ASSERT_TRUE(again) << again.error().message;
        EXPECT_EQ(again->at(0).get_int(0), 2);
    }
    EXPECT_TRUE(db.transact([](Transaction& tx) -> Result<void> {
        auto done = tx.execute("CREATE TABLE after_reconnect (id BIGINT)");
        if (!done) return done.error();
        return {};
    }));
}

TEST_F(PostgresReconnectTest, TransactionWhoseConnectionDiesFailsUnavailable) {
    Database& db = store_->db();
    auto tx = db.begin();
    ASSERT_TRUE(tx) << tx.error().message;
    ASSERT_TRUE((*tx)->execute("CREATE TABLE doomed (id BIGINT)"));
    auto killed = store_->terminate_connections();
    ASSERT_TRUE(killed);
    auto next = (*tx)->execute("INSERT INTO doomed (id) VALUES (?)", {1});
    ASSERT_FALSE(next);
    EXPECT_EQ(next.error().code, ErrorCode::unavailable) << next.error().message;
    tx->reset();
    // Nothing of the dead transaction survived, and new work goes through.
    auto rows = db.query("SELECT to_regclass('doomed') IS NULL");
    ASSERT_TRUE(rows) << rows.error().message;
    EXPECT_EQ(rows->at(0).get_int(0), 1);
    EXPECT_TRUE(db.ping());
}

TEST_F(PostgresReconnectTest, ExhaustedPoolFailsUnavailableInsteadOfHanging) {
    Options options;
    options.pool_size = 1;
    options.busy_timeout = std::chrono::milliseconds(100);
    auto second = store_->open_again(options);
    ASSERT_TRUE(second) << second.error().message;
    auto held = (*second)->begin();
    ASSERT_TRUE(held);
    auto blocked = (*second)->query("SELECT 1");
    ASSERT_FALSE(blocked);
    EXPECT_EQ(blocked.error().code, ErrorCode::unavailable);
    held->reset();
    EXPECT_TRUE((*second)->ping());
}

}  // namespace
}  // namespace nimbus::db
