#include "test_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace nimbus::test {
namespace {

constexpr std::size_t kReadChunk = 64 * 1024;
constexpr int kHexBase = 16;

std::string lower(std::string text) {
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

std::string trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return std::string(text);
}

int open_socket(std::uint16_t port, int& error) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error = errno;
        return -1;
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
        error = errno;
        ::close(fd);
        return -1;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

int millis_until(std::chrono::steady_clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    return static_cast<int>(std::max<std::int64_t>(0, left.count()));
}

}  // namespace

std::optional<std::string> HttpResponse::header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
        if (key == name) return value;
    }
    return std::nullopt;
}

std::string format_request(std::string_view method, std::string_view target,
                           const std::vector<std::pair<std::string, std::string>>& headers,
                           std::string_view body) {
    std::string out = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\n";
    out += "Host: 127.0.0.1\r\n";
    bool framed = false;
    for (const auto& [name, value] : headers) {
        std::string key = lower(name);
        if (key == "content-length" || key == "transfer-encoding") framed = true;
        out += name + ": " + value + "\r\n";
    }
    if (!framed && !body.empty()) out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    out += "\r\n";
    out += body;
    return out;
}

Connection::Connection(std::uint16_t port) {
    int error = 0;
    fd_ = open_socket(port, error);
    if (fd_ < 0) {
        throw std::runtime_error("cannot connect to 127.0.0.1:" + std::to_string(port) + ": " +
                                 std::strerror(error));
    }
}

Connection::~Connection() {
    if (fd_ >= 0) ::close(fd_);
}

bool Connection::refused(std::uint16_t port) {
    int error = 0;
    int fd = open_socket(port, error);
    if (fd >= 0) {
        ::close(fd);
        return false;
    }
    return error == ECONNREFUSED;
}

bool Connection::try_send(std::string_view bytes) {
    while (!bytes.empty()) {
        // MSG_NOSIGNAL: a server that closed must fail the call, not kill the test with SIGPIPE.
        ssize_t sent = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        bytes.remove_prefix(static_cast<std::size_t>(sent));
    }
    return true;
}

void Connection::send(std::string_view bytes) {
    if (!try_send(bytes)) throw std::runtime_error(std::string("send: ") + std::strerror(errno));
}

void Connection::shutdown_write() { ::shutdown(fd_, SHUT_WR); }

bool Connection::read_more(std::chrono::steady_clock::time_point deadline) {
    while (true) {
        pollfd waiting{fd_, POLLIN, 0};
        int ready = ::poll(&waiting, 1, millis_until(deadline));
        if (ready < 0 && errno == EINTR) continue;
        if (ready == 0) throw std::runtime_error("timed out waiting for the server");
        char chunk[kReadChunk];
        ssize_t got = ::recv(fd_, chunk, sizeof(chunk), 0);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return false;  // end of stream or reset
        buffer_.append(chunk, static_cast<std::size_t>(got));
        return true;
    }
}

std::string Connection::take_line(std::chrono::steady_clock::time_point deadline) {
    std::size_t end;
    while ((end = buffer_.find("\r\n")) == std::string::npos) {
        if (!read_more(deadline)) throw std::runtime_error("connection closed mid-response");
    }
    std::string line = buffer_.substr(0, end);
    buffer_.erase(0, end + 2);
    return line;
}

std::string Connection::take_bytes(std::size_t count,
                                   std::chrono::steady_clock::time_point deadline) {
    while (buffer_.size() < count) {
        if (!read_more(deadline)) throw std::runtime_error("connection closed mid-body");
    }
    std::string bytes = buffer_.substr(0, count);
    buffer_.erase(0, count);
    return bytes;
}

HttpResponse Connection::read_response(bool head_request, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    HttpResponse response;
    std::string status_line = take_line(deadline);
    // "HTTP/1.1 200 OK"
    if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12) {
        throw std::runtime_error("not an HTTP status line: " + status_line);
    }
    response.status = std::stoi(status_line.substr(9, 3));
    response.reason = status_line.size() > 13 ? status_line.substr(13) : "";
    while (true) {
        std::string line = take_line(deadline);
        if (line.empty()) break;
        std::size_t colon = line.find(':');
        if (colon == std::string::npos) throw std::runtime_error("bad header line: " + line);
        response.headers.emplace_back(lower(line.substr(0, colon)), trim(line.substr(colon + 1)));
    }
    bool bodyless = head_request || response.status / 100 == 1 || response.status == 204 ||
                    response.status == 304;
    if (bodyless) return response;
    if (auto length = response.header("content-length")) {
        response.body = take_bytes(std::stoul(*length), deadline);
    } else if (lower(response.header("transfer-encoding").value_or("")) == "chunked") {
        while (true) {
            std::size_t size = std::stoul(take_line(deadline), nullptr, kHexBase);
            if (size == 0) {
                while (!take_line(deadline).empty()) {
                }
                break;
            }
            response.body += take_bytes(size, deadline);
            take_line(deadline);
        }
    } else {
        while (read_more(deadline)) {
        }
        response.body = std::move(buffer_);
        buffer_.clear();
    }
    return response;
}

HttpResponse Connection::request(std::string_view method, std::string_view target,
                                 const std::vector<std::pair<std::string, std::string>>& headers,
                                 std::string_view body) {
    send(format_request(method, target, headers, body));
    return read_response(method == "HEAD");
}

bool Connection::wait_closed(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    try {
        while (read_more(deadline)) {
        }
        return true;
    } catch (const std::runtime_error&) {
        return false;  // still open at the deadline
    }
}

}  // namespace nimbus::test
