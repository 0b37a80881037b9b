#pragma once
// A real identity stack for integration tests: SQLite in a temporary directory, the identity
// service behind a real http::Server with the default pipeline and its authenticate step, and a
// real SMTP server (Debian's aiosmtpd, started on 127.0.0.1) whose maildir the tests read links
// from. The clock is manual so tests can let tokens and links expire.

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/crypto.hpp"
#include "db/db.hpp"
#include "http/http.hpp"
#include "identity/identity.hpp"
#include "mail/mail.hpp"
#include "smtp_sink.hpp"
#include "test_client.hpp"
#include "test_database.hpp"

namespace nimbus::test {

/// `rows` as text, one line per row and "|" after each value ("NULL" for null): two equal texts
/// mean the same rows, which is how the bad-input tests show that a refusal changed nothing.
std::string rows_text(const std::vector<db::Row>& rows);

/// A refusal users can act on: `status`, application/problem+json whose `status` member agrees,
/// and `fragment` (the field or reason) named in the body.
void expect_problem(const HttpResponse& response, int status, const std::string& fragment);

/// The backend these tests run on: SQLite, or PostgreSQL in the build of this suite labelled
/// `postgres` (NIMBUS_IDENTITY_TEST_POSTGRES), which needs the test cluster.
db::Backend test_backend();
/// False when the backend is PostgreSQL and no test cluster is configured; tests then skip.
bool backend_available();

/// Which mailer the stack uses.
enum class MailMode { smtp, dev_mailbox };

/// The whole stack. Construct once per test suite.
class IdentityStack {
public:
    explicit IdentityStack(MailMode mode = MailMode::smtp);
    ~IdentityStack();

    std::uint16_t port() const { return server_->port(); }
    identity::Service& service() { return *service_; }
    /// The OpenID provider on the same service, with its routes on this server.
    identity::OidcProvider& oidc() { return *oidc_; }
    db::Database& database() { return test_database_->db(); }
    ManualClock& clock() { return clock_; }
    SmtpSink* smtp() { return smtp_.get(); }
    /// A second service on the same database and keys with other settings (another issuer or
    /// audience), for tokens this stack must refuse.
    std::unique_ptr<identity::Service> other_service(identity::Settings settings);
    static identity::Settings settings();
    /// Events of this type in the outbox.
    std::int64_t count_events(const std::string& type);
    std::int64_t count(const std::string& sql);

    /// A request on a fresh connection. Mail the request queued is delivered (a pass of the mail
    /// queue) before this returns, so a test reads it as if it were sent at once.
    HttpResponse request(const std::string& method, const std::string& target,
                         const std::string& body = {}, const std::string& bearer = {},
                         const std::vector<std::pair<std::string, std::string>>& headers = {});

private:
    ManualClock clock_;
    std::unique_ptr<SmtpSink> smtp_;
    std::unique_ptr<db::testing::TestDatabase> test_database_;
    std::unique_ptr<crypto::MasterKey> master_key_;
    std::unique_ptr<mail::Mailer> mailer_;
    std::unique_ptr<mail::Queue> mail_queue_;
    std::unique_ptr<identity::Service> service_;
    std::unique_ptr<identity::OidcProvider> oidc_;
    http::Router router_;
    std::unique_ptr<http::Pipeline> pipeline_;
    std::unique_ptr<http::Server> server_;
};

/// A JSON string field of a response body; empty when absent.
std::string json_field(const std::string& body, const std::string& name);

/// RFC 4648 base32 (no padding) decoded: the raw TOTP secret from an enrolment answer's
/// `secret`, to compute codes as an authenticator app would.
std::string decode_base32(const std::string& text);

}  // namespace nimbus::test
