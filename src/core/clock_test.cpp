#include "core/clock.hpp"

#include <cstdio>
#include <ctime>

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

namespace nimbus {
namespace {

TEST(Clock, FormatsEveryDayLikeGmtime) {
    // Every day from 1900 to 2200 at a time with all fields non-zero, against the C library.
    constexpr std::int64_t kDayMs = 86'400'000;
    constexpr std::int64_t kOffsetMs = 13 * 3'600'000 + 7 * 60'000 + 9'000 + 45;
    for (std::int64_t day = -25567; day < 84006; ++day) {
        std::int64_t ms = day * kDayMs + kOffsetMs;
        std::time_t seconds = static_cast<std::time_t>((ms - 45) / 1000);  // exact: no rounding
        std::tm utc{};
        gmtime_r(&seconds, &utc);
        char expected[96];
        std::snprintf(expected, sizeof(expected), "%04d-%02d-%02dT%02d:%02d:%02d.045Z",
                      utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
                      utc.tm_sec);
        ASSERT_EQ(format_rfc3339(ms), expected) << "day " << day;
    }
}

}  // namespace
}  // namespace nimbus
