#pragma once
// Runs the `nimbus` binary as a child process for tests: short commands to completion, and a
// server in the background whose stderr is collected as it runs. Children are killed and reaped
// when their owner goes away, so a failing test leaves no process behind.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace nimbus::test {

/// Environment variables for a child: the test's own environment without any NIMBUS_* variable
/// (so the developer's shell cannot change results), plus these.
using Environment = std::map<std::string, std::string>;

struct Finished {
    int exit_status = -1;  ///< the exit code, or -1 when killed by a signal
    int signal = 0;        ///< the signal that ended it, if any
    std::string out;
    std::string err;
};

/// Runs `program args...` to completion (killing it after `timeout`) and captures its output.
Finished run_process(const std::string& program, const std::vector<std::string>& args,
                     const Environment& environment = {},
                     std::chrono::milliseconds timeout = std::chrono::seconds(60));

/// A child running in the background with stdout discarded and stderr collected.
class BackgroundProcess {
public:
    BackgroundProcess(const std::string& program, const std::vector<std::string>& args,
                      const Environment& environment = {});
    /// Kills (SIGKILL) and reaps the child if it still runs.
    ~BackgroundProcess();
    BackgroundProcess(const BackgroundProcess&) = delete;
    BackgroundProcess& operator=(const BackgroundProcess&) = delete;

    pid_t pid() const { return pid_; }
    /// Everything written to stderr so far.
    std::string err() const;
    /// Waits until stderr contains `text`; false on timeout or when the child exits first.
    bool wait_for_output(const std::string& text,
                         std::chrono::milliseconds timeout = std::chrono::seconds(60));
    /// Sends `signal` and waits for the exit; the Finished result carries stderr.
    Finished stop(int signal, std::chrono::milliseconds timeout = std::chrono::seconds(30));
    /// Waits for the child to exit on its own (killing it after `timeout`).
    Finished wait(std::chrono::milliseconds timeout = std::chrono::seconds(60));

private:
    std::optional<Finished> try_reap();
    pid_t pid_ = -1;
    int err_fd_ = -1;
    std::thread reader_;
    mutable std::mutex mutex_;
    std::string err_;
    bool exited_ = false;
    Finished finished_;
};

/// `serve` arguments for a node on a free loopback port with its data in `data_dir`.
std::vector<std::string> serve_args(const std::filesystem::path& data_dir);

/// Waits for the node's ready line and returns the port of its URL; 0 (with a test failure that
/// carries the node's stderr) when it never became ready.
std::uint16_t ready_port(BackgroundProcess& node);

/// A fresh directory under the system temp dir, removed (with its contents) when destroyed.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

private:
    std::filesystem::path path_;
};

}  // namespace nimbus::test
