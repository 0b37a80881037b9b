#include "core/log.hpp"

#include <unistd.h>

#include <atomic>
#include <memory>
#include <mutex>

#include <fmt/format.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include "core/clock.hpp"

namespace nimbus::log {
namespace {

constexpr std::size_t kFlushBytes = 64 * 1024;
constexpr auto kFlushInterval =
    std::chrono::seconds(1);  // spdlog's periodic flush counts whole seconds
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

/// Collects lines in memory and writes them to stderr in batches: when 64 KiB are waiting, every
/// second, and at once for warnings and errors (callers flush() after lines someone waits for). One
/// write per batch instead of one per line (or a thread wake-up per line, as with an asynchronous
/// queue) keeps logging cheap on busy I/O threads. What is lost on `kill -9` is at most a second of
/// info lines.
class BatchingStderrSink final : public spdlog::sinks::base_sink<std::mutex> {
protected:
    void sink_it_(const spdlog::details::log_msg& message) override {
        buffer_.append(message.payload.data(), message.payload.size());
        buffer_.push_back('\n');
        if (buffer_.size() >= kFlushBytes) flush_();
    }

    void flush_() override {
        std::size_t written = 0;
        while (written < buffer_.size()) {
            ssize_t n = ::write(STDERR_FILENO, buffer_.data() + written, buffer_.size() - written);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;  // stderr is gone; nothing better to do with the lines
            written += static_cast<std::size_t>(n);
        }
        buffer_.clear();
    }

private:
    std::string buffer_;
};

std::shared_ptr<spdlog::logger> make_logger() {
    auto logger =
        std::make_shared<spdlog::logger>("nimbus", std::make_shared<BatchingStderrSink>());
    logger->set_pattern("%v");
    logger->set_level(spdlog::level::trace);
    logger->flush_on(spdlog::level::warn);
    spdlog::register_logger(logger);
    spdlog::flush_every(kFlushInterval);
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
    // The level decides when the sink flushes: warnings and errors go out at once.
    logger().log(level >= Level::warn ? spdlog::level::warn : spdlog::level::info, line);
}

}  // namespace nimbus::log
