// The audit log over real sockets: a real server with identity (accounts, organizations and
// operators), the outbox dispatcher feeding the audit log, the audit routes, the firewall (OWASP
// CRS) whose blocks travel through the bounded queue, and the gateway's admin API (firewall
// status, IP rules, rate-limit overrides) whose changes are audited. Mail goes through a real SMTP
// server (identity_env.cpp's SmtpSink).
#include <sodium.h>

#include <algorithm>
#include <thread>

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "audit/audit.hpp"
#include "core/ids.hpp"
#include "events/events.hpp"
#include "gateway/gateway.hpp"
#include "identity_env.hpp"

namespace nimbus::test {
namespace {

constexpr const char* kPassword = "correct-Horse-battery-9";
constexpr auto kDeliveryTimeout = std::chrono::seconds(20);
constexpr auto kPollInterval = std::chrono::milliseconds(20);

std::string credentials(const std::string& email, const std::string& password) {
    return boost::json::serialize(boost::json::object{{"email", email}, {"password", password}});
}

boost::json::object parse(const std::string& body) {
    boost::system::error_code ec;
    auto value = boost::json::parse(body, ec);
    if (ec || !value.is_object()) return {};
    return value.as_object();
}

/// Everything a node wires for the audit log, on SQLite in a temporary directory.
class AuditStack {
public:
    AuditStack() {
        auto created = db::testing::TestDatabase::create(db::Backend::sqlite);
        if (!created) throw std::runtime_error(created.error().message);
        test_db_ = std::move(*created);
        std::vector<db::ModuleMigrations> modules = {{"events", &events::migrations()},
                                                     {"mail", &mail::migrations()},
                                                     {"identity", &identity::migrations()},
                                                     {"audit", &audit::migrations()},
                                                     {"gateway", &gateway::migrations()}};
        if (!db::migrate_up(db(), modules, clock_.now_ms())) {
            throw std::runtime_error("migrations failed");
        }
        auto key =
            crypto::MasterKey::from_bytes(crypto::random_bytes(crypto::MasterKey::kKeyBytes));
        master_key_ = std::make_unique<crypto::MasterKey>(std::move(*key));
        mailer_ =
            mail::make_smtp_mailer({.smtp_url = smtp_.url(), .from = "Nimbus <n@nimbus.test>"});
        mail_queue_ = std::make_unique<mail::Queue>(
            db(), clock_, *master_key_, *mailer_,
            mail::QueueOptions{.poll_interval = std::chrono::milliseconds(20)});
        if (!mail_queue_->start()) throw std::runtime_error("the mail queue did not start");
        identity_ = std::make_unique<identity::Service>(db(), clock_, *master_key_, *mail_queue_,
                                                        IdentityStack::settings());
        if (!identity_->start()) throw std::runtime_error("identity did not start");
        orgs_ = std::make_unique<identity::Organizations>(db(), clock_, *mail_queue_,
                                                          identity::OrgSettings{});
        if (!orgs_->start()) throw std::runtime_error("organizations did not start");

        log_ = std::make_unique<audit::Log>(db(), clock_);
        dispatcher_ = std::make_unique<events::Dispatcher>(
            db(), clock_, events::DispatcherOptions{.poll_interval = kPollInterval});
        if (!dispatcher_->subscribe("audit", [this](const events::Event& event) -> Result<void> {
                ++deliveries_;
                auto recorded = log_->record(event);
                if (!recorded) return recorded.error();
                return {};
            })) {
            throw std::runtime_error("subscribe failed");
        }
        if (!dispatcher_->start()) throw std::runtime_error("dispatcher did not start");
        queue_ = std::make_unique<audit::EventQueue>(
            db(), clock_, nullptr,
            audit::EventQueue::Options{.on_committed = [this] { dispatcher_->wake(); }});

        auto firewall = gateway::Firewall::create({});
        if (!firewall) throw std::runtime_error(firewall.error().message);
        auto firewall_step =
            gateway::make_firewall_step(*firewall, nullptr, [this](gateway::FirewallBlock block) {
                boost::json::object data{{"request_id", block.request_id},
                                         {"route", block.route},
                                         {"method", block.method},
                                         {"ip", block.client_address},
                                         {"status", block.status},
                                         {"rule_ids", boost::json::value_from(block.rule_ids)}};
                queue_->push({.type = "nimbus.gateway.firewall.blocked",
                              .source = "/nimbus/gateway",
                              .subject = "request:" + block.request_id,
                              .data_json = boost::json::serialize(data)});
            });

        identity::add_routes(router_, *identity_);
        audit::add_routes(router_, *log_);
        // The gateway's admin API as app/node.cpp wires it.
        gateway::add_firewall_status_route(router_, {.enabled = true,
                                                     .blocking = true,
                                                     .paranoia_level = 1,
                                                     .inbound_anomaly_threshold = 5,
                                                     .firewall = *firewall});
        ip_rules_ = std::make_unique<gateway::IpRules>(db(), gateway::IpRulesSettings{}, nullptr);
        if (!ip_rules_->reload()) throw std::runtime_error("IP rules did not load");
        ip_rules_->add_routes(router_, clock_);
        auto limiter = gateway::make_rate_limiter({}, db(), clock_, nullptr);
        if (!limiter) throw std::runtime_error(limiter.error().message);
        gateway::add_rate_limit_routes(router_, *limiter, db(), clock_);
        pipeline_ = http::default_pipeline(
            {.access_log = false,
             .ip_rules = ip_rules_->make_step(),
             .firewall = std::move(firewall_step),
             .authenticate = orgs_->make_authenticate_step(identity_->make_authenticate_step())},
            nullptr);
        http::ServerOptions options;
        options.port = 0;
        options.threads = 2;
        options.blocking_threads = 2;
        server_ = std::make_unique<http::Server>(options, router_, *pipeline_, nullptr);
        if (!server_->start()) throw std::runtime_error("server did not start");
    }

    ~AuditStack() {
        server_->stop();
        server_->wait();
        queue_.reset();
        dispatcher_->stop();
    }

    db::Database& db() { return test_db_->db(); }
    audit::Log& log() { return *log_; }
    identity::Organizations& orgs() { return *orgs_; }
    audit::EventQueue& queue() { return *queue_; }
    int deliveries() const { return deliveries_.load(); }

    HttpResponse request(const std::string& method, const std::string& target,
                         const std::string& body = {}, const std::string& bearer = {}) {
        std::vector<std::pair<std::string, std::string>> headers = {{"connection", "close"}};
        if (!body.empty()) headers.emplace_back("content-type", "application/json");
        if (!bearer.empty()) headers.emplace_back("authorization", "Bearer " + bearer);
        Connection connection(server_->port());
        return connection.request(method, target, headers, body);
    }

    /// Waits until every event in the outbox reached the audit subscriber.
    bool delivered() {
        dispatcher_->wake();
        auto deadline = std::chrono::steady_clock::now() + kDeliveryTimeout;
        while (std::chrono::steady_clock::now() < deadline) {
            auto stats = dispatcher_->stats();
            if (stats && stats->pending_deliveries == 0 && stats->undispatched_events == 0) {
                return true;
            }
            std::this_thread::sleep_for(kPollInterval);
        }
        return false;
    }

    std::int64_t count(const std::string& sql) {
        auto rows = db().query(sql);
        return rows ? rows->front().get_int(0) : -1;
    }

    /// Signs up, verifies through the mail and logs in; returns the access token.
    std::string signed_in(const std::string& email) {
        auto signed_up = request("POST", "/api/v1/auth/signup", credentials(email, kPassword));
        EXPECT_EQ(signed_up.status, 202) << signed_up.body;
        std::string token = smtp_.last_token(email, "verify-email");
        auto verified = request("POST", "/api/v1/auth/verify-email",
                                boost::json::serialize(boost::json::object{{"token", token}}));
        EXPECT_EQ(verified.status, 204) << verified.body;
        auto login = request("POST", "/api/v1/auth/login", credentials(email, kPassword));
        EXPECT_EQ(login.status, 200) << login.body;
        return json_field(login.body, "access_token");
    }

private:
    SystemClock clock_;
    SmtpSink smtp_;
    std::unique_ptr<db::testing::TestDatabase> test_db_;
    std::unique_ptr<crypto::MasterKey> master_key_;
    std::unique_ptr<mail::Mailer> mailer_;
    std::unique_ptr<mail::Queue> mail_queue_;
    std::unique_ptr<identity::Service> identity_;
    std::unique_ptr<identity::Organizations> orgs_;
    std::unique_ptr<gateway::IpRules> ip_rules_;
    std::unique_ptr<audit::Log> log_;
    std::unique_ptr<events::Dispatcher> dispatcher_;
    std::unique_ptr<audit::EventQueue> queue_;
    std::atomic<int> deliveries_{0};
    http::Router router_;
    std::unique_ptr<http::Pipeline> pipeline_;
    std::unique_ptr<http::Server> server_;
};

class AuditOverHttp : public ::testing::Test {
protected:
    static void SetUpTestSuite() { stack_ = new AuditStack(); }
    static void TearDownTestSuite() {
        delete stack_;
        stack_ = nullptr;
    }
    static AuditStack* stack_;
};
AuditStack* AuditOverHttp::stack_ = nullptr;

TEST_F(AuditOverHttp, FailedAndSuccessfulSignInAreLoggedWithActorAndAddress) {
    std::string token = stack_->signed_in("ada@example.com");
    ASSERT_FALSE(token.empty());
    auto wrong = stack_->request("POST", "/api/v1/auth/login",
                                 credentials("ada@example.com", "Wrong-password-123"));
    EXPECT_EQ(wrong.status, 401);
    ASSERT_TRUE(stack_->delivered());

    auto mine = stack_->request("GET", "/api/v1/me/audit?action=nimbus.identity.login.", {}, token);
    ASSERT_EQ(mine.status, 200) << mine.body;
    EXPECT_EQ(mine.header("cache-control"), "no-store");
    auto data = parse(mine.body)["data"].as_array();
    ASSERT_EQ(data.size(), 2U) << mine.body;
    const auto& failed = data[0].as_object();  // newest first
    const auto& succeeded = data[1].as_object();
    EXPECT_EQ(failed.at("action").as_string(), "nimbus.identity.login.failed");
    EXPECT_EQ(succeeded.at("action").as_string(), "nimbus.identity.login.succeeded");
    std::string user_id(succeeded.at("actor_id").as_string());
    EXPECT_TRUE(user_id.starts_with("usr_"));
    EXPECT_EQ(failed.at("actor_id").as_string(), user_id);
    EXPECT_EQ(failed.at("ip").as_string(), "127.0.0.1");
    EXPECT_EQ(succeeded.at("ip").as_string(), "127.0.0.1");
    EXPECT_EQ(failed.at("details").as_object().at("reason").as_string(), "wrong_password");
    EXPECT_GT(succeeded.at("seq").as_int64(), 0);
    EXPECT_EQ(mine.body.find(kPassword), std::string::npos);

    // Another user sees none of these.
    std::string other = stack_->signed_in("bob@example.com");
    ASSERT_TRUE(stack_->delivered());
    auto theirs = stack_->request("GET", "/api/v1/me/audit?limit=200", {}, other);
    ASSERT_EQ(theirs.status, 200) << theirs.body;
    boost::json::object their_page = parse(theirs.body);
    ASSERT_FALSE(their_page["data"].as_array().empty());
    for (const auto& entry : their_page["data"].as_array()) {
        EXPECT_NE(entry.at("actor_id"), boost::json::value(user_id));
    }
}

TEST_F(AuditOverHttp, PagesFollowTheCursorToTheEnd) {
    std::string token = stack_->signed_in("cursor@example.com");
    for (int i = 0; i < 3; ++i) {
        stack_->request("POST", "/api/v1/auth/login",
                        credentials("cursor@example.com", "Wrong-password-123"));
    }
    ASSERT_TRUE(stack_->delivered());
    auto all = stack_->request("GET", "/api/v1/me/audit?limit=200", {}, token);
    ASSERT_EQ(all.status, 200);
    std::size_t total = parse(all.body)["data"].as_array().size();
    ASSERT_GE(total, 5U);  // created, verified, signed in, three failures

    std::vector<std::int64_t> seqs;
    std::string target = "/api/v1/me/audit?limit=2";
    while (true) {
        auto page = stack_->request("GET", target, {}, token);
        ASSERT_EQ(page.status, 200) << page.body;
        auto body = parse(page.body);
        for (const auto& entry : body["data"].as_array())
            seqs.push_back(entry.at("seq").as_int64());
        if (body["next_cursor"].is_null()) break;
        target = "/api/v1/me/audit?limit=2&cursor=" + std::string(body["next_cursor"].as_string());
    }
    EXPECT_EQ(seqs.size(), total);
    EXPECT_TRUE(std::is_sorted(seqs.rbegin(), seqs.rend()));
}

TEST_F(AuditOverHttp, BadFiltersAnswer400ProblemAndNonMembers404) {
    std::string token = stack_->signed_in("filters@example.com");
    for (std::string query : {"limit=0", "limit=10000", "cursor=not-a-cursor", "since=yesterday",
                              "until=2026-11-24T25:00:00Z", "action=Nimbus.Identity"}) {
        auto response = stack_->request("GET", "/api/v1/me/audit?" + query, {}, token);
        EXPECT_EQ(response.status, 400) << query << ": " << response.body;
        EXPECT_EQ(response.header("content-type"), "application/problem+json") << query;
        EXPECT_EQ(json_field(response.body, "type"), "/problems/validation-failed") << query;
    }
    // A user outside the organization (404, as a node answers: membership is not revealed),
    // and one without operator rights.
    auto org =
        stack_->request("GET", "/api/v1/orgs/org_01J0000000000000000000000/audit", {}, token);
    EXPECT_EQ(org.status, 404) << org.body;
    EXPECT_EQ(org.header("content-type"), "application/problem+json");
    auto admin = stack_->request("GET", "/api/v1/admin/audit", {}, token);
    EXPECT_EQ(admin.status, 403) << admin.body;
    auto anonymous = stack_->request("GET", "/api/v1/me/audit");
    EXPECT_EQ(anonymous.status, 401);
}

TEST_F(AuditOverHttp, FirewallBlocksReachTheLogWithRuleIdsThatTheClientNeverSees) {
    auto blocked = stack_->request(
        "GET", "/api/v1/me/audit?q=1%27%20UNION%20SELECT%20password%20FROM%20users--");
    ASSERT_EQ(blocked.status, 403) << blocked.body;
    std::string request_id = *blocked.header("x-request-id");
    stack_->queue().flush();
    ASSERT_TRUE(stack_->delivered());

    auto page = stack_->log().list({.action_prefix = "nimbus.gateway.firewall.blocked"});
    ASSERT_TRUE(page);
    const audit::Entry* found = nullptr;
    for (const auto& entry : page->entries) {
        if (entry.details_json.find(request_id) != std::string::npos) found = &entry;
    }
    ASSERT_NE(found, nullptr);
    EXPECT_EQ(found->ip, "127.0.0.1");
    EXPECT_FALSE(found->actor_id);
    auto details = parse(found->details_json);
    ASSERT_TRUE(details["rule_ids"].is_array());
    ASSERT_FALSE(details["rule_ids"].as_array().empty());
    EXPECT_EQ(details["method"].as_string(), "GET");
    std::string rule = std::to_string(details["rule_ids"].as_array()[0].as_int64());
    EXPECT_EQ(blocked.body.find(rule), std::string::npos) << "the answer names no rule";
}

TEST_F(AuditOverHttp, RedeliveredEventsAppendNothing) {
    stack_->signed_in("again@example.com");
    ASSERT_TRUE(stack_->delivered());
    std::int64_t before = stack_->count("SELECT COUNT(*) FROM audit_entries");
    // Hand every stored event to the log again, as a redelivery after a crash would.
    auto rows = stack_->db().query(
        "SELECT id, type, source, subject, time_ms, data FROM outbox_events ORDER BY seq");
    ASSERT_TRUE(rows) << rows.error().message;
    ASSERT_FALSE(rows->empty());
    for (const auto& row : *rows) {
        events::Event event;
        event.id = row.get_text(0);
        event.type = row.get_text(1);
        event.source = row.get_text(2);
        event.subject = row.get_text(3);
        event.time_ms = row.get_int(4);
        event.data_json = row.get_text(5);
        event.attempt = 2;
        auto appended = stack_->log().record(event);
        ASSERT_TRUE(appended);
        EXPECT_FALSE(*appended) << event.id;
    }
    EXPECT_EQ(stack_->count("SELECT COUNT(*) FROM audit_entries"), before);
    auto report = stack_->log().verify();
    ASSERT_TRUE(report);
    EXPECT_TRUE(report->ok) << report->reason;
}

}  // namespace
}  // namespace nimbus::test

namespace nimbus::test {
namespace {

TEST_F(AuditOverHttp, FirewallStatusIsForOperatorsOnly) {
    std::string user = stack_->signed_in("not-an-operator@example.com");
    auto refused = stack_->request("GET", "/api/v1/admin/firewall", {}, user);
    EXPECT_EQ(refused.status, 403) << refused.body;
    EXPECT_EQ(refused.header("content-type"), "application/problem+json");
    EXPECT_EQ(refused.body.find("paranoia"), std::string::npos);
    EXPECT_EQ(stack_->request("GET", "/api/v1/admin/firewall").status, 401);

    std::string operator_token = stack_->signed_in("status-operator@example.com");
    ASSERT_TRUE(stack_->orgs().set_operator("status-operator@example.com", true));
    auto status = stack_->request("GET", "/api/v1/admin/firewall", {}, operator_token);
    ASSERT_EQ(status.status, 200) << status.body;
    EXPECT_EQ(status.header("cache-control"), "no-store");
    auto body = parse(status.body);
    EXPECT_EQ(body["enabled"], boost::json::value(true));
    EXPECT_EQ(body["mode"], boost::json::value("blocking"));
    EXPECT_EQ(body["paranoia_level"], boost::json::value(1));
    EXPECT_EQ(body["inbound_anomaly_threshold"], boost::json::value(5));
    EXPECT_EQ(body["rule_exclusions"], boost::json::value(0));
    EXPECT_TRUE(body["prefilter_active"].is_bool()) << status.body;
}

/// The newest audit entry of `action` whose target is `target`, as an operator reads it.
boost::json::object audit_entry(AuditStack& stack, const std::string& token,
                                const std::string& action, const std::string& target) {
    auto page = stack.request("GET", "/api/v1/admin/audit?action=" + action + "&target=" + target,
                              {}, token);
    EXPECT_EQ(page.status, 200) << page.body;
    auto data = parse(page.body)["data"];
    if (!data.is_array() || data.as_array().empty()) return {};
    return data.as_array()[0].as_object();
}

TEST_F(AuditOverHttp, IpRuleAndOverrideChangesAreLoggedWithActorAndAddress) {
    std::string token = stack_->signed_in("gateway-operator@example.com");
    ASSERT_TRUE(stack_->orgs().set_operator("gateway-operator@example.com", true));
    auto me = parse(stack_->request("GET", "/api/v1/me", {}, token).body);
    std::string operator_id(me["id"].as_string());

    auto added = stack_->request("POST", "/api/v1/admin/firewall/ip-rules",
                                 R"({"kind":"cidr","action":"deny","value":"198.51.100.0/24",)"
                                 R"("note":"scanner"})",
                                 token);
    ASSERT_EQ(added.status, 201) << added.body;
    std::string rule_id(parse(added.body)["id"].as_string());
    ASSERT_EQ(
        stack_->request("DELETE", "/api/v1/admin/firewall/ip-rules/" + rule_id, {}, token).status,
        204);
    const std::string key = "user:usr_01J0000000000000000000000";
    ASSERT_EQ(stack_
                  ->request("PUT", "/api/v1/admin/rate-limits/overrides/" + key,
                            R"({"requests_per_minute":60,"burst":5})", token)
                  .status,
              200);
    ASSERT_EQ(
        stack_->request("DELETE", "/api/v1/admin/rate-limits/overrides/" + key, {}, token).status,
        204);
    // Refused changes are not audited: a duplicate, a malformed rule, an unknown key.
    auto bad = stack_->request("POST", "/api/v1/admin/firewall/ip-rules",
                               R"({"kind":"cidr","action":"deny","value":"10.0.0.1/8"})", token);
    EXPECT_EQ(bad.status, 400) << bad.body;
    // A malformed rule id is refused by the route's path schema, naming the parameter, before
    // any lookup; the rules stay as they were.
    std::string rules_before =
        stack_->request("GET", "/api/v1/admin/firewall/ip-rules", {}, token).body;
    for (const std::string& id : {std::string("ipr_x"), std::string("1%20OR%201=1"), rule_id + "0",
                                  "rol_" + rule_id.substr(4)}) {
        auto malformed =
            stack_->request("DELETE", "/api/v1/admin/firewall/ip-rules/" + id, {}, token);
        EXPECT_EQ(malformed.status, 400) << id << ": " << malformed.body;
        EXPECT_EQ(malformed.header("content-type"), "application/problem+json") << id;
        EXPECT_NE(malformed.body.find(R"("parameter":"id")"), std::string::npos) << malformed.body;
    }
    EXPECT_EQ(stack_->request("GET", "/api/v1/admin/firewall/ip-rules", {}, token).body,
              rules_before);
    // A well-formed id that names no rule is still 404.
    EXPECT_EQ(
        stack_->request("DELETE", "/api/v1/admin/firewall/ip-rules/" + new_id("ipr", 0), {}, token)
            .status,
        404);
    EXPECT_EQ(
        stack_->request("DELETE", "/api/v1/admin/rate-limits/overrides/" + key, {}, token).status,
        404);
    ASSERT_TRUE(stack_->delivered());

    for (const auto& [action, target] : std::vector<std::pair<std::string, std::string>>{
             {"nimbus.gateway.ip_rule.created", rule_id},
             {"nimbus.gateway.ip_rule.deleted", rule_id},
             {"nimbus.gateway.rate_limit_override.set", key},
             {"nimbus.gateway.rate_limit_override.deleted", key}}) {
        auto entry = audit_entry(*stack_, token, action, target);
        ASSERT_FALSE(entry.empty()) << action;
        EXPECT_EQ(entry["action"], boost::json::value(action));
        EXPECT_EQ(entry["actor_id"], boost::json::value(operator_id)) << action;
        EXPECT_EQ(entry["ip"], boost::json::value("127.0.0.1")) << action;
        EXPECT_EQ(entry["target_id"], boost::json::value(target)) << action;
    }
    auto deleted =
        audit_entry(*stack_, token, "nimbus.gateway.ip_rule.deleted", rule_id)["details"];
    EXPECT_EQ(deleted.at("value"), boost::json::value("198.51.100.0/24"));
    EXPECT_EQ(deleted.at("action"), boost::json::value("deny"));
    auto set =
        audit_entry(*stack_, token, "nimbus.gateway.rate_limit_override.set", key)["details"];
    EXPECT_EQ(set.at("requests_per_minute"), boost::json::value(60));
    EXPECT_EQ(set.at("burst"), boost::json::value(5));
    EXPECT_EQ(stack_->count("SELECT COUNT(*) FROM audit_entries WHERE action = "
                            "'nimbus.gateway.ip_rule.created' AND details LIKE '%10.0.0.1%'"),
              0);
    EXPECT_EQ(stack_->count("SELECT COUNT(*) FROM audit_entries WHERE action LIKE "
                            "'nimbus.gateway.rate_limit_override.%'"),
              2);
}

}  // namespace
}  // namespace nimbus::test
