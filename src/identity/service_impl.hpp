#pragma once
// The state and helpers behind identity::Service, shared by the .cpp files that implement its
// parts (service.cpp: accounts and tokens; lockout.cpp, mfa.cpp, email_change.cpp,
// signing_keys.cpp). Private to identity/.

#include <pthread.h>
#include <sched.h>

#include <cstddef>  // crack.h uses size_t without including it

#include <crack.h>
#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "core/log.hpp"
#include "events/events.hpp"
#include "identity/identity.hpp"
#include "identity/jwt.hpp"
#include "identity/permissions.hpp"
#include "identity/store.hpp"
#include "identity/validate.hpp"

namespace nimbus::identity {

inline constexpr std::string_view kEventSource = "/nimbus/identity";
inline constexpr std::string_view kVerifyEmail = "verify_email";
inline constexpr std::string_view kResetPassword = "reset_password";
inline constexpr std::string_view kKeyAssociatedPrefix = "identity_signing_key:";
inline constexpr std::size_t kSecretBytes = 32;   // 256-bit refresh and link tokens
inline constexpr std::size_t kTokenIdBytes = 16;  // jti
inline constexpr std::size_t kBytesPerKib = 1024;
inline constexpr std::int64_t kMsPerSecond = 1000;
inline constexpr std::int64_t kClockLeewayS = 30;  // tolerated clock skew between nodes
inline constexpr std::size_t kMaxUserAgentBytes = 256;
inline constexpr std::size_t kMaxIpBytes = 64;
inline constexpr std::size_t kMaxHashingSlots = 256;  // cores used for hashing at most
// cracklib copies into fixed buffers; a prefix this long already decides its verdict.
inline constexpr std::size_t kCracklibMaxBytes = 128;
inline constexpr char kFirstPrintable = 0x20;
inline constexpr char kLastPrintable = 0x7E;

inline std::string new_secret(std::size_t bytes = kSecretBytes) {
    crypto::Bytes random = crypto::random_bytes(bytes);
    return crypto::base64url_encode(
        std::string_view(reinterpret_cast<const char*>(random.data()), random.size()));
}

inline Error unauthenticated(std::string message) {
    return {ErrorCode::unauthenticated, std::move(message)};
}

/// Printable ASCII only and bounded, so stored client details are safe to show and to log.
inline std::string sanitize(std::string_view text, std::size_t max_bytes) {
    std::string out;
    for (char c : text.substr(0, max_bytes)) {
        out.push_back(c >= kFirstPrintable && c <= kLastPrintable ? c : '?');
    }
    return out;
}

/// The cores password hashes run on: one hash per core at a time, each pinned to its core while
/// it runs, so two hashes never share a core while another idles and a hash does not wander
/// between cores mid-run (it fills 19 MiB; the core's caches and TLB stay warm for it).
class HashingCores {
public:
    HashingCores() {
        cpu_set_t allowed;
        CPU_ZERO(&allowed);
        if (sched_getaffinity(0, sizeof allowed, &allowed) == 0) {
            for (int cpu = 0; cpu < CPU_SETSIZE && free_.size() < kMaxHashingSlots; ++cpu) {
                if (CPU_ISSET(cpu, &allowed)) free_.push_back(cpu);
            }
        }
        if (free_.empty()) free_.push_back(kUnknownCore);  // one hash at a time, unpinned
    }

    /// Waits for a free core and takes it.
    int acquire() {
        std::unique_lock lock(mutex_);
        freed_.wait(lock, [&] { return !free_.empty(); });
        int cpu = free_.back();
        free_.pop_back();
        return cpu;
    }

    void release(int cpu) {
        {
            std::lock_guard lock(mutex_);
            free_.push_back(cpu);
        }
        freed_.notify_one();
    }

    static constexpr int kUnknownCore = -1;

private:
    std::mutex mutex_;
    std::condition_variable freed_;
    std::vector<int> free_;
};

/// Holds one of Service::Impl::hashing_cores, with the calling thread pinned to it, while it
/// lives; the thread's own affinity comes back after.
class HashingSlot {
public:
    explicit HashingSlot(HashingCores& cores) : cores_(cores), cpu_(cores.acquire()) {
        if (cpu_ == HashingCores::kUnknownCore) return;
        if (pthread_getaffinity_np(pthread_self(), sizeof previous_, &previous_) != 0) return;
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu_, &one);
        pinned_ = pthread_setaffinity_np(pthread_self(), sizeof one, &one) == 0;
    }
    ~HashingSlot() {
        if (pinned_) pthread_setaffinity_np(pthread_self(), sizeof previous_, &previous_);
        cores_.release(cpu_);
    }
    HashingSlot(const HashingSlot&) = delete;
    HashingSlot& operator=(const HashingSlot&) = delete;

private:
    HashingCores& cores_;
    int cpu_;
    cpu_set_t previous_{};
    bool pinned_ = false;
};

struct Service::Impl {
    db::Database& database;
    const Clock& clock;
    const crypto::MasterKey& master_key;
    mail::Queue& mail_queue;
    Settings settings;

    mutable std::shared_mutex keys_mutex;
    std::map<std::string, jwt::SigningKey, std::less<>> keys;
    std::string current_kid;
    std::string jwks;
    /// A hash of a random password at the current parameters: logins for unknown emails verify
    /// against it so they take as long as logins for known ones.
    std::string dummy_hash;
    /// At most one Argon2id run per core at a time, pinned to it. Each run is CPU- and
    /// memory-bound (19 MiB mapped, filled and unmapped by libsodium): more at once than cores
    /// only adds context switches, cache misses and contention on the process's memory map. The
    /// worker pool keeps more threads than cores, so while one sign-in waits for its commit,
    /// another hashes and no core idles (docs/benchmarks.md, "Sign-in").
    mutable HashingCores hashing_cores;

    mutable std::mutex cache_mutex;
    mutable std::unordered_map<std::string, AccessClaims> token_cache;

    /// The deny set (revocations.cpp): ids of sessions and grants (`sid`) and of access tokens
    /// (`jti`) revoked within the access-token lifetime, each with the time (ms, this node's
    /// clock) after which no token it could stop is still valid.
    mutable std::shared_mutex revoked_mutex;
    mutable std::unordered_map<std::string, std::int64_t> revoked_ids;
    /// Whether revoked_ids has any entry: lets the common case skip the lock.
    mutable std::atomic<bool> any_revoked{false};
    /// One poll at a time; guards polled_at_ms.
    mutable std::mutex poll_mutex;
    /// This node's clock when the last successful poll began; 0 before the first.
    mutable std::int64_t polled_at_ms = 0;

    /// Stops the key-maintenance and sweep threads (start_key_maintenance, start_sweep); both
    /// are joined first thing in ~Service so they never see a half-destroyed Impl.
    std::mutex maintenance_mutex;
    std::condition_variable maintenance_wake;
    bool maintenance_stop = false;
    std::thread maintenance_thread;
    std::thread sweep_thread;
    std::thread revocation_thread;

    /// Refresh rotations share commits through it (refresh.cpp). Declared after everything its
    /// committer thread uses, so it is destroyed (and its thread joined) first.
    std::unique_ptr<db::GroupCommit> group_commit;

    Impl(db::Database& database_in, const Clock& clock_in, const crypto::MasterKey& key_in,
         mail::Queue& mail_queue_in, Settings settings_in)
        : database(database_in),
          clock(clock_in),
          master_key(key_in),
          mail_queue(mail_queue_in),
          settings(std::move(settings_in)),
          group_commit(std::make_unique<db::GroupCommit>(database_in)) {}

    // --- passwords ---

    Result<std::string> hash_password(std::string_view password) const {
        std::string hash(crypto_pwhash_STRBYTES, '\0');
        int failed = 0;
        {
            HashingSlot slot(hashing_cores);
            failed = crypto_pwhash_str(hash.data(), password.data(), password.size(),
                                       settings.hashing.ops_limit,
                                       settings.hashing.mem_limit_kib * kBytesPerKib);
        }
        if (failed != 0) return Error::unavailable("out of memory while hashing a password");
        hash.resize(std::strlen(hash.c_str()));
        return hash;
    }

    bool password_matches(const std::string& hash, std::string_view password) const {
        HashingSlot slot(hashing_cores);
        return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
    }

    bool needs_rehash(const std::string& hash) const {
        return crypto_pwhash_str_needs_rehash(hash.c_str(), settings.hashing.ops_limit,
                                              settings.hashing.mem_limit_kib * kBytesPerKib) != 0;
    }

    /// Length rules plus cracklib's dictionary and pattern checks.
    Result<void> check_new_password(std::string_view password, std::string_view field) const {
        if (auto ok = check_password_length(password, field); !ok) return ok;
        // FascistCheck keeps static state in the dictionary reader; one caller at a time.
        static std::mutex cracklib_mutex;
        std::string prefix(password.substr(0, kCracklibMaxBytes));
        std::string dictionary = settings.cracklib_dictionary.empty()
                                     ? std::string(GetDefaultCracklibDict())
                                     : settings.cracklib_dictionary;
        const char* verdict = nullptr;
        {
            std::lock_guard lock(cracklib_mutex);
            verdict = FascistCheck(prefix.c_str(), dictionary.c_str());
        }
        if (verdict != nullptr) return field_error(field, fmt::format("is too weak: {}", verdict));
        return {};
    }

    // --- events, mail ---

    Result<void> emit(db::Transaction& tx, std::string_view type, const std::string& subject,
                      const boost::json::object& data) const {
        auto id = events::emit(tx, clock,
                               {.type = "nimbus.identity." + std::string(type),
                                .source = std::string(kEventSource),
                                .subject = subject,
                                .data_json = boost::json::serialize(data)});
        if (!id) return id.error();
        return {};
    }

    /// Queues a mail in the transaction of the change it reports (mail::Queue): it exists
    /// exactly when the link it carries does, survives a crash once committed, and is sent by
    /// the queue's worker, so no answer waits on the mail server (whose speed would otherwise
    /// tell apart addresses that have an account). Call mail_queue.wake() after the commit.
    Result<void> enqueue(db::Transaction& tx, const mail::Message& message) const {
        return mail_queue.enqueue(tx, message);
    }

    /// A console page under the issuer URL.
    std::string page(std::string_view name) const {
        std::string base = settings.issuer;
        while (base.ends_with('/')) base.pop_back();
        return fmt::format("{}/{}", base, name);
    }

    std::string link(std::string_view name, const std::string& token) const {
        return fmt::format("{}?token={}", page(name), token);
    }

    // --- tokens ---

    /// `operator_scopes`: the account is a platform operator; its token also carries the
    /// platform permissions (docs/identity.md, "Platform operators").
    Result<std::string> sign_access_token(const std::string& user_id, const std::string& session_id,
                                          std::int64_t now_ms, bool operator_scopes = false) const {
        std::int64_t now_s = now_ms / kMsPerSecond;
        std::string scope(kSelfPermission);
        if (operator_scopes) {
            for (std::string_view permission : operator_permissions()) {
                scope += " ";
                scope += permission;
            }
        }
        boost::json::object claims{
            {"iss", settings.issuer},
            {"aud", settings.audience},
            {"sub", user_id},
            {"sid", session_id},
            {"iat", now_s},
            {"exp", now_s + settings.access_token_ttl_s},
            {"jti", new_secret(kTokenIdBytes)},
            {"scope", scope},
        };
        std::shared_lock lock(keys_mutex);
        auto key = keys.find(current_kid);
        // start() loaded at least one key before any request can arrive.
        if (key == keys.end()) return Error::internal("no signing key is loaded");
        return jwt::encode(claims, key->second, current_kid);
    }

    /// Adds a refresh token to the session and signs an access token for it.
    Result<TokenPair> issue_tokens(db::Transaction& tx, const std::string& user_id,
                                   const std::string& session_id, std::int64_t now_ms) const {
        std::string refresh_token = new_secret();
        if (auto ok = store::insert_refresh_token(tx, crypto::sha256_hex(refresh_token), session_id,
                                                  now_ms);
            !ok) {
            return ok.error();
        }
        auto flag = tx.query("SELECT is_operator FROM identity_users WHERE id = ?", {user_id});
        if (!flag) return flag.error();
        bool is_operator = !flag->empty() && flag->front().get_int(0) != 0;
        auto access = sign_access_token(user_id, session_id, now_ms, is_operator);
        if (!access) return access.error();
        TokenPair pair;
        pair.access_token = std::move(*access);
        pair.expires_in_s = settings.access_token_ttl_s;
        pair.refresh_token = std::move(refresh_token);
        pair.refresh_expires_in_s = settings.refresh_token_ttl_s;
        pair.session_id = session_id;
        return pair;
    }

    // --- refresh-token rotation (refresh.cpp) ---

    /// One refresh in flight: what it presents and what its transaction found.
    struct Rotation;
    std::shared_ptr<Rotation> make_rotation(const std::string& refresh_token,
                                            const ClientInfo& client) const;
    /// Spends the token and adds its successor, or revokes the family on reuse; in the group's
    /// transaction.
    Result<void> rotate(Rotation& rotation, db::Transaction& tx) const;
    /// The answer once the rotation's commit is known; signs the access token.
    Result<TokenPair> finish_rotation(const Rotation& rotation,
                                      const Result<void>& committed) const;

    // --- brute force (lockout.cpp) ---

    /// A failed login or second-factor code, as recorded.
    struct LoginFailure {
        std::string user_id;        ///< empty when the email has no account
        std::string event_subject;  ///< the user id, or "email:<sha256>"
        std::string account;        ///< lockout::account_subject
        std::string address;        ///< lockout::address_subject
        std::string reason;         ///< "wrong_password", "unknown_email", "wrong_code", "locked"
        std::string ip;
        bool already_locked = false;  ///< then nothing more is counted
        std::int64_t now_ms = 0;
    };
    /// Counts the failure (unless already locked), emits `login.failed`, and `login.locked` for
    /// each subject this failure locked. In the caller's transaction.
    Result<void> record_login_failure(db::Transaction& tx, const LoginFailure& failure) const;

    // --- second factor (mfa.cpp) ---

    /// Whether the user has confirmed TOTP.
    Result<bool> mfa_enabled(const std::string& user_id) const;
    /// Opens a login challenge for a user whose password was right: answers the `mfa_token`.
    Result<TokenPair> begin_mfa(db::Transaction& tx, const std::string& user_id,
                                std::int64_t now_ms) const;
    /// Checks a TOTP code (marking its step used) or spends a recovery code; the method that
    /// matched ("totp", "recovery_code") or nullopt. In the caller's transaction, so a code is
    /// used exactly once even under concurrent requests.
    Result<std::optional<std::string>> check_second_factor(db::Transaction& tx,
                                                           const std::string& user_id,
                                                           const std::string& code,
                                                           std::int64_t now_ms) const;
    /// Checks `proof` (a second-factor code, or the password) for a change to the second factor
    /// and runs `change` in the same transaction when it holds. A wrong proof counts toward the
    /// lockout like a failed login and answers a field error. Hashes the password: call from the
    /// worker pool.
    Result<void> with_reauthentication(
        const std::string& user_id, const Reauthentication& proof, const ClientInfo& client,
        const std::function<Result<void>(db::Transaction&)>& change) const;
    /// Opens a session with its first token pair.
    Result<TokenPair> open_session(db::Transaction& tx, const std::string& user_id,
                                   const ClientInfo& client, std::int64_t now_ms) const;

    // --- change of email (email_change.cpp) ---

    /// Applies the change of email whose link has this hash, if the link is usable and the new
    /// address is still free; true when it did. In the caller's transaction.
    Result<bool> apply_email_change(db::Transaction& tx, const std::string& token_hash,
                                    std::int64_t now_ms) const;

    // --- signing keys (signing_keys.cpp) ---

    /// Reads the unretired keys, opens them with the master key and makes the newest active one
    /// the signer; publishes all of them.
    Result<void> load_signing_keys();
    /// Stops and joins the maintenance and sweep threads, if any. Called first by ~Service.
    void stop_key_maintenance();

    /// Checks iss, aud, exp, iat and the subject of verified claims.
    Result<AccessClaims> check_claims(const boost::json::object& claims) const;

    // --- revocation (revocations.cpp) ---

    /// Whether the token's session or grant (`sid`) or the token itself (`jti`) was revoked.
    /// In memory, no database read: safe on I/O threads.
    bool is_revoked(const AccessClaims& claims) const;
    /// Adds an id this node just revoked (committed) to the deny set, without a database read.
    void deny(const std::string& id) const;
    /// Service::poll_revocations.
    Result<void> poll_revocations() const;
    /// Polls after a revocation this node committed; logs a failure.
    void revoked_here() const;
};

}  // namespace nimbus::identity
