// The dispatcher: one background thread that, per pass,
//   1. fans new outbox events out into one delivery row per registered subscriber,
//   2. per local subscriber, claims the deliveries that are due and first in line for their
//      subject (a lease: claimed_by + lease_until_ms, taken with FOR UPDATE SKIP LOCKED on
//      PostgreSQL), runs the handler outside any transaction (one call per event, or one per
//      batch for subscribe_batch()), and records the outcomes in one transaction,
//   3. now and then prunes events every subscriber has received.
// All state is in the database, so a new process picks up where a dead one stopped.

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "core/ids.hpp"
#include "events/events.hpp"

namespace nimbus::events {
namespace {

/// Doubling stops here; with the cap on the delay this only guards the shift against overflow.
constexpr int kMaxBackoffDoublings = 30;
/// Longest error text kept per delivery.
constexpr std::size_t kMaxErrorLength = 1000;

bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

/// A delivery this node has leased, with what the handler needs.
struct Claimed {
    std::int64_t event_seq = 0;
    Event event;
};

/// Why each event of a batch failed (nullopt: delivered), in the batch's order.
using Outcomes = std::vector<std::optional<std::string>>;
/// How a subscriber takes a batch of events: every subscriber is held as one of these.
using Deliver = std::function<Outcomes(const std::vector<Event>& events)>;

/// Runs `call` and turns an error or an exception into a failure message, kept short.
template <typename Call>
std::optional<std::string> failure_of(Call&& call) {
    std::optional<std::string> failure;
    try {
        auto handled = call();
        if (!handled) failure = handled.error().message;
    } catch (const std::exception& thrown) {
        failure = fmt::format("handler threw: {}", thrown.what());
    } catch (...) {
        failure = "handler threw a non-standard exception";
    }
    if (failure && failure->size() > kMaxErrorLength) failure->resize(kMaxErrorLength);
    return failure;
}

/// A one-event handler: called per event, each with its own outcome.
Deliver each(Handler handler) {
    return [handler = std::move(handler)](const std::vector<Event>& events) {
        Outcomes outcomes;
        outcomes.reserve(events.size());
        for (const Event& event : events) {
            outcomes.push_back(failure_of([&] { return handler(event); }));
        }
        return outcomes;
    };
}

/// A batch handler: the whole batch in one call; when it fails, each event alone, so that one
/// event that cannot be handled does not hold back the others (the handler promises that a
/// failed call changed nothing).
Deliver batched(BatchHandler handler) {
    return [handler = std::move(handler)](const std::vector<Event>& events) {
        if (!failure_of([&] { return handler(events); })) return Outcomes(events.size());
        Outcomes outcomes;
        outcomes.reserve(events.size());
        for (const Event& event : events) {
            outcomes.push_back(failure_of([&] { return handler(std::vector<Event>{event}); }));
        }
        return outcomes;
    };
}

std::int64_t backoff_ms(const DispatcherOptions& options, int attempts) {
    const int doublings = std::clamp(attempts - 1, 0, kMaxBackoffDoublings);
    const std::int64_t delay = options.initial_backoff.count() * (std::int64_t{1} << doublings);
    return std::min<std::int64_t>(delay, options.max_backoff.count());
}

}  // namespace

struct Dispatcher::State {
    State(db::Database& database, const Clock& time, DispatcherOptions opts)
        : db(database), clock(time), options(std::move(opts)) {
        if (options.node_id.empty()) options.node_id = new_id("node", clock.now_ms());
    }

    db::Database& db;
    const Clock& clock;
    DispatcherOptions options;
    std::vector<std::pair<std::string, Deliver>> subscribers;  // fixed once started
    bool started = false;

    std::mutex pass_mutex;  // one pass at a time, whether from the thread or run_once()
    bool registered = false;
    std::int64_t next_prune_ms = 0;

    std::mutex wake_mutex;
    std::condition_variable wake_cv;
    bool wake_requested = false;
    bool stopping = false;
    std::thread thread;

    Result<void> register_subscribers();
    Result<int> fan_out();
    Result<int> deliver(const std::string& subscriber, const Deliver& handler);
    Result<void> add_subscriber(std::string name, Deliver handler);
    Result<std::vector<Claimed>> claim(const std::string& subscriber);
    Result<void> prune();
    Result<int> pass();
    void loop();
};

Result<void> Dispatcher::State::register_subscribers() {
    return db.transact([&](db::Transaction& tx) -> Result<void> {
        const std::int64_t now_ms = clock.now_ms();
        for (const auto& [name, handler] : subscribers) {
            auto done = tx.execute(
                "INSERT INTO outbox_subscribers (name, registered_at_ms) VALUES (?, ?)"
                " ON CONFLICT DO NOTHING",
                {name, now_ms});
            if (!done) return done.error();
        }
        // Leases of an earlier run of this node are void: that process is gone. Embedded SQLite
        // runs a single node, so there every lease belongs to a dead predecessor.
        auto released =
            tx.backend() == db::Backend::sqlite
                ? tx.execute(
                      "UPDATE outbox_deliveries SET claimed_by = NULL, lease_until_ms = NULL"
                      " WHERE claimed_by IS NOT NULL")
                : tx.execute(
                      "UPDATE outbox_deliveries SET claimed_by = NULL, lease_until_ms = NULL"
                      " WHERE claimed_by = ?",
                      {options.node_id});
        if (!released) return released.error();
        return {};
    });
}

Result<int> Dispatcher::State::fan_out() {
    int fanned = 0;
    auto done = db.transact([&](db::Transaction& tx) -> Result<void> {
        const bool postgres = tx.backend() == db::Backend::postgres;
        auto events =
            tx.query(postgres ? "SELECT seq, subject FROM outbox_events WHERE fanned_out = 0"
                                " ORDER BY seq LIMIT ? FOR UPDATE SKIP LOCKED"
                              : "SELECT seq, subject FROM outbox_events WHERE fanned_out = 0"
                                " ORDER BY seq LIMIT ?",
                     {options.batch_size});
        if (!events) return events.error();
        const std::int64_t now_ms = clock.now_ms();
        for (const db::Row& event : *events) {
            // WHERE 1 = 1 lets SQLite parse ON CONFLICT after INSERT ... SELECT.
            auto inserted = tx.execute(
                "INSERT INTO outbox_deliveries"
                " (subscriber, event_seq, subject, status, attempts, next_attempt_ms)"
                " SELECT name, CAST(? AS BIGINT), CAST(? AS TEXT), 'pending', 0, CAST(? AS BIGINT)"
                " FROM outbox_subscribers WHERE 1 = 1 ON CONFLICT DO NOTHING",
                {event.get_int(0), event.get_text(1), now_ms});
            if (!inserted) return inserted.error();
            auto marked = tx.execute("UPDATE outbox_events SET fanned_out = 1 WHERE seq = ?",
                                     {event.get_int(0)});
            if (!marked) return marked.error();
            ++fanned;
        }
        return {};
    });
    if (!done) return done.error();
    return fanned;
}

Result<std::vector<Claimed>> Dispatcher::State::claim(const std::string& subscriber) {
    std::vector<Claimed> claimed;
    auto done = db.transact([&](db::Transaction& tx) -> Result<void> {
        const std::int64_t now_ms = clock.now_ms();
        // Due, not leased by a live node, and first in line: no earlier pending delivery of the
        // same subject to this subscriber (whatever its lease or backoff), which is what keeps
        // per-subject order through failures and retries.
        std::string sql =
            "SELECT d.event_seq, d.attempts, e.id, e.type, e.source, e.subject, e.time_ms, e.data,"
            " e.envelope FROM outbox_deliveries d JOIN outbox_events e ON e.seq = d.event_seq"
            " WHERE d.subscriber = ? AND d.status = 'pending' AND d.next_attempt_ms <= ?"
            " AND (d.lease_until_ms IS NULL OR d.lease_until_ms <= ?)"
            " AND NOT EXISTS (SELECT 1 FROM outbox_deliveries p WHERE p.subscriber = d.subscriber"
            " AND p.subject = d.subject AND p.status = 'pending' AND p.event_seq < d.event_seq)"
            " ORDER BY d.event_seq LIMIT ?";
        if (tx.backend() == db::Backend::postgres) sql += " FOR UPDATE OF d SKIP LOCKED";
        auto rows = tx.query(sql, {subscriber, now_ms, now_ms, options.batch_size});
        if (!rows) return rows.error();
        const std::int64_t lease_until_ms = now_ms + options.lease_duration.count();
        for (const db::Row& row : *rows) {
            auto leased = tx.execute(
                "UPDATE outbox_deliveries SET claimed_by = ?, lease_until_ms = ?"
                " WHERE subscriber = ? AND event_seq = ?",
                {options.node_id, lease_until_ms, subscriber, row.get_int(0)});
            if (!leased) return leased.error();
            Claimed item;
            item.event_seq = row.get_int(0);
            item.event.attempt = static_cast<int>(row.get_int(1)) + 1;
            item.event.id = row.get_text(2);
            item.event.type = row.get_text(3);
            item.event.source = row.get_text(4);
            item.event.subject = row.get_text(5);
            item.event.time_ms = row.get_int(6);
            item.event.data_json = row.get_text(7);
            item.event.envelope_json = row.get_text(8);
            claimed.push_back(std::move(item));
        }
        return {};
    });
    if (!done) return done.error();
    return claimed;
}

Result<int> Dispatcher::State::deliver(const std::string& subscriber, const Deliver& handler) {
    auto claimed = claim(subscriber);
    if (!claimed) return claimed.error();
    if (claimed->empty()) return 0;

    // Handlers run outside any transaction: they may use the store themselves, and a slow handler
    // must not hold the SQLite writer.
    std::vector<Event> events;
    events.reserve(claimed->size());
    for (const Claimed& item : *claimed) events.push_back(item.event);
    Outcomes failures = handler(events);
    failures.resize(claimed->size());

    // One transaction acknowledges the batch. Dying before it commits means redelivery (at least
    // once); `claimed_by = ?` makes an acknowledgement after the lease passed to another node a
    // no-op rather than a clobber.
    auto recorded = db.transact([&](db::Transaction& tx) -> Result<void> {
        const std::int64_t now_ms = clock.now_ms();
        for (std::size_t item_idx = 0; item_idx < claimed->size(); ++item_idx) {
            const Claimed& item = (*claimed)[item_idx];
            const auto& failure = failures[item_idx];
            auto done = failure ? tx.execute(
                                      "UPDATE outbox_deliveries SET attempts = attempts + 1,"
                                      " last_error = ?, next_attempt_ms = ?, claimed_by = NULL,"
                                      " lease_until_ms = NULL"
                                      " WHERE subscriber = ? AND event_seq = ? AND claimed_by = ?",
                                      {*failure, now_ms + backoff_ms(options, item.event.attempt),
                                       subscriber, item.event_seq, options.node_id})
                                : tx.execute(
                                      "UPDATE outbox_deliveries SET status = 'delivered',"
                                      " attempts = attempts + 1, delivered_at_ms = ?,"
                                      " claimed_by = NULL, lease_until_ms = NULL"
                                      " WHERE subscriber = ? AND event_seq = ? AND claimed_by = ?",
                                      {now_ms, subscriber, item.event_seq, options.node_id});
            if (!done) return done.error();
        }
        return {};
    });
    if (!recorded) return recorded.error();
    return static_cast<int>(claimed->size());
}

Result<void> Dispatcher::State::prune() {
    const std::int64_t now_ms = clock.now_ms();
    if (now_ms < next_prune_ms) return {};
    next_prune_ms = now_ms + options.prune_interval.count();
    return db.transact([&](db::Transaction& tx) -> Result<void> {
        // Deliveries go with their event (ON DELETE CASCADE).
        auto deleted = tx.execute(
            "DELETE FROM outbox_events WHERE seq IN (SELECT e.seq FROM outbox_events e"
            " WHERE e.fanned_out = 1 AND e.time_ms < ? AND NOT EXISTS (SELECT 1 FROM"
            " outbox_deliveries d WHERE d.event_seq = e.seq AND d.status = 'pending')"
            " ORDER BY e.seq LIMIT ?)",
            {now_ms - options.retention.count(), options.batch_size});
        if (!deleted) return deleted.error();
        return {};
    });
}

Result<int> Dispatcher::State::pass() {
    std::lock_guard lock(pass_mutex);
    if (!registered) {
        if (auto done = register_subscribers(); !done) return done.error();
        registered = true;
    }
    auto fanned = fan_out();
    if (!fanned) return fanned.error();
    int attempted = 0;
    for (const auto& [name, handler] : subscribers) {
        auto delivered = deliver(name, handler);
        if (!delivered) return delivered.error();
        attempted += *delivered;
    }
    if (auto pruned = prune(); !pruned) return pruned.error();
    // A full fan-out batch means more events wait: report work so the loop goes again at once.
    return attempted + (*fanned >= options.batch_size ? 1 : 0);
}

void Dispatcher::State::loop() {
    for (;;) {
        {
            std::lock_guard lock(wake_mutex);
            if (stopping) return;
            wake_requested = false;
        }
        auto worked = pass();
        if (!worked && options.on_error) options.on_error(worked.error());
        if (worked && *worked > 0) continue;  // more may be due right away
        std::unique_lock lock(wake_mutex);
        wake_cv.wait_for(lock, options.poll_interval, [&] { return stopping || wake_requested; });
    }
}

Dispatcher::Dispatcher(db::Database& db, const Clock& clock, DispatcherOptions options)
    : state_(std::make_unique<State>(db, clock, std::move(options))) {}

Dispatcher::~Dispatcher() { stop(); }

Result<void> Dispatcher::subscribe(std::string name, Handler handler) {
    if (!handler) return Error::invalid("subscriber handler is empty");
    return state_->add_subscriber(std::move(name), each(std::move(handler)));
}

Result<void> Dispatcher::subscribe_batch(std::string name, BatchHandler handler) {
    if (!handler) return Error::invalid("subscriber handler is empty");
    return state_->add_subscriber(std::move(name), batched(std::move(handler)));
}

Result<void> Dispatcher::State::add_subscriber(std::string name, Deliver handler) {
    if (started) return Error::invalid("subscribe() after start()");
    if (name.empty() || !std::all_of(name.begin(), name.end(), is_name_char)) {
        return Error::invalid(fmt::format("subscriber name \"{}\" must match [a-z0-9_.-]+", name));
    }
    for (const auto& [existing, unused] : subscribers) {
        if (existing == name) {
            return Error::invalid(fmt::format("subscriber \"{}\" is already registered", name));
        }
    }
    subscribers.emplace_back(std::move(name), std::move(handler));
    return {};
}

Result<void> Dispatcher::start() {
    if (state_->started) return Error::invalid("start() called twice");
    {
        std::lock_guard lock(state_->pass_mutex);
        if (!state_->registered) {
            // Fail the start on a store problem rather than retrying silently in the background.
            if (auto done = state_->register_subscribers(); !done) return done;
            state_->registered = true;
        }
    }
    state_->started = true;
    state_->thread = std::thread([state = state_.get()] { state->loop(); });
    return {};
}

void Dispatcher::wake() {
    {
        std::lock_guard lock(state_->wake_mutex);
        state_->wake_requested = true;
    }
    state_->wake_cv.notify_one();
}

void Dispatcher::stop() {
    {
        std::lock_guard lock(state_->wake_mutex);
        state_->stopping = true;
    }
    state_->wake_cv.notify_one();
    if (state_->thread.joinable()) state_->thread.join();
}

Result<int> Dispatcher::run_once() { return state_->pass(); }

Result<OutboxStats> Dispatcher::stats() const { return outbox_stats(state_->db, state_->clock); }

const std::string& Dispatcher::node_id() const { return state_->options.node_id; }

}  // namespace nimbus::events
