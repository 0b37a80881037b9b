// The dispatcher against real SQLite and PostgreSQL.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "backend_test.hpp"
#include "events/events.hpp"
#include "recorder.hpp"

namespace nimbus::events {
namespace {

using db::testing::TestDatabase;

constexpr std::int64_t kStartMs = 1'764'000'000'000;
constexpr std::chrono::milliseconds kInitialBackoff{100};
constexpr auto kWaitTimeout = std::chrono::seconds(20);

/// What a subscriber saw, in order; thread safe.
class Inbox {
public:
    void add(const std::string& node, const Event& event) {
        std::lock_guard lock(mutex_);
        entries_.push_back({node, event.id, event.subject});
    }
    struct Entry {
        std::string node;
        std::string event_id;
        std::string subject;
    };
    std::vector<Entry> entries() const {
        std::lock_guard lock(mutex_);
        return entries_;
    }
    std::size_t size() const {
        std::lock_guard lock(mutex_);
        return entries_.size();
    }
    /// Event ids per subject in the order they arrived.
    std::map<std::string, std::vector<std::string>> by_subject() const {
        std::map<std::string, std::vector<std::string>> out;
        for (const Entry& entry : entries()) out[entry.subject].push_back(entry.event_id);
        return out;
    }

private:
    mutable std::mutex mutex_;
    std::vector<Entry> entries_;
};

class DispatcherTest : public db::testing::BackendTest {
protected:
    void SetUp() override {
        BackendTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        auto ready = testing::prepare_schema(db(), kStartMs);
        ASSERT_TRUE(ready) << ready.error().message;
    }

    DispatcherOptions fast_options(std::string node_id) const {
        DispatcherOptions options;
        options.node_id = std::move(node_id);
        options.poll_interval = std::chrono::milliseconds(10);
        options.initial_backoff = kInitialBackoff;
        options.max_backoff = kInitialBackoff * 5;
        return options;
    }

    /// Emits one event per subject in `subjects`, each in its own transaction; returns the ids
    /// grouped by subject in emit order.
    std::map<std::string, std::vector<std::string>> emit_all(
        const std::vector<std::string>& subjects, const Clock& clock) {
        std::map<std::string, std::vector<std::string>> ids;
        for (const std::string& subject : subjects) {
            auto done = db().transact([&](db::Transaction& tx) -> Result<void> {
                auto id =
                    emit(tx, clock,
                         {"nimbus.test.item.changed", "/nimbus/test", subject, R"({"ok":true})"});
                if (!id) return id.error();
                ids[subject].push_back(*id);
                return {};
            });
            EXPECT_TRUE(done) << done.error().message;
        }
        return ids;
    }

    struct Delivery {
        std::string status;
        std::int64_t attempts = 0;
        std::int64_t next_attempt_ms = 0;
        std::optional<std::string> last_error;
    };
    Delivery delivery(const std::string& subscriber, const std::string& event_id) {
        auto row = db().query(
            "SELECT d.status, d.attempts, d.next_attempt_ms, d.last_error FROM outbox_deliveries d"
            " JOIN outbox_events e ON e.seq = d.event_seq WHERE d.subscriber = ? AND e.id = ?",
            {subscriber, event_id});
        EXPECT_TRUE(row && row->size() == 1);
        if (!row || row->empty()) return {};
        return {row->at(0).get_text(0), row->at(0).get_int(1), row->at(0).get_int(2),
                row->at(0).get_optional_text(3)};
    }

    template <class Predicate>
    bool wait_until(Predicate done) {
        const auto deadline = std::chrono::steady_clock::now() + kWaitTimeout;
        while (!done()) {
            if (std::chrono::steady_clock::now() > deadline) return false;
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        return true;
    }
};

TEST_P(DispatcherTest, DeliversEveryEventToEverySubscriberInOrderPerSubject) {
    SystemClock clock;
    Inbox audit;
    Inbox mailer;
    Dispatcher dispatcher(db(), clock, fast_options("node_a"));
    ASSERT_TRUE(dispatcher.subscribe("audit", [&](const Event& event) -> Result<void> {
        audit.add("a", event);
        return {};
    }));
    ASSERT_TRUE(dispatcher.subscribe("mailer", [&](const Event& event) -> Result<void> {
        mailer.add("a", event);
        return {};
    }));
    ASSERT_TRUE(dispatcher.start());
    std::vector<std::string> subjects;
    for (int event_idx = 0; event_idx < 60; ++event_idx) {
        subjects.push_back("item_" + std::to_string(event_idx % 4));
    }
    const auto emitted = emit_all(subjects, clock);
    dispatcher.wake();
    ASSERT_TRUE(wait_until([&] { return audit.size() >= 60 && mailer.size() >= 60; }));
    dispatcher.stop();
    EXPECT_EQ(audit.by_subject(), emitted);
    EXPECT_EQ(mailer.by_subject(), emitted);
    auto stats = outbox_stats(db(), clock);
    ASSERT_TRUE(stats);
    EXPECT_EQ(stats->pending_deliveries, 0);
    EXPECT_EQ(stats->undispatched_events, 0);
    EXPECT_EQ(stats->oldest_pending_age_ms, std::nullopt);
}

TEST_P(DispatcherTest, HandlersGetTheEnvelope) {
    ManualClock clock(kStartMs);
    std::vector<Event> seen;
    Dispatcher dispatcher(db(), clock, fast_options("node_a"));
    ASSERT_TRUE(dispatcher.subscribe("audit", [&](const Event& event) -> Result<void> {
        seen.push_back(event);
        return {};
    }));
    const auto emitted = emit_all({"usr_1"}, clock);
    auto attempted = dispatcher.run_once();
    ASSERT_TRUE(attempted) << attempted.error().message;
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].id, emitted.at("usr_1")[0]);
    EXPECT_EQ(seen[0].type, "nimbus.test.item.changed");
    EXPECT_EQ(seen[0].source, "/nimbus/test");
    EXPECT_EQ(seen[0].subject, "usr_1");
    EXPECT_EQ(seen[0].time_ms, kStartMs);
    EXPECT_EQ(seen[0].data_json, R"({"ok":true})");
    EXPECT_EQ(seen[0].attempt, 1);
    EXPECT_NE(seen[0].envelope_json.find(R"("specversion":"1.0")"), std::string::npos);
}

TEST_P(DispatcherTest, EmitInARolledBackTransactionYieldsNothing) {
    ManualClock clock(kStartMs);
    Inbox inbox;
    Dispatcher dispatcher(db(), clock, fast_options("node_a"));
    ASSERT_TRUE(dispatcher.subscribe("audit", [&](const Event& event) -> Result<void> {
        inbox.add("a", event);
        return {};
    }));
    {
        auto tx = db().begin();
        ASSERT_TRUE(tx);
        ASSERT_TRUE(emit(**tx, clock, {"nimbus.test.item.changed", "/nimbus/test", "s", "{}"}));
    }  // destroyed without commit
    auto failed = db().transact([&](db::Transaction& tx) -> Result<void> {
        auto id = emit(tx, clock, {"nimbus.test.item.changed", "/nimbus/test", "s", "{}"});
        if (!id) return id.error();
        return Error::conflict("the business change failed");
    });
    ASSERT_FALSE(failed);
    auto attempted = dispatcher.run_once();
    ASSERT_TRUE(attempted);
    EXPECT_EQ(*attempted, 0);
    EXPECT_EQ(inbox.size(), 0u);
    auto stats = dispatcher.stats();
    ASSERT_TRUE(stats);
    EXPECT_EQ(stats->undispatched_events + stats->pending_deliveries, 0);
}

TEST_P(DispatcherTest, FailuresRetryWithBackoffAndHoldBackLaterEventsOfTheSameSubject) {
    ManualClock clock(kStartMs);
    Inbox inbox;
    int failures_left = 2;
    Dispatcher dispatcher(db(), clock, fast_options("node_a"));
    ASSERT_TRUE(dispatcher.subscribe("audit", [&](const Event& event) -> Result<void> {
        if (event.subject == "a" && failures_left > 0) {
            --failures_left;
            return Error::unavailable("downstream is down");
        }
        inbox.add("a", event);
        return {};
    }));
    const auto emitted = emit_all({"a", "a", "b"}, clock);
    const std::string& a1 = emitted.at("a")[0];
    const std::string& a2 = emitted.at("a")[1];
    const std::string& b1 = emitted.at("b")[0];

    ASSERT_TRUE(dispatcher.run_once());
    // a1 failed; a2 waits behind it; b is not held up by a.
    ASSERT_EQ(inbox.size(), 1u);
    EXPECT_EQ(inbox.entries()[0].event_id, b1);
    Delivery first = delivery("audit", a1);
    EXPECT_EQ(first.status, "pending");
    EXPECT_EQ(first.attempts, 1);
    EXPECT_EQ(first.last_error, "downstream is down");
    EXPECT_EQ(first.next_attempt_ms, kStartMs + kInitialBackoff.count());
    EXPECT_EQ(delivery("audit", a2).attempts, 0);

    // Not due yet: nothing happens, even for a2.
    clock.advance_ms(kInitialBackoff.count() - 1);
    auto idle = dispatcher.run_once();
    ASSERT_TRUE(idle);
    EXPECT_EQ(*idle, 0);
    EXPECT_EQ(inbox.size(), 1u);

    // Second failure doubles the wait.
    clock.advance_ms(1);
    ASSERT_TRUE(dispatcher.run_once());
    Delivery second = delivery("audit", a1);
    EXPECT_EQ(second.attempts, 2);
    EXPECT_EQ(second.next_attempt_ms, clock.now_ms() + 2 * kInitialBackoff.count());
    EXPECT_EQ(inbox.size(), 1u);

    // Third attempt succeeds; a2 follows in the next pass.
    clock.advance_ms(2 * kInitialBackoff.count());
    ASSERT_TRUE(dispatcher.run_once());
    ASSERT_TRUE(dispatcher.run_once());
    const auto entries = inbox.entries();
    ASSERT_EQ(entries.size(), 3u);
    EXPECT_EQ(entries[1].event_id, a1);
    EXPECT_EQ(entries[2].event_id, a2);
    Delivery done = delivery("audit", a1);
    EXPECT_EQ(done.status, "delivered");
    EXPECT_EQ(done.attempts, 3);
    EXPECT_EQ(delivery("audit", a2).attempts, 1);
}

TEST_P(DispatcherTest, BackoffIsCapped) {
    ManualClock clock(kStartMs);
    Dispatcher dispatcher(db(), clock, fast_options("node_a"));
    ASSERT_TRUE(dispatcher.subscribe(
        "broken", [](const Event&) -> Result<void> { throw std::runtime_error("handler bug"); }));
    const auto emitted = emit_all({"s"}, clock);
    const std::string& id = emitted.at("s")[0];
    const std::int64_t expected_waits[] = {100, 200, 400, 500, 500};  // max_backoff = 5 x 100
    for (std::int64_t expected : expected_waits) {
        ASSERT_TRUE(dispatcher.run_once());
        Delivery state = delivery("broken", id);
        EXPECT_EQ(state.next_attempt_ms - clock.now_ms(), expected);
        EXPECT_EQ(state.last_error, "handler threw: handler bug");
        clock.advance_ms(expected);
    }
    EXPECT_EQ(delivery("broken", id).attempts, 5);
}

TEST_P(DispatcherTest, LeasedDeliveriesWaitForTheLeaseToExpire) {
    ManualClock clock(kStartMs);
    Inbox inbox;
    DispatcherOptions options = fast_options("node_b");
    Dispatcher dispatcher(db(), clock, options);
    ASSERT_TRUE(dispatcher.subscribe("audit", [&](const Event& event) -> Result<void> {
        inbox.add("b", event);
        return {};
    }));
    ASSERT_TRUE(dispatcher.run_once());  // registers the subscriber
    const auto emitted = emit_all({"s"}, clock);
    // Fan the event out, then pretend another node claimed it and is still working on it.
    ASSERT_TRUE(db().transact([&](db::Transaction& tx) -> Result<void> {
        auto fanned = tx.execute(
            "INSERT INTO outbox_deliveries (subscriber, event_seq, subject, next_attempt_ms,"
            " claimed_by, lease_until_ms) SELECT 'audit', seq, subject, CAST(? AS BIGINT),"
            " 'node_other', CAST(? AS BIGINT)"
            " FROM outbox_events",
            {kStartMs, kStartMs + 10'000});
        if (!fanned) return fanned.error();
        auto marked = tx.execute("UPDATE outbox_events SET fanned_out = 1");
        if (!marked) return marked.error();
        return {};
    }));
    ASSERT_TRUE(dispatcher.run_once());
    EXPECT_EQ(inbox.size(), 0u) << "another node holds the lease";
    clock.advance_ms(10'000);
    ASSERT_TRUE(dispatcher.run_once());
    ASSERT_EQ(inbox.size(), 1u) << "an expired lease is taken over";
    EXPECT_EQ(inbox.entries()[0].event_id, emitted.at("s")[0]);
}

TEST_P(DispatcherTest, PrunesDeliveredEventsAfterRetention) {
    ManualClock clock(kStartMs);
    DispatcherOptions options = fast_options("node_a");
    options.retention = std::chrono::milliseconds(1000);
    options.prune_interval = std::chrono::milliseconds(0);
    bool fail_b = true;
    Dispatcher dispatcher(db(), clock, options);
    ASSERT_TRUE(dispatcher.subscribe("audit", [&](const Event& event) -> Result<void> {
        if (event.subject == "b" && fail_b) return Error::unavailable("later");
        return {};
    }));
    emit_all({"a", "b"}, clock);
    ASSERT_TRUE(dispatcher.run_once());
    clock.advance_ms(1001);
    ASSERT_TRUE(dispatcher.run_once());
    auto rows = db().query("SELECT subject FROM outbox_events");
    ASSERT_TRUE(rows);
    ASSERT_EQ(rows->size(), 1u) << "the delivered event is gone, the pending one stays";
    EXPECT_EQ(rows->at(0).get_text(0), "b");
    auto deliveries = db().query("SELECT COUNT(*) FROM outbox_deliveries");
    ASSERT_TRUE(deliveries);
    EXPECT_EQ(deliveries->at(0).get_int(0), 1);
}

TEST_P(DispatcherTest, ResumesAfterARestart) {
    SystemClock clock;
    const auto emitted = emit_all({"a", "b", "a"}, clock);
    {
        // A first run that fails everything, then goes away.
        Dispatcher first(db(), clock, fast_options("node_a"));
        ASSERT_TRUE(first.subscribe(
            "audit", [](const Event&) -> Result<void> { return Error::unavailable("not yet"); }));
        ASSERT_TRUE(first.run_once());
    }
    Inbox inbox;
    DispatcherOptions options = fast_options("node_a");
    options.initial_backoff = std::chrono::milliseconds(1);
    Dispatcher second(db(), clock, options);
    ASSERT_TRUE(second.subscribe("audit", [&](const Event& event) -> Result<void> {
        inbox.add("a", event);
        return {};
    }));
    ASSERT_TRUE(second.start());
    ASSERT_TRUE(wait_until([&] { return inbox.size() >= 3; }));
    second.stop();
    EXPECT_EQ(inbox.by_subject(), emitted);
}

TEST_P(DispatcherTest, BatchSubscribersGetEachPassInOneCall) {
    ManualClock clock(kStartMs);
    std::vector<std::vector<std::string>> calls;  // event ids per call
    Dispatcher dispatcher(db(), clock, fast_options("node_a"));
    ASSERT_TRUE(
        dispatcher.subscribe_batch("audit", [&](const std::vector<Event>& events) -> Result<void> {
            calls.emplace_back();
            for (const Event& event : events) calls.back().push_back(event.id);
            return {};
        }));
    const auto emitted = emit_all({"a", "b", "c", "a"}, clock);
    auto attempted = dispatcher.run_once();
    ASSERT_TRUE(attempted) << attempted.error().message;
    // One per subject per pass: the second event of "a" follows in the next pass.
    EXPECT_EQ(*attempted, 3);
    ASSERT_EQ(calls.size(), 1U);
    EXPECT_EQ(calls[0], (std::vector<std::string>{emitted.at("a")[0], emitted.at("b")[0],
                                                  emitted.at("c")[0]}));
    ASSERT_TRUE(dispatcher.run_once());
    ASSERT_EQ(calls.size(), 2U);
    EXPECT_EQ(calls[1], std::vector<std::string>{emitted.at("a")[1]});
    for (const auto& [subject, ids] : emitted) {
        for (const std::string& id : ids) EXPECT_EQ(delivery("audit", id).status, "delivered");
    }
}

TEST_P(DispatcherTest, AFailedBatchIsRetriedEventByEventSoOnlyTheBadOneWaits) {
    ManualClock clock(kStartMs);
    const auto emitted = emit_all({"good_1", "bad", "good_2"}, clock);
    const std::string& bad = emitted.at("bad")[0];
    std::vector<std::size_t> call_sizes;
    Inbox inbox;
    Dispatcher dispatcher(db(), clock, fast_options("node_a"));
    ASSERT_TRUE(
        dispatcher.subscribe_batch("audit", [&](const std::vector<Event>& events) -> Result<void> {
            call_sizes.push_back(events.size());
            for (const Event& event : events) {
                if (event.id == bad) {
                    if (events.size() > 1) throw std::runtime_error("the batch broke");
                    return Error::unavailable("this one cannot be stored");
                }
            }
            for (const Event& event : events) inbox.add("a", event);
            return {};
        }));
    ASSERT_TRUE(dispatcher.run_once());
    // The batch (3), then each event alone (1, 1, 1).
    EXPECT_EQ(call_sizes, (std::vector<std::size_t>{3, 1, 1, 1}));
    EXPECT_EQ(inbox.size(), 2U);
    EXPECT_EQ(delivery("audit", emitted.at("good_1")[0]).status, "delivered");
    EXPECT_EQ(delivery("audit", emitted.at("good_2")[0]).status, "delivered");
    Delivery failed = delivery("audit", bad);
    EXPECT_EQ(failed.status, "pending");
    EXPECT_EQ(failed.attempts, 1);
    EXPECT_EQ(failed.last_error, "this one cannot be stored");
    EXPECT_EQ(failed.next_attempt_ms, kStartMs + kInitialBackoff.count());
}

INSTANTIATE_TEST_SUITE_P(Backends, DispatcherTest, db::testing::kBothBackends,
                         db::testing::backend_name);

// Several nodes on one PostgreSQL share the work without delivering an event to a subscriber twice
// or concurrently.
TEST(MultiNodeTest, TwoNodesDeliverEachEventOncePerSubscriber) {
    if (!db::testing::postgres_admin_url()) GTEST_SKIP() << "PostgreSQL not configured";
    constexpr int kEvents = 200;
    constexpr int kSubjects = 20;
    constexpr int kNodes = 2;
    auto store = TestDatabase::create(db::Backend::postgres);
    ASSERT_TRUE(store) << store.error().message;
    ASSERT_TRUE(testing::prepare_schema((*store)->db(), kStartMs));
    SystemClock clock;

    Inbox inbox;
    std::mutex in_flight_mutex;
    std::set<std::pair<std::string, std::string>> in_flight;
    std::atomic<int> overlaps{0};
    std::vector<std::unique_ptr<db::Database>> node_dbs;
    std::vector<std::unique_ptr<Dispatcher>> nodes;
    for (int node_idx = 0; node_idx < kNodes; ++node_idx) {
        auto node_db = (*store)->open_again({});
        ASSERT_TRUE(node_db) << node_db.error().message;
        node_dbs.push_back(std::move(*node_db));
        DispatcherOptions options;
        options.node_id = "node_" + std::to_string(node_idx);
        options.poll_interval = std::chrono::milliseconds(5);
        options.batch_size = 7;  // small batches so that both nodes get some of the work
        auto node = std::make_unique<Dispatcher>(*node_dbs.back(), clock, options);
        for (const std::string subscriber : {"audit", "mailer"}) {
            ASSERT_TRUE(node->subscribe(
                subscriber,
                [&, subscriber, node_name = options.node_id](const Event& event) -> Result<void> {
                    const auto key = std::make_pair(subscriber, event.id);
                    {
                        std::lock_guard lock(in_flight_mutex);
                        if (!in_flight.insert(key).second) ++overlaps;
                    }
                    std::this_thread::sleep_for(std::chrono::microseconds(200));
                    inbox.add(node_name + "/" + subscriber, event);
                    std::lock_guard lock(in_flight_mutex);
                    in_flight.erase(key);
                    return {};
                }));
        }
        nodes.push_back(std::move(node));
    }
    for (auto& node : nodes) ASSERT_TRUE(node->start());

    std::map<std::string, std::vector<std::string>> emitted;
    for (int event_idx = 0; event_idx < kEvents; ++event_idx) {
        const std::string subject = "item_" + std::to_string(event_idx % kSubjects);
        ASSERT_TRUE((*store)->db().transact([&](db::Transaction& tx) -> Result<void> {
            auto id = emit(tx, clock, {"nimbus.test.item.changed", "/nimbus/test", subject, "{}"});
            if (!id) return id.error();
            emitted[subject].push_back(*id);
            return {};
        }));
        nodes[static_cast<std::size_t>(event_idx % kNodes)]->wake();
    }
    const auto deadline = std::chrono::steady_clock::now() + kWaitTimeout;
    while (inbox.size() < 2 * kEvents && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let duplicates show up
    for (auto& node : nodes) node->stop();

    EXPECT_EQ(overlaps.load(), 0);
    std::map<std::string, std::map<std::string, std::vector<std::string>>> per_subscriber;
    std::map<std::pair<std::string, std::string>, int> deliveries;
    std::set<std::string> nodes_that_worked;
    for (const auto& entry : inbox.entries()) {
        const std::string subscriber = entry.node.substr(entry.node.find('/') + 1);
        nodes_that_worked.insert(entry.node.substr(0, entry.node.find('/')));
        per_subscriber[subscriber][entry.subject].push_back(entry.event_id);
        ++deliveries[{subscriber, entry.event_id}];
    }
    EXPECT_EQ(deliveries.size(), static_cast<std::size_t>(2 * kEvents));
    for (const auto& [key, count] : deliveries) {
        EXPECT_EQ(count, 1) << key.first << " got " << key.second << " " << count << " times";
    }
    EXPECT_EQ(per_subscriber["audit"], emitted);
    EXPECT_EQ(per_subscriber["mailer"], emitted);
    std::printf("multi-node: nodes that delivered: %zu\n", nodes_that_worked.size());
}

}  // namespace
}  // namespace nimbus::events
