// The organization policy "members must use MFA" over real sockets: PATCH require_mfa, the 403
// mfa-required answer for a member without confirmed TOTP, the way back in after enrolling, and
// API keys left alone (docs/identity.md, "Requiring MFA").
#include <gtest/gtest.h>

#include <boost/json/array.hpp>

#include "org_stack.hpp"

#ifdef NIMBUS_IDENTITY_TEST_POSTGRES
#define OrgMfaPolicy OrgMfaPolicyOnPostgres
#endif

namespace nimbus::test {
namespace {

class OrgMfaPolicy : public OrgStackTest {};

TEST_F(OrgMfaPolicy, MembersWithoutTotpAreRefusedUntilTheyEnrol) {
    OrgStack& s = *stack_;
    std::string alice = s.user("alice@example.com");
    std::string bob = s.user("bob@example.com");
    auto created = s.request("POST", "/api/v1/orgs", body({{"name", "Acme"}}), alice);
    ASSERT_EQ(created.status, 201) << created.body;
    EXPECT_NE(created.body.find(R"("require_mfa":false)"), std::string::npos) << created.body;
    std::string org_id = json_field(created.body, "id");
    std::string org_path = "/api/v1/orgs/" + org_id;
    ASSERT_NO_FATAL_FAILURE(join(s, org_id, alice, "bob@example.com", bob, "admin"));
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
    OrgStack& s = *stack_;
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
