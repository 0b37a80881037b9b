// Deleting an account over real sockets: refused with 409 `last-owner`, naming the organizations,
// while the account is the only owner of any; allowed once each is transferred or deleted.
#include <gtest/gtest.h>

#include "org_stack.hpp"

#ifdef NIMBUS_IDENTITY_TEST_POSTGRES
#define AccountDelete AccountDeleteOnPostgres
#endif

namespace nimbus::test {
namespace {

class AccountDelete : public OrgStackTest {};

TEST_F(AccountDelete, LastOwnerIsRefusedUntilOrgsAreTransferredOrDeleted) {
    OrgStack& s = *stack_;
    std::string alice_id;
    std::string bob_id;
    std::string alice = s.user("alice@example.com", &alice_id);
    std::string bob = s.user("bob@example.com", &bob_id);
    std::string shared_org = create_org(s, alice, "Shared");
    std::string solo_org = create_org(s, alice, "Solo");
    std::string bobs_org = create_org(s, bob, "Bobs");

    // Bob joins the shared org as an admin: Alice is still its only owner.
    ASSERT_NO_FATAL_FAILURE(join(s, shared_org, alice, "bob@example.com", bob, "admin"));

    std::string shared_before = s.snapshot(shared_org);
    std::string solo_before = s.snapshot(solo_org);
    auto refused = s.request("DELETE", "/api/v1/me", {}, alice);
    EXPECT_EQ(refused.status, 409) << refused.body;
    EXPECT_NE(refused.header("content-type").value_or("").find("application/problem+json"),
              std::string::npos);
    EXPECT_EQ(json_field(refused.body, "type"), "/problems/last-owner");
    // Both orgs Alice alone owns are named, whether or not they have other members; Bob's is not.
    EXPECT_NE(refused.body.find(shared_org), std::string::npos) << refused.body;
    EXPECT_NE(refused.body.find(solo_org), std::string::npos) << refused.body;
    EXPECT_EQ(refused.body.find(bobs_org), std::string::npos) << refused.body;
    // Nothing changed: the account, its session and both orgs are as they were.
    EXPECT_EQ(s.snapshot(shared_org), shared_before);
    EXPECT_EQ(s.snapshot(solo_org), solo_before);
    EXPECT_EQ(s.request("GET", "/api/v1/me", {}, alice).status, 200);
    EXPECT_EQ(s.count("SELECT COUNT(*) FROM identity_users WHERE id = ?", {alice_id}), 1);
    EXPECT_EQ(s.count("SELECT COUNT(*) FROM identity_sessions WHERE user_id = ? AND "
                      "revoked_at_ms IS NULL",
                      {alice_id}),
              1);
    EXPECT_EQ(s.events("nimbus.identity.user.deleted"), 0);

    // Transferring one org is not enough while the other still has her as its only owner.
    auto transferred = s.request("POST", "/api/v1/orgs/" + shared_org + "/transfer",
                                 body({{"user_id", bob_id}}), alice);
    ASSERT_EQ(transferred.status, 204) << transferred.body;
    auto still = s.request("DELETE", "/api/v1/me", {}, alice);
    EXPECT_EQ(still.status, 409) << still.body;
    EXPECT_EQ(still.body.find(shared_org), std::string::npos) << still.body;
    EXPECT_NE(still.body.find(solo_org), std::string::npos) << still.body;

    ASSERT_EQ(s.request("DELETE", "/api/v1/orgs/" + solo_org, {}, alice).status, 204);
    auto deleted = s.request("DELETE", "/api/v1/me", {}, alice);
    EXPECT_EQ(deleted.status, 204) << deleted.body;
    EXPECT_EQ(s.count("SELECT COUNT(*) FROM identity_users WHERE id = ?", {alice_id}), 0);
    EXPECT_EQ(s.events("nimbus.identity.user.deleted"), 1);
    // Bob's orgs live on, the shared one without Alice.
    EXPECT_EQ(s.request("GET", "/api/v1/orgs/" + shared_org, {}, bob).status, 200);
    EXPECT_EQ(s.count("SELECT COUNT(*) FROM identity_org_members WHERE org_id = ?", {shared_org}),
              1);
}

TEST_F(AccountDelete, CoOwnerMayDelete) {
    OrgStack& s = *stack_;
    std::string alice_id;
    std::string bob_id;
    std::string alice = s.user("alice@example.com", &alice_id);
    std::string bob = s.user("bob@example.com", &bob_id);
    std::string org = create_org(s, alice, "Pair");
    ASSERT_NO_FATAL_FAILURE(join(s, org, alice, "bob@example.com", bob, "owner"));

    EXPECT_EQ(s.request("DELETE", "/api/v1/me", {}, alice).status, 204);
    // Bob is now the only owner and is refused in turn.
    auto refused = s.request("DELETE", "/api/v1/me", {}, bob);
    EXPECT_EQ(refused.status, 409) << refused.body;
    EXPECT_NE(refused.body.find(org), std::string::npos) << refused.body;
}

}  // namespace
}  // namespace nimbus::test
