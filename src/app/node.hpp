#pragma once
// The composition root's pieces: what `nimbus serve` and the other sub-commands build. Private to
// app/; read node.cpp top to bottom to see the whole system assembled.

#include <memory>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/crypto.hpp"
#include "core/metrics.hpp"
#include "core/result.hpp"
#include "db/db.hpp"

namespace nimbus::app {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

/// The schema changes of this node's migrations (src/app/migrations).
const std::vector<db::Migration>& migrations();

/// Every module's migrations, in dependency order.
std::vector<db::ModuleMigrations> all_migrations();

/// An exclusive lock on the data directory, held for the life of the process, so that two nodes
/// never share one SQLite file or master key by accident.
class DataDirLock {
public:
    /// Creates the directory if missing, checks it is writable and takes the lock. Fails with a
    /// message naming the directory (and the pid holding the lock, when another node does).
    static Result<std::unique_ptr<DataDirLock>> acquire(const std::string& dir);
    ~DataDirLock();
    DataDirLock(const DataDirLock&) = delete;
    DataDirLock& operator=(const DataDirLock&) = delete;

private:
    explicit DataDirLock(int fd) : fd_(fd) {}
    int fd_;
};

/// Opens the configured database (SQLite in the data dir, or PostgreSQL).
Result<std::unique_ptr<db::Database>> open_database(const config::Config& config,
                                                    db::QueryObserver observer);

/// Loads the master key and checks it against the check value sealed in the database. On a new
/// installation it creates the key file and records the check value. A missing or different key
/// for existing data is an error: data sealed with it would be unreadable.
Result<crypto::MasterKey> load_master_key(const config::Config& config, db::Database& database,
                                          std::int64_t now_ms);

/// `nimbus serve`: runs the node until SIGTERM or SIGINT. Returns the process exit status.
int serve(const config::Config& config);

}  // namespace nimbus::app
