// The prefilter against the full engine: for every request of the attack corpus, the benign
// corpus and a few thousand generated ones, a request the prefilter clears must be one the
// engine passes with no rule matched. Generated requests are mostly plain, each with a few
// words or characters that rules look for, so both answers are exercised near the boundary.
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "core/metrics.hpp"
#include "gateway/gateway.hpp"

namespace nimbus::gateway {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kClient = "198.51.100.20";
constexpr int kGeneratedRequests = 2500;
/// The generator's seed: fixed, so a failure names a request that can be rebuilt.
constexpr unsigned kSeed = 20261124;

const Firewall& firewall() {
    static const std::shared_ptr<const Firewall> kFirewall = [] {
        auto created = Firewall::create({});
        EXPECT_TRUE(created) << created.error().message;
        (*created)->await_prefilter();
        return *created;
    }();
    return *kFirewall;
}

http::Request make_request(http::Method method, std::string target,
                           std::vector<http::Header> headers, std::string body) {
    http::Request request;
    request.method = method;
    request.target = std::move(target);
    std::size_t question = request.target.find('?');
    request.path = request.target.substr(0, question);
    if (question != std::string::npos) request.query = request.target.substr(question + 1);
    request.headers = std::move(headers);
    request.body = std::move(body);
    request.remote_address = std::string(kClient);
    return request;
}

std::vector<std::pair<std::string, http::Request>> corpus(const std::string& file) {
    std::ifstream in(fs::path(NIMBUS_CORPUS_DIR) / file);
    EXPECT_TRUE(in) << file;
    std::vector<std::pair<std::string, http::Request>> out;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        auto object = boost::json::parse(line).as_object();
        std::vector<http::Header> headers{{"host", "api.example.com"}};
        for (const auto& [name, value] : object.at("headers").as_object()) {
            headers.push_back({std::string(name), value.as_string().c_str()});
        }
        std::string body = object.at("body").as_string().c_str();
        if (!body.empty()) headers.push_back({"content-length", std::to_string(body.size())});
        out.emplace_back(object.at("name").as_string().c_str(),
                         make_request(*http::parse_method(object.at("method").as_string().c_str()),
                                      object.at("target").as_string().c_str(), std::move(headers),
                                      std::move(body)));
    }
    return out;
}

std::string describe(const http::Request& request) {
    std::string text = std::string(http::to_string(request.method)) + " " + request.target + "\n";
    for (const auto& header : request.headers) text += header.name + ": " + header.value + "\n";
    return text + "\n" + request.body;
}

/// Asserts the one property that makes skipping the engine safe, and says whether it cleared.
bool check(const http::Request& request, const std::string& name) {
    bool cleared = firewall().clears(request, kClient);
    auto verdict = firewall().inspect(request, "/test", kClient);
    if (cleared) {
        EXPECT_EQ(verdict.outcome, FirewallVerdict::Outcome::passed) << name << "\n"
                                                                     << describe(request);
        EXPECT_THAT(verdict.rule_ids, ::testing::IsEmpty()) << name << "\n" << describe(request);
    }
    return cleared;
}

TEST(FirewallPrefilter, IsActiveWithTheDefaultRules) {
    EXPECT_TRUE(firewall().prefilter_active()) << firewall().prefilter_reason();
}

TEST(FirewallPrefilter, ClearsNoAttackOfTheCorpus) {
    for (const auto& [name, request] : corpus("attacks.jsonl")) {
        EXPECT_FALSE(firewall().clears(request, kClient)) << name;
    }
}

TEST(FirewallPrefilter, AgreesWithTheEngineOnTheBenignCorpus) {
    int cleared = 0;
    auto benign = corpus("benign.jsonl");
    for (const auto& [name, request] : benign) {
        bool clears = check(request, name);
        cleared += clears ? 1 : 0;
        // Which check keeps each request on the engine: the list to work from when widening.
        std::string refusal = firewall().prefilter_refusal(request, kClient);
        EXPECT_EQ(clears, refusal.empty()) << name;
        if (!clears) std::cout << "to the engine: " << name << ": " << refusal << "\n";
    }
    RecordProperty("cleared", cleared);
    RecordProperty("total", static_cast<int>(benign.size()));
    // Most everyday API requests are plain; the corpus's prose, quotes and Markdown are not.
    EXPECT_GE(cleared, static_cast<int>(benign.size()) / 3);
}

/// Attacks in the shapes the prefilter reads itself (Unicode, JSON escapes and arrays, forms,
/// entities, extensions, OPTIONS, newlines): none may be cleared, and the engine blocks each.
TEST(FirewallPrefilter, ClearsNoAttackInTheShapesItModels) {
    struct Case {
        std::string name;
        http::Method method;
        std::string target;
        std::string content_type;
        std::string body;
    };
    const std::vector<Case> cases = {
        {"full-width tags in the query", http::Method::get,
         "/api/v1/search?q=%EF%BC%9Cscript%EF%BC%9Ealert(1)%EF%BC%9C/script%EF%BC%9E", "", ""},
        {"full-width quote in the query", http::Method::get,
         "/api/v1/search?q=1%EF%BC%87%20or%20%EF%BC%871%EF%BC%87=%EF%BC%871", "", ""},
        {"JSON \\u escapes of a script tag", http::Method::post, "/api/v1/notes",
         "application/json", R"({"text": "\u003cscript\u003ealert(1)\u003c/script\u003e"})"},
        {"JSON escaped quotes around SQL", http::Method::post, "/api/v1/notes", "application/json",
         R"({"text": "x\" OR \"1\"=\"1\" union select password from users"})"},
        {"script in a JSON array", http::Method::post, "/api/v1/notes", "application/json",
         R"({"tags": ["ok", ["<script>alert(1)</script>"]]})"},
        {"SQL in a JSON array of objects", http::Method::post, "/api/v1/notes", "application/json",
         R"({"steps": [{"q": "1 union select password from users--"}]})"},
        {"numeric entities in JSON", http::Method::post, "/api/v1/notes", "application/json",
         R"({"text": "&#60;script&#62;alert(1)&#60;/script&#62;"})"},
        {"named entities in a form", http::Method::post, "/api/v1/notes",
         "application/x-www-form-urlencoded",
         "text=%26lt%3Bscript%26gt%3Balert(1)%26lt%3B/script%26gt%3B"},
        {"SQL in a form", http::Method::post, "/login", "application/x-www-form-urlencoded",
         "email=a%40b.c&password=x%27%20or%20%271%27%3D%271"},
        {"traversal with doubled slashes", http::Method::get,
         "/api/v1/files?path=..//..//..//etc//passwd", "", ""},
        {"URL with doubled slashes to a shell", http::Method::post, "/api/v1/webhooks",
         "application/json", R"({"url": "http://x//bin//bash -c id"})"},
        {"restricted extension", http::Method::get, "/api/v1/backup.sql", "", ""},
        {"backup file", http::Method::get, "/api/v1/index.php~", "", ""},
        {"OPTIONS with SQL", http::Method::options, "/api/v1/orgs?id=1%20union%20select%201,2", "",
         ""},
        {"header injection in a JSON name", http::Method::post, "/api/v1/notes", "application/json",
         R"({"a\r\nSet-Cookie: x": "1"})"},
        {"PHP across a newline", http::Method::post, "/api/v1/notes", "application/json",
         R"({"text": "# notes\n<?php system($_GET['c']); ?>"})"},
    };
    for (const auto& test : cases) {
        std::vector<http::Header> headers{
            {"host", "api.example.com"}, {"accept", "application/json"}, {"user-agent", "cli/1.0"}};
        if (!test.content_type.empty()) {
            headers.push_back({"content-type", test.content_type});
            headers.push_back({"content-length", std::to_string(test.body.size())});
        }
        http::Request request = make_request(test.method, test.target, headers, test.body);
        EXPECT_FALSE(firewall().clears(request, kClient)) << test.name;
        auto verdict = firewall().inspect(request, "/test", kClient);
        EXPECT_EQ(verdict.outcome, FirewallVerdict::Outcome::blocked)
            << test.name << " rules " << ::testing::PrintToString(verdict.rule_ids);
    }
}

/// Words rules look for, and words they do not; plus characters of both kinds.
const std::vector<std::string>& vocabulary() {
    static const std::vector<std::string> kWords = {
        // everyday
        "invoice", "team", "alpha", "report", "2024", "hello world", "user_42", "name", "north",
        "id", "limit", "50", "cursor", "abc-def", "a.b", "x@example.com", "v1", "en-US", "ok",
        "usr_01J8ZXR5GS7HV3Y9D4FE2B1N2M", "eyJhbGciOiJFUzI1NiJ9", "Zm9vYmFy",
        "ZXZhbCg=", "bW9kdWxlLmV4cG9ydHMgPQ==", "dGhpcy5jb25zdHJ1Y3Rvcg", "union", "select", "from",
        // what rules look for
        "union select", "union all select password from users", "tempdb", "northwind",
        "information_schema", "pg_catalog", "sleep", "benchmark", "waitfor delay", "or 1=1",
        "1 or 1", "and 1=1", "having", "order by 1", "phpinfo", "passthru", "shell_exec",
        "base64_decode", "eval", "system", "exec", "wget", "curl", "bin/bash", "etc/passwd",
        "cmd.exe", "powershell", "script", "javascript:", "onerror", "onload", "alert",
        "document.cookie", "sqlmap", "nikto", "acunetix", "jndi:ldap", "ctx", "etc shadow",
        "web.config", ".git", ".env", "boot.ini", "win.ini", "php://input", "file://",
        "data:text/html", "this.constructor", "module.exports", "fromCharCode", "ls -la",
        "cat /etc/passwd", "id", "uname -a", "nc -e", "python -c", "perl -e", "chmod",
        "java.lang.Runtime", "getRuntime", "ProcessBuilder", "select from where", "select version",
        "@@version", "char", "concat", "xp_cmdshell", "exec master", "drop table", "insert into",
        "delete from", "update set", "alter table", "create user", "--", "/*", "*/", "/..", "../",
        "//", "%2e%2e", "%00", "%u0041", "&lt", "&amp", "&#x3c", "'", "\"", "`", "<", ">", "(", ")",
        ";", "|", "$", "{", "}", "\\", "#", "^", "~", "!", "+", "%", "&", "=", ":", ",", ".", "/",
        " ", "  ", "\t", "*", "@", "[", "]", "?",
        // shapes the prefilter models: Unicode (full-width '<' and '\'', a character whose
        // low byte is '%', NUL or a vertical tab), entities, JSON escapes, slashes, newlines
        "Jos\xC3\xA9", "\xE6\x9D\xB1\xE4\xBA\xAC", "\xEF\xBC\x9Cscript\xEF\xBC\x9E",
        "\xEF\xBC\x87 or 1=1", "\xC4\xA5", "\xE4\xB8\x80", "\xC4\x8B", "\xF0\x9F\x8E\x89",
        "\xE2\x80\x93", "\xC3\xA0", "\xF4\x8F\xBF\xBD", "&#60;", "&#x3c;", "Caf\xC3\xA9 & Bar",
        "a & b", "\\u003cscript\\u003e", "\\\"quoted\\\"", "\\n", "https://a.example/b//c",
        "..//..//", "line\nbreak", "# title\n\n* item"};
    return kWords;
}

class Generator {
public:
    explicit Generator(unsigned seed) : random_(seed) {}

    http::Request next() {
        static const std::vector<http::Method> kMethods = {
            http::Method::get,  http::Method::get,    http::Method::get,     http::Method::post,
            http::Method::post, http::Method::patch,  http::Method::delete_, http::Method::put,
            http::Method::head, http::Method::options};
        http::Method method = pick(kMethods);
        std::string target = "/api/v1/" + segment();
        if (chance(3)) target += "/" + segment();
        if (chance(6)) {
            target += pick(std::vector<std::string>{".json", ".tar.gz", ".bak", ".sql", ".php",
                                                    ".config", "~", ".js", ".old/x"});
        }
        if (chance(2)) {
            target += "?" + param() + "=" + encode(text());
            while (chance(3)) target += "&" + param() + "=" + encode(text());
        }
        std::vector<http::Header> headers;
        if (!chance(30))
            headers.push_back({"host", chance(15) ? "127.0.0.1:8080" : "api.example.com"});
        if (!chance(10)) {
            headers.push_back({"user-agent", chance(3) ? "Mozilla/5.0 (X11; Linux x86_64) "
                                                         "AppleWebKit/537.36 (KHTML, like Gecko) "
                                                         "Chrome/120.0 Safari/537.36"
                                                       : "client/" + text()});
        }
        if (chance(2)) {
            headers.push_back(
                {"accept", pick(std::vector<std::string>{"application/json", "*/*", "",
                                                         "text/html, */*;q=0.8", text()})});
        }
        if (chance(2)) headers.push_back({"authorization", "Bearer " + token()});
        if (chance(4)) headers.push_back({"cookie", "session=" + text() + "; theme=" + text()});
        if (chance(8))
            headers.push_back({pick(std::vector<std::string>{"x-api-version", "referer", "range",
                                                             "if", "x-forwarded-for"}),
                               text()});
        std::string body;
        bool with_body = method == http::Method::post || method == http::Method::put ||
                         method == http::Method::patch || chance(20);
        if (with_body) {
            boost::json::object object;
            object[param()] = text();
            if (chance(2)) object[param()] = static_cast<std::int64_t>(random_() % 1000);
            if (chance(3)) object["nested"] = boost::json::object{{param(), text()}};
            if (chance(6)) object["tags"] = boost::json::array{boost::json::value(text())};
            if (chance(8)) {
                object["points"] = boost::json::array{boost::json::array{1, 0.5},
                                                      boost::json::object{{param(), text()}}};
            }
            body = boost::json::serialize(object);
            // JSON escapes as clients write them ("\u00e9", "\/"), and some the parser
            // needs ("\\"), written into the text itself.
            if (chance(6)) {
                std::size_t quote = body.find("\":\"");
                if (quote != std::string::npos) {
                    body.insert(quote + 3, pick(std::vector<std::string>{
                                               "\\u00e9", "\\u003c", "\\/", "\\\\", "\\n",
                                               "\\u0027", "\\ud83c\\udf89", "\\u0000"}));
                }
            }
            bool form = chance(6);
            if (form) body = param() + "=" + encode(text()) + "&" + param() + "=" + encode(text());
            if (chance(15)) body.pop_back();  // malformed
            if (!chance(15)) {
                headers.push_back({"content-type", form || chance(8)
                                                       ? "application/x-www-form-urlencoded"
                                                       : "application/json"});
            }
            if (!chance(15)) headers.push_back({"content-length", std::to_string(body.size())});
        }
        return make_request(method, target, std::move(headers), std::move(body));
    }

private:
    bool chance(unsigned one_in) { return random_() % one_in == 0; }

    template <typename T>
    const T& pick(const std::vector<T>& items) {
        return items[random_() % items.size()];
    }

    std::string segment() {
        return pick(std::vector<std::string>{"orgs", "users", "search", "items", "me", "phpinfo",
                                             "admin", "files", "reports"});
    }

    std::string param() {
        return pick(std::vector<std::string>{"q", "id", "name", "sort", "limit", "filter", "title",
                                             "exec", "union", "cmd"});
    }

    /// A value of one to four words, mostly everyday ones.
    std::string text() {
        std::string out;
        int words = 1 + static_cast<int>(random_() % 4);
        for (int word = 0; word < words; ++word) {
            if (word > 0) out += chance(3) ? "" : " ";
            out += chance(3) ? pick(vocabulary()) : pick(vocabulary_plain());
        }
        return out;
    }

    const std::vector<std::string>& vocabulary_plain() {
        static const std::vector<std::string> kPlain(vocabulary().begin(),
                                                     vocabulary().begin() + 28);
        return kPlain;
    }

    std::string token() {
        static constexpr std::string_view kAlphabet =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
        std::string out;
        int length = 20 + static_cast<int>(random_() % 120);
        for (int i = 0; i < length; ++i) out += kAlphabet[random_() % kAlphabet.size()];
        return out;
    }

    /// Percent-encodes some characters, sometimes more than needed, sometimes not at all.
    std::string encode(const std::string& value) {
        std::string out;
        for (char c : value) {
            bool plain = std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_';
            if (c == ' ') {
                out += chance(2) ? "+" : "%20";
            } else if ((!plain && !chance(6)) || (plain && chance(40))) {
                out += fmt_hex(c);
            } else {
                out += c;
            }
        }
        return out;
    }

    static std::string fmt_hex(char c) {
        static constexpr std::string_view kHex = "0123456789ABCDEF";
        auto byte = static_cast<unsigned char>(c);
        return std::string{'%', kHex[byte >> 4], kHex[byte & 0xF]};
    }

    std::mt19937 random_;
};

TEST(FirewallPrefilter, RememberingCleanTextsChangesNoVerdict) {
    FirewallSettings settings;
    settings.prefilter_cache_entries = 0;
    auto uncached = Firewall::create(settings);
    ASSERT_TRUE(uncached) << uncached.error().message;
    (*uncached)->await_prefilter();
    ASSERT_TRUE((*uncached)->prefilter_active()) << (*uncached)->prefilter_reason();
    // Each request twice, and attacks after benign requests whose texts they share (the Host,
    // the client address, many headers): the second sight and the shared texts come from the
    // cache of the default firewall, every text from scratch in the other.
    Generator generator(kSeed);
    std::vector<std::pair<std::string, http::Request>> requests = corpus("benign.jsonl");
    for (auto& entry : corpus("attacks.jsonl")) requests.push_back(std::move(entry));
    for (int index = 0; index < kGeneratedRequests / 5; ++index) {
        requests.emplace_back("generated #" + std::to_string(index), generator.next());
    }
    for (int pass = 0; pass < 2; ++pass) {
        for (const auto& [name, request] : requests) {
            EXPECT_EQ(firewall().clears(request, kClient), (*uncached)->clears(request, kClient))
                << "pass " << pass << ": " << name << "\n"
                << describe(request);
        }
    }
}

TEST(FirewallPrefilter, AgreesWithTheEngineOnGeneratedRequests) {
    Generator generator(kSeed);
    int cleared = 0;
    for (int index = 0; index < kGeneratedRequests; ++index) {
        http::Request request = generator.next();
        cleared += check(request, "generated #" + std::to_string(index)) ? 1 : 0;
    }
    RecordProperty("cleared", cleared);
    RecordProperty("total", kGeneratedRequests);
    // Enough of each answer that the comparison means something.
    EXPECT_GE(cleared, kGeneratedRequests / 20);
    EXPECT_LE(cleared, kGeneratedRequests * 9 / 10);
}

TEST(FirewallPrefilter, StepSkipsTheEngineForClearedRequestsAndCountsThem) {
    metrics::Registry registry;
    auto created = Firewall::create({}).value();
    created->await_prefilter();
    auto step = make_firewall_step(created, &registry);
    http::Request plain = make_request(
        http::Method::get, "/api/v1/orgs/org_01J8ZXR5H2RG2XEZ9VC1J6A47S/members?limit=50",
        {{"host", "api.example.com"}, {"accept", "application/json"}, {"user-agent", "cli/1.0"}},
        "");
    http::RequestContext context;
    context.client_address = std::string(kClient);
    EXPECT_FALSE(step->on_request(plain, context));
    std::string text = registry.render();
    EXPECT_THAT(text, ::testing::HasSubstr("nimbus_firewall_prefilter_cleared_total 1"));
    EXPECT_THAT(text,
                ::testing::HasSubstr("nimbus_firewall_decisions_total{outcome=\"passed\"} 1"));
}

TEST(FirewallPrefilter, TheEngineDecidesEverythingUntilThePrefilterIsBuilt) {
    // The prefilter is built after create() returns; the hook holds its build until the
    // requests below have been inspected, so they certainly meet the firewall without it.
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    FirewallSettings settings;
    settings.before_prefilter_build = [released] { released.wait(); };
    auto created = Firewall::create(settings);
    ASSERT_TRUE(created) << created.error().message;
    std::shared_ptr<const Firewall> firewall = *created;
    EXPECT_FALSE(firewall->prefilter_active());
    EXPECT_EQ(firewall->prefilter_reason(), "not built yet");
    metrics::Registry registry;
    auto step = make_firewall_step(firewall, &registry);
    http::RequestContext context;
    context.client_address = std::string(kClient);
    for (auto& [name, request] : corpus("attacks.jsonl")) {
        EXPECT_FALSE(firewall->clears(request, kClient)) << name;
        auto answer = step->on_request(request, context);
        ASSERT_TRUE(answer) << name;
        EXPECT_TRUE(answer->status == 403 || answer->status == 400) << name;
    }
    for (auto& [name, request] : corpus("benign.jsonl")) {
        EXPECT_FALSE(firewall->clears(request, kClient)) << name;
        EXPECT_FALSE(step->on_request(request, context)) << name;
    }
    EXPECT_THAT(registry.render(),
                ::testing::HasSubstr("nimbus_firewall_prefilter_cleared_total 0"));
    release.set_value();
    firewall->await_prefilter();
    EXPECT_TRUE(firewall->prefilter_active()) << firewall->prefilter_reason();
    http::Request plain =
        make_request(http::Method::get, "/api/v1/me", {{"host", "api.example.com"}}, "");
    EXPECT_TRUE(firewall->clears(plain, kClient));
}

TEST(FirewallPrefilter, CanBeSwitchedOff) {
    FirewallSettings settings;
    settings.prefilter = false;
    auto created = Firewall::create(settings);
    ASSERT_TRUE(created);
    EXPECT_FALSE((*created)->prefilter_active());
    EXPECT_FALSE((*created)->prefilter_reason().empty());
    http::Request plain =
        make_request(http::Method::get, "/api/v1/me", {{"host", "api.example.com"}}, "");
    EXPECT_FALSE((*created)->clears(plain, kClient));
}

/// A rules file for `firewall.extra_rules_file`, removed at the end of the test.
class ExtraRules {
public:
    explicit ExtraRules(const std::string& content)
        : path_(fs::temp_directory_path() /
                ("nimbus-prefilter-test-" +
                 std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
                 std::to_string(counter_++) + ".conf")) {
        std::ofstream(path_) << content;
    }
    ~ExtraRules() { fs::remove(path_); }
    ExtraRules(const ExtraRules&) = delete;
    ExtraRules& operator=(const ExtraRules&) = delete;
    std::string path() const { return path_.string(); }

private:
    static inline int counter_ = 0;
    fs::path path_;
};

std::shared_ptr<const Firewall> with_extra_rules(const ExtraRules& extra) {
    FirewallSettings settings;
    settings.extra_rules_file = extra.path();
    auto created = Firewall::create(settings);
    EXPECT_TRUE(created) << created.error().message;
    if (!created) return nullptr;
    (*created)->await_prefilter();
    return *created;
}

http::Request plain_post() {
    std::string body = R"({"name":"Acme","seats":5})";
    return make_request(http::Method::post, "/api/v1/orgs",
                        {{"host", "api.example.com"},
                         {"content-type", "application/json"},
                         {"content-length", std::to_string(body.size())}},
                        body);
}

TEST(FirewallPrefilter, ExtraRulesNarrowingAllowedMethodsSwitchItOff) {
    // The shipped rules allow POST, so the prefilter clears a plain one...
    ASSERT_TRUE(firewall().clears(plain_post(), kClient));
    // ...but an operator's rule may allow GET only (any case, quoted): 911100 then refuses
    // every POST, which the prefilter's method check would not know.
    ExtraRules extra("SecAction \"id:10010,phase:1,pass,nolog,setvar:'TX.Allowed_Methods=GET'\"\n");
    auto narrowed = with_extra_rules(extra);
    ASSERT_TRUE(narrowed);
    EXPECT_FALSE(narrowed->prefilter_active());
    EXPECT_THAT(narrowed->prefilter_reason(), ::testing::HasSubstr("tx.allowed_methods"));
    EXPECT_THAT(narrowed->prefilter_reason(), ::testing::HasSubstr(extra.path()));
    EXPECT_FALSE(narrowed->clears(plain_post(), kClient));
    auto verdict = narrowed->inspect(plain_post(), "/test", kClient);
    EXPECT_EQ(verdict.outcome, FirewallVerdict::Outcome::blocked);
    EXPECT_THAT(verdict.rule_ids, ::testing::Contains(911100));
    http::Request get =
        make_request(http::Method::get, "/api/v1/me", {{"host", "api.example.com"}}, "");
    EXPECT_EQ(narrowed->inspect(get, "/test", kClient).outcome, FirewallVerdict::Outcome::passed);
}

TEST(FirewallPrefilter, ExtraRulesAddingAnUnrelatedRuleKeepItActive) {
    ExtraRules extra(
        "SecRule ARGS:q \"@streq forbidden-word\" "
        "\"id:10011,phase:2,deny,status:403,log,msg:'test rule'\"\n"
        "SecRule REQUEST_URI \"@beginsWith /api/v1/import\" "
        "\"id:10012,phase:1,pass,nolog,ctl:ruleRemoveById=942100,setvar:tx.import=1\"\n");
    auto firewall = with_extra_rules(extra);
    ASSERT_TRUE(firewall);
    EXPECT_TRUE(firewall->prefilter_active()) << firewall->prefilter_reason();
    EXPECT_TRUE(firewall->clears(plain_post(), kClient));
    http::Request word = make_request(http::Method::get, "/api/v1/search?q=forbidden-word",
                                      {{"host", "api.example.com"}}, "");
    EXPECT_FALSE(firewall->clears(word, kClient));
    EXPECT_EQ(firewall->inspect(word, "/test", kClient).outcome, FirewallVerdict::Outcome::blocked);
}

TEST(FirewallPrefilter, ExtraRulesItCannotFollowSwitchItOff) {
    // Each changes what a hand-checked rule sees, or rules in ways the analysis does not
    // model; the reason names it.
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"SecRule REQUEST_URI \"@beginsWith /x\" "
         "\"id:10020,phase:1,pass,nolog,setvar:tx.allowed_request_content_type=|text/xml|\"",
         "tx.allowed_request_content_type"},
        {"SecAction \"id:10021,phase:1,pass,nolog,setvar:tx.allowed_http_versions=HTTP/2\"",
         "tx.allowed_http_versions"},
        {"SecAction \"id:10022,phase:1,pass,nolog,setvar:'tx.restricted_headers=/accept/'\"",
         "tx.restricted_headers"},
        {"SecAction \"id:10023,phase:1,pass,nolog,setvar:TX.RESTRICTED_EXTENSIONS=.json/\"",
         "tx.restricted_extensions"},
        {"SecAction \"id:10024,phase:1,pass,nolog,setvar:tx.executing_paranoia_level=4\"",
         "tx.executing_paranoia_level"},
        // The marker that skips the paranoia level 2 protocol rules: removed, they run.
        {"SecRuleRemoveById 920014", "rule 920014"},
        {"SecAction \"id:10025,phase:1,pass,nolog,ctl:ruleRemoveById=920000-920020\"",
         "ctl:ruleRemoveById=920000-920020"},
        {"SecAction \"id:10026,phase:1,pass,nolog,ctl:ruleRemoveByTag=paranoia-level/1\"",
         "ctl:ruleRemoveByTag"},
        {"SecAction \"id:10027,phase:1,pass,nolog,ctl:requestBodyProcessor=XML\"",
         "ctl:requestBodyProcessor"},
        {"SecRuleUpdateTargetById 942100 \"REQUEST_HEADERS:X-Extra\"", "SecRuleUpdateTargetById"},
        {"SecArgumentSeparator ;", "SecArgumentSeparator"},
        {"secaction \"id:10028,phase:1,pass,nolog,setvar:tx.allowed_methods=GET\"",
         "tx.allowed_methods"},
    };
    for (const auto& [text, named] : cases) {
        ExtraRules extra(text + "\n");
        auto firewall = with_extra_rules(extra);
        ASSERT_TRUE(firewall) << text;
        EXPECT_FALSE(firewall->prefilter_active()) << text;
        EXPECT_THAT(firewall->prefilter_reason(), ::testing::HasSubstr(named)) << text;
        EXPECT_FALSE(firewall->clears(plain_post(), kClient)) << text;
    }
}

}  // namespace
}  // namespace nimbus::gateway
