#pragma once
/// Structured logs: one JSON object per line on stderr with time, level, message and fields
/// (request_id, trace_id, org_id, user_id, ... as the caller gives them).
///
///     log::info("listening", {{"address", "127.0.0.1:8080"}});
///
/// The logger is process-wide (set up once by app/ before any thread starts) because every module
/// logs and threading a logger through each call would add noise without adding control.
/// Writing is asynchronous and thread safe. Never pass secrets as fields.

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

namespace nimbus::log {

enum class Level { trace, debug, info, warn, error };

/// Parses "trace" .. "error"; unknown names give info.
Level parse_level(std::string_view name);

/// A field of a log line.
struct Field {
    using Value = std::variant<std::string_view, std::int64_t, double, bool>;
    std::string_view key;
    Value value;

    Field(std::string_view k, std::string_view v) : key(k), value(v) {}
    Field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
    Field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
    Field(std::string_view k, std::int64_t v) : key(k), value(v) {}
    Field(std::string_view k, int v) : key(k), value(static_cast<std::int64_t>(v)) {}
    Field(std::string_view k, std::uint64_t v) : key(k), value(static_cast<std::int64_t>(v)) {}
    Field(std::string_view k, double v) : key(k), value(v) {}
    Field(std::string_view k, bool v) : key(k), value(v) {}
};

using Fields = std::initializer_list<Field>;

/// Sets the least severe level written. Call before starting threads.
void init(Level level);

/// Flushes pending lines (on exit).
void flush();

bool enabled(Level level);

void write(Level level, std::string_view message, Fields fields = {});

inline void debug(std::string_view message, Fields fields = {}) {
    write(Level::debug, message, fields);
}
inline void info(std::string_view message, Fields fields = {}) {
    write(Level::info, message, fields);
}
inline void warn(std::string_view message, Fields fields = {}) {
    write(Level::warn, message, fields);
}
inline void error(std::string_view message, Fields fields = {}) {
    write(Level::error, message, fields);
}

/// Appends `text` to `out` as a JSON string literal (with quotes). Shared with the access log.
void append_json_string(std::string& out, std::string_view text);

}  // namespace nimbus::log
