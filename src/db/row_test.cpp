#include <gtest/gtest.h>

#include "db/db.hpp"

namespace nimbus::db {
namespace {

TEST(Row, GettersReturnTheStoredValues) {
    Row row({std::int64_t{42}, 2.5, std::string("text"), Bytes{0, 1, 2}, std::monostate()});
    EXPECT_EQ(row.size(), 5u);
    EXPECT_EQ(row.get_int(0), 42);
    EXPECT_DOUBLE_EQ(row.get_double(1), 2.5);
    EXPECT_DOUBLE_EQ(row.get_double(0), 42.0);  // integers widen
    EXPECT_EQ(row.get_text(2), "text");
    EXPECT_EQ(row.get_blob(3), (Bytes{0, 1, 2}));
    EXPECT_TRUE(row.is_null(4));
    EXPECT_FALSE(row.is_null(0));
    EXPECT_EQ(row.get_optional_int(4), std::nullopt);
    EXPECT_EQ(row.get_optional_int(0), 42);
    EXPECT_EQ(row.get_optional_text(4), std::nullopt);
    EXPECT_EQ(row.get_optional_text(2), "text");
    EXPECT_THROW((void)row.at(5), std::out_of_range);
}

TEST(Param, ConvertsCommonTypes) {
    EXPECT_TRUE(std::holds_alternative<std::monostate>(Param(std::nullopt).value()));
    EXPECT_EQ(std::get<std::int64_t>(Param(true).value()), 1);
    EXPECT_EQ(std::get<std::int64_t>(Param(7).value()), 7);
    EXPECT_EQ(std::get<std::string>(Param("abc").value()), "abc");
    EXPECT_TRUE(
        std::holds_alternative<std::monostate>(Param(std::optional<std::string>()).value()));
    EXPECT_EQ(std::get<std::string>(Param(std::optional<std::string>("x")).value()), "x");
}

TEST(Backend, Names) {
    EXPECT_STREQ(to_string(Backend::sqlite), "sqlite");
    EXPECT_STREQ(to_string(Backend::postgres), "postgres");
}

}  // namespace
}  // namespace nimbus::db
