// Cluster sync: two "nodes" (two database handles on one SQLite file, as two processes would have
// on one PostgreSQL) — IP rules, rate-limit overrides and cached responses changed on one apply
// on the other without a restart.
#include <unistd.h>

#include <filesystem>
#include <thread>

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>

#include "db/db.hpp"
#include "events/events.hpp"
#include "gateway/gateway.hpp"
#include "gateway/rate_limit_internal.hpp"
#include "http/test_support.hpp"

namespace nimbus::gateway {
namespace {

namespace fs = std::filesystem;
using http::testing::make_request;

constexpr std::int64_t kNowMs = 1'716'400'000'000;
const http::Principal kAdmin{.id = "usr_admin", .permissions = {"*"}};

/// Runs `request` through `router` and `pipeline` as an administrator, as the server would.
http::Response dispatch(http::Pipeline& pipeline, const http::Router& router,
                        http::Request request) {
    http::Match match = router.match(request.method, request.path);
    http::RequestContext context;
    context.principal = kAdmin;
    context.path_params = match.path_params;
    if (match.route != nullptr) {
        context.route = match.route->path_template;
        context.matched_permission = match.route->options.permission;
    }
    boost::asio::io_context io;
    std::optional<http::Response> result;
    boost::asio::co_spawn(
        io, pipeline.run(request, context, match.route, nullptr),
        [&](std::exception_ptr, http::Response response) { result = std::move(response); });
    io.run();
    return std::move(*result);
}

/// One node: its own database handle, IP rules, limiter, router and pipeline.
struct Node {
    std::unique_ptr<db::Database> database;
    std::unique_ptr<IpRules> ip_rules;
    std::shared_ptr<RateLimiter> limiter;
    http::Router router;
    std::unique_ptr<http::Pipeline> pipeline;
    std::unique_ptr<ClusterSync> sync;
    int handler_calls = 0;
};

class ClusterSyncTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("nimbus-cluster-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        a_ = start_node();
        b_ = start_node();
    }
    void TearDown() override {
        a_.reset();
        b_.reset();
        fs::remove_all(dir_);
    }

    std::unique_ptr<Node> start_node(std::chrono::milliseconds poll = std::chrono::hours(1)) {
        auto node = std::make_unique<Node>();
        auto opened = db::open({.sqlite_path = (dir_ / "shared.db").string()});
        EXPECT_TRUE(opened) << opened.error().message;
        node->database = std::move(*opened);
        std::vector<db::ModuleMigrations> modules = {{"events", &events::migrations()},
                                                     {"gateway", &migrations()}};
        auto migrated = db::migrate_up(*node->database, modules, kNowMs);
        EXPECT_TRUE(migrated) << migrated.error().message;
        node->ip_rules = std::make_unique<IpRules>(*node->database, IpRulesSettings{}, nullptr);
        EXPECT_TRUE(node->ip_rules->reload());
        node->limiter = *make_rate_limiter({}, *node->database, clock_, nullptr);
        node->ip_rules->add_routes(node->router, clock_);
        add_rate_limit_routes(node->router, node->limiter, *node->database, clock_);
        Node* raw = node.get();
        node->router.add(http::Method::get, "/api/v1/notes/{id}",
                         http::SyncHandler([raw](http::Request&, http::RequestContext&) {
                             ++raw->handler_calls;
                             return http::Response::json(200, boost::json::object{{"n", 1}});
                         }),
                         {.cache_ttl = std::chrono::seconds(60)});
        node->router.add(http::Method::patch, "/api/v1/notes/{id}",
                         http::SyncHandler([](http::Request&, http::RequestContext&) {
                             return http::Response::no_content();
                         }),
                         {.success_statuses = {204}});
        http::PipelineSettings settings{.access_log = false};
        settings.on_cache_write = [raw](const std::string& path) {
            raw->sync->publish_invalidation(path);
        };
        node->pipeline = http::default_pipeline(std::move(settings), nullptr);
        auto sync = ClusterSync::start(*node->database, clock_,
                                       {.poll_interval = poll,
                                        .ip_rules = node->ip_rules.get(),
                                        .rate_limiter = node->limiter,
                                        .invalidate_cached = [raw](const std::string& path) {
                                            raw->pipeline->invalidate_cached(path);
                                        }});
        EXPECT_TRUE(sync) << sync.error().message;
        node->sync = std::move(*sync);
        return node;
    }

    static http::Response call(Node& node, http::Method method, const std::string& target,
                               std::string body = {}) {
        http::Request request =
            make_request(method, target, {{"content-type", "application/json"}}, std::move(body));
        request.remote_address = "127.0.0.1";
        return dispatch(*node.pipeline, node.router, std::move(request));
    }

    static bool refuses(Node& node, const std::string& address) {
        return node.ip_rules->refusal(*IpAddress::parse(address)).has_value();
    }

    ManualClock clock_{kNowMs};
    fs::path dir_;
    std::unique_ptr<Node> a_;
    std::unique_ptr<Node> b_;
};

TEST_F(ClusterSyncTest, IpRulesAddedOrRemovedOnOneNodeApplyOnTheOther) {
    http::Response added = call(*a_, http::Method::post, "/api/v1/admin/firewall/ip-rules",
                                R"({"kind":"cidr","action":"deny","value":"203.0.113.0/24"})");
    ASSERT_EQ(added.status, 201) << added.body;
    EXPECT_TRUE(refuses(*a_, "203.0.113.9")) << "the writing node at once";
    EXPECT_FALSE(refuses(*b_, "203.0.113.9")) << "the other node at its next poll, not before";
    ASSERT_TRUE(b_->sync->sync_now());
    EXPECT_TRUE(refuses(*b_, "203.0.113.9"));

    std::string id(boost::json::parse(added.body).as_object().at("id").as_string());
    EXPECT_EQ(call(*a_, http::Method::delete_, "/api/v1/admin/firewall/ip-rules/" + id).status,
              204);
    ASSERT_TRUE(b_->sync->sync_now());
    EXPECT_FALSE(refuses(*b_, "203.0.113.9"));
}

TEST_F(ClusterSyncTest, FailedChangesBumpNoVersion) {
    auto version = [&] {
        return a_->database->query("SELECT version FROM gateway_versions WHERE name = 'ip_rules'")
            ->front()
            .get_int(0);
    };
    std::int64_t before = version();
    EXPECT_EQ(call(*a_, http::Method::post, "/api/v1/admin/firewall/ip-rules",
                   R"({"kind":"cidr","action":"deny","value":"10.0.0.1/8"})")
                  .status,
              400);
    EXPECT_EQ(
        call(*a_, http::Method::delete_, "/api/v1/admin/firewall/ip-rules/ipr_nothing").status,
        400);  // not an id at all
    EXPECT_EQ(call(*a_, http::Method::delete_,
                   "/api/v1/admin/firewall/ip-rules/ipr_01ARZ3NDEKTSV4RRFFQ69G5FAV")
                  .status,
              404);  // an id, of no rule
    EXPECT_EQ(version(), before);
}

TEST_F(ClusterSyncTest, BadRulesAre400WithTheirFieldAndChangeNothing) {
    struct Case {
        std::string name;
        std::string body;
        std::string pointer;
    };
    const std::string long_note(501, 'n');
    std::vector<Case> cases = {
        {"host bits set", R"({"kind":"cidr","action":"deny","value":"10.0.0.1/8"})", "/value"},
        {"prefix too long", R"({"kind":"cidr","action":"deny","value":"10.0.0.0/33"})", "/value"},
        {"signed prefix", R"({"kind":"cidr","action":"deny","value":"10.0.0.0/+8"})", "/value"},
        {"not an address", R"({"kind":"cidr","action":"deny","value":"10.0.0.256/32"})", "/value"},
        {"bad IPv6", R"({"kind":"cidr","action":"deny","value":"2001:db8:::/32"})", "/value"},
        {"unknown country", R"({"kind":"country","action":"deny","value":"XX"})", "/value"},
        {"GeoIP pseudo-country", R"({"kind":"country","action":"deny","value":"EU"})", "/value"},
        {"alpha-3 code", R"({"kind":"country","action":"deny","value":"DEU"})", "/value"},
        {"unknown kind", R"({"kind":"asn","action":"deny","value":"64500"})", "/kind"},
        {"unknown action", R"({"kind":"cidr","action":"block","value":"10.0.0.0/8"})", "/action"},
        {"missing value", R"({"kind":"cidr","action":"deny"})", "/value"},
        {"value not a string", R"({"kind":"cidr","action":"deny","value":10})", "/value"},
        {"note too long",
         R"({"kind":"cidr","action":"deny","value":"10.0.0.0/8","note":")" + long_note + R"("})",
         "/note"},
        {"unknown field", R"({"kind":"cidr","action":"deny","value":"10.0.0.0/8","x":1})", "/x"},
        {"not an object", R"(["cidr"])", ""},
        {"not JSON", R"({"kind":)", ""},
    };
    for (const auto& c : cases) {
        http::Response response =
            call(*a_, http::Method::post, "/api/v1/admin/firewall/ip-rules", c.body);
        EXPECT_EQ(response.status, 400) << c.name << ": " << response.body;
        EXPECT_EQ(response.header("content-type"), "application/problem+json") << c.name;
        auto body = boost::json::parse(response.body).as_object();
        ASSERT_TRUE(body.contains("errors")) << c.name << ": " << response.body;
        EXPECT_EQ(body.at("errors").as_array().at(0).as_object().at("pointer").as_string(),
                  c.pointer)
            << c.name << ": " << response.body;
    }
    EXPECT_EQ(a_->ip_rules->list()->size(), 0U);
    http::Response list = call(*a_, http::Method::get, "/api/v1/admin/firewall/ip-rules");
    EXPECT_EQ(list.body, R"({"data":[]})");
}

TEST_F(ClusterSyncTest, RateLimitOverridesReachTheOtherNode) {
    const std::string path = "/api/v1/admin/rate-limits/overrides/user:usr_7";
    ASSERT_EQ(call(*a_, http::Method::put, path, R"({"requests_per_minute":7,"burst":3})").status,
              200);
    EXPECT_FALSE(b_->limiter->overrides().find("user:usr_7"));
    ASSERT_TRUE(b_->sync->sync_now());
    auto found = b_->limiter->overrides().find("user:usr_7");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->requests_per_minute, 7);
    EXPECT_EQ(found->burst, 3);

    ASSERT_EQ(call(*a_, http::Method::delete_, path).status, 204);
    ASSERT_TRUE(b_->sync->sync_now());
    EXPECT_FALSE(b_->limiter->overrides().find("user:usr_7"));
}

TEST_F(ClusterSyncTest, AWriteOnOneNodeDropsTheCachedGetOnTheOther) {
    const std::string note = "/api/v1/notes/n1";
    EXPECT_EQ(call(*b_, http::Method::get, note).status, 200);
    http::Response hit = call(*b_, http::Method::get, note);
    EXPECT_EQ(hit.header("x-cache"), "hit");
    EXPECT_EQ(b_->handler_calls, 1);

    EXPECT_EQ(call(*a_, http::Method::patch, note, "{}").status, 204);
    ASSERT_TRUE(a_->sync->sync_now()) << "writes the queued path";
    EXPECT_EQ(call(*b_, http::Method::get, note).header("x-cache"), "hit") << "not before a poll";
    ASSERT_TRUE(b_->sync->sync_now());
    http::Response fresh = call(*b_, http::Method::get, note);
    EXPECT_FALSE(fresh.header("x-cache")) << "dropped: the handler answers again";
    EXPECT_EQ(b_->handler_calls, 2);

    // The writing node does not drop its entries a second time when its own row comes back.
    EXPECT_EQ(call(*a_, http::Method::get, note).status, 200);
    ASSERT_TRUE(a_->sync->sync_now());
    EXPECT_EQ(call(*a_, http::Method::get, note).header("x-cache"), "hit");
}

TEST_F(ClusterSyncTest, ThePollingThreadAppliesChangesWithoutBeingAsked) {
    auto c = start_node(std::chrono::milliseconds(20));
    ASSERT_EQ(call(*a_, http::Method::post, "/api/v1/admin/firewall/ip-rules",
                   R"({"kind":"country","action":"deny","value":"DE"})")
                  .status,
              201);
    ASSERT_EQ(call(*a_, http::Method::post, "/api/v1/admin/firewall/ip-rules",
                   R"({"kind":"cidr","action":"deny","value":"198.51.100.0/24"})")
                  .status,
              201);
    // Eventually, within the poll interval plus a query; the bound is documented, not timed.
    for (int attempt = 0; attempt < 500 && !refuses(*c, "198.51.100.1"); ++attempt) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_TRUE(refuses(*c, "198.51.100.1"));
}

TEST_F(ClusterSyncTest, OldInvalidationsArePruned) {
    a_->sync->publish_invalidation("/api/v1/notes/old");
    ASSERT_TRUE(a_->sync->sync_now());
    auto count = [&] {
        return a_->database->query("SELECT COUNT(*) FROM gateway_cache_invalidations")
            ->front()
            .get_int(0);
    };
    EXPECT_EQ(count(), 1);
    clock_.advance_ms(std::chrono::milliseconds(std::chrono::minutes(10)).count());
    ASSERT_TRUE(a_->sync->sync_now());
    EXPECT_EQ(count(), 0);
}

}  // namespace
}  // namespace nimbus::gateway
