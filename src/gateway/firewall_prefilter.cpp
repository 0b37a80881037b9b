// The firewall prefilter. The argument, in short (docs/gateway.md has it in full):
//
// 1. Every rule that can add to the anomaly score (or deny) at the configured paranoia level is
//    read from the same rules text the engine loaded. A rule can only fire when the first rule
//    of its chain matches, so the chain's first rule is what is analysed.
// 2. For a pattern rule (@rx, @pm, @pmFromFile, @contains, @streq, ...) over request data, the
//    literals that must occur in any text it matches are computed: RE2's prefilter for regular
//    expressions (an AND/OR formula over lower-case literals), the phrases themselves for
//    phrase lists. libinjection (@detectSQLi, @detectXSS) is called directly.
// 3. Every other scoring rule (counts, negated patterns, protocol checks) must be one this file
//    checks by hand (kHandChecked); one that is not makes the prefilter inactive.
// 4. A request is screened only when every string the rules see consists of characters on
//    which the decoding transformations (URL, HTML entity, JS, CSS) change nothing; the ones
//    that do change such text (letter case, '+' as a space, white space, cmdLine, comments,
//    doubled slashes, base64, and for UTF-8 utf8toUnicode and urlDecodeUni after it) are
//    computed here as variants, exactly as libmodsecurity 3.0.9 computes them, and screened
//    too. JSON names follow its processor (json.a.array_0.b).
// 5. It is cleared when no literal formula of any pattern rule is satisfied by the literals
//    found in those strings (and their variants), libinjection finds nothing, and every
//    hand-checked rule is known not to fire. Otherwise the engine decides, as before.
#include "gateway/firewall_prefilter.hpp"

#include <re2/filtered_re2.h>
#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <unordered_set>

#include <fmt/format.h>
#include <boost/json.hpp>

extern "C" {
// libinjection is linked into libmodsecurity (which exports it); these are its entry points as
// declared in libinjection.h, which Debian does not ship.
int libinjection_sqli(const char* input, std::size_t length, char fingerprint[]);
int libinjection_xss(const char* input, std::size_t length);
}

namespace nimbus::gateway::internal {
namespace {

/// RE2's prefilter drops literals shorter than this. 1 keeps single characters such as '<' or
/// '$', which many attack patterns need and plain text lacks; the expressions a text's
/// literals allow are then run on the text itself.
constexpr int kMinAtomLength = 1;
/// The per-thread cache of clean texts keeps none longer than this.
constexpr std::size_t kCachedTextBytes = 1024;

std::uint64_t next_prefilter_id() {
    static std::atomic<std::uint64_t> next{1};
    return next.fetch_add(1, std::memory_order_relaxed);
}

/// libinjection wants a buffer of at least 8 bytes for the fingerprint.
constexpr std::size_t kFingerprintBytes = 8;
/// Strings longer than this go to the engine: CRS's length rules are off by default, but the
/// screen's cost should stay bounded and small requests are the common case.
constexpr std::size_t kMaxScreenedBytes = 64 * 1024;
constexpr int kBase64Bits = 6;
constexpr int kByteBits = 8;

/// Scoring rules that are not screened by literals, each checked by hand in shape_ok() or
/// unable to fire with the configuration Firewall::create generates. Why each is safe:
const std::map<int, std::string_view>& hand_checked() {
    // Tables the prefilter's builder thread reads are never destroyed: a process may exit while
    // the builder still runs, and function statics die in reverse order of construction.
    static const std::map<int, std::string_view>& kRules = *new std::map<int, std::string_view>{
        // Setup and initialisation: set defaults, score nothing.
        {901001, "setup check; crs_setup_version is always set"},
        {901100, "default threshold; set by the generated setup"},
        {901110, "default threshold; set by the generated setup"},
        {901140, "default score value"},
        {901141, "default score value"},
        {901142, "default score value"},
        {901143, "default score value"},
        {901500, "paranoia level bound"},
        // IP reputation and DoS protection need settings the generated setup never makes.
        {910000, "tx.do_reput_block unset"},
        {910100, "tx.high_risk_country_codes unset"},
        {910150, "tx.block_search_ip unset"},
        {910160, "tx.block_spammer_ip unset"},
        {910170, "tx.block_suspicious_ip unset"},
        {910180, "tx.block_harvester_ip unset"},
        {912120, "DoS protection unconfigured"},
        {912130, "DoS protection unconfigured"},
        // Protocol rules: shape_ok() checks each.
        {911100, "method: shape_ok allows only GET HEAD POST PUT PATCH DELETE OPTIONS"},
        {920100, "request line: shape_ok requires a plain origin-form target"},
        {920160, "Content-Length digits: shape_ok"},
        {920180, "POST without Content-Length: shape_ok requires it"},
        {920181, "Transfer-Encoding: shape_ok refuses it"},
        {920250, "UTF-8 validation off (tx.crs_validate_utf8_encoding unset)"},
        {920270, "byte range 1-255: plain() admits no NUL byte"},
        {920280, "Host missing: shape_ok requires it"},
        {920360, "argument limits unset"},
        {920370, "argument limits unset"},
        {920380, "argument limits unset"},
        {920390, "argument limits unset"},
        {920400, "file size limits unset"},
        {920410, "file size limits unset"},
        {920430, "protocol: always HTTP/1.1"},
        {920470, "Content-Type format: shape_ok allows JSON and urlencoded only"},
        {920600, "Accept format: shape_ok allows a plain media-range list only"},
        {920620, "several Content-Type headers: shape_ok refuses them"},
        {922100, "multipart only: shape_ok refuses multipart"},
        {922110, "multipart only: shape_ok refuses multipart"},
        {922120, "multipart only: shape_ok refuses multipart"},
        {920500, "backup file names: shape_ok refuses a '~' in the path"},
        // Score sums and the evaluation: zero when nothing scored.
        {949060, "sums the per-level scores"},
        {949061, "sums the per-level scores"},
        {949062, "sums the per-level scores"},
        {949063, "sums the per-level scores"},
        {949100, "IP reputation flag never set (see 910xxx)"},
        {949110, "fires only at the threshold, which needs a scoring rule"},
        // Nimbus's generated rules.
        {200002, "unparseable body: shape_ok parses the JSON body itself"},
        {200003, "multipart strict: shape_ok refuses multipart"},
        // Pattern rules without a usable literal, checked by hand:
        {920190, "Range header: shape_ok refuses Range and Request-Range"},
        {920210, "Connection header: shape_ok allows one token only"},
        {920290, "empty Host: shape_ok requires a non-empty Host"},
        {920310, "empty Accept: shape_ok requires a non-empty Accept when present"},
        {920311, "empty Accept: shape_ok requires a non-empty Accept when present"},
        {920330, "empty User-Agent: shape_ok requires a non-empty one when present"},
        {920340, "Content-Length without Content-Type: shape_ok"},
        {920350, "numeric Host: shape_ok refuses a Host of digits, dots and colons"},
        {920420, "Content-Type allowed: shape_ok allows JSON and urlencoded only"},
        {920440, "restricted extension: shape_ok checks it against tx.restricted_extensions"},
        {920450, "restricted headers: shape_ok refuses proxy, lock-token, content-range, if"},
        {920480, "charset allowed: shape_ok allows utf-8 only"},
        {920170, "GET/HEAD with a body: shape_ok refuses one"},
        {920171, "GET/HEAD with Transfer-Encoding: shape_ok refuses it"},
        {920240, "urlencoded body: needs an invalid %-escape, which clears() refuses"},
        {920260, "%u escapes: shape_ok refuses %u"},
        {920220, "URL encoding: shape_ok requires valid %HH"},
        {920120, "multipart file names: shape_ok refuses multipart"},
        {920530, "two charsets: shape_ok allows one parameter only"},
        {932180, "upload file names: shape_ok refuses multipart"},
        {933110, "upload file names: shape_ok refuses multipart"},
    };
    return kRules;
}

/// Transformations whose effect on the characters the screen admits is the identity or one of
/// the variants clears() computes. A rule using any other is not screened.
bool transformation_modelled(std::string_view name) {
    static const std::set<std::string, std::less<>>& kModelled =
        *new std::set<std::string, std::less<>>{"none",
                                                "lowercase",
                                                "urlDecode",
                                                "urlDecodeUni",
                                                "htmlEntityDecode",
                                                "jsDecode",
                                                "cssDecode",
                                                "utf8toUnicode",
                                                "removeNulls",
                                                "cmdLine",
                                                "compressWhitespace",
                                                "removeWhitespace",
                                                "replaceComments",
                                                "normalisePath",
                                                "normalizePath",
                                                "normalisePathWin",
                                                "normalizePathWin",
                                                "base64Decode",
                                                "escapeSeqDecode"};
    return kModelled.contains(name);
}

// ---------------------------------------------------------------------------------------------
// Reading the rules text

struct Directive {
    std::vector<std::string> args;  // unquoted, backslash escapes kept
};

std::vector<Directive> directives(const std::string& text) {
    // Join continuation lines, then split each line into words and quoted strings.
    std::string joined;
    joined.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] == '\n') {
            ++i;
            continue;
        }
        joined += text[i];
    }
    std::vector<Directive> out;
    std::istringstream lines(joined);
    std::string line;
    while (std::getline(lines, line)) {
        std::size_t at = line.find_first_not_of(" \t\r");
        if (at == std::string::npos || line[at] == '#') continue;
        Directive directive;
        while (at < line.size()) {
            while (at < line.size() && (line[at] == ' ' || line[at] == '\t' || line[at] == '\r'))
                ++at;
            if (at >= line.size()) break;
            std::string word;
            if (line[at] == '"' || line[at] == '\'') {
                char quote = line[at++];
                while (at < line.size() && line[at] != quote) {
                    if (line[at] == '\\' && at + 1 < line.size()) {
                        if (line[at + 1] == quote) {
                            word += quote;  // \" inside the string means a quote
                            at += 2;
                            continue;
                        }
                        word += line[at++];
                    }
                    word += line[at++];
                }
                ++at;
            } else {
                while (at < line.size() && line[at] != ' ' && line[at] != '\t') word += line[at++];
            }
            directive.args.push_back(std::move(word));
        }
        if (!directive.args.empty()) out.push_back(std::move(directive));
    }
    return out;
}

/// Splits actions on commas outside single quotes.
std::vector<std::string> split_actions(const std::string& actions) {
    std::vector<std::string> out;
    std::string current;
    bool quoted = false;
    for (char c : actions) {
        if (c == '\'') quoted = !quoted;
        if (c == ',' && !quoted) {
            out.push_back(current);
            current.clear();
            continue;
        }
        current += c;
    }
    out.push_back(current);
    for (auto& action : out) {
        std::size_t first = action.find_first_not_of(" \t");
        std::size_t last = action.find_last_not_of(" \t");
        action = first == std::string::npos ? "" : action.substr(first, last - first + 1);
    }
    return out;
}

bool scores(const std::vector<std::string>& actions) {
    static const std::regex& kScore = *new std::regex(
        R"(^setvar:'?tx\.(?:inbound_)?anomaly_score(?:_pl\d)?=\+)", std::regex::icase);
    return std::any_of(actions.begin(), actions.end(), [](const std::string& action) {
        return action == "block" || action == "deny" || action == "drop" ||
               std::regex_search(action, kScore);
    });
}

/// One rule as the analysis sees it: the first rule of its chain, and whether the chain scores.
struct Rule {
    int id = 0;
    int paranoia_level = 0;
    std::string variables;
    std::string op;  // "rx", "pm", ...
    std::string param;
    bool negated = false;
    std::vector<std::string> transformations;
    bool scoring = false;
    std::string data_dir;
    bool shipped = true;  ///< from the generated setup, the CRS or the supplement
};

/// The values `setvar:tx.restricted_extensions=...` gives anywhere in the rules (920440 checks
/// a path's extension against the one in force, which is one of these).
struct PolicyLists {
    std::vector<std::string> restricted_extensions;
    bool extensions_known = true;  ///< false when a value is built from macros (%{...})
    /// What the operator's rules do that the prefilter cannot follow (each makes it inactive).
    std::vector<std::string> untrusted;
    /// Rules the operator's rules remove (SecRuleRemoveById, ctl:ruleRemove(Target)ById), as
    /// id ranges with where they came from: harmless for a scoring rule, not for one that sets
    /// up a value or skips the rules of a higher paranoia level.
    struct Removal {
        int first;
        int last;
        std::string where;
    };
    std::vector<Removal> removals;
};

std::string lower_ascii(std::string_view text) {
    std::string out(text);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

/// An id or an id range ("920100" or "920100-920199"); nullopt when it is neither.
std::optional<std::pair<int, int>> id_range(std::string_view text) {
    auto number = [](std::string_view digits) -> std::optional<int> {
        constexpr std::size_t kMaxDigits = 9;
        if (digits.empty() || digits.size() > kMaxDigits) return std::nullopt;
        int value = 0;
        for (char c : digits) {
            if (c < '0' || c > '9') return std::nullopt;
            value = value * 10 + (c - '0');  // NOLINT(readability-magic-numbers): decimal
        }
        return value;
    };
    std::size_t dash = text.find('-');
    auto first = number(text.substr(0, dash));
    auto last = dash == std::string_view::npos ? first : number(text.substr(dash + 1));
    if (!first || !last || *last < *first) return std::nullopt;
    return std::pair{*first, *last};
}

/// TX variables the prefilter's checks assume the generated setup and the CRS defaults for
/// (allowed methods, content types and versions, restricted headers and extensions, paranoia
/// levels, UTF-8 validation, argument and file limits, IP reputation, DoS): a name starting
/// with one of these.
bool assumed_setting(std::string_view name) {
    static constexpr std::array<std::string_view, 16> kPrefixes = {"allowed_",
                                                                   "restricted_",
                                                                   "paranoia_level",
                                                                   "blocking_paranoia",
                                                                   "detection_paranoia",
                                                                   "executing_paranoia",
                                                                   "crs_validate",
                                                                   "max_",
                                                                   "arg_",
                                                                   "total_arg",
                                                                   "combined_file",
                                                                   "do_reput",
                                                                   "high_risk",
                                                                   "block_",
                                                                   "dos_",
                                                                   "enforce_bodyproc"};
    return std::any_of(kPrefixes.begin(), kPrefixes.end(),
                       [&](std::string_view prefix) { return name.starts_with(prefix); }) ||
           name.find("%{") != std::string_view::npos;
}

/// Records what an operator's rule does that the prefilter cannot follow: a setvar of an
/// assumed setting, a ctl: other than one that only removes or switches off, a rule removal.
void read_untrusted(const std::vector<std::string>& actions, const std::string& where,
                    PolicyLists& policy) {
    for (const auto& action : actions) {
        std::string text = lower_ascii(action);
        if (text.starts_with("setvar:")) {
            std::string_view assignment = std::string_view(text).substr(7);
            while (!assignment.empty() && (assignment.front() == '\'' ||
                                           assignment.front() == '!' || assignment.front() == ' '))
                assignment.remove_prefix(1);
            if (!assignment.starts_with("tx.")) continue;
            std::string_view name = assignment.substr(3, assignment.find('=') - 3);
            if (assumed_setting(name)) {
                policy.untrusted.push_back(fmt::format("{} sets tx.{}", where, name));
            }
        } else if (text.starts_with("ctl:")) {
            std::string_view control = std::string_view(text).substr(4);
            std::size_t equals = control.find('=');
            std::string_view name = control.substr(0, equals);
            std::string_view value =
                equals == std::string_view::npos ? "" : control.substr(equals + 1);
            // Switching the engine or its audit log off, or not reading the body, only lets
            // more requests pass; so does removing a scoring rule (checked after reading).
            if (name == "ruleengine" || name == "auditengine" || name == "auditlogparts" ||
                name == "requestbodyaccess") {
                continue;
            }
            if (name == "ruleremovebyid" || name == "ruleremovetargetbyid") {
                auto range = id_range(value.substr(0, value.find(';')));
                if (range) {
                    policy.removals.push_back(
                        {range->first, range->second, fmt::format("{} ({})", where, action)});
                    continue;
                }
            }
            policy.untrusted.push_back(fmt::format("{} uses {}", where, action));
        }
    }
}

void read_policy(const std::vector<std::string>& actions, PolicyLists& policy) {
    static constexpr std::string_view kSet = "tx.restricted_extensions=";
    for (const auto& action : actions) {
        if (!action.starts_with("setvar:")) continue;
        std::string_view assignment = std::string_view(action).substr(7);
        bool quoted = assignment.starts_with('\'');
        if (quoted) assignment.remove_prefix(1);
        std::string name(assignment.substr(0, kSet.size()));
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (name != kSet) continue;
        std::string_view value = assignment.substr(kSet.size());
        if (quoted && value.ends_with('\'')) value.remove_suffix(1);
        if (value.find("%{") != std::string_view::npos) policy.extensions_known = false;
        std::string list(value);
        for (char& c : list) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        policy.restricted_extensions.push_back(std::move(list));
    }
}

std::vector<Rule> read_rules(const std::vector<RulesText>& files,
                             std::vector<std::pair<int, int>>& removed, PolicyLists& policy) {
    std::vector<Rule> rules;
    for (const auto& file : files) {
        int level = 0;
        bool in_chain = false;
        for (const auto& directive : directives(file.text)) {
            const auto& args = directive.args;
            std::string name = lower_ascii(args[0]);
            if (name == "secruleremovebyid") {
                for (std::size_t i = 1; i < args.size(); ++i) {
                    auto range = id_range(args[i]);
                    if (!range) {
                        policy.untrusted.push_back(
                            fmt::format("{} removes rules by \"{}\"", file.name, args[i]));
                        continue;
                    }
                    removed.push_back(*range);
                    if (!file.shipped) {
                        policy.removals.push_back(
                            {range->first, range->second,
                             fmt::format("{} (SecRuleRemoveById {})", file.name, args[i])});
                    }
                }
                continue;
            }
            // In the operator's file, removing rules by tag or message, changing a rule's
            // targets or actions, and directives that change how requests are parsed or what
            // rules default to (SecArgumentSeparator, SecDefaultAction, body limits, ...) are
            // not modelled: only rules, markers and switches that can only let more pass are.
            static const std::set<std::string, std::less<>>& kFollowed =
                *new std::set<std::string, std::less<>>{
                    "secrule",          "secaction",        "secmarker",
                    "secruleengine",    "secauditengine",   "secauditlog",
                    "secauditlogparts", "secauditlogtype",  "secauditlogstoragedir",
                    "secdebuglog",      "secdebugloglevel", "seccomponentsignature"};
            if (!file.shipped && !kFollowed.contains(name)) {
                policy.untrusted.push_back(fmt::format("{} uses {}", file.name, args[0]));
                continue;
            }
            // Directive names are read in any case, as the engine reads them.
            bool is_rule = name == "secrule" && args.size() >= 3;
            bool is_action = name == "secaction" && args.size() >= 2;
            if (!is_rule && !is_action) continue;
            std::string actions_text = is_rule ? (args.size() > 3 ? args[3] : "") : args[1];
            auto actions = split_actions(actions_text);
            read_policy(actions, policy);
            if (!file.shipped) read_untrusted(actions, file.name, policy);
            bool chains = std::find(actions.begin(), actions.end(), "chain") != actions.end();
            if (is_rule && args[1] == "TX:EXECUTING_PARANOIA_LEVEL" &&
                args[2].starts_with("@lt ")) {
                level = std::stoi(args[2].substr(4));
                // Kept (scoring nothing) so that removing a marker is noticed.
                Rule marker;
                for (const auto& action : actions) {
                    if (action.starts_with("id:")) marker.id = std::stoi(action.substr(3));
                }
                marker.shipped = file.shipped;
                marker.op = "marker";
                rules.push_back(std::move(marker));
                continue;
            }
            if (in_chain) {
                // A later rule of the chain: its actions may carry the score.
                if (scores(actions)) rules.back().scoring = true;
                in_chain = chains;
                continue;
            }
            Rule rule;
            rule.paranoia_level = level;
            rule.data_dir = file.data_dir;
            rule.shipped = file.shipped;
            rule.scoring = scores(actions);
            for (const auto& action : actions) {
                if (action.starts_with("id:")) rule.id = std::stoi(action.substr(3));
                if (action.starts_with("t:")) rule.transformations.push_back(action.substr(2));
            }
            if (is_rule) {
                rule.variables = args[1];
                std::string op = args[2];
                if (op.starts_with('!')) {
                    rule.negated = true;
                    op.erase(0, 1);
                }
                if (op.starts_with('@')) {
                    std::size_t space = op.find(' ');
                    rule.op = op.substr(1, space == std::string::npos ? space : space - 1);
                    rule.param = space == std::string::npos ? "" : op.substr(space + 1);
                } else {
                    rule.op = "rx";
                    rule.param = op;
                }
            } else {
                rule.op = "unconditional";
            }
            rules.push_back(std::move(rule));
            in_chain = chains;
        }
    }
    return rules;
}

/// The groups of strings a rule may look at; a rule's patterns are screened only against the
/// strings of the groups its variables name.
enum StringClass : std::uint8_t {
    kArgs,      // ARGS values (query, form and JSON body), cookie values, files, XML
    kHeaders,   // header values and names
    kUri,       // path, raw and decoded target, query string
    kLine,      // request line, method, protocol, client address
    kBody,      // the raw body
    kArgNames,  // ARGS_NAMES (query, form, JSON names) and cookie names
    kClassCount
};

/// The classes `variables` ("ARGS|REQUEST_HEADERS:User-Agent|!REQUEST_COOKIES:/__utm/") read,
/// as a bit mask; 0 when one of them is not request data (TX, counts, collections, results of
/// other rules), which this screen does not model.
unsigned classes_of(const std::string& variables) {
    static const std::map<std::string, StringClass, std::less<>>& kClasses =
        *new std::map<std::string, StringClass, std::less<>>{{"ARGS", kArgs},
                                                             {"ARGS_NAMES", kArgNames},
                                                             {"ARGS_GET", kArgs},
                                                             {"ARGS_GET_NAMES", kArgNames},
                                                             {"ARGS_POST", kArgs},
                                                             {"ARGS_POST_NAMES", kArgNames},
                                                             {"REQUEST_COOKIES", kArgs},
                                                             {"REQUEST_COOKIES_NAMES", kArgNames},
                                                             {"XML", kArgs},
                                                             {"FILES", kArgs},
                                                             {"FILES_NAMES", kArgNames},
                                                             {"REQUEST_HEADERS", kHeaders},
                                                             {"REQUEST_HEADERS_NAMES", kHeaders},
                                                             {"REQUEST_FILENAME", kUri},
                                                             {"REQUEST_BASENAME", kUri},
                                                             {"REQUEST_URI", kUri},
                                                             {"REQUEST_URI_RAW", kUri},
                                                             {"QUERY_STRING", kUri},
                                                             {"REQUEST_LINE", kLine},
                                                             {"REQUEST_METHOD", kLine},
                                                             {"REQUEST_PROTOCOL", kLine},
                                                             {"REMOTE_ADDR", kLine},
                                                             {"REQUEST_BODY", kBody}};
    unsigned mask = 0;
    std::size_t at = 0;
    while (at <= variables.size()) {
        std::size_t bar = variables.find('|', at);
        std::string variable =
            variables.substr(at, bar == std::string::npos ? std::string::npos : bar - at);
        at = bar == std::string::npos ? variables.size() + 1 : bar + 1;
        if (variable.starts_with('!')) continue;  // an exclusion only removes values
        if (variable.starts_with('&')) return 0;
        auto found = kClasses.find(variable.substr(0, variable.find(':')));
        if (found == kClasses.end()) return 0;
        mask |= 1U << found->second;
    }
    return mask;
}

/// Whether `a` is `b` but for the letter case of A-Z.
bool equal_ignoring_case(std::string_view a, std::string_view b) {
    auto fold = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                              [&](char x, char y) { return fold(x) == fold(y); });
}

std::string lower(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

std::vector<std::string> phrases_of(const Rule& rule, std::string& error) {
    std::vector<std::string> phrases;
    if (rule.op == "pm") {
        std::istringstream words(rule.param);
        std::string word;
        while (words >> word) phrases.push_back(lower(word));
        return phrases;
    }
    // @pmFromFile: one or more files, relative to the rules file's folder.
    std::istringstream names(rule.param);
    std::string name;
    while (names >> name) {
        std::ifstream in(name.starts_with('/') ? name : rule.data_dir + "/" + name);
        if (!in) {
            error = fmt::format("rule {}: cannot read {}", rule.id, name);
            return {};
        }
        std::string line;
        while (std::getline(in, line)) {
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (line.empty() || line.starts_with('#')) continue;
            phrases.push_back(lower(line));
        }
    }
    return phrases;
}

// ---------------------------------------------------------------------------------------------
// Aho-Corasick over lower-case bytes: which literals occur in a text, in one pass.

class LiteralSet {
public:
    /// Returns the index of the added literal.
    int add(const std::string& literal) {
        literals_.push_back(literal);
        return static_cast<int>(literals_.size()) - 1;
    }

    void compile() {
        // Byte classes: bytes no literal contains share class 0, which breaks every match.
        std::array<bool, 256> used{};
        for (const auto& literal : literals_) {
            for (unsigned char c : literal) used[c] = true;
        }
        classes_ = 1;
        for (int byte = 0; byte < 256; ++byte) {
            byte_class_[byte] = used[byte] ? static_cast<std::uint8_t>(classes_++) : 0;
        }
        // The trie.
        next_.assign(classes_, -1);
        outputs_.emplace_back();
        for (int index = 0; index < static_cast<int>(literals_.size()); ++index) {
            int state = 0;
            for (unsigned char c : literals_[index]) {
                int& edge = next_[state * classes_ + byte_class_[c]];
                if (edge < 0) {
                    edge = static_cast<int>(outputs_.size());
                    outputs_.emplace_back();
                    next_.resize(next_.size() + classes_, -1);
                }
                state = next_[state * classes_ + byte_class_[c]];
            }
            outputs_[state].push_back(index);
        }
        // Failure links, breadth first, turning the trie into a full transition table.
        std::vector<int> fail(outputs_.size(), 0);
        std::vector<int> queue;
        for (int c = 0; c < classes_; ++c) {
            int& edge = next_[c];
            if (edge < 0) {
                edge = 0;
            } else {
                fail[edge] = 0;
                queue.push_back(edge);
            }
        }
        for (std::size_t head = 0; head < queue.size(); ++head) {
            int state = queue[head];
            const auto& inherited = outputs_[fail[state]];
            outputs_[state].insert(outputs_[state].end(), inherited.begin(), inherited.end());
            for (int c = 0; c < classes_; ++c) {
                int& edge = next_[state * classes_ + c];
                int fallback = next_[fail[state] * classes_ + c];
                if (edge < 0) {
                    edge = fallback;
                } else {
                    fail[edge] = fallback;
                    queue.push_back(edge);
                }
            }
        }
    }

    /// Appends the index of every literal occurring in `text` (already lower case) to `hits`
    /// (an index may appear more than once).
    /// As scan(), but each index once: `seen` (one entry per literal) holds `stamp` for the
    /// literals already reported; the caller passes a new stamp for each text.
    void scan_distinct(std::string_view text, std::vector<int>& hits,
                       std::vector<std::uint32_t>& seen, std::uint32_t stamp) const {
        seen.resize(literals_.size());
        int state = 0;
        for (unsigned char c : text) {
            state = next_[state * classes_ + byte_class_[c]];
            for (int index : outputs_[state]) {
                auto& mark = seen[static_cast<std::size_t>(index)];
                if (mark == stamp) continue;
                mark = stamp;
                hits.push_back(index);
            }
        }
    }

    std::size_t size() const { return literals_.size(); }

private:
    std::vector<std::string> literals_;
    std::array<std::uint8_t, 256> byte_class_{};
    int classes_ = 1;
    std::vector<int> next_;
    std::vector<std::vector<int>> outputs_;
};

// ---------------------------------------------------------------------------------------------
// The strings a request shows the rules

/// Characters the screen admits in every decoded string: printable ASCII but '%' (a second
/// URL decoding would change the text) and '\\' (JavaScript, CSS and escape-sequence
/// decoding); tab, line feed and carriage return (white space alike to PCRE and RE2, and to
/// the variants below); and UTF-8 sequences, whose transformations (t:utf8toUnicode, then
/// t:urlDecodeUni) are computed as variants (unicode_forms()). '&' is admitted where it
/// starts no entity (entity_free()). On these, the decoding transformations the rules apply
/// are the identity, and the others (lower case, '+' as a space, cmdLine, white space removal
/// and compression, path normalisation, base64) are computed exactly by the variants.
bool plain_char(unsigned char c) {
    return (c >= ' ' && c <= '~' && c != '%' && c != '\\') || c == '\t' || c == '\n' || c == '\r';
}

/// The length of the well-formed UTF-8 sequence (2 to 4 bytes, no overlong form, no
/// surrogate, at most U+10FFFF) starting at `at`, or 0; its code point in `code_point`.
std::size_t utf8_sequence(std::string_view text, std::size_t at, std::uint32_t& code_point) {
    constexpr unsigned kContinuationMask = 0xC0;
    constexpr unsigned kContinuation = 0x80;
    constexpr unsigned kPayloadBits = 6;
    auto lead = static_cast<unsigned char>(text[at]);
    std::size_t length = 0;
    std::uint32_t minimum = 0;
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2;
        code_point = lead & 0x1FU;
        minimum = 0x80;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        code_point = lead & 0x0FU;
        minimum = 0x800;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        code_point = lead & 0x07U;
        minimum = 0x10000;
    } else {
        return 0;
    }
    if (at + length > text.size()) return 0;
    for (std::size_t index = 1; index < length; ++index) {
        auto next = static_cast<unsigned char>(text[at + index]);
        if ((next & kContinuationMask) != kContinuation) return 0;
        code_point = (code_point << kPayloadBits) | (next & 0x3FU);
    }
    if (code_point < minimum || code_point > 0x10FFFF ||
        (code_point >= 0xD800 && code_point <= 0xDFFF)) {
        return 0;
    }
    return length;
}

bool ascii(std::string_view text) {
    return std::all_of(text.begin(), text.end(),
                       [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

/// No '&' that t:htmlEntityDecode would read as the start of an entity: &lt &gt &amp &quot
/// &nbsp (with or without ';') and numeric &#N / &#xH (libmodsecurity 3.0.9 decodes these and
/// leaves others, such as &apos; or a lone &, as they are).
bool entity_free(std::string_view text) {
    for (std::size_t at = text.find('&'); at != std::string_view::npos;
         at = text.find('&', at + 1)) {
        std::string next = lower(text.substr(at + 1, 4));
        if (next.starts_with("lt") || next.starts_with("gt") || next.starts_with("amp") ||
            next.starts_with("quot") || next.starts_with("nbsp") || next.starts_with('#')) {
            return false;
        }
    }
    return true;
}

bool plain(std::string_view text) {
    for (std::size_t at = 0; at < text.size(); ++at) {
        auto c = static_cast<unsigned char>(text[at]);
        if (c >= 0x80) {
            std::uint32_t code_point = 0;
            std::size_t length = utf8_sequence(text, at, code_point);
            if (length == 0) return false;
            at += length - 1;
        } else if (!plain_char(c)) {
            return false;
        }
    }
    return entity_free(text);
}

/// What t:utf8toUnicode makes of a plain text (each non-ASCII character as "%u" and its code
/// point in at least four lower-case hex digits), and what t:urlDecodeUni then makes of that
/// (libmodsecurity 3.0.9 without a unicode map: the byte of the third and fourth hex digit,
/// plus 0x20 for full-width ASCII U+FF01..U+FF5E; a fifth digit stays as it is). Both were
/// read off the engine's debug log and are tested against it.
struct UnicodeForms {
    std::string escaped;  ///< t:utf8toUnicode
    std::string decoded;  ///< then t:urlDecodeUni
};

UnicodeForms unicode_forms(std::string_view text) {
    constexpr std::uint32_t kFourDigits = 0xFFFF;
    constexpr std::uint32_t kFullWidthHigh = 0xFF;
    constexpr unsigned kFullWidthShift = 0x20;
    constexpr unsigned kFullWidthLimit = 0x5F;
    UnicodeForms forms;
    for (std::size_t at = 0; at < text.size(); ++at) {
        auto c = static_cast<unsigned char>(text[at]);
        std::uint32_t code_point = 0;
        std::size_t length = c >= 0x80 ? utf8_sequence(text, at, code_point) : 0;
        if (length == 0) {
            forms.escaped += static_cast<char>(c);
            forms.decoded += static_cast<char>(c);
            continue;
        }
        at += length - 1;
        std::string hex = fmt::format("{:04x}", code_point);
        forms.escaped += "%u" + hex;
        // %uHHHH: the low byte of the first four digits; further digits are left as text.
        constexpr unsigned kDigitBits = 4;
        std::uint32_t four = code_point >> (kDigitBits * (hex.size() - 4));
        unsigned byte = four & 0xFFU;
        if ((four >> 8) == kFullWidthHigh && byte > 0 && byte < kFullWidthLimit) {
            byte += kFullWidthShift;
        }
        forms.decoded += static_cast<char>(byte);
        if (code_point > kFourDigits) forms.decoded += hex.substr(4);  // one or two digits
    }
    return forms;
}

/// Records why a request goes to the engine (for refusal()) and says so.
bool refuse(std::string* why, std::string_view reason) {
    if (why != nullptr) *why = reason;
    return false;
}

/// t:normalisePath changes a text with a "." or ".." segment; such texts go to the engine
/// rather than being normalised here. Runs of '/' it collapses (collapse_slashes()).
bool path_normal(std::string_view text) {
    std::size_t at = 0;
    while (at <= text.size()) {
        std::size_t slash = text.find('/', at);
        std::string_view segment =
            text.substr(at, slash == std::string_view::npos ? std::string_view::npos : slash - at);
        if (segment == "." || segment == "..") return false;
        if (slash == std::string_view::npos) break;
        at = slash + 1;
    }
    return true;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/// Percent-decoding with '+' as a space (ModSecurity's argument parsing); nullopt for a
/// malformed escape, which the engine's URL-encoding rules would look at.
std::optional<std::string> url_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '+') {
            out += ' ';
        } else if (c == '%') {
            if (i + 2 >= text.size()) return std::nullopt;
            int high = hex_value(text[i + 1]);
            int low = hex_value(text[i + 2]);
            if (high < 0 || low < 0) return std::nullopt;
            out += static_cast<char>(high * 16 + low);
            i += 2;
        } else {
            out += c;
        }
    }
    return out;
}

/// Base64 decoding of every complete byte, stopping at the first character outside the
/// alphabet. t:base64Decode (mbedtls) yields this, a prefix of it, the input or nothing; the
/// one rule using it (934100) searches without anchors, so screening this text covers all.
std::string base64_decoded(std::string_view text) {
    std::string out;
    out.reserve(text.size() * 3 / 4 + 1);
    int bits = 0;
    std::uint32_t buffer = 0;
    for (char c : text) {
        int value = -1;
        if (c >= 'A' && c <= 'Z') value = c - 'A';
        if (c >= 'a' && c <= 'z') value = c - 'a' + 26;
        if (c >= '0' && c <= '9') value = c - '0' + 52;
        if (c == '+') value = 62;
        if (c == '/') value = 63;
        if (c == ' ') continue;
        if (value < 0) break;
        buffer = (buffer << kBase64Bits) | static_cast<std::uint32_t>(value);
        bits += kBase64Bits;
        if (bits >= kByteBits) {
            bits -= kByteBits;
            out += static_cast<char>((buffer >> bits) & 0xFF);
        }
    }
    return out;
}

/// ModSecurity's t:cmdLine, character for character (src/actions/transformations/cmd_line.cc).
std::string cmd_line(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    bool space = false;
    for (char c : text) {
        switch (c) {
            case '"':
            case '\'':
            case '\\':
            case '^': break;
            case ' ':
            case ',':
            case ';':
            case '\t':
            case '\r':
            case '\n':
                if (!space) {
                    out += ' ';
                    space = true;
                }
                break;
            case '/':
            case '(':
                if (space) out.pop_back();
                space = false;
                out += c;
                break;
            default:
                // tolower() in the C locale, as ModSecurity runs it: A-Z only.
                out += c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
                space = false;
                break;
        }
    }
    return out;
}

/// White space to t:compressWhitespace (isspace() in the C locale).
bool space_char(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/// The byte t:removeWhitespace removes besides white space.
constexpr unsigned char kNbsp = 0xA0;

/// t:removeWhitespace: libmodsecurity 3.0.9 removes white space and the byte 0xA0 (NBSP, also
/// the second byte of some UTF-8 characters such as U+00E0).
std::string without_spaces(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        if (!space_char(c) && static_cast<unsigned char>(c) != kNbsp) out += c;
    }
    return out;
}

/// t:normalisePath on a text without dot segments: runs of '/' become one.
std::string collapse_slashes(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        if (c == '/' && !out.empty() && out.back() == '/') continue;
        out += c;
    }
    return out;
}

/// t:replaceComments: each "/* ... */", and an unterminated "/*" to the end, becomes one space.
std::string replace_comments(std::string_view text) {
    std::string out;
    std::size_t at = 0;
    while (at < text.size()) {
        std::size_t open = text.find("/*", at);
        if (open == std::string_view::npos) {
            out += text.substr(at);
            break;
        }
        out += text.substr(at, open - at);
        out += ' ';
        std::size_t close = text.find("*/", open + 2);
        at = close == std::string_view::npos ? text.size() : close + 2;
    }
    return out;
}

/// t:compressWhitespace: each run of white space becomes one space (0xA0 is kept).
std::string compressed(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    bool in_space = false;
    for (char c : text) {
        if (space_char(c)) {
            if (!in_space) out += ' ';
            in_space = true;
            continue;
        }
        in_space = false;
        out += c;
    }
    return out;
}

constexpr std::string_view kFormType = "application/x-www-form-urlencoded";

/// Whether the body is urlencoded (shape_ok admits JSON and this type only).
bool form_body(const http::Request& request) {
    auto type = request.header("content-type");
    return type && lower(*type).starts_with(kFormType);
}

/// The ARGS ModSecurity's JSON processor (libmodsecurity 3.0.9, yajl) makes of `text`, a JSON
/// object without backslashes that boost::json accepted: an object member is PREFIX.KEY, an
/// array element PREFIX.array_N (N from 0 in each array), the top object's prefix is "json";
/// a value is the string between its quotes, a number as written, "true"/"false", and "" for
/// null; empty objects and arrays add nothing. Seen in its debug log ("Adding request
/// argument (JSON)") and tested against the engine in firewall_prefilter_test.cpp.
/// Appends a code point below U+10000 as UTF-8.
void append_utf8(std::string& out, unsigned code) {
    constexpr unsigned kOneByte = 0x80;
    constexpr unsigned kTwoBytes = 0x800;
    if (code < kOneByte) {
        out += static_cast<char>(code);
    } else if (code < kTwoBytes) {
        out += static_cast<char>(0xC0U | (code >> 6));
        out += static_cast<char>(0x80U | (code & 0x3FU));
    } else {
        out += static_cast<char>(0xE0U | (code >> 12));
        out += static_cast<char>(0x80U | ((code >> 6) & 0x3FU));
        out += static_cast<char>(0x80U | (code & 0x3FU));
    }
}

class JsonArguments {
public:
    JsonArguments(std::string_view text, std::vector<std::pair<std::string, std::string>>& out)
        : text_(text), out_(out) {}

    bool run() {
        skip_space();
        return value("json") && (skip_space(), at_ == text_.size());
    }

private:
    void skip_space() {
        while (at_ < text_.size() && (text_[at_] == ' ' || text_[at_] == '\t' ||
                                      text_[at_] == '\n' || text_[at_] == '\r')) {
            ++at_;
        }
    }

    bool take(char c) {
        skip_space();
        if (at_ >= text_.size() || text_[at_] != c) return false;
        ++at_;
        return true;
    }

    /// A string with its escapes decoded as yajl decodes them (\\uXXXX as UTF-8); a surrogate
    /// escape refuses the request rather than model surrogate pairs.
    std::optional<std::string> string() {
        constexpr int kHexDigits = 4;
        constexpr unsigned kSurrogateFirst = 0xD800;
        constexpr unsigned kSurrogateLast = 0xDFFF;
        if (!take('"')) return std::nullopt;
        std::string out;
        while (at_ < text_.size() && text_[at_] != '"') {
            char c = text_[at_++];
            if (c != '\\') {
                out += c;
                continue;
            }
            if (at_ >= text_.size()) return std::nullopt;
            char escape = text_[at_++];
            switch (escape) {
                case '"':
                case '\\':
                case '/': out += escape; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': {
                    if (at_ + kHexDigits > text_.size()) return std::nullopt;
                    unsigned code = 0;
                    for (int digit = 0; digit < kHexDigits; ++digit) {
                        int value = hex_value(text_[at_++]);
                        if (value < 0) return std::nullopt;
                        code = code * 16 + static_cast<unsigned>(value);
                    }
                    if (code >= kSurrogateFirst && code <= kSurrogateLast) return std::nullopt;
                    append_utf8(out, code);
                    break;
                }
                default: return std::nullopt;
            }
        }
        if (at_ >= text_.size()) return std::nullopt;
        ++at_;
        return out;
    }

    bool value(const std::string& name) {
        skip_space();
        if (at_ >= text_.size()) return false;
        char c = text_[at_];
        if (c == '{') {
            ++at_;
            if (take('}')) return true;
            do {
                auto key = string();
                if (!key || !take(':') || !value(name + "." + *key)) return false;
            } while (take(','));
            return take('}');
        }
        if (c == '[') {
            ++at_;
            if (take(']')) return true;
            int index = 0;
            do {
                if (!value(name + ".array_" + std::to_string(index++))) return false;
            } while (take(','));
            return take(']');
        }
        if (c == '"') {
            auto text = string();
            if (!text) return false;
            out_.emplace_back(name, std::move(*text));
            return true;
        }
        std::size_t end = at_;
        while (end < text_.size() &&
               std::string_view("+-.0123456789eEtruefalsn").find(text_[end]) !=
                   std::string_view::npos) {
            ++end;
        }
        std::string scalar(text_.substr(at_, end - at_));
        if (scalar.empty()) return false;
        at_ = end;
        out_.emplace_back(name, scalar == "null" ? std::string() : std::move(scalar));
        return true;
    }

    std::string_view text_;
    std::size_t at_ = 0;
    std::vector<std::pair<std::string, std::string>>& out_;
};

bool json_arguments(std::string_view text, std::vector<std::pair<std::string, std::string>>& out) {
    return JsonArguments(text, out).run();
}

}  // namespace

struct Prefilter::Impl {
    /// Clean texts each thread remembers per class (check()); 0: none.
    std::size_t cache_entries = 0;
    /// The expressions screening one class of strings.
    struct ClassExpressions {
        re2::FilteredRE2 expressions{kMinAtomLength};
        std::vector<int> rule_ids;
    };
    /// What finding a literal means, per class of the string it was found in.
    struct LiteralUse {
        unsigned phrase_classes = 0;  // a phrase of a phrase rule over these classes
        std::array<int, kClassCount> atom{-1, -1, -1, -1, -1, -1};  // RE2 atom index per class
    };

    bool active = false;
    /// Unique per built prefilter (never reused), so per-thread caches never outlive it.
    std::uint64_t id = next_prefilter_id();
    std::string reason;
    std::size_t rules = 0;
    std::array<ClassExpressions, kClassCount> by_class;
    // Classes whose rules call libinjection, or apply these transformations.
    unsigned sqli_classes = 0;
    unsigned xss_classes = 0;
    unsigned normalise_classes = 0;
    unsigned comment_classes = 0;
    // Classes whose rules apply a transformation that reads backslashes as escapes or
    // separators (JavaScript, CSS, escape sequences, Windows paths).
    unsigned backslash_classes = 0;
    // Rules that also look at base64-decoded arguments (t:base64Decode), and whether any of
    // them is a phrase rule.
    std::set<int> base64_rules;
    bool base64_phrases = false;
    LiteralSet literals;
    std::vector<LiteralUse> uses;  // per literal
    /// Every value tx.restricted_extensions is given (lower case), for 920440.
    std::vector<std::string> restricted_extensions;
    bool extensions_known = true;

    bool shape_ok(const http::Request& request, std::string* why) const;
    bool check(const http::Request& request, std::string_view client_address,
               std::string* why) const;
};

Prefilter::Prefilter() : impl_(std::make_unique<Impl>()) {}
Prefilter::~Prefilter() = default;

bool Prefilter::active() const { return impl_->active; }
const std::string& Prefilter::reason() const { return impl_->reason; }
std::size_t Prefilter::atom_count() const { return impl_->literals.size(); }
std::size_t Prefilter::rule_count() const { return impl_->rules; }

std::unique_ptr<Prefilter> Prefilter::build(const std::vector<RulesText>& files, int paranoia_level,
                                            std::size_t cache_entries) {
    std::unique_ptr<Prefilter> prefilter(new Prefilter());
    Impl& impl = *prefilter->impl_;
    impl.cache_entries = cache_entries;
    std::vector<std::pair<int, int>> removed;
    PolicyLists policy;
    auto rules = read_rules(files, removed, policy);
    impl.restricted_extensions = policy.restricted_extensions;
    impl.extensions_known = policy.extensions_known;
    // An operator's rule that removes a shipped rule scoring nothing (a setup rule giving a
    // default, or a marker skipping the rules of higher paranoia levels) changes what the
    // scoring rules see: the hand checks would no longer hold.
    for (const auto& removal : policy.removals) {
        for (const auto& rule : rules) {
            if (rule.shipped && !rule.scoring && rule.id >= removal.first &&
                rule.id <= removal.last) {
                policy.untrusted.push_back(fmt::format("{} removes rule {}, which scores nothing",
                                                       removal.where, rule.id));
                break;
            }
        }
    }
    if (!policy.untrusted.empty()) {
        std::string reasons;
        for (const auto& reason : policy.untrusted)
            reasons += (reasons.empty() ? "" : "; ") + reason;
        impl.reason = "extra rules change what the prefilter relies on: " + reasons;
        return prefilter;
    }
    auto is_removed = [&](int id) {
        return std::any_of(removed.begin(), removed.end(), [id](const auto& range) {
            return id >= range.first && id <= range.second;
        });
    };

    re2::RE2::Options options;
    options.set_encoding(re2::RE2::Options::EncodingLatin1);
    options.set_log_errors(false);
    options.set_max_mem(int64_t{256} << 20);

    std::vector<std::string> unscreened;
    struct Expression {
        int rule_id;
        std::string pattern;
        unsigned classes;
    };
    std::vector<Expression> expressions;  // patterns RE2 accepts
    std::map<std::string, Impl::LiteralUse> literal_uses;
    for (const auto& rule : rules) {
        if (!rule.scoring || rule.paranoia_level > paranoia_level || is_removed(rule.id)) {
            continue;
        }
        ++impl.rules;
        // shape_ok() stands for a hand-checked rule, whatever its operator.
        if (hand_checked().contains(rule.id)) continue;
        bool modelled = std::all_of(rule.transformations.begin(), rule.transformations.end(),
                                    transformation_modelled);
        unsigned classes = classes_of(rule.variables);
        for (const auto& transformation : rule.transformations) {
            if (transformation.starts_with("normali")) impl.normalise_classes |= classes;
            if (transformation == "replaceComments") impl.comment_classes |= classes;
            if (transformation == "jsDecode" || transformation == "cssDecode" ||
                transformation == "escapeSeqDecode" || transformation.starts_with("normali")) {
                impl.backslash_classes |= classes;
            }
            if (transformation == "base64Decode") {
                impl.base64_rules.insert(rule.id);
                if (rule.op != "rx") impl.base64_phrases = true;
            }
        }
        bool screened = false;
        if (!rule.negated && modelled && classes != 0) {
            if (rule.op == "rx") {
                // Patterns RE2 cannot compile (look-around, back references) are not screened.
                // ModSecurity compiles with PCRE_DOTALL | PCRE_MULTILINE: (?sm) says the same.
                std::string pattern = "(?sm)" + rule.param;
                re2::RE2 compiled(pattern, options);
                if (compiled.ok()) {
                    expressions.push_back({rule.id, pattern, classes});
                    screened = true;
                }
            } else if (rule.op == "pm" || rule.op == "pmFromFile") {
                std::string error;
                auto list = phrases_of(rule, error);
                if (!error.empty()) {
                    impl.reason = error;
                    return prefilter;
                }
                screened =
                    !list.empty() && std::none_of(list.begin(), list.end(),
                                                  [](const std::string& p) { return p.empty(); });
                for (const auto& phrase : list) literal_uses[phrase].phrase_classes |= classes;
            } else if ((rule.op == "contains" || rule.op == "containsWord" || rule.op == "streq" ||
                        rule.op == "beginsWith" || rule.op == "endsWith") &&
                       !rule.param.empty() && rule.param.find("%{") == std::string::npos) {
                literal_uses[lower(rule.param)].phrase_classes |= classes;
                screened = true;
            } else if (rule.op == "detectSQLi") {
                impl.sqli_classes |= classes;  // clears() calls libinjection itself
                screened = true;
            } else if (rule.op == "detectXSS") {
                impl.xss_classes |= classes;
                screened = true;
            }
        }
        if (!screened) unscreened.push_back(std::to_string(rule.id));
    }
    // Expressions without any literal would be returned for every text: they are not screened.
    std::set<int> literal_free;
    {
        re2::FilteredRE2 probe{kMinAtomLength};
        for (const auto& expression : expressions) {
            int index = 0;
            probe.Add(expression.pattern, options, &index);
        }
        std::vector<std::string> probe_atoms;
        probe.Compile(&probe_atoms);
        std::vector<int> always;
        probe.AllPotentials({}, &always);
        for (int index : always) {
            int rule_id = expressions[static_cast<std::size_t>(index)].rule_id;
            literal_free.insert(rule_id);
            unscreened.push_back(std::to_string(rule_id));
        }
    }
    if (!unscreened.empty()) {
        std::sort(unscreened.begin(), unscreened.end());
        unscreened.erase(std::unique(unscreened.begin(), unscreened.end()), unscreened.end());
        std::string ids;
        for (const auto& id : unscreened) ids += (ids.empty() ? "" : ",") + id;
        impl.reason = "rules neither screened by literals nor checked by hand: " + ids;
        return prefilter;
    }
    for (int string_class = 0; string_class < kClassCount; ++string_class) {
        auto& target = impl.by_class[string_class];
        for (const auto& expression : expressions) {
            if ((expression.classes & (1U << string_class)) == 0) continue;
            int index = 0;
            target.expressions.Add(expression.pattern, options, &index);
            target.rule_ids.push_back(expression.rule_id);
        }
        if (target.rule_ids.empty()) continue;
        std::vector<std::string> atoms;
        target.expressions.Compile(&atoms);
        for (std::size_t index = 0; index < atoms.size(); ++index) {
            literal_uses[atoms[index]].atom[string_class] = static_cast<int>(index);
        }
    }
    for (const auto& [literal, use] : literal_uses) {
        impl.literals.add(literal);
        impl.uses.push_back(use);
    }
    impl.literals.compile();
    impl.active = true;
    return prefilter;
}

bool Prefilter::Impl::shape_ok(const http::Request& request, std::string* why) const {
    // 911100, 920180: methods CRS allows here; POST, PUT and PATCH carry a Content-Length.
    switch (request.method) {
        case http::Method::get:
        case http::Method::head:
        case http::Method::delete_:
        case http::Method::post:
        case http::Method::put:
        case http::Method::patch:
        // OPTIONS is in the generated tx.allowed_methods; "OPTIONS *" has no origin-form
        // target and is refused below. No CRS rule looks for OPTIONS itself.
        case http::Method::options: break;
    }
    // 920100, 920220, 920260, 920440, 920500: an origin-form target of plain characters.
    if (!request.target.starts_with('/')) return refuse(why, "target not origin-form");
    // 920100 reads the request line: white space, control or non-ASCII bytes in the target
    // would break its pattern; clients percent-encode them.
    if (!std::all_of(request.target.begin(), request.target.end(),
                     [](char c) { return c > ' ' && c <= '~' && c != '\\'; })) {
        return refuse(why, "target bytes");
    }
    // 920500 (REQUEST_FILENAME "\.[^.~]+~(?:/.*|)$"): needs a '~' after a dot.
    if (request.path.find('~') != std::string::npos) return refuse(why, "'~' in the path");
    // 920440: REQUEST_BASENAME "\.([^.]+)$" makes tx.extension ".EXT/" (lower case), which
    // scores when it occurs within tx.restricted_extensions. Every value that list is ever
    // given is tried, so whichever is in force, a path that passes here does not score.
    if (std::size_t dot = request.path.rfind('.');
        dot != std::string::npos && request.path.find('/', dot) == std::string::npos) {
        if (!extensions_known) return refuse(why, "restricted extensions unknown");
        std::string extension = "." + lower(std::string_view(request.path).substr(dot + 1)) + "/";
        for (const auto& list : restricted_extensions) {
            if (list.find(extension) != std::string::npos) {
                return refuse(why, "restricted extension " + extension);
            }
        }
    }
    int hosts = 0;
    int content_types = 0;
    bool content_length = false;
    for (const auto& header : request.headers) {
        const std::string& name = header.name;
        const std::string& value = header.value;
        // Names are lower case already (http::Header); admit the usual characters only.
        if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) {
                return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
            })) {
            return refuse(why, "header name characters");
        }
        // 920450: restricted headers. 920190: ranges. 920171/920181: chunked bodies.
        if (name == "proxy" || name == "lock-token" || name == "content-range" || name == "if" ||
            name == "range" || name == "request-range" || name == "transfer-encoding") {
            return refuse(why, "restricted header");
        }
        if (name == "host") {
            ++hosts;
            // 920290, 920350: a non-empty name that is not an IP address.
            if (value.empty() || std::all_of(value.begin(), value.end(), [](char c) {
                    return (c >= '0' && c <= '9') || c == '.' || c == ':';
                })) {
                return refuse(why, "host empty or an IP address");
            }
        } else if (name == "content-length") {
            // 920160: digits only.
            if (value.empty() || !std::all_of(value.begin(), value.end(),
                                              [](char c) { return c >= '0' && c <= '9'; })) {
                return refuse(why, "content-length not digits");
            }
            content_length = true;
        } else if (name == "content-type") {
            // 920420, 920470, 920480, 920530, 922xxx: JSON or urlencoded, optionally utf-8.
            ++content_types;
            std::string type = lower(value);
            if (type != "application/json" && type != "application/json; charset=utf-8" &&
                type != "application/json;charset=utf-8" && type != kFormType &&
                type != std::string(kFormType) + "; charset=utf-8") {
                return refuse(why, "content-type not application/json");
            }
        } else if (name == "connection") {
            // 920210: one token.
            std::string token = lower(value);
            if (token != "keep-alive" && token != "close")
                return refuse(why, "connection not keep-alive or close");
        } else if (name == "accept" || name == "user-agent") {
            // 920310, 920311, 920330: present means non-empty.
            if (value.empty()) return refuse(why, "empty accept or user-agent");
        }
        if (name == "accept") {
            // 920600: a list of type/subtype with optional q values, nothing else.
            static const std::regex& kAccept = *new std::regex(
                R"(^(?:(?:\*|[a-z0-9][a-z0-9.+-]*)/(?:\*|[a-z0-9][a-z0-9.+-]*)(?:;q=[01](?:\.\d{1,3})?)?)(?:, ?(?:\*|[a-z0-9][a-z0-9.+-]*)/(?:\*|[a-z0-9][a-z0-9.+-]*)(?:;q=[01](?:\.\d{1,3})?)?)*$)");
            if (!std::regex_match(lower(value), kAccept))
                return refuse(why, "accept not a plain media-range list");
        }
        // 920270 and the decoding transformations: printable, plain characters only.
        if (!plain(value)) return refuse(why, "header value not plain");
    }
    // 920280: one Host. 920620: at most one Content-Type.
    if (hosts != 1 || content_types > 1) return refuse(why, "host count or content-type count");
    bool bodyless = request.method == http::Method::get || request.method == http::Method::head ||
                    request.method == http::Method::delete_ ||
                    request.method == http::Method::options;
    if (bodyless) {
        // 920170: GET and HEAD without a body (DELETE alike, to keep one rule).
        if (!request.body.empty()) return refuse(why, "body on a bodyless method");
        if (auto length = request.header("content-length"); length && *length != "0") {
            return refuse(why, "content-length on a bodyless method");
        }
    } else {
        // 920180: a Content-Length; 920340: a Content-Type when the body is not empty.
        if (!content_length) return refuse(why, "no content-length");
        if (!request.body.empty() && content_types != 1)
            return refuse(why, "body without one content-type");
    }
    return true;
}

bool Prefilter::clears(const http::Request& request, std::string_view client_address) const {
    return impl_->check(request, client_address, nullptr);
}

std::string Prefilter::refusal(const http::Request& request,
                               std::string_view client_address) const {
    std::string why;
    return impl_->check(request, client_address, &why) ? std::string() : why;
}

bool Prefilter::Impl::check(const http::Request& request, std::string_view client_address,
                            std::string* why) const {
    const Impl& impl = *this;
    if (!impl.active) return refuse(why, "inactive");
    if (!impl.shape_ok(request, why)) return false;
    if (request.target.size() > kMaxScreenedBytes || request.body.size() > kMaxScreenedBytes) {
        return refuse(why, "longer than the screened size");
    }

    // Every string a rule may see, by the class of variables it belongs to.
    std::vector<std::pair<std::string, StringClass>> strings;
    std::string method(http::to_string(request.method));
    strings.emplace_back(method, kLine);
    strings.emplace_back("HTTP/1.1", kLine);
    strings.emplace_back(method + " " + request.target + " HTTP/1.1", kLine);
    strings.emplace_back(std::string(client_address), kLine);

    // The target: a plain path, and a query of name=value pairs whose decoded forms are plain.
    if (!plain(request.path) || request.path.find(' ') != std::string::npos ||
        request.path.find('?') != std::string::npos) {
        return refuse(why, "path not plain");
    }
    strings.emplace_back(request.path, kUri);
    strings.emplace_back(request.path.substr(request.path.rfind('/') + 1), kUri);  // basename
    // An urlencoded text (the query, or a form body): each decoded name and value is an
    // argument; the raw and the decoded text are `raw_class` strings.
    auto add_urlencoded = [&](std::string_view encoded, StringClass raw_class) {
        std::string_view rest = encoded;
        while (true) {
            std::size_t amp = rest.find('&');
            std::string_view pair = rest.substr(0, amp);
            std::size_t equals = pair.find('=');
            auto name = url_decode(pair.substr(0, equals));
            auto value = url_decode(equals == std::string_view::npos ? std::string_view()
                                                                     : pair.substr(equals + 1));
            if (!name || !value || !plain(*name) || !plain(*value)) {
                return refuse(why, "argument not plain");
            }
            strings.emplace_back(std::move(*name), kArgNames);
            strings.emplace_back(std::move(*value), kArgs);
            if (amp == std::string_view::npos) break;
            rest.remove_prefix(amp + 1);
        }
        // The raw text: plain characters, its separators and escapes; nothing that
        // t:htmlEntityDecode would read as an entity once decoded.
        if (!std::all_of(encoded.begin(), encoded.end(), [](char c) {
                return c == '&' || c == '%' || plain_char(static_cast<unsigned char>(c));
            })) {
            return refuse(why, "raw urlencoded text not plain");
        }
        auto decoded = url_decode(encoded);
        if (!decoded || !entity_free(encoded) || !entity_free(*decoded)) {
            return refuse(why, "urlencoded escapes or entities");
        }
        strings.emplace_back(std::string(encoded), raw_class);
        strings.emplace_back(*decoded, raw_class);
        if (raw_class == kUri) {
            strings.emplace_back(request.target, kUri);
            strings.emplace_back(request.path + "?" + *decoded, kUri);
            // REQUEST_LINE as a rule decoding it sees it (99001: t:urlDecodeUni).
            strings.emplace_back(method + " " + request.path + "?" + *decoded + " HTTP/1.1", kLine);
        }
        return true;
    };
    if (!request.query.empty() && !add_urlencoded(request.query, kUri)) return false;

    for (const auto& header : request.headers) {
        strings.emplace_back(header.name, kHeaders);
        strings.emplace_back(header.value, kHeaders);
        if (header.name == "cookie") {
            // REQUEST_COOKIES: "name=value; name=value".
            std::string_view cookies = header.value;
            while (!cookies.empty()) {
                std::size_t semicolon = cookies.find(';');
                std::string_view cookie = cookies.substr(0, semicolon);
                while (cookie.starts_with(' ')) cookie.remove_prefix(1);
                std::size_t equals = cookie.find('=');
                strings.emplace_back(cookie.substr(0, equals), kArgNames);
                if (equals != std::string_view::npos) {
                    strings.emplace_back(cookie.substr(equals + 1), kArgs);
                }
                if (semicolon == std::string_view::npos) break;
                cookies.remove_prefix(semicolon + 1);
            }
        }
    }

    if (!request.body.empty()) {
        if (form_body(request)) {
            // ARGS_POST as the query's ARGS_GET; REQUEST_BODY raw and decoded, as the query
            // string is (920240 needs an invalid escape, which url_decode refuses).
            if (!add_urlencoded(request.body, kBody)) return false;
        } else {
            // A JSON body. The raw body is REQUEST_BODY; no escapes (a backslash would
            // decode to something else, in the JSON parser and in the transformations).
            if (impl.backslash_classes & (1U << kBody)) {
                if (!plain(request.body)) return refuse(why, "body not plain");
            } else {
                // No REQUEST_BODY rule decodes backslashes: the raw body may carry JSON's
                // escapes (the decoded ARGS are checked on their own).
                std::string without = request.body;
                std::replace(without.begin(), without.end(), '\\', '/');
                if (!plain(without)) return refuse(why, "body not plain");
            }
            // boost::json decides validity (it accepts no more than yajl: no comments, no
            // trailing commas, no leading zeros; a depth beyond its limit is refused); the
            // names and values are read from the text itself, as ModSecurity's JSON
            // processor makes them (json_arguments()).
            boost::system::error_code error;
            boost::json::value document = boost::json::parse(request.body, error);
            if (error || !document.is_object()) return refuse(why, "body not a JSON object");
            strings.emplace_back(request.body, kBody);
            std::vector<std::pair<std::string, std::string>> arguments;
            if (!json_arguments(request.body, arguments)) return refuse(why, "JSON shape");
            for (auto& [name, value] : arguments) {
                if (!plain(name) || !plain(value)) return refuse(why, "JSON string not plain");
                strings.emplace_back(std::move(name), kArgNames);
                strings.emplace_back(std::move(value), kArgs);
            }
        }
    }

    std::vector<int> hits;
    // Literal marks for scan_distinct(), kept by the thread between requests.
    thread_local std::vector<std::uint32_t> seen;
    thread_local std::uint32_t stamp = 0;
    std::vector<int> atoms;
    std::vector<int> potential;
    // One text as a rule of `string_class` would see it: any phrase of a phrase rule over the
    // class, or any expression over the class whose literal formula the text satisfies, means
    // the engine must look.
    auto screen = [&](const std::string& text, StringClass string_class, bool base64_only = false) {
        std::string lowered = lower(text);
        hits.clear();
        if (++stamp == 0) {  // wrapped: forget every mark
            std::fill(seen.begin(), seen.end(), 0);
            stamp = 1;
        }
        impl.literals.scan_distinct(lowered, hits, seen, stamp);
        atoms.clear();
        for (int literal : hits) {
            const Impl::LiteralUse& use = impl.uses[static_cast<std::size_t>(literal)];
            if ((use.phrase_classes & (1U << string_class)) != 0 &&
                (!base64_only || impl.base64_phrases)) {
                return refuse(why, "a phrase rule's phrase in: " + text);
            }
            if (use.atom[string_class] >= 0) atoms.push_back(use.atom[string_class]);
        }
        if (atoms.empty()) return true;
        std::sort(atoms.begin(), atoms.end());
        atoms.erase(std::unique(atoms.begin(), atoms.end()), atoms.end());
        // The expressions whose literals are all there are run on the text, in the case the
        // rule sees it (with or without t:lowercase). On these plain, single-line ASCII texts
        // RE2 and PCRE accept the same strings for the patterns RE2 compiles.
        const auto& expressions = impl.by_class[string_class].expressions;
        expressions.AllMatches(lowered, atoms, &potential);
        if (potential.empty() && lowered != text) expressions.AllMatches(text, atoms, &potential);
        if (base64_only) {
            // Only the rules that decode base64 see this text.
            const auto& ids = impl.by_class[string_class].rule_ids;
            std::erase_if(potential, [&](int index) {
                return !impl.base64_rules.contains(ids[static_cast<std::size_t>(index)]);
            });
        }
        if (!potential.empty() && why != nullptr) {
            std::string ids;
            for (int index : potential) {
                ids += fmt::format(
                    " {}", impl.by_class[string_class].rule_ids[static_cast<std::size_t>(index)]);
            }
            *why = "rules" + ids + " could match: " + text;
        }
        return potential.empty();
    };
    std::array<char, kFingerprintBytes> fingerprint{};
    auto injection = [&](const std::string& text, StringClass string_class) {
        unsigned bit = 1U << string_class;
        return ((impl.sqli_classes & bit) != 0 &&
                libinjection_sqli(text.data(), text.size(), fingerprint.data()) != 0) ||
               ((impl.xss_classes & bit) != 0 && libinjection_xss(text.data(), text.size()) != 0);
    };
    // One text as the rules of its class may see it after their transformations: the
    // variants listed in the header comment, each screened in both letter cases.
    auto screen_text = [&](const std::string& text, StringClass string_class) {
        unsigned bit = 1U << string_class;
        // Most texts (ids, tokens, numbers, words) are their own variants: each variant is only
        // made when its transformation changes something, and screened once.
        bool has_plus = text.find('+') != std::string::npos;
        std::string plus_copy;
        if (has_plus) {
            plus_copy = text;
            std::replace(plus_copy.begin(), plus_copy.end(), '+', ' ');
        }
        const std::string& plus_as_space = has_plus ? plus_copy : text;
        std::string command = cmd_line(plus_as_space);
        if ((impl.normalise_classes & bit) != 0 && (!path_normal(text) || !path_normal(command))) {
            return refuse(why, "a dot segment t:normalisePath would resolve");
        }
        // libinjection sees the decoded text (942100, 941100: t:urlDecodeUni, no lower case).
        if (injection(text, string_class) || (has_plus && injection(plus_as_space, string_class))) {
            return refuse(why, "libinjection finds SQL or XSS in: " + text);
        }
        auto screen_variant = [&](const std::string& variant) {
            // Removing white space may join "& lt" into an entity a later decoding reads.
            if (!entity_free(variant)) return refuse(why, "a variant with an entity: " + text);
            if (!screen(variant, string_class)) return false;  // why: screen()
            // t:normalisePath collapses runs of '/' (dot segments were refused above).
            return (impl.normalise_classes & bit) == 0 || variant.find("//") == std::string::npos ||
                   screen(collapse_slashes(variant), string_class);  // why: screen()
        };
        if (!screen_variant(text)) return false;
        if (has_plus && !screen_variant(plus_as_space)) return false;
        // screen() reads a text in lower case and as it is: a variant that is the text in
        // lower case finds nothing the text did not.
        if (!equal_ignoring_case(command, text) && !screen_variant(command)) return false;
        bool spaced = std::any_of(text.begin(), text.end(), [](char c) {
            return space_char(c) || static_cast<unsigned char>(c) == kNbsp;
        });
        if (spaced || has_plus) {
            std::array<std::string, 3> more = {without_spaces(text), without_spaces(plus_as_space),
                                               compressed(plus_as_space)};
            for (std::size_t index = 0; index < more.size(); ++index) {
                const std::string& variant = more[index];
                bool seen = variant == text || variant == plus_as_space || variant == command ||
                            std::find(more.begin(), more.begin() + static_cast<long>(index),
                                      variant) != more.begin() + static_cast<long>(index);
                if (!seen && !screen_variant(variant)) return false;
            }
        }
        if (string_class == kArgs || string_class == kArgNames) {
            // Decoded bytes may be anything: a vertical tab is white space to PCRE's \s but not
            // to RE2's, so it is screened as a space. Only the rules that decode base64 see it.
            std::string decoded = base64_decoded(plus_as_space);
            std::replace(decoded.begin(), decoded.end(), '\v', ' ');
            if (!screen(decoded, string_class, /*base64_only=*/true))
                return false;  // why: screen()
        }
        if ((impl.comment_classes & bit) != 0 && plus_as_space.find("/*") != std::string::npos &&
            !screen(compressed(replace_comments(plus_as_space)), string_class)) {
            return false;  // why: screen()
        }
        return true;
    };
    // Most texts repeat from request to request (User-Agent, Accept, a client's token, its
    // address, the paths of an API, the fields of its bodies and many of their values): each
    // thread remembers the texts it found clean with this prefilter, by class and the text itself
    // (no hash that a crafted text could collide with), bounded in count and length. Whole
    // bodies are not kept: they rarely repeat, and their fields are.
    struct CleanCache {
        std::uint64_t prefilter_id = 0;
        std::array<std::unordered_set<std::string>, kClassCount> clean;
    };
    thread_local CleanCache clean_cache;
    if (clean_cache.prefilter_id != id) {
        for (auto& texts : clean_cache.clean) texts.clear();
        clean_cache.prefilter_id = id;
    }
    for (const auto& [text, string_class] : strings) {
        // ASCII only: for other texts the Unicode forms below are screened after screen_text().
        bool cacheable = impl.cache_entries > 0 && string_class != kBody &&
                         text.size() <= kCachedTextBytes && ascii(text);
        auto& cached = clean_cache.clean[string_class];
        if (cacheable && cached.contains(text)) continue;
        if (!screen_text(text, string_class)) return false;
        if (cacheable) {
            if (cached.size() >= impl.cache_entries) cached.clear();
            cached.insert(text);
        }
        if (ascii(text)) continue;
        // Non-ASCII text: rules with t:utf8toUnicode see it escaped ("%u00e9"), and with
        // t:urlDecodeUni after it, each character as one byte (full-width ASCII as ASCII).
        // '+' becomes a space in that same decoding pass, before the characters are read.
        std::string plus_as_space = text;
        std::replace(plus_as_space.begin(), plus_as_space.end(), '+', ' ');
        UnicodeForms forms = unicode_forms(text);
        UnicodeForms spaced = unicode_forms(plus_as_space);
        // The single bytes must be ones the later decodings (entities, JavaScript, CSS,
        // removeNulls, path normalisation) leave alone, and white space RE2 and PCRE agree on.
        bool decoded_plain =
            entity_free(spaced.decoded) && spaced.decoded.find_first_of("%\\") == std::string::npos;
        if (!decoded_plain) return refuse(why, "a character decodes to a special byte: " + text);
        if (injection(spaced.decoded, string_class)) {
            return refuse(why, "libinjection finds SQL or XSS in the decoded form of: " + text);
        }
        // Control bytes are ordinary characters to both regex engines, but for white space:
        // a vertical tab is \s to PCRE, not to RE2, so it is screened as a space; NUL bytes
        // are screened as they are and as t:removeNulls leaves the text.
        std::string decoded = spaced.decoded;
        std::replace(decoded.begin(), decoded.end(), '\v', ' ');
        std::string without_nulls = decoded;
        std::erase(without_nulls, '\0');
        if (!screen_text(forms.escaped, string_class) ||
            !screen_text(spaced.escaped, string_class) || !screen_text(decoded, string_class) ||
            (without_nulls != decoded && !screen_text(without_nulls, string_class))) {
            return false;  // why: screen()
        }
    }
    return true;
}

}  // namespace nimbus::gateway::internal
