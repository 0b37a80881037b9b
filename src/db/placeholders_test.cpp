#include <gtest/gtest.h>

#include "db/internal.hpp"

namespace nimbus::db::internal {
namespace {

struct Case {
    const char* name;
    const char* input;
    const char* expected;
    std::size_t count;
};

void PrintTo(const Case& c, std::ostream* out) { *out << c.name; }

class RewritePlaceholders : public ::testing::TestWithParam<Case> {};

TEST_P(RewritePlaceholders, RewritesOnlyRealPlaceholders) {
    const Case& c = GetParam();
    RewrittenSql out = rewrite_placeholders(c.input);
    EXPECT_EQ(out.sql, c.expected);
    EXPECT_EQ(out.placeholder_count, c.count);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, RewritePlaceholders,
    ::testing::Values(
        Case{"none", "SELECT 1", "SELECT 1", 0},
        Case{"simple", "SELECT * FROM t WHERE a = ? AND b = ?",
             "SELECT * FROM t WHERE a = $1 AND b = $2", 2},
        Case{"adjacent", "VALUES (?,?,?)", "VALUES ($1,$2,$3)", 3},
        Case{"string", "SELECT '?' , ?", "SELECT '?' , $1", 1},
        Case{"doubled_quote", "SELECT 'it''s ?', ?", "SELECT 'it''s ?', $1", 1},
        Case{"escape_string", "SELECT E'\\'?', ?", "SELECT E'\\'?', $1", 1},
        Case{"backslash_in_standard_string", "SELECT 'a\\', ?", "SELECT 'a\\', $1", 1},
        Case{"identifier", "SELECT \"we?ird\"\"?\" FROM t WHERE x = ?",
             "SELECT \"we?ird\"\"?\" FROM t WHERE x = $1", 1},
        Case{"line_comment", "SELECT ? -- what?\n, ?", "SELECT $1 -- what?\n, $2", 2},
        Case{"line_comment_at_end", "SELECT ? -- what?", "SELECT $1 -- what?", 1},
        Case{"block_comment", "SELECT /* ? /* nested ? */ ? */ ?",
             "SELECT /* ? /* nested ? */ ? */ $1", 1},
        Case{"dollar_quote", "SELECT $$ ? $$, ?", "SELECT $$ ? $$, $1", 1},
        Case{"tagged_dollar_quote", "SELECT $fn$ ? $$ ? $fn$, ?", "SELECT $fn$ ? $$ ? $fn$, $1", 1},
        Case{"positional_untouched", "SELECT $1", "SELECT $1", 0},
        Case{"unterminated_string", "SELECT '?", "SELECT '?", 0},
        Case{"identifier_ending_in_e", "SELECT some'x', ?", "SELECT some'x', $1", 1}),
    [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace nimbus::db::internal
