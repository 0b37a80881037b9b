// Bad credentials and links of the organization routes that need a flow to set up: tampered,
// unknown, expired and revoked API keys, and spent, expired, forged and revoked invitations. Each
// is refused with a 4xx problem+json naming what is wrong, and every row of the org (members,
// keys with their last-used time, invitations) is compared before and after.
#include <gtest/gtest.h>

#include "core/clock.hpp"
#include "core/ids.hpp"
#include "org_stack.hpp"

#ifdef NIMBUS_IDENTITY_TEST_POSTGRES
#define OrgBadInput OrgBadInputOnPostgres
#endif

namespace nimbus::test {
namespace {

constexpr std::int64_t kDayMs = 24 * 3600 * 1000;

using OrgBadInput = OrgStackTest;

TEST_F(OrgBadInput, TamperedUnknownExpiredAndRevokedApiKeysChangeNothing) {
    OrgStack& s = *stack_;
    std::string alice = s.user("alice@example.com");
    std::string org_id = create_org(s, alice, "Acme");
    const std::string org_path = "/api/v1/orgs/" + org_id;
    auto make_key = [&](const std::string& name, std::string expires_at, std::string* id) {
        boost::json::object request{{"name", name}, {"permissions", {"org.read", "org.update"}}};
        if (!expires_at.empty()) request["expires_at"] = expires_at;
        auto created = s.request("POST", org_path + "/api-keys", body(request), alice);
        EXPECT_EQ(created.status, 201) << created.body;
        *id = json_field(created.body, "id");
        return json_field(created.body, "key");
    };
    std::string live_id;
    std::string expiring_id;
    std::string revoked_id;
    std::string live = make_key("live", "", &live_id);
    std::string expiring =
        make_key("expiring", format_rfc3339(s.clock().now_ms() + kDayMs), &expiring_id);
    std::string revoked = make_key("revoked", "", &revoked_id);
    ASSERT_TRUE(live.starts_with("nmb_")) << live;
    ASSERT_EQ(s.request("DELETE", org_path + "/api-keys/" + revoked_id, {}, alice).status, 204);
    s.clock().advance_ms(2 * kDayMs);

    std::string tampered = live;
    tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
    const std::vector<std::pair<std::string, std::string>> keys = {
        {"tampered", tampered},
        {"truncated", live.substr(0, live.size() - 1)},
        {"extended", live + "A"},
        {"unknown", "nmb_" + new_ulid(s.clock().now_ms()) + live.substr(30)},
        {"prefix only", "nmb_"},
        {"oversized", "nmb_" + std::string(8000, 'A')},
        {"expired", expiring},
        {"revoked", revoked},
    };
    std::string before = s.snapshot(org_id);
    for (const auto& [name, key] : keys) {
        SCOPED_TRACE(name);
        // A read and a write: neither gets through, and neither touches the real key's row.
        for (const auto& [method, json] : std::vector<std::pair<std::string, std::string>>{
                 {"GET", ""}, {"PATCH", R"({"name":"Taken over"})"}}) {
            auto response = s.request(method, org_path, json, key);
            expect_problem(response, 401, "the API key is invalid, expired or revoked");
            EXPECT_EQ(response.header("www-authenticate"), "Bearer error=\"invalid_token\"");
            EXPECT_EQ(response.body.find(key), std::string::npos) << "key echoed";
        }
    }
    EXPECT_EQ(s.snapshot(org_id), before) << "a refused key changed data";
    EXPECT_EQ(s.count("SELECT COUNT(*) FROM identity_api_keys WHERE id = ? AND last_used_at_ms "
                      "IS NOT NULL",
                      {live_id}),
              0)
        << "a near miss counted as a use of the real key";
    EXPECT_EQ(s.events("nimbus.identity.org.updated"), 0);
    // The real key still works.
    EXPECT_EQ(s.request("GET", org_path, {}, live).status, 200);
}

TEST_F(OrgBadInput, SpentExpiredForgedAndRevokedInvitationsChangeNothing) {
    OrgStack& s = *stack_;
    std::string alice = s.user("alice@example.com");
    std::string bob = s.user("bob@example.com");
    std::string carol = s.user("carol@example.com");
    std::string dave = s.user("dave@example.com");
    std::string org_id = create_org(s, alice, "Acme");
    const std::string org_path = "/api/v1/orgs/" + org_id;
    auto invite = [&](const std::string& email, std::string* id) {
        auto invited = s.request("POST", org_path + "/invitations",
                                 body({{"email", email}, {"role", "viewer"}}), alice);
        EXPECT_EQ(invited.status, 201) << invited.body;
        *id = json_field(invited.body, "id");
        return s.mailed_token(email, "accept-invitation");
    };
    std::string spent_id;
    std::string revoked_id;
    std::string expiring_id;
    std::string spent = invite("bob@example.com", &spent_id);
    std::string revoked = invite("carol@example.com", &revoked_id);
    ASSERT_FALSE(spent.empty());
    ASSERT_FALSE(revoked.empty());
    ASSERT_EQ(s.request("POST", "/api/v1/invitations/accept", body({{"token", spent}}), bob).status,
              200);
    ASSERT_EQ(s.request("DELETE", org_path + "/invitations/" + revoked_id, {}, alice).status, 204);
    std::string expiring = invite("dave@example.com", &expiring_id);
    ASSERT_FALSE(expiring.empty());
    s.clock().advance_ms(8 * kDayMs);  // past the seven days an invitation lasts
    bob = s.login("bob@example.com");
    carol = s.login("carol@example.com");
    dave = s.login("dave@example.com");

    std::string tampered = expiring;
    tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
    struct Case {
        std::string name;
        std::string token;
        std::string caller;
    };
    const std::vector<Case> cases = {
        {"spent, by its invitee", spent, bob},
        {"spent, by someone else", spent, carol},
        {"revoked", revoked, carol},
        {"expired", expiring, dave},
        {"tampered", tampered, dave},
        {"forged", std::string(43, 'A'), dave},
        {"oversized", std::string(5000, 'A'), dave},
    };
    std::string before = s.snapshot(org_id);
    std::int64_t members_before =
        s.count("SELECT COUNT(*) FROM identity_org_members WHERE org_id = ?", {org_id});
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        for (const char* path : {"/api/v1/invitations/accept", "/api/v1/invitations/preview"}) {
            SCOPED_TRACE(path);
            auto response = s.request("POST", path, body({{"token", c.token}}), c.caller);
            expect_problem(response, 400, R"("pointer":"/token")");
        }
    }
    EXPECT_EQ(s.snapshot(org_id), before) << "a refused invitation changed data";
    EXPECT_EQ(s.count("SELECT COUNT(*) FROM identity_org_members WHERE org_id = ?", {org_id}),
              members_before);
    EXPECT_EQ(s.events("nimbus.identity.invitation.accepted"), 1);
    // Carol and Dave are still outside the org; Bob is in it with the role he accepted.
    EXPECT_EQ(s.request("GET", org_path, {}, carol).status, 404);
    EXPECT_EQ(s.request("GET", org_path, {}, dave).status, 404);
    EXPECT_EQ(s.request("GET", org_path, {}, bob).status, 200);
}

// Huge and hostile query strings that still fit in the request head (over it, the server answers
// 431 before any route; GatewayNode.HugeQueryStringsAndSpoofedForwardedForGetClearAnswers): the
// list route's query schema refuses them with the parameter named.
TEST_F(OrgBadInput, HugeAndHostileQueryStringsAreRefusedWithTheParameterNamed) {
    OrgStack& s = *stack_;
    std::string alice = s.user("alice@example.com");
    std::string org_id = create_org(s, alice, "Acme");
    const std::string members = "/api/v1/orgs/" + org_id + "/members";
    struct Case {
        std::string name;
        std::string query;
        std::string fragment;
    };
    const std::vector<Case> cases = {
        {"cursor of 12 KiB", "cursor=" + std::string(12 * 1024, 'c'), "cursor"},
        {"limit of 12 KiB digits", "limit=" + std::string(12 * 1024, '9'), "limit"},
        {"limit not a number", "limit=ten", "limit"},
        {"limit over the maximum", "limit=201", "limit"},
        {"limit negative", "limit=-1", "limit"},
        {"malformed percent-encoding", "cursor=%zz", ""},
    };
    std::string before = s.snapshot(org_id);
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        auto response = s.request("GET", members + "?" + c.query, {}, alice);
        expect_problem(response, 400, c.fragment);
        EXPECT_LT(response.body.size(), 4096U) << "the input is echoed back";
    }
    EXPECT_EQ(s.snapshot(org_id), before);
    EXPECT_EQ(s.request("GET", members + "?limit=1", {}, alice).status, 200);
}

// Invitations to look-alikes of a member's address (Cyrillic 'а', fullwidth 'ａ', a zero-width
// joiner) are refused: no invitation row, no mail to anyone.
TEST_F(OrgBadInput, InvitationsToLookAlikeAddressesAreRefused) {
    OrgStack& s = *stack_;
    std::string alice = s.user("alice@example.com");
    std::string org_id = create_org(s, alice, "Acme");
    std::string before = s.snapshot(org_id);
    for (const std::string& email :
         {std::string("\xD0\xB0lice@example.com"), std::string("\xEF\xBD\x81lice@example.com"),
          std::string("al\xE2\x80\x8Dice@example.com"), std::string("alice@ex\xD0\xB0mple.com")}) {
        SCOPED_TRACE(email);
        auto response = s.request("POST", "/api/v1/orgs/" + org_id + "/invitations",
                                  body({{"email", email}, {"role", "admin"}}), alice);
        expect_problem(response, 400, R"("pointer":"/email")");
    }
    EXPECT_EQ(s.snapshot(org_id), before);
    EXPECT_EQ(s.events("nimbus.identity.invitation.created"), 0);
}

}  // namespace
}  // namespace nimbus::test
