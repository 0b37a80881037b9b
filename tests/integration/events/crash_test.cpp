// kill -9 in the middle of emitting and delivering: after a restart every event committed before
// the kill reaches the subscriber (possibly twice), in order per subject.
#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

#include "recorder.hpp"

namespace nimbus::events {
namespace {

/// Lines the parent waits for before killing the child: enough that delivery is well under way.
constexpr std::size_t kEventsBeforeKill = 300;
constexpr auto kChildTimeout = std::chrono::seconds(30);
constexpr auto kDrainTimeout = std::chrono::seconds(30);

class CrashTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "nimbus-crash-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    std::filesystem::path dir_;
};

TEST_F(CrashTest, EventsCommittedBeforeKillNineAreDeliveredAfterRestart) {
    const std::string db_path = (dir_ / "outbox.db").string();
    int pipe_fds[2];
    ASSERT_EQ(::pipe(pipe_fds), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::dup2(pipe_fds[1], STDOUT_FILENO);
        ::close(pipe_fds[0]);
        ::close(pipe_fds[1]);
        ::execl(NIMBUS_OUTBOX_CRASH_HELPER, NIMBUS_OUTBOX_CRASH_HELPER, db_path.c_str(), nullptr);
        ::_exit(127);
    }
    ::close(pipe_fds[1]);
    FILE* from_child = ::fdopen(pipe_fds[0], "r");
    ASSERT_NE(from_child, nullptr);

    // Read committed ids until enough have gone by, then kill without warning.
    std::vector<std::string> printed;
    char line[128];
    const auto deadline = std::chrono::steady_clock::now() + kChildTimeout;
    while (printed.size() < kEventsBeforeKill && std::chrono::steady_clock::now() < deadline &&
           std::fgets(line, sizeof(line), from_child) != nullptr) {
        printed.emplace_back(line, std::strcspn(line, "\n"));
    }
    ASSERT_EQ(::kill(child, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the helper exited by itself; status " << status;
    while (std::fgets(line, sizeof(line), from_child) != nullptr) {
        printed.emplace_back(line, std::strcspn(line, "\n"));
    }
    std::fclose(from_child);
    ASSERT_GE(printed.size(), kEventsBeforeKill);

    // Restart: a new process (here, this one) opens the same file.
    SystemClock clock;
    db::Options options;
    options.sqlite_path = db_path;
    auto db = db::open(options);
    ASSERT_TRUE(db) << db.error().message;
    auto committed_rows = (*db)->query("SELECT id, subject FROM outbox_events ORDER BY seq");
    ASSERT_TRUE(committed_rows);
    std::set<std::string> committed;
    std::map<std::string, std::vector<std::string>> committed_by_subject;
    for (const db::Row& row : *committed_rows) {
        committed.insert(row.get_text(0));
        committed_by_subject[row.get_text(1)].push_back(row.get_text(0));
    }
    for (const std::string& id : printed) {
        EXPECT_TRUE(committed.count(id)) << "acknowledged commit lost: " << id;
    }
    auto before = (*db)->query("SELECT COUNT(DISTINCT event_id) FROM received");
    ASSERT_TRUE(before);
    const std::int64_t received_before_restart = before->at(0).get_int(0);

    DispatcherOptions dispatcher_options;
    dispatcher_options.node_id = "node_restarted";
    dispatcher_options.poll_interval = std::chrono::milliseconds(5);
    Dispatcher dispatcher(**db, clock, dispatcher_options);
    ASSERT_TRUE(dispatcher.subscribe("recorder", testing::recording_handler(**db, "recorder")));
    ASSERT_TRUE(dispatcher.start());
    const auto drain_deadline = std::chrono::steady_clock::now() + kDrainTimeout;
    for (;;) {
        auto stats = dispatcher.stats();
        ASSERT_TRUE(stats) << stats.error().message;
        if (stats->pending_deliveries == 0 && stats->undispatched_events == 0) break;
        ASSERT_LT(std::chrono::steady_clock::now(), drain_deadline)
            << stats->pending_deliveries << " deliveries still pending";
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    dispatcher.stop();

    auto received_rows = (*db)->query("SELECT event_id, subject FROM received ORDER BY recv_seq");
    ASSERT_TRUE(received_rows);
    std::set<std::string> received;
    std::map<std::string, std::vector<std::string>> first_receipts_by_subject;
    for (const db::Row& row : *received_rows) {
        if (received.insert(row.get_text(0)).second) {
            first_receipts_by_subject[row.get_text(1)].push_back(row.get_text(0));
        }
    }
    for (const std::string& id : committed) {
        EXPECT_TRUE(received.count(id)) << "committed but never delivered: " << id;
    }
    EXPECT_EQ(received.size(), committed.size()) << "only committed events can be delivered";
    // At least once, in order: the first receipt of each event follows emit order per subject.
    EXPECT_EQ(first_receipts_by_subject, committed_by_subject);
    std::printf("crash test: %zu committed, %lld received before the kill, %zu receipts in all\n",
                committed.size(), static_cast<long long>(received_before_restart),
                received_rows->size());
}

}  // namespace
}  // namespace nimbus::events
