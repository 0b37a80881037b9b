#pragma once
// The stack the organization tests share (org_test.cpp, org_mfa_test.cpp): accounts and
// organizations behind a real http::Server with the default pipeline, the OpenID provider's and
// the audit log's org routes beside them, mail kept in the dev mailbox, on SQLite or on the
// PostgreSQL test cluster (test_backend()). The clock is manual so tests can let links expire.

#include <cstdint>
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <boost/json/object.hpp>

#include "audit/audit.hpp"
#include "identity_env.hpp"

namespace nimbus::test {

/// The password of every account user() makes.
inline constexpr const char* kPassword = "correct-Horse-battery-9";

/// `object` as JSON text, for request bodies.
std::string body(const boost::json::object& object);

/// The identity stack plus organizations, on the dev mailbox. One per test: each has its own
/// database. Not copyable; requests may come from any thread.
class OrgStack {
public:
    /// Migrates a fresh database and starts the server on a free port of 127.0.0.1. Throws when
    /// any part does not start.
    OrgStack();
    ~OrgStack();
    OrgStack(const OrgStack&) = delete;
    OrgStack& operator=(const OrgStack&) = delete;

    db::Database& db() { return database_->db(); }
    ManualClock& clock() { return clock_; }
    identity::Organizations& orgs() { return *orgs_; }
    identity::Service& service() { return *service_; }
    const http::Router& router() const { return router_; }

    /// A request on a fresh connection; `json` is sent as application/json when not empty. Mail
    /// the request queued is in the dev mailbox when this returns (a pass of the mail queue).
    HttpResponse request(const std::string& method, const std::string& target,
                         const std::string& json = {}, const std::string& bearer = {});

    /// The token of a `page` link mailed to `to` (mail ids made in the same millisecond of the
    /// manual clock do not sort by time, so tests mail each address one such link).
    std::string mailed_token(const std::string& to, const std::string& page);

    /// A new access token for an account made by user().
    std::string login(const std::string& email);

    /// Signs up, verifies and logs in; returns the access token and sets `user_id`.
    std::string user(const std::string& email, std::string* user_id = nullptr);

    /// Enrols and confirms TOTP for the caller of `access` through the API.
    void enable_totp(const std::string& access);

    /// The first column of the first row of `sql` (a COUNT(*)); -1 on error.
    std::int64_t count(const std::string& sql, db::Params params = {});

    /// Outbox events of this type.
    std::int64_t events(const std::string& type);

    /// Every row that belongs to `org_id`, as text, to compare before and after.
    std::string snapshot(const std::string& org_id);

private:
    ManualClock clock_;
    std::unique_ptr<db::testing::TestDatabase> database_;
    std::unique_ptr<crypto::MasterKey> master_key_;
    std::unique_ptr<mail::Mailer> mailer_;
    std::unique_ptr<mail::Queue> mail_queue_;
    std::unique_ptr<identity::Service> service_;
    std::unique_ptr<identity::Organizations> orgs_;
    std::unique_ptr<identity::OidcProvider> oidc_;
    std::unique_ptr<audit::Log> audit_;
    http::Router router_;
    std::unique_ptr<http::Pipeline> pipeline_;
    std::unique_ptr<http::Server> server_;
};

/// A test with an OrgStack of its own, skipped when the PostgreSQL build finds no cluster.
class OrgStackTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (!backend_available()) GTEST_SKIP() << "no PostgreSQL test cluster";
        stack_ = std::make_unique<OrgStack>();
    }
    std::unique_ptr<OrgStack> stack_;
};

/// Creates an organization named `name` as the holder of `token`; its id.
std::string create_org(OrgStack& stack, const std::string& token, const std::string& name);

/// Invites `email` with `role` as the holder of `inviter_token` and accepts as `invitee_token`
/// (fatal failures: wrap in ASSERT_NO_FATAL_FAILURE to stop the test).
void join(OrgStack& stack, const std::string& org_id, const std::string& inviter_token,
          const std::string& email, const std::string& invitee_token, const std::string& role);

}  // namespace nimbus::test
