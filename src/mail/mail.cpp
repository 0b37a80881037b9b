#include "mail/mail.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <ctime>
#include <mutex>

#include <fmt/format.h>
#include <boost/asio/awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "core/crypto.hpp"
#include "core/ids.hpp"
#include "core/log.hpp"

namespace nimbus::mail {
namespace {

constexpr int kDefaultListLimit = 50;
constexpr int kMaxListLimit = 500;

bool has_line_break(std::string_view text) {
    return text.find_first_of("\r\n") != std::string_view::npos;
}

/// The bare address inside "Name <addr>" (or the text itself), for the SMTP envelope.
std::string envelope_address(std::string_view from) {
    auto open = from.find('<');
    auto close = from.rfind('>');
    if (open != std::string_view::npos && close != std::string_view::npos && close > open) {
        return std::string(from.substr(open + 1, close - open - 1));
    }
    return std::string(from);
}

/// An RFC 5322 message: headers, a blank line, the body with CRLF line ends. Subjects are
/// ASCII-only by construction (our templates); non-ASCII would need RFC 2047 encoding.
std::string format_message(const Message& message, std::string_view from) {
    std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    char date[64];
    std::strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &utc);
    std::string domain = envelope_address(from);
    domain = domain.substr(domain.find('@') == std::string::npos ? 0 : domain.find('@') + 1);
    constexpr std::size_t kMessageIdBytes = 16;
    auto random = crypto::random_bytes(kMessageIdBytes);
    std::string out = fmt::format(
        "Date: {}\r\nFrom: {}\r\nTo: {}\r\nSubject: {}\r\nMessage-ID: <{}@{}>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n",
        date, from, message.to, message.subject, crypto::hex_encode(random), domain);
    for (char c : message.text) {
        if (c == '\r') continue;
        if (c == '\n') {
            out += "\r\n";
        } else {
            out.push_back(c);
        }
    }
    if (!out.ends_with("\r\n")) out += "\r\n";
    return out;
}

struct Upload {
    std::string_view data;
    std::size_t offset = 0;
};

std::size_t read_payload(char* buffer, std::size_t size, std::size_t count, void* user) {
    auto* upload = static_cast<Upload*>(user);
    std::size_t room = size * count;
    std::size_t n = std::min(room, upload->data.size() - upload->offset);
    std::memcpy(buffer, upload->data.data() + upload->offset, n);
    upload->offset += n;
    return n;
}

class SmtpMailer final : public Mailer {
public:
    explicit SmtpMailer(Settings settings) : settings_(std::move(settings)) {
        // curl_global_init is not thread safe; once per process, before any handle exists.
        static std::once_flag once;
        std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    }

    Result<void> send(const Message& message) override {
        if (has_line_break(message.to) || has_line_break(message.subject)) {
            return Error::invalid("mail headers must not contain line breaks");
        }
        std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(),
                                                                 &curl_easy_cleanup);
        if (!curl) return Error::unavailable("cannot create an SMTP client");
        std::string payload = format_message(message, settings_.from);
        Upload upload{payload};
        std::string from = "<" + envelope_address(settings_.from) + ">";
        std::string to = "<" + message.to + ">";
        curl_slist* recipients = curl_slist_append(nullptr, to.c_str());
        std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> recipients_guard(
            recipients, &curl_slist_free_all);
        CURL* handle = curl.get();
        curl_easy_setopt(handle, CURLOPT_URL, settings_.smtp_url.c_str());
        curl_easy_setopt(handle, CURLOPT_MAIL_FROM, from.c_str());
        curl_easy_setopt(handle, CURLOPT_MAIL_RCPT, recipients);
        curl_easy_setopt(handle, CURLOPT_READFUNCTION, &read_payload);
        curl_easy_setopt(handle, CURLOPT_READDATA, &upload);
        curl_easy_setopt(handle, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(handle, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_TRY));
        curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, static_cast<long>(settings_.timeout.count()));
        curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);  // worker threads must not get SIGALRM
        CURLcode code = curl_easy_perform(handle);
        if (code != CURLE_OK) {
            // curl's message names the host, never the URL's password.
            return Error::unavailable(fmt::format("mail not sent: {}", curl_easy_strerror(code)));
        }
        return {};
    }

private:
    Settings settings_;
};

class DevMailbox final : public Mailer {
public:
    DevMailbox(db::Database& database, const Clock& clock) : database_(database), clock_(clock) {}

    Result<void> send(const Message& message) override {
        if (has_line_break(message.to) || has_line_break(message.subject)) {
            return Error::invalid("mail headers must not contain line breaks");
        }
        std::int64_t now = clock_.now_ms();
        auto stored = database_.transact([&](db::Transaction& tx) -> Result<void> {
            auto inserted = tx.execute(
                "INSERT INTO dev_mailbox (id, to_address, subject, body, created_at_ms) "
                "VALUES (?, ?, ?, ?, ?)",
                {new_id("msg", now), message.to, message.subject, message.text, now});
            if (!inserted) return inserted.error();
            return {};
        });
        if (stored) log::info("mail stored in the dev mailbox", {{"subject", message.subject}});
        return stored;
    }

private:
    db::Database& database_;
    const Clock& clock_;
};

bool is_loopback(std::string_view address) {
    return address == "::1" || address.starts_with("127.") || address == "::ffff:127.0.0.1";
}

}  // namespace

std::unique_ptr<Mailer> make_smtp_mailer(Settings settings) {
    return std::make_unique<SmtpMailer>(std::move(settings));
}

std::unique_ptr<Mailer> make_dev_mailbox(db::Database& database, const Clock& clock) {
    return std::make_unique<DevMailbox>(database, clock);
}

std::unique_ptr<Mailer> make_mailer(const Settings& settings, db::Database& database,
                                    const Clock& clock) {
    if (settings.smtp_url.empty()) return make_dev_mailbox(database, clock);
    return make_smtp_mailer(settings);
}

Result<std::vector<StoredMessage>> read_dev_mailbox(db::Database& database, const std::string& to,
                                                    int limit) {
    auto rows = to.empty() ? database.query(
                                 "SELECT id, to_address, subject, body, created_at_ms FROM "
                                 "dev_mailbox ORDER BY id DESC LIMIT ?",
                                 {limit})
                           : database.query(
                                 "SELECT id, to_address, subject, body, created_at_ms FROM "
                                 "dev_mailbox WHERE to_address = ? ORDER BY id DESC LIMIT ?",
                                 {to, limit});
    if (!rows) return rows.error();
    std::vector<StoredMessage> messages;
    for (const auto& row : *rows) {
        messages.push_back(
            {row.get_text(0), row.get_text(1), row.get_text(2), row.get_text(3), row.get_int(4)});
    }
    return messages;
}

void add_dev_mailbox_routes(http::Router& router, db::Database& database) {
    router.add(
        http::Method::get, "/api/v1/dev/mailbox",
        http::Task([&database](http::Request& request, http::RequestContext& context)
                       -> boost::asio::awaitable<http::Response> {
            // The machine itself, or a platform operator (their tokens carry the permission).
            // 404 rather than 403, so the route's existence is not advertised.
            bool operator_caller =
                context.principal && context.principal->has("mail.dev_mailbox.read");
            if (!is_loopback(context.client_address) && !operator_caller) {
                co_return http::Response::make_problem(404, "", "Not Found", "No such resource.");
            }
            int limit = kDefaultListLimit;
            if (auto text = request.query_param("limit")) {
                int parsed = 0;
                auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), parsed);
                if (ec != std::errc() || end != text->data() + text->size() || parsed < 1 ||
                    parsed > kMaxListLimit) {
                    co_return http::Response::make_problem(
                        400, "invalid-parameter", "Bad Request", "limit must be from 1 to 500",
                        {{.message = "must be from 1 to 500", .parameter = "limit"}});
                }
                limit = parsed;
            }
            std::string to = request.query_param("to").value_or("");
            Result<std::vector<StoredMessage>> messages = Error::internal("not read");
            co_await context.run_database(
                [&] { messages = read_dev_mailbox(database, to, limit); });
            if (!messages) co_return http::Response::from_error(messages.error());
            boost::json::array data;
            for (const auto& message : *messages) {
                data.push_back(
                    boost::json::object{{"id", message.id},
                                        {"to", message.to},
                                        {"subject", message.subject},
                                        {"text", message.text},
                                        {"created_at", format_rfc3339(message.created_at_ms)}});
            }
            http::Response response =
                http::Response::json(200, boost::json::object{{"data", std::move(data)}});
            response.set_header("cache-control", "no-store");
            co_return response;
        }),
        http::RouteOptions{
            .summary = "Mail kept by the dev mailbox (loopback clients and operators)",
            .tag = "mail",
            .response_schema = R"({
  "type": "object", "required": ["data"],
  "properties": {"data": {"type": "array", "items": {
    "type": "object", "required": ["id", "to", "subject", "text", "created_at"],
    "properties": {
      "id": {"type": "string"},
      "to": {"type": "string"},
      "subject": {"type": "string"},
      "text": {"type": "string", "description": "The plain-text body"},
      "created_at": {"type": "string", "format": "date-time"}}}}}})"});
}

}  // namespace nimbus::mail
