// Locating the directive of a rules file that does not load (rules_location.hpp).
#include "gateway/rules_location.hpp"

#include <algorithm>
#include <regex>

namespace nimbus::gateway::internal {

ParserMessage parse_parser_message(std::string_view message) {
    // "Rules error. File: /etc/x.conf. Line: 3. Column: 48. Expecting an action, got: ..." (the
    // grammar's errors) and "Rules must have an ID. File: 0x55d1... at line: 3" (checks after
    // parsing, which print a pointer where the file name should be).
    static const std::regex kGrammarLocation(
        R"(Rules error\. File: .*?\. Line: (\d+)\. Column: \d+\.\s*)");
    static const std::regex kCheckLocation(R"(\s*File:\s*\S*\s*at line:\s*(\d+)\s*)");
    std::string text(message);
    ParserMessage parsed;
    std::smatch match;
    if (std::regex_search(text, match, kGrammarLocation) ||
        std::regex_search(text, match, kCheckLocation)) {
        parsed.line = std::stoi(match[1].str());
        parsed.reason = std::string(match.prefix()) + std::string(match.suffix());
    } else {
        parsed.reason = text;
    }
    std::replace(parsed.reason.begin(), parsed.reason.end(), '\n', ' ');
    while (!parsed.reason.empty() && parsed.reason.back() == ' ') parsed.reason.pop_back();
    if (parsed.reason.empty()) parsed.reason = "the directive does not parse";
    return parsed;
}

std::vector<Directive> split_directives(std::string_view text) {
    std::vector<Directive> directives;
    std::size_t at = 0;
    int line = 0;
    bool continued = false;  // the previous line ended in a backslash
    while (at < text.size()) {
        ++line;
        std::size_t newline = text.find('\n', at);
        std::size_t end = newline == std::string_view::npos ? text.size() : newline + 1;
        std::string_view content = text.substr(at, end - at);
        while (!content.empty() && (content.back() == '\n' || content.back() == '\r')) {
            content.remove_suffix(1);
        }
        std::size_t first = content.find_first_not_of(" \t");
        bool blank = first == std::string_view::npos;
        if (continued) {
            directives.back().end = end;
        } else if (!blank && content[first] != '#') {
            directives.push_back({.line = line, .end = end});
        }
        // A comment never continues, whatever it ends with.
        bool comment = !continued && !blank && content[first] == '#';
        continued = !comment && !content.empty() && content.back() == '\\';
        at = end;
    }
    return directives;
}

int first_failing_line(std::string_view text,
                       const std::function<bool(std::string_view prefix)>& loads) {
    std::vector<Directive> directives = split_directives(text);
    if (directives.empty() || loads(text)) return 0;
    // Invariant: the prefix through directives[high] fails; those before `low` load.
    std::size_t low = 0;
    std::size_t high = directives.size() - 1;
    while (low < high) {
        std::size_t middle = low + (high - low) / 2;
        if (loads(text.substr(0, directives[middle].end))) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    return directives[low].line;
}

}  // namespace nimbus::gateway::internal
