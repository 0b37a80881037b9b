// The second factor: TOTP enrolment and removal, recovery codes, and the second step of a login
// (docs/identity.md, "Two-factor sign-in").
#include <boost/json/array.hpp>

#include "core/ids.hpp"
#include "identity/lockout.hpp"
#include "identity/mfa_store.hpp"
#include "identity/service_impl.hpp"
#include "identity/store.hpp"
#include "identity/totp.hpp"

namespace nimbus::identity {
namespace {

constexpr std::string_view kTotpAssociatedPrefix = "identity_totp:";
constexpr std::size_t kRecoveryCodeCount = 10;
/// Crockford's base32: no I, L, O or U, so codes read aloud or copied by hand survive.
constexpr std::string_view kRecoveryAlphabet = "0123456789abcdefghjkmnpqrstvwxyz";
constexpr std::size_t kRecoveryCodeChars = 12;  // 60 bits
constexpr std::size_t kRecoveryGroupChars = 4;
/// Longest `code` accepted at all: a recovery code with separators and some spaces.
constexpr std::size_t kMaxCodeBytes = 32;
/// Wrong codes one mfa_token survives; each also counts toward the account's lockout.
constexpr std::int64_t kMaxChallengeAttempts = 5;
constexpr std::uint8_t kAlphabetMask = 0x1F;

std::string totp_associated_data(const std::string& user_id) {
    return std::string(kTotpAssociatedPrefix) + user_id;
}

std::string new_recovery_code() {
    crypto::Bytes random = crypto::random_bytes(kRecoveryCodeChars);
    std::string code;
    for (std::size_t i = 0; i < random.size(); ++i) {
        if (i > 0 && i % kRecoveryGroupChars == 0) code.push_back('-');
        // 32 symbols: the low five bits of a uniform byte are uniform.
        code.push_back(kRecoveryAlphabet[random[i] & kAlphabetMask]);
    }
    return code;
}

/// The canonical form of a typed recovery code (lower case, separators dropped, Crockford's
/// look-alikes mapped); nullopt when it cannot be one.
std::optional<std::string> normalize_recovery_code(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (c == '-' || c == ' ') continue;
        char lower = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (lower == 'i' || lower == 'l') lower = '1';
        if (lower == 'o') lower = '0';
        if (kRecoveryAlphabet.find(lower) == std::string_view::npos) return std::nullopt;
        out.push_back(lower);
    }
    if (out.size() != kRecoveryCodeChars) return std::nullopt;
    return out;
}

std::string recovery_code_hash(const std::string& normalized) {
    return crypto::sha256_hex(normalized);
}

/// Bad shapes are input errors (400) that change nothing; only well-formed codes can fail
/// verification and count toward the lockout.
Result<void> check_code_shape(std::string_view code, bool allow_recovery) {
    if (code.empty()) return field_error("code", "is required");
    if (code.size() > kMaxCodeBytes) return field_error("code", "is too long");
    if (totp::is_code(code)) return {};
    if (allow_recovery && normalize_recovery_code(code)) return {};
    return field_error("code", allow_recovery ? "must be a 6-digit code or a recovery code"
                                              : "must be a 6-digit code");
}

/// Ten fresh codes and their hashes.
std::pair<std::vector<std::string>, std::vector<std::string>> new_recovery_codes() {
    std::vector<std::string> codes;
    std::vector<std::string> hashes;
    for (std::size_t i = 0; i < kRecoveryCodeCount; ++i) {
        codes.push_back(new_recovery_code());
        hashes.push_back(recovery_code_hash(*normalize_recovery_code(codes.back())));
    }
    return {std::move(codes), std::move(hashes)};
}

}  // namespace

Result<bool> Service::Impl::mfa_enabled(const std::string& user_id) const {
    auto totp = store::find_totp(database, user_id);
    if (!totp) return totp.error();
    return *totp && (*totp)->confirmed;
}

Result<TokenPair> Service::Impl::begin_mfa(db::Transaction& tx, const std::string& user_id,
                                           std::int64_t now_ms) const {
    std::string token = new_secret();
    if (auto ok = store::insert_challenge(tx, crypto::sha256_hex(token), user_id, now_ms,
                                          now_ms + settings.mfa_token_ttl_s * kMsPerSecond);
        !ok) {
        return ok.error();
    }
    TokenPair pending;
    pending.mfa_token = std::move(token);
    pending.mfa_expires_in_s = settings.mfa_token_ttl_s;
    return pending;
}

Result<std::optional<std::string>> Service::Impl::check_second_factor(db::Transaction& tx,
                                                                      const std::string& user_id,
                                                                      const std::string& code,
                                                                      std::int64_t now_ms) const {
    if (totp::is_code(code)) {
        auto totp = store::find_totp(tx, user_id);
        if (!totp) return totp.error();
        if (!*totp || !(*totp)->confirmed) return std::optional<std::string>();
        auto secret = master_key.open((*totp)->secret_sealed, totp_associated_data(user_id));
        if (!secret) return Error::internal("a TOTP secret cannot be opened with this master key");
        auto step = totp::match(*secret, code, now_ms / kMsPerSecond);
        if (!step) return std::optional<std::string>();
        auto fresh = store::use_totp_step(tx, user_id, *step);
        if (!fresh) return fresh.error();
        if (!*fresh) return std::optional<std::string>();  // replayed within its window
        return std::optional<std::string>("totp");
    }
    auto normalized = normalize_recovery_code(code);
    if (!normalized) return std::optional<std::string>();
    auto used = store::use_recovery_code(tx, user_id, recovery_code_hash(*normalized), now_ms);
    if (!used) return used.error();
    if (!*used) return std::optional<std::string>();
    return std::optional<std::string>("recovery_code");
}

Result<TokenPair> Service::Impl::open_session(db::Transaction& tx, const std::string& user_id,
                                              const ClientInfo& client, std::int64_t now_ms) const {
    std::string session_id = new_id("ses", now_ms);
    if (auto ok = store::insert_session(
            tx, {session_id, user_id, sanitize(client.user_agent, kMaxUserAgentBytes),
                 sanitize(client.ip, kMaxIpBytes), now_ms,
                 now_ms + settings.refresh_token_ttl_s * kMsPerSecond});
        !ok) {
        return ok.error();
    }
    return issue_tokens(tx, user_id, session_id, now_ms);
}

Result<std::int64_t> Service::mfa_delay_ms(const std::string& mfa_token, const ClientInfo& client) {
    Impl& s = *impl_;
    std::int64_t now = s.clock.now_ms();
    auto challenge = store::find_challenge(s.database, crypto::sha256_hex(mfa_token), now);
    if (!challenge) return challenge.error();
    std::string account;
    if (*challenge) {
        auto user = store::find_user(s.database, (*challenge)->user_id);
        if (!user) return user.error();
        if (*user) account = lockout::account_subject((*user)->user.email);
    }
    auto state = lockout::read(s.database, account,
                               lockout::address_subject(sanitize(client.ip, kMaxIpBytes)), now,
                               s.settings.lockout);
    if (!state) return state.error();
    return lockout::delay_ms(*state, s.settings.lockout);
}

Result<TokenPair> Service::login_mfa(const std::string& mfa_token, const std::string& code,
                                     const ClientInfo& client) {
    Impl& s = *impl_;
    if (auto ok = check_code_shape(code, /*allow_recovery=*/true); !ok) return ok.error();
    Error refused = unauthenticated("the code is wrong or the MFA token has expired");
    std::int64_t now = s.clock.now_ms();
    std::string token_hash = crypto::sha256_hex(mfa_token);
    auto challenge = store::find_challenge(s.database, token_hash, now);
    if (!challenge) return challenge.error();
    if (!*challenge) return refused;
    const std::string user_id = (*challenge)->user_id;
    auto user = store::find_user(s.database, user_id);
    if (!user) return user.error();
    if (!*user) return refused;
    std::string ip = sanitize(client.ip, kMaxIpBytes);
    std::string account = lockout::account_subject((*user)->user.email);
    std::string address = lockout::address_subject(ip);
    auto locks = lockout::read(s.database, account, address, now, s.settings.lockout);
    if (!locks) return locks.error();

    Result<TokenPair> tokens = refused;
    auto committed = s.database.transact([&](db::Transaction& tx) -> Result<void> {
        std::optional<std::string> method;
        if (!locks->locked()) {
            auto checked = s.check_second_factor(tx, user_id, code, now);
            if (!checked) return checked.error();
            method = std::move(*checked);
        }
        if (!method) {
            if (auto ok = store::fail_challenge(tx, token_hash, kMaxChallengeAttempts, now); !ok) {
                return ok;
            }
            return s.record_login_failure(
                tx, {user_id, user_id, account, address, locks->locked() ? "locked" : "wrong_code",
                     ip, locks->locked(), now});
        }
        auto consumed = store::consume_challenge(tx, token_hash, now);
        if (!consumed) return consumed.error();
        // Another request spent the token meanwhile: undo this one's use of the code.
        if (!*consumed) return refused;
        tokens = s.open_session(tx, user_id, client, now);
        if (!tokens) return tokens.error();
        if (auto ok = lockout::clear(tx, account); !ok) return ok;
        return s.emit(tx, "login.succeeded", user_id,
                      {{"actor_id", user_id},
                       {"user_id", user_id},
                       {"target_id", user_id},
                       {"session_id", tokens->session_id},
                       {"mfa", *method},
                       {"ip", ip}});
    });
    if (!committed) return committed.error();
    return tokens;
}

Result<TotpEnrollment> Service::start_totp(const std::string& user_id, const ClientInfo& client) {
    Impl& s = *impl_;
    auto user = store::find_user(s.database, user_id);
    if (!user) return user.error();
    if (!*user) return Error::not_found("the account does not exist");
    std::string secret = totp::new_secret();
    std::int64_t now = s.clock.now_ms();
    bool stored = false;
    auto committed = s.database.transact([&](db::Transaction& tx) -> Result<void> {
        auto put = store::put_pending_totp(
            tx, user_id, s.master_key.seal(secret, totp_associated_data(user_id)), now);
        if (!put) return put.error();
        stored = *put;
        if (!stored) return {};
        return s.emit(tx, "mfa.enrollment_started", user_id,
                      {{"actor_id", user_id},
                       {"target_id", user_id},
                       {"method", "totp"},
                       {"ip", sanitize(client.ip, kMaxIpBytes)}});
    });
    if (!committed) return committed.error();
    if (!stored) return Error::conflict("TOTP is already on; turn it off before enrolling again");
    TotpEnrollment enrollment;
    enrollment.secret = totp::base32(secret);
    enrollment.otpauth_uri = totp::otpauth_uri(s.settings.totp_issuer, (*user)->user.email, secret);
    auto svg = totp::qr_svg(enrollment.otpauth_uri);
    if (!svg) return svg.error();
    enrollment.qr_svg = std::move(*svg);
    return enrollment;
}

Result<std::vector<std::string>> Service::confirm_totp(const std::string& user_id,
                                                       const std::string& code,
                                                       const ClientInfo& client) {
    Impl& s = *impl_;
    if (auto ok = check_code_shape(code, /*allow_recovery=*/false); !ok) return ok.error();
    auto user = store::find_user(s.database, user_id);
    if (!user) return user.error();
    if (!*user) return Error::not_found("the account does not exist");
    std::int64_t now = s.clock.now_ms();
    std::string ip = sanitize(client.ip, kMaxIpBytes);
    std::string account = lockout::account_subject((*user)->user.email);
    std::string address = lockout::address_subject(ip);
    auto locks = lockout::read(s.database, account, address, now, s.settings.lockout);
    if (!locks) return locks.error();
    // Named references rather than a structured binding: lambdas below capture them, which
    // clang (and so clang-tidy) refuses for bindings before C++20's P1091.
    auto generated = new_recovery_codes();
    const std::vector<std::string>& codes = generated.first;
    const std::vector<std::string>& hashes = generated.second;
    enum class Outcome { confirmed, nothing_pending, wrong_code } outcome = Outcome::wrong_code;
    auto committed = s.database.transact([&](db::Transaction& tx) -> Result<void> {
        auto totp = store::find_totp(tx, user_id);
        if (!totp) return totp.error();
        if (!*totp || (*totp)->confirmed) {
            outcome = Outcome::nothing_pending;
            return {};
        }
        std::optional<std::int64_t> step;
        if (!locks->locked()) {
            auto secret = s.master_key.open((*totp)->secret_sealed, totp_associated_data(user_id));
            if (!secret) return Error::internal("a TOTP secret cannot be opened");
            step = totp::match(*secret, code, now / kMsPerSecond);
        }
        if (!step) {
            return s.record_login_failure(
                tx, {user_id, user_id, account, address, locks->locked() ? "locked" : "wrong_code",
                     ip, locks->locked(), now});
        }
        auto confirmed = store::confirm_totp(tx, user_id, *step, now);
        if (!confirmed) return confirmed.error();
        if (!*confirmed) {
            outcome = Outcome::nothing_pending;
            return {};
        }
        if (auto ok = store::replace_recovery_codes(tx, user_id, hashes, now); !ok) return ok;
        outcome = Outcome::confirmed;
        return s.emit(
            tx, "mfa.enabled", user_id,
            {{"actor_id", user_id}, {"target_id", user_id}, {"method", "totp"}, {"ip", ip}});
    });
    if (!committed) return committed.error();
    if (outcome == Outcome::nothing_pending) {
        return Error::conflict("no TOTP enrolment is pending; start one first");
    }
    if (outcome == Outcome::wrong_code) return field_error("code", "is wrong");
    return codes;
}

namespace {

/// Exactly one of code and password.
Result<void> check_proof_shape(const Reauthentication& proof) {
    if (proof.code.empty() == proof.password.empty()) {
        return field_error("code", "give either a code or the password");
    }
    if (!proof.code.empty()) return check_code_shape(proof.code, /*allow_recovery=*/true);
    if (proof.password.size() > kMaxPasswordBytes) return field_error("password", "is wrong");
    return {};
}

}  // namespace

Result<void> Service::Impl::with_reauthentication(
    const std::string& user_id, const Reauthentication& proof, const ClientInfo& client,
    const std::function<Result<void>(db::Transaction&)>& change) const {
    if (auto ok = check_proof_shape(proof); !ok) return ok;
    auto user = store::find_user(database, user_id);
    if (!user) return user.error();
    if (!*user) return Error::not_found("the account does not exist");
    std::int64_t now = clock.now_ms();
    std::string ip = sanitize(client.ip, kMaxIpBytes);
    std::string account = lockout::account_subject((*user)->user.email);
    std::string address = lockout::address_subject(ip);
    auto locks = lockout::read(database, account, address, now, settings.lockout);
    if (!locks) return locks.error();
    // Argon2id outside the transaction, so the hash does not hold the database's write lock.
    bool password_ok = !proof.password.empty() && !locks->locked() &&
                       password_matches((*user)->password_hash, proof.password);
    bool proven = false;
    auto committed = database.transact([&](db::Transaction& tx) -> Result<void> {
        proven = password_ok;
        if (!proof.code.empty() && !locks->locked()) {
            auto method = check_second_factor(tx, user_id, proof.code, now);
            if (!method) return method.error();
            proven = method->has_value();
        }
        if (!proven) {
            return record_login_failure(
                tx, {user_id, user_id, account, address,
                     locks->locked() ? "locked"
                                     : (proof.code.empty() ? "wrong_password" : "wrong_code"),
                     ip, locks->locked(), now});
        }
        return change(tx);
    });
    if (!committed) return committed.error();
    if (!proven) return field_error(proof.code.empty() ? "password" : "code", "is wrong");
    return {};
}

Result<void> Service::disable_totp(const std::string& user_id, const Reauthentication& proof,
                                   const ClientInfo& client) {
    Impl& s = *impl_;
    auto enabled = s.mfa_enabled(user_id);
    if (!enabled) return enabled.error();
    if (!*enabled) {
        // A pending enrolment is simply dropped; there is nothing to prove for it.
        return s.database.transact([&](db::Transaction& tx) -> Result<void> {
            auto deleted = store::delete_totp(tx, user_id);
            if (!deleted) return deleted.error();
            if (!*deleted) return Error::conflict("TOTP is not on");
            return {};
        });
    }
    std::string ip = sanitize(client.ip, kMaxIpBytes);
    return s.with_reauthentication(
        user_id, proof, client, [&](db::Transaction& tx) -> Result<void> {
            auto deleted = store::delete_totp(tx, user_id);
            if (!deleted) return deleted.error();
            if (auto ok = store::delete_recovery_codes(tx, user_id); !ok) return ok;
            return s.emit(tx, "mfa.disabled", user_id,
                          {{"actor_id", user_id},
                           {"target_id", user_id},
                           {"method", "totp"},
                           {"proof", proof.code.empty() ? "password" : "code"},
                           {"ip", ip}});
        });
}

Result<std::vector<std::string>> Service::regenerate_recovery_codes(const std::string& user_id,
                                                                    const Reauthentication& proof,
                                                                    const ClientInfo& client) {
    Impl& s = *impl_;
    auto enabled = s.mfa_enabled(user_id);
    if (!enabled) return enabled.error();
    if (!*enabled) return Error::conflict("TOTP is not on; recovery codes come with it");
    std::string ip = sanitize(client.ip, kMaxIpBytes);
    // Named references rather than a structured binding: lambdas below capture them, which
    // clang (and so clang-tidy) refuses for bindings before C++20's P1091.
    auto generated = new_recovery_codes();
    const std::vector<std::string>& codes = generated.first;
    const std::vector<std::string>& hashes = generated.second;
    auto done =
        s.with_reauthentication(user_id, proof, client, [&](db::Transaction& tx) -> Result<void> {
            if (auto ok = store::replace_recovery_codes(tx, user_id, hashes, s.clock.now_ms());
                !ok) {
                return ok;
            }
            return s.emit(tx, "mfa.recovery_codes_regenerated", user_id,
                          {{"actor_id", user_id}, {"target_id", user_id}, {"ip", ip}});
        });
    if (!done) return done.error();
    return codes;
}

Result<MfaStatus> Service::mfa_status(const std::string& user_id) {
    Impl& s = *impl_;
    auto totp = store::find_totp(s.database, user_id);
    if (!totp) return totp.error();
    MfaStatus status;
    if (*totp) {
        status.totp_enabled = (*totp)->confirmed;
        status.totp_pending = !(*totp)->confirmed;
        status.totp_enabled_at_ms = (*totp)->confirmed_at_ms;
    }
    auto remaining = store::count_recovery_codes(s.database, user_id);
    if (!remaining) return remaining.error();
    status.recovery_codes_remaining = status.totp_enabled ? *remaining : 0;
    return status;
}

}  // namespace nimbus::identity
