#include "core/log.hpp"

#include <atomic>
#include <memory>

#include <fmt/format.h>
#include <spdlog/async.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "core/clock.hpp"

namespace nimbus::log {
namespace {

constexpr std::size_t kQueueSize = 8192;
std::atomic<int> g_min_level{static_cast<int>(Level::info)};

const char* level_name(Level level) {
    switch (level) {
        case Level::trace: return "trace";
        case Level::debug: return "debug";
        case Level::info: return "info";
        case Level::warn: return "warn";
        case Level::error: return "error";
    }
    return "info";
}

std::shared_ptr<spdlog::logger> make_logger() {
    // Async so that a slow terminal or pipe never stalls an I/O thread; blocks rather than drops
    // when the queue is full, because a lost audit-relevant line is worse than a slow request.
    spdlog::init_thread_pool(kQueueSize, 1);
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto logger = std::make_shared<spdlog::async_logger>("nimbus", sink, spdlog::thread_pool(),
                                                         spdlog::async_overflow_policy::block);
    logger->set_pattern("%v");
    logger->set_level(spdlog::level::trace);
    return logger;
}

spdlog::logger& logger() {
    static std::shared_ptr<spdlog::logger> instance = make_logger();
    return *instance;
}

}  // namespace

Level parse_level(std::string_view name) {
    if (name == "trace") return Level::trace;
    if (name == "debug") return Level::debug;
    if (name == "warn") return Level::warn;
    if (name == "error") return Level::error;
    return Level::info;
}

void init(Level level) {
    g_min_level = static_cast<int>(level);
    (void)logger();
}

void flush() { logger().flush(); }

bool enabled(Level level) {
    return static_cast<int>(level) >= g_min_level.load(std::memory_order_relaxed);
}

void append_json_string(std::string& out, std::string_view text) {
    static constexpr char kHex[] = "0123456789abcdef";
    out.push_back('"');
    for (char c : text) {
        auto byte = static_cast<unsigned char>(c);
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (byte < 0x20 || byte == 0x7F) {
                    out += "\\u00";
                    out.push_back(kHex[byte >> 4]);
                    out.push_back(kHex[byte & 0x0F]);
                } else {
                    out.push_back(c);
                }
        }
    }
    out.push_back('"');
}

void write(Level level, std::string_view message, Fields fields) {
    if (!enabled(level)) return;
    static const SystemClock clock;
    std::string line = "{\"time\":\"";
    line += format_rfc3339(clock.now_ms());
    line += "\",\"level\":\"";
    line += level_name(level);
    line += "\",\"message\":";
    append_json_string(line, message);
    for (const Field& field : fields) {
        line.push_back(',');
        append_json_string(line, field.key);
        line.push_back(':');
        std::visit(
            [&line](const auto& value) {
                using T = std::decay_t<decltype(value)>;
                if constexpr (std::is_same_v<T, std::string_view>) {
                    append_json_string(line, value);
                } else if constexpr (std::is_same_v<T, bool>) {
                    line += value ? "true" : "false";
                } else if constexpr (std::is_same_v<T, double>) {
                    line += fmt::format("{:.6g}", value);
                } else {
                    line += fmt::format("{}", value);
                }
            },
            field.value);
    }
    line.push_back('}');
    logger().log(spdlog::level::info, line);
}

}  // namespace nimbus::log
