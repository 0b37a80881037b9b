#include "identity_env.hpp"

#include <chrono>
#include <variant>

#include <gtest/gtest.h>

#include <sodium.h>

#include <boost/json/parse.hpp>

#include "core/ids.hpp"
#include "events/events.hpp"

namespace nimbus::test {
namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(20);

}  // namespace

std::string rows_text(const std::vector<db::Row>& rows) {
    std::string out;
    for (const auto& row : rows) {
        for (std::size_t i = 0; i < row.size(); ++i) {
            if (row.is_null(i)) {
                out += "NULL|";
            } else if (const auto* text = std::get_if<std::string>(&row.at(i))) {
                out += *text + "|";
            } else if (const auto* number = std::get_if<std::int64_t>(&row.at(i))) {
                out += std::to_string(*number) + "|";
            }
        }
        out += "\n";
    }
    return out;
}

void expect_problem(const HttpResponse& response, int status, const std::string& fragment) {
    EXPECT_EQ(response.status, status) << response.body;
    EXPECT_EQ(response.header("content-type"), "application/problem+json") << response.body;
    EXPECT_NE(response.body.find(R"("status":)" + std::to_string(status)), std::string::npos)
        << response.body;
    EXPECT_NE(response.body.find(fragment), std::string::npos)
        << "body lacks " << fragment << "\nbody: " << response.body;
}

db::Backend test_backend() {
#ifdef NIMBUS_IDENTITY_TEST_POSTGRES
    return db::Backend::postgres;
#else
    return db::Backend::sqlite;
#endif
}

bool backend_available() {
    return test_backend() == db::Backend::sqlite || db::testing::postgres_admin_url().has_value();
}

identity::Settings IdentityStack::settings() {
    identity::Settings settings;
    settings.issuer = "http://nimbus.test";
    settings.audience = "nimbus";
    // Minimal Argon2id cost keeps the suite fast; production uses the OWASP defaults.
    settings.hashing.ops_limit = crypto_pwhash_OPSLIMIT_MIN;
    settings.hashing.mem_limit_kib = crypto_pwhash_MEMLIMIT_MIN / 1024;
    // The brute-force slowdown still runs (on a timer), just short enough to keep the suite fast.
    settings.lockout.delay_base_ms = 1;
    settings.lockout.delay_max_ms = 10;
    return settings;
}

IdentityStack::IdentityStack(MailMode mode) : clock_(SystemClock().now_ms()) {
    auto created = db::testing::TestDatabase::create(test_backend());
    if (!created) throw std::runtime_error(created.error().message);
    test_database_ = std::move(*created);
    std::vector<db::ModuleMigrations> modules = {{"events", &events::migrations()},
                                                 {"mail", &mail::migrations()},
                                                 {"identity", &identity::migrations()}};
    if (!db::migrate_up(database(), modules, clock_.now_ms())) {
        throw std::runtime_error("migrations failed");
    }
    auto key = crypto::MasterKey::from_bytes(crypto::random_bytes(crypto::MasterKey::kKeyBytes));
    master_key_ = std::make_unique<crypto::MasterKey>(std::move(*key));
    if (mode == MailMode::smtp) {
        smtp_ = std::make_unique<SmtpSink>();
        mailer_ =
            mail::make_smtp_mailer({.smtp_url = smtp_->url(), .from = "Nimbus <n@nimbus.test>"});
    } else {
        mailer_ = mail::make_dev_mailbox(database(), clock_);
    }
    mail_queue_ = std::make_unique<mail::Queue>(database(), clock_, *master_key_, *mailer_,
                                                mail::QueueOptions{.poll_interval = kPollInterval});
    if (auto started = mail_queue_->start(); !started) {
        throw std::runtime_error(started.error().message);
    }
    service_ = std::make_unique<identity::Service>(database(), clock_, *master_key_, *mail_queue_,
                                                   settings());
    if (auto started = service_->start(); !started) {
        throw std::runtime_error(started.error().message);
    }
    identity::add_routes(router_, *service_);
    oidc_ = std::make_unique<identity::OidcProvider>(
        database(), clock_, *service_,
        identity::OidcSettings{.issuer = settings().issuer, .audience = settings().audience});
    identity::add_oidc_routes(router_, *oidc_, *service_);
    mail::add_dev_mailbox_routes(router_, database());
    pipeline_ = http::default_pipeline(
        {.access_log = false, .authenticate = service_->make_authenticate_step()}, nullptr);
    http::ServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.threads = 2;
    options.blocking_threads = 2;
    server_ = std::make_unique<http::Server>(options, router_, *pipeline_, nullptr);
    if (auto started = server_->start(); !started) {
        throw std::runtime_error(started.error().message);
    }
}

IdentityStack::~IdentityStack() {
    server_->stop();
    server_->wait();
    server_.reset();
    oidc_.reset();
    service_.reset();
    mail_queue_.reset();
    test_database_.reset();
}

std::unique_ptr<identity::Service> IdentityStack::other_service(identity::Settings settings) {
    auto service = std::make_unique<identity::Service>(database(), clock_, *master_key_,
                                                       *mail_queue_, std::move(settings));
    if (!service->start()) throw std::runtime_error("cannot start a second service");
    return service;
}

std::int64_t IdentityStack::count_events(const std::string& type) {
    auto rows = database().query("SELECT COUNT(*) FROM outbox_events WHERE type = ?", {type});
    return rows ? rows->front().get_int(0) : -1;
}

std::int64_t IdentityStack::count(const std::string& sql) {
    auto rows = database().query(sql);
    return rows ? rows->front().get_int(0) : -1;
}

HttpResponse IdentityStack::request(
    const std::string& method, const std::string& target, const std::string& body,
    const std::string& bearer, const std::vector<std::pair<std::string, std::string>>& headers) {
    std::vector<std::pair<std::string, std::string>> all = headers;
    if (!body.empty()) all.emplace_back("content-type", "application/json");
    if (!bearer.empty()) all.emplace_back("authorization", "Bearer " + bearer);
    all.emplace_back("connection", "close");
    Connection connection(port());
    HttpResponse response = connection.request(method, target, all, body);
    if (auto delivered = mail_queue_->run_once(); !delivered) {
        throw std::runtime_error(delivered.error().message);
    }
    return response;
}

std::string json_field(const std::string& body, const std::string& name) {
    boost::system::error_code ec;
    auto value = boost::json::parse(body, ec);
    if (ec || !value.is_object()) return {};
    const auto* field = value.as_object().if_contains(name);
    return field != nullptr && field->is_string() ? std::string(field->as_string()) : "";
}

std::string decode_base32(const std::string& text) {
    constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    std::string out;
    unsigned buffer = 0;
    int bits = 0;
    for (char c : text) {
        buffer = (buffer << 5U) | static_cast<unsigned>(kAlphabet.find(c));
        bits += 5;
        if (bits >= 8) {
            out.push_back(static_cast<char>((buffer >> static_cast<unsigned>(bits - 8)) & 0xFFU));
            bits -= 8;
        }
    }
    return out;
}

}  // namespace nimbus::test
