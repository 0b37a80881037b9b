#include <thread>

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "http/http.hpp"
#include "http/internal.hpp"
#include "http/test_support.hpp"

namespace nimbus::http {
namespace {

namespace asio = boost::asio;

/// A router whose handlers count their calls, run through the default pipeline with a cache.
class ResponseCacheTest : public ::testing::Test {
protected:
    void SetUp() override { build(1024 * 1024); }

    void build(std::size_t cache_bytes) {
        router_ = std::make_unique<Router>();
        auto counted = [this](std::string body) {
            return SyncHandler([this, body](Request& request, RequestContext&) {
                ++calls_;
                return Response::text(200, body + " " + request.path + "?" + request.query + " #" +
                                               std::to_string(calls_));
            });
        };
        RouteOptions cached{.cache_ttl = std::chrono::seconds(60)};
        router_->add(Method::get, "/items", counted("list"), cached);
        router_->add(Method::get, "/items/{id}", counted("item"), cached);
        router_->add(Method::get, "/other", counted("other"), cached);
        router_->add(Method::get, "/short", counted("short"),
                     RouteOptions{.cache_ttl = std::chrono::seconds(1)});
        router_->add(Method::get, "/uncached", counted("uncached"));
        router_->add(Method::post, "/items", counted("created"));
        router_->add(Method::patch, "/items/{id}", counted("patched"));
        PipelineSettings settings;
        settings.access_log = false;
        settings.response_cache_bytes = cache_bytes;
        pipeline_ = default_pipeline(std::move(settings), nullptr);
    }

    Response send(Method method, const std::string& target, std::optional<Principal> principal = {},
                  std::vector<Header> headers = {}) {
        return testing::dispatch(*pipeline_, *router_,
                                 testing::make_request(method, target, std::move(headers)),
                                 std::move(principal));
    }

    int calls_ = 0;
    std::unique_ptr<Router> router_;
    std::unique_ptr<Pipeline> pipeline_;
};

TEST_F(ResponseCacheTest, ASecondGetIsServedFromTheCacheWithTheSameEtag) {
    Response first = send(Method::get, "/items/1");
    Response second = send(Method::get, "/items/1");
    EXPECT_EQ(calls_, 1);
    EXPECT_EQ(second.body, first.body);
    ASSERT_TRUE(first.header("etag"));
    EXPECT_EQ(second.header("etag"), first.header("etag"));
    EXPECT_EQ(second.header("x-cache"), "hit");
    EXPECT_TRUE(second.header("x-request-id"));  // earlier steps still run on a hit
}

TEST_F(ResponseCacheTest, IfNoneMatchGetsNotModified) {
    Response first = send(Method::get, "/items/1");
    std::string etag(*first.header("etag"));
    Response again = send(Method::get, "/items/1", {}, {{"if-none-match", etag}});
    EXPECT_EQ(again.status, 304);
    EXPECT_TRUE(again.body.empty());
    EXPECT_EQ(send(Method::get, "/items/1", {}, {{"if-none-match", "\"other\""}}).status, 200);
}

TEST_F(ResponseCacheTest, KeysIncludeQueryAndCaller) {
    send(Method::get, "/items?page=1");
    send(Method::get, "/items?page=2");
    send(Method::get, "/items?page=1", Principal{.id = "usr_a", .org_id = "org_1"});
    send(Method::get, "/items?page=1", Principal{.id = "usr_b", .org_id = "org_1"});
    EXPECT_EQ(calls_, 4);
    send(Method::get, "/items?page=1", Principal{.id = "usr_a", .org_id = "org_1"});
    EXPECT_EQ(calls_, 4);
}

TEST_F(ResponseCacheTest, WritesDropTheResourceItsChildrenAndItsCollection) {
    send(Method::get, "/items");
    send(Method::get, "/items/1");
    send(Method::get, "/items/2");
    send(Method::get, "/other");
    ASSERT_EQ(calls_, 4);
    send(Method::patch, "/items/1");  // call 5
    send(Method::get, "/items/1");    // dropped: 6
    send(Method::get, "/items");      // its collection, dropped: 7
    send(Method::get, "/items/2");    // a sibling stays cached
    send(Method::get, "/other");      // unrelated stays cached
    EXPECT_EQ(calls_, 7);
    send(Method::post, "/items");  // 8: a write to the collection drops its members too
    send(Method::get, "/items/2");
    EXPECT_EQ(calls_, 9);
}

TEST_F(ResponseCacheTest, RoutesWithoutATtlAreNeverCached) {
    send(Method::get, "/uncached");
    Response second = send(Method::get, "/uncached");
    EXPECT_EQ(calls_, 2);
    EXPECT_FALSE(second.header("x-cache"));
}

TEST_F(ResponseCacheTest, EntriesExpire) {
    send(Method::get, "/short");
    send(Method::get, "/short");
    ASSERT_EQ(calls_, 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // the route's TTL is 1 s
    send(Method::get, "/short");
    EXPECT_EQ(calls_, 2);
}

TEST(ResponseCacheStep, StaysWithinItsByteBudget) {
    constexpr std::size_t kBudget = 4096;
    ResponseCacheStep cache(kBudget);
    Route route{Method::get, "/items/{id}", SyncHandler{},
                RouteOptions{.cache_ttl = std::chrono::seconds(60)}};
    for (int item = 0; item < 100; ++item) {
        Request request;
        request.method = Method::get;
        request.path = "/items/" + std::to_string(item);
        RequestContext context;
        context.matched = &route;
        Response response = Response::text(200, std::string(200, 'x'));
        cache.on_response(request, context, response);
        EXPECT_LE(cache.bytes(), kBudget);
    }
    EXPECT_GT(cache.bytes(), 0U);
    // The most recent entry survived the evictions.
    Request recent;
    recent.method = Method::get;
    recent.path = "/items/99";
    RequestContext context;
    context.matched = &route;
    EXPECT_TRUE(cache.on_request(recent, context));
}

}  // namespace
}  // namespace nimbus::http
