// The `nimbus` binary as an operator meets it: command line, configuration errors, the data dir
// and its lock, the master key, probes and metrics, signals, and crash recovery.
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

#include "process.hpp"
#include "test_client.hpp"

namespace nimbus::test {
namespace {

namespace fs = std::filesystem;

const std::string kNimbus = NIMBUS_BINARY;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr std::size_t kMasterKeyBytes = 32;

/// Settings every test shares: few threads (the machine is shared), no console build.
Environment base_environment() {
    return {{"NIMBUS_HTTP_THREADS", "2"}, {"NIMBUS_CONSOLE_DIR", "/nonexistent/nimbus-console"}};
}

Environment with(Environment environment, const std::string& name, const std::string& value) {
    environment[name] = value;
    return environment;
}

HttpResponse get(std::uint16_t port, const std::string& target) {
    Connection connection(port);
    return connection.request("GET", target);
}

void write_file(const fs::path& path, const std::string& content, fs::perms mode) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
    fs::permissions(path, mode);
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

/// Runs a node on `data_dir` until it is ready, then stops it: a first start that creates the
/// database, applies migrations and writes the master key.
void first_run(const fs::path& data_dir) {
    BackgroundProcess node(kNimbus, serve_args(data_dir), base_environment());
    ASSERT_NE(ready_port(node), 0);
    Finished finished = node.stop(SIGTERM);
    ASSERT_EQ(finished.exit_status, 0) << finished.err;
    ASSERT_TRUE(fs::exists(data_dir / "master.key"));
}

/// Starts a node that must fail; returns its result.
Finished failed_start(const fs::path& data_dir,
                      const Environment& environment = base_environment()) {
    return run_process(kNimbus, serve_args(data_dir), environment);
}

// ---- Command line ----------------------------------------------------------------------------

TEST(Cli, HelpDescribesTheSubCommands) {
    Finished help = run_process(kNimbus, {"--help"});

    EXPECT_EQ(help.exit_status, 0) << help.err;
    for (std::string_view command : {"serve", "migrate", "config"}) {
        EXPECT_NE(help.out.find(command), std::string::npos) << command << "\n" << help.out;
    }
}

TEST(Cli, ServeHelpDescribesItsFlags) {
    Finished help = run_process(kNimbus, {"serve", "--help"});

    EXPECT_EQ(help.exit_status, 0) << help.err;
    for (std::string_view flag : {"--listen", "--data-dir", "--config", "--database-url"}) {
        EXPECT_NE(help.out.find(flag), std::string::npos) << flag << "\n" << help.out;
    }
}

TEST(Cli, VersionPrintsTheVersion) {
    Finished version = run_process(kNimbus, {"--version"});

    EXPECT_EQ(version.exit_status, 0);
    EXPECT_NE(version.out.find("nimbus "), std::string::npos) << version.out;
}

TEST(Cli, UnknownSubCommandOrNoneIsAUsageError) {
    EXPECT_EQ(run_process(kNimbus, {"frobnicate"}).exit_status, kExitUsage);
    EXPECT_EQ(run_process(kNimbus, {}).exit_status, kExitUsage);
    EXPECT_EQ(run_process(kNimbus, {"serve", "--no-such-flag"}).exit_status, kExitUsage);
}

// ---- Configuration errors stop the start with status 2, naming the key ------------------------

TEST(Config, InvalidTomlFileExits2NamingTheFileAndLine) {
    TempDir dir;
    write_file(dir / "nimbus.toml", "[http]\nthreads = = 2\n", fs::perms::owner_all);

    Finished result = run_process(kNimbus,
                                  {"serve", "--config", (dir / "nimbus.toml").string(),
                                   "--data-dir", (dir / "data").string()},
                                  base_environment());

    EXPECT_EQ(result.exit_status, kExitUsage) << result.err;
    EXPECT_NE(result.err.find("nimbus.toml"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("line 2"), std::string::npos) << result.err;
    EXPECT_FALSE(fs::exists(dir / "data")) << "nothing is created before the config is valid";
}

TEST(Config, UnknownKeyInTheFileExits2NamingIt) {
    TempDir dir;
    write_file(dir / "nimbus.toml", "[http]\nthreadz = 2\n", fs::perms::owner_all);

    Finished result = run_process(kNimbus,
                                  {"serve", "--config", (dir / "nimbus.toml").string(),
                                   "--data-dir", (dir / "data").string()},
                                  base_environment());

    EXPECT_EQ(result.exit_status, kExitUsage) << result.err;
    EXPECT_NE(result.err.find("threadz"), std::string::npos) << result.err;
}

TEST(Config, UnknownKeyAsAFlagExits2NamingIt) {
    TempDir dir;

    Finished result = run_process(
        kNimbus, {"serve", "--data-dir", (dir / "data").string(), "--set", "htp.listen=x"},
        base_environment());

    EXPECT_EQ(result.exit_status, kExitUsage) << result.err;
    EXPECT_NE(result.err.find("htp.listen"), std::string::npos) << result.err;
}

TEST(Config, BadEnvironmentValueExits2NamingTheKey) {
    TempDir dir;

    Finished result =
        failed_start(dir / "data", with(base_environment(), "NIMBUS_HTTP_THREADS", "lots"));

    EXPECT_EQ(result.exit_status, kExitUsage) << result.err;
    EXPECT_NE(result.err.find("http.threads"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("NIMBUS_HTTP_THREADS"), std::string::npos) << result.err;
}

TEST(Config, BadListenAddressExits2) {
    TempDir dir;

    Finished result = run_process(
        kNimbus, {"serve", "--listen", "nowhere", "--data-dir", (dir / "data").string()},
        base_environment());

    EXPECT_EQ(result.exit_status, kExitUsage) << result.err;
    EXPECT_NE(result.err.find("http.listen"), std::string::npos) << result.err;
}

TEST(Config, MissingConfigFileIsAUsageError) {
    Finished result =
        run_process(kNimbus, {"serve", "--config", "/nonexistent/nimbus.toml"}, base_environment());

    EXPECT_EQ(result.exit_status, kExitUsage) << result.err;
    EXPECT_NE((result.err + result.out).find("/nonexistent/nimbus.toml"), std::string::npos)
        << result.err;
}

TEST(Config, ShowRedactsTheDatabasePassword) {
    Finished result = run_process(
        kNimbus, {"config", "show"},
        with(base_environment(), "NIMBUS_DATABASE_URL", "postgres://u:secret@127.0.0.1:1/x"));

    EXPECT_EQ(result.exit_status, 0) << result.err;
    EXPECT_EQ(result.out.find("secret"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("127.0.0.1:1/x"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("***"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("threads = 2"), std::string::npos) << "shows effective values";
}

// ---- The data dir ----------------------------------------------------------------------------

TEST(DataDir, UnwritableDataDirFailsWithAClearMessage) {
    // A path below a regular file can never be created, even by root.
    TempDir dir;
    write_file(dir / "file", "not a directory", fs::perms::owner_read | fs::perms::owner_write);
    fs::path data_dir = dir / "file" / "data";

    Finished result = failed_start(data_dir);

    EXPECT_NE(result.exit_status, 0);
    EXPECT_EQ(result.signal, 0) << "a clean exit, not a crash";
    EXPECT_NE(result.err.find("data dir"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find(data_dir.string()), std::string::npos) << result.err;
}

TEST(DataDir, SecondNodeOnTheSameDataDirIsRefused) {
    TempDir dir;
    BackgroundProcess first(kNimbus, serve_args(dir / "data"), base_environment());
    ASSERT_NE(ready_port(first), 0);

    Finished second = failed_start(dir / "data");
    Finished migrate = run_process(
        kNimbus, {"migrate", "status", "--data-dir", (dir / "data").string()}, base_environment());

    EXPECT_EQ(second.exit_status, kExitFailure) << second.err;
    EXPECT_NE(second.err.find("in use"), std::string::npos) << second.err;
    EXPECT_NE(second.err.find(std::to_string(first.pid())), std::string::npos)
        << "names the pid holding it: " << second.err;
    EXPECT_EQ(migrate.exit_status, kExitFailure) << migrate.err;
    EXPECT_NE(migrate.err.find("in use"), std::string::npos) << migrate.err;
    EXPECT_EQ(first.stop(SIGTERM).exit_status, 0);
}

TEST(DataDir, KillMinus9ThenRestartOnTheSameDataDirWorks) {
    TempDir dir;
    {
        BackgroundProcess crashed(kNimbus, serve_args(dir / "data"), base_environment());
        ASSERT_NE(ready_port(crashed), 0);
        Finished killed = crashed.stop(SIGKILL);
        ASSERT_EQ(killed.signal, SIGKILL);
    }

    BackgroundProcess restarted(kNimbus, serve_args(dir / "data"), base_environment());
    std::uint16_t port = ready_port(restarted);
    ASSERT_NE(port, 0) << "the kernel released the lock of the killed node";

    EXPECT_EQ(get(port, "/readyz").status, 200);
    HttpResponse info = get(port, "/api/v1/system/info");
    EXPECT_EQ(info.status, 200);
    EXPECT_NE(info.body.find(R"("module":"system","version":1)"), std::string::npos) << info.body;
    EXPECT_EQ(restarted.stop(SIGTERM).exit_status, 0);
}

// ---- Migrations ------------------------------------------------------------------------------

TEST(Migrate, StatusListsTheSystemMigrationThenUpAppliesIt) {
    TempDir dir;
    const std::string data_dir = (dir / "data").string();

    Finished before =
        run_process(kNimbus, {"migrate", "status", "--data-dir", data_dir}, base_environment());
    Finished up =
        run_process(kNimbus, {"migrate", "up", "--data-dir", data_dir}, base_environment());
    Finished after =
        run_process(kNimbus, {"migrate", "status", "--data-dir", data_dir}, base_environment());

    EXPECT_EQ(before.exit_status, 0) << before.err;
    EXPECT_NE(before.out.find("system"), std::string::npos) << before.out;
    EXPECT_NE(before.out.find("pending"), std::string::npos) << before.out;
    EXPECT_EQ(up.exit_status, 0) << up.err;
    EXPECT_EQ(after.exit_status, 0) << after.err;
    EXPECT_NE(after.out.find("system"), std::string::npos) << after.out;
    EXPECT_EQ(after.out.find("pending"), std::string::npos) << after.out;
}

// ---- Serving ---------------------------------------------------------------------------------

TEST(Serve, ProbesInfoAndMetricsThenSigtermExitsCleanly) {
    TempDir dir;
    BackgroundProcess node(kNimbus, serve_args(dir / "data"), base_environment());
    std::uint16_t port = ready_port(node);
    ASSERT_NE(port, 0);

    HttpResponse health = get(port, "/healthz");
    EXPECT_EQ(health.status, 200);
    EXPECT_NE(health.body.find(R"("status":"ok")"), std::string::npos) << health.body;

    HttpResponse ready = get(port, "/readyz");
    EXPECT_EQ(ready.status, 200) << ready.body;
    EXPECT_NE(ready.body.find(R"("status":"ready")"), std::string::npos) << ready.body;

    HttpResponse info = get(port, "/api/v1/system/info");
    EXPECT_EQ(info.status, 200);
    EXPECT_EQ(info.header("content-type"), "application/json");
    for (std::string_view fragment :
         {R"("version":")", R"("database":{"backend":"sqlite"})", R"("migrations":[)",
          R"({"module":"system","version":1,"name":"system","applied_at":")"}) {
        EXPECT_NE(info.body.find(fragment), std::string::npos) << fragment << "\n" << info.body;
    }

    EXPECT_EQ(get(port, "/api/v1/not-a-route").status, 404);
    HttpResponse console = get(port, "/orgs/org_1");
    EXPECT_EQ(console.status, 200);
    EXPECT_NE(console.body.find("console has not been built"), std::string::npos);

    HttpResponse metrics = get(port, "/metrics");
    EXPECT_EQ(metrics.status, 200);
    for (
        std::string_view line :
        {R"(nimbus_http_requests_total{method="GET",route="/healthz",status="200"} 1)",
         R"(nimbus_http_requests_total{method="GET",route="/readyz",status="200"} 1)",
         R"(nimbus_http_requests_total{method="GET",route="/api/v1/system/info",status="200"} 1)",
         R"(nimbus_http_requests_total{method="GET",route="unmatched",status="404"} 1)",
         R"(nimbus_http_requests_total{method="GET",route="static",status="200"} 1)",
         R"(nimbus_http_request_duration_seconds_count{method="GET",route="/healthz",status="200"} 1)",
         "nimbus_build_info{", "process_resident_memory_bytes ", "nimbus_http_open_connections "}) {
        EXPECT_NE(metrics.body.find(line), std::string::npos) << line << "\n" << metrics.body;
    }
    EXPECT_EQ(metrics.body.find("not-a-route"), std::string::npos) << "no raw paths as labels";
    EXPECT_EQ(metrics.body.find("org_1"), std::string::npos) << "no raw paths as labels";

    Finished finished = node.stop(SIGTERM);
    EXPECT_EQ(finished.exit_status, 0) << finished.err;
    EXPECT_NE(finished.err.find(R"("message":"stopped")"), std::string::npos) << finished.err;
    EXPECT_TRUE(Connection::refused(port));
}

TEST(Serve, SigintAlsoExitsCleanly) {
    TempDir dir;
    BackgroundProcess node(kNimbus, serve_args(dir / "data"), base_environment());
    ASSERT_NE(ready_port(node), 0);

    EXPECT_EQ(node.stop(SIGINT).exit_status, 0);
}

TEST(Serve, UnreachablePostgresFailsWithoutLeakingThePassword) {
    TempDir dir;

    Finished result =
        failed_start(dir / "data", with(base_environment(), "NIMBUS_DATABASE_URL",
                                        "postgres://nimbus:hunter2@127.0.0.1:1/nimbus"));

    EXPECT_EQ(result.exit_status, kExitFailure) << result.err;
    EXPECT_NE(result.err.find("database"), std::string::npos) << result.err;
    EXPECT_EQ(result.err.find("hunter2"), std::string::npos) << result.err;
}

TEST(Serve, UnreachablePostgresWithoutAPasswordFailsClearly) {
    TempDir dir;

    Finished result = failed_start(dir / "data", with(base_environment(), "NIMBUS_DATABASE_URL",
                                                      "postgres://nimbus@127.0.0.1:1/nimbus"));

    EXPECT_EQ(result.exit_status, kExitFailure) << result.err;
    EXPECT_NE(result.err.find("cannot open the database"), std::string::npos) << result.err;
}

// ---- The master key --------------------------------------------------------------------------

TEST(MasterKey, FirstRunCreatesAPrivateKeyFile) {
    TempDir dir;
    first_run(dir / "data");

    fs::path key = dir / "data" / "master.key";
    EXPECT_EQ(fs::file_size(key), kMasterKeyBytes);
    EXPECT_EQ(fs::status(key).permissions() & (fs::perms::group_all | fs::perms::others_all),
              fs::perms::none);
}

TEST(MasterKey, MissingKeyForExistingDataStopsTheStart) {
    TempDir dir;
    first_run(dir / "data");
    fs::remove(dir / "data" / "master.key");

    Finished result = failed_start(dir / "data");

    EXPECT_EQ(result.exit_status, kExitFailure) << result.err;
    EXPECT_NE(result.err.find("master key"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("missing"), std::string::npos) << result.err;
    EXPECT_FALSE(fs::exists(dir / "data" / "master.key")) << "must not silently make a new key";
}

TEST(MasterKey, AnotherKeyForExistingDataStopsTheStart) {
    TempDir dir;
    first_run(dir / "data");
    fs::path key = dir / "data" / "master.key";
    std::string original = read_file(key);
    std::string other(kMasterKeyBytes, '\0');
    std::random_device random;
    do {
        for (char& byte : other) byte = static_cast<char>(random());
    } while (other == original);
    write_file(key, other, fs::perms::owner_read | fs::perms::owner_write);

    Finished result = failed_start(dir / "data");

    EXPECT_EQ(result.exit_status, kExitFailure) << result.err;
    EXPECT_NE(result.err.find("does not match"), std::string::npos) << result.err;

    // Putting the original back is the fix the message asks for.
    write_file(key, original, fs::perms::owner_read | fs::perms::owner_write);
    BackgroundProcess node(kNimbus, serve_args(dir / "data"), base_environment());
    EXPECT_NE(ready_port(node), 0);
    EXPECT_EQ(node.stop(SIGTERM).exit_status, 0);
}

TEST(MasterKey, KeyFileReadableByOthersIsRefused) {
    TempDir dir;
    first_run(dir / "data");
    fs::permissions(dir / "data" / "master.key", fs::perms::owner_read | fs::perms::owner_write |
                                                     fs::perms::group_read |
                                                     fs::perms::others_read);

    Finished result = failed_start(dir / "data");

    EXPECT_EQ(result.exit_status, kExitFailure) << result.err;
    EXPECT_NE(result.err.find("readable by others"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("chmod 600"), std::string::npos) << result.err;
}

TEST(MasterKey, KeyFileReadableByOthersIsRefusedOnANewInstallationToo) {
    TempDir dir;
    fs::create_directories(dir / "data");
    write_file(dir / "data" / "master.key", std::string(kMasterKeyBytes, 'k'),
               fs::perms::owner_read | fs::perms::owner_write | fs::perms::others_read);

    Finished result = failed_start(dir / "data");

    EXPECT_EQ(result.exit_status, kExitFailure) << result.err;
    EXPECT_NE(result.err.find("readable by others"), std::string::npos) << result.err;
}

// ---- PostgreSQL ------------------------------------------------------------------------------

/// A private PostgreSQL cluster (scripts/pg-test-cluster.sh) that a test may take down and bring
/// back; removed when destroyed.
class PrivateCluster {
public:
    PrivateCluster() {
        Finished started = run_process(kPgScript, {"start", (dir_ / "pg").string()});
        if (started.exit_status != 0)
            throw std::runtime_error("cluster did not start: " + started.err);
        url_ = read_file(dir_ / "pg" / "url");
        while (!url_.empty() && url_.back() == '\n') url_.pop_back();
    }
    ~PrivateCluster() { run_process(kPgScript, {"stop", (dir_ / "pg").string()}); }
    PrivateCluster(const PrivateCluster&) = delete;
    PrivateCluster& operator=(const PrivateCluster&) = delete;

    const std::string& url() const { return url_; }
    void halt() {
        ASSERT_EQ(run_process(kPgScript, {"halt", (dir_ / "pg").string()}).exit_status, 0);
    }
    void resume() {
        ASSERT_EQ(run_process(kPgScript, {"resume", (dir_ / "pg").string()}).exit_status, 0);
    }

private:
    static inline const std::string kPgScript = NIMBUS_PG_SCRIPT;
    TempDir dir_;
    std::string url_;
};

/// Polls `target` until it answers `status`; false after about ten seconds.
bool eventually_answers(std::uint16_t port, const std::string& target, int status) {
    constexpr int kAttempts = 100;
    constexpr auto kPause = std::chrono::milliseconds(100);
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
        try {
            if (get(port, target).status == status) return true;
        } catch (const std::runtime_error&) {
            // The node may close a connection while the database flips; ask again.
        }
        std::this_thread::sleep_for(kPause);
    }
    return false;
}

TEST(Postgres, ServesFromPostgresAnswers503WhileItIsDownAndRecoversByItself) {
    PrivateCluster cluster;
    TempDir dir;
    BackgroundProcess node(kNimbus, serve_args(dir / "data"),
                           with(base_environment(), "NIMBUS_DATABASE_URL", cluster.url()));
    std::uint16_t port = ready_port(node);
    ASSERT_NE(port, 0);

    HttpResponse info = get(port, "/api/v1/system/info");
    ASSERT_EQ(info.status, 200) << info.body;
    EXPECT_NE(info.body.find(R"("backend":"postgres")"), std::string::npos) << info.body;
    EXPECT_NE(info.body.find(R"("module":"events")"), std::string::npos) << info.body;
    EXPECT_EQ(get(port, "/readyz").status, 200);

    cluster.halt();
    HttpResponse not_ready = get(port, "/readyz");
    EXPECT_EQ(not_ready.status, 503) << not_ready.body;
    EXPECT_EQ(not_ready.header("content-type"), "application/problem+json");
    EXPECT_NE(not_ready.body.find("database"), std::string::npos) << not_ready.body;
    HttpResponse api_down = get(port, "/api/v1/system/info");
    EXPECT_EQ(api_down.status, 503) << api_down.body;
    // Where the database lives is for the operator's log, not for callers.
    std::string cluster_port = cluster.url().substr(cluster.url().rfind(':') + 1);
    cluster_port = cluster_port.substr(0, cluster_port.find('/'));
    EXPECT_EQ(api_down.body.find(cluster_port), std::string::npos) << api_down.body;

    cluster.resume();
    EXPECT_TRUE(eventually_answers(port, "/readyz", 200)) << node.err();
    EXPECT_EQ(get(port, "/api/v1/system/info").status, 200);
    EXPECT_EQ(node.stop(SIGTERM).exit_status, 0);
}

TEST(Postgres, StartWaitsForAServerThatComesUpWithinTheConfiguredRetries) {
    PrivateCluster cluster;
    cluster.halt();
    TempDir dir;
    Environment environment = with(base_environment(), "NIMBUS_DATABASE_URL", cluster.url());
    environment["NIMBUS_DATABASE_CONNECT_RETRIES"] = "100";
    environment["NIMBUS_DATABASE_CONNECT_RETRY_INTERVAL_MS"] = "100";
    BackgroundProcess node(kNimbus, serve_args(dir / "data"), environment);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    cluster.resume();

    std::uint16_t port = ready_port(node);
    ASSERT_NE(port, 0);
    EXPECT_EQ(get(port, "/readyz").status, 200);
    EXPECT_EQ(node.stop(SIGTERM).exit_status, 0);
}

}  // namespace
}  // namespace nimbus::test
