#include "identity/identity.hpp"

#include <crack.h>
#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <unordered_map>

#include <fmt/format.h>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "core/ids.hpp"
#include "core/log.hpp"
#include "events/events.hpp"
#include "identity/jwt.hpp"
#include "identity/lockout.hpp"
#include "identity/paging.hpp"
#include "identity/service_impl.hpp"
#include "identity/store.hpp"
#include "identity/validate.hpp"

namespace nimbus::identity {
namespace {

/// "Firefox on Linux" from a User-Agent; good enough for a user to recognize a device.
std::string device_label(std::string_view user_agent) {
    auto has = [&](std::string_view needle) {
        return user_agent.find(needle) != std::string_view::npos;
    };
    std::string browser;
    if (has("Edg/")) {
        browser = "Edge";
    } else if (has("OPR/")) {
        browser = "Opera";
    } else if (has("Firefox/")) {
        browser = "Firefox";
    } else if (has("Chrome/")) {
        browser = "Chrome";
    } else if (has("Safari/")) {
        browser = "Safari";
    } else if (user_agent.starts_with("curl/")) {
        browser = "curl";
    }
    std::string system;
    if (has("Windows")) {
        system = "Windows";
    } else if (has("Android")) {
        system = "Android";
    } else if (has("iPhone") || has("iPad")) {
        system = "iOS";
    } else if (has("Mac OS X") || has("Macintosh")) {
        system = "macOS";
    } else if (has("Linux")) {
        system = "Linux";
    }
    if (browser.empty() && system.empty()) return "Unknown device";
    if (browser.empty()) return system;
    if (system.empty()) return browser;
    return browser + " on " + system;
}

std::vector<std::string> split(std::string_view text, char separator) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = text.find(separator, start);
        if (end == std::string_view::npos) end = text.size();
        if (end > start) parts.emplace_back(text.substr(start, end - start));
        start = end + 1;
    }
    return parts;
}

const boost::json::string* string_claim(const boost::json::object& claims, std::string_view name) {
    const auto* value = claims.if_contains(name);
    return value != nullptr && value->is_string() ? &value->as_string() : nullptr;
}

std::optional<std::int64_t> int_claim(const boost::json::object& claims, std::string_view name) {
    const auto* value = claims.if_contains(name);
    if (value == nullptr) return std::nullopt;
    if (value->is_int64()) return value->as_int64();
    if (value->is_uint64() && value->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
        return static_cast<std::int64_t>(value->as_uint64());
    }
    return std::nullopt;
}

/// Why a token whose session, grant or `jti` was revoked is refused.
constexpr const char* kRevokedToken = "the token has been revoked";

/// Answers 401 with a Bearer challenge naming the problem (RFC 6750).
http::Response invalid_token(const std::string& detail) {
    http::Response response =
        http::Response::make_problem(401, "invalid-token", "Unauthorized", detail);
    response.set_header("www-authenticate", "Bearer error=\"invalid_token\"");
    response.set_header("cache-control", "no-store");
    return response;
}

}  // namespace

Result<AccessClaims> Service::Impl::check_claims(const boost::json::object& claims) const {
    const auto* iss = string_claim(claims, "iss");
    if (iss == nullptr || *iss != settings.issuer) {
        return unauthenticated("the token's issuer is not accepted");
    }
    const auto* aud = claims.if_contains("aud");
    bool audience_ok = false;
    if (aud != nullptr && aud->is_string()) {
        audience_ok = aud->as_string() == settings.audience;
    } else if (aud != nullptr && aud->is_array()) {
        for (const auto& entry : aud->as_array()) {
            if (entry.is_string() && entry.as_string() == settings.audience) audience_ok = true;
        }
    }
    if (!audience_ok) return unauthenticated("the token is not meant for this audience");
    auto exp = int_claim(claims, "exp");
    auto iat = int_claim(claims, "iat");
    if (!exp || !iat) return unauthenticated("the token lacks exp or iat");
    std::int64_t now_s = clock.now_ms() / kMsPerSecond;
    if (now_s >= *exp + kClockLeewayS) return unauthenticated("the token has expired");
    if (*iat > now_s + kClockLeewayS) return unauthenticated("the token is not valid yet");
    const auto* sub = string_claim(claims, "sub");
    const auto* sid = string_claim(claims, "sid");
    // A user's token names its session; a client-credentials token (sub "cli_...") has none.
    bool user_token = sub != nullptr && is_valid_id(*sub, "usr") && sid != nullptr;
    bool client_token = sub != nullptr && is_valid_id(*sub, "cli");
    if (!user_token && !client_token) return unauthenticated("the token's subject is malformed");
    AccessClaims out;
    out.user_id = std::string(*sub);
    if (sid != nullptr) out.session_id = std::string(*sid);
    if (const auto* client = string_claim(claims, "client_id")) {
        out.client_id = std::string(*client);
    }
    if (client_token && out.client_id != out.user_id) {
        return unauthenticated("the token's subject is malformed");
    }
    if (const auto* org = string_claim(claims, "org")) out.org_id = std::string(*org);
    if (const auto* scope = string_claim(claims, "scope")) out.scopes = split(*scope, ' ');
    if (const auto* jti = string_claim(claims, "jti")) out.token_id = std::string(*jti);
    out.issued_at_s = *iat;
    out.expires_at_s = *exp;
    return out;
}

Service::Service(db::Database& database, const Clock& clock, const crypto::MasterKey& master_key,
                 mail::Queue& mail_queue, Settings settings)
    : impl_(std::make_unique<Impl>(database, clock, master_key, mail_queue, std::move(settings))) {
    // Idempotent and thread safe; it fails only when the OS has no entropy source.
    if (sodium_init() < 0) throw std::runtime_error("libsodium cannot be initialized");
}

Service::~Service() { impl_->stop_key_maintenance(); }

Result<void> Service::start() {
    Impl& s = *impl_;
    // Creates the first key on a new installation (nodes starting together agree through the
    // unique generation) and loads the keys; signing_keys.cpp.
    if (auto ok = maintain_signing_keys(); !ok) return ok;
    // Sessions and grants revoked within an access-token lifetime: their tokens are refused
    // from the first request (revocations.cpp).
    if (auto ok = s.poll_revocations(); !ok) return ok;
    auto dummy = s.hash_password(new_secret());
    if (!dummy) return dummy.error();
    std::unique_lock lock(s.keys_mutex);
    s.dummy_hash = std::move(*dummy);
    return {};
}

Result<void> Service::sign_up(const SignUp& request) {
    Impl& s = *impl_;
    auto email = normalize_email(request.email);
    if (!email) return email.error();
    auto name = normalize_name(request.name);
    if (!name) return name.error();
    if (auto ok = s.check_new_password(request.password, "password"); !ok) return ok;
    // Hash before looking at the email, so a taken address costs the same time.
    auto hash = s.hash_password(request.password);
    if (!hash) return hash.error();

    std::int64_t now = s.clock.now_ms();
    std::string token = new_secret();
    bool created = false;
    std::string user_id = new_id("usr", now);
    // Either mail is queued in the sign-up's transaction, so a taken address costs the same
    // database work as a new one and neither answer waits on the mail server.
    mail::Message welcome{
        *email, "Verify your email address",
        fmt::format("Welcome to Nimbus.\n\nOpen this link to verify your email address:\n"
                    "{}\n\nThe link works once and expires in {} hours. If you did not "
                    "sign up, ignore this message.\n",
                    s.link("verify-email", token), s.settings.verify_email_ttl_s / 3600)};
    mail::Message taken_notice{
        *email, "Sign-up attempt with your email address",
        fmt::format("Someone, perhaps you, tried to create a Nimbus account with this "
                    "address, which already has one.\n\nIf it was you, sign in, or reset "
                    "your password here:\n{}\n\nOtherwise you can ignore this message; "
                    "your account is unchanged.\n",
                    s.page("forgot-password"))};
    auto committed = s.database.transact([&](db::Transaction& tx) -> Result<void> {
        store::UserRecord record{{user_id, *email, *name, false, false, now, now}, *hash};
        auto inserted = store::insert_user(tx, record);
        if (!inserted) return inserted.error();
        created = *inserted;
        if (!created) {
            if (auto queued = s.enqueue(tx, taken_notice); !queued) return queued;
            return s.emit(tx, "signup.email_taken", "email:" + crypto::sha256_hex(*email), {});
        }
        if (auto ok = store::insert_link(
                tx, {crypto::sha256_hex(token), std::string(kVerifyEmail), user_id, *email, now,
                     now + s.settings.verify_email_ttl_s * kMsPerSecond});
            !ok) {
            return ok;
        }
        if (auto queued = s.enqueue(tx, welcome); !queued) return queued;
        return s.emit(tx, "user.created", user_id, {{"user_id", user_id}, {"email", *email}});
    });
    if (!committed) return committed.error();
    s.mail_queue.wake();
    return {};
}

Result<void> Service::verify_email(const std::string& token) {
    Impl& s = *impl_;
    std::int64_t now = s.clock.now_ms();
    Error invalid_link = field_error("token", "the link is invalid, expired or already used");
    bool verified = false;
    auto committed = s.database.transact([&](db::Transaction& tx) -> Result<void> {
        auto link =
            store::consume_link(tx, crypto::sha256_hex(token), std::string(kVerifyEmail), now);
        if (!link) return link.error();
        if (!*link) {
            // The same page confirms a change of email (email_change.cpp).
            auto changed = s.apply_email_change(tx, crypto::sha256_hex(token), now);
            if (!changed) return changed.error();
            verified = *changed;
            return {};
        }
        auto marked = store::mark_email_verified(tx, (*link)->user_id, (*link)->email, now);
        if (!marked) return marked.error();
        // The account's email changed since the link was sent: the link proves nothing now.
        if (!*marked) return {};
        verified = true;
        return s.emit(tx, "email.verified", (*link)->user_id,
                      {{"user_id", (*link)->user_id}, {"email", (*link)->email}});
    });
    if (!committed) return committed.error();
    if (!verified) return invalid_link;
    return {};
}

Result<std::int64_t> Service::login_delay_ms(const std::string& email, const ClientInfo& client) {
    Impl& s = *impl_;
    auto normalized = normalize_email(email);
    auto state = lockout::read(s.database, lockout::account_subject(normalized.value_or(email)),
                               lockout::address_subject(sanitize(client.ip, kMaxIpBytes)),
                               s.clock.now_ms(), s.settings.lockout);
    if (!state) return state.error();
    return lockout::delay_ms(*state, s.settings.lockout);
}

Result<TokenPair> Service::login(const std::string& email, const std::string& password,
                                 const ClientInfo& client) {
    Impl& s = *impl_;
    Error wrong = unauthenticated("the email or password is wrong");
    auto normalized = normalize_email(email);
    std::optional<store::UserRecord> user;
    if (normalized && password.size() <= kMaxPasswordBytes) {
        auto found = store::find_user_by_email(s.database, *normalized);
        if (!found) return found.error();
        user = std::move(*found);
    }
    std::int64_t now = s.clock.now_ms();
    std::string ip = sanitize(client.ip, kMaxIpBytes);
    std::string account = lockout::account_subject(normalized.value_or(email));
    std::string address = lockout::address_subject(ip);
    auto locks = lockout::read(s.database, account, address, now, s.settings.lockout);
    if (!locks) return locks.error();
    // Verify against a dummy hash for unknown emails, and for locked accounts too, so every
    // refusal takes the same time.
    bool matches = s.password_matches(user ? user->password_hash : s.dummy_hash,
                                      password.substr(0, kMaxPasswordBytes));
    if (locks->locked() || !user || !matches) {
        std::string subject =
            user ? user->user.id : "email:" + crypto::sha256_hex(normalized.value_or(email));
        std::string reason = locks->locked() ? "locked" : user ? "wrong_password" : "unknown_email";
        auto recorded = s.database.transact([&](db::Transaction& tx) -> Result<void> {
            return s.record_login_failure(tx, {user ? user->user.id : "", subject, account, address,
                                               reason, ip, locks->locked(), now});
        });
        if (!recorded) return recorded.error();
        return wrong;
    }
    std::optional<std::string> rehashed;
    if (s.needs_rehash(user->password_hash)) {
        auto hash = s.hash_password(password);
        if (!hash) return hash.error();
        rehashed = std::move(*hash);
    }
    auto second_factor = s.mfa_enabled(user->user.id);
    if (!second_factor) return second_factor.error();
    Result<TokenPair> tokens = Error::internal("not issued");
    auto committed = s.database.transact([&](db::Transaction& tx) -> Result<void> {
        if (rehashed) {
            if (auto ok = store::set_password_hash(tx, user->user.id, *rehashed, now); !ok) {
                return ok;
            }
        }
        if (*second_factor) {
            // The failure count stays until the second factor succeeds too, so knowing the
            // password does not reset the budget for guessing codes.
            tokens = s.begin_mfa(tx, user->user.id, now);
            if (!tokens) return tokens.error();
            return {};
        }
        tokens = s.open_session(tx, user->user.id, client, now);
        if (!tokens) return tokens.error();
        if (auto ok = lockout::clear(tx, account); !ok) return ok;
        return s.emit(tx, "login.succeeded", user->user.id,
                      {{"actor_id", user->user.id},
                       {"user_id", user->user.id},
                       {"target_id", user->user.id},
                       {"session_id", tokens->session_id},
                       {"ip", ip}});
    });
    if (!committed) return committed.error();
    return tokens;
}

// Service::refresh and refresh_async: refresh.cpp.

Result<void> Service::logout(const std::string& refresh_token) {
    Impl& s = *impl_;
    std::int64_t now = s.clock.now_ms();
    std::string ended;
    auto committed = s.database.transact([&](db::Transaction& tx) -> Result<void> {
        auto state = store::find_refresh_token(tx, crypto::sha256_hex(refresh_token));
        if (!state) return state.error();
        if (!*state) return {};
        auto revoked =
            store::revoke_session(tx, (*state)->user_id, (*state)->session_id, "logout", now);
        if (!revoked) return revoked.error();
        if (!*revoked) return {};
        ended = (*state)->session_id;
        return s.emit(tx, "session.revoked", (*state)->user_id,
                      {{"user_id", (*state)->user_id},
                       {"session_id", (*state)->session_id},
                       {"reason", "logout"}});
    });
    if (!committed) return committed;
    // Its access token stops here at once, on other nodes at their next poll.
    s.deny(ended);
    return {};
}

Result<void> Service::forgot_password(const std::string& email) {
    Impl& s = *impl_;
    auto normalized = normalize_email(email);
    if (!normalized) return normalized.error();
    auto user = store::find_user_by_email(s.database, *normalized);
    if (!user) return user.error();
    std::int64_t now = s.clock.now_ms();
    if (!*user) {
        // One committed write either way (here the event alone), so an unknown address costs
        // the same commit as a known one; nothing waits on the mail server in either case.
        return s.database.transact([&](db::Transaction& tx) -> Result<void> {
            return s.emit(tx, "password.reset_unknown_email",
                          "email:" + crypto::sha256_hex(*normalized), {});
        });
    }
    std::string token = new_secret();
    const std::string& user_id = (*user)->user.id;
    mail::Message reset_mail{
        *normalized, "Reset your password",
        fmt::format("Open this link to choose a new password:\n{}\n\nThe link works once and "
                    "expires in {} minutes. If you did not ask for it, ignore this message; "
                    "your password is unchanged.\n",
                    s.link("reset-password", token), s.settings.password_reset_ttl_s / 60)};
    auto committed = s.database.transact([&](db::Transaction& tx) -> Result<void> {
        if (auto ok = store::insert_link(
                tx, {crypto::sha256_hex(token), std::string(kResetPassword), user_id, *normalized,
                     now, now + s.settings.password_reset_ttl_s * kMsPerSecond});
            !ok) {
            return ok;
        }
        if (auto queued = s.enqueue(tx, reset_mail); !queued) return queued;
        return s.emit(tx, "password.reset_requested", user_id, {{"user_id", user_id}});
    });
    if (!committed) return committed.error();
    s.mail_queue.wake();
    return {};
}

Result<void> Service::reset_password(const std::string& token, const std::string& new_password) {
    Impl& s = *impl_;
    std::int64_t now = s.clock.now_ms();
    Error invalid_link = field_error("token", "the link is invalid, expired or already used");
    std::string token_hash = crypto::sha256_hex(token);
    // A cheap look first, so a forged link costs no hashing; the transaction re-checks.
    auto usable = store::find_usable_link(s.database, token_hash, std::string(kResetPassword), now);
    if (!usable) return usable.error();
    if (!*usable) return invalid_link;
    if (auto ok = s.check_new_password(new_password, "password"); !ok) return ok;
    auto hash = s.hash_password(new_password);
    if (!hash) return hash.error();
    bool reset = false;
    auto committed = s.database.transact([&](db::Transaction& tx) -> Result<void> {
        auto link = store::consume_link(tx, token_hash, std::string(kResetPassword), now);
        if (!link) return link.error();
        if (!*link) return {};
        const std::string& user_id = (*link)->user_id;
        if (auto ok = store::set_password_hash(tx, user_id, *hash, now); !ok) return ok;
        // Whoever can read the account's mail may sign in again at once.
        auto owner = store::find_user(tx, user_id);
        if (!owner) return owner.error();
        if (*owner) {
            if (auto ok = lockout::clear(tx, lockout::account_subject((*owner)->user.email)); !ok) {
                return ok;
            }
        }
        auto revoked = store::revoke_sessions(tx, user_id, "", "password_reset", now);
        if (!revoked) return revoked.error();
        reset = true;
        return s.emit(tx, "password.reset", user_id,
                      {{"user_id", user_id}, {"sessions_revoked", *revoked}});
    });
    if (!committed) return committed.error();
    if (!reset) return invalid_link;
    s.revoked_here();
    return {};
}

Result<User> Service::get_user(const std::string& user_id) {
    auto found = store::find_user(impl_->database, user_id);
    if (!found) return found.error();
    if (!*found) return Error::not_found("the account does not exist");
    return (*found)->user;
}

Result<User> Service::update_name(const std::string& user_id, const std::string& name) {
    Impl& s = *impl_;
    auto normalized = normalize_name(name);
    if (!normalized) return normalized.error();
    std::int64_t now = s.clock.now_ms();
    bool found = false;
    auto committed = s.database.transact([&](db::Transaction& tx) -> Result<void> {
        auto changed = store::set_name(tx, user_id, *normalized, now);
        if (!changed) return changed.error();
        found = *changed;
        if (!found) return {};
        return s.emit(tx, "user.updated", user_id, {{"user_id", user_id}, {"fields", "name"}});
    });
    if (!committed) return committed.error();
    if (!found) return Error::not_found("the account does not exist");
    return get_user(user_id);
}

namespace {

/// The refusal of an account deletion, naming each organization that would lose its last owner.
Error last_owner_of(const std::vector<std::string>& org_ids) {
    std::string names;
    for (const auto& org_id : org_ids) names += (names.empty() ? "" : ", ") + org_id;
    return Error::conflict(std::string(kLastOwnerOfOrgs) + names +
                           "; transfer ownership (POST /api/v1/orgs/{org_id}/transfer) or delete "
                           "the organization first");
}

}  // namespace

Result<void> Service::delete_user(const std::string& user_id) {
    Impl& s = *impl_;
    bool found = false;
    auto committed = s.database.transact([&](db::Transaction& tx) -> Result<void> {
        // An organization must keep an owner: refuse rather than leave one nobody can manage, or
        // delete it (and its keys and clients) behind its members' backs. The caller transfers
        // ownership or deletes the organization first; that holds for one with no other member too.
        auto sole_owned = store::lock_sole_owned_orgs(tx, user_id);
        if (!sole_owned) return sole_owned.error();
        if (!sole_owned->empty()) return last_owner_of(*sole_owned);
        // Sessions, refresh tokens and links go with the row (ON DELETE CASCADE); revoking
        // first leaves the reason on record for anything reading them in this transaction.
        std::int64_t now = s.clock.now_ms();
        auto revoked = store::revoke_sessions(tx, user_id, "", "account_deleted", now);
        if (!revoked) return revoked.error();
        // Its OAuth grants go with the row too; their access tokens must stop like the sessions'.
        if (auto recorded = tx.execute(
                "INSERT INTO identity_token_revocations (id, revoked_at_ms) SELECT id, CAST(? AS "
                "BIGINT) FROM identity_oauth_grants WHERE user_id = ? AND revoked_at_ms IS NULL "
                "ON CONFLICT (id) DO NOTHING",
                {now, user_id});
            !recorded) {
            return recorded.error();
        }
        auto deleted = store::delete_user(tx, user_id);
        if (!deleted) return deleted.error();
        found = *deleted;
        if (!found) return {};
        return s.emit(tx, "user.deleted", user_id, {{"user_id", user_id}});
    });
    if (!committed) return committed.error();
    if (!found) return Error::not_found("the account does not exist");
    s.revoked_here();
    return {};
}

Result<void> Service::change_password(const std::string& user_id,
                                      const std::string& current_password,
                                      const std::string& new_password,
                                      const std::string& keep_session_id) {
    Impl& s = *impl_;
    auto user = store::find_user(s.database, user_id);
    if (!user) return user.error();
    if (!*user) return Error::not_found("the account does not exist");
    if (current_password.size() > kMaxPasswordBytes ||
        !s.password_matches((*user)->password_hash, current_password)) {
        return field_error("current_password", "is wrong");
    }
    if (auto ok = s.check_new_password(new_password, "new_password"); !ok) return ok;
    auto hash = s.hash_password(new_password);
    if (!hash) return hash.error();
    std::int64_t now = s.clock.now_ms();
    auto committed = s.database.transact([&](db::Transaction& tx) -> Result<void> {
        if (auto ok = store::set_password_hash(tx, user_id, *hash, now); !ok) return ok;
        auto revoked =
            store::revoke_sessions(tx, user_id, keep_session_id, "password_changed", now);
        if (!revoked) return revoked.error();
        return s.emit(tx, "password.changed", user_id,
                      {{"user_id", user_id}, {"sessions_revoked", *revoked}});
    });
    if (!committed) return committed;
    s.revoked_here();
    return {};
}

Result<std::vector<SessionInfo>> Service::list_sessions(const std::string& user_id,
                                                        const std::string& current_session_id) {
    auto sessions = store::list_sessions(impl_->database, user_id, impl_->clock.now_ms());
    if (!sessions) return sessions.error();
    for (auto& session : *sessions) {
        session.device = device_label(session.user_agent);
        session.current = session.id == current_session_id;
    }
    return sessions;
}

Result<Page<SessionInfo>> Service::list_sessions(const std::string& user_id,
                                                 const std::string& current_session_id,
                                                 const PageRequest& page) {
    auto sessions = store::list_sessions(impl_->database, user_id, impl_->clock.now_ms(),
                                         page.after, page.limit + 1);
    if (!sessions) return sessions.error();
    for (auto& session : *sessions) {
        session.device = device_label(session.user_agent);
        session.current = session.id == current_session_id;
    }
    return finish_page(std::move(*sessions), page.limit,
                       [](const SessionInfo& session) { return session.id; });
}

Result<void> Service::revoke_session(const std::string& user_id, const std::string& session_id) {
    Impl& s = *impl_;
    bool found = false;
    auto committed = s.database.transact([&](db::Transaction& tx) -> Result<void> {
        auto revoked = store::revoke_session(tx, user_id, session_id, "revoked", s.clock.now_ms());
        if (!revoked) return revoked.error();
        found = *revoked;
        if (!found) return {};
        return s.emit(tx, "session.revoked", user_id,
                      {{"user_id", user_id}, {"session_id", session_id}, {"reason", "revoked"}});
    });
    if (!committed) return committed.error();
    if (!found) return Error::not_found("no open session with this id");
    s.deny(session_id);
    return {};
}

Result<AccessClaims> Service::verify_access_token(std::string_view token) const {
    const Impl& s = *impl_;
    std::string cache_key = crypto::sha256_hex(token);
    std::int64_t now_s = s.clock.now_ms() / kMsPerSecond;
    {
        std::lock_guard lock(s.cache_mutex);
        auto hit = s.token_cache.find(cache_key);
        if (hit != s.token_cache.end()) {
            if (now_s < hit->second.expires_at_s + kClockLeewayS) {
                // A cached verdict is only the signature's: revocation is checked every time.
                if (s.is_revoked(hit->second)) return unauthenticated(kRevokedToken);
                return hit->second;
            }
            s.token_cache.erase(hit);
        }
    }
    auto claims = [&]() -> Result<boost::json::object> {
        std::shared_lock lock(s.keys_mutex);
        return jwt::decode_and_verify(token, [&](std::string_view kid) -> const jwt::SigningKey* {
            auto key = s.keys.find(kid);
            return key == s.keys.end() ? nullptr : &key->second;
        });
    }();
    if (!claims) return claims.error();
    auto checked = s.check_claims(*claims);
    if (!checked) return checked.error();
    if (s.is_revoked(*checked)) return unauthenticated(kRevokedToken);
    std::lock_guard lock(s.cache_mutex);
    if (s.token_cache.size() >= s.settings.token_cache_entries) {
        std::erase_if(s.token_cache, [now_s](const auto& entry) {
            return now_s >= entry.second.expires_at_s + kClockLeewayS;
        });
        // Still full of live tokens: start over rather than track recency on every hit.
        if (s.token_cache.size() >= s.settings.token_cache_entries) s.token_cache.clear();
    }
    if (s.settings.token_cache_entries > 0) s.token_cache.emplace(cache_key, *checked);
    return checked;
}

std::string Service::jwks_json() const {
    std::shared_lock lock(impl_->keys_mutex);
    return impl_->jwks;
}

Result<std::string> Service::sign_jwt(const boost::json::object& claims) const {
    std::shared_lock lock(impl_->keys_mutex);
    auto key = impl_->keys.find(impl_->current_kid);
    // start() loaded at least one key before any request can arrive.
    if (key == impl_->keys.end()) return Error::internal("no signing key is loaded");
    return jwt::encode(claims, key->second, impl_->current_kid);
}

Result<boost::json::object> Service::verify_jwt(std::string_view token) const {
    const Impl& s = *impl_;
    auto claims = [&]() -> Result<boost::json::object> {
        std::shared_lock lock(s.keys_mutex);
        return jwt::decode_and_verify(token, [&](std::string_view kid) -> const jwt::SigningKey* {
            auto key = s.keys.find(kid);
            return key == s.keys.end() ? nullptr : &key->second;
        });
    }();
    if (!claims) return claims.error();
    const auto* iss = claims->if_contains("iss");
    if (iss == nullptr || !iss->is_string() || iss->as_string() != s.settings.issuer) {
        return Error{ErrorCode::unauthenticated, "the token's issuer is not accepted"};
    }
    return claims;
}

namespace {

/// Turns `Authorization: Bearer <jwt>` into the request's principal.
class AuthenticateStep final : public http::Middleware {
public:
    explicit AuthenticateStep(const Service& service) : service_(service) {}

    std::string_view name() const override { return "authenticate"; }

    std::optional<http::Response> on_request(http::Request& request,
                                             http::RequestContext& context) override {
        auto header = request.header("authorization");
        if (!header) return std::nullopt;
        constexpr std::string_view kScheme = "bearer ";
        std::string_view value = *header;
        bool bearer = value.size() > kScheme.size() &&
                      std::equal(kScheme.begin(), kScheme.end(), value.begin(), [](char a, char b) {
                          return a == std::tolower(static_cast<unsigned char>(b));
                      });
        if (!bearer) return invalid_token("Only Bearer credentials are accepted.");
        std::string_view token = value.substr(kScheme.size());
        while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
        auto claims = service_.verify_access_token(token);
        if (!claims) return invalid_token(claims.error().message);
        http::Principal principal;
        // A token issued through OAuth (client_id set) is a client acting, for a user or for
        // itself; it never gets a member's organization permissions (the org step answers 404
        // for principals that are not users outside their own org).
        principal.kind = claims->client_id.empty() ? http::Principal::Kind::user
                                                   : http::Principal::Kind::oauth_client;
        principal.id = claims->user_id;
        principal.org_id = claims->org_id;
        principal.permissions = claims->scopes;
        context.principal = std::move(principal);
        return std::nullopt;
    }

private:
    const Service& service_;
};

}  // namespace

std::unique_ptr<http::Middleware> Service::make_authenticate_step() const {
    return std::make_unique<AuthenticateStep>(*this);
}

}  // namespace nimbus::identity
