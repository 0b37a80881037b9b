#pragma once
/// Time, injectable so tests can control it. Times are int64 Unix milliseconds everywhere in
/// storage.

#include <atomic>
#include <cstdint>
#include <string>

namespace nimbus {

/// A source of wall-clock time. Thread safe.
class Clock {
public:
    virtual ~Clock() = default;
    /// Milliseconds since the Unix epoch.
    virtual std::int64_t now_ms() const = 0;
};

/// The real clock.
class SystemClock final : public Clock {
public:
    std::int64_t now_ms() const override;
};

/// A clock that moves only when told to; for tests.
class ManualClock final : public Clock {
public:
    explicit ManualClock(std::int64_t start_ms) : now_ms_(start_ms) {}
    std::int64_t now_ms() const override { return now_ms_.load(); }
    void advance_ms(std::int64_t delta_ms) { now_ms_ += delta_ms; }
    void set_ms(std::int64_t value_ms) { now_ms_ = value_ms; }

private:
    std::atomic<std::int64_t> now_ms_;
};

/// RFC 3339 in UTC with milliseconds: "2026-11-24T14:03:23.123Z".
std::string format_rfc3339(std::int64_t unix_ms);

}  // namespace nimbus
