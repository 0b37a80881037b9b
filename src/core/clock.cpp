#include "core/clock.hpp"

#include <chrono>
#include <ctime>

#include <fmt/format.h>

namespace nimbus {

std::int64_t SystemClock::now_ms() const {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string format_rfc3339(std::int64_t unix_ms) {
    constexpr std::int64_t kMsPerSecond = 1000;
    std::int64_t seconds = unix_ms / kMsPerSecond;
    std::int64_t millis = unix_ms % kMsPerSecond;
    if (millis < 0) {  // floor division for times before the epoch
        millis += kMsPerSecond;
        seconds -= 1;
    }
    std::time_t as_time_t = static_cast<std::time_t>(seconds);
    std::tm utc{};
    gmtime_r(&as_time_t, &utc);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", utc.tm_year + 1900,
                       utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, millis);
}

}  // namespace nimbus
