// The permission list and OrgService on SQLite with a manual clock: the membership cache and its
// staleness bound, invalidation on change, the last-owner rule and API keys (throttled last use).
#include <gtest/gtest.h>

#include "core/ids.hpp"
#include "identity/identity.hpp"
#include "identity/orgs.hpp"
#include "identity/permissions.hpp"
#include "identity/service_fixture.hpp"
#include "test_database.hpp"

namespace nimbus::identity {
namespace {

using testing::kStartMs;

constexpr std::int64_t kCacheMs = 5000;

TEST(Permissions, BuiltinRolesUseOnlyKnownPermissions) {
    for (const auto& role : builtin_roles()) {
        for (const auto& permission : role.permissions) {
            EXPECT_TRUE(is_org_permission(permission)) << role.name << ": " << permission;
        }
        EXPECT_TRUE(is_subset({std::string(kOrgReadPermission)}, role.permissions)) << role.name;
    }
    const auto* owner = find_builtin_role("owner");
    const auto* admin = find_builtin_role("admin");
    ASSERT_NE(owner, nullptr);
    ASSERT_NE(admin, nullptr);
    EXPECT_EQ(owner->permissions.size(), org_permissions().size());
    EXPECT_FALSE(is_subset({"org.delete"}, admin->permissions));
    EXPECT_FALSE(is_subset({"org.transfer"}, admin->permissions));
    EXPECT_TRUE(is_subset(admin->permissions, owner->permissions));
    EXPECT_EQ(find_builtin_role("emperor"), nullptr);
}

TEST(Permissions, SubsetAndStorage) {
    EXPECT_TRUE(is_subset({"a", "b"}, {"b", "a", "c"}));
    EXPECT_FALSE(is_subset({"a", "d"}, {"a"}));
    EXPECT_TRUE(is_subset({"anything"}, {"*"}));
    EXPECT_TRUE(is_subset({}, {}));
    std::vector<std::string> list = {"org.read", "api_keys.manage"};
    EXPECT_EQ(split_permissions(join_permissions(list)), list);
    EXPECT_TRUE(split_permissions("").empty());
}

class OrgServiceTest : public testing::DatabaseFixture {
protected:
    void SetUp() override {
        DatabaseFixture::SetUp();
        if (HasFatalFailure()) return;
        OrgSettings settings;
        settings.membership_cache_ttl_ms = kCacheMs;
        orgs_ = std::make_unique<OrgService>(*database_, clock_, *mail_queue_, settings);
        alice_ = add_user("alice@example.com");
        bob_ = add_user("bob@example.com");
    }

    void TearDown() override {
        orgs_.reset();
        DatabaseFixture::TearDown();
    }

    std::string add_user(const std::string& email) {
        std::string id = new_id("usr", clock_.now_ms());
        EXPECT_TRUE(db::testing::execute(
            *database_,
            "INSERT INTO identity_users (id, email, password_hash, email_verified_at_ms, "
            "created_at_ms, updated_at_ms) VALUES (?, ?, 'x', ?, ?, ?)",
            {id, email, kStartMs, kStartMs, kStartMs}));
        return id;
    }

    Actor actor(const std::string& user_id, std::vector<std::string> permissions) {
        return {{.kind = http::Principal::Kind::user,
                 .id = user_id,
                 .permissions = std::move(permissions)},
                "127.0.0.1"};
    }

    Actor owner(const std::string& user_id) {
        return actor(user_id, find_builtin_role("owner")->permissions);
    }

    /// Writes as another node would: behind this node's cache.
    void set_role_elsewhere(const std::string& org_id, const std::string& user_id,
                            const std::string& role) {
        ASSERT_TRUE(db::testing::execute(
            *database_, "UPDATE identity_org_members SET role = ? WHERE org_id = ? AND user_id = ?",
            {role, org_id, user_id}));
    }

    void add_member_elsewhere(const std::string& org_id, const std::string& user_id,
                              const std::string& role) {
        ASSERT_TRUE(db::testing::execute(
            *database_,
            "INSERT INTO identity_org_members (org_id, user_id, role, created_at_ms, "
            "updated_at_ms) VALUES (?, ?, ?, ?, ?)",
            {org_id, user_id, role, kStartMs, kStartMs}));
    }

    std::unique_ptr<OrgService> orgs_;
    std::string alice_;
    std::string bob_;
};

TEST_F(OrgServiceTest, MembershipCacheIsBoundedByItsLifetime) {
    auto org = orgs_->create_org(owner(alice_), "Acme", std::nullopt);
    ASSERT_TRUE(org) << org.error().message;
    auto none = orgs_->member_permissions(org->id, bob_);
    ASSERT_TRUE(none);
    EXPECT_FALSE(none->has_value());
    // Another node adds Bob: this node keeps its answer until the entry expires.
    add_member_elsewhere(org->id, bob_, "viewer");
    EXPECT_FALSE(orgs_->member_permissions(org->id, bob_)->has_value());
    clock_.advance_ms(kCacheMs);
    auto viewer = orgs_->member_permissions(org->id, bob_);
    ASSERT_TRUE(viewer && viewer->has_value());
    EXPECT_TRUE(is_subset({"org.members.read"}, **viewer));
    EXPECT_FALSE(is_subset({"org.update"}, **viewer));
    // A change made through this node is seen at once.
    ASSERT_TRUE(orgs_->update_member_role(owner(alice_), org->id, bob_, "admin"));
    EXPECT_TRUE(is_subset({"org.update"}, **orgs_->member_permissions(org->id, bob_)));
    ASSERT_TRUE(orgs_->remove_member(owner(alice_), org->id, bob_));
    EXPECT_FALSE(orgs_->member_permissions(org->id, bob_)->has_value());
    // Malformed and unknown org ids are non-members without a lookup.
    EXPECT_FALSE(orgs_->member_permissions("org_nope", alice_)->has_value());
}

TEST_F(OrgServiceTest, LastOwnerStays) {
    auto org = orgs_->create_org(owner(alice_), "Acme", std::nullopt);
    ASSERT_TRUE(org);
    auto leave = orgs_->remove_member(owner(alice_), org->id, alice_);
    ASSERT_FALSE(leave);
    EXPECT_EQ(leave.error().code, ErrorCode::conflict);
    auto demote = orgs_->update_member_role(owner(alice_), org->id, alice_, "viewer");
    ASSERT_FALSE(demote);
    EXPECT_EQ(demote.error().code, ErrorCode::conflict);
    add_member_elsewhere(org->id, bob_, "owner");
    EXPECT_TRUE(orgs_->update_member_role(owner(alice_), org->id, alice_, "viewer"));
    set_role_elsewhere(org->id, alice_, "owner");
    // An admin cannot touch an owner, nor grant what it lacks.
    Actor admin = actor(bob_, find_builtin_role("admin")->permissions);
    auto removed = orgs_->remove_member(admin, org->id, alice_);
    ASSERT_FALSE(removed);
    EXPECT_EQ(removed.error().code, ErrorCode::permission_denied);
    auto key = orgs_->create_api_key(admin, org->id, "k", {"org.delete"}, std::nullopt);
    ASSERT_FALSE(key);
    EXPECT_EQ(key.error().code, ErrorCode::permission_denied);
}

TEST_F(OrgServiceTest, ApiKeys) {
    auto org = orgs_->create_org(owner(alice_), "Acme", std::nullopt);
    ASSERT_TRUE(org);
    auto created = orgs_->create_api_key(owner(alice_), org->id, "ci", {"org.read"}, std::nullopt);
    ASSERT_TRUE(created) << created.error().message;
    const std::string& secret = created->secret;
    EXPECT_TRUE(secret.starts_with("nmb_"));
    auto principal = orgs_->authenticate_api_key(secret);
    ASSERT_TRUE(principal) << principal.error().message;
    EXPECT_EQ(principal->kind, http::Principal::Kind::api_key);
    EXPECT_EQ(principal->org_id, org->id);
    EXPECT_EQ(principal->permissions, std::vector<std::string>{"org.read"});

    // Last use: written on first use, then at most once a minute.
    auto last_used = [&] {
        auto rows = database_->query("SELECT last_used_at_ms FROM identity_api_keys WHERE id = ?",
                                     {created->key.id});
        return rows->front().get_optional_int(0).value_or(0);
    };
    EXPECT_EQ(last_used(), kStartMs);
    clock_.advance_ms(30'000);
    ASSERT_TRUE(orgs_->authenticate_api_key(secret));
    EXPECT_EQ(last_used(), kStartMs);
    clock_.advance_ms(31'000);
    ASSERT_TRUE(orgs_->authenticate_api_key(secret));
    EXPECT_EQ(last_used(), kStartMs + 61'000);

    std::string tampered = secret;
    tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
    EXPECT_EQ(orgs_->authenticate_api_key(tampered).error().code, ErrorCode::unauthenticated);
    EXPECT_FALSE(orgs_->authenticate_api_key("nmb_"));
    EXPECT_FALSE(orgs_->authenticate_api_key(""));
    ASSERT_TRUE(orgs_->revoke_api_key(owner(alice_), org->id, created->key.id));
    EXPECT_EQ(orgs_->authenticate_api_key(secret).error().code, ErrorCode::unauthenticated);
}

}  // namespace
}  // namespace nimbus::identity
