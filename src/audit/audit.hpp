#pragma once
/// The audit log: an append-only, hash-chained record of security-relevant events (sign-ins,
/// MFA, password and email changes, roles and memberships, keys and clients, organizations,
/// firewall blocks).
///
/// The log does not ask modules to call it: it subscribes to the outbox and appends every event
/// whose type starts with an audited prefix, so a module that emits a new `nimbus.identity.*`
/// event is audited without a change here.
///
///     audit::Log audit_log(database, clock);
///     dispatcher.subscribe("audit", [&](const events::Event& event) {
///         return audit_log.record(event);
///     });
///     audit::add_routes(router, audit_log);
///
/// Each entry carries the SHA-256 of its fields and of the previous entry's hash, so changing,
/// removing or reordering a stored entry breaks the chain from that entry on; verify() finds the
/// first break. The exact encoding is in docs/audit.md.
///
/// Thread safety: every Log method may be called from any thread at once. Appends are serialized
/// by the database (SQLite's single writer; on PostgreSQL the row lock of the chain head), so
/// several nodes append to one chain.
///
/// Errors: `invalid_argument` for bad filters or cursors, `unavailable` when the database cannot
/// be reached, `internal` otherwise.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "db/db.hpp"
#include "events/events.hpp"
#include "http/http.hpp"

namespace nimbus::metrics {
class Registry;
}

namespace nimbus::audit {

/// This module's schema migrations (generated from src/audit/migrations/).
const std::vector<db::Migration>& migrations();

/// Reads the audit log of one organization (`GET /api/v1/orgs/{org_id}/audit`).
inline constexpr std::string_view kReadPermission = "audit.read";
/// Reads the whole audit log, firewall blocks included (`GET /api/v1/admin/audit`).
inline constexpr std::string_view kReadAllPermission = "audit.read_all";

/// The event type prefixes that are audited.
inline constexpr std::string_view kAuditedPrefixes[] = {"nimbus.identity.", "nimbus.gateway."};

/// True when events of this type belong in the audit log.
bool is_audited(std::string_view event_type);

/// The hash before the first entry: 64 zeros.
inline constexpr std::string_view kGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

/// One entry as stored and as the API shows it.
struct Entry {
    std::int64_t seq = 0;  ///< 1, 2, 3, ... without gaps
    std::string id;        ///< the outbox event id ("evt_...")
    std::int64_t time_ms = 0;
    std::string action;  ///< the event type
    std::optional<std::string> actor_id;
    std::optional<std::string> org_id;
    std::optional<std::string> target_id;
    std::optional<std::string> ip;
    std::string details_json = "{}";  ///< the event's other non-secret fields, a JSON object
    std::string prev_hash;
    std::string hash;
};

/// The SHA-256 hex of an entry's canonical encoding (every field but `hash`, then `prev_hash`),
/// as docs/audit.md specifies it.
std::string entry_hash(const Entry& entry);

/// What a reader asks for. Entries come newest first.
struct Query {
    std::optional<std::string> org_id;  ///< only entries of this organization
    /// Only entries where this id is the actor or the target (a user's own security events).
    std::optional<std::string> subject_id;
    std::optional<std::string> action_prefix;  ///< e.g. "nimbus.identity.login."
    std::optional<std::string> actor_id;
    std::optional<std::string> target_id;
    std::optional<std::int64_t> since_ms;    ///< inclusive
    std::optional<std::int64_t> until_ms;    ///< exclusive
    std::optional<std::int64_t> before_seq;  ///< from a cursor: entries with a smaller seq
    int limit = 50;
};

/// One page of entries.
struct Page {
    std::vector<Entry> entries;
    /// Present when more entries may follow: pass it back as `cursor`.
    std::optional<std::string> next_cursor;
};

/// The outcome of walking the chain.
struct VerifyReport {
    std::int64_t entries = 0;  ///< entries checked (all of them when ok)
    bool ok = true;
    std::int64_t broken_seq = 0;  ///< the first entry that does not fit, when !ok
    std::string reason;           ///< why, when !ok
};

/// The largest page a reader may ask for.
inline constexpr int kMaxLimit = 200;

/// Encodes the position after `seq` as an opaque cursor.
std::string encode_cursor(std::int64_t seq);
/// Decodes a cursor from encode_cursor; `invalid_argument` for anything else.
Result<std::int64_t> decode_cursor(std::string_view cursor);
/// Parses an RFC 3339 date-time ("2026-11-24T17:00:00Z", "...T18:00:00.250+01:00") to Unix ms.
Result<std::int64_t> parse_rfc3339(std::string_view text);

/// The store of the audit log. See the header comment for threading and errors.
class Log {
public:
    /// `database` and `clock` must outlive the Log.
    Log(db::Database& database, const Clock& clock);

    /// Appends `event` when its type is audited. Idempotent by `Event::id`: a redelivered event
    /// appends nothing. Returns true when an entry was appended.
    Result<bool> record(const events::Event& event);

    /// Appends the audited ones among `events`, in order, in one transaction (all or none); the
    /// same idempotence as record(). Returns how many entries were appended.
    Result<std::size_t> record_all(const std::vector<events::Event>& events);

    /// Entries matching `query`, newest first. `invalid_argument` for a limit outside
    /// 1..kMaxLimit or a malformed action prefix.
    Result<Page> list(const Query& query) const;

    /// Walks the whole chain in seq order, recomputing each hash, and stops at the first entry
    /// that does not fit (changed fields, a missing or reordered entry, a head that does not
    /// match the last entry).
    Result<VerifyReport> verify() const;

private:
    db::Database& database_;
    const Clock& clock_;
};

/// Adds the read routes:
/// - `GET /api/v1/orgs/{org_id}/audit` (audit.read in that organization)
/// - `GET /api/v1/me/audit` (account.self): entries where the caller is actor or target
/// - `GET /api/v1/admin/audit` (audit.read_all): everything, firewall blocks included
/// Query parameters: action (prefix), actor, target, since, until (RFC 3339), cursor, limit
/// (1..200, default 50). Answers `{"data": [...], "next_cursor": "..." | null}`.
void add_routes(http::Router& router, const Log& log);

/// A bounded queue of events to emit from threads that must not wait on the database (the
/// firewall runs on I/O threads). A worker thread writes queued events in batches, one
/// transaction per batch, and calls `on_committed` after each (to wake the dispatcher). When
/// the queue is full, push() drops the event and counts it in
/// `nimbus_audit_queue_dropped_total`: under a flood of attacks the node keeps serving and the
/// log says how much it missed.
///
/// Thread safety: push() from any thread; the destructor drains what is queued, then joins.
class EventQueue {
public:
    struct Options {
        std::size_t capacity = 10'000;  ///< events held before push() drops
        std::size_t batch_size = 200;   ///< events written per transaction
        std::function<void()> on_committed;
        std::function<void(const Error&)> on_error;  ///< a batch could not be written
    };
    /// `database`, `clock` and `registry` (may be null) must outlive the queue.
    EventQueue(db::Database& database, const Clock& clock, metrics::Registry* registry,
               Options options);
    ~EventQueue();
    EventQueue(const EventQueue&) = delete;
    EventQueue& operator=(const EventQueue&) = delete;

    /// Queues `draft`; false (and counted) when the queue is full. Never waits on I/O.
    bool push(events::EventDraft draft);
    /// Blocks until everything queued so far is written (or failed); for tests and shutdown.
    void flush();
    /// Events dropped because the queue was full.
    std::uint64_t dropped() const;

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace nimbus::audit
