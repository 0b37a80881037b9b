#include "process.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

extern char** environ;

namespace nimbus::test {
namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(10);
constexpr std::size_t kReadChunk = 4096;

std::vector<std::string> child_environment(const Environment& extra) {
    std::vector<std::string> entries;
    for (char** entry = environ; *entry != nullptr; ++entry) {
        std::string_view text(*entry);
        if (text.starts_with("NIMBUS_")) continue;
        std::string name(text.substr(0, text.find('=')));
        if (extra.contains(name)) continue;
        entries.emplace_back(text);
    }
    for (const auto& [name, value] : extra) entries.push_back(name + "=" + value);
    return entries;
}

struct Pipe {
    int read_end = -1;
    int write_end = -1;
    Pipe() {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
        read_end = fds[0];
        write_end = fds[1];
    }
};

/// Starts the child with stdout and stderr on the given descriptors (-1: /dev/null).
pid_t spawn(const std::string& program, const std::vector<std::string>& args,
            const Environment& environment, int out_fd, int err_fd) {
    std::vector<std::string> argv_text = {program};
    argv_text.insert(argv_text.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& arg : argv_text) argv.push_back(arg.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_text = child_environment(environment);
    std::vector<char*> envp;
    for (auto& entry : env_text) envp.push_back(entry.data());
    envp.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    if (out_fd >= 0) {
        posix_spawn_file_actions_adddup2(&actions, out_fd, STDOUT_FILENO);
    } else {
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    }
    if (err_fd >= 0) {
        posix_spawn_file_actions_adddup2(&actions, err_fd, STDERR_FILENO);
    } else {
        posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    }
    // The child must not inherit a blocked SIGTERM from a test thread.
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attributes, &none);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK);

    pid_t pid = -1;
    int error = posix_spawn(&pid, program.c_str(), &actions, &attributes, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    if (error != 0) {
        throw std::runtime_error("cannot start " + program + ": " + std::strerror(error));
    }
    return pid;
}

Finished decode(int status) {
    Finished finished;
    if (WIFEXITED(status)) finished.exit_status = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) finished.signal = WTERMSIG(status);
    return finished;
}

}  // namespace

Finished run_process(const std::string& program, const std::vector<std::string>& args,
                     const Environment& environment, std::chrono::milliseconds timeout) {
    Pipe out;
    Pipe err;
    pid_t pid = spawn(program, args, environment, out.write_end, err.write_end);
    ::close(out.write_end);
    ::close(err.write_end);

    std::string out_text;
    std::string err_text;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    pollfd fds[2] = {{out.read_end, POLLIN, 0}, {err.read_end, POLLIN, 0}};
    int open_count = 2;
    bool killed = false;
    while (open_count > 0) {
        if (std::chrono::steady_clock::now() > deadline && !killed) {
            ::kill(pid, SIGKILL);
            killed = true;
        }
        if (::poll(fds, 2, static_cast<int>(kPollInterval.count())) < 0 && errno != EINTR) break;
        for (int idx = 0; idx < 2; ++idx) {
            if (fds[idx].fd < 0 || (fds[idx].revents & (POLLIN | POLLHUP)) == 0) continue;
            char chunk[kReadChunk];
            ssize_t got = ::read(fds[idx].fd, chunk, sizeof(chunk));
            if (got <= 0) {
                ::close(fds[idx].fd);
                fds[idx].fd = -1;
                --open_count;
            } else {
                (idx == 0 ? out_text : err_text).append(chunk, static_cast<std::size_t>(got));
            }
        }
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    Finished finished = decode(status);
    finished.out = std::move(out_text);
    finished.err = std::move(err_text);
    return finished;
}

BackgroundProcess::BackgroundProcess(const std::string& program,
                                     const std::vector<std::string>& args,
                                     const Environment& environment) {
    Pipe err;
    pid_ = spawn(program, args, environment, -1, err.write_end);
    ::close(err.write_end);
    err_fd_ = err.read_end;
    reader_ = std::thread([this] {
        char chunk[kReadChunk];
        ssize_t got;
        while ((got = ::read(err_fd_, chunk, sizeof(chunk))) > 0 || (got < 0 && errno == EINTR)) {
            if (got <= 0) continue;
            std::lock_guard lock(mutex_);
            err_.append(chunk, static_cast<std::size_t>(got));
        }
    });
}

BackgroundProcess::~BackgroundProcess() {
    if (!try_reap()) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
    }
    // The pipe reaches end of file once the child (and anything it spawned) is gone.
    if (reader_.joinable()) reader_.join();
    ::close(err_fd_);
}

std::string BackgroundProcess::err() const {
    std::lock_guard lock(mutex_);
    return err_;
}

std::optional<Finished> BackgroundProcess::try_reap() {
    if (exited_) return finished_;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) != pid_) return std::nullopt;
    exited_ = true;
    finished_ = decode(status);
    return finished_;
}

bool BackgroundProcess::wait_for_output(const std::string& text,
                                        std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (err().find(text) != std::string::npos) return true;
        if (try_reap()) return err().find(text) != std::string::npos;
        std::this_thread::sleep_for(kPollInterval);
    }
    return false;
}

Finished BackgroundProcess::stop(int signal, std::chrono::milliseconds timeout) {
    if (!try_reap()) ::kill(pid_, signal);
    return wait(timeout);
}

Finished BackgroundProcess::wait(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!try_reap()) {
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(pid_, SIGKILL);
            int status = 0;
            ::waitpid(pid_, &status, 0);
            exited_ = true;
            finished_ = decode(status);
            break;
        }
        std::this_thread::sleep_for(kPollInterval);
    }
    if (reader_.joinable()) reader_.join();
    Finished result = finished_;
    result.err = err();
    return result;
}

TempDir::TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "nimbus-app-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

std::vector<std::string> serve_args(const std::filesystem::path& data_dir) {
    return {"serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir.string()};
}

std::uint16_t ready_port(BackgroundProcess& node) {
    constexpr std::string_view kReadyMessage = R"("message":"nimbus is ready")";
    constexpr std::string_view kUrlPrefix = R"("url":"http://127.0.0.1:)";
    if (!node.wait_for_output(std::string(kReadyMessage))) {
        ADD_FAILURE() << "nimbus did not become ready; stderr:\n" << node.err();
        return 0;
    }
    std::string err = node.err();
    std::size_t line_start = err.rfind('\n', err.find(kReadyMessage));
    std::size_t url = err.find(kUrlPrefix, line_start == std::string::npos ? 0 : line_start);
    if (url == std::string::npos) {
        ADD_FAILURE() << "the ready line has no 127.0.0.1 url; stderr:\n" << err;
        return 0;
    }
    return static_cast<std::uint16_t>(std::stoi(err.substr(url + kUrlPrefix.size())));
}

}  // namespace nimbus::test
