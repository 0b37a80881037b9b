// The audit chain on a real store, built twice: SQLite, and PostgreSQL on the test cluster
// (NIMBUS_AUDIT_TEST_POSTGRES). Several nodes append at once and the chain stays whole; a row
// altered behind the log's back is reported by `nimbus audit verify` with its seq.
#include <thread>

#include <gtest/gtest.h>

#include "audit/audit.hpp"
#include "process.hpp"
#include "test_database.hpp"

#ifdef NIMBUS_AUDIT_TEST_POSTGRES
#define AuditStore AuditStoreOnPostgres
#endif

namespace nimbus::test {
namespace {

const std::string kNimbus = NIMBUS_BINARY;
constexpr int kNodes = 3;
constexpr int kEventsPerNode = 40;
constexpr std::size_t kBatch = 7;

db::Backend backend() {
#ifdef NIMBUS_AUDIT_TEST_POSTGRES
    return db::Backend::postgres;
#else
    return db::Backend::sqlite;
#endif
}

events::Event login(const std::string& id, const std::string& user) {
    events::Event event;
    event.id = id;
    event.type = "nimbus.identity.login.succeeded";
    event.source = "/nimbus/identity";
    event.subject = user;
    event.time_ms = SystemClock().now_ms();
    event.data_json = R"({"user_id":")" + user + R"(","ip":"203.0.113.9"})";
    return event;
}

class AuditStore : public ::testing::Test {
protected:
    void SetUp() override {
        if (backend() == db::Backend::postgres && !db::testing::postgres_admin_url()) {
            GTEST_SKIP() << "no PostgreSQL test cluster (NIMBUS_TEST_PG_URL_FILE)";
        }
        auto created = db::testing::TestDatabase::create(backend());
        ASSERT_TRUE(created) << created.error().message;
        test_db_ = std::move(*created);
        const db::ModuleMigrations modules[] = {{"audit", &audit::migrations()}};
        auto migrated = db::migrate_up(test_db_->db(), modules, clock_.now_ms());
        ASSERT_TRUE(migrated) << migrated.error().message;
    }

    /// `nimbus audit verify` against this store.
    Finished verify_cli() {
        std::string url = backend() == db::Backend::postgres
                              ? test_db_->options().url
                              : "sqlite:" + test_db_->options().sqlite_path;
        return run_process(kNimbus, {"audit", "verify", "--database-url", url, "--data-dir",
                                     (test_db_->dir() / "data").string()});
    }

    std::int64_t count(const std::string& sql) {
        auto rows = test_db_->db().query(sql);
        return rows ? rows->front().get_int(0) : -1;
    }

    SystemClock clock_;
    std::unique_ptr<db::testing::TestDatabase> test_db_;
};

TEST_F(AuditStore, NodesAppendingAtOnceKeepOneGapFreeChain) {
    std::vector<std::unique_ptr<db::Database>> nodes;
    for (int node = 0; node < kNodes; ++node) {
        auto opened = test_db_->open_again({});
        ASSERT_TRUE(opened) << opened.error().message;
        nodes.push_back(std::move(*opened));
    }
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int node = 0; node < kNodes; ++node) {
        threads.emplace_back([&, node] {
            audit::Log log(*nodes[static_cast<std::size_t>(node)], clock_);
            // Odd nodes append in batches (as the outbox hands them over), even ones one by one.
            std::vector<events::Event> batch;
            for (int i = 0; i < kEventsPerNode; ++i) {
                // Every node also delivers one shared event: it must be appended once.
                std::string id = i % 10 == 0
                                     ? "evt_shared_" + std::to_string(i)
                                     : "evt_" + std::to_string(node) + "_" + std::to_string(i);
                events::Event event = login(id, "usr_" + std::to_string(node));
                if (node % 2 == 0) {
                    if (!log.record(event)) ++failures;
                    continue;
                }
                batch.push_back(std::move(event));
                if (batch.size() == kBatch || i + 1 == kEventsPerNode) {
                    if (!log.record_all(batch)) ++failures;
                    batch.clear();
                }
            }
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(failures.load(), 0);
    constexpr int kShared = kEventsPerNode / 10;
    constexpr int kExpected = kNodes * (kEventsPerNode - kShared) + kShared;
    EXPECT_EQ(count("SELECT COUNT(*) FROM audit_entries"), kExpected);
    EXPECT_EQ(count("SELECT MAX(seq) FROM audit_entries"), kExpected);
    auto report = audit::Log(test_db_->db(), clock_).verify();
    ASSERT_TRUE(report) << report.error().message;
    EXPECT_TRUE(report->ok) << report->reason;
    EXPECT_EQ(report->entries, kExpected);
}

TEST_F(AuditStore, VerifyCommandReportsTheAlteredEntry) {
    audit::Log log(test_db_->db(), clock_);
    for (int i = 1; i <= 5; ++i) {
        ASSERT_TRUE(log.record(login("evt_" + std::to_string(i), "usr_1")));
    }
    Finished clean = verify_cli();
    EXPECT_EQ(clean.exit_status, 0) << clean.err;
    EXPECT_EQ(clean.out, "ok 5 entries\n");

    ASSERT_TRUE(db::testing::execute(
        test_db_->db(), "UPDATE audit_entries SET actor_id = 'usr_innocent' WHERE seq = 3"));
    Finished broken = verify_cli();
    EXPECT_EQ(broken.exit_status, 1) << broken.err;
    EXPECT_NE(broken.out.find("broken at seq 3"), std::string::npos) << broken.out;
}

TEST_F(AuditStore, ABatchAppendsItsAuditedEventsOnceInOrder) {
    audit::Log log(test_db_->db(), clock_);
    ASSERT_TRUE(log.record(login("evt_1", "usr_1")));
    events::Event unaudited = login("evt_3", "usr_1");
    unaudited.type = "nimbus.test.item.changed";
    // evt_1 was appended before and evt_2 comes twice: each is kept once; evt_3 is not audited.
    auto appended = log.record_all({login("evt_1", "usr_1"), login("evt_2", "usr_2"), unaudited,
                                    login("evt_2", "usr_2"), login("evt_4", "usr_4")});
    ASSERT_TRUE(appended) << appended.error().message;
    EXPECT_EQ(*appended, 2U);
    auto empty = log.record_all({});
    ASSERT_TRUE(empty);
    EXPECT_EQ(*empty, 0U);
    auto page = log.list({});
    ASSERT_TRUE(page) << page.error().message;
    ASSERT_EQ(page->entries.size(), 3U);  // newest first
    EXPECT_EQ(page->entries[0].id, "evt_4");
    EXPECT_EQ(page->entries[1].id, "evt_2");
    EXPECT_EQ(page->entries[2].id, "evt_1");
    auto report = log.verify();
    ASSERT_TRUE(report) << report.error().message;
    EXPECT_TRUE(report->ok) << report->reason;
    EXPECT_EQ(report->entries, 3);
}

TEST_F(AuditStore, VerifyCommandReportsAnEmptyLogAsOk) {
    Finished clean = verify_cli();
    EXPECT_EQ(clean.exit_status, 0) << clean.err;
    EXPECT_EQ(clean.out, "ok 0 entries\n");
}

}  // namespace
}  // namespace nimbus::test
