// The durable mail queue (mail.hpp, Queue): messages sealed into `mail_queue` by the caller's
// transaction, and one worker thread that, per pass,
//   1. claims due messages (a lease: claimed_by + lease_until_ms, taken with FOR UPDATE SKIP
//      LOCKED on PostgreSQL, so two nodes never claim the same row),
//   2. sends each outside any transaction (SMTP may take seconds; the SQLite writer must not
//      wait on it), and
//   3. records each outcome in its own transaction: deleted when sent or given up, rescheduled
//      with backoff when the server was unavailable.
// All state is in the database, so a new process picks up where a dead one stopped.

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/ids.hpp"
#include "core/log.hpp"
#include "mail/mail.hpp"

namespace nimbus::mail {
namespace {

/// Doubling stops here; with the cap on the delay this only guards the shift against overflow.
constexpr int kMaxBackoffDoublings = 30;
/// Longest error text kept per message.
constexpr std::size_t kMaxErrorLength = 500;
constexpr std::string_view kAssociatedPrefix = "mail_queue:";

bool has_line_break(std::string_view text) {
    return text.find_first_of("\r\n") != std::string_view::npos;
}

/// The sealed value is bound to its row: a value copied to another row does not open.
std::string associated_data(const std::string& id) { return std::string(kAssociatedPrefix) + id; }

/// A message this node has leased.
struct Claimed {
    std::string id;
    db::Bytes sealed;
    std::int64_t created_at_ms = 0;
    int attempts = 0;
};

Result<Message> open_message(const crypto::MasterKey& key, const Claimed& claimed) {
    auto plain = key.open(claimed.sealed, associated_data(claimed.id));
    if (!plain) return plain.error();
    boost::system::error_code ec;
    boost::json::value parsed = boost::json::parse(*plain, ec);
    if (ec || !parsed.is_object()) return Error::internal("a queued message is malformed");
    const auto& object = parsed.as_object();
    const auto* to = object.if_contains("to");
    const auto* subject = object.if_contains("subject");
    const auto* text = object.if_contains("text");
    if (to == nullptr || !to->is_string() || subject == nullptr || !subject->is_string() ||
        text == nullptr || !text->is_string()) {
        return Error::internal("a queued message is malformed");
    }
    return Message{std::string(to->as_string()), std::string(subject->as_string()),
                   std::string(text->as_string())};
}

}  // namespace

struct Queue::State {
    State(db::Database& database_in, const Clock& clock_in, const crypto::MasterKey& key_in,
          Mailer& mailer_in, QueueOptions options_in)
        : database(database_in),
          clock(clock_in),
          master_key(key_in),
          mailer(mailer_in),
          options(std::move(options_in)) {
        if (options.node_id.empty()) options.node_id = new_id("node", clock.now_ms());
        options.batch_size = std::max(options.batch_size, 1);
        if (options.registry != nullptr) {
            sent =
                &options.registry->counter("nimbus_mail_sent_total", "Queued mail sent.").with({});
            retried = &options.registry
                           ->counter("nimbus_mail_retried_total",
                                     "Mail sends that failed and were rescheduled.")
                           .with({});
            failed = &options.registry
                          ->counter("nimbus_mail_failed_total",
                                    "Queued mail given up (refused, or not sent in time).")
                          .with({});
        }
    }

    db::Database& database;
    const Clock& clock;
    const crypto::MasterKey& master_key;
    Mailer& mailer;
    QueueOptions options;
    metrics::Counter* sent = nullptr;
    metrics::Counter* retried = nullptr;
    metrics::Counter* failed = nullptr;

    std::mutex pass_mutex;  // one pass at a time, whether from the thread or run_once()

    std::mutex wake_mutex;
    std::condition_variable wake_cv;
    bool wake_requested = false;
    bool stopping = false;
    /// Read between sends, so a stop waits for one send at most, not a whole batch.
    std::atomic<bool> stop_requested{false};
    std::thread thread;

    std::int64_t backoff_ms(int attempts) const {
        const int doublings = std::clamp(attempts - 1, 0, kMaxBackoffDoublings);
        const std::int64_t delay = options.initial_backoff.count() * (std::int64_t{1} << doublings);
        return std::min<std::int64_t>(delay, options.max_backoff.count());
    }

    Result<void> release_own_leases();
    Result<std::vector<Claimed>> claim();
    Result<void> remove(const Claimed& item);
    Result<void> reschedule(const Claimed& item, const std::string& error);
    Result<void> release(const std::vector<Claimed>& items, std::size_t from);
    /// `worker`: run by the worker thread, which a stop() interrupts between sends.
    Result<int> pass(bool worker);
    void loop();
};

Result<void> Queue::State::release_own_leases() {
    // Leases of an earlier run of this node are void: that process is gone. Embedded SQLite runs
    // a single node, so there every lease belongs to a dead predecessor.
    return database.transact([&](db::Transaction& tx) -> Result<void> {
        auto released = tx.backend() == db::Backend::sqlite
                            ? tx.execute(
                                  "UPDATE mail_queue SET claimed_by = NULL, lease_until_ms = NULL"
                                  " WHERE claimed_by IS NOT NULL")
                            : tx.execute(
                                  "UPDATE mail_queue SET claimed_by = NULL, lease_until_ms = NULL"
                                  " WHERE claimed_by = ?",
                                  {options.node_id});
        if (!released) return released.error();
        return {};
    });
}

Result<std::vector<Claimed>> Queue::State::claim() {
    std::vector<Claimed> claimed;
    auto done = database.transact([&](db::Transaction& tx) -> Result<void> {
        const std::int64_t now_ms = clock.now_ms();
        std::string sql =
            "SELECT id, sealed, created_at_ms, attempts FROM mail_queue"
            " WHERE next_attempt_ms <= ? AND (lease_until_ms IS NULL OR lease_until_ms <= ?)"
            " ORDER BY next_attempt_ms, id LIMIT ?";
        if (tx.backend() == db::Backend::postgres) sql += " FOR UPDATE SKIP LOCKED";
        auto rows = tx.query(sql, {now_ms, now_ms, options.batch_size});
        if (!rows) return rows.error();
        const std::int64_t lease_until_ms = now_ms + options.lease_duration.count();
        for (const db::Row& row : *rows) {
            auto leased =
                tx.execute("UPDATE mail_queue SET claimed_by = ?, lease_until_ms = ? WHERE id = ?",
                           {options.node_id, lease_until_ms, row.get_text(0)});
            if (!leased) return leased.error();
            claimed.push_back({row.get_text(0), row.get_blob(1), row.get_int(2),
                               static_cast<int>(row.get_int(3))});
        }
        return {};
    });
    if (!done) return done.error();
    return claimed;
}

Result<void> Queue::State::remove(const Claimed& item) {
    // `claimed_by = ?`: after a lost lease the row is another node's to settle.
    return database.transact([&](db::Transaction& tx) -> Result<void> {
        auto removed = tx.execute("DELETE FROM mail_queue WHERE id = ? AND claimed_by = ?",
                                  {item.id, options.node_id});
        if (!removed) return removed.error();
        return {};
    });
}

Result<void> Queue::State::reschedule(const Claimed& item, const std::string& error) {
    std::string kept = error.substr(0, kMaxErrorLength);
    return database.transact([&](db::Transaction& tx) -> Result<void> {
        const std::int64_t now_ms = clock.now_ms();
        auto updated = tx.execute(
            "UPDATE mail_queue SET attempts = attempts + 1, next_attempt_ms = ?, last_error = ?,"
            " claimed_by = NULL, lease_until_ms = NULL WHERE id = ? AND claimed_by = ?",
            {now_ms + backoff_ms(item.attempts + 1), kept, item.id, options.node_id});
        if (!updated) return updated.error();
        return {};
    });
}

Result<void> Queue::State::release(const std::vector<Claimed>& items, std::size_t from) {
    if (from >= items.size()) return {};
    return database.transact([&](db::Transaction& tx) -> Result<void> {
        for (std::size_t item_idx = from; item_idx < items.size(); ++item_idx) {
            auto released = tx.execute(
                "UPDATE mail_queue SET claimed_by = NULL, lease_until_ms = NULL"
                " WHERE id = ? AND claimed_by = ?",
                {items[item_idx].id, options.node_id});
            if (!released) return released.error();
        }
        return {};
    });
}

Result<int> Queue::State::pass(bool worker) {
    std::lock_guard pass_lock(pass_mutex);
    auto claimed = claim();
    if (!claimed) return claimed.error();
    int sent_count = 0;
    for (std::size_t item_idx = 0; item_idx < claimed->size(); ++item_idx) {
        if (worker && stop_requested.load()) {
            // Shutting down: the rest go back to the queue for the next start (or another node).
            if (auto ok = release(*claimed, item_idx); !ok) return ok.error();
            break;
        }
        const Claimed& item = (*claimed)[item_idx];
        auto message = open_message(master_key, item);
        if (!message) {
            // Sealed with another master key or altered: no attempt can ever open it.
            log::error("queued mail cannot be opened; dropped",
                       {{"mail_id", item.id}, {"error", message.error().message}});
            if (failed != nullptr) failed->inc();
            if (auto ok = remove(item); !ok) return ok.error();
            continue;
        }
        auto delivered = mailer.send(*message);
        if (delivered) {
            ++sent_count;
            if (sent != nullptr) sent->inc();
            if (auto ok = remove(item); !ok) return ok.error();
            continue;
        }
        const Error& error = delivered.error();
        const std::int64_t age_ms = clock.now_ms() - item.created_at_ms;
        const bool transient = error.code == ErrorCode::unavailable;
        if (!transient || age_ms >= options.give_up_after.count()) {
            // The subject is one of our fixed templates; recipient and body stay out of logs.
            log::warn("mail given up", {{"mail_id", item.id},
                                        {"subject", message->subject},
                                        {"attempts", item.attempts + 1},
                                        {"error", error.message}});
            if (failed != nullptr) failed->inc();
            if (auto ok = remove(item); !ok) return ok.error();
            continue;
        }
        log::info(
            "mail not sent; will retry",
            {{"mail_id", item.id}, {"attempts", item.attempts + 1}, {"error", error.message}});
        if (retried != nullptr) retried->inc();
        if (auto ok = reschedule(item, error.message); !ok) return ok.error();
        // The server is likely down for the rest of the batch too: hand the rest back for the
        // next pass rather than wait on each in turn.
        if (auto ok = release(*claimed, item_idx + 1); !ok) return ok.error();
        break;
    }
    return sent_count;
}

void Queue::State::loop() {
    while (true) {
        auto done = pass(/*worker=*/true);
        if (!done) log::warn("mail queue pass failed", {{"error", done.error().message}});
        std::unique_lock lock(wake_mutex);
        // A full batch means more may be due at once.
        if (done && *done >= options.batch_size && !stopping) continue;
        wake_cv.wait_for(lock, options.poll_interval, [&] { return wake_requested || stopping; });
        if (stopping) return;
        wake_requested = false;
    }
}

Queue::Queue(db::Database& database, const Clock& clock, const crypto::MasterKey& master_key,
             Mailer& mailer, QueueOptions options)
    : state_(std::make_unique<State>(database, clock, master_key, mailer, std::move(options))) {}

Queue::~Queue() { stop(); }

Result<void> Queue::enqueue(db::Transaction& tx, const Message& message) const {
    if (message.to.empty() || has_line_break(message.to) || has_line_break(message.subject)) {
        return Error::invalid("mail needs a recipient, and headers must not contain line breaks");
    }
    const std::int64_t now_ms = state_->clock.now_ms();
    std::string id = new_id("mail", now_ms);
    std::string plain = boost::json::serialize(boost::json::object{
        {"to", message.to}, {"subject", message.subject}, {"text", message.text}});
    crypto::Bytes sealed = state_->master_key.seal(plain, associated_data(id));
    auto inserted = tx.execute(
        "INSERT INTO mail_queue (id, sealed, created_at_ms, attempts, next_attempt_ms)"
        " VALUES (?, ?, ?, 0, ?)",
        {id, db::Bytes(sealed.begin(), sealed.end()), now_ms, now_ms});
    if (!inserted) return inserted.error();
    return {};
}

Result<void> Queue::start() {
    if (state_->thread.joinable()) return {};
    if (auto released = state_->release_own_leases(); !released) return released;
    {
        std::lock_guard lock(state_->wake_mutex);
        state_->stopping = false;
    }
    state_->stop_requested = false;
    state_->thread = std::thread([state = state_.get()] { state->loop(); });
    return {};
}

void Queue::stop() {
    if (!state_ || !state_->thread.joinable()) return;
    {
        std::lock_guard lock(state_->wake_mutex);
        state_->stopping = true;
    }
    state_->stop_requested = true;
    state_->wake_cv.notify_all();
    state_->thread.join();
}

void Queue::wake() {
    {
        std::lock_guard lock(state_->wake_mutex);
        state_->wake_requested = true;
    }
    state_->wake_cv.notify_all();
}

Result<int> Queue::run_once() { return state_->pass(/*worker=*/false); }

Result<QueueStats> Queue::stats() const {
    auto rows = state_->database.query("SELECT COUNT(*), MIN(created_at_ms) FROM mail_queue");
    if (!rows) return rows.error();
    QueueStats stats;
    if (rows->empty()) return stats;
    stats.queued = rows->front().get_int(0);
    if (!rows->front().is_null(1)) {
        stats.oldest_age_ms = state_->clock.now_ms() - rows->front().get_int(1);
    }
    return stats;
}

}  // namespace nimbus::mail
