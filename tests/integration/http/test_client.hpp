#pragma once
// A small blocking HTTP/1.1 client over raw POSIX sockets, for integration tests. Raw sockets let a
// test send what no real client would: malformed request lines, a byte at a time, a body that
// never ends. Every read has a deadline, so a server that never answers fails the test instead of
// hanging it.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nimbus::test {

constexpr auto kDefaultReadTimeout = std::chrono::seconds(10);

/// A parsed response. Header names are lower-case.
struct HttpResponse {
    int status = 0;
    std::string reason;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;

    /// The first header with this (lower-case) name.
    std::optional<std::string> header(std::string_view name) const;
};

/// A request as bytes: the request line, `Host`, the given headers and a `Content-Length` for a
/// non-empty body unless the headers already say how the body is framed.
std::string format_request(std::string_view method, std::string_view target,
                           const std::vector<std::pair<std::string, std::string>>& headers = {},
                           std::string_view body = {});

/// One TCP connection to 127.0.0.1. Not thread safe; closes the socket when destroyed.
class Connection {
public:
    /// Connects or throws std::runtime_error.
    explicit Connection(std::uint16_t port);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    /// True when a connection attempt to the port is refused (nothing listens).
    static bool refused(std::uint16_t port);

    /// Sends every byte or throws std::runtime_error (e.g. the server has closed).
    void send(std::string_view bytes);
    /// Sends and reports failure instead of throwing.
    bool try_send(std::string_view bytes);
    /// Half-closes: the server sees end of input.
    void shutdown_write();

    /// Reads one response (a 1xx interim response is returned like any other). `head_request`
    /// says the response has no body whatever its Content-Length says. Throws std::runtime_error
    /// on timeout or when the connection closes before a whole response arrived.
    HttpResponse read_response(bool head_request = false,
                               std::chrono::milliseconds timeout = kDefaultReadTimeout);

    /// Sends a request and reads its response.
    HttpResponse request(std::string_view method, std::string_view target,
                         const std::vector<std::pair<std::string, std::string>>& headers = {},
                         std::string_view body = {});

    /// Waits until the server closes the connection (end of stream or reset); bytes that arrive
    /// meanwhile stay in pending(). False when it is still open after `timeout`.
    bool wait_closed(std::chrono::milliseconds timeout = kDefaultReadTimeout);

    /// Bytes received but not yet consumed by read_response.
    const std::string& pending() const { return buffer_; }

private:
    /// Reads more bytes into buffer_; false on end of stream. Throws on timeout.
    bool read_more(std::chrono::steady_clock::time_point deadline);
    std::string take_line(std::chrono::steady_clock::time_point deadline);
    std::string take_bytes(std::size_t count, std::chrono::steady_clock::time_point deadline);

    int fd_ = -1;
    std::string buffer_;
};

}  // namespace nimbus::test
