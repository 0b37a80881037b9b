// The web application firewall: ModSecurity v3 running the OWASP Core Rule Set in anomaly
// scoring mode, as a pipeline step.
#include <cstdlib>  // before ModSecurity's headers, which use free() and NULL without it

#include <modsecurity/intervention.h>
#include <modsecurity/modsecurity.h>
#include <modsecurity/rule_message.h>
#include <modsecurity/rules_set.h>
#include <modsecurity/transaction.h>

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>

#include <boost/asio/use_awaitable.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/log.hpp"
#include "core/metrics.hpp"
#include "gateway/firewall_prefilter.hpp"
#include "gateway/gateway.hpp"
#include "gateway/rules_location.hpp"

namespace nimbus::gateway {
namespace {

namespace fs = std::filesystem;

constexpr int kMinParanoiaLevel = 1;
constexpr int kMaxParanoiaLevel = 4;
/// The CRS rule that refuses a request whose inbound anomaly score reached the threshold.
constexpr int kBlockingEvaluationRule = 949110;
/// Our own rules in the generated configuration (ids 200000-200099 are ModSecurity's
/// recommended-configuration range, reused here with the same meaning).
constexpr int kBodyProcessorJsonRule = 200001;
constexpr int kBodyErrorRule = 200002;
constexpr int kMultipartStrictRule = 200003;
/// Nimbus's own rules, in the range ModSecurity reserves for local use.
constexpr int kLog4ShellRule = 99001;
constexpr int kPhpVariableFunctionCallRule = 933210;
/// CRS's setup version the generated setup declares (CRS refuses to run without one).
constexpr int kCrsSetupVersion = 334;
/// The status ModSecurity asks for when a rule denies without naming one.
constexpr int kDefaultDenyStatus = 403;
constexpr int kBadRequestStatus = 400;
/// Connection details ModSecurity wants; the server port is not part of any CRS decision.
constexpr int kUnknownPort = 0;

/// The generated part of the configuration: what Debian's modsecurity.conf-recommended and
/// crs-setup.conf.example would say, with the values taken from the settings.
std::string generate_configuration(const FirewallSettings& settings) {
    std::string conf;
    conf += fmt::format("SecRuleEngine {}\n", settings.blocking ? "On" : "DetectionOnly");
    conf += "SecRequestBodyAccess On\n";
    // The server has already enforced the route's body limit; beyond this size the firewall
    // inspects only the beginning (uploads) instead of refusing the request.
    conf += fmt::format("SecRequestBodyLimit {}\n", settings.max_inspected_body_bytes);
    conf += fmt::format("SecRequestBodyNoFilesLimit {}\n", settings.max_inspected_body_bytes);
    conf += "SecRequestBodyLimitAction ProcessPartial\n";
    conf += "SecResponseBodyAccess Off\n";
    conf += "SecAuditEngine Off\n";
    conf += "SecPcreMatchLimit 100000\nSecPcreMatchLimitRecursion 100000\n";
    // JSON bodies are parsed into ARGS so the CRS sees their strings; without this rule an
    // attack inside JSON would be one opaque blob.
    conf += fmt::format(
        "SecRule REQUEST_HEADERS:Content-Type \"@rx ^application/(?:[a-z0-9.+-]+\\+)?json\" "
        "\"id:{},phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON\"\n",
        kBodyProcessorJsonRule);
    // A body the processor cannot parse is refused: otherwise malformed JSON would hide its
    // strings from every rule.
    conf += fmt::format(
        "SecRule REQBODY_ERROR \"!@eq 0\" \"id:{},phase:2,t:none,log,deny,status:{},"
        "msg:'Failed to parse request body.'\"\n",
        kBodyErrorRule, kBadRequestStatus);
    conf += fmt::format(
        "SecRule MULTIPART_STRICT_ERROR \"!@eq 0\" \"id:{},phase:2,t:none,log,deny,status:{},"
        "msg:'Multipart request body failed strict validation.'\"\n",
        kMultipartStrictRule, kBadRequestStatus);
    // crs-setup.conf: anomaly scoring (rules add to a score and pass; 949110 decides).
    conf += "SecDefaultAction \"phase:1,log,auditlog,pass\"\n";
    conf += "SecDefaultAction \"phase:2,log,auditlog,pass\"\n";
    conf += fmt::format(
        "SecAction \"id:900000,phase:1,nolog,pass,t:none,setvar:tx.paranoia_level={}\"\n",
        settings.paranoia_level);
    conf += fmt::format(
        "SecAction \"id:900110,phase:1,nolog,pass,t:none,"
        "setvar:tx.inbound_anomaly_score_threshold={},"
        "setvar:tx.outbound_anomaly_score_threshold=4\"\n",
        settings.inbound_anomaly_threshold);
    // A REST API uses PUT, PATCH and DELETE; CRS allows only GET HEAD POST OPTIONS by default.
    conf +=
        "SecAction \"id:900200,phase:1,nolog,pass,t:none,"
        "setvar:'tx.allowed_methods=GET HEAD POST PUT PATCH DELETE OPTIONS'\"\n";
    conf += fmt::format(
        "SecAction \"id:900990,phase:1,nolog,pass,t:none,setvar:tx.crs_setup_version={}\"\n",
        kCrsSetupVersion);
    return conf;
}

/// Rules loaded after the CRS for what CRS 3.3.4 at paranoia level 1 misses. They run in
/// phase 1 (headers) and add to the CRS anomaly score, so 949110 (phase 2) still decides.
/// Log4Shell: CRS 3.3.4 has no JNDI rule, and its generic rules see `${jndi:...}` only in
/// arguments, not in headers such as User-Agent or X-Api-Version where the exploit travels.
std::string generate_supplement() {
    return fmt::format(
        "SecRule REQUEST_LINE|ARGS_GET|ARGS_NAMES|REQUEST_COOKIES|REQUEST_COOKIES_NAMES|"
        "REQUEST_HEADERS|REQUEST_HEADERS_NAMES "
        "\"@rx (?i)\\$\\{{(?:[^}}]{{0,15}}\\$\\{{|jndi|ctx)\" "
        "\"id:{},phase:1,block,capture,t:none,t:urlDecodeUni,t:jsDecode,t:htmlEntityDecode,log,"
        "msg:'Potential Remote Command Execution: Log4j / Log4Shell',"
        "logdata:'Matched Data: %{{TX.0}} found within %{{MATCHED_VAR_NAME}}',"
        "tag:'attack-rce',tag:'nimbus',severity:'CRITICAL',"
        "setvar:'tx.rce_score=+%{{tx.critical_anomaly_score}}',"
        "setvar:'tx.anomaly_score_pl1=+%{{tx.critical_anomaly_score}}'\"\n"
        // 933210 (PHP variable function call) matches every Markdown link, "[text](url)",
        // which API clients send all the time; Nimbus runs no PHP, and 933100-933200 still
        // catch PHP code itself.
        "SecRuleRemoveById {}\n",
        kLog4ShellRule, kPhpVariableFunctionCallRule);
}

/// The CRS request rules in load order (their file names sort in rule-id order). Response
/// rules are left out: response bodies are not inspected.
Result<std::vector<fs::path>> crs_rule_files(const std::string& crs_dir) {
    fs::path rules_dir = fs::path(crs_dir) / "rules";
    std::error_code ec;
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(rules_dir, ec)) {
        std::string name = entry.path().filename().string();
        if (name.starts_with("REQUEST-") && name.ends_with(".conf")) files.push_back(entry.path());
    }
    if (ec) {
        return Error::invalid(fmt::format("firewall: cannot read the CRS rules in {}: {}",
                                          rules_dir.string(), ec.message()));
    }
    if (files.empty()) {
        return Error::invalid(
            fmt::format("firewall: no REQUEST-*.conf rules in {}", rules_dir.string()));
    }
    std::sort(files.begin(), files.end());
    return files;
}

/// The error for a rules text that did not load, naming the file and the line. When
/// libmodsecurity's message names no line ("Rule id: N is duplicated"), `locate` finds it by
/// loading ever longer prefixes of the file (rules_location.hpp); it runs only on this path.
Error load_error(const std::string& file, const std::string& parser_error,
                 const std::function<int()>& locate = {}) {
    internal::ParserMessage message = internal::parse_parser_message(parser_error);
    if (message.line == 0 && locate) message.line = locate();
    std::string line = message.line > 0 ? std::to_string(message.line) : "unknown";
    return Error::invalid(
        fmt::format("firewall rules file {} line {}: {}", file, line, message.reason));
}

/// Whether `prefix` of rules file `files[index]` loads after everything loaded before it (the
/// generated configuration and the files before it), for locating an error. Tried on its own
/// first: most errors are in the text itself, and that costs no reload of the CRS.
bool prefix_loads(const std::string& configuration, const std::vector<fs::path>& files,
                  std::size_t index, std::string_view prefix, bool with_earlier_files) {
    modsecurity::RulesSet scratch;
    if (scratch.load(configuration.c_str(), "generated") < 0) return false;
    if (with_earlier_files) {
        for (std::size_t earlier = 0; earlier < index; ++earlier) {
            if (scratch.loadFromUri(files[earlier].c_str()) < 0) return false;
        }
    }
    return scratch.load(std::string(prefix).c_str(), files[index].string()) >= 0;
}

/// The line of `files[index]` that does not load (0 when none is found).
int locate_failing_line(const std::string& configuration, const std::vector<fs::path>& files,
                        std::size_t index) {
    std::ifstream in(files[index]);
    std::stringstream text;
    text << in.rdbuf();
    for (bool with_earlier_files : {false, true}) {
        int line = internal::first_failing_line(text.str(), [&](std::string_view prefix) {
            return prefix_loads(configuration, files, index, prefix, with_earlier_files);
        });
        if (line > 0) return line;
    }
    return 0;
}

}  // namespace

std::string_view to_string(FirewallVerdict::Outcome outcome) {
    switch (outcome) {
        case FirewallVerdict::Outcome::passed: return "passed";
        case FirewallVerdict::Outcome::blocked: return "blocked";
        case FirewallVerdict::Outcome::detected: return "detected";
    }
    return "passed";
}

Result<RuleExclusion> parse_rule_exclusion(std::string_view text) {
    std::size_t equals = text.rfind('=');
    if (equals == std::string_view::npos || equals == 0 || !text.starts_with('/')) {
        return Error::invalid(
            fmt::format("'{}' is not a rule exclusion: use ROUTE_TEMPLATE=ruleid,ruleid", text));
    }
    RuleExclusion exclusion{std::string(text.substr(0, equals)), {}};
    std::string_view ids = text.substr(equals + 1);
    while (!ids.empty()) {
        std::size_t comma = ids.find(',');
        std::string_view item = ids.substr(0, comma);
        ids = comma == std::string_view::npos ? std::string_view() : ids.substr(comma + 1);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
        int rule_id = 0;
        auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), rule_id);
        if (item.empty() || ec != std::errc() || end != item.data() + item.size() || rule_id <= 0) {
            return Error::invalid(
                fmt::format("'{}' in rule exclusion '{}' is not a rule id", item, text));
        }
        exclusion.rule_ids.push_back(rule_id);
    }
    if (exclusion.rule_ids.empty()) {
        return Error::invalid(fmt::format("rule exclusion '{}' names no rule ids", text));
    }
    return exclusion;
}

struct Firewall::Impl {
    // The engine and the rules are read-only once loaded: libmodsecurity documents a RulesSet
    // as shareable between threads, each with its own Transaction.
    modsecurity::ModSecurity engine;
    modsecurity::RulesSet rules;
    std::map<std::string, std::vector<int>, std::less<>> exclusions;
    bool blocking = true;
    std::string configuration;
    /// Null when switched off by the settings or not built yet. Written once, by the builder
    /// thread, before `prefilter_built` is set; read only after seeing it set (acquire), so
    /// request threads never see a half-built prefilter.
    std::unique_ptr<internal::Prefilter> prefilter;
    std::string prefilter_reason = "switched off (firewall.prefilter = false)";
    std::atomic<bool> prefilter_built{false};
    /// Lets await_prefilter() sleep until the build is done.
    mutable std::mutex build_mutex;
    mutable std::condition_variable build_done;
    /// Declared last: destroyed first, joining the builder before the members it writes go.
    std::jthread builder;

    /// The prefilter once built and active; null before (every request to the engine).
    const internal::Prefilter* ready_prefilter() const {
        if (!prefilter_built.load(std::memory_order_acquire)) return nullptr;
        return prefilter != nullptr && prefilter->active() ? prefilter.get() : nullptr;
    }
};

Firewall::Firewall() : impl_(std::make_unique<Impl>()) {}
Firewall::~Firewall() = default;

const std::string& Firewall::generated_configuration() const { return impl_->configuration; }

Result<std::shared_ptr<const Firewall>> Firewall::create(const FirewallSettings& settings) {
    if (settings.paranoia_level < kMinParanoiaLevel ||
        settings.paranoia_level > kMaxParanoiaLevel) {
        return Error::invalid(fmt::format("firewall: paranoia level {} is not within {}..{}",
                                          settings.paranoia_level, kMinParanoiaLevel,
                                          kMaxParanoiaLevel));
    }
    if (settings.inbound_anomaly_threshold < 1) {
        return Error::invalid("firewall: the inbound anomaly threshold must be at least 1");
    }
    std::shared_ptr<Firewall> firewall(new Firewall());
    Impl& impl = *firewall->impl_;
    impl.blocking = settings.blocking;
    // Matches are read from each transaction's messages; without a callback libmodsecurity
    // prints every match to stdout.
    impl.engine.setServerLogCb([](void*, const void*) {}, modsecurity::RuleMessageLogProperty);
    for (const auto& exclusion : settings.exclusions) {
        auto& ids = impl.exclusions[exclusion.route];
        ids.insert(ids.end(), exclusion.rule_ids.begin(), exclusion.rule_ids.end());
    }
    impl.configuration = generate_configuration(settings);
    if (impl.rules.load(impl.configuration.c_str(), "generated") < 0) {
        return load_error("(generated configuration)", impl.rules.getParserError());
    }
    auto files = crs_rule_files(settings.crs_dir);
    if (!files) return files.error();
    if (!settings.extra_rules_file.empty()) {
        if (!fs::is_regular_file(settings.extra_rules_file)) {
            return Error::invalid(
                fmt::format("firewall rules file {} does not exist", settings.extra_rules_file));
        }
        files->emplace_back(settings.extra_rules_file);
    }
    // One load per file (rather than one configuration of Include lines) so that an error
    // names the file it came from.
    for (std::size_t index = 0; index < files->size(); ++index) {
        if (impl.rules.loadFromUri((*files)[index].c_str()) < 0) {
            return load_error((*files)[index].string(), impl.rules.getParserError(), [&] {
                return locate_failing_line(impl.configuration, *files, index);
            });
        }
    }
    std::string supplement = generate_supplement();
    if (impl.rules.load(supplement.c_str(), "nimbus supplement") < 0) {
        return load_error("(nimbus supplement)", impl.rules.getParserError());
    }
    impl.configuration += supplement;
    if (!settings.prefilter) {
        impl.prefilter_built.store(true, std::memory_order_release);
    } else {
        // The prefilter reads the same rules text the engine loaded, in the same order.
        std::vector<internal::RulesText> texts;
        texts.push_back({"(generated configuration)", generate_configuration(settings), ""});
        for (const auto& file : *files) {
            std::ifstream in(file);
            std::stringstream text;
            text << in.rdbuf();
            // The operator's file may change what the prefilter relies on (docs/gateway.md).
            bool shipped =
                settings.extra_rules_file.empty() || file != fs::path(settings.extra_rules_file);
            texts.push_back({file.string(), text.str(), file.parent_path().string(), shipped});
        }
        texts.push_back({"(nimbus supplement)", supplement, ""});
        // Compiling the CRS expressions for the prefilter takes hundreds of milliseconds: it
        // is done on a thread of its own so the start does not wait, and until it is done
        // every request goes to the engine (the same verdicts, only slower).
        impl.prefilter_reason = "not built yet";
        impl.builder = std::jthread(
            [&impl, texts = std::move(texts), level = settings.paranoia_level,
             cache = settings.prefilter_cache_entries, hook = settings.before_prefilter_build] {
                if (hook) hook();
                auto built = internal::Prefilter::build(texts, level, cache);
                std::string reason = built->reason();
                if (!built->active()) {
                    log::warn("firewall prefilter inactive; every request goes to the engine",
                              {{"reason", reason}});
                }
                {
                    std::lock_guard lock(impl.build_mutex);
                    impl.prefilter = std::move(built);
                    impl.prefilter_reason = std::move(reason);
                    impl.prefilter_built.store(true, std::memory_order_release);
                }
                impl.build_done.notify_all();
            });
    }
    return std::shared_ptr<const Firewall>(std::move(firewall));
}

FirewallVerdict Firewall::inspect(const http::Request& request, std::string_view route,
                                  std::string_view client_address) const {
    FirewallVerdict verdict;
    modsecurity::Transaction transaction(&impl_->engine, &impl_->rules, nullptr);
    if (auto found = impl_->exclusions.find(route); found != impl_->exclusions.end()) {
        // The transaction's own removal list: the same effect as ctl:ruleRemoveById, exact to
        // the route the router matched instead of a regular expression over the URI.
        transaction.m_ruleRemoveById.insert(transaction.m_ruleRemoveById.end(),
                                            found->second.begin(), found->second.end());
    }
    std::string client(client_address);
    transaction.processConnection(client.c_str(), kUnknownPort, "", kUnknownPort);
    transaction.processURI(request.target.c_str(),
                           std::string(http::to_string(request.method)).c_str(), "1.1");
    for (const auto& header : request.headers) {
        transaction.addRequestHeader(header.name, header.value);
    }
    modsecurity::ModSecurityIntervention intervention;
    modsecurity::intervention::clean(&intervention);
    transaction.processRequestHeaders();
    bool disrupted = transaction.intervention(&intervention);
    if (!disrupted) {
        if (!request.body.empty()) {
            transaction.appendRequestBody(
                reinterpret_cast<const unsigned char*>(request.body.data()), request.body.size());
        }
        transaction.processRequestBody();
        disrupted = transaction.intervention(&intervention);
    }
    bool would_block = false;
    for (const auto& message : transaction.m_rulesMessages) {
        verdict.rule_ids.push_back(static_cast<int>(message.m_ruleId));
        // In detection mode nothing disrupts, so "would have blocked" is read from the rules
        // that block in blocking mode.
        if (message.m_ruleId == kBlockingEvaluationRule || message.m_ruleId == kBodyErrorRule ||
            message.m_ruleId == kMultipartStrictRule) {
            would_block = true;
        }
    }
    if (disrupted) {
        verdict.outcome = FirewallVerdict::Outcome::blocked;
        verdict.status = intervention.status > 0 ? intervention.status : kDefaultDenyStatus;
    } else if (would_block) {
        verdict.outcome = FirewallVerdict::Outcome::detected;
    }
    modsecurity::intervention::free(&intervention);
    transaction.processLogging();
    return verdict;
}

bool Firewall::clears(const http::Request& request, std::string_view client_address) const {
    const internal::Prefilter* prefilter = impl_->ready_prefilter();
    return prefilter != nullptr && prefilter->clears(request, client_address);
}

std::string Firewall::prefilter_refusal(const http::Request& request,
                                        std::string_view client_address) const {
    const internal::Prefilter* prefilter = impl_->ready_prefilter();
    if (prefilter == nullptr) return prefilter_reason();
    return prefilter->refusal(request, client_address);
}

bool Firewall::prefilter_active() const { return impl_->ready_prefilter() != nullptr; }

std::string Firewall::prefilter_reason() const {
    if (prefilter_active()) return {};
    std::lock_guard lock(impl_->build_mutex);  // the builder may be writing it
    return impl_->prefilter_reason;
}

void Firewall::await_prefilter() const {
    std::unique_lock lock(impl_->build_mutex);
    impl_->build_done.wait(lock,
                           [&] { return impl_->prefilter_built.load(std::memory_order_acquire); });
}

namespace {

class FirewallStep final : public http::Middleware {
public:
    FirewallStep(std::shared_ptr<const Firewall> firewall, metrics::Registry* registry,
                 FirewallBlockSink on_block)
        : firewall_(std::move(firewall)), on_block_(std::move(on_block)) {
        if (registry != nullptr) {
            auto& family =
                registry->counter("nimbus_firewall_decisions_total",
                                  "Requests the firewall inspected, by outcome.", {"outcome"});
            passed_ = &family.with({"passed"});
            blocked_ = &family.with({"blocked"});
            detected_ = &family.with({"detected"});
            cleared_ = &registry
                            ->counter("nimbus_firewall_prefilter_cleared_total",
                                      "Requests the prefilter passed without the engine.", {})
                            .with({});
        }
    }

    std::string_view name() const override { return "firewall"; }

    // The engine costs most of a millisecond per request: it runs on the worker pool.
    bool waits() const override { return true; }

    std::optional<http::Response> on_request(http::Request& request,
                                             http::RequestContext& context) override {
        if (cleared(request, context)) return std::nullopt;
        return answer(firewall_->inspect(request, context.route, context.client_address), request,
                      context);
    }

    boost::asio::awaitable<std::optional<http::Response>> on_request_async(
        http::Request& request, http::RequestContext& context) override {
        if (cleared(request, context)) co_return std::nullopt;
        FirewallVerdict verdict;
        co_await context.run_blocking(
            [&] { verdict = firewall_->inspect(request, context.route, context.client_address); });
        co_return answer(verdict, request, context);
    }

private:
    bool cleared(const http::Request& request, const http::RequestContext& context) {
        if (!firewall_->clears(request, context.client_address)) return false;
        if (passed_ != nullptr) passed_->inc();
        if (cleared_ != nullptr) cleared_->inc();
        return true;
    }

    std::optional<http::Response> answer(const FirewallVerdict& verdict,
                                         const http::Request& request,
                                         const http::RequestContext& context) {
        switch (verdict.outcome) {
            case FirewallVerdict::Outcome::passed:
                if (passed_ != nullptr) passed_->inc();
                return std::nullopt;
            case FirewallVerdict::Outcome::detected:
                if (detected_ != nullptr) detected_->inc();
                log_verdict("firewall would block request (detection only)", request, context,
                            verdict);
                return std::nullopt;
            case FirewallVerdict::Outcome::blocked: break;
        }
        if (blocked_ != nullptr) blocked_->inc();
        log_verdict("firewall blocked request", request, context, verdict);
        if (on_block_) {
            on_block_({context.request_id, context.route,
                       std::string(http::to_string(request.method)), context.client_address,
                       verdict.rule_ids, verdict.status});
        }
        // The answer names no rule: which rule fired would teach an attacker how to evade it.
        if (verdict.status == kBadRequestStatus) {
            return http::Response::make_problem(
                kBadRequestStatus, "unparseable-body", "Bad Request",
                "The request body could not be parsed as its Content-Type says.");
        }
        return http::Response::make_problem(
            kDefaultDenyStatus, "firewall-blocked", "Forbidden",
            "The firewall refused this request. Quote the request id if you think it is a "
            "mistake.");
    }

    static void log_verdict(std::string_view message, const http::Request& request,
                            const http::RequestContext& context, const FirewallVerdict& verdict) {
        std::string rule_ids = fmt::format("{}", fmt::join(verdict.rule_ids, ","));
        log::warn(message, {{"request_id", context.request_id},
                            {"route", context.route},
                            {"method", http::to_string(request.method)},
                            {"client", context.client_address},
                            {"rule_ids", rule_ids}});
    }

    std::shared_ptr<const Firewall> firewall_;
    FirewallBlockSink on_block_;
    metrics::Counter* passed_ = nullptr;
    metrics::Counter* blocked_ = nullptr;
    metrics::Counter* detected_ = nullptr;
    metrics::Counter* cleared_ = nullptr;
};

}  // namespace

std::unique_ptr<http::Middleware> make_firewall_step(std::shared_ptr<const Firewall> firewall,
                                                     metrics::Registry* registry,
                                                     FirewallBlockSink on_block) {
    return std::make_unique<FirewallStep>(std::move(firewall), registry, std::move(on_block));
}

}  // namespace nimbus::gateway
