#pragma once
/// The API gateway: the steps every request passes before it reaches a handler.
///
/// - The firewall: ModSecurity v3 with the OWASP Core Rule Set (anomaly scoring), blocking or
///   detection-only, per-route rule exclusions. Rules are compiled once at start and shared.
/// - IP and country rules: allow and deny lists of CIDRs (IPv4 and IPv6) and ISO 3166-1 country
///   codes (GeoIP), persisted and managed at runtime through the admin API; the client address
///   comes from X-Forwarded-For only when the peer is a trusted proxy.
/// - Rate limits (rate_limit*.cpp).
/// - Cluster sync: runtime changes made on one node reach the others (cluster_sync.cpp).
///
/// The composition root (app/node.cpp) builds these from the configuration and plugs them into
/// http::PipelineSettings (`firewall`, `ip_rules`, `rate_limit`).

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "http/http.hpp"

namespace nimbus::db {
class Database;
struct Migration;
}  // namespace nimbus::db

namespace nimbus::metrics {
class Registry;
}

namespace nimbus::gateway {

/// This module's schema migrations (generated from src/gateway/migrations/).
const std::vector<nimbus::db::Migration>& migrations();

// ---------------------------------------------------------------------------------------------
// Firewall

/// CRS rules switched off for one route: "ROUTE_TEMPLATE=ruleid,ruleid".
struct RuleExclusion {
    std::string route;  ///< a route template as declared ("/api/v1/posts/{id}")
    std::vector<int> rule_ids;
};

/// Parses "ROUTE_TEMPLATE=ruleid,ruleid"; fails with a message naming the part that is wrong.
Result<RuleExclusion> parse_rule_exclusion(std::string_view text);

/// How the firewall is built. Plain values: the composition root fills them from the config.
struct FirewallSettings {
    /// Blocking answers 403 when the anomaly score reaches the threshold; detection only logs.
    bool blocking = true;
    int paranoia_level = 1;             ///< CRS paranoia level, 1..4
    int inbound_anomaly_threshold = 5;  ///< CRS inbound anomaly score that blocks
    std::vector<RuleExclusion> exclusions;
    std::string crs_dir = "/usr/share/modsecurity-crs";  ///< holds rules/REQUEST-*.conf
    std::string extra_rules_file;                        ///< optional; loaded after the CRS
    /// Bodies are inspected up to this size; the rest of a larger body (uploads on routes with
    /// a higher limit) is not inspected.
    std::size_t max_inspected_body_bytes = 1024 * 1024;
    /// Clear requests no rule could score without running the engine (docs/gateway.md,
    /// "Prefilter"); the verdict is the same either way.
    bool prefilter = true;
    /// Texts (header values, paths, argument names and values; not whole bodies) each I/O thread
    /// remembers as found clean, per string class, so a repeated one is not screened again; 0
    /// screens every text every time.
    std::size_t prefilter_cache_entries = 1024;
    /// Called on the thread that builds the prefilter, before it starts; tests block in it to
    /// see the firewall before the prefilter is ready. Empty in production.
    std::function<void()> before_prefilter_build;
};

/// What the firewall made of one request.
struct FirewallVerdict {
    enum class Outcome {
        passed,    ///< no rule asked to block
        blocked,   ///< blocking mode: the request is refused
        detected,  ///< detection mode: it would have been refused, and was let through
    };
    Outcome outcome = Outcome::passed;
    int status = 0;  ///< the status ModSecurity asked for (403; 400 for an unparseable body)
    std::vector<int> rule_ids;  ///< every rule that matched, in order; for logs only
};

/// "passed", "blocked", "detected".
std::string_view to_string(FirewallVerdict::Outcome outcome);

/// The compiled rules. Thread safe: one instance is shared by every I/O thread, each request
/// gets its own ModSecurity transaction. Building it parses the whole CRS (tens of
/// milliseconds), so build it once.
class Firewall {
public:
    /// Generates the configuration (engine mode, body access, CRS setup from `settings`), loads
    /// the CRS rules and the extra rules file. Fails with `invalid_argument` naming the file and
    /// line of a rule that does not load, or the setting that is wrong.
    static Result<std::shared_ptr<const Firewall>> create(const FirewallSettings& settings);
    ~Firewall();
    Firewall(const Firewall&) = delete;
    Firewall& operator=(const Firewall&) = delete;

    /// Runs the request phases (connection, URI, headers, body) over `request`. `route` selects
    /// the per-route exclusions; `client_address` is the address the rules see.
    FirewallVerdict inspect(const http::Request& request, std::string_view route,
                            std::string_view client_address) const;

    /// The prefilter: true when no rule at the configured paranoia level could score
    /// `request`, so inspect() would pass it with no rule matched and may be skipped. False
    /// means only "ask inspect()". Always false when the prefilter is off or inactive.
    bool clears(const http::Request& request, std::string_view client_address) const;
    /// Whether clears() can be true now: the prefilter is on, built, and could analyse every
    /// scoring rule (it switches itself off, with prefilter_reason(), for rules it cannot
    /// analyse). The prefilter is built on a thread of its own after create() returns, so the
    /// start does not wait for it; until it is ready every request goes to the engine.
    bool prefilter_active() const;
    /// Why the prefilter is inactive (or not built yet); empty when it is active.
    std::string prefilter_reason() const;
    /// Waits until the prefilter is built (or was never to be built); for tests and
    /// benchmarks that need its verdicts from the first request.
    void await_prefilter() const;
    /// Why clears() is false for `request` (the first check it fails: a request shape, or the
    /// rule ids whose patterns could match and the text), or empty when it clears; for tests
    /// and for finding which rules keep everyday requests on the engine.
    std::string prefilter_refusal(const http::Request& request,
                                  std::string_view client_address) const;

    /// The generated configuration, for `nimbus` diagnostics and tests.
    const std::string& generated_configuration() const;

private:
    Firewall();
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// A request the firewall refused, for the audit log (the rule ids never reach the client).
struct FirewallBlock {
    std::string request_id;
    std::string route;  ///< the matched route template, "unmatched" or "static"
    std::string method;
    std::string client_address;
    std::vector<int> rule_ids;
    int status = 0;  ///< the status answered (403, or 400 for an unparseable body)
};

/// Told about each block, on the thread that inspected the request: it must not wait (queue
/// the block and write it elsewhere).
using FirewallBlockSink = std::function<void(FirewallBlock block)>;

/// The pipeline step "firewall": inspects each request with `firewall`, answers a block with
/// 403 problem+json (type /problems/firewall-blocked) carrying only the request id, logs the
/// matched rule ids, counts decisions in `nimbus_firewall_decisions_total{outcome}` and hands
/// each block to `on_block` when set.
/// Requests the prefilter clears pass at once (counted in
/// `nimbus_firewall_prefilter_cleared_total` as well); the others are inspected on the worker
/// pool, so a slow inspection does not hold up the I/O thread's other connections.
std::unique_ptr<http::Middleware> make_firewall_step(std::shared_ptr<const Firewall> firewall,
                                                     metrics::Registry* registry,
                                                     FirewallBlockSink on_block = {});

/// What GET /api/v1/admin/firewall reports: the firewall as this node runs it.
struct FirewallStatus {
    bool enabled = false;  ///< false: the firewall step is not in the pipeline
    bool blocking = true;  ///< blocking, or detection only
    int paranoia_level = 1;
    int inbound_anomaly_threshold = 5;
    std::int64_t rule_exclusions = 0;  ///< routes with CRS rules switched off
    /// Asked on each call whether its prefilter is active (it is built after the start); null
    /// when the firewall is off.
    std::shared_ptr<const Firewall> firewall;
};

/// Adds GET /api/v1/admin/firewall (permission `gateway.firewall.manage`): `{enabled, mode,
/// paranoia_level, inbound_anomaly_threshold, rule_exclusions, prefilter_active}`, mode being
/// "blocking", "detection" or "off" (then only `enabled` and `mode`). Recent blocks are audit
/// entries (`nimbus.gateway.firewall.blocked`, GET /api/v1/admin/audit), not repeated here.
void add_firewall_status_route(http::Router& router, FirewallStatus status);

// ---------------------------------------------------------------------------------------------
// IP and country rules

/// An IPv4 or IPv6 address as 16 bytes (IPv4 as an IPv4-mapped IPv6 address, ::ffff:a.b.c.d,
/// so one comparison serves both families).
struct IpAddress {
    std::array<std::uint8_t, 16> bytes{};
    bool v4 = false;

    /// Parses a literal address ("203.0.113.7", "2001:db8::1", "::ffff:203.0.113.7" is v4).
    static std::optional<IpAddress> parse(std::string_view text);
    std::string to_string() const;
};

/// A network: "10.0.0.0/8", "2001:db8::/32"; a bare address means /32 or /128.
struct Cidr {
    IpAddress network;
    int prefix_length = 0;  ///< in the address's own family (0..32 for IPv4, 0..128 for IPv6)

    /// Parses strictly: host bits must be zero ("10.0.0.1/8" is refused, it is probably a typo),
    /// no leading zeros in IPv4 octets, the prefix within the family's range. The error says
    /// what is wrong.
    static Result<Cidr> parse(std::string_view text);
    bool contains(const IpAddress& address) const;
    std::string to_string() const;
};

/// Parses a list of CIDRs; the error names the entry.
Result<std::vector<Cidr>> parse_cidrs(const std::vector<std::string>& texts);

/// Validates an ISO 3166-1 alpha-2 code ("DE"); lower case is accepted and upper-cased.
Result<std::string> parse_country_code(std::string_view text);

/// One stored rule.
struct IpRule {
    enum class Kind { cidr, country };
    enum class Action { allow, deny };
    std::string id;  ///< "ipr_" + ULID
    Kind kind = Kind::cidr;
    Action action = Action::deny;
    std::string value;  ///< the CIDR in canonical form, or the country code
    std::string note;
    std::int64_t created_at_ms = 0;
};

/// Who made a runtime change to the gateway (an IP rule, a rate-limit override), for the audit
/// event the change emits in its transaction (`nimbus.gateway.*`; docs/audit.md).
struct ChangeActor {
    std::string actor_id;  ///< the principal's id; empty when the node itself acts (tests, tools)
    std::string ip;        ///< the client address (RequestContext::client_address)
};

/// The actor of a change made through an admin route: the caller and its address.
inline ChangeActor change_actor(const http::RequestContext& context) {
    return {.actor_id = context.principal ? context.principal->id : std::string(),
            .ip = context.client_address};
}

/// Country lookups over Debian's GeoIP databases. Thread safe (lookups read memory-cached data).
class GeoIp {
public:
    /// Opens the IPv4 and IPv6 databases; a missing file is an error naming it.
    static Result<std::shared_ptr<const GeoIp>> open(const std::string& v4_path,
                                                     const std::string& v6_path);
    ~GeoIp();
    /// The country code, or empty when unknown (private and loopback addresses).
    std::string country(const IpAddress& address) const;

private:
    GeoIp() = default;
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// How the ip_rules step is built.
struct IpRulesSettings {
    std::vector<Cidr> trusted_proxies;   ///< peers whose X-Forwarded-For is believed
    std::shared_ptr<const GeoIp> geoip;  ///< null: country rules never match
};

/// The rules, their store and the pipeline step. Rules are read from the database at start and
/// after every change; requests see an immutable snapshot swapped in atomically, so a change
/// applies to the next request without a restart and never half-way through one.
///
/// Evaluation, first match wins:
///   1. an allow CIDR containing the client passes (and skips the country rules);
///   2. a deny CIDR containing the client is refused;
///   3. a deny country matching the client's country is refused;
///   4. when any allow country exists, a client in none of them (or of unknown country) is
///      refused;
///   5. otherwise the request passes.
class IpRules {
public:
    IpRules(db::Database& database, IpRulesSettings settings, metrics::Registry* registry);
    ~IpRules();

    /// Loads the stored rules into the snapshot requests use (at start, and when another node
    /// changed them).
    Result<void> reload();
    /// The stored rules, oldest first.
    Result<std::vector<IpRule>> list() const;
    /// Validates and stores a rule, then reloads. `invalid_argument` for a malformed CIDR or
    /// country code; `conflict` when the same rule exists. Emits
    /// `nimbus.gateway.ip_rule.created` (by `actor`) in the same transaction.
    Result<IpRule> add(IpRule::Kind kind, IpRule::Action action, std::string_view value,
                       std::string_view note, std::int64_t now_ms, const ChangeActor& actor = {});
    /// Deletes a rule, then reloads; `not_found` when there is none with this id. Emits
    /// `nimbus.gateway.ip_rule.deleted` (with the rule's kind, action and value) in the same
    /// transaction, stamped `now_ms`.
    Result<void> remove(std::string_view id, std::int64_t now_ms = 0,
                        const ChangeActor& actor = {});

    /// The client address: the peer, or when the peer is a trusted proxy the rightmost
    /// X-Forwarded-For hop that is not itself a trusted proxy. Malformed hops end the walk.
    std::string client_address(const http::Request& request) const;
    /// Whether the current rules admit `address`; a refusal carries the reason for the log.
    std::optional<std::string> refusal(const IpAddress& address) const;

    /// The pipeline step "ip_rules": sets RequestContext::client_address, answers 403
    /// problem+json (type /problems/ip-denied) for refused clients. The IpRules must outlive it.
    std::unique_ptr<http::Middleware> make_step();

    /// Adds the admin API: GET/POST /api/v1/admin/firewall/ip-rules, DELETE .../{id}, each with
    /// the permission `gateway.firewall.manage`. `clock` stamps new rules; it must outlive the
    /// router.
    void add_routes(http::Router& router, const Clock& clock);

private:
    Result<void> reload_locked();  // with Impl::write_mutex held
    struct Snapshot;
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// ---------------------------------------------------------------------------------------------
// Rate limits (rate_limit.cpp; docs/gateway.md)

/// A budget: `requests_per_minute` sustained, up to `burst` requests at once.
struct RateLimit {
    std::int64_t requests_per_minute = 0;
    std::int64_t burst = 0;  ///< 0: the same as requests_per_minute
};

/// A route's own budget, per caller: "POST /api/v1/auth/login=10".
struct RouteRateLimit {
    http::Method method = http::Method::get;
    std::string path_template;
    RateLimit limit;
};

/// Parses "METHOD /template=N" (N requests per minute, burst N); the error says what is wrong.
Result<RouteRateLimit> parse_route_rate_limit(std::string_view text);

/// Finds the plan a principal's requests are budgeted by (billing will answer from the org's
/// subscription); empty: RateLimitSettings::default_plan. Called for every request of a
/// principal on an I/O thread, so it must answer from memory and be thread safe.
///
///     settings.plan_lookup = [&plans](const http::Principal& principal) {
///         return plans.of_org(principal.org_id);  // "free", "pro", ...
///     };
using PlanLookup = std::function<std::string(const http::Principal& principal)>;

/// How the limiter is built. Plain values: the composition root fills them from the config.
struct RateLimitSettings {
    RateLimit principal{.requests_per_minute = 1000};  ///< per user, API key or OAuth client
    RateLimit anonymous{.requests_per_minute = 300};   ///< per client address
    /// Shared by everyone acting in one org, on top of their own; 0 requests: no org budget.
    RateLimit org{.requests_per_minute = 10000};
    std::vector<RouteRateLimit> routes;
    std::size_t max_buckets = 1'000'000;  ///< in-memory backend: the hard cap on buckets held
    bool redis = false;                   ///< buckets in Redis (shared by nodes) or in memory
    std::string redis_url;                ///< redis://[:password@]host[:port][/db]
    std::chrono::milliseconds redis_timeout{100};
    bool fail_open = true;  ///< when Redis fails: let requests pass (true) or answer 503
    /// Per-plan budgets of each principal, replacing `principal` for those on the plan; a
    /// runtime override of key "plan:<name>" replaces a plan's budget (or adds a plan).
    std::map<std::string, RateLimit, std::less<>> plans;
    std::string default_plan;  ///< the plan when the lookup gives none; empty: `principal`
    PlanLookup plan_lookup;    ///< null: every principal is on default_plan
};

/// The limiter: bucket store, runtime overrides, metrics. Thread safe; shared by the step and
/// the admin routes. Defined in rate_limit_internal.hpp.
class RateLimiter;

/// Builds the limiter and loads the stored overrides from `database` (which must outlive it).
/// Fails with `invalid_argument` for a malformed Redis URL. An unreachable Redis is not an
/// error at start: requests then fail open or closed as configured. `registry` may be null.
Result<std::shared_ptr<RateLimiter>> make_rate_limiter(RateLimitSettings settings,
                                                       db::Database& database, const Clock& clock,
                                                       metrics::Registry* registry);

/// The pipeline step "rate_limit" (http::PipelineSettings::rate_limit): charges each request,
/// writes RateLimit-Limit / -Remaining / -Reset on the response, answers 429 problem+json with
/// Retry-After when the budget is spent. With Redis the step waits on the worker pool, and
/// re-reads the overrides from `database` every 10 s so changes made on another node arrive
/// (null: never). `database` and `clock` must outlive the step.
std::unique_ptr<http::Middleware> make_rate_limit_step(std::shared_ptr<RateLimiter> limiter,
                                                       db::Database* database, const Clock& clock);

/// Adds the admin API, each route with the permission `gateway.rate_limits.manage`:
/// GET /api/v1/admin/rate-limits/overrides, and GET / PUT / DELETE .../overrides/{key} where
/// key is "user:<id>", "key:<id>", "client:<id>", "org:<id>", "ip:<address>" or
/// "plan:<name>" (the budget of every principal on that plan). Changes are
/// stored in `database` and apply to the next request.
void add_rate_limit_routes(http::Router& router, const std::shared_ptr<RateLimiter>& limiter,
                           db::Database& database, const Clock& clock);

// ---------------------------------------------------------------------------------------------
// Several nodes (cluster_sync.cpp; docs/gateway.md "Several nodes")

/// What a node keeps in memory that another node may change, and how often it looks.
struct ClusterSyncSettings {
    /// How often the database is asked what changed: the bound on how late a change made on
    /// another node applies here (plus one query).
    std::chrono::milliseconds poll_interval{1000};
    IpRules* ip_rules = nullptr;                ///< reloaded when the stored rules changed
    std::shared_ptr<RateLimiter> rate_limiter;  ///< its overrides reloaded when they changed
    /// Drops this node's cached responses for a path another node wrote (usually
    /// http::Pipeline::invalidate_cached); null: this node caches nothing.
    std::function<void(const std::string& path)> invalidate_cached;
    /// How long invalidation rows are kept before any node deletes them.
    std::chrono::milliseconds invalidation_retention{std::chrono::minutes(5)};
};

/// Keeps the nodes of one installation in step without a restart. Changes to IP rules and
/// rate-limit overrides bump a version row (`gateway_versions`) in their own transaction; a
/// thread polls those rows every `poll_interval` and reloads what moved. Paths written on a node
/// (http::PipelineSettings::on_cache_write) are queued by publish_invalidation(), written to
/// `gateway_cache_invalidations` by the same thread at once, and every other node drops its
/// cached responses for them at its next poll. The polling thread owns no request state; the
/// objects in the settings must outlive this one.
class ClusterSync {
public:
    /// Reads the current versions and the newest invalidation (so only later changes act) and
    /// starts the thread. Fails when the database cannot be read.
    static Result<std::unique_ptr<ClusterSync>> start(db::Database& database, const Clock& clock,
                                                      ClusterSyncSettings settings);
    /// Stops and joins the thread; queued invalidations not yet written are written first.
    ~ClusterSync();
    ClusterSync(const ClusterSync&) = delete;
    ClusterSync& operator=(const ClusterSync&) = delete;

    /// Queues a path written on this node for the others. Never blocks on the database (it runs
    /// on I/O threads); thread safe.
    void publish_invalidation(const std::string& path);
    /// Writes what is queued and applies what other nodes changed, now; for tests (the thread
    /// does the same every poll_interval).
    Result<void> sync_now();

private:
    ClusterSync();
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace nimbus::gateway
