// Rate limits: GCRA per principal, org and client address; buckets in memory or in Redis.
#include <hiredis/hiredis.h>

#include <algorithm>
#include <charconv>
#include <functional>
#include <limits>

#include <fmt/format.h>

#include "core/log.hpp"
#include "gateway/rate_limit_internal.hpp"

namespace nimbus::gateway {
namespace {

constexpr std::string_view kRedisKeyPrefix = "nimbus:rl:";
constexpr int kDefaultRedisPort = 6379;
constexpr std::int64_t kMaxPort = 65535;
constexpr auto kErrorLogInterval = std::chrono::seconds(10);

/// GCRA over all of a request's buckets with Redis's clock, all or nothing. KEYS are the
/// buckets; ARGV holds interval (µs) and burst per bucket. Returns {allowed, limit, remaining,
/// reset_us, retry_after_us} of the most restrictive bucket. Numbers are Lua doubles: Unix µs
/// (~1.8e15) stay exact below 2^53; %d writes them without exponent.
constexpr std::string_view kGcraScript = R"lua(
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local tats = {}
local limit, remaining, reset = 0, -1, 0
for i = 1, #KEYS do
  local interval = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i])) or now
  if tat < now then tat = now end
  local new_tat = tat + interval
  local allow_at = new_tat - burst * interval
  if allow_at > now then
    return {0, burst, 0, tat - now, allow_at - now}
  end
  tats[i] = new_tat
  local left = math.floor((now - allow_at) / interval)
  if remaining < 0 or left < remaining then
    limit, remaining, reset = burst, left, new_tat - now
  end
end
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], string.format('%d', tats[i]), 'PX',
             string.format('%d', math.ceil((tats[i] - now) / 1000) + 1))
end
return {1, limit, remaining, reset, 0}
)lua";

std::int64_t ceil_seconds(std::int64_t micros) {
    return micros <= 0 ? 0 : (micros + kMicrosPerSecond - 1) / kMicrosPerSecond;
}

/// Keeps the most restrictive of two allowed outcomes (fewest requests left).
void merge_allowed(Decision& decision, const GcraOutcome& outcome, std::int64_t burst, bool first) {
    if (first || outcome.remaining < decision.remaining) {
        decision.limit = burst;
        decision.remaining = outcome.remaining;
        decision.reset_us = outcome.reset_us;
    }
}

/// splitmix64's finalizer: spreads std::hash (identity-like for short inputs on some
/// platforms) over all bits, since the low bits pick the shard and the map bucket.
std::uint64_t mix(std::uint64_t value) {
    constexpr std::uint64_t kMul1 = 0xbf58476d1ce4e5b9ULL;
    constexpr std::uint64_t kMul2 = 0x94d049bb133111ebULL;
    constexpr unsigned kShift1 = 30;
    constexpr unsigned kShift2 = 27;
    constexpr unsigned kShift3 = 31;
    value = (value ^ (value >> kShift1)) * kMul1;
    value = (value ^ (value >> kShift2)) * kMul2;
    return value ^ (value >> kShift3);
}

std::optional<std::int64_t> parse_int(std::string_view text) {
    std::int64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

std::string route_key(http::Method method, std::string_view path_template) {
    return fmt::format("{} {}", http::to_string(method), path_template);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// GCRA

GcraParams GcraParams::from(const RateLimit& limit) {
    std::int64_t per_minute = std::max<std::int64_t>(limit.requests_per_minute, 1);
    std::int64_t burst = limit.burst > 0 ? limit.burst : per_minute;
    return {.interval_us = std::max<std::int64_t>(kMicrosPerMinute / per_minute, 1),
            .burst = burst};
}

GcraOutcome gcra(std::int64_t tat_us, std::int64_t now_us, const GcraParams& params) {
    std::int64_t tat = std::max(tat_us, now_us);
    std::int64_t new_tat = tat + params.interval_us;
    // The earliest time this request could come without exceeding the burst.
    std::int64_t allow_at = new_tat - params.burst * params.interval_us;
    if (allow_at > now_us) {
        return {.allowed = false,
                .tat_us = tat_us,
                .remaining = 0,
                .reset_us = tat - now_us,
                .retry_after_us = allow_at - now_us};
    }
    return {.allowed = true,
            .tat_us = new_tat,
            .remaining = (now_us - allow_at) / params.interval_us,
            .reset_us = new_tat - now_us,
            .retry_after_us = 0};
}

// ---------------------------------------------------------------------------------------------
// In memory

struct alignas(64) MemoryBuckets::Shard {  // one cache line each: shards are locked in parallel
    std::mutex mutex;
    std::unordered_map<std::uint64_t, std::int64_t> tats;  // key hash -> TAT (µs)
    std::int64_t last_sweep_us = 0;
};

MemoryBuckets::MemoryBuckets(const Clock& clock, std::size_t max_entries, std::size_t shard_count)
    : clock_(clock),
      per_shard_cap_(std::max<std::size_t>((max_entries + shard_count - 1) / shard_count, 1)) {
    shards_.reserve(shard_count);
    for (std::size_t idx = 0; idx < shard_count; ++idx) {
        shards_.push_back(std::make_unique<Shard>());
    }
}

MemoryBuckets::~MemoryBuckets() = default;

std::size_t MemoryBuckets::size() const {
    std::size_t total = 0;
    for (const auto& shard : shards_) {
        std::lock_guard lock(shard->mutex);
        total += shard->tats.size();
    }
    return total;
}

void MemoryBuckets::sweep(Shard& shard, std::int64_t now_us) {
    std::erase_if(shard.tats, [now_us](const auto& entry) { return entry.second <= now_us; });
    shard.last_sweep_us = now_us;
}

void MemoryBuckets::store(Shard& shard, std::uint64_t hash, std::int64_t tat_us,
                          std::int64_t now_us) {
    auto found = shard.tats.find(hash);
    if (found != shard.tats.end()) {
        found->second = tat_us;
        return;
    }
    if (shard.tats.size() >= per_shard_cap_) {
        sweep(shard, now_us);
        if (shard.tats.size() >= per_shard_cap_) {
            // Still full of live buckets (a flood of new keys): drop the one nearest to full
            // among a few, so one insert stays O(1) however large the shard.
            auto victim = shard.tats.begin();
            auto candidate = victim;
            for (std::size_t seen = 0; seen < kEvictionSample && candidate != shard.tats.end();
                 ++seen, ++candidate) {
                if (candidate->second < victim->second) victim = candidate;
            }
            shard.tats.erase(victim);
            evictions_.fetch_add(1, std::memory_order_relaxed);
        }
    }
    shard.tats.emplace(hash, tat_us);
}

Result<Decision> MemoryBuckets::check(std::span<const BucketCheck> checks) {
    constexpr std::size_t kMaxBuckets = 4;  // principal or route, org: never more than two
    if (checks.empty()) return Decision{.allowed = true};
    if (checks.size() > kMaxBuckets) return Error::internal("too many buckets for one request");
    std::int64_t now_us = clock_.now_ms() * kMicrosPerMilli;

    std::array<std::uint64_t, kMaxBuckets> hashes{};
    std::array<std::size_t, kMaxBuckets> shard_idx{};
    for (std::size_t idx = 0; idx < checks.size(); ++idx) {
        hashes[idx] = mix(std::hash<std::string_view>()(checks[idx].key));
        shard_idx[idx] = hashes[idx] % shards_.size();
    }
    // Lock each distinct shard once, in ascending order, so two requests can never deadlock.
    std::array<std::size_t, kMaxBuckets> order = shard_idx;
    std::sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(checks.size()));
    auto order_end =
        std::unique(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(checks.size()));
    std::array<std::unique_lock<std::mutex>, kMaxBuckets> locks;
    std::size_t lock_count = 0;
    for (auto it = order.begin(); it != order_end; ++it) {
        Shard& shard = *shards_[*it];
        locks[lock_count++] = std::unique_lock(shard.mutex);
        if (now_us - shard.last_sweep_us >= kSweepIntervalUs) sweep(shard, now_us);
    }

    Decision decision{.allowed = true};
    std::array<GcraOutcome, kMaxBuckets> outcomes{};
    for (std::size_t idx = 0; idx < checks.size(); ++idx) {
        Shard& shard = *shards_[shard_idx[idx]];
        auto found = shard.tats.find(hashes[idx]);
        std::int64_t tat = found == shard.tats.end() ? now_us : found->second;
        outcomes[idx] = gcra(tat, now_us, checks[idx].params);
        if (!outcomes[idx].allowed) {
            return Decision{.allowed = false,
                            .limit = checks[idx].params.burst,
                            .remaining = 0,
                            .reset_us = outcomes[idx].reset_us,
                            .retry_after_us = outcomes[idx].retry_after_us};
        }
        merge_allowed(decision, outcomes[idx], checks[idx].params.burst, idx == 0);
    }
    for (std::size_t idx = 0; idx < checks.size(); ++idx) {
        store(*shards_[shard_idx[idx]], hashes[idx], outcomes[idx].tat_us, now_us);
    }
    return decision;
}

// ---------------------------------------------------------------------------------------------
// Redis

Result<RedisAddress> parse_redis_url(std::string_view url) {
    constexpr std::string_view kScheme = "redis://";
    // The message never repeats the URL: it may hold a password.
    const Error malformed =
        Error::invalid("not a Redis URL: use redis://[:password@]host[:port][/db]");
    if (!url.starts_with(kScheme)) return malformed;
    std::string_view rest = url.substr(kScheme.size());
    RedisAddress address{.port = kDefaultRedisPort};
    if (std::size_t at = rest.rfind('@'); at != std::string_view::npos) {
        std::string_view user_info = rest.substr(0, at);
        std::size_t colon = user_info.find(':');
        address.password =
            std::string(colon == std::string_view::npos ? user_info : user_info.substr(colon + 1));
        rest = rest.substr(at + 1);
    }
    if (std::size_t slash = rest.find('/'); slash != std::string_view::npos) {
        auto database = parse_int(rest.substr(slash + 1));
        if (!database || *database < 0 || *database > std::numeric_limits<int>::max())
            return malformed;
        address.database = static_cast<int>(*database);
        rest = rest.substr(0, slash);
    }
    std::string_view port_text;
    if (rest.starts_with('[')) {  // [v6]:port
        std::size_t close = rest.find(']');
        if (close == std::string_view::npos) return malformed;
        std::string_view after = rest.substr(close + 1);
        if (!after.empty()) {
            if (!after.starts_with(':')) return malformed;
            port_text = after.substr(1);
        }
        rest = rest.substr(1, close - 1);
    } else if (std::size_t colon = rest.rfind(':'); colon != std::string_view::npos) {
        port_text = rest.substr(colon + 1);
        rest = rest.substr(0, colon);
    }
    if (!port_text.empty()) {
        auto port = parse_int(port_text);
        if (!port || *port < 1 || *port > kMaxPort) return malformed;
        address.port = static_cast<int>(*port);
    }
    if (rest.empty()) return malformed;
    address.host = std::string(rest);
    return address;
}

struct RedisBuckets::Connection {
    redisContext* context = nullptr;
    std::string script_sha;
    ~Connection() {
        if (context != nullptr) redisFree(context);
    }
};

namespace {

struct ReplyDeleter {
    void operator()(redisReply* reply) const {
        if (reply != nullptr) freeReplyObject(reply);
    }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

Reply command(redisContext* context, const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lengths;
    argv.reserve(args.size());
    lengths.reserve(args.size());
    for (const auto& arg : args) {
        argv.push_back(arg.data());
        lengths.push_back(arg.size());
    }
    return Reply(static_cast<redisReply*>(
        redisCommandArgv(context, static_cast<int>(args.size()), argv.data(), lengths.data())));
}

Error redis_error(redisContext* context, const redisReply* reply) {
    if (reply != nullptr && reply->type == REDIS_REPLY_ERROR) {
        return Error::unavailable(
            fmt::format("redis: {}", std::string_view(reply->str, reply->len)));
    }
    return Error::unavailable(fmt::format(
        "redis: {}", context != nullptr && context->err != 0 ? context->errstr : "no reply"));
}

timeval to_timeval(std::chrono::milliseconds timeout) {
    constexpr std::int64_t kMicrosPerMs = 1000;
    auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout);
    return {.tv_sec = static_cast<time_t>(seconds.count()),
            .tv_usec = static_cast<suseconds_t>((timeout - seconds).count() * kMicrosPerMs)};
}

}  // namespace

RedisBuckets::RedisBuckets(RedisAddress address, std::chrono::milliseconds timeout,
                           const Clock& clock)
    : address_(std::move(address)), timeout_(timeout), clock_(clock) {}

RedisBuckets::~RedisBuckets() = default;

Result<std::unique_ptr<RedisBuckets::Connection>> RedisBuckets::acquire() {
    {
        std::lock_guard lock(mutex_);
        if (!idle_.empty()) {
            auto connection = std::move(idle_.back());
            idle_.pop_back();
            return connection;
        }
    }
    if (clock_.now_ms() < retry_after_ms_.load(std::memory_order_relaxed)) {
        return Error::unavailable("redis: unreachable, waiting before the next attempt");
    }
    auto connection = std::make_unique<Connection>();
    timeval timeout = to_timeval(timeout_);
    connection->context = redisConnectWithTimeout(address_.host.c_str(), address_.port, timeout);
    auto failed = [&](Error error) -> Result<std::unique_ptr<Connection>> {
        retry_after_ms_.store(clock_.now_ms() + kReconnectBackoffMs, std::memory_order_relaxed);
        return error;
    };
    if (connection->context == nullptr || connection->context->err != 0) {
        return failed(redis_error(connection->context, nullptr));
    }
    redisSetTimeout(connection->context, timeout);
    if (!address_.password.empty()) {
        Reply reply = command(connection->context, {"AUTH", address_.password});
        if (!reply || reply->type == REDIS_REPLY_ERROR)
            return failed(redis_error(connection->context, reply.get()));
    }
    if (address_.database != 0) {
        Reply reply = command(connection->context, {"SELECT", std::to_string(address_.database)});
        if (!reply || reply->type == REDIS_REPLY_ERROR)
            return failed(redis_error(connection->context, reply.get()));
    }
    Reply loaded = command(connection->context, {"SCRIPT", "LOAD", std::string(kGcraScript)});
    if (!loaded || loaded->type != REDIS_REPLY_STRING)
        return failed(redis_error(connection->context, loaded.get()));
    connection->script_sha.assign(loaded->str, loaded->len);
    return connection;
}

void RedisBuckets::release(std::unique_ptr<Connection> connection) {
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(connection));
}

std::string RefusalCache::signature(std::span<const BucketCheck> checks) {
    std::string key;
    for (const auto& check : checks) {
        // A newline cannot occur in a bucket key (ids and addresses), so the parts stay apart.
        key += fmt::format("{}\n{}\n{}\n", check.key, check.params.interval_us, check.params.burst);
    }
    return key;
}

std::optional<Decision> RefusalCache::find(const std::string& signature, std::int64_t now_ms) {
    std::lock_guard lock(mutex_);
    auto found = entries_.find(signature);
    if (found == entries_.end()) return std::nullopt;
    const Entry& entry = found->second;
    if (now_ms >= entry.until_ms) {
        entries_.erase(found);
        return std::nullopt;
    }
    std::int64_t elapsed_us = (now_ms - entry.sent_ms) * kMicrosPerMilli;
    Decision refusal = entry.refusal;
    refusal.reset_us = std::max<std::int64_t>(0, refusal.reset_us - elapsed_us);
    refusal.retry_after_us = (entry.until_ms - now_ms) * kMicrosPerMilli;
    return refusal;
}

void RefusalCache::remember(std::string signature, const Decision& refusal, std::int64_t sent_ms) {
    std::int64_t until_ms = sent_ms + refusal.retry_after_us / kMicrosPerMilli;
    if (refusal.allowed || until_ms <= sent_ms) return;
    std::lock_guard lock(mutex_);
    if (entries_.size() >= max_entries_ && !entries_.contains(signature)) {
        std::erase_if(entries_,
                      [sent_ms](const auto& entry) { return entry.second.until_ms <= sent_ms; });
        if (entries_.size() >= max_entries_) return;
    }
    entries_[std::move(signature)] = {.refusal = refusal, .sent_ms = sent_ms, .until_ms = until_ms};
}

std::size_t RefusalCache::size() const {
    std::lock_guard lock(mutex_);
    return entries_.size();
}

Result<Decision> RedisBuckets::check(std::span<const BucketCheck> checks) {
    if (checks.empty()) return Decision{.allowed = true};
    std::string signature = RefusalCache::signature(checks);
    // Before the command goes out: Redis's answer describes a moment no earlier than this.
    std::int64_t sent_ms = clock_.now_ms();
    if (auto refused = refusals_.find(signature, sent_ms)) {
        local_refusals_.fetch_add(1, std::memory_order_relaxed);
        return *refused;
    }
    auto connection = acquire();
    if (!connection) return connection.error();
    std::vector<std::string> args{"EVALSHA", (*connection)->script_sha,
                                  std::to_string(checks.size())};
    for (const auto& check : checks) args.push_back(std::string(kRedisKeyPrefix) + check.key);
    for (const auto& check : checks) {
        args.push_back(std::to_string(check.params.interval_us));
        args.push_back(std::to_string(check.params.burst));
    }
    round_trips_.fetch_add(1, std::memory_order_relaxed);
    Reply reply = command((*connection)->context, args);
    if (reply && reply->type == REDIS_REPLY_ERROR &&
        std::string_view(reply->str, reply->len).starts_with("NOSCRIPT")) {
        // The script cache was flushed (a Redis restart, SCRIPT FLUSH): send it whole, which
        // also caches it again.
        args[0] = "EVAL";
        args[1] = std::string(kGcraScript);
        reply = command((*connection)->context, args);
    }
    constexpr std::size_t kReplyFields = 5;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != kReplyFields) {
        Error error = redis_error((*connection)->context, reply.get());
        // A connection that failed mid-command may hold half a reply: never reuse it.
        if (!reply) {
            retry_after_ms_.store(clock_.now_ms() + kReconnectBackoffMs, std::memory_order_relaxed);
        } else {
            release(std::move(*connection));
        }
        return error;
    }
    auto field = [&](std::size_t idx) { return reply->element[idx]->integer; };
    Decision decision{.allowed = field(0) == 1,
                      .limit = field(1),
                      .remaining = field(2),
                      .reset_us = field(3),
                      .retry_after_us = field(4)};
    release(std::move(*connection));
    if (!decision.allowed) refusals_.remember(std::move(signature), decision, sent_ms);
    return decision;
}

// ---------------------------------------------------------------------------------------------
// Overrides

std::optional<RateLimit> OverrideTable::find(const std::string& key) const {
    std::shared_lock lock(mutex_);
    auto found = limits_.find(key);
    if (found == limits_.end()) return std::nullopt;
    return found->second;
}

void OverrideTable::set(const std::string& key, const RateLimit& limit) {
    std::unique_lock lock(mutex_);
    limits_[key] = limit;
    count_.store(limits_.size(), std::memory_order_relaxed);
}

void OverrideTable::erase(const std::string& key) {
    std::unique_lock lock(mutex_);
    limits_.erase(key);
    count_.store(limits_.size(), std::memory_order_relaxed);
}

void OverrideTable::replace_all(std::unordered_map<std::string, RateLimit> limits) {
    std::unique_lock lock(mutex_);
    limits_ = std::move(limits);
    count_.store(limits_.size(), std::memory_order_relaxed);
}

Result<void> validate_override_key(std::string_view key) {
    constexpr std::array<std::string_view, 6> kKinds = {
        "user:", "key:", "client:", "org:", "ip:", "plan:"};
    if (key.size() > kMaxOverrideKeyLength) {
        return Error::invalid(fmt::format("must be at most {} characters", kMaxOverrideKeyLength));
    }
    auto kind = std::find_if(kKinds.begin(), kKinds.end(),
                             [key](std::string_view prefix) { return key.starts_with(prefix); });
    if (kind == kKinds.end()) {
        return Error::invalid(
            "must be user:<id>, key:<id>, client:<id>, org:<id>, ip:<address> or plan:<name>");
    }
    std::string_view id = key.substr(kind->size());
    if (id.empty()) return Error::invalid(fmt::format("the id after '{}' is missing", *kind));
    bool plain = std::all_of(id.begin(), id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
               c == ':';
    });
    if (!plain) return Error::invalid("the id may hold only letters, digits and _ - . :");
    return {};
}

Result<RouteRateLimit> parse_route_rate_limit(std::string_view text) {
    const std::string hint =
        fmt::format("'{}' is not METHOD /template=N (e.g. \"POST /api/v1/auth/login=10\")", text);
    std::size_t space = text.find(' ');
    std::size_t equals = text.rfind('=');
    if (space == std::string_view::npos || equals == std::string_view::npos || equals < space) {
        return Error::invalid(hint);
    }
    auto method = http::parse_method(text.substr(0, space));
    if (!method) return Error::invalid(hint + ": unknown method");
    std::string_view path = text.substr(space + 1, equals - space - 1);
    if (!path.starts_with('/') || path.find(' ') != std::string_view::npos) {
        return Error::invalid(hint + ": the template must start with /");
    }
    auto per_minute = parse_int(text.substr(equals + 1));
    if (!per_minute || *per_minute < 1 || *per_minute > kMaxRequestsPerMinute) {
        return Error::invalid(
            fmt::format("{}: N must be an integer from 1 to {}", hint, kMaxRequestsPerMinute));
    }
    return RouteRateLimit{.method = *method,
                          .path_template = std::string(path),
                          .limit = {.requests_per_minute = *per_minute, .burst = *per_minute}};
}

// ---------------------------------------------------------------------------------------------
// The limiter

RateLimiter::RateLimiter(RateLimitSettings settings, std::unique_ptr<Buckets> buckets,
                         metrics::Registry* registry)
    : settings_(std::move(settings)), buckets_(std::move(buckets)) {
    for (const auto& route : settings_.routes) {
        route_limits_[route_key(route.method, route.path_template)] = route.limit;
    }
    if (registry != nullptr) {
        auto& decisions = registry->counter("nimbus_rate_limit_decisions_total",
                                            "Rate-limit decisions by outcome.", {"outcome"});
        allowed_ = &decisions.with({"allowed"});
        limited_ = &decisions.with({"limited"});
        failed_open_ = &decisions.with({"failed_open"});
        failed_closed_ = &decisions.with({"failed_closed"});
        backend_errors_ = &registry
                               ->counter("nimbus_rate_limit_backend_errors_total",
                                         "Rate-limit checks the bucket store (Redis) failed.")
                               .with({});
    }
}

bool RateLimiter::override_refresh_due(std::int64_t now_ms) {
    std::int64_t due = next_override_refresh_ms_.load(std::memory_order_relaxed);
    if (now_ms < due) return false;
    // Only the caller that moves the deadline reloads; the others go on with the current table.
    return next_override_refresh_ms_.compare_exchange_strong(due, now_ms + kOverrideRefreshMs,
                                                             std::memory_order_relaxed);
}

RateLimit RateLimiter::plan_budget(const http::Principal& principal) const {
    if (settings_.plans.empty() && overrides_.empty()) return settings_.principal;
    std::string plan = settings_.plan_lookup ? settings_.plan_lookup(principal) : std::string();
    if (plan.empty()) plan = settings_.default_plan;
    if (plan.empty()) return settings_.principal;
    if (!overrides_.empty()) {
        if (auto runtime = overrides_.find("plan:" + plan)) return *runtime;
    }
    auto configured = settings_.plans.find(plan);
    // A plan nobody declared (billing ahead of the config) gets the general budget.
    return configured != settings_.plans.end() ? configured->second : settings_.principal;
}

RateLimit RateLimiter::budget_for(const std::string& key, const RateLimit& fallback) const {
    if (overrides_.empty()) return fallback;
    return overrides_.find(key).value_or(fallback);
}

std::vector<BucketCheck> RateLimiter::buckets_for(const http::Request& request,
                                                  const http::RequestContext& context) const {
    std::vector<BucketCheck> checks;
    std::string key;
    RateLimit fallback = settings_.anonymous;
    if (context.principal) {
        switch (context.principal->kind) {
            case http::Principal::Kind::user: key = "user:"; break;
            case http::Principal::Kind::api_key: key = "key:"; break;
            case http::Principal::Kind::oauth_client: key = "client:"; break;
        }
        key += context.principal->id;
        fallback = plan_budget(*context.principal);
    } else {
        key = "ip:" + context.client_address;
    }
    std::optional<RateLimit> route_limit;
    std::string route;
    if (!route_limits_.empty()) {
        route = route_key(request.method, context.route);
        if (auto found = route_limits_.find(route); found != route_limits_.end()) {
            route_limit = found->second;
        }
    }
    if (route_limit) {
        // The route's own budget, per caller, instead of the caller's general one.
        checks.push_back(
            {.key = "route:" + route + ":" + key, .params = GcraParams::from(*route_limit)});
    } else {
        RateLimit limit = budget_for(key, fallback);
        checks.push_back({.key = std::move(key), .params = GcraParams::from(limit)});
    }
    if (context.principal && !context.principal->org_id.empty()) {
        std::string org_key = "org:" + context.principal->org_id;
        RateLimit limit = budget_for(org_key, settings_.org);
        if (limit.requests_per_minute > 0) {
            checks.push_back({.key = std::move(org_key), .params = GcraParams::from(limit)});
        }
    }
    return checks;
}

void RateLimiter::log_backend_error(const Error& error) {
    // One line per interval at most: an outage would otherwise log once per request.
    std::uint64_t suppressed = 0;
    {
        std::lock_guard lock(log_mutex_);
        auto now = std::chrono::steady_clock::now();
        if (last_error_log_ != std::chrono::steady_clock::time_point{} &&
            now - last_error_log_ < kErrorLogInterval) {
            ++suppressed_errors_;
            return;
        }
        last_error_log_ = now;
        suppressed = suppressed_errors_;
        suppressed_errors_ = 0;
    }
    log::warn("rate limit store failed",
              {{"error", error.message},
               {"failure_mode", settings_.fail_open ? "open" : "closed"},
               {"suppressed_since_last", static_cast<std::int64_t>(suppressed)}});
}

std::optional<http::Response> RateLimiter::answer(const Result<Decision>& decision,
                                                  http::RequestContext& context) {
    if (!decision) {
        if (backend_errors_ != nullptr) backend_errors_->inc();
        log_backend_error(decision.error());
        if (settings_.fail_open) {
            if (failed_open_ != nullptr) failed_open_->inc();
            return std::nullopt;
        }
        if (failed_closed_ != nullptr) failed_closed_->inc();
        http::Response response = http::Response::make_problem(
            503, "rate-limit-unavailable", "Service Unavailable",
            "Request budgets cannot be checked right now; retry shortly.");
        response.set_header("retry-after", "1");
        return response;
    }
    context.rate_limit =
        http::RequestContext::RateLimitStatus{.limit = decision->limit,
                                              .remaining = decision->remaining,
                                              .reset_seconds = ceil_seconds(decision->reset_us)};
    if (decision->allowed) {
        if (allowed_ != nullptr) allowed_->inc();
        return std::nullopt;
    }
    if (limited_ != nullptr) limited_->inc();
    std::int64_t retry_after = std::max<std::int64_t>(ceil_seconds(decision->retry_after_us), 1);
    http::Response response = http::Response::make_problem(
        429, "rate-limited", "Too Many Requests",
        fmt::format("The request budget is spent; retry in {} s.", retry_after));
    response.set_header("retry-after", std::to_string(retry_after));
    return response;
}

namespace {

class RateLimitStep final : public http::Middleware {
public:
    RateLimitStep(std::shared_ptr<RateLimiter> limiter, db::Database* database, const Clock& clock)
        : limiter_(std::move(limiter)),
          database_(database),
          clock_(clock),
          waits_(limiter_->buckets().blocking()) {}

    std::string_view name() const override { return "rate_limit"; }
    bool waits() const override { return waits_; }

    std::optional<http::Response> on_request(http::Request& request,
                                             http::RequestContext& context) override {
        auto checks = limiter_->buckets_for(request, context);
        return limiter_->answer(limiter_->buckets().check(checks), context);
    }

    boost::asio::awaitable<std::optional<http::Response>> on_request_async(
        http::Request& request, http::RequestContext& context) override {
        if (database_ != nullptr && limiter_->override_refresh_due(clock_.now_ms())) {
            Result<void> reloaded;
            co_await context.run_database(
                [&] { reloaded = limiter_->reload_overrides(*database_); });
            if (!reloaded) {
                log::warn("cannot reload rate-limit overrides",
                          {{"error", reloaded.error().message}});
            }
        }
        auto checks = limiter_->buckets_for(request, context);
        Result<Decision> decision = Error::internal("not checked");
        co_await context.run_blocking([&] { decision = limiter_->buckets().check(checks); });
        co_return limiter_->answer(decision, context);
    }

    void on_response(const http::Request&, http::RequestContext& context,
                     http::Response& response) override {
        if (!context.rate_limit) return;
        response.set_header("ratelimit-limit", std::to_string(context.rate_limit->limit));
        response.set_header("ratelimit-remaining", std::to_string(context.rate_limit->remaining));
        response.set_header("ratelimit-reset", std::to_string(context.rate_limit->reset_seconds));
    }

private:
    std::shared_ptr<RateLimiter> limiter_;
    db::Database* database_;  // for override reloads; null: never reload
    const Clock& clock_;
    bool waits_;
};

}  // namespace

std::unique_ptr<http::Middleware> make_rate_limit_step(std::shared_ptr<RateLimiter> limiter,
                                                       db::Database* database, const Clock& clock) {
    return std::make_unique<RateLimitStep>(std::move(limiter), database, clock);
}

}  // namespace nimbus::gateway
