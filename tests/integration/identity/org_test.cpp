// Organizations over real sockets: the org-scoped authorization contract (every org route of
// another org answers 404 or 403 and changes nothing), members, invitations mailed through the
// dev mailbox, roles, API keys and the last-owner rules; bad input as a table.
#include <sodium.h>

#include <map>
#include <regex>
#include <set>

#include <gtest/gtest.h>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

#include "audit/audit.hpp"
#include "core/ids.hpp"
#include "events/events.hpp"
#include "org_stack.hpp"

#ifdef NIMBUS_IDENTITY_TEST_POSTGRES
#define OrgFlows OrgFlowsOnPostgres
#define OrgIsolation OrgIsolationOnPostgres
#define OrgScenarios OrgScenariosOnPostgres
#endif

namespace nimbus::test {
namespace {

constexpr std::int64_t kDayMs = 24 * 3600 * 1000;

boost::json::value parse(const std::string& text) {
    boost::system::error_code ec;
    auto value = boost::json::parse(text, ec);
    return ec ? boost::json::value() : value;
}

std::string create_key(OrgStack& stack, const std::string& org_id, const std::string& token,
                       const boost::json::array& permissions, std::string* key_id = nullptr) {
    auto created = stack.request("POST", "/api/v1/orgs/" + org_id + "/api-keys",
                                 body({{"name", "ci"}, {"permissions", permissions}}), token);
    EXPECT_EQ(created.status, 201) << created.body;
    if (key_id != nullptr) *key_id = json_field(created.body, "id");
    return json_field(created.body, "key");
}

boost::json::array all_permissions() {
    return {"org.read",           "org.update",         "org.members.read",
            "org.members.invite", "org.members.remove", "org.members.update_role",
            "org.roles.manage",   "api_keys.manage",    "oauth.clients.manage",
            "audit.read",         "billing.read",       "billing.manage",
            "firewall.manage"};
}

class OrgFlows : public ::testing::Test {
protected:
    void SetUp() override {
        if (!backend_available()) GTEST_SKIP() << "no PostgreSQL test cluster";
        stack_ = std::make_unique<OrgStack>();
    }
    std::unique_ptr<OrgStack> stack_;
};

TEST_F(OrgFlows, CreateListGetUpdateDelete) {
    OrgStack& s = *stack_;
    std::string alice = s.user("alice@example.com");
    auto created = s.request("POST", "/api/v1/orgs", body({{"name", "Acme Rockets"}}), alice);
    ASSERT_EQ(created.status, 201) << created.body;
    std::string org_id = json_field(created.body, "id");
    EXPECT_EQ(json_field(created.body, "slug"), "acme-rockets");
    EXPECT_EQ(json_field(created.body, "role"), "owner");
    // A second org with the same name gets a different slug.
    auto second = s.request("POST", "/api/v1/orgs", body({{"name", "Acme Rockets"}}), alice);
    ASSERT_EQ(second.status, 201) << second.body;
    EXPECT_NE(json_field(second.body, "slug"), "acme-rockets");
    auto taken = s.request("POST", "/api/v1/orgs",
                           body({{"name", "Other"}, {"slug", "acme-rockets"}}), alice);
    EXPECT_EQ(taken.status, 409) << taken.body;

    auto listed = s.request("GET", "/api/v1/orgs", {}, alice);
    ASSERT_EQ(listed.status, 200);
    EXPECT_EQ(parse(listed.body).at("data").as_array().size(), 2U);
    auto got = s.request("GET", "/api/v1/orgs/" + org_id, {}, alice);
    ASSERT_EQ(got.status, 200) << got.body;
    EXPECT_NE(got.body.find("org.delete"), std::string::npos);

    auto renamed = s.request("PATCH", "/api/v1/orgs/" + org_id,
                             body({{"name", "Acme"}, {"slug", "acme"}}), alice);
    ASSERT_EQ(renamed.status, 200) << renamed.body;
    EXPECT_EQ(json_field(renamed.body, "slug"), "acme");
    EXPECT_EQ(s.events("nimbus.identity.org.created"), 2);
    EXPECT_EQ(s.events("nimbus.identity.org.updated"), 1);

    auto deleted = s.request("DELETE", "/api/v1/orgs/" + org_id, {}, alice);
    EXPECT_EQ(deleted.status, 204) << deleted.body;
    EXPECT_EQ(s.request("GET", "/api/v1/orgs/" + org_id, {}, alice).status, 404);
    EXPECT_EQ(s.count("SELECT COUNT(*) FROM identity_org_members WHERE org_id = ?", {org_id}), 0);
    EXPECT_EQ(s.events("nimbus.identity.org.deleted"), 1);
}

TEST_F(OrgFlows, InvitationsMembersAndLastOwner) {
    OrgStack& s = *stack_;
    std::string alice_id;
    std::string bob_id;
    std::string alice = s.user("alice@example.com", &alice_id);
    std::string bob = s.user("bob@example.com", &bob_id);
    std::string carol = s.user("carol@example.com");
    std::string org_id = create_org(s, alice, "Acme");
    std::string org_path = "/api/v1/orgs/" + org_id;

    // The last owner can neither leave nor be demoted.
    auto leave = s.request("DELETE", org_path + "/members/me", {}, alice);
    EXPECT_EQ(leave.status, 409) << leave.body;
    EXPECT_NE(leave.body.find("last-owner"), std::string::npos);
    auto demote =
        s.request("PATCH", org_path + "/members/" + alice_id, body({{"role", "admin"}}), alice);
    EXPECT_EQ(demote.status, 409) << demote.body;

    auto invited = s.request("POST", org_path + "/invitations",
                             body({{"email", "Bob@Example.com"}, {"role", "member"}}), alice);
    ASSERT_EQ(invited.status, 201) << invited.body;
    std::string invitation_id = json_field(invited.body, "id");
    std::string token = s.mailed_token("bob@example.com", "accept-invitation");
    ASSERT_FALSE(token.empty());
    EXPECT_EQ(
        s.count("SELECT COUNT(*) FROM identity_org_invitations WHERE token_hash = ?", {token}),
        0);  // stored hashed
    auto pending = s.request("GET", org_path + "/invitations", {}, alice);
    EXPECT_NE(pending.body.find(invitation_id), std::string::npos);

    // Someone else's account cannot use it; the invitee can preview and accept it once.
    auto wrong = s.request("POST", "/api/v1/invitations/accept", body({{"token", token}}), carol);
    EXPECT_EQ(wrong.status, 403) << wrong.body;
    auto preview = s.request("POST", "/api/v1/invitations/preview", body({{"token", token}}), bob);
    ASSERT_EQ(preview.status, 200) << preview.body;
    EXPECT_EQ(json_field(preview.body, "org_name"), "Acme");
    auto accepted = s.request("POST", "/api/v1/invitations/accept", body({{"token", token}}), bob);
    ASSERT_EQ(accepted.status, 200) << accepted.body;
    EXPECT_EQ(json_field(accepted.body, "role"), "member");
    auto again = s.request("POST", "/api/v1/invitations/accept", body({{"token", token}}), bob);
    EXPECT_EQ(again.status, 400) << again.body;
    EXPECT_NE(again.body.find("/token"), std::string::npos);

    // A member reads but cannot manage.
    EXPECT_EQ(s.request("GET", org_path + "/members", {}, bob).status, 200);
    EXPECT_EQ(s.request("PATCH", org_path, body({{"name", "Mine"}}), bob).status, 403);
    // A member may invite, but not to a role above their own.
    auto escalate = s.request("POST", org_path + "/invitations",
                              body({{"email", "dave@example.com"}, {"role", "admin"}}), bob);
    EXPECT_EQ(escalate.status, 403) << escalate.body;

    // Expired and revoked invitations do not work.
    auto to_carol = s.request("POST", org_path + "/invitations",
                              body({{"email", "carol@example.com"}, {"role", "viewer"}}), alice);
    ASSERT_EQ(to_carol.status, 201);
    std::string carol_token = s.mailed_token("carol@example.com", "accept-invitation");
    s.clock().advance_ms(8 * kDayMs);
    alice = s.login("alice@example.com");
    bob = s.login("bob@example.com");
    carol = s.login("carol@example.com");
    auto expired =
        s.request("POST", "/api/v1/invitations/accept", body({{"token", carol_token}}), carol);
    EXPECT_EQ(expired.status, 400) << expired.body;
    auto revoke_gone = s.request(
        "DELETE", org_path + "/invitations/" + json_field(to_carol.body, "id"), {}, alice);
    EXPECT_EQ(revoke_gone.status, 204);  // expired but never accepted: still revocable
    auto forged = s.request("POST", "/api/v1/invitations/accept",
                            body({{"token", std::string(43, 'A')}}), carol);
    EXPECT_EQ(forged.status, 400);

    // Transfer: Bob becomes owner, Alice admin; now Alice may leave.
    auto transferred =
        s.request("POST", org_path + "/transfer", body({{"user_id", bob_id}}), alice);
    ASSERT_EQ(transferred.status, 204) << transferred.body;
    auto members = s.request("GET", org_path + "/members", {}, alice);
    EXPECT_NE(members.body.find(R"("role":"admin")"), std::string::npos) << members.body;
    // An admin cannot remove the owner.
    EXPECT_EQ(s.request("DELETE", org_path + "/members/" + bob_id, {}, alice).status, 403);
    EXPECT_EQ(s.request("DELETE", org_path + "/members/me", {}, alice).status, 204);
    EXPECT_EQ(s.request("GET", org_path, {}, alice).status, 404);
    EXPECT_EQ(s.request("DELETE", org_path + "/members/me", {}, bob).status, 409);

    EXPECT_EQ(s.events("nimbus.identity.invitation.created"), 2);
    EXPECT_EQ(s.events("nimbus.identity.invitation.accepted"), 1);
    EXPECT_EQ(s.events("nimbus.identity.invitation.revoked"), 1);
    EXPECT_EQ(s.events("nimbus.identity.org.transferred"), 1);
    EXPECT_EQ(s.events("nimbus.identity.member.removed"), 1);
    auto rows = s.db().query(
        "SELECT data FROM outbox_events WHERE type = 'nimbus.identity.org.transferred'");
    ASSERT_TRUE(rows && !rows->empty());
    auto data = parse(rows->front().get_text(0)).as_object();
    EXPECT_EQ(data.at("actor_id").as_string(), alice_id);
    EXPECT_EQ(data.at("org_id").as_string(), org_id);
    EXPECT_EQ(data.at("target_id").as_string(), bob_id);
    EXPECT_TRUE(data.contains("ip"));
}

TEST_F(OrgFlows, CustomRoles) {
    OrgStack& s = *stack_;
    std::string bob_id;
    std::string alice = s.user("alice@example.com");
    std::string bob = s.user("bob@example.com", &bob_id);
    std::string org_id = create_org(s, alice, "Acme");
    std::string org_path = "/api/v1/orgs/" + org_id;
    join(s, org_id, alice, "bob@example.com", bob, "viewer");

    auto unknown = s.request(
        "POST", org_path + "/roles",
        body({{"name", "Billing"}, {"permissions", {"billing.read", "billing.steal"}}}), alice);
    EXPECT_EQ(unknown.status, 400) << unknown.body;
    EXPECT_NE(unknown.body.find(R"("pointer":"/permissions/1")"), std::string::npos)
        << unknown.body;
    auto reserved = s.request("POST", org_path + "/roles",
                              body({{"name", "Owner"}, {"permissions", {"org.read"}}}), alice);
    EXPECT_EQ(reserved.status, 400) << reserved.body;

    auto created = s.request(
        "POST", org_path + "/roles",
        body({{"name", "Billing"}, {"permissions", {"billing.read", "billing.manage"}}}), alice);
    ASSERT_EQ(created.status, 201) << created.body;
    std::string role_id = json_field(created.body, "id");
    EXPECT_NE(created.body.find("org.read"), std::string::npos);  // always included

    auto assigned =
        s.request("PATCH", org_path + "/members/" + bob_id, body({{"role", role_id}}), alice);
    ASSERT_EQ(assigned.status, 200) << assigned.body;
    EXPECT_EQ(json_field(assigned.body, "role_name"), "Billing");
    auto bob_view = s.request("GET", org_path, {}, bob);
    ASSERT_EQ(bob_view.status, 200);
    EXPECT_NE(bob_view.body.find("billing.manage"), std::string::npos);
    EXPECT_EQ(s.request("GET", org_path + "/members", {}, bob).status, 403);

    // Changing the role's permissions takes effect at once on this node.
    auto changed = s.request("PATCH", org_path + "/roles/" + role_id,
                             body({{"permissions", {"org.members.read"}}}), alice);
    ASSERT_EQ(changed.status, 200) << changed.body;
    EXPECT_EQ(s.request("GET", org_path + "/members", {}, bob).status, 200);

    EXPECT_EQ(s.request("DELETE", org_path + "/roles/" + role_id, {}, alice).status, 409);
    EXPECT_EQ(s.request("PATCH", org_path + "/roles/admin", body({{"name", "x"}}), alice).status,
              409);
    EXPECT_EQ(s.request("DELETE", org_path + "/roles/owner", {}, alice).status, 409);
    ASSERT_EQ(s.request("PATCH", org_path + "/members/" + bob_id, body({{"role", "viewer"}}), alice)
                  .status,
              200);
    EXPECT_EQ(s.request("DELETE", org_path + "/roles/" + role_id, {}, alice).status, 204);
    auto roles = s.request("GET", org_path + "/roles", {}, bob);
    ASSERT_EQ(roles.status, 200);
    EXPECT_EQ(parse(roles.body).at("data").as_array().size(), 4U);  // the built-ins
    EXPECT_EQ(s.events("nimbus.identity.role.created"), 1);
    EXPECT_EQ(s.events("nimbus.identity.role.deleted"), 1);
    EXPECT_EQ(s.events("nimbus.identity.member.role_changed"), 2);
}

TEST_F(OrgFlows, ApiKeys) {
    OrgStack& s = *stack_;
    std::string bob_id;
    std::string alice = s.user("alice@example.com");
    std::string bob = s.user("bob@example.com", &bob_id);
    std::string org_id = create_org(s, alice, "Acme");
    std::string other_org = create_org(s, alice, "Other");
    std::string org_path = "/api/v1/orgs/" + org_id;
    join(s, org_id, alice, "bob@example.com", bob, "admin");

    std::string key_id;
    std::string key = create_key(s, org_id, alice, {"org.read", "org.members.read"}, &key_id);
    ASSERT_TRUE(key.starts_with("nmb_")) << key;
    EXPECT_EQ(s.count("SELECT COUNT(*) FROM identity_api_keys WHERE secret_hash = ?", {key}), 0);
    auto listed = s.request("GET", org_path + "/api-keys", {}, alice);
    EXPECT_EQ(listed.body.find(key), std::string::npos);  // the secret is shown once

    EXPECT_EQ(s.request("GET", org_path + "/members", {}, key).status, 200);
    EXPECT_EQ(s.request("PATCH", org_path, body({{"name", "x"}}), key).status, 403);
    EXPECT_EQ(s.request("GET", "/api/v1/orgs/" + other_org, {}, key).status, 404);
    EXPECT_EQ(s.request("GET", "/api/v1/me", {}, key).status, 403);
    EXPECT_EQ(s.count("SELECT COUNT(*) FROM identity_api_keys WHERE id = ? AND last_used_at_ms "
                      "IS NOT NULL",
                      {key_id}),
              1);

    // Keys grant no more than their creator holds: an admin cannot mint org.delete.
    auto wider = s.request("POST", org_path + "/api-keys",
                           body({{"name", "wide"}, {"permissions", {"org.delete"}}}), bob);
    EXPECT_EQ(wider.status, 403) << wider.body;

    // Tampered, unknown and malformed keys are 401.
    std::string tampered = key;
    tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
    EXPECT_EQ(s.request("GET", org_path, {}, tampered).status, 401);
    std::string unknown = "nmb_" + new_ulid(s.clock().now_ms()) + key.substr(30);
    EXPECT_EQ(s.request("GET", org_path, {}, unknown).status, 401);
    EXPECT_EQ(s.request("GET", org_path, {}, "nmb_short").status, 401);

    // Expiry.
    auto expiring = s.request("POST", org_path + "/api-keys",
                              body({{"name", "short"},
                                    {"permissions", {"org.read"}},
                                    {"expires_at", format_rfc3339(s.clock().now_ms() + kDayMs)}}),
                              alice);
    ASSERT_EQ(expiring.status, 201) << expiring.body;
    std::string expiring_key = json_field(expiring.body, "key");
    EXPECT_EQ(s.request("GET", org_path, {}, expiring_key).status, 200);
    s.clock().advance_ms(2 * kDayMs);
    EXPECT_EQ(s.request("GET", org_path, {}, expiring_key).status, 401);
    alice = s.login("alice@example.com");

    // Revocation.
    EXPECT_EQ(s.request("DELETE", org_path + "/api-keys/" + key_id, {}, alice).status, 204);
    EXPECT_EQ(s.request("GET", org_path, {}, key).status, 401);
    EXPECT_EQ(s.request("DELETE", org_path + "/api-keys/" + key_id, {}, alice).status, 404);
    EXPECT_EQ(s.events("nimbus.identity.api_key.created"), 2);
    EXPECT_EQ(s.events("nimbus.identity.api_key.revoked"), 1);
}

TEST_F(OrgFlows, Operators) {
    OrgStack& s = *stack_;
    std::string token = s.user("ops@example.com");
    EXPECT_EQ(s.request("GET", "/test/operator", {}, token).status, 403);
    EXPECT_NE(s.request("GET", "/api/v1/me", {}, token).body.find(R"("is_operator":false)"),
              std::string::npos);
    ASSERT_TRUE(s.orgs().set_operator("ops@example.com", true));
    EXPECT_EQ(s.request("GET", "/test/operator", {}, token).status, 204);
    // Tokens issued from now on also name the platform permissions in `scope`.
    std::string operator_token = s.login("ops@example.com");
    auto claims = s.service().verify_access_token(operator_token);
    ASSERT_TRUE(claims);
    EXPECT_NE(std::find(claims->scopes.begin(), claims->scopes.end(), "gateway.firewall.manage"),
              claims->scopes.end());
    EXPECT_NE(std::find(claims->scopes.begin(), claims->scopes.end(), "account.self"),
              claims->scopes.end());
    EXPECT_NE(s.request("GET", "/api/v1/me", {}, token).body.find(R"("is_operator":true)"),
              std::string::npos);
    EXPECT_FALSE(s.orgs().set_operator("nobody@example.com", true));
    auto operators = s.orgs().list_operators();
    ASSERT_TRUE(operators);
    ASSERT_EQ(operators->size(), 1U);
    EXPECT_TRUE(operators->front().is_operator);
    ASSERT_TRUE(s.orgs().set_operator("ops@example.com", false));
    EXPECT_TRUE(s.orgs().list_operators()->empty());
    EXPECT_EQ(s.request("GET", "/test/operator", {}, token).status, 403);
    // The flag decides, not a scope issued while it was set.
    EXPECT_EQ(s.request("GET", "/test/operator", {}, operator_token).status, 403);
    EXPECT_EQ(s.events("nimbus.identity.operator.granted"), 1);
    EXPECT_EQ(s.events("nimbus.identity.operator.revoked"), 1);
}

// --- the isolation contract ---

class OrgIsolation : public ::testing::Test {
protected:
    void SetUp() override {
        if (!backend_available()) GTEST_SKIP() << "no PostgreSQL test cluster";
        stack_ = std::make_unique<OrgStack>();
    }
    std::unique_ptr<OrgStack> stack_;
};

TEST_F(OrgIsolation, EveryOrgRouteOfAnotherOrgIsClosed) {
    OrgStack& s = *stack_;
    // Org A: an owner, an admin, a member, and an API key with every permission it may hold.
    std::string a_owner = s.user("a-owner@example.com");
    std::string a_admin = s.user("a-admin@example.com");
    std::string a_member = s.user("a-member@example.com");
    std::string org_a = create_org(s, a_owner, "Org A");
    join(s, org_a, a_owner, "a-admin@example.com", a_admin, "admin");
    join(s, org_a, a_owner, "a-member@example.com", a_member, "member");
    std::string a_key = create_key(s, org_a, a_owner, all_permissions());

    // Org B with one of everything, whose ids leak to A.
    std::string b_owner_id;
    std::string b_member_id;
    std::string b_owner = s.user("b-owner@example.com", &b_owner_id);
    std::string b_member = s.user("b-member@example.com", &b_member_id);
    std::string org_b = create_org(s, b_owner, "Org B");
    join(s, org_b, b_owner, "b-member@example.com", b_member, "member");
    auto role = s.request("POST", "/api/v1/orgs/" + org_b + "/roles",
                          body({{"name", "Ops"}, {"permissions", {"org.read"}}}), b_owner);
    ASSERT_EQ(role.status, 201);
    auto invitation =
        s.request("POST", "/api/v1/orgs/" + org_b + "/invitations",
                  body({{"email", "b-later@example.com"}, {"role", "viewer"}}), b_owner);
    ASSERT_EQ(invitation.status, 201);
    std::string b_key_id;
    create_key(s, org_b, b_owner, {"org.read"}, &b_key_id);
    auto client = s.request("POST", "/api/v1/orgs/" + org_b + "/oauth-clients",
                            body({{"name", "B app"},
                                  {"redirect_uris", {"https://b.example/callback"}},
                                  {"type", "confidential"}}),
                            b_owner);
    EXPECT_EQ(client.status, 201) << client.body;
    std::string b_client_id = json_field(client.body, "id");
    if (b_client_id.empty()) b_client_id = json_field(client.body, "client_id");
    std::map<std::string, std::string> leaked = {
        {"user_id", b_member_id},
        {"role_id", json_field(role.body, "id")},
        {"invitation_id", json_field(invitation.body, "id")},
        {"key_id", b_key_id},
        {"client_id", b_client_id}};
    std::map<std::string, std::string> guessed = {
        {"user_id", new_id("usr", s.clock().now_ms())},
        {"role_id", new_id("rol", s.clock().now_ms())},
        {"invitation_id", new_id("inv", s.clock().now_ms())},
        {"key_id", new_id("key", s.clock().now_ms())},
        {"client_id", new_id("cli", s.clock().now_ms())}};
    // Bodies that would succeed if the caller were let in.
    std::string any_body = body({{"name", "Taken over"},
                                 {"slug", "taken-over"},
                                 {"email", "evil@example.com"},
                                 {"role", "viewer"},
                                 {"user_id", b_member_id},
                                 {"permissions", {"org.read"}},
                                 {"description", "x"}});

    std::string before = s.snapshot(org_b);
    std::int64_t events_before = s.count("SELECT COUNT(*) FROM outbox_events");
    std::set<std::string> covered;
    for (const auto& route : s.router().routes()) {
        const std::string& path = route->path_template;
        if (path.find("{org_id}") == std::string::npos) continue;
        std::string method(http::to_string(route->method));
        covered.insert(method + " " + path);
        for (const auto* ids : {&leaked, &guessed}) {
            for (const std::string& org :
                 {org_b, new_id("org", s.clock().now_ms()), std::string("org_nope")}) {
                std::string target = std::regex_replace(path, std::regex("\\{org_id\\}"), org);
                std::smatch param;
                while (std::regex_search(target, param, std::regex("\\{([a-z_]+)\\}"))) {
                    auto id = ids->find(param[1]);
                    std::string value =
                        id != ids->end() ? id->second : new_id("xyz", s.clock().now_ms());
                    target.replace(param.position(0), param.length(0), value);
                }
                for (const auto& [who, token] : std::map<std::string, std::string>{
                         {"member", a_member}, {"admin", a_admin}, {"api key", a_key}}) {
                    auto response = s.request(method, target, any_body, token);
                    EXPECT_TRUE(response.status == 404 || response.status == 403)
                        << who << " " << method << " " << target << " -> " << response.status << " "
                        << response.body;
                }
            }
        }
    }
    EXPECT_GE(covered.size(), 24U);  // ours, the OAuth clients' and the audit log's
    EXPECT_EQ(s.snapshot(org_b), before);
    EXPECT_EQ(s.count("SELECT COUNT(*) FROM outbox_events"), events_before);
    // B's owner still works.
    EXPECT_EQ(s.request("GET", "/api/v1/orgs/" + org_b + "/members", {}, b_owner).status, 200);
}

TEST_F(OrgIsolation, NonMembersAndAnonymousCallers) {
    OrgStack& s = *stack_;
    std::string alice = s.user("alice@example.com");
    std::string mallory = s.user("mallory@example.com");
    std::string org_id = create_org(s, alice, "Acme");
    auto outsider = s.request("GET", "/api/v1/orgs/" + org_id, {}, mallory);
    auto unknown =
        s.request("GET", "/api/v1/orgs/" + new_id("org", s.clock().now_ms()), {}, mallory);
    EXPECT_EQ(outsider.status, 404);
    EXPECT_EQ(unknown.status, 404);
    // The two answers are the same, so existence is not revealed.
    EXPECT_EQ(json_field(outsider.body, "detail"), json_field(unknown.body, "detail"));
    EXPECT_EQ(s.request("GET", "/api/v1/orgs/" + org_id, {}, "").status, 401);
}

// --- bad input ---

struct BadInput {
    std::string name;
    std::string method;
    std::string path;  ///< "{org}" is replaced by the org's id
    std::string json;
    int expected_status;
    std::string expected_fragment;
};

class OrgScenarios : public ::testing::Test {
protected:
    void SetUp() override {
        if (!backend_available()) GTEST_SKIP() << "no PostgreSQL test cluster";
        stack_ = std::make_unique<OrgStack>();
    }
    std::unique_ptr<OrgStack> stack_;
};

/// `text` in lower case: a ULID in the wrong case is not an id Nimbus mints.
std::string lowercase(std::string text) {
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

TEST_F(OrgScenarios, BadInputChangesNothing) {
    OrgStack& s = *stack_;
    std::string alice = s.user("alice@example.com");
    std::string org_id = create_org(s, alice, "Acme");
    const std::string long_name(101, 'x');
    const std::vector<BadInput> cases = {
        {"create: not JSON", "POST", "/api/v1/orgs", "{", 400, "invalid-json"},
        {"create: no name", "POST", "/api/v1/orgs", "{}", 400, R"("/name")"},
        {"create: empty name", "POST", "/api/v1/orgs", R"({"name":"  "})", 400, R"("/name")"},
        {"create: name not a string", "POST", "/api/v1/orgs", R"({"name":5})", 400,
         "must be a string"},
        {"create: overlong name", "POST", "/api/v1/orgs", body({{"name", long_name}}), 400,
         R"("/name")"},
        {"create: control characters", "POST", "/api/v1/orgs", R"({"name":"a\u0007b"})", 400,
         R"("/name")"},
        {"create: bad slug", "POST", "/api/v1/orgs", R"({"name":"A","slug":"Not A Slug"})", 400,
         R"("/slug")"},
        {"create: short slug", "POST", "/api/v1/orgs", R"({"name":"A","slug":"ab"})", 400,
         R"("/slug")"},
        {"create: overlong slug", "POST", "/api/v1/orgs",
         body({{"name", "A"}, {"slug", std::string(41, 'a')}}), 400, R"("/slug")"},
        {"create: slug with double hyphen", "POST", "/api/v1/orgs", R"({"name":"A","slug":"a--b"})",
         400, R"("/slug")"},
        {"update: bad slug", "PATCH", "/api/v1/orgs/{org}", R"({"slug":"-a-"})", 400, R"("/slug")"},
        {"update: name not a string", "PATCH", "/api/v1/orgs/{org}", R"({"name":5})", 400,
         "must be a string or null"},
        {"update: require_mfa not a boolean", "PATCH", "/api/v1/orgs/{org}",
         R"({"require_mfa":"yes"})", 400, R"("/require_mfa")"},
        {"invite: role missing", "POST", "/api/v1/orgs/{org}/invitations",
         R"({"email":"a@example.com"})", 400, R"("/role")"},
        {"key: permissions missing", "POST", "/api/v1/orgs/{org}/api-keys", R"({"name":"k"})", 400,
         R"("/permissions")"},
        {"invite: malformed email", "POST", "/api/v1/orgs/{org}/invitations",
         R"({"email":"nope","role":"member"})", 400, R"("/email")"},
        {"invite: header injection", "POST", "/api/v1/orgs/{org}/invitations",
         R"({"email":"a@example.com\r\nBcc: x@example.com","role":"member"})", 400, R"("/email")"},
        {"invite: overlong email", "POST", "/api/v1/orgs/{org}/invitations",
         body({{"email", std::string(250, 'a') + "@example.com"}, {"role", "member"}}), 400,
         R"("/email")"},
        {"invite: unknown role", "POST", "/api/v1/orgs/{org}/invitations",
         R"({"email":"a@example.com","role":"emperor"})", 400, R"("/role")"},
        {"invite: role of another org", "POST", "/api/v1/orgs/{org}/invitations",
         body({{"email", "a@example.com"}, {"role", new_id("rol", 0)}}), 400, R"("/role")"},
        {"invite: already a member", "POST", "/api/v1/orgs/{org}/invitations",
         R"({"email":"alice@example.com","role":"member"})", 409, "already a member"},
        {"member: not a member", "PATCH", "/api/v1/orgs/{org}/members/" + new_id("usr", 0),
         R"({"role":"god"})", 404, ""},
        {"role: unknown permission", "POST", "/api/v1/orgs/{org}/roles",
         R"({"name":"X","permissions":["org.read","root"]})", 400, R"("/permissions/1")"},
        {"role: permissions not strings", "POST", "/api/v1/orgs/{org}/roles",
         R"({"name":"X","permissions":[1]})", 400, R"("/permissions/0")"},
        {"role: permissions not a list", "POST", "/api/v1/orgs/{org}/roles",
         R"({"name":"X","permissions":"org.read"})", 400, R"("/permissions")"},
        {"role: overlong name", "POST", "/api/v1/orgs/{org}/roles",
         body({{"name", std::string(51, 'r')}, {"permissions", {"org.read"}}}), 400, R"("/name")"},
        {"key: no permissions", "POST", "/api/v1/orgs/{org}/api-keys",
         R"({"name":"k","permissions":[]})", 400, R"("/permissions")"},
        {"key: unknown permission", "POST", "/api/v1/orgs/{org}/api-keys",
         R"({"name":"k","permissions":["everything"]})", 400, R"("/permissions/0")"},
        {"key: bad expiry", "POST", "/api/v1/orgs/{org}/api-keys",
         R"({"name":"k","permissions":["org.read"],"expires_at":"tomorrow"})", 400,
         R"("/expires_at")"},
        {"key: past expiry", "POST", "/api/v1/orgs/{org}/api-keys",
         R"({"name":"k","permissions":["org.read"],"expires_at":"2001-01-01T00:00:00Z"})", 400,
         R"("/expires_at")"},
        {"transfer: not a member", "POST", "/api/v1/orgs/{org}/transfer",
         body({{"user_id", new_id("usr", 0)}}), 400, R"("/user_id")"},
        {"transfer: missing user", "POST", "/api/v1/orgs/{org}/transfer", "{}", 400,
         R"("/user_id")"},
        {"accept: forged token", "POST", "/api/v1/invitations/accept", R"({"token":"forged"})", 400,
         R"("/token")"},
        {"accept: token not a string", "POST", "/api/v1/invitations/accept", R"({"token":[]})", 400,
         R"("/token")"},
        {"preview: forged token", "POST", "/api/v1/invitations/preview", R"({"token":"x"})", 400,
         R"("/token")"},
        // Malformed ids: the path schema answers before any lookup, naming the parameter.
        {"revoke: malformed invitation id", "DELETE", "/api/v1/orgs/{org}/invitations/inv_x", "",
         400, R"("parameter":"invitation_id")"},
        {"revoke: malformed key id", "DELETE", "/api/v1/orgs/{org}/api-keys/key_x", "", 400,
         R"("parameter":"key_id")"},
        {"role: delete malformed id", "DELETE", "/api/v1/orgs/{org}/roles/rol_x", "", 400,
         R"("parameter":"role_id")"},
        {"role: update an unknown role name", "PATCH", "/api/v1/orgs/{org}/roles/emperor",
         R"({"name":"X"})", 400, R"("parameter":"role_id")"},
        {"member: malformed user id", "PATCH", "/api/v1/orgs/{org}/members/usr_1'%20OR%201=1",
         R"({"role":"member"})", 400, R"("parameter":"user_id")"},
        {"member: remove a lowercase id", "DELETE",
         "/api/v1/orgs/{org}/members/" + lowercase(new_id("usr", 0)), "", 400,
         R"("parameter":"user_id")"},
        {"client: malformed id", "DELETE", "/api/v1/orgs/{org}/oauth-clients/cli_x", "", 400,
         R"("parameter":"client_id")"},
        // Well-formed ids that name nothing here still answer 404.
        {"revoke: unknown invitation", "DELETE",
         "/api/v1/orgs/{org}/invitations/" + new_id("inv", 0), "", 404, ""},
        {"revoke: unknown key", "DELETE", "/api/v1/orgs/{org}/api-keys/" + new_id("key", 0), "",
         404, ""},
        {"role: delete unknown", "DELETE", "/api/v1/orgs/{org}/roles/" + new_id("rol", 0), "", 404,
         ""},
        // Built-in roles are names the role handlers answer themselves.
        {"role: delete a built-in role", "DELETE", "/api/v1/orgs/{org}/roles/admin", "", 409, ""},
    };
    std::string before = s.snapshot(org_id);
    std::int64_t orgs_before = s.count("SELECT COUNT(*) FROM identity_orgs");
    for (const auto& c : cases) {
        std::string path = std::regex_replace(c.path, std::regex("\\{org\\}"), org_id);
        auto response = s.request(c.method, path, c.json, alice);
        EXPECT_EQ(response.status, c.expected_status) << c.name << ": " << response.body;
        EXPECT_NE(response.body.find(c.expected_fragment), std::string::npos)
            << c.name << ": " << response.body;
        EXPECT_NE(response.header("content-type").value_or("").find("application/problem+json"),
                  std::string::npos)
            << c.name;
    }
    EXPECT_EQ(s.snapshot(org_id), before);
    EXPECT_EQ(s.count("SELECT COUNT(*) FROM identity_orgs"), orgs_before);
}

}  // namespace
}  // namespace nimbus::test
