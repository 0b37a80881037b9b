#pragma once
/// Throwaway databases for integration tests: SQLite in a temporary directory, or a new database
/// on the PostgreSQL test cluster (scripts/pg-test-cluster.sh) so that tests running in parallel
/// never see each other's tables.

#include <filesystem>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "db/db.hpp"

namespace nimbus::db {

/// Names a backend in test output ("sqlite" rather than a dump of the enum's bytes).
inline void PrintTo(Backend backend, std::ostream* out) { *out << to_string(backend); }

}  // namespace nimbus::db

namespace nimbus::db::testing {

/// The URL of the test cluster's admin database, read from the file named by
/// NIMBUS_TEST_PG_URL_FILE; nullopt when the variable is unset (tests then skip PostgreSQL).
std::optional<std::string> postgres_admin_url();

/// Runs one statement in a transaction of its own: how a test changes rows behind a service's
/// back, as another node or someone with access to the database would.
inline Result<void> execute(Database& database, std::string_view sql, Params params = {}) {
    return database.transact([&](Transaction& tx) -> Result<void> {
        auto changed = tx.execute(sql, params);
        if (!changed) return changed.error();
        return {};
    });
}

/// A fresh, empty store for one test. Dropped (PostgreSQL) or deleted (SQLite) on destruction.
class TestDatabase {
public:
    /// Creates the store and opens it with `options` (its url / sqlite_path are filled in).
    static Result<std::unique_ptr<TestDatabase>> create(Backend backend, Options options = {});

    TestDatabase(const TestDatabase&) = delete;
    TestDatabase& operator=(const TestDatabase&) = delete;
    ~TestDatabase();

    Database& db() { return *db_; }
    Backend backend() const { return backend_; }
    /// Options that open this same store again (another "node" or a restarted process).
    const Options& options() const { return options_; }
    /// A scratch directory that lives as long as this object.
    const std::filesystem::path& dir() const { return dir_; }
    /// Opens a second Database on the same store.
    Result<std::unique_ptr<Database>> open_again(const Options& overrides) const;

    /// PostgreSQL only: terminates every server connection to this database (waiting until they
    /// are gone) and returns how many there were. Simulates a server restart or a network cut.
    Result<int> terminate_connections() const;

private:
    TestDatabase() = default;

    Backend backend_ = Backend::sqlite;
    std::string admin_url_;
    std::string database_name_;
    std::filesystem::path dir_;
    Options options_;
    std::unique_ptr<Database> db_;
};

}  // namespace nimbus::db::testing
