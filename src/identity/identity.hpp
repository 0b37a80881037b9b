#pragma once
/// Identity: accounts, email verification, password reset, sessions with refresh-token rotation,
/// ES256 access tokens (JWT) and the `authenticate` step of the HTTP pipeline.
///
/// The composition root builds one Service from plain values and hands its routes and its
/// authenticate step to the HTTP layer:
///
///     identity::Service identity(database, clock, master_key, mail_queue, settings);
///     if (auto ok = identity.start(); !ok) ...;          // loads or creates the signing key
///     identity::add_routes(router, identity);
///     pipeline_settings.authenticate = identity.make_authenticate_step();
///
/// Thread safety: every Service method may be called from any thread at once. Methods that hash
/// passwords (sign_up, login, reset_password, change_password) block for tens of
/// milliseconds: call them from the blocking worker pool (`RequestContext::run_blocking`).
///
/// Errors: `invalid_argument` with field errors for bad input, `unauthenticated` for wrong
/// credentials and bad tokens, `not_found`, `unavailable` when the database cannot be reached.
/// Messages never contain secrets.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "core/clock.hpp"
#include "core/crypto.hpp"
#include "core/result.hpp"
#include "db/db.hpp"
#include "http/http.hpp"
#include "mail/mail.hpp"

namespace nimbus::identity {

/// The page a list answers: at most `limit` rows after `after`, a position the same list gave as
/// Page::next_after (decoded from the caller's `?cursor=`; each list reads its own format and
/// refuses others with `invalid_argument` "cursor: ...").
struct PageRequest {
    /// Rows per page when the caller names none, and the most a caller may ask for.
    static constexpr std::size_t kDefaultLimit = 100;
    static constexpr std::size_t kMaxLimit = 200;
    std::size_t limit = kDefaultLimit;
    std::optional<std::string> after;
};

/// One page of a list in its stable order; `next_after` is set while more rows follow.
template <typename T>
struct Page {
    std::vector<T> items;
    std::optional<std::string> next_after;
};

/// This module's schema migrations (generated from src/identity/migrations/).
const std::vector<db::Migration>& migrations();

/// The permission every signed-in user holds for their own account (`/api/v1/me...`).
inline constexpr std::string_view kSelfPermission = "account.self";

/// Argon2id cost (libsodium `crypto_pwhash_str`; parallelism is always 1). The defaults are the
/// OWASP recommendation (m = 19 MiB, t = 2, p = 1).
struct PasswordHashing {
    std::uint64_t ops_limit = 2;
    std::uint64_t mem_limit_kib = 19 * 1024;
};

/// Brute-force protection for sign-in (docs/identity.md, "Failed logins"). Failed passwords and
/// failed second-factor codes count alike.
struct LockoutSettings {
    /// Failures of one account (by email, known or not) that lock it.
    std::int64_t account_failures = 10;
    /// Failures from one client address that lock the address.
    std::int64_t address_failures = 100;
    /// Failures older than this stop counting.
    std::int64_t window_s = 15 * 60;
    /// How long a lock lasts; a password reset lifts an account's lock at once.
    std::int64_t duration_s = 15 * 60;
    /// The wait before answering after one recent failure; doubles with each further one.
    std::int64_t delay_base_ms = 250;
    /// The longest wait (also the wait while locked).
    std::int64_t delay_max_ms = 5000;
};

/// How the service behaves; plain values filled by the composition root from the config.
struct Settings {
    /// `iss` of access tokens, and the base URL of links in mail ("https://nimbus.example.com").
    std::string issuer = "http://127.0.0.1:8080";
    /// `aud` of access tokens; verification accepts only this audience.
    std::string audience = "nimbus";
    std::int64_t access_token_ttl_s = 15 * 60;
    /// How long a session (a refresh-token family) lives without being refreshed.
    std::int64_t refresh_token_ttl_s = 30 * 24 * 3600;
    std::int64_t verify_email_ttl_s = 24 * 3600;
    std::int64_t password_reset_ttl_s = 30 * 60;
    PasswordHashing hashing;
    /// The cracklib dictionary (path prefix); empty uses the system default
    /// (/var/cache/cracklib/cracklib_dict on Debian).
    std::string cracklib_dictionary;
    /// Verified access tokens remembered (by hash) so repeat requests skip the ES256 check.
    std::size_t token_cache_entries = 10'000;
    LockoutSettings lockout;
    /// The issuer name authenticator apps show beside the account.
    std::string totp_issuer = "Nimbus";
    /// How long the `mfa_token` of a login whose password was right stays usable.
    std::int64_t mfa_token_ttl_s = 5 * 60;
    /// How long a change-of-email link works.
    std::int64_t change_email_ttl_s = 24 * 3600;
    /// At most one verification mail per unverified account this often (`resend_verification`;
    /// the sign-up mail counts); 0 sends one for every request.
    std::int64_t verify_resend_interval_s = 60;
    /// A new signing key takes over this often; 0 never rotates.
    std::int64_t signing_key_rotation_days = 30;
    /// How often each node re-reads the signing keys (and rotates or retires them when due).
    std::int64_t signing_key_check_s = 60;
    /// How often each node reads the sessions, grants and tokens revoked on other nodes; their
    /// access tokens stop working there at most this much (plus a query) after the revocation.
    std::int64_t revocation_poll_ms = 250;
    /// How long the rows of ended (revoked or expired) sessions and OAuth grants and spent
    /// recovery codes are kept before the sweep deletes them.
    std::int64_t ended_session_retention_s = 30 * 24 * 3600;
};

/// A TOTP enrolment in progress: what the user's authenticator app needs.
struct TotpEnrollment {
    std::string secret;       ///< base32, for typing into the app by hand
    std::string otpauth_uri;  ///< otpauth://totp/<issuer>:<email>?secret=...
    std::string qr_svg;       ///< the URI as a QR code, an SVG document
};

/// The second factors of an account.
struct MfaStatus {
    bool totp_enabled = false;
    bool totp_pending = false;  ///< enrolment started, not yet confirmed with a code
    std::int64_t totp_enabled_at_ms = 0;
    std::int64_t recovery_codes_remaining = 0;
};

/// Proof of presence for turning a second factor off or replacing recovery codes: a current
/// TOTP code, a recovery code, or the password (exactly one non-empty).
struct Reauthentication {
    std::string code;
    std::string password;
};

/// An account as the API shows it.
struct User {
    std::string id;  ///< "usr_..."
    std::string email;
    std::string name;
    bool email_verified = false;
    bool is_operator = false;  ///< a platform operator (docs/identity.md)
    std::int64_t created_at_ms = 0;
    std::int64_t updated_at_ms = 0;
};

/// Where a request came from, recorded on sessions.
struct ClientInfo {
    std::string ip;
    std::string user_agent;
};

/// What login and refresh answer. When the account uses a second factor, login answers only
/// `mfa_token` (the other fields empty) and `login_mfa` completes it.
struct TokenPair {
    std::string access_token;
    std::int64_t expires_in_s = 0;
    std::string refresh_token;
    std::int64_t refresh_expires_in_s = 0;  ///< how long the session lasts unless refreshed
    std::string session_id;
    std::string mfa_token;  ///< set when a second factor is required; single use, short-lived
    std::int64_t mfa_expires_in_s = 0;
};

/// The verified claims of an access token.
struct AccessClaims {
    std::string user_id;     ///< `sub`
    std::string session_id;  ///< `sid`
    std::string org_id;      ///< `org`; empty when none
    std::vector<std::string> scopes;
    std::string token_id;  ///< `jti`
    /// `client_id` of tokens issued by the OpenID Connect provider; empty for first-party
    /// (console/API login) tokens. Such tokens have `sub` "usr_..." (a user's delegation) or
    /// "cli_..." (client credentials, with `org` set).
    std::string client_id;
    std::int64_t issued_at_s = 0;
    std::int64_t expires_at_s = 0;
};

/// A session as listed to its owner.
struct SessionInfo {
    std::string id;      ///< "ses_..."
    std::string device;  ///< a short label derived from the User-Agent ("Firefox on Linux")
    std::string user_agent;
    std::string ip;
    std::int64_t created_at_ms = 0;
    std::int64_t last_seen_at_ms = 0;
    bool current = false;
};

/// A request to create an account.
struct SignUp {
    std::string email;
    std::string password;
    std::string name;
};

/// Accounts, tokens and sessions. See the header comment for threading and errors.
/// Rows one sweep of expired identity data deleted, per kind (Service::sweep_expired).
struct SweepCounts {
    std::int64_t oauth_requests = 0;        ///< authorization requests past expiry
    std::int64_t oauth_codes = 0;           ///< authorization codes past expiry
    std::int64_t oauth_revoked_tokens = 0;  ///< revoked access-token ids past the token's expiry
    std::int64_t oauth_refresh_tokens = 0;  ///< refresh tokens of grants ended long enough ago
    std::int64_t invitations = 0;           ///< expired, accepted or revoked over a day ago
    std::int64_t links = 0;                 ///< verification, reset and change-email links
    std::int64_t refresh_tokens = 0;        ///< refresh tokens of sessions ended long enough ago
    std::int64_t login_failures = 0;        ///< lockout counters that no longer count or lock
    std::int64_t mfa_challenges = 0;        ///< second-step tokens past expiry
    std::int64_t sessions = 0;              ///< sessions ended longer ago than the retention
    std::int64_t oauth_grants = 0;          ///< grants ended longer ago than the retention
    std::int64_t recovery_codes = 0;        ///< recovery codes spent longer ago than the retention
    std::int64_t signing_keys = 0;          ///< retired keys no node publishes any more
    std::int64_t revocations = 0;           ///< revocations whose access tokens all expired
    /// Every row deleted.
    std::int64_t total() const {
        return oauth_requests + oauth_codes + oauth_revoked_tokens + oauth_refresh_tokens +
               invitations + links + refresh_tokens + login_failures + mfa_challenges + sessions +
               oauth_grants + recovery_codes + signing_keys + revocations;
    }
};

class Service {
public:
    /// All references must outlive the Service.
    /// Its mail (verification, reset, notices) goes through `mail_queue`, in the transaction of
    /// the change it reports; the caller runs the queue's worker.
    Service(db::Database& database, const Clock& clock, const crypto::MasterKey& master_key,
            mail::Queue& mail_queue, Settings settings);
    ~Service();
    Service(const Service&) = delete;
    Service& operator=(const Service&) = delete;

    /// Loads the signing keys, creating the first one (sealed with the master key) on a new
    /// installation. Call once before serving.
    Result<void> start();

    /// Creates an account and mails a verification link. When the email is taken, nothing is
    /// created and the owner is mailed instead; the caller cannot tell the two apart (both
    /// succeed), so sign-up does not reveal which emails have accounts.
    Result<void> sign_up(const SignUp& request);
    /// Marks the email of the link's account verified; the link works once, before it expires.
    Result<void> verify_email(const std::string& token);
    /// Mails a new verification link when an unverified account has this email, at most once
    /// per `Settings::verify_resend_interval_s` per account; the account's earlier unused
    /// verification links stop working. Succeeds alike for unknown, verified and rate-limited
    /// addresses, so the caller cannot learn which emails have accounts; fails only for a
    /// malformed email (`invalid_argument` at `/email`) or a database error. Blocks (mail).
    Result<void> resend_verification(const std::string& email, const ClientInfo& client);
    /// Checks the password and opens a session. Unknown emails and wrong passwords fail alike
    /// (`unauthenticated`) and take the same time.
    Result<TokenPair> login(const std::string& email, const std::string& password,
                            const ClientInfo& client);
    /// How long to wait before answering a login for `email` from `client`: it grows with the
    /// recent failures of the account and of the address (docs/identity.md). Callers wait on a
    /// timer, never on a thread. Cheap: one indexed read.
    Result<std::int64_t> login_delay_ms(const std::string& email, const ClientInfo& client);
    /// The same for the second step of a login.
    Result<std::int64_t> mfa_delay_ms(const std::string& mfa_token, const ClientInfo& client);
    /// Completes a login that answered `mfa_token` with a TOTP code (one step of clock drift
    /// either way; a code works once) or a recovery code (single use). Failures count toward
    /// the lockout and answer `unauthenticated` like a wrong password.
    Result<TokenPair> login_mfa(const std::string& mfa_token, const std::string& code,
                                const ClientInfo& client);
    /// Exchanges a refresh token for a new pair. A token works once: presenting a rotated one
    /// again revokes its whole session (a stolen token was used).
    Result<TokenPair> refresh(const std::string& refresh_token, const ClientInfo& client);
    /// refresh() for request handlers: the rotation joins the database's group commit
    /// (db::GroupCommit) and the coroutine resumes on its own executor once it is durable, so no
    /// thread waits for the commit; the access token is then signed on that executor. The
    /// arguments are copied before the coroutine first suspends. Pass named values, not
    /// temporaries (GCC 12 destroys temporaries of a co_await expression twice, PR 99576).
    boost::asio::awaitable<Result<TokenPair>> refresh_async(const std::string& refresh_token,
                                                            const ClientInfo& client);
    /// Ends the session of a refresh token; unknown tokens succeed too (logout is idempotent).
    Result<void> logout(const std::string& refresh_token);
    /// Mails a password-reset link when an account has this email; succeeds either way.
    Result<void> forgot_password(const std::string& email);
    /// Sets a new password with a reset link (single use, 30 minutes) and revokes every session.
    Result<void> reset_password(const std::string& token, const std::string& new_password);

    /// The account, or `not_found`.
    Result<User> get_user(const std::string& user_id);
    /// Renames the account.
    Result<User> update_name(const std::string& user_id, const std::string& name);
    /// Deletes the account and everything it owns here (sessions, links).
    Result<void> delete_user(const std::string& user_id);
    /// Changes the password after checking the current one; revokes every session but
    /// `keep_session_id`.
    Result<void> change_password(const std::string& user_id, const std::string& current_password,
                                 const std::string& new_password,
                                 const std::string& keep_session_id);
    /// Open sessions of the user, newest first; `current_session_id` is marked.
    Result<std::vector<SessionInfo>> list_sessions(const std::string& user_id,
                                                   const std::string& current_session_id);
    /// One page of them, newest first.
    Result<Page<SessionInfo>> list_sessions(const std::string& user_id,
                                            const std::string& current_session_id,
                                            const PageRequest& page);
    /// Revokes one of the user's sessions; `not_found` when it is not theirs or not open.
    Result<void> revoke_session(const std::string& user_id, const std::string& session_id);

    /// Starts (or restarts) TOTP enrolment: a new secret, sealed and stored as pending.
    /// `conflict` when TOTP is already on.
    Result<TotpEnrollment> start_totp(const std::string& user_id, const ClientInfo& client);
    /// Activates the pending TOTP secret with a code from the app; returns ten recovery codes,
    /// shown this once (stored hashed).
    Result<std::vector<std::string>> confirm_totp(const std::string& user_id,
                                                  const std::string& code,
                                                  const ClientInfo& client);
    /// Turns TOTP off and deletes the recovery codes, after checking `proof`.
    Result<void> disable_totp(const std::string& user_id, const Reauthentication& proof,
                              const ClientInfo& client);
    /// Replaces the recovery codes with ten new ones, after checking `proof`.
    Result<std::vector<std::string>> regenerate_recovery_codes(const std::string& user_id,
                                                               const Reauthentication& proof,
                                                               const ClientInfo& client);
    /// The account's second factors.
    Result<MfaStatus> mfa_status(const std::string& user_id);

    /// Checks the password and mails a link to `new_email` (and a notice to the current one);
    /// the email changes when the link is used (`verify_email`). A taken address is not
    /// revealed: the answer is the same and its owner is told instead.
    Result<void> request_email_change(const std::string& user_id, const std::string& new_email,
                                      const std::string& password, const ClientInfo& client);

    /// Rotates the signing key when due (a new key is published for
    /// `access_token_ttl_s + signing_key_check_s` before it signs), retires keys whose tokens
    /// have all expired, and re-reads the keys. The database decides, so nodes agree.
    Result<void> maintain_signing_keys();
    /// Runs maintain_signing_keys every `signing_key_check_s` on a thread of its own until the
    /// Service is destroyed.
    void start_key_maintenance();
    /// Deletes expired rows (docs/identity.md, "Sweeping expired rows"), at most `batch_rows`
    /// per transaction so the SQLite write lock is never held long. Safe on any thread and on
    /// several nodes at once; a failed batch stops the sweep and returns its error (what was
    /// deleted before stays deleted).
    Result<SweepCounts> sweep_expired(std::int64_t batch_rows = kSweepBatchRows);
    /// Runs sweep_expired every `interval_s` seconds on a thread of its own until the Service is
    /// destroyed, logging the counts when it deleted anything; 0 does nothing.
    void start_sweep(std::int64_t interval_s);
    /// Rows deleted per transaction by a sweep.
    static constexpr std::int64_t kSweepBatchRows = 500;

    /// Reads the revocations recorded since the last read (sessions, OAuth grants and access
    /// tokens, by any node) into this node's deny set, and forgets those whose access tokens
    /// have all expired. One indexed range query. start() does the first read.
    Result<void> poll_revocations();
    /// Call after committing a revocation on this node: it is read at once, so this node refuses
    /// the revoked access tokens from now on. A failure is logged; the periodic poll retries.
    void on_revoked();
    /// Runs poll_revocations every `revocation_poll_ms` on a thread of its own until the Service
    /// is destroyed; 0 does nothing (then only this node's own revocations are seen).
    void start_revocation_poll();
    /// Waits for writes still queued for the group commit and reports them to their callers;
    /// later refreshes answer `unavailable`. Call after the HTTP servers stopped and before they
    /// are destroyed: a waiting refresh resumes on its server's event loop.
    void finish_writes();

    /// Verifies an access token (signature with a known key, ES256 only, issuer, audience,
    /// expiry) and refuses one whose session, grant or `jti` is in the deny set
    /// (poll_revocations). Never touches the database; safe on I/O threads.
    Result<AccessClaims> verify_access_token(std::string_view token) const;
    /// The public signing keys as a JWK Set (`/.well-known/jwks.json`).
    std::string jwks_json() const;
    /// Signs `claims` as a JWT with the current signing key (ES256, `kid` in the header). For the
    /// OpenID Connect provider's ID and access tokens; the caller sets every claim.
    Result<std::string> sign_jwt(const boost::json::object& claims) const;
    /// Checks a JWT's signature with a known key and its `iss`, nothing else (expiry and
    /// audience are the caller's). Fails with `unauthenticated`. Never touches the database.
    Result<boost::json::object> verify_jwt(std::string_view token) const;

    /// The pipeline step that turns `Authorization: Bearer <jwt>` into
    /// `RequestContext::principal`; a request without credentials passes on anonymously, invalid
    /// credentials get 401. The step borrows this Service, which must outlive it.
    std::unique_ptr<http::Middleware> make_authenticate_step() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// Adds the identity routes (docs/identity.md lists them) to `router`. `service` must outlive it.
void add_routes(http::Router& router, Service& service);

// --- OAuth 2.0 / OpenID Connect provider (docs/identity.md, "OAuth 2.0 and OpenID Connect") ---

/// How the provider behaves; plain values from the composition root.
struct OidcSettings {
    /// The issuer: the same as Settings::issuer (tokens of both are verified by one Service).
    std::string issuer = "http://127.0.0.1:8080";
    /// `aud` of access tokens: Settings::audience, so /api/v1 accepts them.
    std::string audience = "nimbus";
    std::int64_t access_token_ttl_s = 15 * 60;
    std::int64_t id_token_ttl_s = 15 * 60;
    /// How long a grant (a refresh-token family) lives without being refreshed.
    std::int64_t refresh_token_ttl_s = 30 * 24 * 3600;
    /// Authorization codes are single use and live this long.
    std::int64_t code_ttl_s = 60;
    /// How long an authorization request waits for the user's decision.
    std::int64_t request_ttl_s = 10 * 60;
};

/// A registered OAuth client as the API shows it (never its secret).
struct OAuthClient {
    std::string id;      ///< "cli_...", the OAuth client_id
    std::string org_id;  ///< the organization that registered it
    std::string name;
    std::string type;  ///< "confidential" or "public"
    std::vector<std::string> redirect_uris;
    std::vector<std::string> post_logout_redirect_uris;
    std::vector<std::string>
        grant_types;  ///< authorization_code, refresh_token, client_credentials
    std::vector<std::string> scopes;
    std::string created_by;
    std::int64_t created_at_ms = 0;
    std::int64_t updated_at_ms = 0;
};

/// The fields of a registration; on update, unset fields stay as they are (type never changes).
struct OAuthClientInput {
    std::optional<std::string> name;
    std::optional<std::string> type;
    std::optional<std::vector<std::string>> redirect_uris;
    std::optional<std::vector<std::string>> post_logout_redirect_uris;
    std::optional<std::vector<std::string>> grant_types;
    std::optional<std::vector<std::string>> scopes;
};

/// Who acts, for checks and events.
struct OAuthActor {
    std::string id;  ///< "usr_..." (or "key_..."/"cli_...")
    std::string ip;
    /// What the actor holds in the organization; a client may get only scopes among them.
    std::vector<std::string> permissions;
};

/// A consent request as the console shows it.
struct ConsentRequest {
    std::string id;  ///< "oar_..."
    std::string client_id;
    std::string client_name;
    std::vector<std::string> scopes;
    std::string redirect_uri;
    /// The user already consented to these scopes for this client: the console may decide at
    /// once without showing the screen.
    bool consented = false;
    std::int64_t expires_at_ms = 0;
};

/// The answer of an OAuth endpoint that speaks RFC 6749 JSON (token, revoke, introspect,
/// userinfo): errors are `{error, error_description}`, not problem+json, because relying parties
/// expect that shape.
struct OAuthAnswer {
    int status = 200;
    boost::json::object body;
    /// Set for a 401: the WWW-Authenticate value to send.
    std::string challenge;
};

/// Decoded form or query parameters; `duplicates` names any given more than once (RFC 6749 3.1
/// forbids repeating a parameter).
struct OAuthParams {
    std::map<std::string, std::string, std::less<>> values;
    std::vector<std::string> duplicates;
    /// The value, or empty.
    const std::string& get(std::string_view name) const;
    bool has(std::string_view name) const { return values.contains(name); }
};
/// Parses `application/x-www-form-urlencoded` text (a body or a query); fails with
/// `invalid_argument` on malformed percent-encoding.
Result<OAuthParams> parse_oauth_params(std::string_view text);

/// The OAuth 2.0 authorization server and OpenID provider: client registration (per
/// organization), the authorization code flow with PKCE (S256), refresh tokens with reuse
/// detection, client credentials, revocation, introspection, UserInfo and RP-initiated logout.
/// Tokens are signed by `service` (the same keys and JWKS as first-party tokens).
///
/// Thread safety: every method may be called from any thread at once; each touches the database
/// (call through `RequestContext::run_database`). Errors are `invalid_argument` (field errors
/// "field: message"), `not_found`, `permission_denied`, `unavailable`.
class OidcProvider {
public:
    /// All references must outlive the provider.
    OidcProvider(db::Database& database, const Clock& clock, Service& service,
                 OidcSettings settings);
    ~OidcProvider();
    OidcProvider(const OidcProvider&) = delete;
    OidcProvider& operator=(const OidcProvider&) = delete;

    /// The discovery document (`/.well-known/openid-configuration`).
    boost::json::object discovery() const;

    /// Registers a client in `org_id`. A confidential client's secret is in the result once and
    /// stored only as a hash.
    Result<std::pair<OAuthClient, std::string>> create_client(const std::string& org_id,
                                                              const OAuthClientInput& input,
                                                              const OAuthActor& actor);
    /// Clients of the organization, oldest first.
    Result<std::vector<OAuthClient>> list_clients(const std::string& org_id);
    /// One page of them, oldest first.
    Result<Page<OAuthClient>> list_clients(const std::string& org_id, const PageRequest& page);
    /// One client of the organization; `not_found` for clients of other organizations.
    Result<OAuthClient> get_client(const std::string& org_id, const std::string& client_id);
    Result<OAuthClient> update_client(const std::string& org_id, const std::string& client_id,
                                      const OAuthClientInput& input, const OAuthActor& actor);
    /// Deletes the client with its codes, grants and refresh tokens.
    Result<void> delete_client(const std::string& org_id, const std::string& client_id,
                               const OAuthActor& actor);

    /// `GET /oauth2/authorize`. Returns where to send the browser: the consent page
    /// (`<issuer>/consent?request=<id>`) or, for errors after the client and redirect URI are
    /// known good, the redirect URI with `error`. Fails (`invalid_argument`) when the client or
    /// redirect URI is wrong: that error is shown, never redirected.
    Result<std::string> authorize(const OAuthParams& params);
    /// The pending request for the console; `not_found` when unknown, decided or expired.
    Result<ConsentRequest> consent_request(const std::string& request_id,
                                           const std::string& user_id);
    /// The user's decision; returns the redirect URI with `code` (or `error=access_denied`),
    /// `state` and `iss`. `session_id` is the user's console session (its start is `auth_time`).
    Result<std::string> decide(const std::string& request_id, const std::string& user_id,
                               const std::string& session_id, bool approve, const std::string& ip);
    /// `POST /oauth2/token`; `authorization` is the Authorization header (may be empty).
    OAuthAnswer token(const OAuthParams& form, std::string_view authorization,
                      const std::string& ip);
    /// `POST /oauth2/revoke` (RFC 7009).
    OAuthAnswer revoke(const OAuthParams& form, std::string_view authorization,
                       const std::string& ip);
    /// `POST /oauth2/introspect` (RFC 7662); confidential clients only.
    OAuthAnswer introspect(const OAuthParams& form, std::string_view authorization);
    /// `GET|POST /oauth2/userinfo` with the access token from the Authorization header.
    OAuthAnswer userinfo(std::string_view access_token);
    /// `GET /oauth2/logout` (RP-initiated logout): ends the grant named by `id_token_hint` and
    /// returns where to send the browser; `invalid_argument` (shown) for a bad hint or an
    /// unregistered `post_logout_redirect_uri`.
    Result<std::string> logout(const OAuthParams& params, const std::string& ip);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// Adds the provider's routes (`/.well-known/openid-configuration`, `/oauth2/...`,
/// `/api/v1/oauth2/requests/...`, `/api/v1/orgs/{org_id}/oauth-clients...`). Both must outlive
/// the router.
void add_oidc_routes(http::Router& router, OidcProvider& provider, const Service& service);

/// Organizations, members, invitations, roles, API keys and platform operators (docs/identity.md,
/// "Organizations and permissions"). Plain values filled by the composition root.
struct OrgSettings {
    /// Base URL of links in invitation mail (the identity issuer).
    std::string base_url = "http://127.0.0.1:8080";
    std::int64_t invitation_ttl_s = 7 * 24 * 3600;
    /// How long a membership (or an API key) looked up by the authenticate step is reused; a
    /// change made on another node is seen after at most this long.
    std::int64_t membership_cache_ttl_ms = 5000;
    std::size_t membership_cache_entries = 10'000;
    /// An API key's last use is written at most this often.
    std::int64_t api_key_touch_interval_s = 60;
    /// Accounts made operators at start when their email is verified.
    std::vector<std::string> operator_emails;
};

class OrgService;

/// The organization layer over accounts. Built by the composition root after the Service:
///
///     identity::Organizations orgs(database, clock, mail_queue, org_settings);
///     if (auto ok = orgs.start(); !ok) ...;            // applies operator_emails
///     identity::add_org_routes(router, orgs);
///     pipeline_settings.authenticate =
///         orgs.make_authenticate_step(identity.make_authenticate_step());
///
/// Thread safety: every method may be called from any thread at once.
class Organizations {
public:
    /// All references must outlive the object. Invitations are mailed through `mail_queue`.
    Organizations(db::Database& database, const Clock& clock, mail::Queue& mail_queue,
                  OrgSettings settings);
    ~Organizations();
    Organizations(const Organizations&) = delete;
    Organizations& operator=(const Organizations&) = delete;

    /// Marks the verified accounts among `operator_emails` as operators.
    Result<void> start();

    /// Wraps the accounts' authenticate step: accepts `Authorization: Bearer nmb_...` API keys
    /// and, on every route whose path has `{org_id}`, resolves the caller's permissions in that
    /// organization (a non-member, an unknown org or a key of another org gets 404). Borrows this
    /// object, which must outlive the step.
    std::unique_ptr<http::Middleware> make_authenticate_step(
        std::unique_ptr<http::Middleware> accounts_step);

    /// Grants or withdraws operator status (`nimbus operators add|remove`); `not_found` when no
    /// account has this email.
    Result<void> set_operator(const std::string& email, bool is_operator);
    /// Every operator account.
    Result<std::vector<User>> list_operators();

    /// The domain operations, for the routes.
    OrgService& service() { return *impl_; }

private:
    std::unique_ptr<OrgService> impl_;
};

/// Adds the organization routes (docs/identity.md lists them). `orgs` must outlive the router.
void add_org_routes(http::Router& router, Organizations& orgs);

}  // namespace nimbus::identity
