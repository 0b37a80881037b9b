// The organization policy "members must use MFA" over real sockets: PATCH require_mfa, the 403
// mfa-required answer for a member without confirmed TOTP, the way back in after enrolling, and
// API keys left alone (docs/identity.md, "Requiring MFA").
#include <regex>

#include <gtest/gtest.h>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "events/events.hpp"
#include "identity/totp.hpp"
#include "identity_env.hpp"

#ifdef NIMBUS_IDENTITY_TEST_POSTGRES
#define OrgMfaPolicy OrgMfaPolicyOnPostgres
#endif

namespace nimbus::test {
namespace {

constexpr const char* kPassword = "correct-Horse-battery-9";

std::string body(const boost::json::object& object) { return boost::json::serialize(object); }

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

/// Accounts and organizations behind a real server, mail in the dev mailbox.
class MfaStack {
public:
    MfaStack() : clock_(SystemClock().now_ms()) {
        auto created = db::testing::TestDatabase::create(test_backend());
        if (!created) throw std::runtime_error(created.error().message);
        database_ = std::move(*created);
        std::vector<db::ModuleMigrations> modules = {{"events", &events::migrations()},
                                                     {"mail", &mail::migrations()},
                                                     {"identity", &identity::migrations()}};
        if (!db::migrate_up(db(), modules, clock_.now_ms())) {
            throw std::runtime_error("migrations failed");
        }
        auto key =
            crypto::MasterKey::from_bytes(crypto::random_bytes(crypto::MasterKey::kKeyBytes));
        master_key_ = std::make_unique<crypto::MasterKey>(std::move(*key));
        mailer_ = mail::make_dev_mailbox(db(), clock_);
        service_ = std::make_unique<identity::Service>(db(), clock_, *master_key_, *mailer_,
                                                       IdentityStack::settings());
        if (!service_->start()) throw std::runtime_error("identity did not start");
        identity::OrgSettings org_settings;
        org_settings.base_url = "http://nimbus.test";
        orgs_ = std::make_unique<identity::Organizations>(db(), clock_, *mailer_, org_settings);
        identity::add_routes(router_, *service_);
        identity::add_org_routes(router_, *orgs_);
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

    ~MfaStack() {
        server_->stop();
        server_->wait();
    }

    MfaStack(const MfaStack&) = delete;
    MfaStack& operator=(const MfaStack&) = delete;

    db::Database& db() { return database_->db(); }
    ManualClock& clock() { return clock_; }

    HttpResponse request(const std::string& method, const std::string& target,
                         const std::string& json = {}, const std::string& bearer = {}) {
        std::vector<std::pair<std::string, std::string>> headers;
        if (!json.empty()) headers.emplace_back("content-type", "application/json");
        if (!bearer.empty()) headers.emplace_back("authorization", "Bearer " + bearer);
        headers.emplace_back("connection", "close");
        Connection connection(server_->port());
        return connection.request(method, target, headers, json);
    }

    std::string mailed_token(const std::string& to, const std::string& page) {
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

    /// Signs up, verifies and logs in; returns the access token.
    std::string user(const std::string& email) {
        auto signed_up = request("POST", "/api/v1/auth/signup",
                                 body({{"email", email}, {"password", kPassword}}));
        EXPECT_EQ(signed_up.status, 202) << signed_up.body;
        auto verified = request("POST", "/api/v1/auth/verify-email",
                                body({{"token", mailed_token(email, "verify-email")}}));
        EXPECT_EQ(verified.status, 204) << verified.body;
        auto login = request("POST", "/api/v1/auth/login",
                             body({{"email", email}, {"password", kPassword}}));
        EXPECT_EQ(login.status, 200) << login.body;
        return json_field(login.body, "access_token");
    }

    /// Enrols and confirms TOTP through the API.
    void enable_totp(const std::string& access) {
        auto started = request("POST", "/api/v1/me/mfa/totp", "", access);
        ASSERT_EQ(started.status, 200) << started.body;
        std::string secret = decode_base32(json_field(started.body, "secret"));
        std::string code = identity::totp::code_at(secret, clock_.now_ms() / 1000);
        auto confirmed =
            request("POST", "/api/v1/me/mfa/totp/confirm", body({{"code", code}}), access);
        ASSERT_EQ(confirmed.status, 200) << confirmed.body;
    }

    std::int64_t count(const std::string& sql, db::Params params = {}) {
        auto rows = db().query(sql, params);
        return rows && !rows->empty() ? rows->front().get_int(0) : -1;
    }

private:
    ManualClock clock_;
    std::unique_ptr<db::testing::TestDatabase> database_;
    std::unique_ptr<crypto::MasterKey> master_key_;
    std::unique_ptr<mail::Mailer> mailer_;
    std::unique_ptr<identity::Service> service_;
    std::unique_ptr<identity::Organizations> orgs_;
    http::Router router_;
    std::unique_ptr<http::Pipeline> pipeline_;
    std::unique_ptr<http::Server> server_;
};

class OrgMfaPolicy : public ::testing::Test {
protected:
    void SetUp() override {
        if (!backend_available()) GTEST_SKIP() << "no PostgreSQL test cluster";
        stack_ = std::make_unique<MfaStack>();
    }
    std::unique_ptr<MfaStack> stack_;
};

TEST_F(OrgMfaPolicy, MembersWithoutTotpAreRefusedUntilTheyEnrol) {
    MfaStack& s = *stack_;
    std::string alice = s.user("alice@example.com");
    std::string bob = s.user("bob@example.com");
    auto created = s.request("POST", "/api/v1/orgs", body({{"name", "Acme"}}), alice);
    ASSERT_EQ(created.status, 201) << created.body;
    EXPECT_NE(created.body.find(R"("require_mfa":false)"), std::string::npos) << created.body;
    std::string org_id = json_field(created.body, "id");
    std::string org_path = "/api/v1/orgs/" + org_id;
    auto invited = s.request("POST", org_path + "/invitations",
                             body({{"email", "bob@example.com"}, {"role", "admin"}}), alice);
    ASSERT_EQ(invited.status, 201) << invited.body;
    auto accepted =
        s.request("POST", "/api/v1/invitations/accept",
                  body({{"token", s.mailed_token("bob@example.com", "accept-invitation")}}), bob);
    ASSERT_EQ(accepted.status, 200) << accepted.body;
    auto key_made =
        s.request("POST", org_path + "/api-keys",
                  body({{"name", "ci"}, {"permissions", boost::json::array{"org.read"}}}), alice);
    ASSERT_EQ(key_made.status, 201) << key_made.body;
    std::string api_key = json_field(key_made.body, "key");
    EXPECT_EQ(s.request("GET", org_path + "/members", {}, bob).status, 200);

    // Nobody can require what they do not use themselves: that would lock them out at once.
    auto premature = s.request("PATCH", org_path, body({{"require_mfa", true}}), alice);
    EXPECT_EQ(premature.status, 409) << premature.body;
    EXPECT_EQ(s.count("SELECT require_mfa FROM identity_orgs WHERE id = ?", {org_id}), 0);

    s.enable_totp(alice);
    auto events_before =
        s.count("SELECT COUNT(*) FROM outbox_events WHERE type = 'nimbus.identity.org.updated'");
    auto on = s.request("PATCH", org_path, body({{"require_mfa", true}}), alice);
    ASSERT_EQ(on.status, 200) << on.body;
    EXPECT_NE(on.body.find(R"("require_mfa":true)"), std::string::npos) << on.body;
    EXPECT_EQ(s.count("SELECT COUNT(*) FROM outbox_events WHERE type = "
                      "'nimbus.identity.org.updated' AND data LIKE '%\"require_mfa\":true%'"),
              1);
    EXPECT_EQ(s.count("SELECT COUNT(*) FROM outbox_events WHERE type = "
                      "'nimbus.identity.org.updated'"),
              events_before + 1);

    // Bob has no second factor: every org route but reading the org itself says why.
    for (const auto& [method, path] :
         std::vector<std::pair<std::string, std::string>>{{"GET", org_path + "/members"},
                                                          {"GET", org_path + "/invitations"},
                                                          {"PATCH", org_path},
                                                          {"DELETE", org_path + "/members/me"}}) {
        auto refused = s.request(method, path, method == "PATCH" ? R"({"name":"Bob's"})" : "", bob);
        EXPECT_EQ(refused.status, 403) << method << " " << path << " " << refused.body;
        EXPECT_NE(refused.body.find("/problems/mfa-required"), std::string::npos) << refused.body;
        EXPECT_EQ(refused.header("content-type").value_or(""), "application/problem+json");
    }
    auto readable = s.request("GET", org_path, {}, bob);
    ASSERT_EQ(readable.status, 200) << readable.body;
    EXPECT_NE(readable.body.find(R"("require_mfa":true)"), std::string::npos);
    EXPECT_EQ(s.count("SELECT COUNT(*) FROM identity_org_members WHERE org_id = ?", {org_id}), 2);
    EXPECT_EQ(s.count("SELECT COUNT(*) FROM identity_orgs WHERE name = 'Acme'"), 1);
    // The owner who has TOTP, and API keys, are not affected; nor are non-org routes.
    EXPECT_EQ(s.request("GET", org_path + "/members", {}, alice).status, 200);
    EXPECT_EQ(s.request("GET", org_path, {}, api_key).status, 200);
    EXPECT_EQ(s.request("GET", "/api/v1/me", {}, bob).status, 200);

    // After enrolling (answers are cached per node for at most membership_cache_ttl_ms).
    s.enable_totp(bob);
    s.clock().advance_ms(identity::OrgSettings{}.membership_cache_ttl_ms + 1);
    EXPECT_EQ(s.request("GET", org_path + "/members", {}, bob).status, 200);

    // Turning it off again works without a second factor check.
    auto off = s.request("PATCH", org_path, body({{"require_mfa", false}}), alice);
    ASSERT_EQ(off.status, 200) << off.body;
    EXPECT_NE(off.body.find(R"("require_mfa":false)"), std::string::npos);
}

TEST_F(OrgMfaPolicy, BadValuesAreRefusedAndChangeNothing) {
    MfaStack& s = *stack_;
    std::string alice = s.user("alice@example.com");
    auto created = s.request("POST", "/api/v1/orgs", body({{"name", "Acme"}}), alice);
    ASSERT_EQ(created.status, 201) << created.body;
    std::string org_id = json_field(created.body, "id");
    s.enable_totp(alice);
    for (const char* bad :
         {R"({"require_mfa":"true"})", R"({"require_mfa":1})", R"({"require_mfa":[true]})",
          R"({"require_mfa":{}})", R"({"name":"Renamed","require_mfa":"yes"})"}) {
        auto refused = s.request("PATCH", "/api/v1/orgs/" + org_id, bad, alice);
        EXPECT_EQ(refused.status, 400) << bad << " " << refused.body;
        EXPECT_NE(refused.body.find("/require_mfa"), std::string::npos) << refused.body;
    }
    EXPECT_EQ(s.count("SELECT require_mfa FROM identity_orgs WHERE id = ?", {org_id}), 0);
    EXPECT_EQ(s.count("SELECT COUNT(*) FROM identity_orgs WHERE name = 'Acme'"), 1);
    // null leaves the policy as it is.
    auto unchanged = s.request("PATCH", "/api/v1/orgs/" + org_id, R"({"require_mfa":null})", alice);
    EXPECT_EQ(unchanged.status, 200) << unchanged.body;
    EXPECT_EQ(s.count("SELECT require_mfa FROM identity_orgs WHERE id = ?", {org_id}), 0);
}

}  // namespace
}  // namespace nimbus::test
