#include "smtp_sink.hpp"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "core/clock.hpp"
#include "core/ids.hpp"
#include "test_client.hpp"

namespace nimbus::test {
namespace {

namespace fs = std::filesystem;

constexpr auto kStartupTimeout = std::chrono::seconds(15);
constexpr auto kPollInterval = std::chrono::milliseconds(20);
constexpr auto kMailTimeout = std::chrono::seconds(5);
constexpr const char* kPython = "/usr/bin/python3";  // Debian's, which has aiosmtpd
constexpr int kBacklog = 16;

sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    return address;
}

}  // namespace

std::uint16_t unused_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address = loopback(0);
    socklen_t length = sizeof(address);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        ::close(fd);
        throw std::runtime_error("no free port");
    }
    ::close(fd);
    return ntohs(address.sin_port);
}

SmtpSink::SmtpSink(std::uint16_t port)
    : dir_(fs::temp_directory_path() / ("nimbus-mailq-smtp-" + new_ulid(SystemClock().now_ms()))),
      port_(port) {
    fs::create_directories(dir_);
    std::string listen = "127.0.0.1:" + std::to_string(port_);
    std::string maildir = (dir_ / "maildir").string();
    pid_ = ::fork();
    if (pid_ == 0) {
        ::execl(kPython, kPython, "-m", "aiosmtpd", "-n", "-l", listen.c_str(), "-c",
                "aiosmtpd.handlers.Mailbox", maildir.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    auto deadline = std::chrono::steady_clock::now() + kStartupTimeout;
    while (Connection::refused(port_)) {
        if (std::chrono::steady_clock::now() > deadline) {
            throw std::runtime_error("the SMTP sink did not start");
        }
        std::this_thread::sleep_for(kPollInterval);
    }
}

SmtpSink::~SmtpSink() {
    if (pid_ > 0) {
        ::kill(pid_, SIGTERM);
        ::waitpid(pid_, nullptr, 0);
    }
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
}

std::vector<std::string> SmtpSink::messages() const {
    std::vector<std::pair<fs::file_time_type, std::string>> found;
    std::error_code ec;
    fs::path inbox = dir_ / "maildir" / "new";
    if (!fs::exists(inbox, ec)) return {};
    for (const auto& entry : fs::directory_iterator(inbox, ec)) {
        std::ifstream in(entry.path());
        std::stringstream text;
        text << in.rdbuf();
        found.emplace_back(entry.last_write_time(), text.str());
    }
    std::sort(found.begin(), found.end());
    std::vector<std::string> out;
    out.reserve(found.size());
    for (auto& [time, text] : found) out.push_back(std::move(text));
    return out;
}

std::vector<std::string> SmtpSink::wait_for(
    const std::function<bool(const std::vector<std::string>&)>& done,
    std::chrono::milliseconds timeout) const {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        auto all = messages();
        if (done(all) || std::chrono::steady_clock::now() > deadline) return all;
        std::this_thread::sleep_for(kPollInterval);
    }
}

std::string SmtpSink::last_token(const std::string& to, const std::string& page) const {
    std::regex link(page + "\\?token=([A-Za-z0-9_-]+)");
    std::string token;
    wait_for(
        [&](const std::vector<std::string>& all) {
            for (auto it = all.rbegin(); it != all.rend(); ++it) {
                std::smatch match;
                if (it->find("To: " + to) != std::string::npos &&
                    std::regex_search(*it, match, link)) {
                    token = match[1];
                    return true;
                }
            }
            return false;
        },
        kMailTimeout);
    return token;
}

SilentServer::SilentServer(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    int reuse = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof(reuse));
    sockaddr_in address = loopback(port);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        ::listen(fd_, kBacklog) != 0) {
        ::close(fd_);
        throw std::runtime_error("cannot listen on the silent server's port");
    }
}

SilentServer::~SilentServer() { ::close(fd_); }

}  // namespace nimbus::test
