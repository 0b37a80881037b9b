// IP and country rules: strict parsing, GeoIP lookups, the trusted-proxy view of
// X-Forwarded-For and the rule evaluation over a real SQLite store.
#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

#include "db/db.hpp"
#include "events/events.hpp"
#include "gateway/gateway.hpp"

namespace nimbus::gateway {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr const char* kGeoIpV4 = "/usr/share/GeoIP/GeoIP.dat";
constexpr const char* kGeoIpV6 = "/usr/share/GeoIP/GeoIPv6.dat";
constexpr std::int64_t kNowMs = 1'716'400'000'000;

TEST(Cidr, ParsesIpv4AndIpv6) {
    auto v4 = Cidr::parse("10.0.0.0/8");
    ASSERT_TRUE(v4) << v4.error().message;
    EXPECT_TRUE(v4->contains(*IpAddress::parse("10.200.3.4")));
    EXPECT_FALSE(v4->contains(*IpAddress::parse("11.0.0.1")));
    EXPECT_FALSE(v4->contains(*IpAddress::parse("::a00:1")));  // IPv6, not IPv4

    auto v6 = Cidr::parse("2001:db8::/32");
    ASSERT_TRUE(v6);
    EXPECT_TRUE(v6->contains(*IpAddress::parse("2001:db8:ffff::1")));
    EXPECT_FALSE(v6->contains(*IpAddress::parse("2001:db9::1")));

    auto host = Cidr::parse("203.0.113.7");
    ASSERT_TRUE(host);
    EXPECT_EQ(host->to_string(), "203.0.113.7/32");
    EXPECT_TRUE(Cidr::parse("198.51.100.0/23"));
    EXPECT_FALSE(Cidr::parse("198.51.101.0/23")) << "the lowest bit of 101 is a host bit";
    auto nine = Cidr::parse("198.51.100.128/25");
    ASSERT_TRUE(nine);
    EXPECT_TRUE(nine->contains(*IpAddress::parse("198.51.100.200")));
    EXPECT_FALSE(nine->contains(*IpAddress::parse("198.51.100.127")));
    auto all = Cidr::parse("0.0.0.0/0");
    ASSERT_TRUE(all);
    EXPECT_TRUE(all->contains(*IpAddress::parse("8.8.8.8")));
}

TEST(Cidr, MappedIpv4PeersAreIpv4) {
    auto peer = IpAddress::parse("::ffff:192.0.2.1");
    ASSERT_TRUE(peer);
    EXPECT_TRUE(peer->v4);
    EXPECT_EQ(peer->to_string(), "192.0.2.1");
    EXPECT_TRUE(Cidr::parse("192.0.2.0/24")->contains(*peer));
}

TEST(Cidr, RefusesMalformedInputWithAClearMessage) {
    for (const char* bad : {"", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/8/8",
                            "10.0.0/8", "10.0.0.256/32", "010.0.0.0/8", "10.0.0.1/8", "10.0.0.0/08",
                            "10.0.0.0/ 8", "2001:db8::/129", "2001:db8::1/32", "2001:db8:::/32",
                            "example.com/24", "10.0.0.0/8 ", "1.2.3.4/+8"}) {
        auto parsed = Cidr::parse(bad);
        ASSERT_FALSE(parsed) << "'" << bad << "' was accepted";
        EXPECT_THAT(parsed.error().message, HasSubstr("is not a CIDR")) << bad;
    }
    EXPECT_THAT(Cidr::parse("10.0.0.1/8").error().message, HasSubstr("host bits"));
    auto list = parse_cidrs({"10.0.0.0/8", "bogus"});
    ASSERT_FALSE(list);
    EXPECT_THAT(list.error().message, HasSubstr("bogus"));
}

TEST(CountryCode, AcceptsIsoCodesOnly) {
    EXPECT_EQ(*parse_country_code("DE"), "DE");
    EXPECT_EQ(*parse_country_code("us"), "US");
    for (const char* bad : {"", "D", "DEU", "ZZ", "EU", "A1", "--", "1A", "D1", "Deutschland"}) {
        auto parsed = parse_country_code(bad);
        ASSERT_FALSE(parsed) << bad;
        EXPECT_THAT(parsed.error().message, HasSubstr("ISO 3166-1")) << bad;
    }
}

TEST(GeoIp, LooksUpCountries) {
    auto geoip = GeoIp::open(kGeoIpV4, kGeoIpV6);
    ASSERT_TRUE(geoip) << geoip.error().message;
    EXPECT_EQ((*geoip)->country(*IpAddress::parse("8.8.8.8")), "US");
    EXPECT_EQ((*geoip)->country(*IpAddress::parse("127.0.0.1")), "");
    EXPECT_EQ((*geoip)->country(*IpAddress::parse("10.1.2.3")), "");
    EXPECT_FALSE(GeoIp::open("/nonexistent/GeoIP.dat", ""));
}

/// A fresh SQLite store with the gateway's tables.
class IpRulesTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("nimbus-ip-rules-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        db::Options options;
        options.sqlite_path = (dir_ / "test.db").string();
        auto opened = db::open(options);
        ASSERT_TRUE(opened) << opened.error().message;
        database_ = std::move(*opened);
        std::vector<db::ModuleMigrations> modules = {{"events", &events::migrations()},
                                                     {"gateway", &migrations()}};
        auto migrated = db::migrate_up(*database_, modules, kNowMs);
        ASSERT_TRUE(migrated) << migrated.error().message;
    }
    void TearDown() override {
        database_.reset();
        fs::remove_all(dir_);
    }

    std::unique_ptr<IpRules> make(std::vector<std::string> trusted = {}) {
        IpRulesSettings settings;
        settings.trusted_proxies = *parse_cidrs(trusted);
        settings.geoip = *GeoIp::open(kGeoIpV4, kGeoIpV6);
        auto rules = std::make_unique<IpRules>(*database_, settings, nullptr);
        EXPECT_TRUE(rules->reload());
        return rules;
    }

    static http::Request from(std::string peer, std::vector<std::string> forwarded = {}) {
        http::Request request;
        request.remote_address = std::move(peer);
        for (auto& value : forwarded) request.headers.push_back({"x-forwarded-for", value});
        return request;
    }

    fs::path dir_;
    std::unique_ptr<db::Database> database_;
};

TEST_F(IpRulesTest, ForwardedForIsIgnoredFromUntrustedPeers) {
    auto rules = make({"10.0.0.0/8"});
    EXPECT_EQ(rules->client_address(from("198.51.100.9", {"203.0.113.5"})), "198.51.100.9");
    EXPECT_EQ(rules->client_address(from("::ffff:198.51.100.9")), "198.51.100.9");
}

TEST_F(IpRulesTest, ForwardedForGivesTheRightmostUntrustedHop) {
    auto rules = make({"10.0.0.0/8", "fd00::/8"});
    // client -> (spoofed 1.1.1.1 written by the client) -> proxy 10.0.0.2 -> proxy 10.0.0.1
    EXPECT_EQ(rules->client_address(from("10.0.0.1", {"1.1.1.1, 203.0.113.5, 10.0.0.2"})),
              "203.0.113.5");
    // Several headers are one list, in order.
    EXPECT_EQ(rules->client_address(from("10.0.0.1", {"1.1.1.1", "203.0.113.5"})), "203.0.113.5");
    EXPECT_EQ(rules->client_address(from("fd00::1", {"2001:db8::7"})), "2001:db8::7");
    // A malformed hop ends the walk at the last address a trusted proxy vouched for.
    EXPECT_EQ(rules->client_address(from("10.0.0.1", {"203.0.113.5, not-an-ip"})), "10.0.0.1");
    // Only trusted hops: the leftmost is the best we know.
    EXPECT_EQ(rules->client_address(from("10.0.0.1", {"10.0.0.3, 10.0.0.2"})), "10.0.0.3");
    EXPECT_EQ(rules->client_address(from("10.0.0.1")), "10.0.0.1");
}

TEST_F(IpRulesTest, DenyAndAllowCidrs) {
    auto rules = make();
    auto blocked = *IpAddress::parse("203.0.113.77");
    EXPECT_FALSE(rules->refusal(blocked));
    auto deny =
        rules->add(IpRule::Kind::cidr, IpRule::Action::deny, "203.0.113.0/24", "abuse", kNowMs);
    ASSERT_TRUE(deny) << deny.error().message;
    EXPECT_TRUE(rules->refusal(blocked));
    EXPECT_FALSE(rules->refusal(*IpAddress::parse("198.51.100.1")));
    // An allow rule wins over a deny rule.
    auto allow =
        rules->add(IpRule::Kind::cidr, IpRule::Action::allow, "203.0.113.77", "office", kNowMs);
    ASSERT_TRUE(allow);
    EXPECT_FALSE(rules->refusal(blocked));
    EXPECT_TRUE(rules->refusal(*IpAddress::parse("203.0.113.78")));
    ASSERT_TRUE(rules->remove(deny->id));
    EXPECT_FALSE(rules->refusal(*IpAddress::parse("203.0.113.78")));
    EXPECT_EQ(rules->remove(deny->id).error().code, ErrorCode::not_found);
}

TEST_F(IpRulesTest, CountryRules) {
    auto rules = make();
    auto us = *IpAddress::parse("8.8.8.8");
    auto local = *IpAddress::parse("127.0.0.1");
    auto deny = rules->add(IpRule::Kind::country, IpRule::Action::deny, "us", "", kNowMs);
    ASSERT_TRUE(deny) << deny.error().message;
    EXPECT_EQ(deny->value, "US");
    EXPECT_THAT(*rules->refusal(us), HasSubstr("US"));
    EXPECT_FALSE(rules->refusal(local));
    ASSERT_TRUE(rules->remove(deny->id));
    // An allow list is a geo-fence: elsewhere, or unknown, is refused unless a CIDR allows it.
    ASSERT_TRUE(rules->add(IpRule::Kind::country, IpRule::Action::allow, "DE", "", kNowMs));
    EXPECT_TRUE(rules->refusal(us));
    EXPECT_TRUE(rules->refusal(local));
    ASSERT_TRUE(rules->add(IpRule::Kind::cidr, IpRule::Action::allow, "127.0.0.0/8", "", kNowMs));
    EXPECT_FALSE(rules->refusal(local));
}

TEST_F(IpRulesTest, BadRulesChangeNothing) {
    auto rules = make();
    auto bad_cidr = rules->add(IpRule::Kind::cidr, IpRule::Action::deny, "10.0.0.1/8", "", kNowMs);
    ASSERT_FALSE(bad_cidr);
    EXPECT_EQ(bad_cidr.error().code, ErrorCode::invalid_argument);
    auto bad_country = rules->add(IpRule::Kind::country, IpRule::Action::deny, "XX", "", kNowMs);
    ASSERT_FALSE(bad_country);
    EXPECT_EQ(bad_country.error().code, ErrorCode::invalid_argument);
    ASSERT_TRUE(rules->add(IpRule::Kind::cidr, IpRule::Action::deny, "10.0.0.0/8", "", kNowMs));
    auto duplicate = rules->add(IpRule::Kind::cidr, IpRule::Action::deny, "10.0.0.0/8", "", kNowMs);
    ASSERT_FALSE(duplicate);
    EXPECT_EQ(duplicate.error().code, ErrorCode::conflict);
    EXPECT_EQ(rules->list()->size(), 1U);
}

TEST_F(IpRulesTest, ChangesEmitAuditEventsAndRefusedOnesNone) {
    auto rules = make();
    ChangeActor actor{.actor_id = "usr_operator", .ip = "198.51.100.4"};
    auto added =
        rules->add(IpRule::Kind::country, IpRule::Action::deny, "fr", "abuse", kNowMs, actor);
    ASSERT_TRUE(added);
    ASSERT_FALSE(rules->add(IpRule::Kind::country, IpRule::Action::deny, "FR", "", kNowMs, actor));
    ASSERT_FALSE(rules->add(IpRule::Kind::cidr, IpRule::Action::deny, "10.0.0.1/8", "", kNowMs));
    ASSERT_TRUE(rules->remove(added->id, kNowMs + 1, actor));
    ASSERT_FALSE(rules->remove(added->id, kNowMs + 2, actor));

    auto rows =
        database_->query("SELECT type, subject, time_ms, data FROM outbox_events ORDER BY seq");
    ASSERT_TRUE(rows);
    ASSERT_EQ(rows->size(), 2U);
    EXPECT_EQ((*rows)[0].get_text(0), "nimbus.gateway.ip_rule.created");
    EXPECT_EQ((*rows)[1].get_text(0), "nimbus.gateway.ip_rule.deleted");
    EXPECT_EQ((*rows)[1].get_int(2), kNowMs + 1);
    for (const auto& row : *rows) {
        EXPECT_EQ(row.get_text(1), added->id);
        auto data = boost::json::parse(row.get_text(3)).as_object();
        EXPECT_EQ(data.at("actor_id").as_string(), "usr_operator");
        EXPECT_EQ(data.at("ip").as_string(), "198.51.100.4");
        EXPECT_EQ(data.at("target_id").as_string(), added->id);
        EXPECT_EQ(data.at("kind").as_string(), "country");
        EXPECT_EQ(data.at("action").as_string(), "deny");
        EXPECT_EQ(data.at("value").as_string(), "FR");
        EXPECT_EQ(data.at("note").as_string(), "abuse");
    }
}

TEST_F(IpRulesTest, StepSetsClientAddressAndRefuses) {
    auto rules = make({"127.0.0.1/32"});
    ASSERT_TRUE(rules->add(IpRule::Kind::cidr, IpRule::Action::deny, "203.0.113.0/24", "", kNowMs));
    auto step = rules->make_step();
    EXPECT_EQ(step->name(), "ip_rules");
    http::RequestContext context;
    auto request = from("127.0.0.1", {"203.0.113.5"});
    auto answer = step->on_request(request, context);
    EXPECT_EQ(context.client_address, "203.0.113.5");
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->status, 403);
    EXPECT_EQ(answer->problem->type, "/problems/ip-denied");
    auto allowed = from("127.0.0.1", {"198.51.100.5"});
    EXPECT_FALSE(step->on_request(allowed, context));
    EXPECT_EQ(context.client_address, "198.51.100.5");
}

// A denied client that writes X-Forwarded-For itself (claiming another address, a trusted
// proxy's, loopback, garbage or a huge list) is still refused as itself, and the header is
// never taken as the client address.
TEST_F(IpRulesTest, SpoofedForwardedForFromAnUntrustedPeerEscapesNoDenyRule) {
    auto rules = make({"10.0.0.0/8"});
    ASSERT_TRUE(rules->add(IpRule::Kind::cidr, IpRule::Action::deny, "203.0.113.0/24", "", kNowMs));
    ASSERT_TRUE(rules->add(IpRule::Kind::country, IpRule::Action::deny, "US", "", kNowMs));
    auto step = rules->make_step();
    std::string many_hops;
    for (int hop = 0; hop < 2000; ++hop)
        many_hops += "198.51.100." + std::to_string(hop % 250) + ", ";
    const std::vector<std::vector<std::string>> spoofed = {
        {"198.51.100.7"},
        {"198.51.100.7, 10.0.0.1"},
        {"10.0.0.1"},
        {"127.0.0.1"},
        {"not-an-ip"},
        {"198.51.100.7", "198.51.100.8"},
        {many_hops + "198.51.100.9"},
    };
    for (const std::string& peer : {std::string("203.0.113.5"), std::string("8.8.8.8")}) {
        for (const auto& headers : spoofed) {
            SCOPED_TRACE(peer + " claiming " + headers.front().substr(0, 40));
            http::RequestContext context;
            auto request = from(peer, headers);
            auto answer = step->on_request(request, context);
            EXPECT_EQ(context.client_address, peer);
            ASSERT_TRUE(answer);
            EXPECT_EQ(answer->status, 403);
            ASSERT_TRUE(answer->problem);
            EXPECT_EQ(answer->problem->type, "/problems/ip-denied");
        }
    }
    EXPECT_EQ(rules->list()->size(), 2U);
}

}  // namespace
}  // namespace nimbus::gateway
