#include "core/clock.hpp"

#include <chrono>

#include <fmt/format.h>

namespace nimbus {

std::int64_t SystemClock::now_ms() const {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

namespace {

struct CivilDate {
    std::int64_t year;
    unsigned month;  // 1..12
    unsigned day;    // 1..31
};

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// civil_from_days). Plain arithmetic: glibc's gmtime_r takes a process-wide lock, which made
/// time formatting the costliest part of a small database-backed request.
CivilDate civil_from_days(std::int64_t days) {
    constexpr std::int64_t kDaysFrom0000To1970 = 719468;
    constexpr std::int64_t kDaysPerEra = 146097;
    days += kDaysFrom0000To1970;
    const std::int64_t era = (days >= 0 ? days : days - (kDaysPerEra - 1)) / kDaysPerEra;
    const auto day_of_era = static_cast<unsigned>(days - era * kDaysPerEra);
    const unsigned year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    const unsigned day_of_year =
        day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    const unsigned month_index = (5 * day_of_year + 2) / 153;  // March-based
    const unsigned day = day_of_year - (153 * month_index + 2) / 5 + 1;
    const unsigned month = month_index < 10 ? month_index + 3 : month_index - 9;
    const std::int64_t year =
        static_cast<std::int64_t>(year_of_era) + era * 400 + (month <= 2 ? 1 : 0);
    return {year, month, day};
}

}  // namespace

std::string format_rfc3339(std::int64_t unix_ms) {
    constexpr std::int64_t kMsPerSecond = 1000;
    constexpr std::int64_t kSecondsPerDay = 86400;
    constexpr std::int64_t kSecondsPerHour = 3600;
    constexpr std::int64_t kSecondsPerMinute = 60;
    // Floor division, so times before the epoch land on the right day and millisecond.
    std::int64_t seconds = unix_ms / kMsPerSecond;
    std::int64_t millis = unix_ms % kMsPerSecond;
    if (millis < 0) {
        millis += kMsPerSecond;
        seconds -= 1;
    }
    std::int64_t days = seconds / kSecondsPerDay;
    std::int64_t second_of_day = seconds % kSecondsPerDay;
    if (second_of_day < 0) {
        second_of_day += kSecondsPerDay;
        days -= 1;
    }
    CivilDate date = civil_from_days(days);
    char out[32];
    auto two = [](char* at, std::int64_t value) {
        at[0] = static_cast<char>('0' + value / 10);
        at[1] = static_cast<char>('0' + value % 10);
    };
    std::int64_t year = date.year;
    out[0] = static_cast<char>('0' + year / 1000 % 10);
    out[1] = static_cast<char>('0' + year / 100 % 10);
    out[2] = static_cast<char>('0' + year / 10 % 10);
    out[3] = static_cast<char>('0' + year % 10);
    out[4] = '-';
    two(out + 5, date.month);
    out[7] = '-';
    two(out + 8, date.day);
    out[10] = 'T';
    two(out + 11, second_of_day / kSecondsPerHour);
    out[13] = ':';
    two(out + 14, second_of_day % kSecondsPerHour / kSecondsPerMinute);
    out[16] = ':';
    two(out + 17, second_of_day % kSecondsPerMinute);
    out[19] = '.';
    out[20] = static_cast<char>('0' + millis / 100);
    two(out + 21, millis % 100);
    out[23] = 'Z';
    return std::string(out, 24);
}

}  // namespace nimbus
