#pragma once
// Where a firewall rules file failed to load (private to the gateway). libmodsecurity names the
// line in some of its parser messages, in two different shapes, and in others ("Rule id: N is
// duplicated") not at all; Firewall::create uses these helpers so that every load error names
// the file and the line.
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace nimbus::gateway::internal {

/// A parser message split into the line it names (0: none) and its reason without the location.
struct ParserMessage {
    int line = 0;
    std::string reason;
};

/// Reads libmodsecurity's "Rules error. File: F. Line: N. Column: C. reason" and
/// "reason File: 0x55d1... at line: N" forms; any other text is all reason, line 0. New lines
/// are dropped from the reason; an empty reason becomes "the directive does not parse".
ParserMessage parse_parser_message(std::string_view message);

/// One directive of a rules file: the line it starts on (1-based) and the byte just after its
/// last line. Continuation lines (ending in a backslash) belong to the directive; comments and
/// blank lines are no directive.
struct Directive {
    int line = 0;
    std::size_t end = 0;
};

/// The directives of `text`, in order.
std::vector<Directive> split_directives(std::string_view text);

/// The line of the first directive of `text` at which loading stops working: `loads(prefix)`
/// answers whether `text` up to and including a directive loads. A prefix that fails stays
/// failing when it grows (an error is never undone by later text), so a binary search over the
/// directives needs about log2(directives) calls. 0 when the whole text loads.
int first_failing_line(std::string_view text,
                       const std::function<bool(std::string_view prefix)>& loads);

}  // namespace nimbus::gateway::internal
