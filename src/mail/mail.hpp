#pragma once
/// Outgoing mail: an SMTP client (libcurl) for production, a dev mailbox — a table operators
/// can read — for installations without SMTP, so sign-up works out of the box, and a durable
/// queue in front of either, so no request waits on a mail server.
///
///     auto mailer = mail::make_mailer({.smtp_url = config.mail.smtp_url,
///                                      .from = config.mail.from}, database, clock);
///     mail::Queue queue(database, clock, master_key, *mailer, {});
///     queue.start();
///     // in a service, inside the transaction that creates the link the mail carries:
///     if (auto queued = queue.enqueue(tx, {.to = "a@example.com", .subject = "Hi",
///                                          .text = "Hello"}); !queued) return queued;
///     // after the commit:
///     queue.wake();
///
/// Which mailer is used is decided once, by the composition root: an empty `smtp_url` selects
/// the dev mailbox. Callers never learn which; both take the same Message.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/crypto.hpp"
#include "core/metrics.hpp"
#include "core/result.hpp"
#include "db/db.hpp"
#include "http/http.hpp"

namespace nimbus::mail {

/// This module's schema migrations (generated from src/mail/migrations/).
const std::vector<db::Migration>& migrations();

/// A plain-text message to one recipient.
struct Message {
    std::string to;  ///< an address already validated by the caller (no CR/LF)
    std::string subject;
    std::string text;  ///< the body; lines end in "\n" and are sent as CRLF
};

/// Sends messages. Implementations are thread safe. `send` may block (network I/O): call it from
/// the blocking worker pool (`RequestContext::run_blocking`), never on an I/O thread.
class Mailer {
public:
    virtual ~Mailer() = default;
    /// Delivers (or stores) one message. Fails with `invalid_argument` for a recipient or subject
    /// containing CR/LF and `unavailable` when the SMTP server cannot be reached or refuses.
    virtual Result<void> send(const Message& message) = 0;
};

/// Where mail goes.
struct Settings {
    /// "smtp://host:port" or "smtps://user:password@host:465"; empty selects the dev mailbox.
    std::string smtp_url;
    /// The From address ("Nimbus <nimbus@example.com>" or a bare address).
    std::string from = "nimbus@localhost";
    /// Connect plus transfer time allowed per message.
    std::chrono::milliseconds timeout{std::chrono::seconds(10)};
};

/// An SMTP client over libcurl; STARTTLS is used when the server offers it.
std::unique_ptr<Mailer> make_smtp_mailer(Settings settings);

/// Stores each message in the `dev_mailbox` table instead of sending it. `database` and `clock`
/// must outlive the mailer.
std::unique_ptr<Mailer> make_dev_mailbox(db::Database& database, const Clock& clock);

/// The SMTP client when `settings.smtp_url` is set, the dev mailbox otherwise.
std::unique_ptr<Mailer> make_mailer(const Settings& settings, db::Database& database,
                                    const Clock& clock);

/// How a Queue delivers; the defaults suit production.
struct QueueOptions {
    /// Names this process in leases; empty means "node_" + a new ULID.
    std::string node_id;
    /// How often the worker looks for due mail when nobody calls wake().
    std::chrono::milliseconds poll_interval{1000};
    /// The wait after the first failed attempt; it doubles with each further failure up to
    /// max_backoff.
    std::chrono::milliseconds initial_backoff{std::chrono::seconds(5)};
    std::chrono::milliseconds max_backoff{std::chrono::minutes(5)};
    /// A message still not sent this long after it was queued is dropped (and logged).
    std::chrono::milliseconds give_up_after{std::chrono::hours(24)};
    /// How long claimed messages stay reserved for this node; must exceed `batch_size` times
    /// the mailer's per-message timeout, or another node may send a slow message again.
    std::chrono::milliseconds lease_duration{std::chrono::minutes(3)};
    /// Messages claimed per pass.
    int batch_size = 10;
    /// When set, `nimbus_mail_sent_total`, `nimbus_mail_retried_total` and
    /// `nimbus_mail_failed_total` are counted here. Must outlive the Queue.
    metrics::Registry* registry = nullptr;
};

/// What a Queue holds, for metrics and tests.
struct QueueStats {
    std::int64_t queued = 0;  ///< messages waiting (due, backing off or being sent)
    /// Age of the oldest waiting message; nullopt when none waits.
    std::optional<std::int64_t> oldest_age_ms;
};

/// A durable outgoing-mail queue: messages are stored, sealed with the master key, in the
/// `mail_queue` table by the caller's transaction, and a worker thread sends them through a
/// Mailer afterwards.
///
/// - A message exists only if the enqueuing transaction commits, and once committed it survives
///   a restart or `kill -9`: no acknowledged request loses its mail, and no request waits on
///   the mail server.
/// - Recipient, subject and body are sealed (AES-256-GCM, bound to the row id): the table holds
///   no link or address in plaintext.
/// - A sent message is deleted. An `unavailable` failure is retried with exponential backoff
///   (`initial_backoff` doubling up to `max_backoff`); a message not sent within
///   `give_up_after`, or refused for good (any other error), is deleted and logged with its id
///   and subject, never its recipient or body.
/// - Several nodes on one PostgreSQL share the queue through row leases taken with
///   `FOR UPDATE SKIP LOCKED`: a message is sent by one node. Only a crash between the send and
///   its deletion sends it again (at least once).
///
/// Thread safety: enqueue(), wake(), run_once() and stats() may be called from any thread;
/// start() and stop() belong to the owner. The destructor stops the worker.
class Queue {
public:
    /// `database`, `clock`, `master_key` and `mailer` must outlive the Queue.
    Queue(db::Database& database, const Clock& clock, const crypto::MasterKey& master_key,
          Mailer& mailer, QueueOptions options = {});
    ~Queue();
    Queue(const Queue&) = delete;
    Queue& operator=(const Queue&) = delete;

    /// Seals `message` and stores it in the caller's transaction; it is sent after the commit.
    /// Fails with `invalid_argument` for a recipient or subject containing CR/LF or an empty
    /// recipient, and with the store's errors otherwise. Call wake() after the commit for
    /// prompt delivery.
    Result<void> enqueue(db::Transaction& tx, const Message& message) const;

    /// Releases this node's earlier leases and starts the worker thread. Fails when the store
    /// cannot be reached.
    Result<void> start();
    /// Stops and joins the worker: a send in progress finishes first, the rest of its batch goes
    /// back to the queue. Idempotent.
    void stop();
    /// Makes the worker look for due mail now instead of at its next poll.
    void wake();
    /// One pass in the calling thread: claims due messages and sends them. Returns how many
    /// were sent. For tests and tools; the worker runs the same pass.
    Result<int> run_once();
    /// What waits in the table (a database read).
    Result<QueueStats> stats() const;

private:
    struct State;
    std::unique_ptr<State> state_;
};

/// A message kept in the dev mailbox.
struct StoredMessage {
    std::string id;  ///< "msg_..."
    std::string to;
    std::string subject;
    std::string text;
    std::int64_t created_at_ms = 0;
};

/// The newest `limit` messages of the dev mailbox, newest first; only those to `to` when it is
/// not empty.
Result<std::vector<StoredMessage>> read_dev_mailbox(db::Database& database, const std::string& to,
                                                    int limit);

/// Adds `GET /api/v1/dev/mailbox[?to=address&limit=n]`: the dev mailbox as
/// `{"data": [{"id","to","subject","text","created_at"}]}`. It answers requests from the
/// loopback interface (127.0.0.1, ::1) and platform operators (principals holding
/// `mail.dev_mailbox.read`), and 404 to everyone else, so a node reachable from outside shows
/// its mail to no one else. `database` must outlive the router.
void add_dev_mailbox_routes(http::Router& router, db::Database& database);

}  // namespace nimbus::mail
