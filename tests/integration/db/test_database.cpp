#include "test_database.hpp"

#include <libpq-fe.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <random>

#include <unistd.h>

#include <fmt/format.h>

namespace nimbus::db::testing {
namespace {

constexpr int kTerminateWaitMs = 5000;

std::atomic<int> database_counter{0};

/// Runs one statement on a short-lived admin connection (CREATE/DROP DATABASE cannot run in a
/// transaction, and the store under test must not be involved in preparing itself).
Result<std::string> admin_exec(const std::string& url, const std::string& sql) {
    std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(url.c_str()), &PQfinish);
    if (PQstatus(conn.get()) != CONNECTION_OK) {
        return Error::unavailable(PQerrorMessage(conn.get()));
    }
    std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(conn.get(), sql.c_str()), &PQclear);
    const auto status = PQresultStatus(result.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        return Error::internal(fmt::format("{}: {}", sql, PQerrorMessage(conn.get())));
    }
    if (status == PGRES_TUPLES_OK && PQntuples(result.get()) > 0) {
        return std::string(PQgetvalue(result.get(), 0, 0));
    }
    return std::string();
}

/// The URL with its database name replaced.
std::string with_database(const std::string& url, const std::string& name) {
    const auto authority = url.find("://") + 3;
    const auto slash = url.find('/', authority);
    return url.substr(0, slash) + "/" + name;
}

}  // namespace

std::optional<std::string> postgres_admin_url() {
    const char* file = std::getenv("NIMBUS_TEST_PG_URL_FILE");
    if (file == nullptr || *file == '\0') return std::nullopt;
    std::ifstream in(file);
    std::string url;
    std::getline(in, url);
    if (url.empty()) return std::nullopt;
    return url;
}

Result<std::unique_ptr<TestDatabase>> TestDatabase::create(Backend backend, Options options) {
    std::unique_ptr<TestDatabase> test(new TestDatabase());
    test->backend_ = backend;
    std::string pattern = (std::filesystem::temp_directory_path() / "nimbus-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) return Error::internal("mkdtemp failed");
    test->dir_ = pattern;
    if (backend == Backend::sqlite) {
        options.url.clear();
        options.sqlite_path = (test->dir_ / "nimbus.db").string();
    } else {
        auto admin = postgres_admin_url();
        if (!admin) return Error::unavailable("NIMBUS_TEST_PG_URL_FILE is not set");
        test->admin_url_ = *admin;
        std::random_device random;
        // Only [a-z0-9_]: the name is spliced into DDL, which takes no parameters.
        test->database_name_ =
            fmt::format("t_{}_{}_{:08x}", ::getpid(), ++database_counter, random());
        auto created = admin_exec(*admin, "CREATE DATABASE " + test->database_name_);
        if (!created) return created.error();
        options.url = with_database(*admin, test->database_name_);
    }
    test->options_ = options;
    auto db = open(options);
    if (!db) return db.error();
    test->db_ = std::move(*db);
    return test;
}

TestDatabase::~TestDatabase() {
    db_.reset();
    if (!database_name_.empty()) {
        (void)admin_exec(admin_url_, "DROP DATABASE IF EXISTS " + database_name_ + " WITH (FORCE)");
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
}

Result<std::unique_ptr<Database>> TestDatabase::open_again(const Options& overrides) const {
    Options options = overrides;
    options.url = options_.url;
    options.sqlite_path = options_.sqlite_path;
    return open(options);
}

Result<int> TestDatabase::terminate_connections() const {
    if (backend_ != Backend::postgres) return Error::invalid("PostgreSQL only");
    auto count = admin_exec(
        admin_url_, fmt::format("SELECT count(pg_terminate_backend(pid, {})) FROM pg_stat_activity"
                                " WHERE datname = '{}' AND pid <> pg_backend_pid()",
                                kTerminateWaitMs, database_name_));
    if (!count) return count.error();
    return std::stoi(*count);
}

}  // namespace nimbus::db::testing
