#include "observe/observe.hpp"

#include "core/log.hpp"

#include <unistd.h>

#include <fstream>

#include <boost/asio/awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

namespace nimbus::observe {
namespace {

constexpr std::int64_t kMsPerSecond = 1000;

/// Every known migration must be applied; returns what is missing or the database error.
Result<void> check_migrations(db::Database& database,
                              std::span<const db::ModuleMigrations> modules) {
    auto applied = db::applied_migrations(database);
    if (!applied) return applied.error();
    for (const auto& module : modules) {
        for (const auto& migration : *module.migrations) {
            bool found = false;
            for (const auto& row : *applied) {
                if (row.module == module.module && row.version == migration.version) {
                    found = true;
                    break;
                }
            }
            if (!found) {
                return Error::unavailable("migration " + std::string(module.module) + "/" +
                                          std::to_string(migration.version) + "_" +
                                          std::string(migration.name) +
                                          " is not applied; run `nimbus migrate up`");
            }
        }
    }
    return {};
}

http::Response unavailable(std::string detail) {
    http::Response response =
        http::Response::make_problem(503, "not-ready", "Service Unavailable", std::move(detail));
    response.set_header("retry-after", "1");
    response.set_header("cache-control", "no-store");
    return response;
}

}  // namespace

std::int64_t resident_memory_bytes() {
    std::ifstream statm("/proc/self/statm");
    std::int64_t total_pages = 0;
    std::int64_t resident_pages = 0;
    if (!(statm >> total_pages >> resident_pages)) return 0;
    return resident_pages * static_cast<std::int64_t>(::sysconf(_SC_PAGESIZE));
}

void register_process_metrics(metrics::Registry& registry, const BuildInfo& build) {
    registry.gauge_callback("process_resident_memory_bytes", "Resident memory size in bytes.",
                            [] { return static_cast<double>(resident_memory_bytes()); });
    registry
        .gauge("nimbus_build_info", "Always 1; the labels describe the running binary.",
               {"version", "commit", "build_type"})
        .with({build.version, build.commit, build.build_type})
        .set(1);
}

db::QueryObserver database_observer(metrics::Registry& registry) {
    auto& family = registry.histogram("nimbus_db_query_duration_seconds",
                                      "Time per database statement.", {"outcome"});
    metrics::Histogram* ok = &family.with({"ok"});
    metrics::Histogram* failed = &family.with({"error"});
    return [ok, failed](std::chrono::nanoseconds elapsed, bool succeeded) {
        (succeeded ? ok : failed)->observe(std::chrono::duration<double>(elapsed).count());
    };
}

// The 2xx answers, for the OpenAPI document and the response check of debug builds.
constexpr std::string_view kHealthAnswer = R"({
  "type": "object", "required": ["status"],
  "properties": {"status": {"type": "string", "enum": ["ok"]}}})";

constexpr std::string_view kReadyAnswer = R"({
  "type": "object", "required": ["status", "checks"],
  "properties": {
    "status": {"type": "string", "enum": ["ready"]},
    "checks": {"type": "object", "required": ["database", "migrations"],
               "properties": {"database": {"type": "string", "enum": ["ok"]},
                              "migrations": {"type": "string", "enum": ["ok"]}}}}})";

constexpr std::string_view kMetricsAnswer = R"({
  "type": "string", "description": "Prometheus text exposition format 0.0.4"})";

constexpr std::string_view kSystemInfoAnswer = R"({
  "type": "object",
  "required": ["version", "commit", "build_type", "started_at", "uptime_seconds", "database",
               "migrations"],
  "properties": {
    "version": {"type": "string"},
    "commit": {"type": "string"},
    "build_type": {"type": "string"},
    "started_at": {"type": "string", "format": "date-time"},
    "uptime_seconds": {"type": "integer"},
    "database": {"type": "object", "required": ["backend"],
                 "properties": {"backend": {"type": "string", "enum": ["sqlite", "postgres"]}}},
    "migrations": {"type": "array", "items": {
      "type": "object", "required": ["module", "version", "name", "applied_at"],
      "properties": {
        "module": {"type": "string"},
        "version": {"type": "integer"},
        "name": {"type": "string"},
        "applied_at": {"type": "string",
                       "description": "RFC 3339 date-time; empty when not recorded"}}}}}})";

void add_routes(http::Router& router, const Dependencies& deps) {
    // Probes are polled often; their lines would drown the access log, and a load balancer or
    // Prometheus must never be refused by a budget meant for API callers.
    auto quiet = [](std::string_view response_schema) {
        return http::RouteOptions{.skip_steps = {"access_log", "rate_limit"},
                                  .response_schema = std::string(response_schema)};
    };

    router.add(http::Method::get, "/healthz",
               http::SyncHandler([](http::Request&, http::RequestContext&) {
                   http::Response response =
                       http::Response::json(200, boost::json::object{{"status", "ok"}});
                   response.set_header("cache-control", "no-store");
                   return response;
               }),
               quiet(kHealthAnswer));

    router.add(
        http::Method::get, "/readyz",
        http::Task([deps](http::Request&,
                          http::RequestContext& context) -> boost::asio::awaitable<http::Response> {
            Result<void> ping;
            Result<void> migrations;
            co_await context.run_database([&] {
                ping = deps.database.ping();
                if (ping) migrations = check_migrations(deps.database, deps.modules);
            });
            // The cause goes to the log; the answer names only the failing check, since probes
            // are often reachable from outside.
            if (!ping) {
                log::warn("not ready: database unreachable", {{"error", ping.error().message}});
                co_return unavailable("database: unreachable");
            }
            if (!migrations) co_return unavailable("migrations: " + migrations.error().message);
            http::Response response = http::Response::json(
                200, boost::json::object{{"status", "ready"},
                                         {"checks", boost::json::object{{"database", "ok"},
                                                                        {"migrations", "ok"}}}});
            response.set_header("cache-control", "no-store");
            co_return response;
        }),
        quiet(kReadyAnswer));

    router.add(
        http::Method::get, "/metrics",
        http::SyncHandler([&registry = deps.registry](http::Request&, http::RequestContext&) {
            return http::Response::text(200, registry.render(),
                                        "text/plain; version=0.0.4; charset=utf-8");
        }),
        [&quiet] {
            auto options = quiet(kMetricsAnswer);
            options.response_media_type = "text/plain; version=0.0.4";
            return options;
        }());

    router.add(
        http::Method::get, "/api/v1/system/info",
        http::Task([deps](http::Request&,
                          http::RequestContext& context) -> boost::asio::awaitable<http::Response> {
            Result<std::vector<db::MigrationStatus>> applied = Error::internal("not read");
            co_await context.run_database([&] { applied = db::applied_migrations(deps.database); });
            if (!applied) co_return http::Response::from_error(applied.error());
            boost::json::array migrations;
            for (const auto& migration : *applied) {
                migrations.push_back(boost::json::object{
                    {"module", migration.module},
                    {"version", migration.version},
                    {"name", migration.name},
                    {"applied_at",
                     migration.applied_at_ms ? format_rfc3339(*migration.applied_at_ms) : ""}});
            }
            std::int64_t now = deps.clock.now_ms();
            boost::json::object body{
                {"version", deps.build.version},
                {"commit", deps.build.commit},
                {"build_type", deps.build.build_type},
                {"started_at", format_rfc3339(deps.started_at_ms)},
                {"uptime_seconds", (now - deps.started_at_ms) / kMsPerSecond},
                {"database",
                 boost::json::object{{"backend", db::to_string(deps.database.backend())}}},
                {"migrations", std::move(migrations)}};
            http::Response response = http::Response::json(200, body);
            response.set_header("cache-control", "no-store");
            co_return response;
        }),
        http::RouteOptions{.response_schema = std::string(kSystemInfoAnswer)});
}

}  // namespace nimbus::observe
