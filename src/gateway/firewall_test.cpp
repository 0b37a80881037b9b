// The firewall step driven directly: the attack and benign corpora, detection-only mode,
// per-route exclusions and rules files that fail to load. One engine per mode for the whole
// binary, because loading the CRS costs tens of milliseconds.
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "core/metrics.hpp"
#include "gateway/gateway.hpp"

namespace nimbus::gateway {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

struct CorpusEntry {
    std::string name;
    http::Request request;
};

std::vector<CorpusEntry> load_corpus(const std::string& file) {
    std::ifstream in(fs::path(NIMBUS_CORPUS_DIR) / file);
    EXPECT_TRUE(in) << "cannot read corpus " << file;
    std::vector<CorpusEntry> entries;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        auto object = boost::json::parse(line).as_object();
        CorpusEntry entry;
        entry.name = object.at("name").as_string().c_str();
        http::Request& request = entry.request;
        request.method = *http::parse_method(object.at("method").as_string().c_str());
        request.target = object.at("target").as_string().c_str();
        std::size_t question = request.target.find('?');
        request.path = request.target.substr(0, question);
        if (question != std::string::npos) request.query = request.target.substr(question + 1);
        request.headers.push_back({"host", "api.example.com"});
        for (const auto& [name, value] : object.at("headers").as_object()) {
            request.headers.push_back({std::string(name), value.as_string().c_str()});
        }
        request.body = object.at("body").as_string().c_str();
        if (!request.body.empty()) {
            request.headers.push_back({"content-length", std::to_string(request.body.size())});
        }
        request.remote_address = "198.51.100.20";
        entries.push_back(std::move(entry));
    }
    return entries;
}

const Firewall& blocking_firewall() {
    static const std::shared_ptr<const Firewall> kFirewall = [] {
        auto created = Firewall::create({});
        EXPECT_TRUE(created) << created.error().message;
        return *created;
    }();
    return *kFirewall;
}

std::shared_ptr<const Firewall> detection_firewall() {
    static const std::shared_ptr<const Firewall> kFirewall = [] {
        FirewallSettings settings;
        settings.blocking = false;
        auto created = Firewall::create(settings);
        EXPECT_TRUE(created) << created.error().message;
        return *created;
    }();
    return kFirewall;
}

TEST(Firewall, BlocksEveryAttackOfTheCorpus) {
    auto attacks = load_corpus("attacks.jsonl");
    ASSERT_GE(attacks.size(), 40U);
    int blocked = 0;
    for (const auto& attack : attacks) {
        auto verdict = blocking_firewall().inspect(attack.request, "unmatched", "198.51.100.20");
        EXPECT_EQ(verdict.outcome, FirewallVerdict::Outcome::blocked) << attack.name;
        if (verdict.outcome == FirewallVerdict::Outcome::blocked) ++blocked;
    }
    RecordProperty("blocked", blocked);
    RecordProperty("total", static_cast<int>(attacks.size()));
}

TEST(Firewall, PassesEveryBenignRequestOfTheCorpus) {
    auto benign = load_corpus("benign.jsonl");
    ASSERT_GE(benign.size(), 40U);
    for (const auto& entry : benign) {
        auto verdict = blocking_firewall().inspect(entry.request, "unmatched", "198.51.100.20");
        EXPECT_EQ(verdict.outcome, FirewallVerdict::Outcome::passed)
            << entry.name << " matched rules " << testing::PrintToString(verdict.rule_ids);
    }
}

TEST(Firewall, DetectionOnlyLetsAttacksThroughButReportsThem) {
    auto attacks = load_corpus("attacks.jsonl");
    for (const auto& attack : attacks) {
        auto verdict = detection_firewall()->inspect(attack.request, "unmatched", "198.51.100.20");
        EXPECT_EQ(verdict.outcome, FirewallVerdict::Outcome::detected) << attack.name;
        EXPECT_FALSE(verdict.rule_ids.empty()) << attack.name;
    }
}

http::Request search(std::string query) {
    http::Request request;
    request.target = "/api/v1/search?q=" + query;
    request.path = "/api/v1/search";
    request.query = "q=" + query;
    request.headers = {{"host", "api.example.com"}, {"user-agent", "test"}};
    return request;
}

TEST(Firewall, StepAnswersProblemWithRequestIdAndNoRuleIds) {
    metrics::Registry registry;
    auto created = Firewall::create({});
    ASSERT_TRUE(created);
    auto step = make_firewall_step(*created, &registry);
    EXPECT_EQ(step->name(), "firewall");

    http::Request attack = search("1%27%20OR%20%271%27%3D%271");
    http::RequestContext context;
    context.request_id = "req_test";
    context.route = "/api/v1/search";
    context.client_address = "198.51.100.20";
    auto answer = step->on_request(attack, context);
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->status, 403);
    ASSERT_TRUE(answer->problem);
    EXPECT_EQ(answer->problem->type, "/problems/firewall-blocked");
    EXPECT_THAT(answer->problem->detail, ::testing::Not(HasSubstr("942")));

    http::Request benign = search("O%27Brien");
    EXPECT_FALSE(step->on_request(benign, context));

    std::string metrics_text = registry.render();
    EXPECT_THAT(metrics_text, HasSubstr("nimbus_firewall_decisions_total{outcome=\"blocked\"} 1"));
    EXPECT_THAT(metrics_text, HasSubstr("nimbus_firewall_decisions_total{outcome=\"passed\"} 1"));
}

TEST(Firewall, DetectionStepPassesAndCounts) {
    metrics::Registry registry;
    auto step = make_firewall_step(detection_firewall(), &registry);
    http::Request attack = search("%3Cscript%3Ealert(1)%3C%2Fscript%3E");
    http::RequestContext context;
    context.route = "/api/v1/search";
    EXPECT_FALSE(step->on_request(attack, context));
    EXPECT_THAT(registry.render(),
                HasSubstr("nimbus_firewall_decisions_total{outcome=\"detected\"} 1"));
}

TEST(Firewall, UnparseableJsonBodyIsABadRequest) {
    http::Request request = search("x");
    request.method = http::Method::post;
    request.headers.push_back({"content-type", "application/json"});
    request.body = R"({"name": "unterminated)";
    auto verdict = blocking_firewall().inspect(request, "/api/v1/search", "198.51.100.20");
    EXPECT_EQ(verdict.outcome, FirewallVerdict::Outcome::blocked);
    EXPECT_EQ(verdict.status, 400);
}

TEST(Firewall, RuleExclusionsApplyToTheirRouteOnly) {
    // A route that stores SQL snippets (a query console) legitimately sends what 942100 flags.
    FirewallSettings settings;
    auto exclusion = parse_rule_exclusion("/api/v1/queries=942100, 942190");
    ASSERT_TRUE(exclusion) << exclusion.error().message;
    settings.exclusions.push_back(*exclusion);
    auto firewall = Firewall::create(settings);
    ASSERT_TRUE(firewall) << firewall.error().message;

    http::Request request = search("1%27%20OR%20%271%27%3D%271");
    EXPECT_EQ((*firewall)->inspect(request, "/api/v1/queries", "198.51.100.20").outcome,
              FirewallVerdict::Outcome::passed);
    EXPECT_EQ((*firewall)->inspect(request, "/api/v1/search", "198.51.100.20").outcome,
              FirewallVerdict::Outcome::blocked);
}

TEST(Firewall, ParsesRuleExclusionsStrictly) {
    auto parsed = parse_rule_exclusion("/api/v1/orgs/{org_id}/notes=942100,941100");
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->route, "/api/v1/orgs/{org_id}/notes");
    EXPECT_EQ(parsed->rule_ids, (std::vector<int>{942100, 941100}));
    for (const char* bad : {"", "942100", "/api/v1/x", "/api/v1/x=", "/api/v1/x=abc",
                            "/api/v1/x=942100,,1", "api/v1/x=942100", "/api/v1/x=-5"}) {
        EXPECT_FALSE(parse_rule_exclusion(bad)) << bad;
    }
}

class TempFile {
public:
    explicit TempFile(const std::string& content)
        : path_(fs::temp_directory_path() /
                ("nimbus-firewall-test-" +
                 std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
                 std::to_string(counter_++) + ".conf")) {
        std::ofstream(path_) << content;
    }
    ~TempFile() { fs::remove(path_); }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    std::string path() const { return path_.string(); }

private:
    static inline int counter_ = 0;
    fs::path path_;
};

TEST(Firewall, BrokenRulesFileStopsTheStartNamingFileAndLine) {
    TempFile broken(
        "SecRule ARGS \"@rx nimbus-test\" \"id:10001,phase:2,deny,log\"\n"
        "\n"
        "SecRule ARGS \"@rx unterminated \"id:10002,phase:2\n");
    FirewallSettings settings;
    settings.extra_rules_file = broken.path();
    auto created = Firewall::create(settings);
    ASSERT_FALSE(created);
    EXPECT_THAT(created.error().message, HasSubstr(broken.path()));
    EXPECT_THAT(created.error().message, HasSubstr("line 3"));
}

/// A rules file whose line `broken_line` is `directive` and every other line a valid rule or
/// a comment, with a continued (backslash) rule before it so line numbers must be counted.
std::string rules_with_broken_line(int broken_line, const std::string& directive) {
    std::string text =
        "# local rules\n"
        "SecRule ARGS \"@rx nimbus-a\" \\\n"
        "    \"id:10011,phase:2,deny,log\"\n";
    int line = 4;
    for (int rule = 10012; line < broken_line; ++rule, ++line) {
        text += "SecRule ARGS \"@rx nimbus-" + std::to_string(rule) +
                "\" \"id:" + std::to_string(rule) + ",phase:2,deny,log\"\n";
    }
    text += directive + "\n";
    text += "SecRule ARGS \"@rx nimbus-z\" \"id:10099,phase:2,deny,log\"\n";
    return text;
}

TEST(Firewall, EveryKindOfBrokenRuleIsReportedWithItsLine) {
    struct Case {
        std::string name;
        int line;
        std::string directive;
        std::string reason;  // a fragment of the reason
    };
    const std::vector<Case> cases = {
        {"unknown action", 7, R"(SecRule ARGS "@rx x" "id:10050,phase:2,bogus")", "action"},
        {"unknown directive", 5, "SecBogusDirective On", "SecBogusDirective"},
        {"rule without id", 9, R"(SecRule ARGS "@rx x" "phase:2,deny")", "must have an ID"},
        // libmodsecurity names no line for these two: the prefix search finds it.
        {"id twice in the file", 8, R"(SecRule ARGS "@rx x" "id:10011,phase:2,deny")",
         "duplicated"},
        {"id of a CRS rule", 6, R"(SecRule ARGS "@rx x" "id:942100,phase:2,deny")", "duplicated"},
    };
    for (const auto& test_case : cases) {
        TempFile broken(rules_with_broken_line(test_case.line, test_case.directive));
        FirewallSettings settings;
        settings.prefilter = false;
        settings.extra_rules_file = broken.path();
        auto created = Firewall::create(settings);
        ASSERT_FALSE(created) << test_case.name;
        EXPECT_THAT(created.error().message,
                    HasSubstr("firewall rules file " + broken.path() + " line " +
                              std::to_string(test_case.line) + ": "))
            << test_case.name;
        EXPECT_THAT(created.error().message, HasSubstr(test_case.reason)) << test_case.name;
        EXPECT_THAT(created.error().message, ::testing::Not(HasSubstr("File:"))) << test_case.name;
    }
}

TEST(Firewall, ExtraRulesFileAddsRules) {
    TempFile extra(
        "SecRule ARGS:q \"@streq forbidden-word\" "
        "\"id:10003,phase:2,deny,status:403,log,msg:'test rule'\"\n");
    FirewallSettings settings;
    settings.extra_rules_file = extra.path();
    auto created = Firewall::create(settings);
    ASSERT_TRUE(created) << created.error().message;
    auto verdict = (*created)->inspect(search("forbidden-word"), "/", "198.51.100.20");
    EXPECT_EQ(verdict.outcome, FirewallVerdict::Outcome::blocked);
    EXPECT_THAT(verdict.rule_ids, ::testing::Contains(10003));
}

TEST(Firewall, MissingFilesAndBadSettingsAreClearErrors) {
    FirewallSettings missing;
    missing.extra_rules_file = "/nonexistent/nimbus-rules.conf";
    auto created = Firewall::create(missing);
    ASSERT_FALSE(created);
    EXPECT_THAT(created.error().message, HasSubstr("/nonexistent/nimbus-rules.conf"));

    FirewallSettings no_crs;
    no_crs.crs_dir = "/nonexistent/crs";
    EXPECT_FALSE(Firewall::create(no_crs));

    FirewallSettings paranoia;
    paranoia.paranoia_level = 5;
    EXPECT_FALSE(Firewall::create(paranoia));
}

TEST(Firewall, GeneratedConfigurationCarriesTheSettings) {
    FirewallSettings settings;
    settings.blocking = false;
    settings.paranoia_level = 2;
    settings.inbound_anomaly_threshold = 10;
    auto created = Firewall::create(settings);
    ASSERT_TRUE(created);
    const std::string& conf = (*created)->generated_configuration();
    EXPECT_THAT(conf, HasSubstr("SecRuleEngine DetectionOnly"));
    EXPECT_THAT(conf, HasSubstr("tx.paranoia_level=2"));
    EXPECT_THAT(conf, HasSubstr("tx.inbound_anomaly_score_threshold=10"));
}

}  // namespace
}  // namespace nimbus::gateway
