#pragma once
/// Outgoing mail: an SMTP client (libcurl) for production, and a dev mailbox — a table operators
/// can read — for installations without SMTP, so sign-up works out of the box.
///
///     auto mailer = mail::make_mailer({.smtp_url = config.mail.smtp_url,
///                                      .from = config.mail.from}, database, clock);
///     auto sent = mailer->send({.to = "a@example.com", .subject = "Hi", .text = "Hello"});
///
/// Which one is used is decided once, by the composition root: an empty `smtp_url` selects the dev
/// mailbox. Callers never learn which; both take the same Message.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.hpp"
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
