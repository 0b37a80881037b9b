#include "core/json.hpp"

#include <gtest/gtest.h>

namespace nimbus::json {
namespace {

TEST(Json, ParsesObjects) {
    auto value = parse(R"({"name":"O'Brien","tags":["a","b"]})");
    ASSERT_TRUE(value);
    EXPECT_EQ(value->at("name").as_string(), "O'Brien");
}

TEST(Json, ReportsTheOffsetOfASyntaxError) {
    auto value = parse(R"({"name": "x",})");
    ASSERT_FALSE(value);
    EXPECT_EQ(value.error().code, ErrorCode::invalid_argument);
    EXPECT_NE(value.error().message.find("offset 13"), std::string::npos) << value.error().message;
}

TEST(Json, RefusesTrailingDataEmptyInputAndDeepNesting) {
    EXPECT_FALSE(parse(R"({} {})"));
    EXPECT_FALSE(parse(""));
    EXPECT_FALSE(parse(std::string(1000, '[') + std::string(1000, ']')));
}

TEST(Json, SerializesCompactly) {
    auto value = parse(R"({ "a" : [1, 2] })");
    ASSERT_TRUE(value);
    EXPECT_EQ(serialize(*value), R"({"a":[1,2]})");
}

}  // namespace
}  // namespace nimbus::json
