// The audit log on a real SQLite file: appends, the chain, filters and cursors, the routes through
// the pipeline with constructed principals, and the bounded event queue.
// tests/integration/audit covers PostgreSQL, several appending nodes and the server over sockets.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "audit/audit.hpp"
#include "core/crypto.hpp"
#include "http/test_support.hpp"
#include "test_database.hpp"

namespace nimbus::audit {
namespace {

constexpr std::int64_t kStartMs = 1'764'000'000'000;  // 2025-11-24T16:00:00Z

events::Event make_event(std::string id, std::string type, std::string data,
                         std::int64_t time_ms = kStartMs) {
    events::Event event;
    event.id = std::move(id);
    event.type = std::move(type);
    event.source = "/nimbus/identity";
    event.subject = "usr_1";
    event.time_ms = time_ms;
    event.data_json = std::move(data);
    return event;
}

class AuditLogTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto created = db::testing::TestDatabase::create(db::Backend::sqlite);
        ASSERT_TRUE(created) << created.error().message;
        test_db_ = std::move(*created);
        const db::ModuleMigrations modules[] = {{"events", &events::migrations()},
                                                {"audit", &migrations()}};
        auto migrated = db::migrate_up(db(), modules, kStartMs);
        ASSERT_TRUE(migrated) << migrated.error().message;
        log_ = std::make_unique<Log>(db(), clock_);
    }

    db::Database& db() { return test_db_->db(); }

    /// Appends `count` login events by usr_1 / usr_2 alternately, one minute apart.
    void append_logins(int count) {
        for (int i = 1; i <= count; ++i) {
            std::string user = i % 2 == 1 ? "usr_1" : "usr_2";
            auto appended = log_->record(make_event(
                "evt_" + std::to_string(i), "nimbus.identity.login.succeeded",
                R"({"user_id":")" + user + R"(","ip":"203.0.113.)" + std::to_string(i) + R"("})",
                kStartMs + i * 60'000));
            ASSERT_TRUE(appended && *appended);
        }
    }

    std::unique_ptr<db::testing::TestDatabase> test_db_;
    ManualClock clock_{kStartMs};
    std::unique_ptr<Log> log_;
};

TEST(AuditEncoding, HashCoversEveryFieldAndTellsNullFromEmpty) {
    Entry entry;
    entry.seq = 1;
    entry.id = "evt_1";
    entry.time_ms = kStartMs;
    entry.action = "nimbus.identity.login.failed";
    entry.actor_id = "usr_1";
    entry.details_json = "{}";
    entry.prev_hash = std::string(kGenesisHash);
    std::string base = entry_hash(entry);
    EXPECT_EQ(base.size(), 64U);

    Entry empty_org = entry;
    empty_org.org_id = "";
    EXPECT_NE(entry_hash(empty_org), base) << "NULL and '' must encode differently";

    // Moving bytes from one field to the next must change the hash (length-prefixed fields).
    Entry shifted = entry;
    shifted.action = "nimbus.identity.login.faile";
    shifted.actor_id = "dusr_1";
    EXPECT_NE(entry_hash(shifted), base);

    Entry other_prev = entry;
    other_prev.prev_hash[0] = '1';
    EXPECT_NE(entry_hash(other_prev), base);
}

TEST(AuditEncoding, MatchesTheDocumentedEncoding) {
    // docs/audit.md: each field is 0x01 + 8-byte big-endian length + bytes, or 0x00 for NULL.
    Entry entry;
    entry.seq = 7;
    entry.id = "evt_x";
    entry.time_ms = 5;
    entry.action = "a";
    entry.ip = "1";
    entry.details_json = "{}";
    entry.prev_hash = std::string(kGenesisHash);
    auto field = [](std::string_view bytes) {
        std::string out(1, '\x01');
        for (int shift = 56; shift >= 0; shift -= 8) {
            out.push_back(static_cast<char>((bytes.size() >> shift) & 0xFF));
        }
        return out + std::string(bytes);
    };
    std::string expected = field("nimbus.audit.v1") + field("7") + field("evt_x") + field("5") +
                           field("a") + std::string(3, '\0') + field("1") + field("{}") +
                           field(kGenesisHash);
    EXPECT_EQ(entry_hash(entry), crypto::sha256_hex(expected));
}

TEST(AuditEncoding, CursorsRoundTripAndRefuseForgeries) {
    auto seq = decode_cursor(encode_cursor(42));
    ASSERT_TRUE(seq);
    EXPECT_EQ(*seq, 42);
    for (const std::string& bad : std::vector<std::string>{
             "", "abc", "!!!", crypto::base64url_encode("a1.0"), crypto::base64url_encode("a1.-5"),
             crypto::base64url_encode("a1.12x"), crypto::base64url_encode("b1.12"),
             crypto::base64url_encode("a1."), crypto::base64url_encode("a1.99999999999999999999"),
             std::string(100, 'A')}) {
        EXPECT_FALSE(decode_cursor(bad)) << bad;
    }
}

TEST(AuditEncoding, ParsesRfc3339Strictly) {
    EXPECT_EQ(*parse_rfc3339("2025-11-24T16:00:00Z"), kStartMs);
    EXPECT_EQ(*parse_rfc3339("2025-11-24T17:00:00.250+01:00"), kStartMs + 250);
    EXPECT_EQ(*parse_rfc3339("2025-11-24t15:30:00-00:30"), kStartMs);
    EXPECT_EQ(*parse_rfc3339("1970-01-01T00:00:00Z"), 0);
    EXPECT_EQ(*parse_rfc3339("2024-02-29T00:00:00Z"), 1'709'164'800'000);
    for (std::string_view bad :
         {"", "2025-11-24", "2025-11-24T16:00:00", "2025-13-01T00:00:00Z", "2025-02-29T00:00:00Z",
          "2025-11-24T24:00:00Z", "2025-11-24T16:60:00Z", "2025-11-24 16:00:00Z",
          "2025-11-24T16:00:00.Z", "2025-11-24T16:00:00+0100", "2025-11-24T16:00:00Zjunk",
          "yesterday", "2025-11-24T16:00:00+25:00"}) {
        EXPECT_FALSE(parse_rfc3339(bad)) << bad;
    }
}

TEST_F(AuditLogTest, AppendsAuditedEventsAndLiftsTheConventionFields) {
    auto appended = log_->record(make_event(
        "evt_a", "nimbus.identity.member.role_changed",
        R"({"actor_id":"usr_admin","org_id":"org_1","target_id":"usr_2","ip":"198.51.100.4",)"
        R"("role":"admin","password":"hunter2","token":"t0k","code_hash":"x","token_id":"tok_1"})"));
    ASSERT_TRUE(appended);
    EXPECT_TRUE(*appended);
    auto skipped = log_->record(make_event("evt_b", "nimbus.billing.invoice.paid", "{}"));
    ASSERT_TRUE(skipped);
    EXPECT_FALSE(*skipped) << "types outside the audited prefixes are not logged";

    auto page = log_->list({});
    ASSERT_TRUE(page);
    ASSERT_EQ(page->entries.size(), 1U);
    const Entry& entry = page->entries.front();
    EXPECT_EQ(entry.seq, 1);
    EXPECT_EQ(entry.id, "evt_a");
    EXPECT_EQ(entry.actor_id, "usr_admin");
    EXPECT_EQ(entry.org_id, "org_1");
    EXPECT_EQ(entry.target_id, "usr_2");
    EXPECT_EQ(entry.ip, "198.51.100.4");
    EXPECT_EQ(entry.prev_hash, kGenesisHash);
    // Secrets never reach the log, whatever the payload carried.
    EXPECT_EQ(entry.details_json, R"({"role":"admin","token_id":"tok_1"})");
}

TEST_F(AuditLogTest, UserIdIsTheActorWhenNoActorIsNamed) {
    ASSERT_TRUE(log_->record(make_event("evt_1", "nimbus.identity.login.failed",
                                        R"({"user_id":"","reason":"unknown_email","ip":"x"})")));
    ASSERT_TRUE(log_->record(make_event("evt_2", "nimbus.identity.login.succeeded",
                                        R"({"user_id":"usr_1","session_id":"ses_1"})")));
    auto page = log_->list({});
    ASSERT_TRUE(page);
    ASSERT_EQ(page->entries.size(), 2U);
    EXPECT_EQ(page->entries[0].actor_id, "usr_1");
    EXPECT_EQ(page->entries[0].details_json, R"({"session_id":"ses_1"})");
    EXPECT_FALSE(page->entries[1].actor_id) << "an unknown email has no actor";
    EXPECT_EQ(page->entries[1].details_json, R"({"reason":"unknown_email"})");
}

TEST_F(AuditLogTest, RedeliveryAppendsNothing) {
    auto event = make_event("evt_1", "nimbus.identity.login.succeeded", R"({"user_id":"usr_1"})");
    ASSERT_TRUE(*log_->record(event));
    event.attempt = 2;
    auto again = log_->record(event);
    ASSERT_TRUE(again);
    EXPECT_FALSE(*again);
    auto rows = db().query("SELECT COUNT(*), MAX(seq) FROM audit_entries");
    ASSERT_TRUE(rows);
    EXPECT_EQ(rows->front().get_int(0), 1);
    auto report = log_->verify();
    ASSERT_TRUE(report);
    EXPECT_TRUE(report->ok);
}

TEST_F(AuditLogTest, ChainLinksEachEntryToThePreviousOne) {
    append_logins(3);
    auto page = log_->list({});
    ASSERT_TRUE(page);
    ASSERT_EQ(page->entries.size(), 3U);
    EXPECT_EQ(page->entries[0].seq, 3);  // newest first
    EXPECT_EQ(page->entries[0].prev_hash, page->entries[1].hash);
    EXPECT_EQ(page->entries[1].prev_hash, page->entries[2].hash);
    for (const Entry& entry : page->entries) EXPECT_EQ(entry_hash(entry), entry.hash);
    auto report = log_->verify();
    ASSERT_TRUE(report);
    EXPECT_TRUE(report->ok) << report->reason;
    EXPECT_EQ(report->entries, 3);
}

TEST_F(AuditLogTest, VerifyReportsTheFirstAlteredEntry) {
    append_logins(5);
    ASSERT_TRUE(
        db::testing::execute(db(), "UPDATE audit_entries SET ip = '10.0.0.1' WHERE seq = 3"));
    auto report = log_->verify();
    ASSERT_TRUE(report);
    EXPECT_FALSE(report->ok);
    EXPECT_EQ(report->broken_seq, 3);
    EXPECT_EQ(report->entries, 2);
    EXPECT_NE(report->reason.find("hash"), std::string::npos);
}

TEST_F(AuditLogTest, VerifyReportsARehashedEntryAtTheNextLink) {
    append_logins(4);
    // A careful forger recomputes the changed entry's hash; the next entry's prev_hash gives it
    // away.
    auto rows = db().query(
        "SELECT seq, event_id, time_ms, action, actor_id, org_id, target_id, ip, details, "
        "prev_hash, hash FROM audit_entries WHERE seq = 2");
    ASSERT_TRUE(rows && rows->size() == 1);
    Entry forged;
    const db::Row& row = rows->front();
    forged.seq = row.get_int(0);
    forged.id = row.get_text(1);
    forged.time_ms = row.get_int(2);
    forged.action = row.get_text(3);
    forged.actor_id = "usr_someone_else";
    forged.org_id = row.get_optional_text(5);
    forged.target_id = row.get_optional_text(6);
    forged.ip = row.get_optional_text(7);
    forged.details_json = row.get_text(8);
    forged.prev_hash = row.get_text(9);
    std::string hash = entry_hash(forged);
    ASSERT_TRUE(
        db::testing::execute(db(), "UPDATE audit_entries SET actor_id = ?, hash = ? WHERE seq = 2",
                             {*forged.actor_id, hash}));
    auto report = log_->verify();
    ASSERT_TRUE(report);
    EXPECT_FALSE(report->ok);
    EXPECT_EQ(report->broken_seq, 3);
    EXPECT_NE(report->reason.find("prev_hash"), std::string::npos);
}

TEST_F(AuditLogTest, VerifyReportsDeletedEntriesInTheMiddleAndAtTheEnd) {
    append_logins(5);
    ASSERT_TRUE(db::testing::execute(db(), "DELETE FROM audit_entries WHERE seq = 5"));
    auto tail = log_->verify();
    ASSERT_TRUE(tail);
    EXPECT_FALSE(tail->ok);
    EXPECT_EQ(tail->broken_seq, 5);

    ASSERT_TRUE(db::testing::execute(db(), "DELETE FROM audit_entries WHERE seq = 2"));
    auto middle = log_->verify();
    ASSERT_TRUE(middle);
    EXPECT_FALSE(middle->ok);
    EXPECT_EQ(middle->broken_seq, 2);
}

TEST_F(AuditLogTest, ListsWithFiltersAndCursors) {
    append_logins(7);
    ASSERT_TRUE(log_->record(make_event("evt_org", "nimbus.identity.org.updated",
                                        R"({"actor_id":"usr_1","org_id":"org_1"})",
                                        kStartMs + 10 * 60'000)));

    Query first{.limit = 3};
    auto page = log_->list(first);
    ASSERT_TRUE(page);
    ASSERT_EQ(page->entries.size(), 3U);
    ASSERT_TRUE(page->next_cursor);
    std::vector<std::int64_t> seen;
    for (const auto& entry : page->entries) seen.push_back(entry.seq);
    while (page->next_cursor) {
        Query next{.limit = 3};
        next.before_seq = *decode_cursor(*page->next_cursor);
        page = log_->list(next);
        ASSERT_TRUE(page);
        for (const auto& entry : page->entries) seen.push_back(entry.seq);
    }
    EXPECT_EQ(seen, (std::vector<std::int64_t>{8, 7, 6, 5, 4, 3, 2, 1}));

    Query by_actor{.actor_id = "usr_2"};
    EXPECT_EQ(log_->list(by_actor)->entries.size(), 3U);
    Query by_action{.action_prefix = "nimbus.identity.org."};
    EXPECT_EQ(log_->list(by_action)->entries.size(), 1U);
    Query underscore_is_literal{.action_prefix = "nimbus_identity"};
    EXPECT_EQ(log_->list(underscore_is_literal)->entries.size(), 0U);
    Query by_org{.org_id = "org_1"};
    EXPECT_EQ(log_->list(by_org)->entries.size(), 1U);
    Query other_org{.org_id = "org_2"};
    EXPECT_EQ(log_->list(other_org)->entries.size(), 0U);
    Query window{.since_ms = kStartMs + 2 * 60'000, .until_ms = kStartMs + 4 * 60'000};
    auto windowed = log_->list(window);
    ASSERT_EQ(windowed->entries.size(), 2U);
    EXPECT_EQ(windowed->entries[0].seq, 3);
    EXPECT_EQ(windowed->entries[1].seq, 2);

    EXPECT_FALSE(log_->list({.limit = 0}));
    EXPECT_FALSE(log_->list({.limit = kMaxLimit + 1}));
    EXPECT_FALSE(log_->list({.action_prefix = "nimbus.%"}));
}

// ---------------------------------------------------------------------------------------------
// Routes through the pipeline (authorize and validate steps included).

/// An organization id of the shape new_id mints (the route's path schema checks it).
constexpr std::string_view kOrg = "org_01ARZ3NDEKTSV4RRFFQ69G5FA1";

class AuditRoutesTest : public AuditLogTest {
protected:
    void SetUp() override {
        AuditLogTest::SetUp();
        add_routes(router_, *log_);
        pipeline_ = http::default_pipeline({.access_log = false}, nullptr);
        append_logins(4);
        ASSERT_TRUE(log_->record(make_event(
            "evt_org", "nimbus.identity.member.added",
            R"({"actor_id":"usr_1","org_id":"org_01ARZ3NDEKTSV4RRFFQ69G5FA1","target_id":"usr_3"})",
            kStartMs)));
        ASSERT_TRUE(log_->record(make_event(
            "evt_fw", "nimbus.gateway.firewall.blocked",
            R"({"ip":"192.0.2.9","route":"/api/v1/auth/login","rule_ids":[942100]})", kStartMs)));
    }

    /// Runs `target` through the router and the pipeline as the server does (route, permission
    /// and path parameters set from the match) on a private event loop.
    http::Response get(const std::string& target, std::optional<http::Principal> principal) {
        http::Request request = http::testing::make_request(http::Method::get, target);
        http::Match match = router_.match(request.method, request.path);
        http::RequestContext context;
        context.principal = std::move(principal);
        if (match.route != nullptr) {
            context.route = match.route->path_template;
            context.matched_permission = match.route->options.permission;
            context.path_params = std::move(match.path_params);
        }
        boost::asio::io_context io;
        std::optional<http::Response> result;
        boost::asio::co_spawn(io, pipeline_->run(request, context, match.route, nullptr),
                              [&](const std::exception_ptr&, http::Response response) {
                                  result = std::move(response);
                              });
        io.run();
        return std::move(*result);
    }

    static http::Principal user(std::string id, std::vector<std::string> permissions) {
        http::Principal principal;
        principal.id = std::move(id);
        principal.permissions = std::move(permissions);
        return principal;
    }

    static boost::json::object body(const http::Response& response) {
        return boost::json::parse(response.body).as_object();
    }

    http::Router router_;
    std::unique_ptr<http::Pipeline> pipeline_;
};

TEST_F(AuditRoutesTest, OrgLogShowsOnlyThatOrganization) {
    auto response =
        get("/api/v1/orgs/" + std::string(kOrg) + "/audit", user("usr_1", {"audit.read"}));
    ASSERT_EQ(response.status, 200) << response.body;
    auto data = body(response).at("data").as_array();
    ASSERT_EQ(data.size(), 1U);
    const auto& entry = data[0].as_object();
    EXPECT_EQ(entry.at("id").as_string(), "evt_org");
    EXPECT_EQ(entry.at("time").as_string(), "2025-11-24T16:00:00.000Z");
    EXPECT_EQ(entry.at("target_id").as_string(), "usr_3");
    EXPECT_TRUE(entry.at("ip").is_null());
    EXPECT_TRUE(body(response).at("next_cursor").is_null());
    EXPECT_EQ(response.header("cache-control"), "no-store");
}

TEST_F(AuditRoutesTest, AMalformedOrgIdIsRefusedNamingTheParameter) {
    auto response = get("/api/v1/orgs/org_1/audit", user("usr_1", {"audit.read"}));
    EXPECT_EQ(response.status, 400) << response.body;
    EXPECT_EQ(response.header("content-type"), "application/problem+json");
    EXPECT_NE(response.body.find("org_id"), std::string::npos) << response.body;
}

TEST_F(AuditRoutesTest, PermissionsAreChecked) {
    EXPECT_EQ(get("/api/v1/orgs/" + std::string(kOrg) + "/audit", std::nullopt).status, 401);
    EXPECT_EQ(
        get("/api/v1/orgs/" + std::string(kOrg) + "/audit", user("usr_2", {"account.self"})).status,
        403);
    EXPECT_EQ(get("/api/v1/admin/audit", user("usr_1", {"account.self", "audit.read"})).status,
              403);
    EXPECT_EQ(get("/api/v1/me/audit", std::nullopt).status, 401);
}

TEST_F(AuditRoutesTest, MeShowsTheCallersEventsAsActorOrTarget) {
    auto mine = get("/api/v1/me/audit", user("usr_3", {"account.self"}));
    ASSERT_EQ(mine.status, 200) << mine.body;
    auto data = body(mine).at("data").as_array();
    ASSERT_EQ(data.size(), 1U) << "usr_3 was the target of the membership change";
    auto other = get("/api/v1/me/audit?limit=200", user("usr_2", {"account.self"}));
    EXPECT_EQ(body(other).at("data").as_array().size(), 2U);
}

TEST_F(AuditRoutesTest, AdminSeesEverythingAndPagesWithTheCursor) {
    auto admin = user("usr_op", {"audit.read_all"});
    auto first = get("/api/v1/admin/audit?limit=4", admin);
    ASSERT_EQ(first.status, 200) << first.body;
    auto first_body = body(first);
    ASSERT_EQ(first_body.at("data").as_array().size(), 4U);
    EXPECT_EQ(first_body.at("data").as_array()[0].at("action").as_string(),
              "nimbus.gateway.firewall.blocked");
    std::string cursor(first_body.at("next_cursor").as_string());
    auto second = get("/api/v1/admin/audit?limit=4&cursor=" + cursor, admin);
    ASSERT_EQ(second.status, 200) << second.body;
    auto rest = body(second).at("data").as_array();
    ASSERT_EQ(rest.size(), 2U);
    EXPECT_EQ(rest[1].at("seq").as_int64(), 1);
    EXPECT_TRUE(body(second).at("next_cursor").is_null());

    auto filtered = get(
        "/api/v1/admin/audit?action=nimbus.identity.login.&actor=usr_1&since=2025-11-24T16:02:00Z",
        admin);
    ASSERT_EQ(filtered.status, 200) << filtered.body;
    auto filtered_data = body(filtered).at("data").as_array();
    ASSERT_EQ(filtered_data.size(), 1U);
    EXPECT_EQ(filtered_data[0].at("seq").as_int64(), 3);
}

TEST_F(AuditRoutesTest, BadParametersAnswer400AndNameTheParameter) {
    auto admin = user("usr_op", {"audit.read_all"});
    struct Case {
        std::string query;
        std::string parameter;
    };
    for (const Case& bad : std::vector<Case>{{"limit=0", "limit"},
                                             {"limit=10000", "limit"},
                                             {"limit=ten", "limit"},
                                             {"cursor=bm9wZQ", "cursor"},
                                             {"cursor=%00%01", "cursor"},
                                             {"since=yesterday", "since"},
                                             {"until=2025-02-30T00:00:00Z", "until"},
                                             {"action=NIMBUS%25", "action"},
                                             {"actor=", "actor"}}) {
        auto response = get("/api/v1/admin/audit?" + bad.query, admin);
        EXPECT_EQ(response.status, 400) << bad.query;
        ASSERT_TRUE(response.problem) << bad.query;
        EXPECT_EQ(response.problem->type, "/problems/validation-failed") << bad.query;
        ASSERT_FALSE(response.problem->errors.empty()) << bad.query;
        EXPECT_EQ(response.problem->errors[0].parameter, bad.parameter) << bad.query;
    }
}

// ---------------------------------------------------------------------------------------------
// The queue that carries firewall blocks off the I/O threads.

TEST_F(AuditLogTest, QueueWritesEventsInBatchesAndDropsBeyondItsBound) {
    int commits = 0;
    {
        EventQueue queue(db(), clock_, nullptr,
                         {.capacity = 1000, .batch_size = 50, .on_committed = [&] { ++commits; }});
        for (int i = 0; i < 120; ++i) {
            EXPECT_TRUE(queue.push({.type = "nimbus.gateway.firewall.blocked",
                                    .source = "/nimbus/gateway",
                                    .subject = "ip:192.0.2.1",
                                    .data_json = R"({"ip":"192.0.2.1"})"}));
        }
        queue.flush();
        EXPECT_EQ(queue.dropped(), 0U);
    }
    auto rows = db().query("SELECT COUNT(*) FROM outbox_events WHERE type = ?",
                           {"nimbus.gateway.firewall.blocked"});
    ASSERT_TRUE(rows);
    EXPECT_EQ(rows->front().get_int(0), 120);
    EXPECT_GE(commits, 3);  // at most 50 per transaction

    // A queue whose writer is stuck behind the database lock fills up and drops, never waits.
    auto tx = db().begin();
    ASSERT_TRUE(tx);
    {
        EventQueue queue(db(), clock_, nullptr, {.capacity = 5, .batch_size = 1});
        int accepted = 0;
        for (int i = 0; i < 50; ++i) {
            accepted += queue.push({.type = "nimbus.gateway.firewall.blocked",
                                    .source = "/nimbus/gateway",
                                    .subject = "ip:192.0.2.2"})
                            ? 1
                            : 0;
        }
        EXPECT_LE(accepted, 5);
        EXPECT_EQ(queue.dropped(), static_cast<std::uint64_t>(50 - accepted));
        tx->reset();  // lets the writer finish; the destructor drains
    }
}

}  // namespace
}  // namespace nimbus::audit
