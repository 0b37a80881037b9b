#pragma once
// Rate limits, private to gateway/: the GCRA arithmetic, the bucket stores (in memory, Redis),
// the runtime overrides and the limiter that ties them together. The public surface is the
// rate-limit section of gateway.hpp; unit tests include this header to reach the parts.

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "core/result.hpp"
#include "gateway/gateway.hpp"

namespace nimbus::db {
class Database;
}

namespace nimbus::gateway {

constexpr std::int64_t kMicrosPerSecond = 1'000'000;
constexpr std::int64_t kMicrosPerMilli = 1'000;
constexpr std::int64_t kMicrosPerMinute = 60 * kMicrosPerSecond;

/// One budget in GCRA terms: a request costs `interval_us`; the bucket holds `burst` requests.
struct GcraParams {
    std::int64_t interval_us = 0;
    std::int64_t burst = 0;

    /// From requests per minute (at least 1) and a burst (0: the same as the rate).
    static GcraParams from(const RateLimit& limit);
};

/// The outcome of one request against one bucket.
struct GcraOutcome {
    bool allowed = false;
    std::int64_t tat_us = 0;  ///< the bucket's new theoretical arrival time (when allowed)
    std::int64_t remaining = 0;
    std::int64_t reset_us = 0;        ///< until the bucket is full again
    std::int64_t retry_after_us = 0;  ///< until one request would be allowed (when denied)
};

/// The generic cell rate algorithm: the state is one time, the "theoretical arrival time" (TAT)
/// of the next request at the sustained rate. A request is allowed when it does not arrive more
/// than `burst` intervals early. `tat_us` is the stored state, or `now_us` for a new bucket; a
/// bucket whose TAT is not after now is full, so it is indistinguishable from no bucket at all.
GcraOutcome gcra(std::int64_t tat_us, std::int64_t now_us, const GcraParams& params);

/// A request's charge to one bucket.
struct BucketCheck {
    std::string key;  ///< "user:usr_...", "org:org_...", "ip:203.0.113.9", ...
    GcraParams params;
};

/// The answer for a request charged to one or more buckets, all or nothing: when any bucket
/// refuses, none is charged. The numbers are those of the most restrictive bucket.
struct Decision {
    bool allowed = false;
    std::int64_t limit = 0;
    std::int64_t remaining = 0;
    std::int64_t reset_us = 0;
    std::int64_t retry_after_us = 0;
};

/// Where bucket states live. Implementations are thread safe.
class Buckets {
public:
    virtual ~Buckets() = default;
    /// Charges the request to every bucket, or to none. Fails with `unavailable` when the store
    /// cannot be reached.
    virtual Result<Decision> check(std::span<const BucketCheck> checks) = 0;
    /// True when check() blocks on the network (so it must run off the I/O threads).
    virtual bool blocking() const = 0;
};

/// Buckets in process memory: shards chosen by a 64-bit hash of the key, each a hash map behind
/// its own mutex. Only the hash is kept, not the key (about 3e-8 chance that any two of a
/// million keys share a budget). Bounded: full buckets are swept on access every
/// `kSweepIntervalUs`, and at `max_entries` a new bucket first sweeps its shard and then evicts
/// the entry nearest to full among `kEvictionSample` (approximate, like Redis's LRU, so that a
/// flood of new keys costs O(1) each).
class MemoryBuckets final : public Buckets {
public:
    static constexpr std::size_t kDefaultShards = 64;
    static constexpr std::int64_t kSweepIntervalUs = 10 * kMicrosPerSecond;
    static constexpr std::size_t kEvictionSample = 8;

    MemoryBuckets(const Clock& clock, std::size_t max_entries,
                  std::size_t shard_count = kDefaultShards);
    ~MemoryBuckets() override;

    Result<Decision> check(std::span<const BucketCheck> checks) override;
    bool blocking() const override { return false; }

    /// Buckets held now (full ones not yet swept included).
    std::size_t size() const;
    /// Buckets dropped to stay under the cap while still holding state.
    std::uint64_t evictions() const { return evictions_.load(std::memory_order_relaxed); }

private:
    struct Shard;
    void store(Shard& shard, std::uint64_t hash, std::int64_t tat_us, std::int64_t now_us);
    static void sweep(Shard& shard, std::int64_t now_us);

    const Clock& clock_;
    std::size_t per_shard_cap_;
    std::vector<std::unique_ptr<Shard>> shards_;
    std::atomic<std::uint64_t> evictions_{0};
};

/// Where to find Redis; parsed from "redis://[:password@]host[:port][/db]".
struct RedisAddress {
    std::string host;
    int port = 0;
    std::string password;
    int database = 0;
};
Result<RedisAddress> parse_redis_url(std::string_view url);

/// Refusals a shared store gave, remembered on this node until their retry time, so that a
/// caller hammering past its budget costs no round trip. Keyed by the request's whole set of
/// buckets with their budgets (a changed budget is another key). Refusing locally is exact:
/// a bucket's state (its TAT) only moves forward — allowed requests push it later, refused ones
/// leave it — so a set that Redis refused at time t with retry R refuses again at every time
/// before t + R, whichever node charges it meanwhile. The time is taken before the command
/// is sent (Redis answered later), and rounded down to milliseconds, so the local refusal ends
/// no later than Redis's would. Thread safe; bounded by `max_entries`.
class RefusalCache {
public:
    static constexpr std::size_t kDefaultMaxEntries = 100'000;

    explicit RefusalCache(std::size_t max_entries = kDefaultMaxEntries)
        : max_entries_(max_entries) {}

    /// The key of a request's set of buckets and budgets.
    static std::string signature(std::span<const BucketCheck> checks);
    /// The refusal in force for `signature` at `now_ms`, its reset and retry times shortened by
    /// what has passed; nullopt when there is none (or it ended, which forgets it).
    std::optional<Decision> find(const std::string& signature, std::int64_t now_ms);
    /// Remembers a refusal answered to a command sent at `sent_ms`. Refusals shorter than a
    /// millisecond are not kept; when full, expired entries are dropped, and if none had
    /// expired this refusal is not kept (the next request asks Redis).
    void remember(std::string signature, const Decision& refusal, std::int64_t sent_ms);
    std::size_t size() const;

private:
    struct Entry {
        Decision refusal;
        std::int64_t sent_ms = 0;
        std::int64_t until_ms = 0;
    };
    std::size_t max_entries_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, Entry> entries_;
};

/// Buckets in Redis, shared by every node: one Lua script checks and charges all of a request's
/// buckets atomically, with Redis's own clock (so nodes with skewed clocks agree). hiredis is
/// blocking, so check() is called on the worker pool; connections are pooled. After a failure,
/// calls fail at once for `kReconnectBackoffMs` instead of each waiting for a timeout. A set of
/// buckets Redis refused is refused locally until its retry time (RefusalCache), without a
/// round trip.
class RedisBuckets final : public Buckets {
public:
    static constexpr std::int64_t kReconnectBackoffMs = 1'000;

    RedisBuckets(RedisAddress address, std::chrono::milliseconds timeout, const Clock& clock);
    ~RedisBuckets() override;

    Result<Decision> check(std::span<const BucketCheck> checks) override;
    bool blocking() const override { return true; }

    /// Checks answered by Redis (round trips made, failed ones included).
    std::uint64_t round_trips() const { return round_trips_.load(std::memory_order_relaxed); }
    /// Checks refused from the local cache, each a round trip saved.
    std::uint64_t local_refusals() const { return local_refusals_.load(std::memory_order_relaxed); }

private:
    struct Connection;
    Result<std::unique_ptr<Connection>> acquire();
    void release(std::unique_ptr<Connection> connection);

    RedisAddress address_;
    std::chrono::milliseconds timeout_;
    const Clock& clock_;
    std::mutex mutex_;
    std::vector<std::unique_ptr<Connection>> idle_;
    std::atomic<std::int64_t> retry_after_ms_{0};
    RefusalCache refusals_;
    std::atomic<std::uint64_t> round_trips_{0};
    std::atomic<std::uint64_t> local_refusals_{0};
};

/// Per-key budgets set at runtime (admin API), read on every request.
class OverrideTable {
public:
    std::optional<RateLimit> find(const std::string& key) const;
    void set(const std::string& key, const RateLimit& limit);
    void erase(const std::string& key);
    /// Replaces every entry at once (a reload from the database).
    void replace_all(std::unordered_map<std::string, RateLimit> limits);
    bool empty() const { return count_.load(std::memory_order_relaxed) == 0; }

private:
    mutable std::shared_mutex mutex_;
    std::unordered_map<std::string, RateLimit> limits_;
    std::atomic<std::size_t> count_{0};
};

/// Checks an override key: "user:", "key:", "client:", "org:", "ip:" or "plan:" and an id of
/// letters, digits and `_.:-`, at most kMaxOverrideKeyLength characters.
Result<void> validate_override_key(std::string_view key);
constexpr std::size_t kMaxOverrideKeyLength = 200;
/// The largest budget accepted anywhere (requests per minute or burst).
constexpr std::int64_t kMaxRequestsPerMinute = 1'000'000'000;

/// The limiter: which buckets a request is charged to, with which budget, and the answer.
class RateLimiter {
public:
    RateLimiter(RateLimitSettings settings, std::unique_ptr<Buckets> buckets,
                metrics::Registry* registry);

    /// The buckets a request is charged to: the principal's (or the client address's when
    /// anonymous), on a route with its own budget a bucket for that route instead, and the
    /// org's when the principal acts in one.
    std::vector<BucketCheck> buckets_for(const http::Request& request,
                                         const http::RequestContext& context) const;
    /// Turns the store's answer into the step's: nullopt to pass (context.rate_limit set), or
    /// a 429 (or 503 when the store failed and the mode is closed). Counts and logs.
    std::optional<http::Response> answer(const Result<Decision>& decision,
                                         http::RequestContext& context);

    /// With a shared store (Redis, several nodes), overrides another node stored reach this one
    /// by a reload every `kOverrideRefreshMs`: true for the one caller that should do it now.
    bool override_refresh_due(std::int64_t now_ms);
    /// Re-reads the stored overrides into the table.
    Result<void> reload_overrides(db::Database& database);
    static constexpr std::int64_t kOverrideRefreshMs = 10'000;

    Buckets& buckets() { return *buckets_; }
    OverrideTable& overrides() { return overrides_; }
    const RateLimitSettings& settings() const { return settings_; }

    /// The budget of a principal's own bucket before per-key overrides: its plan's (a runtime
    /// "plan:<name>" override first, then the configured plan), else the general one.
    RateLimit plan_budget(const http::Principal& principal) const;

private:
    RateLimit budget_for(const std::string& key, const RateLimit& fallback) const;
    void log_backend_error(const Error& error);

    RateLimitSettings settings_;
    std::unique_ptr<Buckets> buckets_;
    OverrideTable overrides_;
    std::unordered_map<std::string, RateLimit> route_limits_;  // "GET /api/v1/x" -> budget
    metrics::Counter* allowed_ = nullptr;
    metrics::Counter* limited_ = nullptr;
    metrics::Counter* failed_open_ = nullptr;
    metrics::Counter* failed_closed_ = nullptr;
    metrics::Counter* backend_errors_ = nullptr;
    std::mutex log_mutex_;
    std::chrono::steady_clock::time_point last_error_log_{};
    std::uint64_t suppressed_errors_ = 0;
    std::atomic<std::int64_t> next_override_refresh_ms_{0};
};

}  // namespace nimbus::gateway
