// The `nimbus` binary with its mail server hung: sign-up and password reset still answer 202, the
// mail waits sealed in the database, survives a kill -9 of the node, and arrives once a working
// server is configured; the link it carries then works.
#include <signal.h>

#include <filesystem>
#include <regex>
#include <thread>

#include <gtest/gtest.h>

#include "db/db.hpp"
#include "process.hpp"
#include "smtp_sink.hpp"
#include "test_client.hpp"

namespace nimbus::test {
namespace {

namespace fs = std::filesystem;

const std::string kNimbus = NIMBUS_BINARY;
constexpr const char* kEmail = "queued.user@example.com";
constexpr const char* kPassword = "correct-Horse-battery-9";
constexpr const char* kNewPassword = "Tr0mbone-lantern-quiet";
constexpr auto kWaitLimit = std::chrono::seconds(30);
constexpr auto kPollInterval = std::chrono::milliseconds(50);

/// A node sending to `smtp_url`, retrying quickly, with few threads (the machine is shared).
Environment node_environment(const std::string& smtp_url) {
    return {{"NIMBUS_HTTP_THREADS", "2"},
            {"NIMBUS_CONSOLE_DIR", "/nonexistent/nimbus-console"},
            {"NIMBUS_MAIL_SMTP_URL", smtp_url},
            {"NIMBUS_MAIL_QUEUE_POLL_MS", "50"},
            {"NIMBUS_MAIL_RETRY_INITIAL_MS", "100"},
            {"NIMBUS_MAIL_RETRY_MAX_MS", "500"}};
}

HttpResponse post(std::uint16_t port, const std::string& target, const std::string& json) {
    Connection connection(port);
    return connection.request("POST", target, {{"content-type", "application/json"}}, json);
}

/// Every stored byte of the mail queue, each row's columns joined.
std::vector<std::string> queue_rows(const fs::path& data_dir) {
    auto database = db::open({.sqlite_path = (data_dir / "nimbus.db").string()});
    if (!database) {
        ADD_FAILURE() << database.error().message;
        return {};
    }
    auto rows = (*database)->query("SELECT * FROM mail_queue");
    if (!rows) {
        ADD_FAILURE() << rows.error().message;
        return {};
    }
    std::vector<std::string> out;
    for (const db::Row& row : *rows) {
        std::string text;
        for (std::size_t column_idx = 0; column_idx < row.size(); ++column_idx) {
            const db::Value& value = row.at(column_idx);
            if (const auto* bytes = std::get_if<db::Bytes>(&value)) {
                text.append(bytes->begin(), bytes->end());
            } else if (const auto* str = std::get_if<std::string>(&value)) {
                text += *str;
            }
            text += '\x1f';
        }
        out.push_back(std::move(text));
    }
    return out;
}

/// The token of a `page` link in the messages to kEmail; empty when there is none.
std::string token_in(const std::vector<std::string>& messages, const std::string& page) {
    std::regex link(page + "\\?token=([A-Za-z0-9_-]+)");
    for (const std::string& message : messages) {
        std::smatch match;
        if (message.find(std::string("To: ") + kEmail) != std::string::npos &&
            std::regex_search(message, match, link)) {
            return match[1];
        }
    }
    return {};
}

TEST(NodeMailQueue, AnswersWhileTheMailServerHangsAndDeliversAfterAKill9) {
    TempDir dir;
    const fs::path data_dir = dir / "data";
    {
        // A server that accepts connections and never greets: before the queue, each of these
        // requests waited for it (up to the SMTP timeout) before answering.
        const std::uint16_t hung_port = unused_port();
        SilentServer hung(hung_port);
        BackgroundProcess node(kNimbus, serve_args(data_dir),
                               node_environment("smtp://127.0.0.1:" + std::to_string(hung_port)));
        std::uint16_t port = ready_port(node);
        ASSERT_NE(port, 0);
        auto signed_up = post(port, "/api/v1/auth/signup",
                              std::string(R"({"email":")") + kEmail + R"(","password":")" +
                                  kPassword + R"(","name":"Queued"})");
        EXPECT_EQ(signed_up.status, 202) << signed_up.body;
        auto forgot = post(port, "/api/v1/auth/password/forgot",
                           std::string(R"({"email":")") + kEmail + R"("})");
        EXPECT_EQ(forgot.status, 202) << forgot.body;
        auto unknown =
            post(port, "/api/v1/auth/password/forgot", R"({"email":"nobody.here@example.com"})");
        EXPECT_EQ(unknown.status, 202) << unknown.body;

        // Both mails wait in the table, sealed: no link, address or subject readable there.
        auto rows = queue_rows(data_dir);
        EXPECT_EQ(rows.size(), 2U);
        for (const std::string& row : rows) {
            EXPECT_EQ(row.find("token="), std::string::npos);
            EXPECT_EQ(row.find(kEmail), std::string::npos);
            EXPECT_EQ(row.find("Reset your password"), std::string::npos);
        }
        Finished killed = node.stop(SIGKILL);
        ASSERT_EQ(killed.signal, SIGKILL);
        EXPECT_EQ(killed.err.find("token="), std::string::npos) << "no link in the logs";
    }

    SmtpSink smtp(unused_port());
    BackgroundProcess node(kNimbus, serve_args(data_dir), node_environment(smtp.url()));
    std::uint16_t port = ready_port(node);
    ASSERT_NE(port, 0);
    auto received = smtp.wait_for(
        [](const auto& all) {
            return !token_in(all, "reset-password").empty() &&
                   !token_in(all, "verify-email").empty();
        },
        kWaitLimit);
    std::string reset_token = token_in(received, "reset-password");
    ASSERT_FALSE(reset_token.empty()) << received.size() << " messages arrived";
    EXPECT_FALSE(token_in(received, "verify-email").empty());
    EXPECT_EQ(received.size(), 2U) << "the unknown address got nothing, the others one each";

    auto reset = post(port, "/api/v1/auth/password/reset",
                      R"({"token":")" + reset_token + R"(","password":")" + kNewPassword + R"("})");
    EXPECT_EQ(reset.status, 204) << reset.body;
    auto deadline = std::chrono::steady_clock::now() + kWaitLimit;
    while (!queue_rows(data_dir).empty() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(kPollInterval);
    }
    EXPECT_TRUE(queue_rows(data_dir).empty()) << "sent mail is deleted";
    Connection metrics_connection(port);
    HttpResponse metrics = metrics_connection.request("GET", "/metrics");
    EXPECT_EQ(metrics.status, 200);
    EXPECT_NE(metrics.body.find("nimbus_mail_sent_total 2"), std::string::npos) << metrics.body;
    EXPECT_NE(metrics.body.find("nimbus_mail_queued 0"), std::string::npos) << metrics.body;
    Finished stopped = node.stop(SIGTERM);
    EXPECT_EQ(stopped.exit_status, 0) << stopped.err;
    EXPECT_EQ(stopped.err.find("token="), std::string::npos) << "no link in the logs";
}

TEST(NodeMailQueue, AnswersWhileTheMailServerIsDownAndDeliversOnceItComesUp) {
    TempDir dir;
    const fs::path data_dir = dir / "data";
    const std::uint16_t smtp_port = unused_port();  // nothing listens yet: connections refused
    BackgroundProcess node(kNimbus, serve_args(data_dir),
                           node_environment("smtp://127.0.0.1:" + std::to_string(smtp_port)));
    std::uint16_t port = ready_port(node);
    ASSERT_NE(port, 0);
    auto signed_up = post(port, "/api/v1/auth/signup",
                          std::string(R"({"email":")") + kEmail + R"(","password":")" + kPassword +
                              R"(","name":"Queued"})");
    EXPECT_EQ(signed_up.status, 202) << signed_up.body;
    // The worker has tried and failed at least once: the message waits with its attempts.
    auto deadline = std::chrono::steady_clock::now() + kWaitLimit;
    auto attempted = [&] {
        auto database = db::open({.sqlite_path = (data_dir / "nimbus.db").string()});
        if (!database) return false;
        auto rows = (*database)->query("SELECT attempts FROM mail_queue");
        return rows && rows->size() == 1 && rows->front().get_int(0) >= 1;
    };
    while (!attempted() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(kPollInterval);
    }
    ASSERT_TRUE(attempted());

    SmtpSink smtp(smtp_port);
    auto received = smtp.wait_for(
        [](const auto& all) { return !token_in(all, "verify-email").empty(); }, kWaitLimit);
    std::string token = token_in(received, "verify-email");
    ASSERT_FALSE(token.empty());
    auto verified = post(port, "/api/v1/auth/verify-email", R"({"token":")" + token + R"("})");
    EXPECT_EQ(verified.status, 204) << verified.body;
    EXPECT_EQ(node.stop(SIGTERM).exit_status, 0);
}

}  // namespace
}  // namespace nimbus::test
