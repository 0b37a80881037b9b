#pragma once
/// The transactional outbox: every module records what happened as a CloudEvents 1.0 event in the
/// same database transaction as the change itself, and a Dispatcher delivers each committed event
/// to every subscriber, at least once, in order per subject.
///
///     // in a service, inside the transaction that creates the user:
///     auto event_id = events::emit(tx, clock, {.type = "nimbus.identity.user.created",
///                                              .source = "/nimbus/identity",
///                                              .subject = user.id,
///                                              .data_json = R"({"email":"a@example.com"})"});
///     if (!event_id) return event_id.error();
///     ... tx.commit(); dispatcher.wake();
///
///     // in the composition root, before start():
///     dispatcher.subscribe("audit", [&](const events::Event& event) -> Result<void> {
///         return audit.record(event);   // must be idempotent by event.id
///     });
///
/// Delivery guarantees:
/// - An event exists only if the emitting transaction commits; a rollback leaves nothing.
/// - Each subscriber gets each event at least once: delivery state lives in the database, so a
///   restart (or kill -9) resumes where it stopped. A handler may therefore see an event twice
///   (crash between handling and acknowledging, an expired lease) and must be idempotent by
///   `Event::id`.
/// - Per subscriber, events with the same subject are delivered in emit order: a later event waits
///   while an earlier one is pending or failing. Events of different subjects do not wait for each
///   other. (On PostgreSQL, "emit order" is the order the outbox rows were inserted; two
///   transactions emitting for one subject should also update that subject's row, which serializes
///   them.)
/// - A failing delivery is retried with exponential backoff (capped), forever; attempts and the
///   last error are kept in `outbox_deliveries`.
/// - Several nodes on one PostgreSQL share the work through row leases (`FOR UPDATE SKIP LOCKED`);
///   no two nodes deliver the same event to the same subscriber at the same time.
/// - Subscribers are recorded in the database on start; an event is fanned out to every subscriber
///   registered (by any node) when the dispatcher first picks it up. A subscriber added in a new
///   release therefore sees the events committed from its first start on, not older ones.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "db/db.hpp"

namespace nimbus::events {

/// This module's schema migrations (generated from src/events/migrations/).
const std::vector<nimbus::db::Migration>& migrations();

/// What an emitter says; emit() adds the id, the time and the envelope.
struct EventDraft {
    /// Reverse-DNS style event type, "nimbus.<module>.<entity>.<verb>", e.g.
    /// "nimbus.identity.user.created". Lowercase letters, digits, '.', '_' and '-'.
    std::string type;
    /// The emitting module as a URI reference, "/nimbus/<module>".
    std::string source;
    /// What the event is about (usually the entity id); delivery is ordered per subject.
    std::string subject;
    /// The event payload: a JSON document (checked by emit()).
    std::string data_json = "{}";
};

/// A committed event as handed to a subscriber.
struct Event {
    std::string id;  ///< "evt_" + ULID; the idempotency key for handlers
    std::string type;
    std::string source;
    std::string subject;
    std::int64_t time_ms = 0;   ///< when it was emitted (Unix ms)
    std::string data_json;      ///< the payload
    std::string envelope_json;  ///< the whole CloudEvents 1.0 JSON envelope
    int attempt = 1;            ///< 1 on the first delivery to this subscriber, then 2, 3, ...
};

/// Writes an event into the outbox within the caller's transaction and returns its id. Nothing is
/// delivered unless `tx` commits. Fails with `invalid_argument` for a malformed draft (bad type or
/// source, empty subject, data that is not JSON) and with the store's errors otherwise.
Result<std::string> emit(db::Transaction& tx, const Clock& clock, const EventDraft& draft);

/// Receives events. Called on the dispatcher's thread, one event at a time; return an error to
/// have the event retried later. Must be idempotent by `Event::id` and should finish well within
/// `DispatcherOptions::lease_duration`. Exceptions are caught and count as failures.
using Handler = std::function<Result<void>(const Event& event)>;

/// Receives the due events of one pass at once, in delivery order (at most one per subject, at
/// most DispatcherOptions::batch_size), so that a subscriber writing to the database commits them
/// in one transaction instead of one each. All or nothing: an error must mean that no event of
/// the batch took effect. The dispatcher then hands the events over again one per call, so only
/// the ones that fail on their own are retried later. Otherwise the contract of Handler.
using BatchHandler = std::function<Result<void>(const std::vector<Event>& events)>;

/// How a Dispatcher works; the defaults suit production.
struct DispatcherOptions {
    /// Names this process in leases; empty means "node_" + a new ULID.
    std::string node_id;
    /// How often to look for work when nobody calls wake().
    std::chrono::milliseconds poll_interval{1000};
    /// How long a claimed delivery stays reserved for this node; after that another node (or this
    /// one after a restart) may deliver it again.
    std::chrono::milliseconds lease_duration{std::chrono::seconds(30)};
    /// The wait after the first failure; it doubles with each further failure up to max_backoff.
    std::chrono::milliseconds initial_backoff{std::chrono::seconds(1)};
    std::chrono::milliseconds max_backoff{std::chrono::minutes(5)};
    /// Events delivered to every subscriber are deleted once older than this.
    std::chrono::milliseconds retention{std::chrono::hours(24 * 7)};
    /// How often to prune.
    std::chrono::milliseconds prune_interval{std::chrono::minutes(1)};
    /// Events fanned out, and deliveries claimed per subscriber, per pass.
    int batch_size = 100;
    /// Told about store failures of the background thread (it keeps retrying); for logging.
    std::function<void(const Error&)> on_error;
};

/// The outbox backlog, for metrics and health checks.
struct OutboxStats {
    std::int64_t pending_deliveries = 0;   ///< (subscriber, event) pairs not yet delivered
    std::int64_t undispatched_events = 0;  ///< events not yet fanned out to subscribers
    /// Age of the oldest event still waiting for anything; nullopt when nothing waits.
    std::optional<std::int64_t> oldest_pending_age_ms;
};

/// Reads the backlog; works without a running Dispatcher.
Result<OutboxStats> outbox_stats(db::Database& db, const Clock& clock);

/// Delivers outbox events to in-process subscribers on a background thread.
///
/// Register subscribers, then start(); stop() (or the destructor) joins the thread. wake(), stats()
/// and run_once() are thread safe; subscribe() and start() belong to the thread that builds it.
class Dispatcher {
public:
    /// `db` and `clock` must outlive the Dispatcher.
    Dispatcher(db::Database& db, const Clock& clock, DispatcherOptions options = {});
    ~Dispatcher();
    Dispatcher(const Dispatcher&) = delete;
    Dispatcher& operator=(const Dispatcher&) = delete;

    /// Adds a subscriber. `name` identifies its delivery state in the database, so keep it stable
    /// across releases ([a-z0-9_.-]+). Fails with `invalid_argument` after start(), for a bad or
    /// duplicate name.
    Result<void> subscribe(std::string name, Handler handler);

    /// Adds a subscriber that takes each pass's events as one batch (see BatchHandler); the same
    /// rules for `name` as subscribe().
    Result<void> subscribe_batch(std::string name, BatchHandler handler);

    /// Registers the subscribers in the database and starts the background thread.
    Result<void> start();

    /// Asks the background thread to look for work now (e.g. right after a commit that emitted).
    void wake();

    /// Stops the background thread after the delivery in progress; idempotent.
    void stop();

    /// Runs one pass on the calling thread: fan out new events, deliver what is due, prune when
    /// due. Returns the number of deliveries attempted. For tests and tools; serialized with the
    /// background thread.
    Result<int> run_once();

    /// The outbox backlog.
    Result<OutboxStats> stats() const;

    /// The id this node uses in leases.
    const std::string& node_id() const;

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace nimbus::events
