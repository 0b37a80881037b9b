// The composition root: builds every module of a node and wires them together, in plain code.
#include "app/node.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include <fmt/format.h>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>

#include "app/build_info.hpp"
#include "audit/audit.hpp"
#include "core/clock.hpp"
#include "core/log.hpp"
#include "events/events.hpp"
#include "gateway/gateway.hpp"
#include "http/http.hpp"
#include "identity/identity.hpp"
#include "mail/mail.hpp"
#include "observe/observe.hpp"

namespace nimbus::app {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kMasterKeyCheck = "master_key_check";
constexpr std::string_view kMasterKeyCheckPlaintext = "nimbus master key check v1";
constexpr std::string_view kDatabaseFile = "nimbus.db";
constexpr std::string_view kLockFile = "nimbus.lock";
constexpr std::string_view kMasterKeyFile = "master.key";
constexpr mode_t kLockFileMode = 0600;

/// The worker pool runs what blocks: password hashes (at most one per core at a time), commits
/// waiting on fsync, PostgreSQL round trips, mail. Most of its threads wait, so it is kept well
/// above the core count: a sign-in waiting for its commit must never leave a hashing slot idle
/// (docs/benchmarks.md, "Sign-in").
int blocking_threads(const config::HttpConfig& http) {
    constexpr int kPerCore = 4;
    constexpr int kAtLeast = 8;
    if (http.blocking_threads > 0) return static_cast<int>(http.blocking_threads);
    int cores = static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
    return std::max(kAtLeast, kPerCore * cores);
}

fs::path master_key_path(const config::Config& config) {
    if (!config.master_key.file.empty()) return config.master_key.file;
    return fs::path(config.data.dir) / kMasterKeyFile;
}

identity::Settings identity_settings(const config::IdentityConfig& config) {
    identity::Settings settings;
    settings.issuer = config.issuer;
    settings.audience = config.audience;
    settings.access_token_ttl_s = config.access_token_ttl_s;
    settings.refresh_token_ttl_s = config.refresh_token_ttl_s;
    settings.hashing.ops_limit = static_cast<std::uint64_t>(config.argon2_ops_limit);
    settings.hashing.mem_limit_kib = static_cast<std::uint64_t>(config.argon2_mem_limit_kib);
    settings.lockout = {.account_failures = config.lockout_failures,
                        .address_failures = config.lockout_address_failures,
                        .window_s = config.lockout_window_s,
                        .duration_s = config.lockout_duration_s,
                        .delay_base_ms = config.login_delay_ms,
                        .delay_max_ms = config.login_delay_max_ms};
    settings.signing_key_rotation_days = config.signing_key_rotation_days;
    settings.signing_key_check_s = config.signing_key_check_s;
    settings.revocation_poll_ms = config.revocation_poll_ms;
    settings.ended_session_retention_s = config.ended_session_retention_s;
    settings.mfa_token_ttl_s = config.mfa_token_ttl_s;
    settings.change_email_ttl_s = config.change_email_ttl_s;
    settings.verify_resend_interval_s = config.verify_resend_interval_s;
    settings.totp_issuer = config.totp_issuer;
    return settings;
}

std::string listen_url(const std::string& host, std::uint16_t port,
                       std::string_view scheme = "http") {
    bool v6 = host.find(':') != std::string::npos;
    return fmt::format("{}://{}{}{}:{}", scheme, v6 ? "[" : "", host, v6 ? "]" : "", port);
}

/// The limiter's settings from the config (route overrides were validated when it loaded).
gateway::RateLimitSettings rate_limit_settings(const config::RateLimitConfig& config) {
    gateway::RateLimitSettings settings;
    settings.principal = {.requests_per_minute = config.requests_per_minute, .burst = config.burst};
    settings.anonymous = {.requests_per_minute = config.anonymous_requests_per_minute};
    settings.org = {.requests_per_minute = config.org_requests_per_minute};
    for (const auto& text : config.route_overrides) {
        if (auto parsed = gateway::parse_route_rate_limit(text)) settings.routes.push_back(*parsed);
    }
    settings.max_buckets = static_cast<std::size_t>(config.max_buckets);
    settings.redis = config.backend == "redis";
    settings.redis_url = config.redis_url;
    settings.redis_timeout = std::chrono::milliseconds(config.redis_timeout_ms);
    settings.fail_open = config.failure_mode == "open";
    for (const auto& text : config.plans) {
        auto plan = config::parse_plan(text);  // validated when the config loaded
        settings.plans[plan->name] = {.requests_per_minute = plan->requests_per_minute,
                                      .burst = plan->burst};
    }
    settings.default_plan = config.default_plan;
    // settings.plan_lookup stays null until billing knows each org's plan: every principal is
    // then on default_plan.
    return settings;
}

/// The firewall's settings from the config; exclusions were validated when it loaded, parsing
/// them again here is what turns them into values.
Result<gateway::FirewallSettings> firewall_settings(const config::Config& config) {
    gateway::FirewallSettings settings;
    settings.blocking = config.firewall.mode == "blocking";
    settings.paranoia_level = static_cast<int>(config.firewall.paranoia_level);
    settings.inbound_anomaly_threshold =
        static_cast<int>(config.firewall.inbound_anomaly_threshold);
    settings.crs_dir = config.firewall.crs_dir;
    settings.extra_rules_file = config.firewall.extra_rules_file;
    settings.prefilter = config.firewall.prefilter;
    settings.prefilter_cache_entries =
        static_cast<std::size_t>(config.firewall.prefilter_cache_entries);
    settings.max_inspected_body_bytes = static_cast<std::size_t>(config.http.max_body_bytes);
    for (const auto& text : config.firewall.rule_exclusions) {
        auto exclusion = gateway::parse_rule_exclusion(text);
        if (!exclusion) {
            return Error::invalid("config key 'firewall.rule_exclusions': " +
                                  exclusion.error().message);
        }
        settings.exclusions.push_back(*exclusion);
    }
    return settings;
}

/// The IP rules' settings: trusted proxies parsed strictly (host bits too), GeoIP opened.
Result<gateway::IpRulesSettings> ip_rules_settings(const config::FirewallConfig& config) {
    gateway::IpRulesSettings settings;
    auto proxies = gateway::parse_cidrs(config.trusted_proxies);
    if (!proxies) {
        return Error::invalid("config key 'firewall.trusted_proxies': " + proxies.error().message);
    }
    settings.trusted_proxies = std::move(*proxies);
    auto geoip = gateway::GeoIp::open(config.geoip_database, config.geoip_v6_database);
    if (!geoip) return geoip.error();
    settings.geoip = std::move(*geoip);
    return settings;
}

}  // namespace

std::vector<db::ModuleMigrations> all_migrations() {
    return {
        {"system", &migrations()},           {"events", &events::migrations()},
        {"mail", &mail::migrations()},       {"identity", &identity::migrations()},
        {"gateway", &gateway::migrations()}, {"audit", &audit::migrations()},
    };
}

Result<std::unique_ptr<DataDirLock>> DataDirLock::acquire(const std::string& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec)
        return Error::unavailable(fmt::format("cannot create data dir {}: {}", dir, ec.message()));
    if (::access(dir.c_str(), W_OK) != 0) {
        return Error::unavailable(
            fmt::format("data dir {} is not writable: {}", dir, std::strerror(errno)));
    }
    fs::path lock_path = fs::path(dir) / kLockFile;
    int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, kLockFileMode);
    if (fd < 0) {
        return Error::unavailable(
            fmt::format("data dir {} is not writable: {}", dir, std::strerror(errno)));
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        std::string holder;
        std::ifstream(lock_path) >> holder;
        ::close(fd);
        return Error::conflict(
            fmt::format("data dir {} is in use by another nimbus process{}; stop it or choose "
                        "another --data-dir",
                        dir, holder.empty() ? "" : " (pid " + holder + ")"));
    }
    std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 ||
        ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
        ::close(fd);
        return Error::unavailable(
            fmt::format("data dir {} is not writable: {}", dir, std::strerror(errno)));
    }
    return std::unique_ptr<DataDirLock>(new DataDirLock(fd));
}

DataDirLock::~DataDirLock() { ::close(fd_); }

Result<std::unique_ptr<db::Database>> open_database(const config::Config& config,
                                                    db::QueryObserver observer) {
    db::Options options;
    options.url = config.database.url;
    options.sqlite_path = (fs::path(config.data.dir) / kDatabaseFile).string();
    if (config.database.url.starts_with("sqlite:"))
        options.sqlite_path = config.database.url.substr(7);
    options.sqlite_synchronous = config.database.sqlite_synchronous;
    options.busy_timeout = std::chrono::milliseconds(config.database.busy_timeout_ms);
    options.pool_size = static_cast<int>(config.database.pool_size);
    options.connect_retries = static_cast<int>(config.database.connect_retries);
    options.connect_retry_interval =
        std::chrono::milliseconds(config.database.connect_retry_interval_ms);
    options.observer = std::move(observer);
    return db::open(options);
}

Result<crypto::MasterKey> load_master_key(const config::Config& config, db::Database& database,
                                          std::int64_t now_ms) {
    fs::path path = master_key_path(config);
    auto check = database.query("SELECT value FROM system_state WHERE key = ?", {kMasterKeyCheck});
    if (!check) return check.error();
    if (!check->empty()) {
        auto key = crypto::MasterKey::load_or_create(path, /*create_if_missing=*/false);
        if (!key) {
            if (key.error().code == ErrorCode::not_found) {
                return Error::invalid(
                    fmt::format("the master key file {} is missing, but this data was sealed with "
                                "a master key; restore the "
                                "file (or point NIMBUS_MASTER_KEY_FILE at it) instead of starting "
                                "with a new key",
                                path.string()));
            }
            return key.error();
        }
        auto opened = key->open(check->front().get_blob(0), kMasterKeyCheck);
        if (!opened || *opened != kMasterKeyCheckPlaintext) {
            return Error::invalid(
                fmt::format("the master key in {} does not match this data (it was sealed with "
                            "another key); restore the "
                            "original key file",
                            path.string()));
        }
        return key;
    }
    auto key = crypto::MasterKey::load_or_create(path, /*create_if_missing=*/true);
    if (!key) return key.error();
    crypto::Bytes sealed = key->seal(kMasterKeyCheckPlaintext, kMasterKeyCheck);
    auto recorded = database.transact([&](db::Transaction& tx) -> Result<void> {
        auto inserted = tx.execute(
            "INSERT INTO system_state (key, value, updated_at_ms) VALUES (?, ?, ?) ON CONFLICT "
            "(key) DO NOTHING",
            {kMasterKeyCheck, db::Bytes(sealed.begin(), sealed.end()), now_ms});
        if (!inserted) return inserted.error();
        return {};
    });
    if (!recorded) return recorded.error();
    // Another node may have recorded its check value first; verify against whatever is stored.
    return load_master_key(config, database, now_ms);
}

int serve(const config::Config& config) {
    SystemClock clock;
    const std::int64_t started_at_ms = clock.now_ms();
    const observe::BuildInfo build = build_info();

    auto lock = DataDirLock::acquire(config.data.dir);
    if (!lock) {
        log::error("cannot start", {{"error", lock.error().message}});
        return kExitFailure;
    }

    metrics::Registry registry;
    observe::register_process_metrics(registry, build);

    auto database = open_database(config, observe::database_observer(registry));
    if (!database) {
        log::error("cannot open the database", {{"error", database.error().message}});
        return kExitFailure;
    }
    std::vector<db::ModuleMigrations> modules = all_migrations();
    auto migrated = db::migrate_up(**database, modules, clock.now_ms());
    if (!migrated) {
        log::error("cannot apply migrations", {{"error", migrated.error().message}});
        return kExitFailure;
    }
    auto master_key = load_master_key(config, **database, clock.now_ms());
    if (!master_key) {
        log::error("cannot load the master key", {{"error", master_key.error().message}});
        return kExitFailure;
    }

    // Domain modules subscribe to the outbox here, before it starts delivering.
    events::Dispatcher dispatcher(
        **database, clock,
        {.poll_interval = std::chrono::milliseconds(config.events.poll_interval_ms),
         .retention = std::chrono::hours(config.events.retention_hours),
         .on_error = [](const Error& error) {
             log::warn("outbox delivery failed", {{"error", error.message}});
         }});
    // The audit log appends every audited event (identity, gateway) to its hash chain.
    audit::Log audit_log(**database, clock);
    if (auto subscribed = dispatcher.subscribe_batch(
            "audit",
            [&audit_log](const std::vector<events::Event>& events) -> Result<void> {
                // A batch in one transaction: one commit for a pass's sign-ins, not one each.
                auto recorded = audit_log.record_all(events);
                if (!recorded) return recorded.error();
                return {};
            });
        !subscribed) {
        log::error("cannot subscribe the audit log", {{"error", subscribed.error().message}});
        return kExitFailure;
    }
    if (auto started = dispatcher.start(); !started) {
        log::error("cannot start the outbox dispatcher", {{"error", started.error().message}});
        return kExitFailure;
    }
    registry.gauge_callback("nimbus_outbox_pending_deliveries",
                            "Event deliveries to subscribers not yet acknowledged.", [&dispatcher] {
                                auto stats = dispatcher.stats();
                                return stats ? static_cast<double>(stats->pending_deliveries)
                                             : -1.0;
                            });

    // Mail goes to SMTP when configured, otherwise to the dev mailbox table, always through the
    // durable queue: services queue it in their transaction and its worker sends it, so no
    // request waits on (or fails with) the mail server.
    std::unique_ptr<mail::Mailer> mailer = mail::make_mailer(
        {.smtp_url = config.mail.smtp_url, .from = config.mail.from}, **database, clock);
    mail::Queue mail_queue(
        **database, clock, *master_key, *mailer,
        {.poll_interval = std::chrono::milliseconds(config.mail.queue_poll_ms),
         .initial_backoff = std::chrono::milliseconds(config.mail.retry_initial_ms),
         .max_backoff = std::chrono::milliseconds(config.mail.retry_max_ms),
         .give_up_after = std::chrono::seconds(config.mail.give_up_after_s),
         .registry = &registry});
    if (auto started = mail_queue.start(); !started) {
        log::error("cannot start the mail queue", {{"error", started.error().message}});
        return kExitFailure;
    }
    registry.gauge_callback("nimbus_mail_queued", "Messages waiting in the mail queue.",
                            [&mail_queue] {
                                auto stats = mail_queue.stats();
                                return stats ? static_cast<double>(stats->queued) : -1.0;
                            });

    // Identity: accounts, sessions and tokens; its signing keys are sealed with the master key.
    identity::Service identity_service(**database, clock, *master_key, mail_queue,
                                       identity_settings(config.identity));
    if (auto started = identity_service.start(); !started) {
        log::error("cannot start identity", {{"error", started.error().message}});
        return kExitFailure;
    }
    // Organizations, members, roles and API keys; its authenticate step wraps the accounts' one.
    identity::Organizations organizations(
        **database, clock, mail_queue,
        {.base_url = config.identity.issuer,
         .invitation_ttl_s = config.identity.invitation_ttl_s,
         .membership_cache_ttl_ms = config.identity.membership_cache_ttl_ms,
         .membership_cache_entries =
             static_cast<std::size_t>(config.identity.membership_cache_entries),
         .api_key_touch_interval_s = config.identity.api_key_touch_interval_s,
         .operator_emails = config.identity.operator_emails});
    if (auto started = organizations.start(); !started) {
        log::error("cannot start organizations", {{"error", started.error().message}});
        return kExitFailure;
    }
    // Signing keys rotate on a schedule kept in the database; every node re-reads them.
    identity_service.start_key_maintenance();
    identity_service.start_sweep(config.identity.sweep_interval_s);
    identity_service.start_revocation_poll();

    http::Router router;
    observe::add_routes(router, {.build = build,
                                 .started_at_ms = started_at_ms,
                                 .clock = clock,
                                 .database = **database,
                                 .modules = modules,
                                 .registry = registry});
    identity::add_routes(router, identity_service);
    identity::add_org_routes(router, organizations);
    // The OpenID provider signs with the identity keys and shares its issuer and audience, so
    // its access tokens work on /api/v1 too.
    identity::OidcProvider oidc_provider(
        **database, clock, identity_service,
        {.issuer = config.identity.issuer,
         .audience = config.identity.audience,
         .access_token_ttl_s = config.identity.access_token_ttl_s,
         .id_token_ttl_s = config.identity.access_token_ttl_s,
         .refresh_token_ttl_s = config.identity.refresh_token_ttl_s});
    identity::add_oidc_routes(router, oidc_provider, identity_service);
    if (config.mail.dev_mailbox) mail::add_dev_mailbox_routes(router, **database);
    audit::add_routes(router, audit_log);
    http::add_openapi_route(router, build.version);
    std::shared_ptr<http::StaticFiles> console = http::StaticFiles::load(config.console.dir);
    router.set_fallback([console](http::Request& request, http::RequestContext&) {
        return console->serve(request);
    });
    if (console->file_count() == 0) {
        log::warn("web console not found; / shows how to build it",
                  {{"console_dir", config.console.dir}});
    }

    // The firewall: the CRS is parsed once here (tens of milliseconds) and shared by every I/O
    // thread. IP rules are read from the database now and after each admin change.
    // Blocks reach the audit log through a bounded queue: the firewall runs on I/O threads,
    // which must not wait on the database. Declared before the servers, which push into it.
    audit::EventQueue firewall_events(
        **database, clock, &registry,
        {.on_committed = [&dispatcher] { dispatcher.wake(); },
         .on_error =
             [](const Error& error) {
                 log::warn("firewall blocks not recorded", {{"error", error.message}});
             }});
    std::unique_ptr<http::Middleware> firewall_step;
    gateway::FirewallStatus firewall_status;  // what GET /api/v1/admin/firewall reports
    if (config.firewall.enabled) {
        auto settings = firewall_settings(config);
        if (!settings) {
            log::error("cannot build the firewall", {{"error", settings.error().message}});
            return kExitFailure;
        }
        auto firewall = gateway::Firewall::create(*settings);
        if (!firewall) {
            log::error("cannot build the firewall", {{"error", firewall.error().message}});
            return kExitFailure;
        }
        firewall_step = gateway::make_firewall_step(
            *firewall, &registry, [&firewall_events](gateway::FirewallBlock block) {
                boost::json::object data{{"request_id", block.request_id},
                                         {"route", block.route},
                                         {"method", block.method},
                                         {"ip", block.client_address},
                                         {"status", block.status},
                                         {"rule_ids", boost::json::value_from(block.rule_ids)}};
                firewall_events.push({.type = "nimbus.gateway.firewall.blocked",
                                      .source = "/nimbus/gateway",
                                      .subject = "request:" + block.request_id,
                                      .data_json = boost::json::serialize(data)});
            });
        log::info("firewall ready", {{"mode", config.firewall.mode},
                                     {"paranoia_level", config.firewall.paranoia_level}});
        firewall_status = {
            .enabled = true,
            .blocking = settings->blocking,
            .paranoia_level = settings->paranoia_level,
            .inbound_anomaly_threshold = settings->inbound_anomaly_threshold,
            .rule_exclusions = static_cast<std::int64_t>(settings->exclusions.size()),
            .firewall = *firewall};
    }
    gateway::add_firewall_status_route(router, std::move(firewall_status));
    auto ip_settings = ip_rules_settings(config.firewall);
    if (!ip_settings) {
        log::error("cannot build the IP rules", {{"error", ip_settings.error().message}});
        return kExitFailure;
    }
    gateway::IpRules ip_rules(**database, std::move(*ip_settings), &registry);
    if (auto loaded = ip_rules.reload(); !loaded) {
        log::error("cannot load the IP rules", {{"error", loaded.error().message}});
        return kExitFailure;
    }
    ip_rules.add_routes(router, clock);

    // Rate limits: built before the pipeline, which takes the step; the admin routes share it.
    std::unique_ptr<http::Middleware> rate_limit_step;
    std::shared_ptr<gateway::RateLimiter> rate_limiter;
    if (config.rate_limit.enabled) {
        auto limiter = gateway::make_rate_limiter(rate_limit_settings(config.rate_limit),
                                                  **database, clock, &registry);
        if (!limiter) {
            log::error("cannot build the rate limiter", {{"error", limiter.error().message}});
            return kExitFailure;
        }
        rate_limiter = *limiter;
        gateway::add_rate_limit_routes(router, *limiter, **database, clock);
        rate_limit_step = gateway::make_rate_limit_step(*limiter, database->get(), clock);
    }

    // Several nodes share one PostgreSQL: runtime changes made on one (IP rules, rate-limit
    // overrides, writes that drop cached responses) reach the others within a poll interval.
    // One SQLite file has one node (the data-dir lock), so there is nothing to share.
    const bool shared_database = (*database)->backend() == db::Backend::postgres;
    const bool any_cached_route =
        std::any_of(router.routes().begin(), router.routes().end(),
                    [](const auto& route) { return route->options.cache_ttl.count() > 0; });
    // Declared before the sync, whose thread calls into the pipeline, so it is destroyed after.
    std::unique_ptr<http::Pipeline> pipeline;
    std::unique_ptr<gateway::ClusterSync> cluster_sync;  // started once the pipeline exists

    auto listen = config::parse_listen(config.http.listen);  // validated when the config loaded
    std::optional<config::ListenAddress> tls_listen;
    if (!config.tls.listen.empty()) tls_listen = *config::parse_listen(config.tls.listen);
    std::uint16_t https_redirect_port =
        tls_listen && config.tls.redirect_http ? tls_listen->port : 0;
    pipeline = http::default_pipeline(
        {.cors_origins = config.http.cors_origins,
         .access_log = config.http.access_log,
         .gzip_min_bytes = static_cast<std::size_t>(config.http.gzip_min_bytes),
         .ip_rules = ip_rules.make_step(),
         .firewall = std::move(firewall_step),
         .authenticate =
             organizations.make_authenticate_step(identity_service.make_authenticate_step()),
         .rate_limit = std::move(rate_limit_step),
         .response_cache_bytes = static_cast<std::size_t>(config.http.response_cache_bytes),
         .https_redirect_port = https_redirect_port,
         .hsts_max_age_s = config.tls.hsts_max_age_s,
         // Set before the server starts, so no request sees it null.
         .on_cache_write = shared_database && any_cached_route
                               ? std::function<void(const std::string&)>(
                                     [&cluster_sync](const std::string& path) {
                                         cluster_sync->publish_invalidation(path);
                                     })
                               : nullptr},
        &registry);
    if (shared_database) {
        auto started = gateway::ClusterSync::start(
            **database, clock,
            {.poll_interval = std::chrono::milliseconds(config.gateway.sync_interval_ms),
             .ip_rules = &ip_rules,
             .rate_limiter = rate_limiter,
             .invalidate_cached = [&pipeline](const std::string& path) {
                 pipeline->invalidate_cached(path);
             }});
        if (!started) {
            log::error("cannot start the cluster sync", {{"error", started.error().message}});
            return kExitFailure;
        }
        cluster_sync = std::move(*started);
    }
    // Both listeners (HTTP, and HTTPS when configured) share the router and the pipeline.
    auto server_options = [&](const config::ListenAddress& address) {
        return http::ServerOptions{
            .host = address.host,
            .port = address.port,
            .threads = static_cast<int>(config.http.threads),
            .blocking_threads = blocking_threads(config.http),
            .database_inline = (*database)->backend() == db::Backend::sqlite,
            .max_body_bytes = static_cast<std::size_t>(config.http.max_body_bytes),
            .max_header_bytes = static_cast<std::size_t>(config.http.max_header_bytes),
            .header_timeout = std::chrono::milliseconds(config.http.header_timeout_ms),
            .body_timeout = std::chrono::milliseconds(config.http.body_timeout_ms),
            .idle_timeout = std::chrono::milliseconds(config.http.idle_timeout_ms),
            .shutdown_grace = std::chrono::milliseconds(config.http.shutdown_grace_ms)};
    };
    http::Server server(server_options(*listen), router, *pipeline, &registry);
    std::unique_ptr<http::Server> secure_server;
    if (tls_listen) {
        http::ServerOptions options = server_options(*tls_listen);
        options.tls = http::ServerOptions::TlsOptions{config.tls.cert_file, config.tls.key_file,
                                                      config.tls.allow_tls12};
        secure_server = std::make_unique<http::Server>(options, router, *pipeline, &registry);
    }
    registry.gauge_callback("nimbus_http_open_connections", "Client connections open now.",
                            [&server, &secure_server] {
                                std::int64_t open = server.open_connections();
                                if (secure_server) open += secure_server->open_connections();
                                return static_cast<double>(open);
                            });
    if (auto started = server.start(); !started) {
        log::error("cannot start the HTTP server", {{"error", started.error().message}});
        return kExitFailure;
    }
    if (secure_server) {
        if (auto started = secure_server->start(); !started) {
            log::error("cannot start the HTTPS server", {{"error", started.error().message}});
            server.stop();
            server.wait();
            return kExitFailure;
        }
    }
    std::string tls_url = secure_server
                              ? listen_url(tls_listen->host, secure_server->port(), "https")
                              : std::string();
    log::info("nimbus is ready", {{"url", listen_url(listen->host, server.port())},
                                  {"tls_url", tls_url},
                                  {"version", build.version},
                                  {"stage", config.stage},
                                  {"database", db::to_string((*database)->backend())},
                                  {"data_dir", config.data.dir},
                                  {"startup_ms", clock.now_ms() - started_at_ms}});
    log::flush();  // operators and scripts wait for this line

    // SIGTERM, SIGINT and SIGHUP were blocked in every thread by main(); take them here.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    int received = 0;
    while (sigwait(&signals, &received) == 0 && received == SIGHUP) {
        if (!secure_server) continue;
        if (auto reloaded = secure_server->reload_tls(); reloaded) {
            log::info("TLS certificate reloaded", {{"cert_file", config.tls.cert_file}});
        } else {
            log::error("TLS certificate not reloaded; the previous one stays in use",
                       {{"error", reloaded.error().message}});
        }
    }
    log::info("shutting down", {{"signal", received == SIGTERM ? "SIGTERM" : "SIGINT"},
                                {"grace_ms", config.http.shutdown_grace_ms}});
    if (secure_server) secure_server->stop();
    server.stop();
    if (secure_server) secure_server->wait();
    server.wait();
    // Before the servers are destroyed: a refresh waiting for its commit resumes on their loops.
    identity_service.finish_writes();
    mail_queue.stop();
    dispatcher.stop();
    log::info("stopped");
    return kExitOk;
}

}  // namespace nimbus::app
