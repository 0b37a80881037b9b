// The organization tests' stack (org_stack.hpp).
#include "org_stack.hpp"

#include <regex>

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include "events/events.hpp"
#include "identity/totp.hpp"

namespace nimbus::test {

std::string body(const boost::json::object& object) { return boost::json::serialize(object); }

OrgStack::OrgStack() : clock_(SystemClock().now_ms()) {
    auto created = db::testing::TestDatabase::create(test_backend());
    if (!created) throw std::runtime_error(created.error().message);
    database_ = std::move(*created);
    std::vector<db::ModuleMigrations> modules = {{"events", &events::migrations()},
                                                 {"mail", &mail::migrations()},
                                                 {"identity", &identity::migrations()},
                                                 {"audit", &audit::migrations()}};
    if (!db::migrate_up(db(), modules, clock_.now_ms())) {
        throw std::runtime_error("migrations failed");
    }
    auto key = crypto::MasterKey::from_bytes(crypto::random_bytes(crypto::MasterKey::kKeyBytes));
    master_key_ = std::make_unique<crypto::MasterKey>(std::move(*key));
    mailer_ = mail::make_dev_mailbox(db(), clock_);
    mail_queue_ = std::make_unique<mail::Queue>(db(), clock_, *master_key_, *mailer_);
    service_ = std::make_unique<identity::Service>(db(), clock_, *master_key_, *mail_queue_,
                                                   IdentityStack::settings());
    if (!service_->start()) throw std::runtime_error("identity did not start");
    identity::OrgSettings org_settings;
    org_settings.base_url = "http://nimbus.test";
    orgs_ = std::make_unique<identity::Organizations>(db(), clock_, *mail_queue_, org_settings);
    identity::add_routes(router_, *service_);
    identity::add_org_routes(router_, *orgs_);
    // Other modules' org routes, so the isolation test covers them too.
    oidc_ = std::make_unique<identity::OidcProvider>(
        db(), clock_, *service_,
        identity::OidcSettings{.issuer = "http://nimbus.test", .audience = "nimbus"});
    identity::add_oidc_routes(router_, *oidc_, *service_);
    audit_ = std::make_unique<audit::Log>(db(), clock_);
    audit::add_routes(router_, *audit_);
    mail::add_dev_mailbox_routes(router_, db());
    // A route only operators may call, as the gateway admin routes are.
    router_.add(
        http::Method::get, "/test/operator",
        http::SyncHandler(
            [](http::Request&, http::RequestContext&) { return http::Response::no_content(); }),
        http::RouteOptions{.permission = "gateway.firewall.manage", .success_statuses = {204}});
    pipeline_ = http::default_pipeline(
        {.access_log = false,
         .authenticate = orgs_->make_authenticate_step(service_->make_authenticate_step())},
        nullptr);
    http::ServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.threads = 2;
    options.blocking_threads = 2;
    options.database_inline = test_backend() == db::Backend::sqlite;
    server_ = std::make_unique<http::Server>(options, router_, *pipeline_, nullptr);
    if (!server_->start()) throw std::runtime_error("server did not start");
}

OrgStack::~OrgStack() {
    server_->stop();
    server_->wait();
}

HttpResponse OrgStack::request(const std::string& method, const std::string& target,
                               const std::string& json, const std::string& bearer) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!json.empty()) headers.emplace_back("content-type", "application/json");
    if (!bearer.empty()) headers.emplace_back("authorization", "Bearer " + bearer);
    headers.emplace_back("connection", "close");
    Connection connection(server_->port());
    HttpResponse response = connection.request(method, target, headers, json);
    if (auto delivered = mail_queue_->run_once(); !delivered) {
        throw std::runtime_error(delivered.error().message);
    }
    return response;
}

std::string OrgStack::mailed_token(const std::string& to, const std::string& page) {
    constexpr int kMails = 50;
    auto mails = mail::read_dev_mailbox(db(), to, kMails);
    if (!mails) return {};
    std::regex link(page + "\\?token=([A-Za-z0-9_-]+)");
    for (const auto& mail : *mails) {
        std::smatch match;
        if (std::regex_search(mail.text, match, link)) return match[1];
    }
    return {};
}

std::string OrgStack::login(const std::string& email) {
    auto login =
        request("POST", "/api/v1/auth/login", body({{"email", email}, {"password", kPassword}}));
    EXPECT_EQ(login.status, 200) << login.body;
    return json_field(login.body, "access_token");
}

std::string OrgStack::user(const std::string& email, std::string* user_id) {
    auto signed_up =
        request("POST", "/api/v1/auth/signup", body({{"email", email}, {"password", kPassword}}));
    EXPECT_EQ(signed_up.status, 202) << signed_up.body;
    auto verified = request("POST", "/api/v1/auth/verify-email",
                            body({{"token", mailed_token(email, "verify-email")}}));
    EXPECT_EQ(verified.status, 204) << verified.body;
    auto login =
        request("POST", "/api/v1/auth/login", body({{"email", email}, {"password", kPassword}}));
    EXPECT_EQ(login.status, 200) << login.body;
    std::string token = json_field(login.body, "access_token");
    if (user_id != nullptr)
        *user_id = json_field(request("GET", "/api/v1/me", {}, token).body, "id");
    return token;
}

std::int64_t OrgStack::count(const std::string& sql, db::Params params) {
    auto rows = db().query(sql, params);
    return rows && !rows->empty() ? rows->front().get_int(0) : -1;
}

std::int64_t OrgStack::events(const std::string& type) {
    return count("SELECT COUNT(*) FROM outbox_events WHERE type = ?", {type});
}

std::string OrgStack::snapshot(const std::string& org_id) {
    std::string out;
    auto dump = [&](const std::string& sql) {
        auto rows = db().query(sql, {org_id});
        if (!rows) {
            out += "error: " + rows.error().message;
            return;
        }
        out += rows_text(*rows);
    };
    dump("SELECT * FROM identity_orgs WHERE id = ?");
    dump("SELECT * FROM identity_org_members WHERE org_id = ? ORDER BY user_id");
    dump("SELECT * FROM identity_org_roles WHERE org_id = ? ORDER BY id");
    dump("SELECT * FROM identity_org_invitations WHERE org_id = ? ORDER BY id");
    dump("SELECT * FROM identity_api_keys WHERE org_id = ? ORDER BY id");
    dump("SELECT * FROM identity_oauth_clients WHERE org_id = ? ORDER BY id");
    return out;
}

void OrgStack::enable_totp(const std::string& access) {
    auto started = request("POST", "/api/v1/me/mfa/totp", "", access);
    ASSERT_EQ(started.status, 200) << started.body;
    std::string secret = decode_base32(json_field(started.body, "secret"));
    std::string code = identity::totp::code_at(secret, clock_.now_ms() / 1000);
    auto confirmed = request("POST", "/api/v1/me/mfa/totp/confirm", body({{"code", code}}), access);
    ASSERT_EQ(confirmed.status, 200) << confirmed.body;
}

std::string create_org(OrgStack& stack, const std::string& token, const std::string& name) {
    auto created = stack.request("POST", "/api/v1/orgs", body({{"name", name}}), token);
    EXPECT_EQ(created.status, 201) << created.body;
    return json_field(created.body, "id");
}

void join(OrgStack& stack, const std::string& org_id, const std::string& inviter_token,
          const std::string& email, const std::string& invitee_token, const std::string& role) {
    auto invited = stack.request("POST", "/api/v1/orgs/" + org_id + "/invitations",
                                 body({{"email", email}, {"role", role}}), inviter_token);
    ASSERT_EQ(invited.status, 201) << invited.body;
    std::string token = stack.mailed_token(email, "accept-invitation");
    ASSERT_FALSE(token.empty());
    auto accepted = stack.request("POST", "/api/v1/invitations/accept", body({{"token", token}}),
                                  invitee_token);
    ASSERT_EQ(accepted.status, 200) << accepted.body;
}

}  // namespace nimbus::test
