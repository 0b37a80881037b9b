#include "core/clock.hpp"

#include <gtest/gtest.h>

namespace nimbus {
namespace {

TEST(Clock, FormatsRfc3339WithMilliseconds) {
    EXPECT_EQ(format_rfc3339(0), "1970-01-01T00:00:00.000Z");
    EXPECT_EQ(format_rfc3339(1'795'000'000'123), "2026-11-18T11:06:40.123Z");
    EXPECT_EQ(format_rfc3339(-1), "1969-12-31T23:59:59.999Z");
}

TEST(Clock, ManualClockMovesOnlyWhenTold) {
    ManualClock clock(1000);
    EXPECT_EQ(clock.now_ms(), 1000);
    clock.advance_ms(500);
    EXPECT_EQ(clock.now_ms(), 1500);
    clock.set_ms(42);
    EXPECT_EQ(clock.now_ms(), 42);
}

TEST(Clock, SystemClockIsAfter2025) {
    constexpr std::int64_t kJan2025 = 1'735'689'600'000;
    EXPECT_GT(SystemClock().now_ms(), kJan2025);
}

}  // namespace
}  // namespace nimbus
