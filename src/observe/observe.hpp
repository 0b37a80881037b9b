#pragma once
/// Health, readiness, metrics and system information.
///
/// Routes: `GET /healthz` (the process answers), `GET /readyz` (the database answers and every
/// migration the code knows is applied; otherwise 503 naming what is wrong), `GET /metrics`
/// (Prometheus text), `GET /api/v1/system/info` (version, commit, build, uptime, database backend
/// and the applied migrations, read from the database).

#include <cstdint>
#include <span>
#include <string>

#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "db/db.hpp"
#include "http/http.hpp"

namespace nimbus::observe {

/// What this binary is.
struct BuildInfo {
    std::string version;
    std::string commit;
    std::string build_type;  ///< "release" or "debug"
};

/// What the routes read. All references must outlive the router.
struct Dependencies {
    BuildInfo build;
    std::int64_t started_at_ms = 0;
    const Clock& clock;
    db::Database& database;
    std::span<const db::ModuleMigrations> modules;
    metrics::Registry& registry;
};

/// Registers process-level gauges (resident memory, build info) in `registry`.
void register_process_metrics(metrics::Registry& registry, const BuildInfo& build);

/// A QueryObserver that records statement durations in `registry`
/// (nimbus_db_query_duration_seconds{outcome}).
db::QueryObserver database_observer(metrics::Registry& registry);

/// Adds the four routes to `router`.
void add_routes(http::Router& router, const Dependencies& dependencies);

/// Resident set size of this process in bytes (from /proc/self/statm); 0 when unknown.
std::int64_t resident_memory_bytes();

}  // namespace nimbus::observe
