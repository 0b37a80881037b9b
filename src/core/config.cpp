#include "core/config.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <toml++/toml.h>

namespace nimbus::config {
namespace {

constexpr std::string_view kEnvPrefix = "NIMBUS_";
constexpr std::string_view kFileSuffix = "_FILE";
constexpr std::int64_t kMaxPort = 65535;

/// Where a raw value came from, for messages.
struct Origin {
    std::string where;  ///< "file nimbus.toml line 3", "environment NIMBUS_HTTP_LISTEN", "flag"
};

/// One declared setting. `assign_text` parses env and flag values; `assign_toml` file values.
struct Setting {
    std::string key;
    std::string type;  ///< as shown in the docs: "string", "integer 1..64", "one of: a, b"
    std::string description;
    bool secret = false;
    std::function<Result<void>(Config&, std::string_view)> assign_text;
    std::function<Result<void>(Config&, const toml::node&)> assign_toml;
    std::function<std::string(const Config&)> render;  ///< as a TOML value
};

std::string toml_quote(std::string_view text) {
    std::string out = "\"";
    for (char c : text) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\t': out += "\\t"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    out += fmt::format("\\u{:04x}", static_cast<int>(c));
                } else {
                    out.push_back(c);
                }
        }
    }
    return out + "\"";
}

// Accessors take a mutable Config so one lambda serves both assignment and rendering; render()
// only reads through them, which is why its const_cast is sound.
using StringField = std::function<std::string&(Config&)>;
using IntField = std::function<std::int64_t&(Config&)>;
using BoolField = std::function<bool&(Config&)>;
using ListField = std::function<std::vector<std::string>&(Config&)>;
using Validator = std::function<Result<void>(std::string_view)>;

Result<void> accept_any(std::string_view) { return {}; }

Setting string_setting(const std::string& key, const StringField& field, std::string description,
                       const Validator& validate = accept_any, bool secret = false) {
    Setting s;
    s.key = key;
    s.type = "string";
    s.description = std::move(description);
    s.secret = secret;
    s.assign_text = [field, validate](Config& c, std::string_view raw) -> Result<void> {
        if (auto ok = validate(raw); !ok) return ok;
        field(c) = std::string(raw);
        return {};
    };
    s.assign_toml = [key, field, validate](Config& c, const toml::node& node) -> Result<void> {
        auto value = node.value<std::string>();
        if (!node.is_string() || !value) return Error::invalid("expected a string");
        if (auto ok = validate(*value); !ok) return ok;
        field(c) = *value;
        return {};
    };
    s.render = [field](const Config& c) { return toml_quote(field(const_cast<Config&>(c))); };
    return s;
}

Setting enum_setting(const std::string& key, const StringField& field,
                     std::vector<std::string> allowed, std::string description) {
    std::string allowed_text = fmt::format("{}", fmt::join(allowed, ", "));
    Validator validate = [allowed, allowed_text](std::string_view raw) -> Result<void> {
        if (std::find(allowed.begin(), allowed.end(), raw) == allowed.end()) {
            return Error::invalid(fmt::format("must be one of: {}", allowed_text));
        }
        return {};
    };
    Setting s = string_setting(key, field, std::move(description), validate);
    s.type = "one of: " + allowed_text;
    return s;
}

Setting int_setting(const std::string& key, const IntField& field, std::int64_t min,
                    std::int64_t max, std::string description) {
    Setting s;
    s.key = key;
    s.type = fmt::format("integer {}..{}", min, max);
    s.description = std::move(description);
    auto check = [min, max](std::int64_t value) -> Result<void> {
        if (value < min || value > max) {
            return Error::invalid(fmt::format("must be an integer from {} to {}", min, max));
        }
        return {};
    };
    s.assign_text = [field, check, min, max](Config& c, std::string_view raw) -> Result<void> {
        std::int64_t value = 0;
        auto [end, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), value);
        if (ec != std::errc() || end != raw.data() + raw.size() || raw.empty()) {
            return Error::invalid(fmt::format("must be an integer from {} to {}", min, max));
        }
        if (auto ok = check(value); !ok) return ok;
        field(c) = value;
        return {};
    };
    s.assign_toml = [field, check, min, max](Config& c, const toml::node& node) -> Result<void> {
        if (!node.is_integer()) {
            return Error::invalid(fmt::format("must be an integer from {} to {}", min, max));
        }
        std::int64_t value = *node.value<std::int64_t>();
        if (auto ok = check(value); !ok) return ok;
        field(c) = value;
        return {};
    };
    s.render = [field](const Config& c) { return std::to_string(field(const_cast<Config&>(c))); };
    return s;
}

Setting bool_setting(const std::string& key, const BoolField& field, std::string description) {
    Setting s;
    s.key = key;
    s.type = "boolean";
    s.description = std::move(description);
    s.assign_text = [field](Config& c, std::string_view raw) -> Result<void> {
        if (raw == "true" || raw == "1") {
            field(c) = true;
        } else if (raw == "false" || raw == "0") {
            field(c) = false;
        } else {
            return Error::invalid("must be true or false");
        }
        return {};
    };
    s.assign_toml = [field](Config& c, const toml::node& node) -> Result<void> {
        if (!node.is_boolean()) return Error::invalid("must be true or false");
        field(c) = *node.value<bool>();
        return {};
    };
    s.render = [field](const Config& c) {
        return std::string(field(const_cast<Config&>(c)) ? "true" : "false");
    };
    return s;
}

Setting list_setting(const std::string& key, const ListField& field, std::string description,
                     const Validator& validate_item = accept_any) {
    Setting s;
    s.key = key;
    s.type = "list of strings (comma-separated in env and flags)";
    s.description = std::move(description);
    s.assign_text = [field, validate_item](Config& c, std::string_view raw) -> Result<void> {
        std::vector<std::string> items;
        std::size_t start = 0;
        while (start <= raw.size() && !raw.empty()) {
            std::size_t comma = raw.find(',', start);
            std::string_view item =
                raw.substr(start, comma == std::string_view::npos ? raw.npos : comma - start);
            while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
            while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
            if (!item.empty()) {
                if (auto ok = validate_item(item); !ok) return ok;
                items.emplace_back(item);
            }
            if (comma == std::string_view::npos) break;
            start = comma + 1;
        }
        field(c) = std::move(items);
        return {};
    };
    s.assign_toml = [field, validate_item](Config& c, const toml::node& node) -> Result<void> {
        const toml::array* array = node.as_array();
        if (array == nullptr) return Error::invalid("must be an array of strings");
        std::vector<std::string> items;
        for (const toml::node& element : *array) {
            auto text = element.value<std::string>();
            if (!element.is_string() || !text) return Error::invalid("must be an array of strings");
            if (auto ok = validate_item(*text); !ok) return ok;
            items.push_back(*text);
        }
        field(c) = std::move(items);
        return {};
    };
    s.render = [field](const Config& c) {
        std::vector<std::string> quoted;
        for (const auto& item : field(const_cast<Config&>(c))) quoted.push_back(toml_quote(item));
        return fmt::format("[{}]", fmt::join(quoted, ", "));
    };
    return s;
}

Result<void> validate_listen(std::string_view text) {
    auto parsed = parse_listen(text);
    if (!parsed) return parsed.error();
    return {};
}

Result<void> validate_optional_listen(std::string_view text) {
    if (text.empty()) return {};
    return validate_listen(text);
}

Result<void> validate_database_url(std::string_view text) {
    if (text.empty() || text.starts_with("postgres://") || text.starts_with("postgresql://") ||
        text.starts_with("sqlite:")) {
        return {};
    }
    return Error::invalid("must be empty (SQLite in the data dir), sqlite:PATH, or postgres://...");
}

Result<void> validate_origin(std::string_view text) {
    if (text == "*" || text.starts_with("http://") || text.starts_with("https://")) return {};
    return Error::invalid(fmt::format("'{}' is not an origin: use https://host[:port] or *", text));
}

/// "METHOD /template=N"; gateway::parse_route_rate_limit reads the same form (core cannot use
/// gateway/, so the check is repeated here to stop a bad value at start with exit status 2).
Result<void> validate_route_override(std::string_view text) {
    constexpr std::int64_t kMaxPerMinute = 1'000'000'000;
    const std::string hint =
        fmt::format("'{}' is not METHOD /template=N (e.g. \"POST /api/v1/auth/login=10\")", text);
    std::size_t space = text.find(' ');
    std::size_t equals = text.rfind('=');
    if (space == std::string_view::npos || equals == std::string_view::npos || equals < space)
        return Error::invalid(hint);
    static const std::vector<std::string_view> kMethods = {"GET",   "HEAD",   "POST",   "PUT",
                                                           "PATCH", "DELETE", "OPTIONS"};
    std::string_view method = text.substr(0, space);
    if (std::find(kMethods.begin(), kMethods.end(), method) == kMethods.end())
        return Error::invalid(hint + ": unknown method");
    std::string_view path = text.substr(space + 1, equals - space - 1);
    if (!path.starts_with('/') || path.find(' ') != std::string_view::npos)
        return Error::invalid(hint + ": the template must start with /");
    std::string_view count = text.substr(equals + 1);
    std::int64_t value = 0;
    auto [end, ec] = std::from_chars(count.data(), count.data() + count.size(), value);
    if (count.empty() || ec != std::errc() || end != count.data() + count.size() || value < 1 ||
        value > kMaxPerMinute)
        return Error::invalid(
            fmt::format("{}: N must be an integer from 1 to {}", hint, kMaxPerMinute));
    return {};
}

Result<void> validate_plan(std::string_view text) {
    auto parsed = parse_plan(text);
    if (!parsed) return parsed.error();
    return {};
}

Result<void> validate_plan_name(std::string_view text) {
    if (text.empty()) return {};
    return validate_plan(std::string(text) + "=1/min");
}

Result<void> validate_redis_url(std::string_view text) {
    if (text.starts_with("redis://") && text.size() > std::string_view("redis://").size())
        return {};
    return Error::invalid("must be redis://[:password@]host[:port][/db]");
}

/// An address or address/prefix. gateway::Cidr::parse checks the rest (host bits) at start; this
/// stops a malformed value at load with the key named (core cannot use gateway/).
Result<void> validate_cidr(std::string_view text) {
    constexpr int kIpv4Bits = 32;
    constexpr int kIpv6Bits = 128;
    std::string address(text.substr(0, text.find('/')));
    unsigned char buffer[sizeof(in6_addr)];
    int bits = 0;
    if (::inet_pton(AF_INET, address.c_str(), buffer) == 1) {
        bits = kIpv4Bits;
    } else if (::inet_pton(AF_INET6, address.c_str(), buffer) == 1) {
        bits = kIpv6Bits;
    } else {
        return Error::invalid(
            fmt::format("'{}' is not a CIDR such as 10.0.0.0/8 or fd00::/8", text));
    }
    if (std::size_t slash = text.find('/'); slash != std::string_view::npos) {
        std::string_view prefix = text.substr(slash + 1);
        int value = -1;
        auto [end, ec] = std::from_chars(prefix.data(), prefix.data() + prefix.size(), value);
        if (prefix.empty() || ec != std::errc() || end != prefix.data() + prefix.size() ||
            value < 0 || value > bits) {
            return Error::invalid(fmt::format(
                "'{}' is not a CIDR: the prefix length must be a number from 0 to {}", text, bits));
        }
    }
    return {};
}

/// "ROUTE_TEMPLATE=ruleid,ruleid", as gateway::parse_rule_exclusion reads it.
Result<void> validate_rule_exclusion(std::string_view text) {
    const std::string hint = fmt::format(
        "'{}' is not ROUTE_TEMPLATE=ruleid,ruleid (e.g. \"/api/v1/notes=942100,941100\")", text);
    std::size_t equals = text.rfind('=');
    if (!text.starts_with('/') || equals == std::string_view::npos) return Error::invalid(hint);
    std::string_view ids = text.substr(equals + 1);
    if (ids.empty()) return Error::invalid(hint);
    for (std::size_t start = 0; start <= ids.size();) {
        std::size_t comma = ids.find(',', start);
        std::string_view item =
            ids.substr(start, comma == std::string_view::npos ? ids.npos : comma - start);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
        int rule_id = 0;
        auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), rule_id);
        if (item.empty() || ec != std::errc() || end != item.data() + item.size() || rule_id <= 0)
            return Error::invalid(hint);
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    return {};
}

Result<void> validate_issuer(std::string_view text) {
    if (text.starts_with("http://") || text.starts_with("https://")) return {};
    return Error::invalid("must be the node's public URL, http(s)://host[:port]");
}

Result<void> validate_smtp_url(std::string_view text) {
    if (text.empty() || text.starts_with("smtp://") || text.starts_with("smtps://")) return {};
    return Error::invalid("must be empty (the dev mailbox), smtp://host:port or smtps://...");
}

Result<void> validate_mail_from(std::string_view text) {
    if (text.empty() || text.find('@') == std::string_view::npos ||
        text.find_first_of("\r\n") != std::string_view::npos) {
        return Error::invalid("must be an address, optionally with a name: Name <a@example.com>");
    }
    return {};
}

Result<void> validate_not_empty(std::string_view text) {
    if (text.empty()) return Error::invalid("must not be empty");
    return {};
}

/// Every setting, declared once. The order is the order of the docs.
const std::vector<Setting>& declarations() {
    static const std::vector<Setting> kSettings = [] {
        constexpr std::int64_t kMaxThreads = 256;
        constexpr std::int64_t kMaxBody = std::int64_t{1} << 34;  // 16 GiB
        constexpr std::int64_t kMinHeader = 1024;
        constexpr std::int64_t kMaxHeader = 1024 * 1024;
        constexpr std::int64_t kMaxTimeoutMs = 3'600'000;
        constexpr std::int64_t kMaxPool = 1024;
        constexpr std::int64_t kMaxRetries = 1000;
        constexpr std::int64_t kMaxRetentionHours = 24 * 365;
        constexpr std::int64_t kMaxHstsSeconds = 2 * 365 * 24 * 3600;
        std::vector<Setting> s;
        // First: it is the one top-level key, and TOML needs those before any [section].
        s.push_back(enum_setting(
            "stage", [](Config& c) -> std::string& { return c.stage; },
            {std::string(kStages[0]), std::string(kStages[1]), std::string(kStages[2])},
            "Presets for firewall mode, CORS, log level, response cache, HSTS and the dev mailbox "
            "(docs/configuration.md#stages); any setting given explicitly wins."));
        s.push_back(string_setting(
            "http.listen", [](Config& c) -> std::string& { return c.http.listen; },
            "Address and port to serve HTTP on, host:port or [v6]:port; port 0 picks a free one.",
            validate_listen));
        s.push_back(int_setting(
            "http.threads", [](Config& c) -> std::int64_t& { return c.http.threads; }, 0,
            kMaxThreads, "I/O threads, each with its own event loop; 0 means one per core."));
        s.push_back(int_setting(
            "http.blocking_threads",
            [](Config& c) -> std::int64_t& { return c.http.blocking_threads; }, 0, kMaxThreads,
            "Worker threads for blocking work (password hashing, database commits, mail); 0 "
            "means four per core, at least 8."));
        s.push_back(int_setting(
            "http.max_body_bytes", [](Config& c) -> std::int64_t& { return c.http.max_body_bytes; },
            0, kMaxBody,
            "Largest request body a route accepts unless it sets its own limit (413 above)."));
        s.push_back(int_setting(
            "http.max_header_bytes",
            [](Config& c) -> std::int64_t& { return c.http.max_header_bytes; }, kMinHeader,
            kMaxHeader, "Largest request line plus headers (431 above)."));
        s.push_back(int_setting(
            "http.header_timeout_ms",
            [](Config& c) -> std::int64_t& { return c.http.header_timeout_ms; }, 1, kMaxTimeoutMs,
            "Time a client has to send the request line and headers; slower clients are dropped."));
        s.push_back(int_setting(
            "http.body_timeout_ms",
            [](Config& c) -> std::int64_t& { return c.http.body_timeout_ms; }, 1, kMaxTimeoutMs,
            "Time a client has to send the request body."));
        s.push_back(int_setting(
            "http.idle_timeout_ms",
            [](Config& c) -> std::int64_t& { return c.http.idle_timeout_ms; }, 1, kMaxTimeoutMs,
            "How long an idle keep-alive connection stays open."));
        s.push_back(int_setting(
            "http.shutdown_grace_ms",
            [](Config& c) -> std::int64_t& { return c.http.shutdown_grace_ms; }, 0, kMaxTimeoutMs,
            "On SIGTERM/SIGINT, how long in-flight requests may take to finish."));
        s.push_back(int_setting(
            "http.gzip_min_bytes", [](Config& c) -> std::int64_t& { return c.http.gzip_min_bytes; },
            0, kMaxBody,
            "JSON and text responses at least this large are gzipped when the client accepts it."));
        s.push_back(list_setting(
            "http.cors_origins",
            [](Config& c) -> std::vector<std::string>& { return c.http.cors_origins; },
            "Origins allowed to call the API from a browser (CORS); empty allows none but the same "
            "origin.",
            validate_origin));
        s.push_back(bool_setting(
            "http.access_log", [](Config& c) -> bool& { return c.http.access_log; },
            "Write one JSON log line per request."));
        s.push_back(int_setting(
            "http.response_cache_bytes",
            [](Config& c) -> std::int64_t& { return c.http.response_cache_bytes; }, 0, kMaxBody,
            "Memory for cached GET responses of routes that allow caching; 0 turns the cache "
            "off."));
        constexpr std::int64_t kMaxParanoiaLevel = 4;
        constexpr std::int64_t kMaxAnomalyThreshold = 10'000;
        constexpr std::int64_t kMaxPrefilterCacheEntries = 1'000'000;
        s.push_back(bool_setting(
            "firewall.enabled", [](Config& c) -> bool& { return c.firewall.enabled; },
            "Inspect requests with ModSecurity and the OWASP Core Rule Set."));
        s.push_back(enum_setting(
            "firewall.mode", [](Config& c) -> std::string& { return c.firewall.mode; },
            {"blocking", "detection"},
            "blocking refuses requests whose anomaly score reaches the threshold (403); "
            "detection only logs them."));
        s.push_back(int_setting(
            "firewall.paranoia_level",
            [](Config& c) -> std::int64_t& { return c.firewall.paranoia_level; }, 1,
            kMaxParanoiaLevel,
            "CRS paranoia level: higher levels run more rules and catch more, with more false "
            "positives."));
        s.push_back(int_setting(
            "firewall.inbound_anomaly_threshold",
            [](Config& c) -> std::int64_t& { return c.firewall.inbound_anomaly_threshold; }, 1,
            kMaxAnomalyThreshold,
            "Anomaly score at which a request is refused (a critical rule match scores 5)."));
        s.push_back(bool_setting(
            "firewall.prefilter", [](Config& c) -> bool& { return c.firewall.prefilter; },
            "Pass requests that no rule could score without running ModSecurity (same "
            "verdicts, far less CPU; docs/gateway.md)."));
        s.push_back(int_setting(
            "firewall.prefilter_cache_entries",
            [](Config& c) -> std::int64_t& { return c.firewall.prefilter_cache_entries; }, 0,
            kMaxPrefilterCacheEntries,
            "Texts each I/O thread remembers per kind (header values, paths, argument names and "
            "values) as found clean by the prefilter, so repeats are not screened again; 0: "
            "none."));
        s.push_back(list_setting(
            "firewall.rule_exclusions",
            [](Config& c) -> std::vector<std::string>& { return c.firewall.rule_exclusions; },
            "CRS rules switched off for one route, as \"ROUTE_TEMPLATE=ruleid,ruleid\" (the "
            "template as the route declares it).",
            validate_rule_exclusion));
        s.push_back(string_setting(
            "firewall.extra_rules_file",
            [](Config& c) -> std::string& { return c.firewall.extra_rules_file; },
            "A ModSecurity rules file loaded after the CRS; empty for none. A rule that fails to "
            "load stops the start."));
        s.push_back(string_setting(
            "firewall.crs_dir", [](Config& c) -> std::string& { return c.firewall.crs_dir; },
            "The OWASP Core Rule Set (Debian's modsecurity-crs); its rules/REQUEST-*.conf are "
            "loaded.",
            validate_not_empty));
        s.push_back(list_setting(
            "firewall.trusted_proxies",
            [](Config& c) -> std::vector<std::string>& { return c.firewall.trusted_proxies; },
            "CIDRs of proxies whose X-Forwarded-For is believed; from any other peer it is "
            "ignored.",
            validate_cidr));
        s.push_back(string_setting(
            "firewall.geoip_database",
            [](Config& c) -> std::string& { return c.firewall.geoip_database; },
            "GeoIP country database for IPv4 (Debian's geoip-database); empty disables IPv4 "
            "country rules."));
        s.push_back(string_setting(
            "firewall.geoip_v6_database",
            [](Config& c) -> std::string& { return c.firewall.geoip_v6_database; },
            "GeoIP country database for IPv6; empty disables IPv6 country rules."));
        s.push_back(string_setting(
            "data.dir", [](Config& c) -> std::string& { return c.data.dir; },
            "Directory for the SQLite database, the master key and local files; created if "
            "missing.",
            validate_not_empty));
        s.push_back(string_setting(
            "database.url", [](Config& c) -> std::string& { return c.database.url; },
            "Empty for SQLite in the data dir, or postgres://user:password@host:port/db for "
            "PostgreSQL.",
            validate_database_url, /*secret=*/true));
        s.push_back(int_setting(
            "database.pool_size", [](Config& c) -> std::int64_t& { return c.database.pool_size; },
            1, kMaxPool, "Reader connections (SQLite) or connections in total (PostgreSQL)."));
        s.push_back(enum_setting(
            "database.sqlite_synchronous",
            [](Config& c) -> std::string& { return c.database.sqlite_synchronous; },
            {"full", "normal", "off"},
            "SQLite durability: full survives power loss, normal a process crash, off neither."));
        s.push_back(int_setting(
            "database.busy_timeout_ms",
            [](Config& c) -> std::int64_t& { return c.database.busy_timeout_ms; }, 0, kMaxTimeoutMs,
            "How long a statement waits for a database lock."));
        s.push_back(int_setting(
            "database.connect_retries",
            [](Config& c) -> std::int64_t& { return c.database.connect_retries; }, 0, kMaxRetries,
            "At start, how many times to retry a PostgreSQL server that cannot be reached."));
        s.push_back(int_setting(
            "database.connect_retry_interval_ms",
            [](Config& c) -> std::int64_t& { return c.database.connect_retry_interval_ms; }, 1,
            kMaxTimeoutMs, "Pause between those retries."));
        s.push_back(enum_setting(
            "log.level", [](Config& c) -> std::string& { return c.log.level; },
            {"trace", "debug", "info", "warn", "error"}, "Least severe log level written."));
        s.push_back(string_setting(
            "tls.listen", [](Config& c) -> std::string& { return c.tls.listen; },
            "Address and port to serve HTTPS on, host:port; empty serves no HTTPS.",
            validate_optional_listen));
        s.push_back(string_setting(
            "tls.cert_file", [](Config& c) -> std::string& { return c.tls.cert_file; },
            "PEM certificate chain for HTTPS; read again on SIGHUP."));
        s.push_back(string_setting(
            "tls.key_file", [](Config& c) -> std::string& { return c.tls.key_file; },
            "PEM private key for HTTPS; read again on SIGHUP."));
        s.push_back(bool_setting(
            "tls.allow_tls12", [](Config& c) -> bool& { return c.tls.allow_tls12; },
            "Also accept TLS 1.2 (AEAD ciphers with forward secrecy only); TLS 1.3 otherwise."));
        s.push_back(bool_setting(
            "tls.redirect_http", [](Config& c) -> bool& { return c.tls.redirect_http; },
            "Answer plain-HTTP requests with a redirect to HTTPS (308)."));
        s.push_back(int_setting(
            "tls.hsts_max_age_s", [](Config& c) -> std::int64_t& { return c.tls.hsts_max_age_s; },
            0, kMaxHstsSeconds,
            "Strict-Transport-Security max-age sent over HTTPS; 0 sends none."));
        s.push_back(string_setting(
            "console.dir", [](Config& c) -> std::string& { return c.console.dir; },
            "Directory of the built web console (web/dist); served at /."));
        s.push_back(string_setting(
            "master_key.file", [](Config& c) -> std::string& { return c.master_key.file; },
            "File holding the 256-bit master key that seals secrets at rest; empty means "
            "<data.dir>/master.key."));
        constexpr std::int64_t kMinTokenTtlS = 60;
        constexpr std::int64_t kMaxAccessTokenTtlS = 24 * 3600;
        constexpr std::int64_t kMaxRefreshTokenTtlS = 365 * 24 * 3600;
        constexpr std::int64_t kMaxArgon2Ops = 64;
        constexpr std::int64_t kMinArgon2MemKib = 8;  // libsodium's crypto_pwhash_MEMLIMIT_MIN
        constexpr std::int64_t kMaxArgon2MemKib = 4 * 1024 * 1024;
        s.push_back(string_setting(
            "identity.issuer", [](Config& c) -> std::string& { return c.identity.issuer; },
            "Public URL of this node: the `iss` of access tokens and the base of links in mail.",
            validate_issuer));
        s.push_back(string_setting(
            "identity.audience", [](Config& c) -> std::string& { return c.identity.audience; },
            "The `aud` of access tokens; tokens for another audience are refused.",
            validate_not_empty));
        s.push_back(int_setting(
            "identity.access_token_ttl_s",
            [](Config& c) -> std::int64_t& { return c.identity.access_token_ttl_s; }, kMinTokenTtlS,
            kMaxAccessTokenTtlS, "Lifetime of access tokens (JWT) in seconds."));
        s.push_back(int_setting(
            "identity.refresh_token_ttl_s",
            [](Config& c) -> std::int64_t& { return c.identity.refresh_token_ttl_s; },
            kMinTokenTtlS, kMaxRefreshTokenTtlS,
            "How long a session lasts without a refresh, in seconds."));
        s.push_back(int_setting(
            "identity.argon2_ops_limit",
            [](Config& c) -> std::int64_t& { return c.identity.argon2_ops_limit; }, 1,
            kMaxArgon2Ops,
            "Argon2id passes over memory (OWASP: 2); hashes are upgraded at the next login."));
        s.push_back(int_setting(
            "identity.argon2_mem_limit_kib",
            [](Config& c) -> std::int64_t& { return c.identity.argon2_mem_limit_kib; },
            kMinArgon2MemKib, kMaxArgon2MemKib,
            "Argon2id memory per hash in KiB (OWASP: 19456 = 19 MiB)."));
        constexpr std::int64_t kMaxInvitationTtlS = 90 * 24 * 3600;
        constexpr std::int64_t kMaxMembershipCacheMs = 60'000;
        s.push_back(int_setting(
            "identity.invitation_ttl_s",
            [](Config& c) -> std::int64_t& { return c.identity.invitation_ttl_s; }, kMinTokenTtlS,
            kMaxInvitationTtlS, "How long an organization invitation link works, in seconds."));
        s.push_back(int_setting(
            "identity.membership_cache_ttl_ms",
            [](Config& c) -> std::int64_t& { return c.identity.membership_cache_ttl_ms; }, 0,
            kMaxMembershipCacheMs,
            "How long a node reuses an org membership or API key it looked up; another node's "
            "change is seen after at most this long (0: look up every request)."));
        constexpr std::int64_t kMaxMfaTokenTtlS = 3600;
        constexpr std::int64_t kMinChangeEmailTtlS = 3600;
        constexpr std::int64_t kMaxChangeEmailTtlS = 7 * 24 * 3600;
        constexpr std::int64_t kMaxVerifyResendIntervalS = 24 * 3600;
        constexpr std::int64_t kMaxCacheEntries = 10'000'000;
        constexpr std::int64_t kMaxTouchIntervalS = 24 * 3600;
        s.push_back(int_setting(
            "identity.mfa_token_ttl_s",
            [](Config& c) -> std::int64_t& { return c.identity.mfa_token_ttl_s; }, kMinTokenTtlS,
            kMaxMfaTokenTtlS,
            "How long the `mfa_token` of a password sign-in waits for the second factor, in "
            "seconds."));
        s.push_back(int_setting(
            "identity.change_email_ttl_s",
            [](Config& c) -> std::int64_t& { return c.identity.change_email_ttl_s; },
            kMinChangeEmailTtlS, kMaxChangeEmailTtlS,
            "How long the link mailed to a new email address works, in seconds (the mail says it "
            "in hours)."));
        s.push_back(int_setting(
            "identity.verify_resend_interval_s",
            [](Config& c) -> std::int64_t& { return c.identity.verify_resend_interval_s; }, 0,
            kMaxVerifyResendIntervalS,
            "At most one verification mail per unverified account this often, in seconds "
            "(`POST /api/v1/auth/verify-email/resend`; sign-up's mail counts); 0: no limit."));
        s.push_back(string_setting(
            "identity.totp_issuer",
            [](Config& c) -> std::string& { return c.identity.totp_issuer; },
            "The issuer name authenticator apps show beside the account (TOTP enrolment).",
            validate_not_empty));
        s.push_back(int_setting(
            "identity.membership_cache_entries",
            [](Config& c) -> std::int64_t& { return c.identity.membership_cache_entries; }, 0,
            kMaxCacheEntries,
            "Memberships, API keys and operator flags a node keeps cached (0: no cache)."));
        s.push_back(int_setting(
            "identity.api_key_touch_interval_s",
            [](Config& c) -> std::int64_t& { return c.identity.api_key_touch_interval_s; }, 1,
            kMaxTouchIntervalS,
            "An API key's last-use time is written at most this often, in seconds."));
        s.push_back(list_setting(
            "identity.operator_emails",
            [](Config& c) -> std::vector<std::string>& { return c.identity.operator_emails; },
            "Accounts made platform operators at start, once their email is verified."));
        constexpr std::int64_t kMaxLockoutFailures = 1'000'000;
        constexpr std::int64_t kMaxLockoutSeconds = 30 * 24 * 3600;
        constexpr std::int64_t kMaxLoginDelayMs = 60'000;
        constexpr std::int64_t kMaxRotationDays = 3650;
        constexpr std::int64_t kMaxKeyCheckS = 3600;
        constexpr std::int64_t kMaxSweepIntervalS = 7 * 24 * 3600;
        // Polling more rarely than a minute would leave revoked tokens working for long.
        constexpr std::int64_t kMaxRevocationPollMs = 60'000;
        constexpr std::int64_t kMaxRetentionS = 10LL * 365 * 24 * 3600;
        s.push_back(int_setting(
            "identity.lockout_failures",
            [](Config& c) -> std::int64_t& { return c.identity.lockout_failures; }, 1,
            kMaxLockoutFailures,
            "Failed logins (passwords or second-factor codes) that lock an account, counted per "
            "email whether or not it has an account."));
        s.push_back(int_setting(
            "identity.lockout_address_failures",
            [](Config& c) -> std::int64_t& { return c.identity.lockout_address_failures; }, 1,
            kMaxLockoutFailures, "Failed logins from one client address that lock the address."));
        s.push_back(int_setting(
            "identity.lockout_window_s",
            [](Config& c) -> std::int64_t& { return c.identity.lockout_window_s; }, 1,
            kMaxLockoutSeconds, "Failed logins older than this many seconds stop counting."));
        s.push_back(int_setting(
            "identity.lockout_duration_s",
            [](Config& c) -> std::int64_t& { return c.identity.lockout_duration_s; }, 1,
            kMaxLockoutSeconds,
            "How long a lock lasts, in seconds; a password reset unlocks an account at once."));
        s.push_back(int_setting(
            "identity.login_delay_ms",
            [](Config& c) -> std::int64_t& { return c.identity.login_delay_ms; }, 0,
            kMaxLoginDelayMs,
            "Wait before answering a login after one recent failure; doubles with each further "
            "failure (0: no slowdown)."));
        s.push_back(int_setting(
            "identity.login_delay_max_ms",
            [](Config& c) -> std::int64_t& { return c.identity.login_delay_max_ms; }, 0,
            kMaxLoginDelayMs, "The longest wait before answering a login (also while locked)."));
        s.push_back(int_setting(
            "identity.signing_key_rotation_days",
            [](Config& c) -> std::int64_t& { return c.identity.signing_key_rotation_days; }, 0,
            kMaxRotationDays,
            "A new token signing key takes over this often, in days (0: never rotate)."));
        s.push_back(int_setting(
            "identity.signing_key_check_s",
            [](Config& c) -> std::int64_t& { return c.identity.signing_key_check_s; }, 1,
            kMaxKeyCheckS,
            "How often each node re-reads the signing keys and rotates or retires them when due."));
        s.push_back(int_setting(
            "identity.sweep_interval_s",
            [](Config& c) -> std::int64_t& { return c.identity.sweep_interval_s; }, 0,
            kMaxSweepIntervalS,
            "How often each node deletes expired codes, links, tokens, invitations and lockouts, "
            "in seconds (0: never)."));
        s.push_back(int_setting(
            "identity.revocation_poll_ms",
            [](Config& c) -> std::int64_t& { return c.identity.revocation_poll_ms; }, 0,
            kMaxRevocationPollMs,
            "How often each node reads sessions and tokens revoked on other nodes, whose access "
            "tokens it then refuses (0: only its own revocations)."));
        s.push_back(int_setting(
            "identity.ended_session_retention_s",
            [](Config& c) -> std::int64_t& { return c.identity.ended_session_retention_s; }, 0,
            kMaxRetentionS,
            "How long the sweep keeps ended sessions and OAuth grants and spent recovery codes, "
            "in seconds."));
        s.push_back(string_setting(
            "mail.smtp_url", [](Config& c) -> std::string& { return c.mail.smtp_url; },
            "SMTP server for outgoing mail, smtp://host:port or smtps://user:password@host:465; "
            "empty keeps mail in the dev mailbox (GET /api/v1/dev/mailbox from this machine).",
            validate_smtp_url, /*secret=*/true));
        s.push_back(string_setting(
            "mail.from", [](Config& c) -> std::string& { return c.mail.from; },
            "Sender of outgoing mail: an address, or Name <address>.", validate_mail_from));
        s.push_back(bool_setting(
            "mail.dev_mailbox", [](Config& c) -> bool& { return c.mail.dev_mailbox; },
            "Serve the dev mailbox (GET /api/v1/dev/mailbox, from this machine only)."));
        constexpr std::int64_t kMaxMailGiveUpS = 7 * 24 * 3600;
        s.push_back(int_setting(
            "mail.queue_poll_ms", [](Config& c) -> std::int64_t& { return c.mail.queue_poll_ms; },
            1, kMaxTimeoutMs,
            "How often the mail queue looks for due mail when not woken (mail is queued in the "
            "request's transaction and sent afterwards)."));
        s.push_back(int_setting(
            "mail.retry_initial_ms",
            [](Config& c) -> std::int64_t& { return c.mail.retry_initial_ms; }, 1, kMaxTimeoutMs,
            "Wait before retrying a message the mail server did not take; doubles with each "
            "further failure up to mail.retry_max_ms."));
        s.push_back(int_setting(
            "mail.retry_max_ms", [](Config& c) -> std::int64_t& { return c.mail.retry_max_ms; }, 1,
            kMaxTimeoutMs, "Longest wait between two attempts to send one message."));
        s.push_back(int_setting(
            "mail.give_up_after_s",
            [](Config& c) -> std::int64_t& { return c.mail.give_up_after_s; }, 1, kMaxMailGiveUpS,
            "A queued message not sent this many seconds after it was queued is dropped and "
            "logged (without its recipient or body)."));
        s.push_back(int_setting(
            "events.poll_interval_ms",
            [](Config& c) -> std::int64_t& { return c.events.poll_interval_ms; }, 1, kMaxTimeoutMs,
            "How often the outbox dispatcher looks for events when not woken."));
        s.push_back(int_setting(
            "events.retention_hours",
            [](Config& c) -> std::int64_t& { return c.events.retention_hours; }, 1,
            kMaxRetentionHours, "How long delivered events stay in the outbox."));
        constexpr std::int64_t kMaxPerMinute = 1'000'000'000;
        constexpr std::int64_t kMaxBuckets = 1'000'000'000;
        s.push_back(bool_setting(
            "rate_limit.enabled", [](Config& c) -> bool& { return c.rate_limit.enabled; },
            "Limit requests per user, API key, OAuth client, org and (anonymous) client address."));
        s.push_back(int_setting(
            "rate_limit.requests_per_minute",
            [](Config& c) -> std::int64_t& { return c.rate_limit.requests_per_minute; }, 1,
            kMaxPerMinute, "Sustained budget of each user, API key or OAuth client."));
        s.push_back(int_setting(
            "rate_limit.burst", [](Config& c) -> std::int64_t& { return c.rate_limit.burst; }, 0,
            kMaxPerMinute,
            "Requests a caller may send at once before the sustained rate applies; 0 means "
            "requests_per_minute."));
        s.push_back(int_setting(
            "rate_limit.anonymous_requests_per_minute",
            [](Config& c) -> std::int64_t& { return c.rate_limit.anonymous_requests_per_minute; },
            1, kMaxPerMinute, "Budget of each client address for calls without credentials."));
        s.push_back(int_setting(
            "rate_limit.org_requests_per_minute",
            [](Config& c) -> std::int64_t& { return c.rate_limit.org_requests_per_minute; }, 0,
            kMaxPerMinute,
            "Budget shared by everyone acting in one org, on top of their own; 0 means none."));
        s.push_back(list_setting(
            "rate_limit.route_overrides",
            [](Config& c) -> std::vector<std::string>& { return c.rate_limit.route_overrides; },
            "Routes with their own per-caller budget instead of the general one, as "
            "\"METHOD /template=N\" (N per minute).",
            validate_route_override));
        s.push_back(int_setting(
            "rate_limit.max_buckets",
            [](Config& c) -> std::int64_t& { return c.rate_limit.max_buckets; }, 1, kMaxBuckets,
            "Memory backend: most buckets held; docs/gateway.md gives the memory per bucket."));
        s.push_back(enum_setting(
            "rate_limit.backend", [](Config& c) -> std::string& { return c.rate_limit.backend; },
            {"memory", "redis"},
            "Where budgets live: in this process, or in Redis shared by every node."));
        s.push_back(string_setting(
            "rate_limit.redis_url",
            [](Config& c) -> std::string& { return c.rate_limit.redis_url; },
            "Redis for backend = \"redis\": redis://[:password@]host[:port][/db].",
            validate_redis_url, /*secret=*/true));
        s.push_back(int_setting(
            "rate_limit.redis_timeout_ms",
            [](Config& c) -> std::int64_t& { return c.rate_limit.redis_timeout_ms; }, 1,
            kMaxTimeoutMs, "Connect and command timeout for Redis."));
        s.push_back(enum_setting(
            "rate_limit.failure_mode",
            [](Config& c) -> std::string& { return c.rate_limit.failure_mode; }, {"open", "closed"},
            "When Redis fails: open lets requests pass, closed answers 503."));
        s.push_back(list_setting(
            "rate_limit.plans",
            [](Config& c) -> std::vector<std::string>& { return c.rate_limit.plans; },
            "Per-plan budgets of each user, API key or OAuth client, as \"NAME=N/min\" or "
            "\"NAME=N/min burst=M\"; they replace requests_per_minute for principals on that "
            "plan.",
            validate_plan));
        s.push_back(string_setting(
            "rate_limit.default_plan",
            [](Config& c) -> std::string& { return c.rate_limit.default_plan; },
            "The plan of principals whose org has none; empty: requests_per_minute applies.",
            validate_plan_name));
        constexpr std::int64_t kMinSyncIntervalMs = 50;
        constexpr std::int64_t kMaxSyncIntervalMs = 60'000;
        s.push_back(int_setting(
            "gateway.sync_interval_ms",
            [](Config& c) -> std::int64_t& { return c.gateway.sync_interval_ms; },
            kMinSyncIntervalMs, kMaxSyncIntervalMs,
            "With PostgreSQL: how often a node applies IP rules, rate-limit overrides and cache "
            "invalidations changed on other nodes."));
        return s;
    }();
    return kSettings;
}

/// What each stage presets, in the order of kStages (dev, test, prod). Config's own defaults
/// equal the prod column (the default stage), which a test checks.
struct StagePreset {
    std::string_view key;
    std::array<std::string_view, 3> values;
    std::string_view why;  ///< for the docs
};

const std::vector<StagePreset>& stage_presets() {
    static const std::vector<StagePreset> kPresets = {
        {"firewall.mode",
         {"detection", "blocking", "blocking"},
         "dev logs what would be blocked instead of refusing while rules are tuned"},
        {"http.cors_origins",
         {"http://localhost:5173,http://127.0.0.1:5173", "", ""},
         "dev admits the Vite dev server; elsewhere the console is same-origin"},
        {"log.level", {"debug", "info", "info"}, ""},
        {"http.response_cache_bytes",
         {"0", "67108864", "67108864"},
         "dev caches nothing, so every change shows at once"},
        {"tls.hsts_max_age_s",
         {"0", "0", "31536000"},
         "a year in prod; never in dev and test, whose certificates come and go"},
        {"mail.dev_mailbox",
         {"true", "true", "false"},
         "prod never serves stored mail, even to its own machine"},
    };
    return kPresets;
}

std::size_t stage_index(std::string_view stage) {
    for (std::size_t idx = 0; idx < std::size(kStages); ++idx) {
        if (kStages[idx] == stage) return idx;
    }
    return std::size(kStages) - 1;  // validated before; prod is the default
}

const Setting* find_setting(std::string_view key) {
    for (const auto& setting : declarations()) {
        if (setting.key == key) return &setting;
    }
    return nullptr;
}

Error key_error(std::string_view key, std::string_view origin, const Error& cause) {
    return Error::invalid(fmt::format("config key '{}' ({}): {}", key, origin, cause.message));
}

std::string known_keys_hint(std::string_view section) {
    std::vector<std::string> names;
    for (const auto& setting : declarations()) {
        if (setting.key.starts_with(std::string(section) + ".")) names.push_back(setting.key);
    }
    if (names.empty()) {
        std::vector<std::string> sections;
        for (const auto& setting : declarations()) {
            std::string head = setting.key.substr(0, setting.key.find('.'));
            if (std::find(sections.begin(), sections.end(), head) == sections.end())
                sections.push_back(head);
        }
        return fmt::format("known sections: {}", fmt::join(sections, ", "));
    }
    return fmt::format("known keys: {}", fmt::join(names, ", "));
}

Result<toml::table> parse_file(const std::filesystem::path& path) {
    std::ifstream in(path);
    if (!in) return Error::invalid(fmt::format("cannot read config file {}", path.string()));
    std::stringstream buffer;
    buffer << in.rdbuf();
    try {
        return toml::parse(buffer.str(), path.string());
    } catch (const toml::parse_error& error) {
        return Error::invalid(fmt::format("config file {} line {} column {}: {}", path.string(),
                                          error.source().begin.line, error.source().begin.column,
                                          error.description()));
    }
}

Result<void> apply_file(Config& config, const std::filesystem::path& path,
                        std::map<std::string, std::string>& origins) {
    auto root = parse_file(path);
    if (!root) return root.error();
    for (const auto& [section_name, section_node] : *root) {
        std::string section(section_name.str());
        const toml::table* table = section_node.as_table();
        if (table == nullptr) {
            // A top-level key (`stage = "dev"`), or a section written as a value by mistake.
            const Setting* setting = find_setting(section);
            std::string origin =
                fmt::format("file {} line {}", path.string(), section_node.source().begin.line);
            if (setting == nullptr) {
                return Error::invalid(fmt::format(
                    "config file {} line {}: '{}' must be a [section]; {}", path.string(),
                    section_node.source().begin.line, section, known_keys_hint("")));
            }
            if (auto ok = setting->assign_toml(config, section_node); !ok)
                return key_error(section, origin, ok.error());
            origins[section] = origin;
            continue;
        }
        for (const auto& [name, node] : *table) {
            std::string key = section + "." + std::string(name.str());
            std::string origin =
                fmt::format("file {} line {}", path.string(), node.source().begin.line);
            const Setting* setting = find_setting(key);
            if (setting == nullptr) {
                return Error::invalid(fmt::format("unknown config key '{}' ({}); {}", key, origin,
                                                  known_keys_hint(section)));
            }
            if (auto ok = setting->assign_toml(config, node); !ok)
                return key_error(key, origin, ok.error());
            origins[key] = origin;
        }
    }
    return {};
}

/// The stage, which must be known before any other source is applied since its preset lies
/// under them all: the last flag, else the environment, else the file, else prod.
Result<std::string> find_stage(const Sources& sources) {
    const Setting* setting = find_setting("stage");
    Config scratch;  // validates the value as the real assignment will
    for (auto flag = sources.flags.rbegin(); flag != sources.flags.rend(); ++flag) {
        if (flag->first != "stage") continue;
        if (auto ok = setting->assign_text(scratch, flag->second); !ok)
            return key_error("stage", "flag", ok.error());
        return scratch.stage;
    }
    if (auto env = sources.environment.find(env_name("stage")); env != sources.environment.end()) {
        if (auto ok = setting->assign_text(scratch, env->second); !ok)
            return key_error("stage", "environment " + env->first, ok.error());
        return scratch.stage;
    }
    if (sources.file) {
        auto root = parse_file(*sources.file);
        if (!root) return root.error();
        if (const toml::node* node = root->get("stage"); node != nullptr) {
            std::string origin =
                fmt::format("file {} line {}", sources.file->string(), node->source().begin.line);
            if (auto ok = setting->assign_toml(scratch, *node); !ok)
                return key_error("stage", origin, ok.error());
            return scratch.stage;
        }
    }
    return Config().stage;
}

/// Sets every key the stage presets, before the file, environment and flags override any.
void apply_stage(Config& config, const std::string& stage,
                 std::map<std::string, std::string>& origins) {
    std::size_t column = stage_index(stage);
    for (const auto& preset : stage_presets()) {
        const Setting* setting = find_setting(preset.key);
        // The presets are ours and checked by a unit test; a failure here is a bug.
        if (setting == nullptr || !setting->assign_text(config, preset.values.at(column))) {
            throw std::logic_error(fmt::format("stage preset {} is invalid", preset.key));
        }
        origins[std::string(preset.key)] = "stage " + stage;
    }
}

Result<std::string> read_secret_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error::invalid(fmt::format("cannot read secret file {}", path));
    std::stringstream buffer;
    buffer << in.rdbuf();
    std::string value = buffer.str();
    while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
    return value;
}

}  // namespace

std::string env_name(std::string_view key) {
    std::string name(kEnvPrefix);
    for (char c : key) {
        name.push_back(c == '.' ? '_'
                                : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    }
    return name;
}

Result<ListenAddress> parse_listen(std::string_view text) {
    const Error malformed = Error::invalid(
        fmt::format("'{}' is not host:port (e.g. 127.0.0.1:8080 or [::1]:8080)", text));
    std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return malformed;
    std::string_view host = text.substr(0, colon);
    std::string_view port_text = text.substr(colon + 1);
    if (host.front() == '[') {
        if (host.back() != ']' || host.size() < 3) return malformed;
        host = host.substr(1, host.size() - 2);
    } else if (host.find(':') != std::string_view::npos) {
        return malformed;  // an IPv6 address must be bracketed
    }
    std::int64_t port = -1;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port < 0 ||
        port > kMaxPort) {
        return malformed;
    }
    return ListenAddress{std::string(host), static_cast<std::uint16_t>(port)};
}

Result<PlanBudget> parse_plan(std::string_view text) {
    constexpr std::size_t kMaxNameLength = 64;
    constexpr std::int64_t kMaxPerMinute = 1'000'000'000;
    constexpr std::string_view kPerMinute = "/min";
    constexpr std::string_view kBurst = " burst=";
    const std::string hint =
        fmt::format("'{}' is not NAME=N/min or NAME=N/min burst=M (e.g. \"pro=10000/min\")", text);
    auto number = [](std::string_view digits) -> std::optional<std::int64_t> {
        std::int64_t value = 0;
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
        if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() ||
            value < 1 || value > kMaxPerMinute)
            return std::nullopt;
        return value;
    };
    std::size_t equals = text.find('=');
    if (equals == std::string_view::npos) return Error::invalid(hint);
    PlanBudget plan;
    plan.name = std::string(text.substr(0, equals));
    bool plain_name =
        !plan.name.empty() && plan.name.size() <= kMaxNameLength &&
        std::all_of(plan.name.begin(), plan.name.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
        });
    if (!plain_name) {
        return Error::invalid(
            fmt::format("{}: the name may hold only letters, digits, _ and -, at most {}", hint,
                        kMaxNameLength));
    }
    std::string_view rest = text.substr(equals + 1);
    std::size_t unit = rest.find(kPerMinute);
    if (unit == std::string_view::npos) return Error::invalid(hint);
    auto per_minute = number(rest.substr(0, unit));
    if (!per_minute) {
        return Error::invalid(
            fmt::format("{}: N must be an integer from 1 to {}", hint, kMaxPerMinute));
    }
    plan.requests_per_minute = *per_minute;
    rest = rest.substr(unit + kPerMinute.size());
    if (!rest.empty()) {
        if (!rest.starts_with(kBurst)) return Error::invalid(hint);
        auto burst = number(rest.substr(kBurst.size()));
        if (!burst) {
            return Error::invalid(
                fmt::format("{}: M must be an integer from 1 to {}", hint, kMaxPerMinute));
        }
        plan.burst = *burst;
    }
    return plan;
}

std::string redact_url(std::string_view url) {
    std::size_t scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos) return std::string(url);
    std::size_t authority_start = scheme_end + 3;
    std::size_t at = url.find('@', authority_start);
    std::size_t slash = url.find('/', authority_start);
    if (at == std::string_view::npos || (slash != std::string_view::npos && at > slash)) {
        std::string out(url);
        // A password can also be given as a query parameter (?password=...).
        std::size_t pw = out.find("password=");
        if (pw != std::string::npos) {
            std::size_t end = out.find('&', pw);
            out.replace(pw + 9, end == std::string::npos ? std::string::npos : end - pw - 9, "***");
        }
        return out;
    }
    std::size_t colon = url.find(':', authority_start);
    if (colon == std::string_view::npos || colon > at) return std::string(url);
    return std::string(url.substr(0, colon + 1)) + "***" + std::string(url.substr(at));
}

Result<Loaded> load(const Sources& sources) {
    Loaded loaded;
    Config& config = loaded.config;
    auto stage = find_stage(sources);
    if (!stage) return stage.error();
    apply_stage(config, *stage, loaded.origins);
    if (sources.file) {
        if (auto ok = apply_file(config, *sources.file, loaded.origins); !ok) return ok.error();
    }
    for (const auto& [name, value] : sources.environment) {
        if (!name.starts_with(kEnvPrefix)) continue;
        bool matched = false;
        for (const auto& setting : declarations()) {
            std::string direct = env_name(setting.key);
            if (name == direct) {
                if (auto ok = setting.assign_text(config, value); !ok) {
                    return key_error(setting.key, "environment " + name, ok.error());
                }
                matched = true;
                loaded.origins[setting.key] = "environment " + name;
            } else if (setting.secret && name == direct + std::string(kFileSuffix)) {
                auto secret = read_secret_file(value);
                if (!secret) return key_error(setting.key, "environment " + name, secret.error());
                if (auto ok = setting.assign_text(config, *secret); !ok) {
                    return key_error(setting.key, "environment " + name, ok.error());
                }
                matched = true;
                loaded.origins[setting.key] = "environment " + name;
            }
        }
        if (!matched) {
            loaded.warnings.push_back(fmt::format(
                "environment variable {} does not name a setting and is ignored", name));
        }
    }
    for (const auto& [key, value] : sources.flags) {
        const Setting* setting = find_setting(key);
        if (setting == nullptr) {
            return Error::invalid(fmt::format("unknown config key '{}' (flag); {}", key,
                                              known_keys_hint(key.substr(0, key.find('.')))));
        }
        if (auto ok = setting->assign_text(config, value); !ok)
            return key_error(key, "flag", ok.error());
        loaded.origins[key] = "flag";
    }
    // Settings that only make sense together, checked once every source has had its say.
    if (!config.tls.listen.empty() &&
        (config.tls.cert_file.empty() || config.tls.key_file.empty())) {
        return Error::invalid(
            "config key 'tls.cert_file' and 'tls.key_file': both are needed when tls.listen is "
            "set");
    }
    std::vector<std::string> plan_names;
    for (const auto& text : config.rate_limit.plans) {
        std::string name = parse_plan(text)->name;  // each entry was validated when assigned
        if (std::find(plan_names.begin(), plan_names.end(), name) != plan_names.end()) {
            return Error::invalid(
                fmt::format("config key 'rate_limit.plans': plan '{}' is given twice", name));
        }
        plan_names.push_back(std::move(name));
    }
    const std::string& default_plan = config.rate_limit.default_plan;
    if (!default_plan.empty() &&
        std::find(plan_names.begin(), plan_names.end(), default_plan) == plan_names.end()) {
        return Error::invalid(fmt::format(
            "config key 'rate_limit.default_plan': '{}' is not among rate_limit.plans ({})",
            default_plan,
            plan_names.empty() ? "none" : fmt::format("{}", fmt::join(plan_names, ", "))));
    }
    return loaded;
}

std::string show(const Config& config, const std::map<std::string, std::string>* origins) {
    std::string out;
    std::string current_section;
    for (const auto& setting : declarations()) {
        std::size_t dot = setting.key.find('.');
        std::string section = dot == std::string::npos ? "" : setting.key.substr(0, dot);
        if (section != current_section) {
            out += fmt::format("{}[{}]\n", out.empty() ? "" : "\n", section);
            current_section = section;
        }
        std::string value = setting.render(config);
        if (setting.secret && value != "\"\"") {
            if (setting.key == "database.url") {
                value = toml_quote(redact_url(config.database.url));
            } else if (setting.key == "rate_limit.redis_url") {
                value = toml_quote(redact_url(config.rate_limit.redis_url));
            } else {
                value = "\"***\"";
            }
        }
        std::string name = section.empty() ? setting.key : setting.key.substr(section.size() + 1);
        if (origins == nullptr) {
            out += fmt::format("{} = {}\n", name, value);
        } else {
            auto origin = origins->find(setting.key);
            out += fmt::format("{} = {}  # {}\n", name, value,
                               origin == origins->end() ? "default" : origin->second);
        }
    }
    return out;
}

std::string reference_markdown() {
    Config defaults;
    std::string out =
        "# Configuration\n\n"
        "Generated by `nimbus config docs` from the declarations in `src/core/config.cpp`; a test\n"
        "keeps this page in step with them.\n\n"
        "Each setting is taken from, in rising order of precedence: its default, the TOML file "
        "given\n"
        "with `--config FILE`, the environment variable shown, and command-line flags "
        "(`--listen`,\n"
        "`--data-dir`, `--database-url`, or `--set key=value` for any key). An unknown key or a "
        "bad\n"
        "value stops the start with exit status 2 and a message naming the key. Secret settings "
        "can\n"
        "also be read from a file named by the variable with `_FILE` appended\n"
        "(`NIMBUS_DATABASE_URL_FILE=/run/secrets/database-url`).\n\n"
        "| key | environment | type | default | description |\n"
        "|---|---|---|---|---|\n";
    for (const auto& setting : declarations()) {
        std::string env = env_name(setting.key);
        if (setting.secret) env += "<br>" + env_name(setting.key) + "_FILE";
        out += fmt::format("| `{}` | `{}` | {} | `{}` | {}{} |\n", setting.key, env, setting.type,
                           setting.render(defaults), setting.description,
                           setting.secret ? " Secret: redacted in `config show`." : "");
    }
    out +=
        "\n## Stages\n\n"
        "`stage` (`--stage`, `NIMBUS_STAGE`, or `stage = \"dev\"` at the top of the file) "
        "selects a\n"
        "preset for the settings below; the defaults above are those of `prod`, the default "
        "stage.\n"
        "A setting given in the file, the environment or a flag wins over the preset, and\n"
        "`nimbus config show` says where each value came from. `make run` serves with `--stage "
        "dev`.\n\n"
        "| key | dev | test | prod | why |\n"
        "|---|---|---|---|---|\n";
    for (const auto& preset : stage_presets()) {
        std::string row = fmt::format("| `{}` |", preset.key);
        for (std::size_t column = 0; column < std::size(kStages); ++column) {
            Config staged;
            std::map<std::string, std::string> ignored;
            apply_stage(staged, std::string(kStages[column]), ignored);
            row += fmt::format(" `{}` |", find_setting(preset.key)->render(staged));
        }
        out += fmt::format("{} {} |\n", row, preset.why);
    }
    return out;
}

std::string example_toml() {
    Config defaults;
    std::string out =
        "# Nimbus configuration: every key with its default. Pass with `nimbus serve --config "
        "FILE`.\n"
        "# Generated by `nimbus config example`; see docs/configuration.md.\n";
    std::string current_section;
    for (const auto& setting : declarations()) {
        std::size_t dot = setting.key.find('.');
        std::string section = dot == std::string::npos ? "" : setting.key.substr(0, dot);
        if (section.empty()) out += "\n";
        if (section != current_section) {
            out += fmt::format("\n[{}]\n", section);
            current_section = section;
        }
        out += fmt::format("# {} ({}; env {})\n{} = {}\n", setting.description, setting.type,
                           env_name(setting.key),
                           section.empty() ? setting.key : setting.key.substr(section.size() + 1),
                           setting.render(defaults));
    }
    return out;
}

}  // namespace nimbus::config
