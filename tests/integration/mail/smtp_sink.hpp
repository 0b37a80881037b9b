#pragma once
// Mail servers for the mail and identity tests, on 127.0.0.1: a real SMTP server (Debian's
// aiosmtpd, writing a maildir) on a port the test chooses, so it can come up where a node already
// sends, and a listener that accepts connections but never answers, as a hung server would.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace nimbus::test {

/// A loopback TCP port nothing listens on at the moment of the call.
std::uint16_t unused_port();

/// `python3 -m aiosmtpd` with the Mailbox handler on 127.0.0.1:`port`.
class SmtpSink {
public:
    /// On a port of its own.
    SmtpSink() : SmtpSink(unused_port()) {}
    explicit SmtpSink(std::uint16_t port);
    ~SmtpSink();
    SmtpSink(const SmtpSink&) = delete;
    SmtpSink& operator=(const SmtpSink&) = delete;

    std::uint16_t port() const { return port_; }
    std::string url() const { return "smtp://127.0.0.1:" + std::to_string(port_); }
    /// Every message received so far (raw RFC 5322 text), oldest first.
    std::vector<std::string> messages() const;
    /// Polls messages() until `done` holds for them or `timeout` passes; the last messages seen.
    std::vector<std::string> wait_for(
        const std::function<bool(const std::vector<std::string>&)>& done,
        std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;
    /// The token of the newest link to `to` whose path is `page` ("verify-email"); waits a little
    /// for delivery. Empty when none arrives.
    std::string last_token(const std::string& to, const std::string& page) const;

private:
    std::filesystem::path dir_;
    std::uint16_t port_ = 0;
    pid_t pid_ = -1;
};

/// Listens on 127.0.0.1:`port` and never accepts: connections complete in the kernel's backlog
/// and then hear nothing, like a mail server that hangs before its greeting.
class SilentServer {
public:
    explicit SilentServer(std::uint16_t port);
    ~SilentServer();
    SilentServer(const SilentServer&) = delete;
    SilentServer& operator=(const SilentServer&) = delete;

private:
    int fd_ = -1;
};

}  // namespace nimbus::test
