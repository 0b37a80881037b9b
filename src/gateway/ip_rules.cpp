// IP and country rules: strict CIDR parsing, GeoIP lookups, the stored rules with an atomically
// swapped snapshot, the trusted-proxy view of X-Forwarded-For, the pipeline step and the admin
// API.
#include <GeoIP.h>
#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <mutex>
#include <set>

#include <fmt/format.h>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "core/clock.hpp"
#include "core/ids.hpp"
#include "core/json.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "db/db.hpp"
#include "events/events.hpp"
#include "gateway/gateway.hpp"

namespace nimbus::gateway {
namespace {

constexpr int kIpv4Bits = 32;
constexpr int kIpv6Bits = 128;
constexpr int kBitsPerByte = 8;
constexpr std::size_t kIpv4Offset = 12;  // the IPv4 bytes in an IPv4-mapped IPv6 address
constexpr std::uint8_t kMappedMarker = 0xff;
constexpr std::size_t kMaxNoteLength = 500;
constexpr std::size_t kCountryCodeLength = 2;
constexpr std::string_view kPermission = "gateway.firewall.manage";
constexpr std::string_view kCollectionPath = "/api/v1/admin/firewall/ip-rules";
constexpr std::size_t kMaxRuleBodyBytes = 4 * 1024;

// The admin API's schemas. The handler checks what a schema cannot say well (a CIDR's host bits,
// a country GeoIP knows), with messages naming the fault.
constexpr std::string_view kNewRuleSchema = R"({
  "type": "object", "required": ["kind", "action", "value"], "additionalProperties": false,
  "properties": {
    "kind": {"type": "string", "enum": ["cidr", "country"],
             "description": "cidr: an IPv4 or IPv6 network; country: an ISO 3166-1 alpha-2 code"},
    "action": {"type": "string", "enum": ["allow", "deny"]},
    "value": {"type": "string", "maxLength": 64,
              "description": "A CIDR such as 203.0.113.0/24 (host bits zero), or a code such as DE"},
    "note": {"type": "string", "maxLength": 500, "description": "Why the rule exists"}}})";
constexpr std::string_view kRuleSchema = R"({
  "type": "object", "required": ["id", "kind", "action", "value", "note", "created_at"],
  "properties": {
    "id": {"type": "string", "description": "ipr_ followed by a ULID"},
    "kind": {"type": "string", "enum": ["cidr", "country"]},
    "action": {"type": "string", "enum": ["allow", "deny"]},
    "value": {"type": "string", "description": "The CIDR in canonical form, or the country code"},
    "note": {"type": "string"},
    "created_at": {"type": "string", "format": "date-time"}}})";
constexpr std::string_view kRuleListSchema = R"({
  "type": "object", "required": ["data"],
  "properties": {"data": {"type": "array", "description": "Oldest first", "items": {
    "type": "object", "required": ["id", "kind", "action", "value", "note", "created_at"],
    "properties": {
      "id": {"type": "string"},
      "kind": {"type": "string", "enum": ["cidr", "country"]},
      "action": {"type": "string", "enum": ["allow", "deny"]},
      "value": {"type": "string"},
      "note": {"type": "string"},
      "created_at": {"type": "string", "format": "date-time"}}}}}})";
/// GeoIP's codes that are not ISO 3166-1 countries: unknown, Asia/Pacific, Europe, anonymous
/// proxy, satellite provider, other.
const std::set<std::string, std::less<>> kPseudoCountries = {"--", "AP", "EU", "A1", "A2", "O1"};

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

std::string_view to_string(IpRule::Kind kind) {
    return kind == IpRule::Kind::cidr ? "cidr" : "country";
}
std::string_view to_string(IpRule::Action action) {
    return action == IpRule::Action::allow ? "allow" : "deny";
}

/// Tells the other nodes (ClusterSync) that the stored rules changed; in the changing
/// transaction, so they never see the version move without the rows.
Result<void> bump_version(db::Transaction& tx) {
    auto bumped =
        tx.execute("UPDATE gateway_versions SET version = version + 1 WHERE name = 'ip_rules'");
    if (!bumped) return bumped.error();
    return {};
}

/// Records a rule change for the audit log, in the changing transaction: the change and its
/// entry commit together or not at all. Stamped with the change's own time.
Result<void> emit_rule_event(db::Transaction& tx, std::string_view verb, const IpRule& rule,
                             const ChangeActor& actor, std::int64_t now_ms) {
    boost::json::object data{{"target_id", rule.id},
                             {"kind", to_string(rule.kind)},
                             {"action", to_string(rule.action)},
                             {"value", rule.value},
                             {"note", rule.note}};
    if (!actor.actor_id.empty()) data["actor_id"] = actor.actor_id;
    if (!actor.ip.empty()) data["ip"] = actor.ip;
    ManualClock at(now_ms);
    auto emitted = events::emit(tx, at,
                                {.type = "nimbus.gateway.ip_rule." + std::string(verb),
                                 .source = "/nimbus/gateway",
                                 .subject = rule.id,
                                 .data_json = boost::json::serialize(data)});
    if (!emitted) return emitted.error();
    return {};
}

boost::json::object to_json(const IpRule& rule) {
    return {{"id", rule.id},
            {"kind", to_string(rule.kind)},
            {"action", to_string(rule.action)},
            {"value", rule.value},
            {"note", rule.note},
            {"created_at", format_rfc3339(rule.created_at_ms)}};
}

}  // namespace

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
    std::string copy(text);
    IpAddress address;
    in_addr v4{};
    if (::inet_pton(AF_INET, copy.c_str(), &v4) == 1) {
        address.v4 = true;
        address.bytes[kIpv4Offset - 2] = kMappedMarker;
        address.bytes[kIpv4Offset - 1] = kMappedMarker;
        std::memcpy(address.bytes.data() + kIpv4Offset, &v4, sizeof(v4));
        return address;
    }
    in6_addr v6{};
    if (::inet_pton(AF_INET6, copy.c_str(), &v6) == 1) {
        std::memcpy(address.bytes.data(), &v6, sizeof(v6));
        // A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d; they are IPv4 clients.
        address.v4 = IN6_IS_ADDR_V4MAPPED(&v6);
        return address;
    }
    return std::nullopt;
}

std::string IpAddress::to_string() const {
    char text[INET6_ADDRSTRLEN] = {};
    if (v4) {
        ::inet_ntop(AF_INET, bytes.data() + kIpv4Offset, text, sizeof(text));
    } else {
        ::inet_ntop(AF_INET6, bytes.data(), text, sizeof(text));
    }
    return text;
}

Result<Cidr> Cidr::parse(std::string_view text) {
    std::size_t slash = text.find('/');
    std::string_view address_text = text.substr(0, slash);
    auto address = IpAddress::parse(address_text);
    if (!address) {
        return Error::invalid(fmt::format("'{}' is not a CIDR: '{}' is not an IPv4 or IPv6 address",
                                          text, address_text));
    }
    Cidr cidr;
    cidr.network = *address;
    int family_bits = address->v4 ? kIpv4Bits : kIpv6Bits;
    cidr.prefix_length = family_bits;
    if (slash != std::string_view::npos) {
        std::string_view prefix = text.substr(slash + 1);
        int value = -1;
        auto [end, ec] = std::from_chars(prefix.data(), prefix.data() + prefix.size(), value);
        bool digits_only = !prefix.empty() && std::all_of(prefix.begin(), prefix.end(), [](char c) {
            return c >= '0' && c <= '9';
        });
        if (!digits_only || ec != std::errc() || end != prefix.data() + prefix.size() ||
            (prefix.size() > 1 && prefix.front() == '0') || value > family_bits) {
            return Error::invalid(
                fmt::format("'{}' is not a CIDR: the prefix length must be a number from 0 to {}",
                            text, family_bits));
        }
        cidr.prefix_length = value;
    }
    // Host bits set ("10.0.0.1/8") usually mean a typo in the address or the length; refusing
    // it beats silently widening or narrowing what the rule covers.
    IpAddress masked = cidr.network;
    int offset_bits = address->v4 ? static_cast<int>(kIpv4Offset) * kBitsPerByte : 0;
    for (int bit = offset_bits + cidr.prefix_length; bit < kIpv6Bits; ++bit) {
        masked.bytes[bit / kBitsPerByte] &=
            static_cast<std::uint8_t>(~(0x80U >> static_cast<unsigned>(bit % kBitsPerByte)));
    }
    if (masked.bytes != cidr.network.bytes) {
        return Error::invalid(
            fmt::format("'{}' is not a CIDR: host bits are set (the network is {}/{})", text,
                        masked.to_string(), cidr.prefix_length));
    }
    return cidr;
}

bool Cidr::contains(const IpAddress& address) const {
    if (address.v4 != network.v4) return false;
    int bits = (network.v4 ? static_cast<int>(kIpv4Offset) * kBitsPerByte : 0) + prefix_length;
    int whole_bytes = bits / kBitsPerByte;
    if (std::memcmp(address.bytes.data(), network.bytes.data(), whole_bytes) != 0) return false;
    int rest = bits % kBitsPerByte;
    if (rest == 0) return true;
    auto mask = static_cast<std::uint8_t>(0xFFU << static_cast<unsigned>(kBitsPerByte - rest));
    return (address.bytes[whole_bytes] & mask) == (network.bytes[whole_bytes] & mask);
}

std::string Cidr::to_string() const {
    return network.to_string() + "/" + std::to_string(prefix_length);
}

Result<std::vector<Cidr>> parse_cidrs(const std::vector<std::string>& texts) {
    std::vector<Cidr> cidrs;
    for (const auto& text : texts) {
        auto cidr = Cidr::parse(text);
        if (!cidr) return cidr.error();
        cidrs.push_back(*cidr);
    }
    return cidrs;
}

Result<std::string> parse_country_code(std::string_view text) {
    std::string code(text);
    bool letters =
        code.size() == kCountryCodeLength && std::all_of(code.begin(), code.end(), [](char c) {
            return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
        });
    if (letters) {
        for (char& c : code) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        if (::GeoIP_id_by_code(code.c_str()) > 0 && !kPseudoCountries.contains(code)) return code;
    }
    return Error::invalid(fmt::format(
        "'{}' is not an ISO 3166-1 alpha-2 country code (two letters, such as DE or US)", text));
}

// ---------------------------------------------------------------------------------------------

struct GeoIp::Impl {
    ::GeoIP* v4 = nullptr;
    ::GeoIP* v6 = nullptr;
    ~Impl() {
        if (v4 != nullptr) ::GeoIP_delete(v4);
        if (v6 != nullptr) ::GeoIP_delete(v6);
    }
};

GeoIp::~GeoIp() = default;

Result<std::shared_ptr<const GeoIp>> GeoIp::open(const std::string& v4_path,
                                                 const std::string& v6_path) {
    std::shared_ptr<GeoIp> geoip(new GeoIp());
    geoip->impl_ = std::make_unique<Impl>();
    // Mapped, not copied: the two databases are 10 MB, and a copy would triple the node's idle
    // memory; pages are read on first lookup, and the read-only mapping (with the *_gl
    // functions) is thread safe.
    for (auto [path, slot] :
         {std::pair{&v4_path, &geoip->impl_->v4}, std::pair{&v6_path, &geoip->impl_->v6}}) {
        if (path->empty()) continue;
        *slot = ::GeoIP_open(path->c_str(), GEOIP_MMAP_CACHE | GEOIP_SILENCE);
        if (*slot == nullptr) {
            return Error::invalid(fmt::format("cannot open the GeoIP database {}", *path));
        }
    }
    return std::shared_ptr<const GeoIp>(std::move(geoip));
}

std::string GeoIp::country(const IpAddress& address) const {
    ::GeoIPLookup lookup{};
    int id = 0;
    if (address.v4) {
        if (impl_->v4 == nullptr) return "";
        std::uint32_t network_order = 0;
        std::memcpy(&network_order, address.bytes.data() + kIpv4Offset, sizeof(network_order));
        id = ::GeoIP_id_by_ipnum_gl(impl_->v4, ntohl(network_order), &lookup);
    } else {
        if (impl_->v6 == nullptr) return "";
        ::geoipv6_t v6{};
        std::memcpy(&v6, address.bytes.data(), sizeof(v6));
        id = ::GeoIP_id_by_ipnum_v6_gl(impl_->v6, v6, &lookup);
    }
    if (id <= 0) return "";
    const char* code = ::GeoIP_code_by_id(id);
    if (code == nullptr || kPseudoCountries.contains(code)) return "";
    return code;
}

// ---------------------------------------------------------------------------------------------

/// What requests read: immutable once published.
struct IpRules::Snapshot {
    std::vector<Cidr> allow_cidrs;
    std::vector<Cidr> deny_cidrs;
    std::set<std::string, std::less<>> allow_countries;
    std::set<std::string, std::less<>> deny_countries;
};

struct IpRules::Impl {
    Impl(db::Database& database, IpRulesSettings settings)
        : database(database), settings(std::move(settings)) {}

    db::Database& database;
    IpRulesSettings settings;
    std::atomic<std::shared_ptr<const Snapshot>> snapshot{std::make_shared<const Snapshot>()};
    std::mutex write_mutex;  // serializes change + reload so snapshots are published in order
    metrics::Counter* passed = nullptr;
    metrics::Counter* denied = nullptr;

    bool trusted(const IpAddress& address) const {
        return std::any_of(settings.trusted_proxies.begin(), settings.trusted_proxies.end(),
                           [&](const Cidr& cidr) { return cidr.contains(address); });
    }
};

IpRules::IpRules(db::Database& database, IpRulesSettings settings, metrics::Registry* registry)
    : impl_(std::make_unique<Impl>(database, std::move(settings))) {
    if (registry != nullptr) {
        auto& family = registry->counter("nimbus_ip_rules_decisions_total",
                                         "Requests the IP and country rules checked, by outcome.",
                                         {"outcome"});
        impl_->passed = &family.with({"passed"});
        impl_->denied = &family.with({"denied"});
    }
}

IpRules::~IpRules() = default;

Result<std::vector<IpRule>> IpRules::list() const {
    auto rows = impl_->database.query(
        "SELECT id, kind, action, value, note, created_at_ms FROM gateway_ip_rules "
        "ORDER BY created_at_ms, id");
    if (!rows) return rows.error();
    std::vector<IpRule> rules;
    for (const auto& row : *rows) {
        IpRule rule;
        rule.id = row.get_text(0);
        rule.kind = row.get_text(1) == "country" ? IpRule::Kind::country : IpRule::Kind::cidr;
        rule.action = row.get_text(2) == "allow" ? IpRule::Action::allow : IpRule::Action::deny;
        rule.value = row.get_text(3);
        rule.note = row.get_text(4);
        rule.created_at_ms = row.get_int(5);
        rules.push_back(std::move(rule));
    }
    return rules;
}

Result<void> IpRules::reload() {
    std::lock_guard lock(impl_->write_mutex);
    return reload_locked();
}

Result<void> IpRules::reload_locked() {
    auto rules = list();
    if (!rules) return rules.error();
    auto next = std::make_shared<Snapshot>();
    for (const auto& rule : *rules) {
        if (rule.kind == IpRule::Kind::cidr) {
            auto cidr = Cidr::parse(rule.value);
            // Stored values were validated on the way in; a row that no longer parses was
            // edited by hand and is skipped rather than taking the firewall down.
            if (!cidr) {
                log::warn("ignoring a stored IP rule",
                          {{"id", rule.id}, {"error", cidr.error().message}});
                continue;
            }
            (rule.action == IpRule::Action::allow ? next->allow_cidrs : next->deny_cidrs)
                .push_back(*cidr);
        } else {
            (rule.action == IpRule::Action::allow ? next->allow_countries : next->deny_countries)
                .insert(rule.value);
        }
    }
    impl_->snapshot.store(std::move(next));
    return {};
}

Result<IpRule> IpRules::add(IpRule::Kind kind, IpRule::Action action, std::string_view value,
                            std::string_view note, std::int64_t now_ms, const ChangeActor& actor) {
    IpRule rule;
    rule.kind = kind;
    rule.action = action;
    rule.created_at_ms = now_ms;
    if (note.size() > kMaxNoteLength) {
        return Error::invalid(fmt::format("the note is longer than {} bytes", kMaxNoteLength));
    }
    rule.note = std::string(note);
    if (kind == IpRule::Kind::cidr) {
        auto cidr = Cidr::parse(trim(value));
        if (!cidr) return cidr.error();
        rule.value = cidr->to_string();
    } else {
        auto code = parse_country_code(trim(value));
        if (!code) return code.error();
        rule.value = *code;
    }
    rule.id = new_id("ipr", now_ms);
    std::lock_guard lock(impl_->write_mutex);
    auto stored = impl_->database.transact([&](db::Transaction& tx) -> Result<void> {
        auto inserted = tx.execute(
            "INSERT INTO gateway_ip_rules (id, kind, action, value, note, created_at_ms) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (kind, action, value) DO NOTHING",
            {rule.id, to_string(kind), to_string(action), rule.value, rule.note, now_ms});
        if (!inserted) return inserted.error();
        if (*inserted == 0) {
            return Error::conflict(
                fmt::format("an {} rule for {} exists already", to_string(action), rule.value));
        }
        if (auto emitted = emit_rule_event(tx, "created", rule, actor, now_ms); !emitted) {
            return emitted.error();
        }
        return bump_version(tx);
    });
    if (!stored) return stored.error();
    if (auto reloaded = reload_locked(); !reloaded) return reloaded.error();
    log::info("IP rule added", {{"id", rule.id},
                                {"kind", to_string(kind)},
                                {"action", to_string(action)},
                                {"value", rule.value}});
    return rule;
}

Result<void> IpRules::remove(std::string_view id, std::int64_t now_ms, const ChangeActor& actor) {
    std::lock_guard lock(impl_->write_mutex);
    auto removed = impl_->database.transact([&](db::Transaction& tx) -> Result<void> {
        // Read first: the audit entry says what the deleted rule was.
        auto rows =
            tx.query("SELECT kind, action, value, note FROM gateway_ip_rules WHERE id = ?", {id});
        if (!rows) return rows.error();
        if (rows->empty()) return Error::not_found(fmt::format("no IP rule {}", id));
        const db::Row& row = rows->front();
        IpRule rule{
            .id = std::string(id),
            .kind = row.get_text(0) == "country" ? IpRule::Kind::country : IpRule::Kind::cidr,
            .action = row.get_text(1) == "allow" ? IpRule::Action::allow : IpRule::Action::deny,
            .value = row.get_text(2),
            .note = row.get_text(3)};
        auto deleted = tx.execute("DELETE FROM gateway_ip_rules WHERE id = ?", {id});
        if (!deleted) return deleted.error();
        if (*deleted == 0) return Error::not_found(fmt::format("no IP rule {}", id));
        if (auto emitted = emit_rule_event(tx, "deleted", rule, actor, now_ms); !emitted) {
            return emitted.error();
        }
        return bump_version(tx);
    });
    if (!removed) return removed.error();
    log::info("IP rule removed", {{"id", id}});
    return reload_locked();
}

std::string IpRules::client_address(const http::Request& request) const {
    auto peer = IpAddress::parse(request.remote_address);
    if (!peer) return request.remote_address;
    if (!impl_->trusted(*peer)) return peer->to_string();
    // Every X-Forwarded-For header, in order, as one list: proxies may add a header each.
    std::vector<std::string_view> hops;
    for (const auto& header : request.headers) {
        if (header.name != "x-forwarded-for") continue;
        std::string_view rest = header.value;
        while (!rest.empty()) {
            std::size_t comma = rest.find(',');
            hops.push_back(trim(rest.substr(0, comma)));
            rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        }
    }
    // Walk from the right: each trusted hop vouches for the one before it. The first hop that
    // is not a trusted proxy is the client; anything further left was written by the client
    // and may be forged. A malformed hop ends the walk at the last address vouched for.
    IpAddress client = *peer;
    for (auto hop = hops.rbegin(); hop != hops.rend() && impl_->trusted(client); ++hop) {
        auto parsed = IpAddress::parse(*hop);
        if (!parsed) break;
        client = *parsed;
    }
    return client.to_string();
}

std::optional<std::string> IpRules::refusal(const IpAddress& address) const {
    std::shared_ptr<const Snapshot> rules = impl_->snapshot.load();
    auto in = [&address](const std::vector<Cidr>& cidrs) -> const Cidr* {
        for (const auto& cidr : cidrs) {
            if (cidr.contains(address)) return &cidr;
        }
        return nullptr;
    };
    if (in(rules->allow_cidrs) != nullptr) return std::nullopt;
    if (const Cidr* denied = in(rules->deny_cidrs)) return "deny rule " + denied->to_string();
    if (rules->allow_countries.empty() && rules->deny_countries.empty()) return std::nullopt;
    std::string country =
        impl_->settings.geoip ? impl_->settings.geoip->country(address) : std::string();
    if (!country.empty() && rules->deny_countries.contains(country)) {
        return "deny rule for country " + country;
    }
    if (!rules->allow_countries.empty() && !rules->allow_countries.contains(country)) {
        return "country " + (country.empty() ? std::string("unknown") : country) +
               " is not among the allowed countries";
    }
    return std::nullopt;
}

namespace {

class IpRulesStep final : public http::Middleware {
public:
    explicit IpRulesStep(const IpRules& rules, metrics::Counter* passed, metrics::Counter* denied)
        : rules_(rules), passed_(passed), denied_(denied) {}

    std::string_view name() const override { return "ip_rules"; }

    std::optional<http::Response> on_request(http::Request& request,
                                             http::RequestContext& context) override {
        context.client_address = rules_.client_address(request);
        auto address = IpAddress::parse(context.client_address);
        std::optional<std::string> refusal;
        if (address) refusal = rules_.refusal(*address);
        if (!refusal) {
            if (passed_ != nullptr) passed_->inc();
            return std::nullopt;
        }
        if (denied_ != nullptr) denied_->inc();
        log::warn("IP rules refused request", {{"request_id", context.request_id},
                                               {"client", context.client_address},
                                               {"peer", request.remote_address},
                                               {"reason", *refusal}});
        // The answer does not say which rule matched: that is for the operator's log.
        return http::Response::make_problem(403, "ip-denied", "Forbidden",
                                            "Requests from this address are not accepted.");
    }

private:
    const IpRules& rules_;
    metrics::Counter* passed_;
    metrics::Counter* denied_;
};

Result<IpRule::Kind> parse_kind(std::string_view text) {
    if (text == "cidr") return IpRule::Kind::cidr;
    if (text == "country") return IpRule::Kind::country;
    return Error::invalid("must be cidr or country");
}

Result<IpRule::Action> parse_action(std::string_view text) {
    if (text == "allow") return IpRule::Action::allow;
    if (text == "deny") return IpRule::Action::deny;
    return Error::invalid("must be allow or deny");
}

/// A string member of a JSON object, or a field error for it.
std::optional<std::string> string_member(const boost::json::object& body, std::string_view key,
                                         bool required,
                                         std::vector<http::Problem::FieldError>& errors) {
    const boost::json::value* value = body.if_contains(key);
    if (value == nullptr) {
        if (required) errors.push_back({"/" + std::string(key), "is required"});
        return std::nullopt;
    }
    if (!value->is_string()) {
        errors.push_back({"/" + std::string(key), "must be a string"});
        return std::nullopt;
    }
    return std::string(value->as_string());
}

}  // namespace

std::unique_ptr<http::Middleware> IpRules::make_step() {
    return std::make_unique<IpRulesStep>(*this, impl_->passed, impl_->denied);
}

void IpRules::add_routes(http::Router& router, const Clock& clock) {
    auto options = [](std::string summary) {
        return http::RouteOptions{.permission = std::string(kPermission),
                                  .summary = std::move(summary),
                                  .tag = "gateway"};
    };
    http::RouteOptions list_options = options("List the IP and country rules");
    list_options.response_schema = std::string(kRuleListSchema);
    http::RouteOptions add_options = options("Add an IP or country rule");
    add_options.max_body_bytes = kMaxRuleBodyBytes;
    add_options.body_schema = std::string(kNewRuleSchema);
    add_options.response_schema = std::string(kRuleSchema);
    add_options.success_statuses = {201};
    http::RouteOptions remove_options = options("Delete an IP or country rule");
    remove_options.success_statuses = {204};
    // Ids are minted by new_id("ipr", ...): a malformed one is a 400 before any lookup.
    remove_options.path_schema = http::path_parameters_schema(
        {{"id", http::id_schema("ipr", "a rule id (ipr_ and a ULID)")}});

    router.add(
        http::Method::get, kCollectionPath,
        http::Task([this](http::Request&,
                          http::RequestContext& context) -> boost::asio::awaitable<http::Response> {
            std::optional<Result<std::vector<IpRule>>> rules;
            co_await context.run_database([&] { rules = list(); });
            if (!*rules) co_return http::Response::from_error(rules->error());
            boost::json::array data;
            for (const auto& rule : **rules) data.push_back(to_json(rule));
            co_return http::Response::json(200, boost::json::object{{"data", std::move(data)}});
        }),
        list_options);

    router.add(
        http::Method::post, kCollectionPath,
        http::Task([this, &clock](http::Request& request, http::RequestContext& context)
                       -> boost::asio::awaitable<http::Response> {
            // The validate step parsed and checked the body against kNewRuleSchema; the checks
            // below stay for callers that bypass it (tests building their own pipeline).
            Result<boost::json::value> parsed =
                context.json_body ? Result<boost::json::value>(std::move(*context.json_body))
                                  : json::parse(request.body);
            if (!parsed) co_return http::Response::from_error(parsed.error());
            if (!parsed->is_object()) {
                co_return http::Response::make_problem(400, "validation-failed", "Bad Request",
                                                       "The body must be a JSON object.",
                                                       {{"", "must be an object"}});
            }
            const auto& body = parsed->as_object();
            std::vector<http::Problem::FieldError> errors;
            auto kind_text = string_member(body, "kind", true, errors);
            auto action_text = string_member(body, "action", true, errors);
            auto value = string_member(body, "value", true, errors);
            auto note = string_member(body, "note", false, errors);
            std::optional<IpRule::Kind> kind;
            std::optional<IpRule::Action> action;
            if (kind_text) {
                if (auto k = parse_kind(*kind_text)) {
                    kind = *k;
                } else {
                    errors.push_back({"/kind", k.error().message});
                }
            }
            if (action_text) {
                if (auto a = parse_action(*action_text)) {
                    action = *a;
                } else {
                    errors.push_back({"/action", a.error().message});
                }
            }
            if (kind && value) {
                Result<void> valid;
                if (*kind == IpRule::Kind::cidr) {
                    if (auto cidr = Cidr::parse(trim(*value)); !cidr) valid = cidr.error();
                } else {
                    if (auto code = parse_country_code(trim(*value)); !code) valid = code.error();
                }
                if (!valid) errors.push_back({"/value", valid.error().message});
            }
            if (note && note->size() > kMaxNoteLength) {
                errors.push_back(
                    {"/note", fmt::format("must be at most {} bytes", kMaxNoteLength)});
            }
            if (!errors.empty()) {
                co_return http::Response::make_problem(400, "validation-failed", "Bad Request",
                                                       "The rule is not valid.", std::move(errors));
            }
            std::optional<Result<IpRule>> added;
            co_await context.run_database([&] {
                added = add(*kind, *action, *value, note.value_or(""), clock.now_ms(),
                            change_actor(context));
            });
            if (!*added) co_return http::Response::from_error(added->error());
            http::Response response = http::Response::json(201, to_json(**added));
            response.set_header("location", std::string(kCollectionPath) + "/" + (*added)->id);
            co_return response;
        }),
        add_options);

    router.add(http::Method::delete_, std::string(kCollectionPath) + "/{id}",
               http::Task([this, &clock](http::Request&, http::RequestContext& context)
                              -> boost::asio::awaitable<http::Response> {
                   std::string id(context.path_param("id"));
                   std::optional<Result<void>> removed;
                   co_await context.run_database(
                       [&] { removed = remove(id, clock.now_ms(), change_actor(context)); });
                   if (!*removed) co_return http::Response::from_error(removed->error());
                   co_return http::Response::no_content();
               }),
               remove_options);
}

}  // namespace nimbus::gateway
