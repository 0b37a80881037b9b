// emit() and the dispatcher's basics on a real SQLite file; tests/integration/events covers both
// backends, several nodes and crashes.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <filesystem>

#include <unistd.h>

#include "core/ids.hpp"
#include "events/events.hpp"

namespace nimbus::events {
namespace {

constexpr std::int64_t kStartMs = 1'764'000'000'000;  // 2025-11-24T16:00:00Z

class OutboxTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "nimbus-events-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
        db::Options options;
        options.sqlite_path = (dir_ / "events.db").string();
        auto db = db::open(options);
        ASSERT_TRUE(db) << db.error().message;
        db_ = std::move(*db);
        const db::ModuleMigrations modules[] = {{"events", &migrations()}};
        auto migrated = db::migrate_up(*db_, modules, kStartMs);
        ASSERT_TRUE(migrated) << migrated.error().message;
    }
    void TearDown() override {
        db_.reset();
        std::filesystem::remove_all(dir_);
    }

    Result<std::string> emit_one(const EventDraft& draft) {
        std::string id;
        auto done = db_->transact([&](db::Transaction& tx) -> Result<void> {
            auto emitted = emit(tx, clock_, draft);
            if (!emitted) return emitted.error();
            id = *emitted;
            return {};
        });
        if (!done) return done.error();
        return id;
    }

    std::filesystem::path dir_;
    std::unique_ptr<db::Database> db_;
    ManualClock clock_{kStartMs};
};

const EventDraft kUserCreated{"nimbus.identity.user.created", "/nimbus/identity", "usr_1",
                              R"({"email":"a@example.com","n":1})"};

TEST_F(OutboxTest, WritesACloudEventsEnvelope) {
    auto id = emit_one(kUserCreated);
    ASSERT_TRUE(id) << id.error().message;
    EXPECT_TRUE(is_valid_id(*id, "evt")) << *id;
    auto rows = db_->query("SELECT envelope, data, time_ms FROM outbox_events WHERE id = ?", {*id});
    ASSERT_TRUE(rows);
    ASSERT_EQ(rows->size(), 1u);
    auto envelope = boost::json::parse(rows->at(0).get_text(0)).as_object();
    EXPECT_EQ(envelope.at("specversion"), "1.0");
    EXPECT_EQ(envelope.at("id").as_string(), *id);
    EXPECT_EQ(envelope.at("source"), "/nimbus/identity");
    EXPECT_EQ(envelope.at("type"), "nimbus.identity.user.created");
    EXPECT_EQ(envelope.at("subject"), "usr_1");
    EXPECT_EQ(envelope.at("time"), "2025-11-24T16:00:00.000Z");
    EXPECT_EQ(envelope.at("datacontenttype"), "application/json");
    EXPECT_EQ(envelope.at("data").at("email"), "a@example.com");
    EXPECT_EQ(boost::json::parse(rows->at(0).get_text(1)), envelope.at("data"));
    EXPECT_EQ(rows->at(0).get_int(2), kStartMs);
}

TEST_F(OutboxTest, RejectsMalformedDrafts) {
    const std::vector<EventDraft> bad = {
        {"", "/nimbus/identity", "usr_1", "{}"},
        {"Nimbus.Identity.User", "/nimbus/identity", "usr_1", "{}"},
        {"nimbus.identity user", "/nimbus/identity", "usr_1", "{}"},
        {"nimbus.identity.user.created", "nimbus/identity", "usr_1", "{}"},
        {"nimbus.identity.user.created", "/nimbus/identity", "", "{}"},
        {"nimbus.identity.user.created", "/nimbus/identity", "usr_1", "{not json"},
        {"nimbus.identity.user.created", "/nimbus/identity", std::string(600, 'x'), "{}"},
    };
    for (const EventDraft& draft : bad) {
        auto id = emit_one(draft);
        ASSERT_FALSE(id) << draft.type << " " << draft.source << " " << draft.data_json;
        EXPECT_EQ(id.error().code, ErrorCode::invalid_argument);
    }
    auto rows = db_->query("SELECT COUNT(*) FROM outbox_events");
    ASSERT_TRUE(rows);
    EXPECT_EQ(rows->at(0).get_int(0), 0);
}

TEST_F(OutboxTest, RolledBackEmitLeavesNothing) {
    auto failed = db_->transact([&](db::Transaction& tx) -> Result<void> {
        auto emitted = emit(tx, clock_, kUserCreated);
        if (!emitted) return emitted.error();
        return Error::conflict("the change itself failed");
    });
    ASSERT_FALSE(failed);
    auto stats = outbox_stats(*db_, clock_);
    ASSERT_TRUE(stats);
    EXPECT_EQ(stats->undispatched_events, 0);
    EXPECT_EQ(stats->pending_deliveries, 0);
}

TEST_F(OutboxTest, StatsReportBacklogAndAge) {
    constexpr std::int64_t kLaterMs = 1500;
    ASSERT_TRUE(emit_one(kUserCreated));
    clock_.advance_ms(kLaterMs);
    auto stats = outbox_stats(*db_, clock_);
    ASSERT_TRUE(stats);
    EXPECT_EQ(stats->undispatched_events, 1);
    EXPECT_EQ(stats->oldest_pending_age_ms, kLaterMs);

    Dispatcher dispatcher(*db_, clock_);
    ASSERT_TRUE(dispatcher.subscribe(
        "failing", [](const Event&) -> Result<void> { return Error::unavailable("not now"); }));
    ASSERT_TRUE(dispatcher.run_once());
    stats = dispatcher.stats();
    ASSERT_TRUE(stats);
    EXPECT_EQ(stats->undispatched_events, 0);
    EXPECT_EQ(stats->pending_deliveries, 1);
    EXPECT_EQ(stats->oldest_pending_age_ms, kLaterMs);
}

TEST_F(OutboxTest, SubscribeValidatesNamesAndTiming) {
    Dispatcher dispatcher(*db_, clock_);
    auto ok = [](const Event&) -> Result<void> { return {}; };
    EXPECT_TRUE(dispatcher.subscribe("audit", ok));
    EXPECT_FALSE(dispatcher.subscribe("audit", ok));
    EXPECT_FALSE(dispatcher.subscribe("Bad Name", ok));
    EXPECT_FALSE(dispatcher.subscribe("", ok));
    EXPECT_FALSE(dispatcher.subscribe("empty", Handler()));
    ASSERT_TRUE(dispatcher.start());
    EXPECT_FALSE(dispatcher.subscribe("late", ok));
    EXPECT_FALSE(dispatcher.start());
    dispatcher.stop();
    dispatcher.stop();
}

}  // namespace
}  // namespace nimbus::events
