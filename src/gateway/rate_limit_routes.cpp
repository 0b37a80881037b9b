// Rate limits: building the limiter, the stored overrides and their admin API.
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <fmt/format.h>

#include "core/clock.hpp"
#include "core/json.hpp"
#include "db/db.hpp"
#include "events/events.hpp"
#include "gateway/rate_limit_internal.hpp"

namespace nimbus::gateway {
namespace {

constexpr std::string_view kPermission = "gateway.rate_limits.manage";
constexpr std::string_view kOverridesPath = "/api/v1/admin/rate-limits/overrides";
constexpr std::size_t kMaxOverrideBodyBytes = 4 * 1024;

constexpr std::string_view kOverrideBodySchema = R"({
  "type": "object", "required": ["requests_per_minute"], "additionalProperties": false,
  "properties": {
    "requests_per_minute": {"type": "integer", "minimum": 1, "maximum": 1000000000,
                            "description": "Sustained requests per minute"},
    "burst": {"type": "integer", "minimum": 0, "maximum": 1000000000,
              "description": "Requests at once; 0 or absent: requests_per_minute"}}})";
constexpr std::string_view kOverrideSchema = R"({
  "type": "object", "required": ["key", "requests_per_minute", "burst", "updated_at"],
  "properties": {
    "key": {"type": "string", "description": "user:, key:, client:, org:, ip: or plan: and an id"},
    "requests_per_minute": {"type": "integer", "minimum": 1},
    "burst": {"type": "integer", "minimum": 0},
    "updated_at": {"type": "string", "format": "date-time"}}})";
constexpr std::string_view kOverrideListSchema = R"({
  "type": "object", "required": ["data"],
  "properties": {"data": {"type": "array", "description": "By key", "items": {
    "type": "object", "required": ["key", "requests_per_minute", "burst", "updated_at"],
    "properties": {
      "key": {"type": "string"},
      "requests_per_minute": {"type": "integer", "minimum": 1},
      "burst": {"type": "integer", "minimum": 0},
      "updated_at": {"type": "string", "format": "date-time"}}}}}})";

/// A stored override as the API shows it.
struct StoredOverride {
    std::string key;
    RateLimit limit;
    std::int64_t updated_at_ms = 0;
};

boost::json::object to_json(const StoredOverride& stored) {
    return {{"key", stored.key},
            {"requests_per_minute", stored.limit.requests_per_minute},
            {"burst", stored.limit.burst},
            {"updated_at", format_rfc3339(stored.updated_at_ms)}};
}

StoredOverride from_row(const db::Row& row) {
    return {.key = row.get_text(0),
            .limit = {.requests_per_minute = row.get_int(1), .burst = row.get_int(2)},
            .updated_at_ms = row.get_int(3)};
}

constexpr std::string_view kSelect =
    "SELECT key, requests_per_minute, burst, updated_at_ms FROM gateway_rate_limit_overrides";

Result<std::vector<StoredOverride>> load_all(db::Database& database) {
    auto rows = database.query(std::string(kSelect) + " ORDER BY key");
    if (!rows) return rows.error();
    std::vector<StoredOverride> all;
    all.reserve(rows->size());
    for (const auto& row : *rows) all.push_back(from_row(row));
    return all;
}

/// Tells the other nodes (ClusterSync) that the stored overrides changed; in the changing
/// transaction, so they never see the version move without the rows.
Result<void> bump_version(db::Transaction& tx) {
    auto bumped = tx.execute(
        "UPDATE gateway_versions SET version = version + 1 WHERE name = 'rate_limit_overrides'");
    if (!bumped) return bumped.error();
    return {};
}

/// Records an override change for the audit log in the changing transaction (`set` carries the
/// new budget); the subject is the key, so changes to one key reach the log in order.
Result<void> emit_override_event(db::Transaction& tx, const Clock& clock, std::string_view verb,
                                 const std::string& key, const std::optional<RateLimit>& limit,
                                 const ChangeActor& actor) {
    boost::json::object data{{"target_id", key}};
    if (limit) {
        data["requests_per_minute"] = limit->requests_per_minute;
        data["burst"] = limit->burst;
    }
    if (!actor.actor_id.empty()) data["actor_id"] = actor.actor_id;
    if (!actor.ip.empty()) data["ip"] = actor.ip;
    auto emitted = events::emit(tx, clock,
                                {.type = "nimbus.gateway.rate_limit_override." + std::string(verb),
                                 .source = "/nimbus/gateway",
                                 .subject = "rate_limit_override:" + key,
                                 .data_json = boost::json::serialize(data)});
    if (!emitted) return emitted.error();
    return {};
}

http::Response invalid_key(const Error& error) {
    return http::Response::make_problem(
        400, "invalid-rate-limit-override", "Bad Request", "The override key is malformed.",
        {{.pointer = "", .message = "path parameter key: " + error.message}});
}

/// Reads {"requests_per_minute": N, "burst": M?}; every problem is listed, not just the first.
Result<RateLimit> parse_body(std::string_view body,
                             std::vector<http::Problem::FieldError>& errors) {
    auto parsed = json::parse(body);
    if (!parsed || !parsed->is_object()) {
        errors.push_back({.pointer = "", .message = "the body must be a JSON object"});
        return Error::invalid("malformed body");
    }
    const auto& object = parsed->as_object();
    RateLimit limit;
    auto read = [&](std::string_view name, bool required, std::int64_t min, std::int64_t& into) {
        const boost::json::value* value = object.if_contains(name);
        std::string pointer = "/" + std::string(name);
        if (value == nullptr) {
            if (required) errors.push_back({.pointer = pointer, .message = "is required"});
            return;
        }
        if (!value->is_int64() || value->as_int64() < min ||
            value->as_int64() > kMaxRequestsPerMinute) {
            errors.push_back({.pointer = pointer,
                              .message = fmt::format("must be an integer from {} to {}", min,
                                                     kMaxRequestsPerMinute)});
            return;
        }
        into = value->as_int64();
    };
    read("requests_per_minute", true, 1, limit.requests_per_minute);
    read("burst", false, 0, limit.burst);
    for (const auto& [name, value] : object) {
        if (name != "requests_per_minute" && name != "burst") {
            errors.push_back({.pointer = "/" + std::string(name), .message = "is not a field"});
        }
    }
    if (!errors.empty()) return Error::invalid("invalid body");
    return limit;
}

}  // namespace

Result<void> RateLimiter::reload_overrides(db::Database& database) {
    auto stored = load_all(database);
    if (!stored) return stored.error();
    std::unordered_map<std::string, RateLimit> limits;
    for (const auto& entry : *stored) limits.emplace(entry.key, entry.limit);
    overrides_.replace_all(std::move(limits));
    return {};
}

Result<std::shared_ptr<RateLimiter>> make_rate_limiter(RateLimitSettings settings,
                                                       db::Database& database, const Clock& clock,
                                                       metrics::Registry* registry) {
    std::unique_ptr<Buckets> buckets;
    if (settings.redis) {
        auto address = parse_redis_url(settings.redis_url);
        if (!address) return address.error();
        auto redis = std::make_unique<RedisBuckets>(*address, settings.redis_timeout, clock);
        if (registry != nullptr) {
            RedisBuckets* view = redis.get();
            // The limiter (and so the buckets) lives as long as the node, like the registry.
            registry->gauge_callback(
                "nimbus_rate_limit_local_refusals",
                "Requests refused from this node's memory of a Redis refusal, each a round trip "
                "saved.",
                [view] { return static_cast<double>(view->local_refusals()); });
            registry->gauge_callback("nimbus_rate_limit_redis_round_trips",
                                     "Rate-limit checks sent to Redis.",
                                     [view] { return static_cast<double>(view->round_trips()); });
        }
        buckets = std::move(redis);
    } else {
        auto memory = std::make_unique<MemoryBuckets>(clock, settings.max_buckets);
        if (registry != nullptr) {
            MemoryBuckets* view = memory.get();
            // The limiter (and so the buckets) lives as long as the node, like the registry.
            registry->gauge_callback("nimbus_rate_limit_buckets",
                                     "Rate-limit buckets held in memory.",
                                     [view] { return static_cast<double>(view->size()); });
            registry->gauge_callback(
                "nimbus_rate_limit_evictions",
                "Live rate-limit buckets dropped to stay under rate_limit.max_buckets.",
                [view] { return static_cast<double>(view->evictions()); });
        }
        buckets = std::move(memory);
    }
    auto limiter = std::make_shared<RateLimiter>(std::move(settings), std::move(buckets), registry);
    if (auto loaded = limiter->reload_overrides(database); !loaded) return loaded.error();
    return limiter;
}

void add_rate_limit_routes(http::Router& router, const std::shared_ptr<RateLimiter>& limiter,
                           db::Database& database, const Clock& clock) {
    const std::string item_path = std::string(kOverridesPath) + "/{key}";
    auto guarded = [](std::string summary, std::string_view response_schema) {
        return http::RouteOptions{.permission = std::string(kPermission),
                                  .summary = std::move(summary),
                                  .tag = "gateway",
                                  .response_schema = std::string(response_schema)};
    };
    http::RouteOptions put_options = guarded(
        "Set the request budget of a user, key, client, org, address or plan", kOverrideSchema);
    put_options.max_body_bytes = kMaxOverrideBodyBytes;
    put_options.body_schema = std::string(kOverrideBodySchema);

    router.add(
        http::Method::get, kOverridesPath,
        http::Task([&database](http::Request&, http::RequestContext& context)
                       -> boost::asio::awaitable<http::Response> {
            Result<std::vector<StoredOverride>> all = Error::internal("not read");
            co_await context.run_database([&] { all = load_all(database); });
            if (!all) co_return http::Response::from_error(all.error());
            boost::json::array data;
            for (const auto& entry : *all) data.push_back(to_json(entry));
            co_return http::Response::json(200, boost::json::object{{"data", std::move(data)}});
        }),
        guarded("List the runtime rate-limit overrides", kOverrideListSchema));

    router.add(http::Method::get, item_path,
               http::Task([&database](http::Request&, http::RequestContext& context)
                              -> boost::asio::awaitable<http::Response> {
                   std::string key(context.path_param("key"));
                   if (auto valid = validate_override_key(key); !valid)
                       co_return invalid_key(valid.error());
                   Result<std::optional<db::Row>> row = Error::internal("not read");
                   co_await context.run_database([&] {
                       auto rows = database.query(std::string(kSelect) + " WHERE key = ?", {key});
                       if (!rows) {
                           row = rows.error();
                       } else {
                           row =
                               rows->empty() ? std::nullopt : std::optional<db::Row>(rows->front());
                       }
                   });
                   if (!row) co_return http::Response::from_error(row.error());
                   if (!*row) {
                       co_return http::Response::make_problem(404, "not-found", "Not Found",
                                                              "No override for this key.");
                   }
                   co_return http::Response::json(200, to_json(from_row(**row)));
               }),
               guarded("Read one runtime rate-limit override", kOverrideSchema));

    router.add(
        http::Method::put, item_path,
        http::Task([&database, &clock, limiter](
                       http::Request& request,
                       http::RequestContext& context) -> boost::asio::awaitable<http::Response> {
            std::string key(context.path_param("key"));
            if (auto valid = validate_override_key(key); !valid)
                co_return invalid_key(valid.error());
            std::vector<http::Problem::FieldError> errors;
            auto limit = parse_body(request.body, errors);
            if (!limit) {
                co_return http::Response::make_problem(400, "invalid-rate-limit-override",
                                                       "Bad Request", "The override is malformed.",
                                                       errors);
            }
            StoredOverride stored{.key = key, .limit = *limit, .updated_at_ms = clock.now_ms()};
            Result<void> saved;
            co_await context.run_database([&] {
                saved = database.transact([&](db::Transaction& tx) -> Result<void> {
                    auto written = tx.execute(
                        "INSERT INTO gateway_rate_limit_overrides (key, requests_per_minute, "
                        "burst, updated_at_ms) VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE "
                        "SET requests_per_minute = excluded.requests_per_minute, burst = "
                        "excluded.burst, updated_at_ms = excluded.updated_at_ms",
                        {key, stored.limit.requests_per_minute, stored.limit.burst,
                         stored.updated_at_ms});
                    if (!written) return written.error();
                    if (auto emitted = emit_override_event(tx, clock, "set", key, stored.limit,
                                                           change_actor(context));
                        !emitted) {
                        return emitted.error();
                    }
                    return bump_version(tx);
                });
            });
            if (!saved) co_return http::Response::from_error(saved.error());
            // After the commit, so a failed write never leaves a budget the database lacks.
            limiter->overrides().set(key, stored.limit);
            co_return http::Response::json(200, to_json(stored));
        }),
        put_options);

    router.add(
        http::Method::delete_, item_path,
        http::Task([&database, &clock, limiter](http::Request&, http::RequestContext& context)
                       -> boost::asio::awaitable<http::Response> {
            std::string key(context.path_param("key"));
            if (auto valid = validate_override_key(key); !valid)
                co_return invalid_key(valid.error());
            Result<std::int64_t> deleted = Error::internal("not run");
            co_await context.run_database([&] {
                Result<void> done = database.transact([&](db::Transaction& tx) -> Result<void> {
                    deleted =
                        tx.execute("DELETE FROM gateway_rate_limit_overrides WHERE key = ?", {key});
                    if (!deleted) return deleted.error();
                    if (*deleted == 0) return {};
                    if (auto emitted = emit_override_event(tx, clock, "deleted", key, std::nullopt,
                                                           change_actor(context));
                        !emitted) {
                        return emitted.error();
                    }
                    return bump_version(tx);
                });
                if (!done && deleted) deleted = done.error();
            });
            if (!deleted) co_return http::Response::from_error(deleted.error());
            if (*deleted == 0) {
                co_return http::Response::make_problem(404, "not-found", "Not Found",
                                                       "No override for this key.");
            }
            limiter->overrides().erase(key);
            co_return http::Response::no_content();
        }),
        [&guarded] {
            auto options = guarded("Delete a runtime rate-limit override", "");
            options.success_statuses = {204};
            return options;
        }());
}

}  // namespace nimbus::gateway
