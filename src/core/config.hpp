#pragma once
/// Configuration: one typed struct, filled from defaults < TOML file < `NIMBUS_SECTION_KEY`
/// environment variables < command-line flags.
///
/// Every setting is declared once (config.cpp: `declarations()`) with its type, default, allowed
/// values and a one-line description; docs/configuration.md and nimbus.example.toml are generated
/// from those declarations (`nimbus config docs`, `nimbus config example`) and a test keeps them in
/// step. Unknown keys and bad values fail the load with a message naming the key and what is
/// allowed. Secret settings can be read from a file: `NIMBUS_DATABASE_URL_FILE=/run/secrets/db`.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace nimbus::config {

struct HttpConfig {
    std::string listen = "127.0.0.1:8080";
    std::int64_t threads = 0;           ///< 0: one per core
    std::int64_t blocking_threads = 0;  ///< 0: four per core, at least 8
    std::int64_t max_body_bytes = 1024 * 1024;
    std::int64_t max_header_bytes = 16 * 1024;
    std::int64_t header_timeout_ms = 10'000;
    std::int64_t body_timeout_ms = 30'000;
    std::int64_t idle_timeout_ms = 60'000;
    std::int64_t shutdown_grace_ms = 10'000;
    std::int64_t gzip_min_bytes = 1024;
    std::vector<std::string> cors_origins;
    bool access_log = true;
    std::int64_t response_cache_bytes = 64 * 1024 * 1024;  ///< 0: no response cache
};

/// The gateway's firewall: ModSecurity + OWASP CRS, IP and country rules, trusted proxies.
struct FirewallConfig {
    bool enabled = true;
    std::string mode = "blocking";  ///< "blocking" or "detection"
    std::int64_t paranoia_level = 1;
    std::int64_t inbound_anomaly_threshold = 5;
    bool prefilter = true;  ///< skip the engine for requests no rule could score
    std::int64_t prefilter_cache_entries = 1024;  ///< clean texts remembered per thread and class
    std::vector<std::string> rule_exclusions;     ///< "ROUTE_TEMPLATE=ruleid,ruleid"
    std::string extra_rules_file;
    std::string crs_dir = "/usr/share/modsecurity-crs";
    std::vector<std::string> trusted_proxies;  ///< CIDRs whose X-Forwarded-For is believed
    std::string geoip_database = "/usr/share/GeoIP/GeoIP.dat";
    std::string geoip_v6_database = "/usr/share/GeoIP/GeoIPv6.dat";
};

struct DataConfig {
    std::string dir = "./data";
};

struct DatabaseConfig {
    std::string url;  ///< empty: SQLite file in the data dir
    std::int64_t pool_size = 8;
    std::string sqlite_synchronous = "full";
    std::int64_t busy_timeout_ms = 5'000;
    std::int64_t connect_retries = 0;
    std::int64_t connect_retry_interval_ms = 1'000;
};

struct LogConfig {
    std::string level = "info";
};

struct TlsConfig {
    std::string listen;  ///< empty: no HTTPS listener
    std::string cert_file;
    std::string key_file;
    bool allow_tls12 = false;
    bool redirect_http = false;
    std::int64_t hsts_max_age_s = 31'536'000;  ///< a year: the prod stage's preset
};

struct ConsoleConfig {
    std::string dir = "web/dist";
};

struct MasterKeyConfig {
    std::string file;  ///< empty: <data.dir>/master.key
};

struct EventsConfig {
    std::int64_t poll_interval_ms = 500;
    std::int64_t retention_hours = 168;
};

/// Accounts and tokens (identity/); docs/identity.md.
struct IdentityConfig {
    std::string issuer = "http://127.0.0.1:8080";
    std::string audience = "nimbus";
    std::int64_t access_token_ttl_s = 15 * 60;
    std::int64_t refresh_token_ttl_s = 30 * 24 * 3600;
    std::int64_t argon2_ops_limit = 2;          ///< OWASP: t = 2
    std::int64_t argon2_mem_limit_kib = 19456;  ///< OWASP: m = 19 MiB
    std::int64_t invitation_ttl_s = 7 * 24 * 3600;
    std::int64_t membership_cache_ttl_ms = 5000;  ///< staleness bound across nodes
    std::vector<std::string> operator_emails;
    std::int64_t lockout_failures = 10;           ///< per account (email), known or not
    std::int64_t lockout_address_failures = 100;  ///< per client address
    std::int64_t lockout_window_s = 15 * 60;
    std::int64_t lockout_duration_s = 15 * 60;
    std::int64_t login_delay_ms = 250;  ///< after one failure; doubles with each further one
    std::int64_t login_delay_max_ms = 5000;
    std::int64_t signing_key_rotation_days = 30;  ///< 0: never
    std::int64_t signing_key_check_s = 60;
    std::int64_t sweep_interval_s = 3600;   ///< expired-row sweep period; 0: off
    std::int64_t revocation_poll_ms = 250;  ///< reading other nodes' revocations; 0: off
    /// How long the sweep keeps ended sessions and grants and spent recovery codes.
    std::int64_t ended_session_retention_s = 30 * 24 * 3600;
    std::int64_t mfa_token_ttl_s = 5 * 60;        ///< password accepted, second factor pending
    std::int64_t change_email_ttl_s = 24 * 3600;  ///< the link mailed to a new address
    std::int64_t verify_resend_interval_s = 60;   ///< at most one re-sent verification mail per
                                                  ///< account this often
    std::string totp_issuer = "Nimbus";           ///< shown by authenticator apps
    std::int64_t membership_cache_entries = 10'000;
    std::int64_t api_key_touch_interval_s = 60;  ///< an API key's last use is written this often
};

/// Outgoing mail (mail/).
struct MailConfig {
    std::string smtp_url;  ///< empty: the dev mailbox
    std::string from = "nimbus@localhost";
    bool dev_mailbox = false;  ///< serve GET /api/v1/dev/mailbox (loopback only); stage preset
    std::int64_t queue_poll_ms = 1000;         ///< the mail queue looks for due mail this often
    std::int64_t retry_initial_ms = 5000;      ///< wait after the first failed send; doubles
    std::int64_t retry_max_ms = 300'000;       ///< longest wait between sends of one message
    std::int64_t give_up_after_s = 24 * 3600;  ///< a message not sent by then is dropped
};

/// Request budgets (gateway rate limits); docs/gateway.md.
struct RateLimitConfig {
    bool enabled = true;
    std::int64_t requests_per_minute = 1000;           ///< per user, API key or OAuth client
    std::int64_t burst = 0;                            ///< 0: the same as requests_per_minute
    std::int64_t anonymous_requests_per_minute = 300;  ///< per client address
    std::int64_t org_requests_per_minute = 10000;      ///< 0: no org-wide budget
    std::vector<std::string> route_overrides;          ///< "METHOD /template=N"
    std::int64_t max_buckets = 1'000'000;
    std::string backend = "memory";
    std::string redis_url = "redis://127.0.0.1:6379";
    std::int64_t redis_timeout_ms = 100;
    std::string failure_mode = "open";
    std::vector<std::string> plans;  ///< "NAME=N/min" or "NAME=N/min burst=M"
    std::string default_plan;        ///< the plan of principals no lookup places; empty: none
};

/// Gateway settings shared by its parts.
struct GatewayConfig {
    std::int64_t sync_interval_ms = 1000;  ///< how often nodes look for each other's changes
};

/// The stages and what each presets (config.cpp `stage_presets()`; docs/configuration.md).
inline constexpr std::string_view kStages[] = {"dev", "test", "prod"};

/// The whole configuration of a node.
struct Config {
    /// dev, test or prod: a preset of defaults (firewall mode, CORS, log level, cache, HSTS, dev
    /// mailbox) that any explicit setting overrides.
    std::string stage = "prod";
    HttpConfig http;
    FirewallConfig firewall;
    DataConfig data;
    DatabaseConfig database;
    LogConfig log;
    TlsConfig tls;
    ConsoleConfig console;
    MasterKeyConfig master_key;
    EventsConfig events;
    IdentityConfig identity;
    MailConfig mail;
    RateLimitConfig rate_limit;
    GatewayConfig gateway;
};

/// What to read. The caller (app/) gathers these; nothing here reads the process environment.
struct Sources {
    std::optional<std::filesystem::path> file;               ///< TOML file, from --config
    std::map<std::string, std::string> environment;          ///< the process environment
    std::vector<std::pair<std::string, std::string>> flags;  ///< "http.listen" -> "0.0.0.0:80"
};

struct Loaded {
    Config config;
    std::vector<std::string> warnings;  ///< e.g. an unknown NIMBUS_* environment variable
    /// Where each key's value came from when not its default: "stage prod", "file F line N",
    /// "environment NIMBUS_X", "flag".
    std::map<std::string, std::string> origins;
};

/// Builds the effective configuration. Fails with `invalid_argument` naming the key (and the file
/// and line for TOML) on an unknown key, a wrong type or a value outside what is allowed.
Result<Loaded> load(const Sources& sources);

/// The effective configuration as TOML, secrets redacted (`nimbus config show`); with
/// `origins`, each line says where its value came from.
std::string show(const Config& config, const std::map<std::string, std::string>* origins = nullptr);

/// The reference of every setting as Markdown (docs/configuration.md).
std::string reference_markdown();

/// Every setting with its description and default as a commented TOML file (nimbus.example.toml).
std::string example_toml();

/// The environment variable for a key: "http.listen" -> "NIMBUS_HTTP_LISTEN".
std::string env_name(std::string_view key);

/// A host:port pair parsed from "127.0.0.1:8080" or "[::1]:8080".
struct ListenAddress {
    std::string host;
    std::uint16_t port = 0;
};
Result<ListenAddress> parse_listen(std::string_view text);

/// A plan's budget from `rate_limit.plans`: "pro=10000/min" or "pro=10000/min burst=500".
struct PlanBudget {
    std::string name;  ///< letters, digits, '_' and '-', at most 64
    std::int64_t requests_per_minute = 0;
    std::int64_t burst = 0;  ///< 0: the same as requests_per_minute
};
/// Parses one `rate_limit.plans` entry; the error says what is wrong.
Result<PlanBudget> parse_plan(std::string_view text);

/// A URL with any password replaced by "***", for logs and `config show`.
std::string redact_url(std::string_view url);

}  // namespace nimbus::config
